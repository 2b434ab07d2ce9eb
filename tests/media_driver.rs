//! The tokio media driver on paused time: pacing over a simulated 10-minute call has zero
//! drift even with a timer that wakes late, the outbound stream is continuous with markers
//! on talk spurts, inbound audio reaches its consumers, a lagging consumer never blocks
//! media, and the port pool hands out, exhausts and takes back ports.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use vca_bridge::clock::Clock;
use vca_bridge::media_driver::{
    INBOUND_AUDIO_CAPACITY, MediaError, MediaEvent, MediaHandle, MediaSession, PortPool,
    PortPoolError,
};
use vca_media::config::MediaConfig;
use vca_media::g711::Law;
use vca_media::playout::PlayoutId;
use vca_media::stats::DropReason;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A timer that always wakes 0-3 ms late, like a busy machine: sleeping relative to the
/// previous send would drift by ~1.5 ms a frame (45 s over 10 minutes).
#[derive(Debug, Default)]
struct LateClock {
    wakeups: AtomicU64,
}

impl Clock for LateClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn sleep_until(&self, deadline: Instant) -> tokio::time::Sleep {
        let lag = Duration::from_millis(self.wakeups.fetch_add(1, Ordering::Relaxed) % 4);
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline + lag))
    }
}

fn rtp(seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

struct Header {
    marker: bool,
    pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
    payload: Vec<u8>,
}

fn parse(d: &[u8]) -> Header {
    let r = rtp_rs::RtpReader::new(d).unwrap();
    Header {
        marker: r.mark(),
        pt: r.payload_type(),
        seq: r.sequence_number().into(),
        ts: r.timestamp(),
        ssrc: r.ssrc(),
        payload: r.payload().to_vec(),
    }
}

async fn start(config: MediaConfig, pool: &PortPool) -> (MediaHandle, UdpSocket) {
    let asterisk = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let lease = pool.lease().unwrap();
    let handle = MediaSession::spawn(lease, asterisk.local_addr().unwrap(), config).unwrap();
    (handle, asterisk)
}

fn pool(range: std::ops::RangeInclusive<u16>) -> PortPool {
    PortPool::new(LOCALHOST, range).unwrap()
}

#[tokio::test(start_paused = true)]
async fn pacing_over_a_ten_minute_call_has_zero_drift() {
    let pool = pool(31000..=31099);
    let asterisk = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let start = tokio::time::Instant::now();
    let handle = MediaSession::spawn_with_clock(
        pool.lease().unwrap(),
        asterisk.local_addr().unwrap(),
        MediaConfig::default(),
        LateClock::default(),
    )
    .unwrap();
    let counters = handle.counters();
    let receiver = tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        let mut first: Option<Header> = None;
        let mut count = 0u32;
        loop {
            let (n, _) = asterisk.recv_from(&mut buf).await.unwrap();
            let h = parse(&buf[..n]);
            let f = first.get_or_insert_with(|| parse(&buf[..n]));
            assert_eq!(
                h.seq,
                f.seq.wrapping_add(count as u16),
                "sequence continuous"
            );
            assert_eq!(h.ts, f.ts.wrapping_add(count * 160), "timestamp continuous");
            assert_eq!(h.ssrc, f.ssrc);
            assert_eq!(h.pt, 0);
            assert_eq!(
                h.payload,
                vec![0xFF; 160],
                "silence while the agent is quiet"
            );
            assert!(!h.marker);
            count += 1;
            if count == 30_001 {
                return count;
            }
        }
    });
    // Frame n is due at start + n × 20 ms; frame 30 000 at exactly 10 minutes.
    tokio::time::sleep_until(start + Duration::from_secs(600) + Duration::from_millis(10)).await;
    assert_eq!(counters.packets_out.load(Ordering::Relaxed), 30_001);
    assert_eq!(counters.outbound_frames_skipped.load(Ordering::Relaxed), 0);
    assert_eq!(receiver.await.unwrap(), 30_001);
    handle.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn agent_audio_is_sent_as_a_talk_spurt_then_silence_resumes() {
    let pool = pool(31100..=31109);
    let (mut handle, asterisk) = start(
        MediaConfig {
            law: Law::Alaw,
            ..MediaConfig::default()
        },
        &pool,
    )
    .await;
    let mut buf = [0u8; 2048];
    for _ in 0..5 {
        let (n, _) = asterisk.recv_from(&mut buf).await.unwrap();
        let h = parse(&buf[..n]);
        assert_eq!((h.pt, h.marker), (8, false));
        assert_eq!(h.payload, vec![0xD5; 160]);
    }
    // 100 ms of a loud square wave at 16 kHz → 5 frames at 8 kHz.
    let clip: Vec<i16> = (0..1600)
        .map(|i| if i % 40 < 20 { 8000 } else { -8000 })
        .collect();
    handle.play(PlayoutId(7), 16_000, clip).await.unwrap();
    let mut kinds = Vec::new();
    while kinds.len() < 12 {
        let (n, _) = asterisk.recv_from(&mut buf).await.unwrap();
        let h = parse(&buf[..n]);
        kinds.push((h.marker, h.payload != vec![0xD5; 160]));
    }
    let first_audio = kinds.iter().position(|k| k.1).unwrap();
    assert_eq!(
        kinds[first_audio],
        (true, true),
        "marker on the first audio frame"
    );
    assert_eq!(
        &kinds[first_audio + 1..first_audio + 5],
        &[(false, true); 4]
    );
    assert!(
        kinds[first_audio + 5..]
            .iter()
            .all(|k| *k == (false, false))
    );
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

#[tokio::test(start_paused = true)]
async fn inbound_audio_is_forwarded_and_strangers_are_counted() {
    let pool = pool(31200..=31209);
    let (mut handle, asterisk) = start(MediaConfig::default(), &pool).await;
    let mut audio = handle.take_inbound_audio().unwrap();
    assert!(handle.take_inbound_audio().is_none());
    let to = handle.local_addr();
    for i in 0..3u16 {
        asterisk
            .send_to(&rtp(i, 160 * u32::from(i), 9, &[i as u8 + 1; 160]), to)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for i in 0..3u8 {
        let f = audio.recv().await.unwrap();
        assert_eq!(f.codes, [i + 1; 160]);
        assert_eq!(f.law, Law::Ulaw);
    }
    let stranger = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    stranger
        .send_to(&rtp(3, 480, 9, &[4; 160]), to)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(40)).await;
    let counters = handle.counters();
    assert_eq!(counters.dropped(DropReason::WrongSource), 1);
    assert_eq!(counters.packets_in.load(Ordering::Relaxed), 4);
    handle.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_lagging_consumer_loses_the_oldest_audio_and_media_keeps_flowing() {
    let pool = pool(31300..=31309);
    let (mut handle, asterisk) = start(MediaConfig::default(), &pool).await;
    let mut audio = handle.take_inbound_audio().unwrap();
    let to = handle.local_addr();
    // 3 s of caller audio that nobody reads (the buffer holds 64 frames).
    for i in 0..150u16 {
        asterisk
            .send_to(&rtp(i, 160 * u32::from(i), 9, &[(i % 200) as u8; 160]), to)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let counters = handle.counters();
    let sent_before = counters.packets_out.load(Ordering::Relaxed);
    assert!(sent_before >= 150, "media kept pacing: {sent_before}");
    let first = audio.recv().await.unwrap();
    let lost = 150 - INBOUND_AUDIO_CAPACITY as u64;
    assert_eq!(counters.inbound_audio_dropped.load(Ordering::Relaxed), lost);
    // What is left is the newest audio.
    assert_eq!(u64::from(first.codes[0]), lost);
    handle.stop().await.unwrap();
}

#[tokio::test]
async fn port_pool_exhausts_and_takes_ports_back() {
    let pool = pool(31400..=31402);
    let a = pool.lease().unwrap();
    let b = pool.lease().unwrap();
    let c = pool.lease().unwrap();
    let mut ports = vec![a.port(), b.port(), c.port()];
    ports.sort_unstable();
    assert_eq!(ports, vec![31400, 31401, 31402]);
    assert_eq!(a.local_addr(), SocketAddr::new(LOCALHOST, a.port()));
    assert!(matches!(
        pool.lease(),
        Err(PortPoolError::Exhausted {
            start: 31400,
            end: 31402
        })
    ));
    let freed = b.port();
    drop(b);
    assert_eq!(pool.available(), 1);
    let again = pool.lease_port(freed).unwrap();
    assert_eq!(again.port(), freed);
    assert!(matches!(
        pool.lease_port(freed),
        Err(PortPoolError::PortUnavailable(_))
    ));
    assert!(matches!(
        PortPool::new(LOCALHOST, std::ops::RangeInclusive::new(5, 4)),
        Err(PortPoolError::EmptyRange)
    ));
}

#[tokio::test]
async fn port_pool_skips_ports_held_by_someone_else() {
    let squatter = std::net::UdpSocket::bind((LOCALHOST, 31500)).unwrap();
    let pool = pool(31500..=31501);
    let lease = pool.lease().unwrap();
    assert_eq!(lease.port(), 31501);
    assert!(matches!(pool.lease(), Err(PortPoolError::Exhausted { .. })));
    drop(squatter);
}
