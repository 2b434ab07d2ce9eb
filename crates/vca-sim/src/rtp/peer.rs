//! The tokio task of one UnicastRTP peer: owns its UDP socket (sends from the port it
//! receives on, to external_host), one send deadline on an absolute 20 ms grid, and the
//! recording. Per packet it neither allocates (beyond the recording's amortised growth),
//! locks, nor logs: commands arrive on a channel.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::rtp::feed::{CallerFeed, FRAME_SAMPLES, Frame, ticks};
use crate::rtp::packet::{self, HEADER_LEN};
use crate::rtp::recording::{ReceivedPacket, RtpRecording};
use crate::rtp::strict::{StrictRtp, Verdict};
use crate::spec::AudioPart;
use vca_media::g711::Law;

const PTIME: Duration = Duration::from_millis(20);

/// Orders to a peer, from the telephony model.
#[derive(Debug)]
pub(crate) enum PeerCommand {
    /// The channel is bridged with a caller: start (after the start delay) sending its audio.
    Connect {
        parts: Arc<[AudioPart]>,
        /// For a caller already heard by an earlier External Media channel: how long ago
        /// its audio was first connected (the timeline continues from there).
        resume_after: Option<Duration>,
        transmit_silence: bool,
        audio_done: watch::Sender<bool>,
    },
    /// The caller left the bridge: stop sending.
    Disconnect,
    /// The caller is pressing a digit: no packets for its duration (FINDINGS 10).
    Dtmf(Duration),
    /// A copy of what was received so far.
    Snapshot(oneshot::Sender<RtpRecording>),
    /// Bridge MOH starts (`true`) or stops: the music is mixed into what the app receives
    /// (FINDINGS 41c).
    Music(bool),
}

/// What a peer is created with.
#[derive(Debug)]
pub(crate) struct PeerSetup {
    pub(crate) socket: UdpSocket,
    pub(crate) external_host: SocketAddr,
    pub(crate) law: Law,
    pub(crate) learn: Duration,
    pub(crate) probation: u32,
    pub(crate) start_delay: Duration,
    /// When the channel was created (the recording's arrival times count from here).
    pub(crate) created: std::time::Instant,
}

/// Outbound stream state: one SSRC, continuous sequence and timestamp.
struct Outbound {
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    sent_any: bool,
    marker_next: bool,
    skip_ticks: u64,
}

impl Outbound {
    fn gap_tick(&mut self) {
        if self.sent_any {
            self.timestamp = self.timestamp.wrapping_add(FRAME_SAMPLES as u32);
            self.marker_next = true;
        }
    }
}

/// Runs the peer until the command channel closes (the channel was hung up); returns
/// everything it received.
pub(crate) async fn run_peer(
    setup: PeerSetup,
    mut commands: mpsc::UnboundedReceiver<PeerCommand>,
) -> RtpRecording {
    let created = Instant::from_std(setup.created);
    let mut strict = StrictRtp::new(
        setup.external_host,
        created.into_std(),
        setup.learn,
        setup.probation,
    );
    let mut rec = RtpRecording {
        pcm: Vec::with_capacity(8000 * 10),
        packets: Vec::with_capacity(600),
        ..RtpRecording::default()
    };
    let mut out = Outbound {
        sequence: rand::random(),
        timestamp: FRAME_SAMPLES as u32,
        ssrc: rand::random(),
        sent_any: false,
        marker_next: false,
        skip_ticks: 0,
    };
    let mut feed: Option<(CallerFeed, watch::Sender<bool>)> = None;
    let mut next_tick: Option<Instant> = None;
    let mut music: Option<u64> = None;
    let mut rx_buf = [0u8; 2048];
    let mut decoded = [0i16; 2048];
    let mut pcm = [0i16; FRAME_SAMPLES];
    let mut tx_buf = [0u8; HEADER_LEN + FRAME_SAMPLES];

    loop {
        let tick = async {
            match next_tick {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = setup.socket.recv_from(&mut rx_buf) => {
                let Ok((n, src)) = r else { continue };
                handle_datagram(&rx_buf[..n], src, created, &mut strict, &mut rec, &mut decoded);
            }
            cmd = commands.recv() => match cmd {
                None => break,
                Some(PeerCommand::Connect { parts, resume_after, transmit_silence, audio_done }) => {
                    let mut f = CallerFeed::new(parts, transmit_silence);
                    match resume_after {
                        Some(elapsed) => {
                            let behind = elapsed.saturating_sub(setup.start_delay);
                            f.skip(ticks(behind));
                            next_tick = Some(Instant::now());
                        }
                        None => next_tick = Some(Instant::now() + setup.start_delay),
                    }
                    feed = Some((f, audio_done));
                }
                Some(PeerCommand::Disconnect) => {
                    feed = None;
                    next_tick = None;
                    out.marker_next = out.sent_any;
                }
                Some(PeerCommand::Dtmf(d)) => out.skip_ticks += ticks(d),
                Some(PeerCommand::Snapshot(tx)) => {
                    let _ = tx.send(rec.clone());
                }
                Some(PeerCommand::Music(on)) => music = on.then_some(music.unwrap_or(0)),
            },
            () = tick => {
                let Some(due) = next_tick else { continue };
                next_tick = Some(due + PTIME);
                let Some((f, done)) = feed.as_mut() else { continue };
                if out.skip_ticks > 0 {
                    out.skip_ticks -= 1;
                    out.gap_tick();
                    continue;
                }
                let frame = f.poll_frame(&mut pcm);
                if f.is_done() && !*done.borrow() {
                    done.send_replace(true);
                }
                let n = match (frame, music.is_some()) {
                    (Frame::Speech(n), _) => n,
                    (Frame::Silence, _) | (Frame::Nothing, true) => {
                        pcm.fill(0);
                        FRAME_SAMPLES
                    }
                    (Frame::Nothing, false) => {
                        out.gap_tick();
                        continue;
                    }
                };
                if let Some(pos) = music.as_mut() {
                    for s in pcm[..n].iter_mut() {
                        *s = s.saturating_add(crate::model::hearing::moh_sample(*pos) / 3);
                        *pos += 1;
                    }
                }
                let mut header = [0u8; HEADER_LEN];
                packet::write_header(&mut header, out.marker_next, setup.law.payload_type(), out.sequence, out.timestamp, out.ssrc);
                tx_buf[..HEADER_LEN].copy_from_slice(&header);
                setup.law.encode_into(&pcm[..n], &mut tx_buf[HEADER_LEN..HEADER_LEN + n]);
                if setup.socket.send_to(&tx_buf[..HEADER_LEN + n], setup.external_host).await.is_ok() {
                    rec.sent_packets += 1;
                }
                out.sequence = out.sequence.wrapping_add(1);
                out.timestamp = out.timestamp.wrapping_add(n as u32);
                out.sent_any = true;
                out.marker_next = false;
            }
        }
    }
    rec
}

/// Strict RTP, payload-type filter, decode and record one datagram.
fn handle_datagram(
    buf: &[u8],
    src: SocketAddr,
    created: Instant,
    strict: &mut StrictRtp,
    rec: &mut RtpRecording,
    decoded: &mut [i16; 2048],
) {
    let now = Instant::now();
    let Some(h) = packet::parse(buf) else {
        rec.dropped_malformed += 1;
        return;
    };
    if strict.handle_packet(src, h.sequence, now.into_std()) != Verdict::Accept {
        rec.dropped_source += 1;
        return;
    }
    if strict.is_locked() {
        rec.locked_source = Some(strict.source());
    }
    let Some(law) = Law::from_payload_type(h.payload_type) else {
        rec.dropped_payload_type += 1;
        return;
    };
    let payload = &buf[h.payload_start..h.payload_end];
    for chunk in payload.chunks(decoded.len()) {
        let n = law.decode_into(chunk, decoded);
        rec.pcm.extend_from_slice(&decoded[..n]);
    }
    rec.packets.push(ReceivedPacket {
        arrival: now.duration_since(created),
        source: src,
        payload_type: h.payload_type,
        sequence: h.sequence,
        timestamp: h.timestamp,
        ssrc: h.ssrc,
        marker: h.marker,
        payload_len: payload.len(),
    });
}
