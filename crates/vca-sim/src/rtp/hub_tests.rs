//! The RTP hub on real loopback: two channels on one thread send from their own
//! addresses on the thread's one port, each keeps its own sequence, and a datagram reaches
//! only the channel whose address it was sent to — with the kernel's receive time.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use super::*;
use crate::rtp::packet;
use crate::spec::AudioPart;
use vca_media::g711::Law;

fn rtp(seq: u16, fill: u8) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0x55u32.to_be_bytes());
    p.extend_from_slice(&[fill; 160]);
    p
}

/// A hub of one thread on `ports`, or `None` (the test skipped) when not root: the
/// sockets are bound to `lo`, which needs root (as CI and scripts/load run).
fn hub_or_skip(ports: (u16, u16), flood: RtpFlood) -> Option<RtpHub> {
    match RtpHub::start(1, ports, flood) {
        Ok(hub) => Some(hub),
        Err(e) if e.to_string().contains("EPERM") => {
            eprintln!("skipped, not root: {e}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// The "daemon": a blocking socket on loopback that gives up after 2 s.
fn daemon_socket() -> UdpSocket {
    let daemon = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    daemon
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    daemon
}

/// A peer sending to `daemon`, from its first tick.
fn peer_config(daemon: SocketAddr) -> PeerConfig {
    PeerConfig {
        external_host: daemon,
        law: Law::Ulaw,
        learn: Duration::from_secs(5),
        probation: 4,
        start_delay: Duration::ZERO,
        created: Instant::now(),
    }
}

// The "daemon" below reads with blocking calls: the peers' tasks run on other workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_on_one_thread_send_from_their_own_addresses_and_hear_only_their_own() {
    let Some(hub) = hub_or_skip((47100, 47199), RtpFlood::default()) else {
        return;
    };
    let daemon = daemon_socket();
    let daemon_addr = daemon.local_addr().unwrap();
    let mut peers = Vec::new();
    for _ in 0..2 {
        let slot = hub.reserve().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let config = peer_config(daemon_addr);
        let hub = hub.clone();
        let task = tokio::spawn(async move { hub.run(slot, config, rx).await });
        let (audio_done, _) = watch::channel(false);
        let parts: Arc<[AudioPart]> = Arc::from(vec![AudioPart::Pause(Duration::from_secs(60))]);
        tx.send(PeerCommand::Connect {
            parts,
            resume_after: None,
            transmit_silence: true,
            audio_done,
        })
        .unwrap();
        peers.push((slot, tx, task));
    }
    let (a, b) = (peers[0].0.local, peers[1].0.local);
    assert_ne!(a.ip(), b.ip());
    assert_eq!(a.port(), b.port(), "one socket per thread");

    // The daemon hears both, each from its own address, each with its own sequence.
    let mut seen: Vec<(SocketAddr, u16)> = Vec::new();
    let mut buf = [0u8; 2048];
    while seen.len() < 20 {
        let (n, from) = daemon.recv_from(&mut buf).unwrap();
        let h = packet::parse(&buf[..n]).unwrap();
        seen.push((from, h.sequence));
    }
    for slot in [a, b] {
        let seqs: Vec<u16> = seen
            .iter()
            .filter(|(from, _)| *from == SocketAddr::V4(slot))
            .map(|(_, s)| *s)
            .collect();
        assert!(seqs.len() >= 5, "{slot}: {seen:?}");
        for w in seqs.windows(2) {
            assert_eq!(w[1], w[0].wrapping_add(1), "{slot}: {seqs:?}");
        }
    }
    assert!(
        seen.iter()
            .all(|(from, _)| *from == SocketAddr::V4(a) || *from == SocketAddr::V4(b))
    );

    // What the daemon sends to a's address reaches a only; a stranger address, nobody.
    for i in 0..5u16 {
        daemon.send_to(&rtp(i, 0x11), a).unwrap();
        daemon.send_to(&rtp(i, 0x22), b).unwrap();
        daemon
            .send_to(&rtp(i, 0x33), (Ipv4Addr::new(127, 1, 250, 9), a.port()))
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut recordings = Vec::new();
    for (_, tx, _) in &peers {
        let (snap_tx, snap_rx) = oneshot::channel();
        tx.send(PeerCommand::Snapshot(snap_tx)).unwrap();
        recordings.push(snap_rx.await.unwrap());
    }
    for (rec, fill) in recordings.iter().zip([0x11u8, 0x22]) {
        assert_eq!(rec.packets.len(), 5, "{:?}", rec.packets);
        assert!(rec.packets.iter().all(|p| p.source == daemon_addr));
        let expected = Law::Ulaw.decode(fill);
        assert!(rec.pcm.iter().all(|&s| s == expected));
        for p in &rec.packets {
            assert!(p.read_lag < Duration::from_millis(100), "{p:?}");
        }
    }

    // Hung up: each peer's recording comes back with what it sent.
    for (_, tx, task) in peers {
        drop(tx);
        let rec = task.await.unwrap();
        assert!(rec.sent_packets >= 5);
        assert_eq!(rec.packets.len(), 5);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_channel_sends_copies_from_its_own_and_a_strangers_address() {
    let flood = RtpFlood {
        every: 1,
        right_source: 2,
        wrong_source: 3,
    };
    let Some(hub) = hub_or_skip((47200, 47299), flood) else {
        return;
    };
    let daemon = daemon_socket();
    let slot = hub.reserve().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let config = peer_config(daemon.local_addr().unwrap());
    let task = {
        let hub = hub.clone();
        tokio::spawn(async move { hub.run(slot, config, rx).await })
    };
    let (audio_done, _) = watch::channel(false);
    tx.send(PeerCommand::Connect {
        parts: Arc::from(vec![AudioPart::Pause(Duration::from_secs(60))]),
        resume_after: None,
        transmit_silence: true,
        audio_done,
    })
    .unwrap();

    let own = SocketAddr::V4(slot.local);
    let [_, _, x, y] = slot.local.ip().octets();
    let stranger = SocketAddr::from((Ipv4Addr::new(127, 2, x, y), slot.local.port()));
    let (mut from_own, mut from_stranger) = (0, 0);
    let mut buf = [0u8; 2048];
    for _ in 0..60 {
        let (n, from) = daemon.recv_from(&mut buf).unwrap();
        assert!(packet::parse(&buf[..n]).is_some(), "every copy is RTP");
        if from == own {
            from_own += 1;
        } else if from == stranger {
            from_stranger += 1;
        } else {
            panic!("from {from}");
        }
    }
    // Per real packet: 2 more from its own address, 3 from the stranger's.
    assert!(
        from_own >= 18 && from_stranger >= 27,
        "{from_own} {from_stranger}"
    );

    drop(tx);
    let rec = task.await.unwrap();
    assert!(rec.sent_packets >= 10, "{}", rec.sent_packets);
    assert!(
        rec.flood_sent >= 5 * (rec.sent_packets - 1)
            && rec.flood_sent <= 5 * (rec.sent_packets + 1),
        "the flood is counted apart: {} flood, {} sent",
        rec.flood_sent,
        rec.sent_packets
    );
}
