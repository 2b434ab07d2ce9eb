//! The media worker on a virtual clock: routing by source address across calls on one
//! socket, calls joining and leaving a busy thread without disturbing the others' pacing
//! (every frame of a call at the same offset from its deadline on the slot grid, one
//! wake-up per slot at most), abandoned calls, and one Asterisk address per thread.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, oneshot};

use super::*;
use crate::media::config::MediaConfig;
use crate::media::core::MediaCore;
use crate::media::outbound::RtpIdentity;
use crate::media_driver::counters::MediaCounters;
use crate::media_driver::handle::{G711Frame, MediaEvent};

const FRAME: Duration = Duration::from_millis(20);

fn asterisk(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
}

/// Records every packet with the virtual time it was handed over.
#[derive(Default)]
struct Wire {
    now: Option<Instant>,
    sent: Vec<(Instant, SocketAddr, Vec<u8>)>,
}

impl PacketSink for Wire {
    fn transmit(&mut self, packet: &[u8], to: SocketAddr) {
        let now = self.now.unwrap_or_else(Instant::now);
        self.sent.push((now, to, packet.to_vec()));
    }
}

struct Call {
    events: mpsc::Receiver<MediaEvent>,
    audio: broadcast::Receiver<G711Frame>,
    counters: Arc<MediaCounters>,
    start: Instant,
}

fn attach(
    worker: &mut MediaWorker,
    wire: &mut Wire,
    key: u64,
    remote: SocketAddr,
    now: Instant,
) -> Call {
    let (call, handle) = new_call(remote, now);
    let (reply, mut joined) = oneshot::channel();
    wire.now = Some(now);
    worker.handle_command(
        now,
        WorkerCommand::Attach {
            key,
            call: Box::new(call),
            reply,
        },
        wire,
    );
    assert!(matches!(joined.try_recv(), Ok(Ok(()))));
    handle
}

fn new_call(remote: SocketAddr, now: Instant) -> (CallMedia, Call) {
    let config = MediaConfig::default();
    let core = MediaCore::new(&config, remote, now, RtpIdentity::random()).unwrap();
    let (events_tx, events) = mpsc::channel(64);
    let (audio_tx, audio) = broadcast::channel(64);
    let counters = Arc::new(MediaCounters::default());
    let call = CallMedia::new(
        core,
        remote,
        config.law,
        events_tx,
        audio_tx,
        Arc::clone(&counters),
    );
    (
        call,
        Call {
            events,
            audio,
            counters,
            start: now,
        },
    )
}

fn rtp(seq: u16, payload: u8) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0x1234u32.to_be_bytes());
    p.extend_from_slice(&[payload; 160]);
    p
}

/// Runs the worker's timers from `from` to `until`, waking exactly when it asks.
fn run_until(worker: &mut MediaWorker, wire: &mut Wire, until: Instant) {
    while let Some(wake) = worker.next_wakeup() {
        if wake > until {
            break;
        }
        wire.now = Some(wake);
        worker.service_due(wake, wire);
    }
}

fn seq(packet: &[u8]) -> u16 {
    u16::from_be_bytes([packet[2], packet[3]])
}

#[test]
fn calls_joining_and_leaving_a_busy_thread_do_not_disturb_the_others_pacing() {
    let counters = Arc::new(WorkerCounters::default());
    let mut worker = MediaWorker::new(Arc::clone(&counters));
    let mut wire = Wire::default();
    let t0 = Instant::now();
    // Forty calls on their own phases, spread over the 20 ms tick.
    let mut calls = HashMap::new();
    for i in 0..40u16 {
        let at = t0 + Duration::from_micros(u64::from(i) * 487);
        run_until(&mut worker, &mut wire, at);
        calls.insert(
            asterisk(5000 + i),
            attach(&mut worker, &mut wire, u64::from(i), asterisk(5000 + i), at),
        );
    }
    run_until(&mut worker, &mut wire, t0 + Duration::from_millis(500));
    // One joins mid-tick, one leaves.
    let late = t0 + Duration::from_micros(500_000 + 3_333);
    run_until(&mut worker, &mut wire, late);
    calls.insert(
        asterisk(6000),
        attach(&mut worker, &mut wire, 100, asterisk(6000), late),
    );
    let leave = t0 + Duration::from_millis(1000);
    run_until(&mut worker, &mut wire, leave);
    let (done, mut gone) = oneshot::channel();
    worker.handle_command(leave, WorkerCommand::Detach { key: 7, done }, &mut wire);
    assert!(gone.try_recv().is_ok());
    assert_eq!(worker.len(), 40);
    let end = t0 + Duration::from_millis(2000);
    run_until(&mut worker, &mut wire, end);

    for (remote, call) in &calls {
        let mine: Vec<_> = wire.sent.iter().filter(|(_, to, _)| to == remote).collect();
        let first = seq(&mine[0].2);
        // Each frame goes out at the first slot boundary at or after its deadline: the
        // same offset for every frame of the call, so the grid adds no jitter.
        let offset = mine[0].0 - call.start;
        assert!(
            offset < SLOT,
            "{remote}: first frame {offset:?} after its deadline"
        );
        for (k, (at, _, packet)) in mine.iter().enumerate() {
            let deadline = call.start + FRAME * k as u32;
            assert_eq!(
                *at - deadline,
                offset,
                "{remote} frame {k}: sent {:?} after its deadline",
                *at - deadline
            );
            assert_eq!(
                seq(packet),
                first.wrapping_add(k as u16),
                "{remote}: no frame missing"
            );
        }
        let last_slot = if *remote == asterisk(5007) {
            leave
        } else {
            end
        };
        let expected = (last_slot - offset - call.start).as_micros() / FRAME.as_micros() + 1;
        assert_eq!(
            mine.len() as u128,
            expected,
            "{remote}: every frame up to the end"
        );
        assert_eq!(
            call.counters.packets_out.load(Ordering::Relaxed),
            mine.len() as u64
        );
    }
    // Forty-one calls on their own phases, yet the thread woke at most once per slot.
    let wakes: std::collections::BTreeSet<Instant> =
        wire.sent.iter().map(|(at, _, _)| *at).collect();
    for w in wakes.iter().collect::<Vec<_>>().windows(2) {
        assert!(*w[1] - *w[0] >= SLOT, "two wake-ups in one slot");
    }
    assert_eq!(
        counters.frames_sent.load(Ordering::Relaxed),
        wire.sent.len() as u64
    );
}

#[test]
fn datagrams_reach_the_call_whose_asterisk_address_they_come_from_and_no_other() {
    let counters = Arc::new(WorkerCounters::default());
    let mut worker = MediaWorker::new(Arc::clone(&counters));
    let mut wire = Wire::default();
    let t0 = Instant::now();
    let mut a = attach(&mut worker, &mut wire, 1, asterisk(5001), t0);
    let mut b = attach(&mut worker, &mut wire, 2, asterisk(5002), t0);
    let mut now = t0;
    for i in 0..5u16 {
        now = t0 + FRAME * u32::from(i);
        run_until(&mut worker, &mut wire, now);
        worker.handle_datagram(now, asterisk(5002), &rtp(i, 0x11));
        worker.handle_datagram(now, asterisk(5001), &rtp(i, 0x22));
        // Another call's port, never seen: dropped and counted.
        worker.handle_datagram(now, asterisk(5999), &rtp(i, 0x33));
        wire.now = Some(now);
        worker.service_received(now, &mut wire);
    }
    run_until(&mut worker, &mut wire, now + Duration::from_millis(200));
    assert_eq!(a.counters.packets_in.load(Ordering::Relaxed), 5);
    assert_eq!(b.counters.packets_in.load(Ordering::Relaxed), 5);
    assert_eq!(counters.unknown_source.load(Ordering::Relaxed), 5);
    let codes = |rx: &mut broadcast::Receiver<G711Frame>| {
        let mut seen = Vec::new();
        while let Ok(f) = rx.try_recv() {
            seen.push(f.codes[0]);
        }
        seen
    };
    let (heard_a, heard_b) = (codes(&mut a.audio), codes(&mut b.audio));
    assert!(
        heard_a.iter().filter(|&&c| c == 0x22).count() >= 5,
        "{heard_a:?}"
    );
    assert!(!heard_a.contains(&0x11) && !heard_a.contains(&0x33));
    assert!(
        heard_b.iter().filter(|&&c| c == 0x11).count() >= 5,
        "{heard_b:?}"
    );
    assert!(!heard_b.contains(&0x22) && !heard_b.contains(&0x33));

    // Once b has left, its Asterisk port is a stranger too: a's stream is untouched.
    let (done, _gone) = oneshot::channel();
    worker.handle_command(now, WorkerCommand::Detach { key: 2, done }, &mut wire);
    worker.handle_datagram(now, asterisk(5002), &rtp(5, 0x11));
    worker.service_received(now, &mut wire);
    assert_eq!(counters.unknown_source.load(Ordering::Relaxed), 6);
    assert_eq!(a.counters.packets_in.load(Ordering::Relaxed), 5);
    assert!(
        a.events.try_recv().is_err(),
        "no event for a from b's packets"
    );
}

#[test]
fn a_second_call_from_the_same_asterisk_address_is_refused() {
    let mut worker = MediaWorker::new(Arc::new(WorkerCounters::default()));
    let mut wire = Wire::default();
    let t0 = Instant::now();
    let _a = attach(&mut worker, &mut wire, 1, asterisk(5001), t0);
    let (call, _handle) = new_call(asterisk(5001), t0);
    let (reply, mut joined) = oneshot::channel();
    worker.handle_command(
        t0,
        WorkerCommand::Attach {
            key: 2,
            call: Box::new(call),
            reply,
        },
        &mut wire,
    );
    assert!(matches!(
        joined.try_recv(),
        Ok(Err(MediaError::RemoteInUse(addr))) if addr == asterisk(5001)
    ));
    assert_eq!(worker.len(), 1);
}

#[test]
fn a_call_whose_task_is_gone_leaves_at_its_next_deadline() {
    let counters = Arc::new(WorkerCounters::default());
    let mut worker = MediaWorker::new(Arc::clone(&counters));
    let mut wire = Wire::default();
    let t0 = Instant::now();
    let a = attach(&mut worker, &mut wire, 1, asterisk(5001), t0);
    let _b = attach(&mut worker, &mut wire, 2, asterisk(5002), t0);
    drop(a);
    run_until(&mut worker, &mut wire, t0 + Duration::from_millis(100));
    assert_eq!(worker.len(), 1);
    assert_eq!(counters.calls.load(Ordering::Relaxed), 1);
    let after: Vec<_> = wire
        .sent
        .iter()
        .filter(|(at, to, _)| *to == asterisk(5001) && *at > t0 + FRAME)
        .collect();
    assert!(after.is_empty(), "nothing sent for a gone call");
}
