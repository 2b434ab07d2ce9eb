//! Proves a media thread's per-packet path does not allocate: a counting global allocator
//! watches this test's thread while one `MediaWorker` carries twenty calls on their own
//! phases — every caller's datagram routed by its source address, each call serviced at its
//! own deadline, the recorded caller's speech detected and ended, agent replies played and
//! cut by barge-in. The one allocation allowed is the copy of a finished turn's audio for
//! the call's task (`MediaEvent::Utterance`), once per turn, never per packet.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, oneshot};
use vca_bridge::media::config::MediaConfig;
use vca_bridge::media::core::MediaCore;
use vca_bridge::media::outbound::RtpIdentity;
use vca_bridge::media::playout::PlayoutId;
use vca_bridge::media::utterance_pool::UtterancePool;
use vca_bridge::media_driver::{
    CallMedia, Command, G711Frame, MediaCounters, MediaEvent, MediaWorker, PacketSink,
    WorkerCommand, WorkerCounters,
};

#[path = "../../crates/vca-media/tests/common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::counted;

const CALLS: usize = 20;
const FRAME: Duration = Duration::from_millis(20);
const BASE_PORT: u16 = 5000;

fn asterisk(call: usize) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), BASE_PORT + call as u16)
}

fn rtp(seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&7u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Counts what the worker sends per call, in place: no allocation of its own.
struct Wire {
    sent: [u64; CALLS],
    elsewhere: u64,
}

impl PacketSink for Wire {
    fn transmit(&mut self, _packet: &[u8], to: SocketAddr) {
        match usize::from(to.port().wrapping_sub(BASE_PORT)) {
            call if call < CALLS => self.sent[call] += 1,
            _ => self.elsewhere += 1,
        }
    }
}

fn run_until(worker: &mut MediaWorker, wire: &mut Wire, until: Instant) {
    while let Some(wake) = worker.next_wakeup() {
        if wake > until {
            break;
        }
        worker.service_due(wake, wire);
    }
}

struct CallEnd {
    events: mpsc::Receiver<MediaEvent>,
    _audio: broadcast::Receiver<G711Frame>,
    counters: Arc<MediaCounters>,
}

#[test]
fn a_media_thread_carrying_many_calls_allocates_nothing_per_packet() {
    let (_, seen) = counted(|| std::hint::black_box(vec![1u8; 64]));
    assert_eq!(seen, 1, "the allocator must see an allocation at all");

    let speech = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/asterisk/rtp/caller-speech.ulaw"
    ))
    .unwrap();
    // 1 s of silence, 8 s of the recorded caller, 3 s of silence.
    let mut payloads: Vec<Vec<u8>> = vec![vec![0xFF; 160]; 50];
    payloads.extend(speech.chunks_exact(160).take(400).map(<[u8]>::to_vec));
    payloads.extend(std::iter::repeat_n(vec![0xFF; 160], 150));
    let packets: Vec<Vec<u8>> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| rtp(i as u16, p))
        .collect();

    let config = MediaConfig::default();
    let pool = UtterancePool::for_endpointer(CALLS * 2, &config.endpointer, 8000);
    let counters = Arc::new(WorkerCounters::default());
    let mut worker = MediaWorker::new(Arc::clone(&counters));
    let mut wire = Wire {
        sent: [0; CALLS],
        elsewhere: 0,
    };
    let t0 = Instant::now();
    // Each call's phase: spread over the 20 ms tick.
    let phase = |call: usize| Duration::from_micros(call as u64 * 937);
    let mut ends = Vec::new();
    for call in 0..CALLS {
        let at = t0 + phase(call);
        run_until(&mut worker, &mut wire, at);
        let core = MediaCore::with_pool(
            &config,
            asterisk(call),
            at,
            RtpIdentity::random(),
            pool.clone(),
        )
        .unwrap();
        let (events_tx, events) = mpsc::channel(64);
        let (audio_tx, audio) = broadcast::channel(64);
        let media_counters = Arc::new(MediaCounters::default());
        let media = CallMedia::new(
            core,
            asterisk(call),
            config.law,
            events_tx,
            audio_tx,
            Arc::clone(&media_counters),
        );
        let (reply, mut joined) = oneshot::channel();
        worker.handle_command(
            at,
            WorkerCommand::Attach {
                key: call as u64,
                call: Box::new(media),
                reply,
            },
            &mut wire,
        );
        assert!(matches!(joined.try_recv(), Ok(Ok(()))));
        // Half the calls are playing a 3 s greeting, which the caller's speech interrupts.
        if call % 2 == 0 {
            let greeting: Vec<i16> = (0..8000 * 3).map(|i| ((i % 40) - 20) * 500).collect();
            worker.handle_command(
                at,
                WorkerCommand::Call {
                    key: call as u64,
                    command: Command::Play {
                        id: PlayoutId(call as u64),
                        pcm: greeting,
                    },
                },
                &mut wire,
            );
        }
        ends.push(CallEnd {
            events,
            _audio: audio,
            counters: media_counters,
        });
    }

    // Every caller's packet arrives on its call's phase; the thread services what came in
    // and then every deadline, as its loop does.
    let ((), allocations) = counted(|| {
        for (seq, packet) in packets.iter().enumerate() {
            for call in 0..CALLS {
                let arrival = t0 + phase(call) + FRAME * seq as u32 + Duration::from_micros(300);
                run_until(&mut worker, &mut wire, arrival);
                worker.handle_datagram(arrival, asterisk(call), packet);
                // A stranger's datagram in the same batch: dropped and counted.
                worker.handle_datagram(arrival, asterisk(CALLS + 7), packet);
                worker.service_received(arrival, &mut wire);
            }
        }
        run_until(
            &mut worker,
            &mut wire,
            t0 + FRAME * (packets.len() as u32 + 2),
        );
    });

    let mut turns = 0u64;
    for (call, end) in ends.iter_mut().enumerate() {
        let mut started = false;
        while let Ok(event) = end.events.try_recv() {
            match event {
                MediaEvent::SpeechStarted { .. } => started = true,
                MediaEvent::Utterance { pcm, .. } => {
                    assert!(!pcm.is_empty());
                    turns += 1;
                }
                _ => {}
            }
        }
        assert!(started, "call {call}: the caller's speech was detected");
        assert_eq!(
            end.counters.packets_in.load(Ordering::Relaxed),
            packets.len() as u64,
            "call {call}: every packet routed to it"
        );
        assert!(
            wire.sent[call] >= packets.len() as u64,
            "call {call}: a frame every 20 ms ({} sent)",
            wire.sent[call]
        );
        assert_eq!(end.counters.events_dropped.load(Ordering::Relaxed), 0);
    }
    assert!(turns >= CALLS as u64, "every caller's turn ended ({turns})");
    assert_eq!(wire.elsewhere, 0);
    assert_eq!(
        counters.unknown_source.load(Ordering::Relaxed),
        (packets.len() * CALLS) as u64
    );
    assert_eq!(pool.available(), CALLS * 2, "every buffer back in the pool");
    assert_eq!(
        allocations,
        turns,
        "{allocations} allocations for {} packets in and {} out: only the {turns} turns' copies \
         for the calls' tasks may allocate",
        packets.len() * CALLS,
        wire.sent.iter().sum::<u64>()
    );
}
