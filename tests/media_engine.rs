//! The media threads on real loopback sockets: several calls share one thread's socket and
//! each gets only its own Asterisk's RTP (strangers are counted per thread), agent audio
//! goes out as a talk spurt then silence resumes, a lagging consumer never stalls media,
//! and the threads bind the first free ports of the range.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::UdpSocket;
use vca_bridge::media_driver::{
    INBOUND_AUDIO_CAPACITY, MediaEngine, MediaEngineError, MediaError, MediaEvent, MediaHandle,
};
use vca_media::config::MediaConfig;
use vca_media::g711::Law;
use vca_media::playout::PlayoutId;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn rtp(seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

async fn call(engine: &MediaEngine, config: MediaConfig) -> (MediaHandle, UdpSocket) {
    let asterisk = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let slot = engine.slot();
    let handle = engine
        .attach(&slot, asterisk.local_addr().unwrap(), config)
        .await
        .unwrap();
    assert_eq!(handle.local_addr(), slot.local_addr());
    (handle, asterisk)
}

async fn recv(socket: &UdpSocket, buf: &mut [u8]) -> usize {
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(buf))
        .await
        .expect("a packet within 5 s")
        .unwrap();
    n
}

#[tokio::test]
async fn calls_on_one_thread_each_get_their_own_asterisks_rtp() {
    let engine = MediaEngine::start(LOCALHOST, 32000..=32009, 1, 8, 0).unwrap();
    let (mut a, ast_a) = call(&engine, MediaConfig::default()).await;
    let (mut b, ast_b) = call(&engine, MediaConfig::default()).await;
    assert_eq!(
        a.local_addr(),
        b.local_addr(),
        "one socket carries both calls"
    );
    let mut audio_a = a.take_inbound_audio().unwrap();
    let mut audio_b = b.take_inbound_audio().unwrap();
    assert!(a.take_inbound_audio().is_none());
    let to = a.local_addr();
    let stranger = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    for i in 0..3u16 {
        let ts = 160 * u32::from(i);
        ast_a
            .send_to(&rtp(i, ts, 9, &[0x20 + i as u8; 160]), to)
            .await
            .unwrap();
        ast_b
            .send_to(&rtp(i, ts, 7, &[0x40 + i as u8; 160]), to)
            .await
            .unwrap();
        stranger
            .send_to(&rtp(i, ts, 5, &[0x60; 160]), to)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for i in 0..3u8 {
        let f = tokio::time::timeout(Duration::from_secs(5), audio_a.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(f.codes, [0x20 + i; 160]);
        assert_eq!(f.law, Law::Ulaw);
        let f = tokio::time::timeout(Duration::from_secs(5), audio_b.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(f.codes, [0x40 + i; 160]);
    }
    // Both Asterisks hear their own stream from the thread's address.
    let mut buf = [0u8; 2048];
    let n = recv(&ast_a, &mut buf).await;
    assert_eq!(n, 172);
    recv(&ast_b, &mut buf).await;
    let strangers = engine.thread_counters()[0]
        .unknown_source
        .load(Ordering::Relaxed);
    assert_eq!(strangers, 3);
    assert_eq!(a.counters().packets_in.load(Ordering::Relaxed), 3);
    assert_eq!(b.counters().packets_in.load(Ordering::Relaxed), 3);
    assert_eq!(engine.calls_per_thread(), vec![2]);
    a.stop().await.unwrap();
    assert_eq!(engine.calls_per_thread(), vec![1]);
    drop(b);
    // A dropped handle takes its call off the thread too.
    for _ in 0..100 {
        if engine.calls_per_thread() == vec![0] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(engine.calls_per_thread(), vec![0]);
}

#[tokio::test]
async fn agent_audio_is_sent_as_a_talk_spurt_then_silence_resumes() {
    let engine = MediaEngine::start(LOCALHOST, 32010..=32019, 1, 8, 0).unwrap();
    let config = MediaConfig {
        law: Law::Alaw,
        ..MediaConfig::default()
    };
    let (mut handle, asterisk) = call(&engine, config).await;
    let mut buf = [0u8; 2048];
    let mut last: Option<(u16, u32)> = None;
    let mut check = |buf: &[u8]| {
        let r = rtp_rs::RtpReader::new(buf).unwrap();
        let (seq, ts) = (u16::from(r.sequence_number()), r.timestamp());
        if let Some((s, t)) = last {
            assert_eq!(seq, s.wrapping_add(1), "sequence continuous");
            assert_eq!(ts, t.wrapping_add(160), "timestamp continuous");
        }
        last = Some((seq, ts));
        assert_eq!(r.payload_type(), 8);
        (r.mark(), r.payload() != [0xD5; 160])
    };
    for _ in 0..5 {
        let n = recv(&asterisk, &mut buf).await;
        assert_eq!(check(&buf[..n]), (false, false));
    }
    // 100 ms of a loud square wave at 16 kHz → 5 frames at 8 kHz.
    let clip: Vec<i16> = (0..1600)
        .map(|i| if i % 40 < 20 { 8000 } else { -8000 })
        .collect();
    handle.play(PlayoutId(7), 16_000, clip).await.unwrap();
    let mut kinds = Vec::new();
    while kinds.len() < 12 {
        let n = recv(&asterisk, &mut buf).await;
        kinds.push(check(&buf[..n]));
    }
    let first_audio = kinds.iter().position(|k| k.1).unwrap();
    assert_eq!(
        kinds[first_audio],
        (true, true),
        "marker on the first audio frame"
    );
    assert!(
        kinds[first_audio + 1..first_audio + 4]
            .iter()
            .all(|k| *k == (false, true))
    );
    assert_eq!(kinds.last(), Some(&(false, false)), "silence resumes");
    assert_eq!(
        handle.next_event().await,
        Some(MediaEvent::PlayoutStarted { id: PlayoutId(7) })
    );
    assert_eq!(
        handle.next_event().await,
        Some(MediaEvent::PlayoutDone { id: PlayoutId(7) })
    );
    assert!(matches!(
        handle.play(PlayoutId(8), 11_025, vec![0; 10]).await,
        Err(MediaError::UnsupportedRate(11_025))
    ));
    handle.stop().await.unwrap();
}

#[tokio::test]
async fn a_lagging_consumer_loses_the_oldest_audio_and_media_keeps_flowing() {
    let engine = MediaEngine::start(LOCALHOST, 32020..=32029, 1, 8, 0).unwrap();
    let (handle, asterisk) = call(&engine, MediaConfig::default()).await;
    let mut handle = handle;
    let mut audio = handle.take_inbound_audio().unwrap();
    let to = handle.local_addr();
    // 3 s of caller audio that nobody reads (the buffer holds 64 frames).
    let mut buf = [0u8; 2048];
    for i in 0..150u16 {
        asterisk
            .send_to(&rtp(i, 160 * u32::from(i), 9, &[(i % 200) as u8; 160]), to)
            .await
            .unwrap();
        // Paced by what the thread sends us.
        recv(&asterisk, &mut buf).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let counters = handle.counters();
    assert!(counters.packets_out.load(Ordering::Relaxed) >= 150);
    let first = audio.recv().await.unwrap();
    let lost = counters.inbound_audio_dropped.load(Ordering::Relaxed);
    assert!(lost >= 150 - INBOUND_AUDIO_CAPACITY as u64 - 1, "{lost}");
    assert_eq!(
        u64::from(first.codes[0]),
        lost,
        "what is left is the newest audio"
    );
    handle.stop().await.unwrap();
}

#[tokio::test]
async fn threads_bind_the_first_free_ports_and_a_full_range_is_an_error() {
    let squatter = std::net::UdpSocket::bind((LOCALHOST, 32030)).unwrap();
    let engine = MediaEngine::start(LOCALHOST, 32030..=32033, 2, 8, 0).unwrap();
    let ports: Vec<u16> = engine.local_addrs().iter().map(|a| a.port()).collect();
    assert_eq!(ports, vec![32031, 32032]);
    assert!(matches!(
        MediaEngine::start(LOCALHOST, 32030..=32033, 2, 8, 0),
        Err(MediaEngineError::Exhausted {
            found: 1,
            threads: 2,
            start: 32030,
            end: 32033
        })
    ));
    assert!(matches!(
        MediaEngine::start(LOCALHOST, std::ops::RangeInclusive::new(5, 4), 1, 8, 0),
        Err(MediaEngineError::EmptyRange)
    ));
    // Calls spread over the threads.
    let (a, _x) = call(&engine, MediaConfig::default()).await;
    let (b, _y) = call(&engine, MediaConfig::default()).await;
    assert_ne!(a.local_addr(), b.local_addr());
    drop(squatter);
}
