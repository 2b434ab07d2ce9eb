//! [`PeerCore`]: one UnicastRTP peer without its IO — strict RTP and the recording on the
//! receiving side, the caller's timeline on an absolute 20 ms grid, DTMF pauses and bridge
//! music on the sending side. Fed with commands, datagrams and their arrival times, polled
//! for its next deadline and the packet due then. The task of [`super::peer`] (a socket per
//! channel) and the threads of [`super::hub`] (a socket per thread) drive the same core, so
//! the load runner's callers behave exactly as the tests' callers do.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::rtp::feed::{CallerFeed, FRAME_SAMPLES, Frame, ticks};
use crate::rtp::packet::{self, HEADER_LEN};
use crate::rtp::peer::PeerCommand;
use crate::rtp::recording::{ReceivedPacket, RtpRecording};
use crate::rtp::strict::{StrictRtp, Verdict};
use vca_media::g711::Law;

const PTIME: Duration = Duration::from_millis(20);

/// Largest packet a peer sends: a header and one 20 ms G.711 frame.
pub(crate) const PACKET_MAX: usize = HEADER_LEN + FRAME_SAMPLES;

/// What a peer is made of, whatever drives it.
#[derive(Debug, Clone)]
pub(crate) struct PeerConfig {
    pub(crate) external_host: SocketAddr,
    pub(crate) law: Law,
    pub(crate) learn: Duration,
    pub(crate) probation: u32,
    pub(crate) start_delay: Duration,
    /// When the channel was created (the recording's arrival times count from here).
    pub(crate) created: Instant,
}

/// Outbound stream state: one SSRC, continuous sequence and timestamp.
#[derive(Debug)]
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

/// One peer's state.
#[derive(Debug)]
pub(crate) struct PeerCore {
    config: PeerConfig,
    strict: StrictRtp,
    rec: RtpRecording,
    out: Outbound,
    feed: Option<(CallerFeed, watch::Sender<bool>)>,
    next_tick: Option<Instant>,
    music: Option<u64>,
    decoded: Box<[i16; 2048]>,
    pcm: [i16; FRAME_SAMPLES],
}

impl PeerCore {
    pub(crate) fn new(config: PeerConfig) -> Self {
        let strict = StrictRtp::new(
            config.external_host,
            config.created,
            config.learn,
            config.probation,
        );
        PeerCore {
            config,
            strict,
            rec: RtpRecording {
                pcm: Vec::with_capacity(8000 * 10),
                packets: Vec::with_capacity(600),
                ..RtpRecording::default()
            },
            out: Outbound {
                sequence: rand::random(),
                timestamp: FRAME_SAMPLES as u32,
                ssrc: rand::random(),
                sent_any: false,
                marker_next: false,
                skip_ticks: 0,
            },
            feed: None,
            next_tick: None,
            music: None,
            decoded: Box::new([0; 2048]),
            pcm: [0; FRAME_SAMPLES],
        }
    }

    /// Where this peer sends: the `external_host` the app asked for.
    pub(crate) fn external_host(&self) -> SocketAddr {
        self.config.external_host
    }

    /// An order from the telephony model, at `now`.
    pub(crate) fn handle_command(&mut self, now: Instant, command: PeerCommand) {
        match command {
            PeerCommand::Connect {
                parts,
                resume_after,
                transmit_silence,
                audio_done,
            } => {
                let mut f = CallerFeed::new(parts, transmit_silence);
                match resume_after {
                    Some(elapsed) => {
                        let behind = elapsed.saturating_sub(self.config.start_delay);
                        f.skip(ticks(behind));
                        self.next_tick = Some(now);
                    }
                    None => self.next_tick = Some(now + self.config.start_delay),
                }
                self.feed = Some((f, audio_done));
            }
            PeerCommand::Disconnect => {
                self.feed = None;
                self.next_tick = None;
                self.out.marker_next = self.out.sent_any;
            }
            PeerCommand::Dtmf(d) => self.out.skip_ticks += ticks(d),
            PeerCommand::Snapshot(tx) => {
                let _ = tx.send(self.rec.clone());
            }
            PeerCommand::Music(on) => self.music = on.then_some(self.music.unwrap_or(0)),
        }
    }

    /// Strict RTP, payload-type filter, decode and record one datagram that arrived from
    /// `src` at `arrival`; `read_lag` is how long it waited before the peer read it (zero
    /// where unknown).
    pub(crate) fn handle_datagram(
        &mut self,
        buf: &[u8],
        src: SocketAddr,
        arrival: Instant,
        read_lag: Duration,
    ) {
        let rec = &mut self.rec;
        let Some(h) = packet::parse(buf) else {
            rec.dropped_malformed += 1;
            return;
        };
        if self.strict.handle_packet(src, h.sequence, arrival) != Verdict::Accept {
            rec.dropped_source += 1;
            return;
        }
        if self.strict.is_locked() {
            rec.locked_source = Some(self.strict.source());
        }
        let Some(law) = Law::from_payload_type(h.payload_type) else {
            rec.dropped_payload_type += 1;
            return;
        };
        let payload = &buf[h.payload_start..h.payload_end];
        for chunk in payload.chunks(self.decoded.len()) {
            let n = law.decode_into(chunk, &mut self.decoded[..]);
            rec.pcm.extend_from_slice(&self.decoded[..n]);
        }
        rec.packets.push(ReceivedPacket {
            arrival: arrival.saturating_duration_since(self.config.created),
            read_lag,
            source: src,
            payload_type: h.payload_type,
            sequence: h.sequence,
            timestamp: h.timestamp,
            ssrc: h.ssrc,
            marker: h.marker,
            payload_len: payload.len(),
        });
    }

    /// The next send deadline, if the peer is sending.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.next_tick
    }

    /// Handles the deadline that came; writes the packet due then (if any) into `tx` and
    /// returns its length. The next deadline is 20 ms after this one, whatever `now` is.
    pub(crate) fn handle_timeout(&mut self, tx: &mut [u8; PACKET_MAX]) -> Option<usize> {
        let due = self.next_tick?;
        self.next_tick = Some(due + PTIME);
        let (f, done) = self.feed.as_mut()?;
        let out = &mut self.out;
        if out.skip_ticks > 0 {
            out.skip_ticks -= 1;
            out.gap_tick();
            return None;
        }
        let pcm = &mut self.pcm;
        let frame = f.poll_frame(pcm);
        if f.is_done() && !*done.borrow() {
            done.send_replace(true);
        }
        let n = match (frame, self.music.is_some()) {
            (Frame::Speech(n), _) => n.min(FRAME_SAMPLES),
            (Frame::Silence, _) | (Frame::Nothing, true) => {
                pcm.fill(0);
                FRAME_SAMPLES
            }
            (Frame::Nothing, false) => {
                out.gap_tick();
                return None;
            }
        };
        if let Some(pos) = self.music.as_mut() {
            for s in pcm[..n].iter_mut() {
                *s = s.saturating_add(crate::model::hearing::moh_sample(*pos) / 3);
                *pos += 1;
            }
        }
        let mut header = [0u8; HEADER_LEN];
        packet::write_header(
            &mut header,
            out.marker_next,
            self.config.law.payload_type(),
            out.sequence,
            out.timestamp,
            out.ssrc,
        );
        tx[..HEADER_LEN].copy_from_slice(&header);
        self.config
            .law
            .encode_into(&pcm[..n], &mut tx[HEADER_LEN..HEADER_LEN + n]);
        out.sequence = out.sequence.wrapping_add(1);
        out.timestamp = out.timestamp.wrapping_add(n as u32);
        out.sent_any = true;
        out.marker_next = false;
        Some(HEADER_LEN + n)
    }

    /// The packet [`Self::handle_timeout`] produced was handed to the kernel.
    pub(crate) fn note_sent(&mut self) {
        self.rec.sent_packets += 1;
    }

    /// Everything received, when the channel has gone.
    pub(crate) fn into_recording(self) -> RtpRecording {
        self.rec
    }
}
