//! The UnicastRTP peer behaves like Asterisk's (FINDINGS 7-13, rtp-from-asterisk.csv,
//! rtp-to-asterisk-experiments.csv): PT/size/timestamp/marker of what it sends, payload
//! types it drops, strict-RTP learning and locking, DTMF gaps, and what it records.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim_support;

use std::net::SocketAddr;
use std::time::Duration;

use sim_support::{EventStream, bridged_call, test_config};
use tokio::net::UdpSocket;
use vca_media::g711::Law;
use vca_sim::{CallSpec, SimHandle, Simulator};

async fn recv(sock: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 2048];
    let (n, from) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    (buf[..n].to_vec(), from)
}

fn rtp_packet(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt, (seq >> 8) as u8, seq as u8];
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn speech(n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16)
        .collect()
}

async fn start() -> (SimHandle, EventStream) {
    let sim = Simulator::start(test_config()).await.unwrap();
    let ev = EventStream::connect(&sim.events_url()).await;
    sim.wait_websocket().await;
    (sim, ev)
}

#[tokio::test]
async fn sends_paced_ulaw_like_asterisk_and_ends_with_a_short_packet() {
    let (sim, _ev) = start().await;
    let audio = speech(1000);
    let leg = bridged_call(
        &sim,
        CallSpec::new("+15559876543", "+15551234567")
            .speech(audio.clone())
            .transmit_silence(false),
        "ulaw",
    )
    .await;
    let mut pkts = Vec::new();
    let mut total = 0;
    while total < audio.len() {
        let (p, from) = recv(&leg.rtp).await;
        assert_eq!(from.port(), leg.em_port, "sent from UNICASTRTP_LOCAL_PORT");
        total += p.len() - 12;
        pkts.push(p);
    }
    // Header as in rtp-from-asterisk.csv: V=2, no P/X/CC, PT 0, first ts 160, no marker.
    assert_eq!(pkts[0][0], 0x80);
    assert_eq!(pkts[0][1], 0, "PT 0, marker clear on the first packet");
    assert_eq!(u32::from_be_bytes(pkts[0][4..8].try_into().unwrap()), 160);
    let sizes: Vec<usize> = pkts.iter().map(|p| p.len() - 12).collect();
    assert_eq!(sizes, vec![160, 160, 160, 160, 160, 160, 40]);
    for w in pkts.windows(2) {
        let s0 = u16::from_be_bytes([w[0][2], w[0][3]]);
        let s1 = u16::from_be_bytes([w[1][2], w[1][3]]);
        assert_eq!(s1, s0.wrapping_add(1));
        let t0 = u32::from_be_bytes(w[0][4..8].try_into().unwrap());
        let t1 = u32::from_be_bytes(w[1][4..8].try_into().unwrap());
        assert_eq!(t1 - t0, 160);
        assert_eq!(w[0][8..12], w[1][8..12], "one SSRC");
    }
    let decoded: Vec<i16> = pkts
        .iter()
        .flat_map(|p| p[12..].iter().map(|&b| Law::Ulaw.decode(b)))
        .collect();
    let expected: Vec<i16> = audio
        .iter()
        .map(|&s| Law::Ulaw.decode(Law::Ulaw.encode(s)))
        .collect();
    assert_eq!(decoded, expected);
    // Without transmit_silence nothing follows the speech.
    let mut buf = [0u8; 64];
    assert!(
        tokio::time::timeout(Duration::from_millis(200), leg.rtp.recv_from(&mut buf))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn alaw_channel_sends_pt8() {
    let (sim, _ev) = start().await;
    let leg = bridged_call(
        &sim,
        CallSpec::new("+15559876543", "+15551234567").speech(speech(320)),
        "alaw",
    )
    .await;
    let (p, _) = recv(&leg.rtp).await;
    assert_eq!(p[1] & 0x7f, 8);
    assert_eq!(p.len(), 12 + 160);
}

#[tokio::test]
async fn records_pt0_and_pt8_drops_dynamic_types_and_other_sources_after_lock() {
    let (sim, _ev) = start().await;
    let leg = bridged_call(&sim, CallSpec::new("+15559876543", "+15551234567"), "ulaw").await;
    let dest: SocketAddr = format!("127.0.0.1:{}", leg.em_port).parse().unwrap();
    let tone: Vec<i16> = speech(160);
    let ulaw: Vec<u8> = tone.iter().map(|&s| Law::Ulaw.encode(s)).collect();
    let alaw: Vec<u8> = tone.iter().map(|&s| Law::Alaw.encode(s)).collect();
    let s = &leg.rtp;
    s.send_to(&rtp_packet(0, 1, 160, &ulaw), dest)
        .await
        .unwrap();
    s.send_to(&rtp_packet(8, 2, 320, &alaw), dest)
        .await
        .unwrap();
    for (i, pt) in [96u8, 101, 118].into_iter().enumerate() {
        s.send_to(&rtp_packet(pt, 3 + i as u16, 480, &ulaw), dest)
            .await
            .unwrap();
    }
    // After the learning window (300 ms in tests) the next packet from the source locks it.
    tokio::time::sleep(Duration::from_millis(400)).await;
    s.send_to(&rtp_packet(0, 6, 640, &ulaw), dest)
        .await
        .unwrap();
    let other = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for q in 0..6u16 {
        other
            .send_to(&rtp_packet(0, 100 + q, 160 * u32::from(q), &ulaw), dest)
            .await
            .unwrap();
    }
    s.send_to(&rtp_packet(0, 7, 800, &ulaw), dest)
        .await
        .unwrap();
    // The last packet from our socket marks the end of what we sent.
    let rec = loop {
        let r = leg.call.recording().await.unwrap();
        if r.packets.iter().any(|p| p.sequence == 7) {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let pts: Vec<u8> = rec.packets.iter().map(|p| p.payload_type).collect();
    assert_eq!(pts, vec![0, 8, 0, 0]);
    assert_eq!(rec.dropped_payload_type, 3);
    assert_eq!(rec.dropped_source, 6);
    assert_eq!(rec.locked_source, Some(s.local_addr().unwrap()));
    let st = rec.stats();
    assert_eq!(st.sources, vec![s.local_addr().unwrap()]);
    assert_eq!(rec.pcm.len(), 4 * 160);
    let expect_u: Vec<i16> = ulaw.iter().map(|&b| Law::Ulaw.decode(b)).collect();
    let expect_a: Vec<i16> = alaw.iter().map(|&b| Law::Alaw.decode(b)).collect();
    assert_eq!(&rec.pcm[..160], &expect_u[..]);
    assert_eq!(
        &rec.pcm[160..320],
        &expect_a[..],
        "PT 8 on a ulaw channel is transcoded"
    );
}

#[tokio::test]
async fn another_source_is_adopted_after_four_sequential_packets_while_learning() {
    let (sim, _ev) = start().await;
    let leg = bridged_call(&sim, CallSpec::new("+15559876543", "+15551234567"), "ulaw").await;
    let dest: SocketAddr = format!("127.0.0.1:{}", leg.em_port).parse().unwrap();
    let other = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let payload = [0xffu8; 160];
    for q in 0..6u16 {
        other
            .send_to(&rtp_packet(0, q, 160 * u32::from(q), &payload), dest)
            .await
            .unwrap();
    }
    let rec = loop {
        let r = leg.call.recording().await.unwrap();
        if r.packets.len() + r.dropped_source as usize >= 6 {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(rec.dropped_source, 4, "Q1: the first 4 are dropped");
    let seqs: Vec<u16> = rec.packets.iter().map(|p| p.sequence).collect();
    assert_eq!(seqs, vec![4, 5]);
}

#[tokio::test]
async fn dtmf_pauses_the_stream_then_resumes_with_marker_and_timestamp_gap() {
    let (sim, mut ev) = start().await;
    let leg = bridged_call(&sim, CallSpec::new("+15559876543", "+15551234567"), "ulaw").await;
    // transmit_silence: silence flows; press a 100 ms digit.
    let (first, _) = recv(&leg.rtp).await;
    leg.call.send_dtmf("5", 100).await.unwrap();
    let got = ev.until("ChannelDtmfReceived").await;
    let dtmf = got.last().unwrap();
    assert_eq!(dtmf["digit"], "5");
    assert_eq!(dtmf["duration_ms"], 100);
    assert_eq!(dtmf["channel"]["id"], leg.call.id());
    let mut prev_ts = Some(u32::from_be_bytes(first[4..8].try_into().unwrap()));
    loop {
        let (p, _) = recv(&leg.rtp).await;
        let ts = u32::from_be_bytes(p[4..8].try_into().unwrap());
        if p[1] & 0x80 != 0 {
            let step = ts - prev_ts.unwrap();
            assert_eq!(
                step, 960,
                "5 ticks skipped for 100 ms, as rtp-from-asterisk-during-dtmf.csv"
            );
            break;
        }
        prev_ts = Some(ts);
    }
}
