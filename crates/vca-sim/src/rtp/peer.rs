//! The orders a UnicastRTP peer takes ([`PeerCommand`]), how it is set up ([`PeerSetup`]:
//! its own socket, or a place on an RTP hub thread), and the tokio task that drives a
//! [`PeerCore`] on a socket of its own (sends from the port it receives on, to
//! external_host). Per packet it neither allocates (beyond the recording's amortised
//! growth), locks, nor logs: commands arrive on a channel.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::rtp::hub::HubSlot;
use crate::rtp::peer_core::{PACKET_MAX, PeerConfig, PeerCore};
use crate::rtp::recording::RtpRecording;
use crate::spec::AudioPart;

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
    /// How its packets travel.
    pub(crate) transport: PeerTransport,
    /// The peer itself.
    pub(crate) config: PeerConfig,
}

/// A peer's IO: its own socket and tokio task, or a place on an RTP hub thread.
#[derive(Debug)]
pub(crate) enum PeerTransport {
    /// A socket of the channel's own, bound to the announced address.
    Socket(UdpSocket),
    /// The announced address on a hub thread's shared socket.
    Hub(HubSlot),
}

/// Runs the peer on its own socket until the command channel closes (the channel was hung
/// up); returns everything it received.
pub(crate) async fn run_peer(
    socket: UdpSocket,
    config: PeerConfig,
    mut commands: mpsc::UnboundedReceiver<PeerCommand>,
) -> RtpRecording {
    let mut core = PeerCore::new(config);
    let mut rx_buf = [0u8; 2048];
    let mut tx_buf = [0u8; PACKET_MAX];
    loop {
        let next_tick = core.poll_timeout();
        let tick = async {
            match next_tick {
                Some(t) => tokio::time::sleep_until(Instant::from_std(t)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = socket.recv_from(&mut rx_buf) => {
                let Ok((n, src)) = r else { continue };
                core.handle_datagram(&rx_buf[..n], src, std::time::Instant::now(), Duration::ZERO);
            }
            cmd = commands.recv() => match cmd {
                None => break,
                Some(cmd) => core.handle_command(std::time::Instant::now(), cmd),
            },
            () = tick => {
                let Some(n) = core.handle_timeout(&mut tx_buf) else { continue };
                if socket.send_to(&tx_buf[..n], core.external_host()).await.is_ok() {
                    core.note_sent();
                }
            }
        }
    }
    core.into_recording()
}
