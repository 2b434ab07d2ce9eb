//! Heap per call in the media core: a counting global allocator keeps the live heap bytes
//! while 100 cores sit in each state of a call — idle, the caller silent (10 s of silence
//! RTP), the caller mid-utterance, a 5 s reply queued (8 kHz and 24 kHz TTS), and after
//! the reply — and the process's resident set (`/proc/self/statm`) is read alongside.
//! Utterance buffers come from one pool built before the first figure (shown apart: it
//! is per speaking caller, not per call). Run:
//! `cargo run -p vca-media --release --example core_memory`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use vca_media::OUT_PACKET_LEN;
use vca_media::config::MediaConfig;
use vca_media::core::{CoreEvent, MediaCore, Output};
use vca_media::outbound::RtpIdentity;
use vca_media::playout::PlayoutId;
use vca_media::utterance_pool::UtterancePool;

/// Cores measured together (the figure is their average).
const CALLS: usize = 100;
/// Buffers in the shared pool: enough for every measured caller speaking at once.
const POOL_BUFFERS: usize = CALLS;

struct LiveBytes;

static LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

fn grew(by: i64) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; the only addition is
// relaxed counter updates, which do not allocate.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for LiveBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size() as i64);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        grew(-(layout.size() as i64));
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size() as i64);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(new_size as i64 - layout.size() as i64);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: LiveBytes = LiveBytes;

fn live() -> i64 {
    LIVE.load(Ordering::Relaxed)
}

fn resident_bytes() -> i64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: i64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn rtp(seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&7u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

struct Calls {
    t0: Instant,
    cores: Vec<MediaCore>,
    /// Next inbound packet number (the same for every call).
    next: u16,
    out: [u8; OUT_PACKET_LEN],
}

impl Calls {
    fn remote() -> SocketAddr {
        "127.0.0.1:4000".parse().unwrap()
    }

    /// Feeds every call one packet carrying `payload`, 20 ms after the previous one, and
    /// drains; says whether any call saw its caller start speaking.
    fn step(&mut self, payload: &[u8]) -> bool {
        let now = self.t0 + Duration::from_millis(u64::from(self.next) * 20);
        let packet = rtp(self.next, payload);
        self.next += 1;
        let mut started = false;
        for core in &mut self.cores {
            core.handle_datagram(now, Self::remote(), &packet).unwrap();
            core.drain(now, &mut self.out, |o| {
                if let Output::Event {
                    event: CoreEvent::SpeechStarted { .. },
                    ..
                } = o
                {
                    started = true;
                }
            });
        }
        started
    }
}

fn report(label: &str, base: (i64, i64)) {
    let heap = (live() - base.0) / CALLS as i64;
    let rss = (resident_bytes() - base.1) / CALLS as i64;
    println!(
        "| {label} | {:.1} KiB | {:.1} KiB |",
        heap as f64 / 1024.0,
        rss as f64 / 1024.0
    );
}

fn main() {
    let speech = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/asterisk/rtp/caller-speech.ulaw"
    ))
    .unwrap();
    let config = MediaConfig::default();
    let pool = UtterancePool::for_endpointer(POOL_BUFFERS, &config.endpointer, 8000);
    let reply_8k: Vec<i16> = (0..8000 * 5)
        .map(|i: i32| (((i % 40) - 20) * 500) as i16)
        .collect();
    let reply_24k: Vec<i16> = (0..24_000 * 5)
        .map(|i: i32| (((i % 120) - 60) * 150) as i16)
        .collect();
    let silence = [0xFFu8; 160];
    let base = (live(), resident_bytes());

    println!("| state of each of {CALLS} calls | heap per call | RSS per call |");
    println!("|---|---:|---:|");
    let t0 = Instant::now();
    let cores = (0..CALLS)
        .map(|i| {
            let identity = RtpIdentity {
                ssrc: i as u32,
                first_seq: 0,
                first_timestamp: 0,
            };
            MediaCore::with_pool(&config, Calls::remote(), t0, identity, pool.clone()).unwrap()
        })
        .collect();
    let mut calls = Calls {
        t0,
        cores,
        next: 0,
        out: [0; OUT_PACKET_LEN],
    };
    report("idle (constructed, nothing received)", base);
    for _ in 0..500 {
        calls.step(&silence);
    }
    report("caller silent (10 s of silence in and out)", base);
    let mut frames = speech.chunks_exact(160);
    let mut started = false;
    while !started {
        started = calls.step(frames.next().unwrap());
    }
    for _ in 0..50 {
        calls.step(frames.next().unwrap());
    }
    report("caller speaking (1 s into an utterance)", base);
    let in_use = pool.capacity() - pool.available();
    for _ in 0..150 {
        calls.step(&silence);
    }
    report("utterance handed out, caller silent again", base);

    let before_queue = PEAK.swap(live(), Ordering::Relaxed);
    for (i, core) in calls.cores.iter_mut().enumerate() {
        core.handle_play(PlayoutId(i as u64), 8000, &reply_8k)
            .unwrap();
    }
    report("5 s reply queued (8 kHz TTS)", base);
    for core in &mut calls.cores {
        core.handle_flush();
    }
    let peak_before_24k = live();
    PEAK.store(peak_before_24k, Ordering::Relaxed);
    for (i, core) in calls.cores.iter_mut().enumerate() {
        core.handle_play(PlayoutId(i as u64), 24_000, &reply_24k)
            .unwrap();
    }
    // The queued audio stays; what the peak holds beyond it is one clip's conversion.
    let transient = PEAK.load(Ordering::Relaxed) - live();
    report("5 s reply queued (24 kHz TTS, resampled)", base);
    for _ in 0..260 {
        calls.step(&silence);
    }
    report("reply played, caller silent", base);
    drop(calls);
    println!();
    println!(
        "Utterance pool: {} buffers of {} KiB ({} KiB in all, allocated once; a buffer's \
         pages become resident as far as its longest utterance reached); {in_use} were in \
         use mid-utterance.",
        pool.capacity(),
        pool.buffer_samples() * 2 / 1024,
        pool.capacity() * pool.buffer_samples() * 2 / 1024,
    );
    println!(
        "Queueing one 5 s 24 kHz clip holds at most {:.1} KiB more while it converts (the \
         resampler and the converted clip, then freed). Heap peak before the replies: {:.1} MiB.",
        transient as f64 / 1024.0,
        before_queue as f64 / (1024.0 * 1024.0)
    );
    let start = Instant::now();
    let mut core = MediaCore::with_pool(
        &config,
        Calls::remote(),
        start,
        RtpIdentity::random(),
        pool.clone(),
    )
    .unwrap();
    let one_sentence: Vec<i16> = reply_24k.iter().copied().take(24_000 * 2).collect();
    let convert = Instant::now();
    for i in 0..20 {
        core.handle_play(PlayoutId(i), 24_000, &one_sentence)
            .unwrap();
        core.handle_flush();
    }
    println!(
        "Converting a 2 s 24 kHz clip, resampler built for it included: {:.2} ms.",
        convert.elapsed().as_secs_f64() * 1000.0 / 20.0
    );
}
