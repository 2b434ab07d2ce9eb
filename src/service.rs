//! Talking to systemd (`Type=notify`): `READY=1` once the daemon serves, `STATUS=` lines
//! saying whether ARI is connected and how many calls are live, `STOPPING=1` on shutdown,
//! and watchdog pings sent only while the call controller and the ARI supervisor are
//! alive, so a stuck daemon is restarted. Without `NOTIFY_SOCKET` (not under systemd)
//! every call is a no-op.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use sd_notify::NotifyState;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::ari::ConnectionState;

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!(error = %e, "systemd notification failed");
    }
}

/// `READY=1`.
pub fn ready() {
    send(&[NotifyState::Ready]);
}

/// `STOPPING=1` with a status line.
pub fn stopping(status: &str) {
    send(&[NotifyState::Stopping, NotifyState::Status(status)]);
}

/// A `STATUS=` line.
pub fn status(text: &str) {
    send(&[NotifyState::Status(text)]);
}

/// Signs of life of the parts the watchdog vouches for.
#[derive(Debug, Default)]
pub struct Liveness {
    /// Milliseconds since [`Liveness::epoch`] at the call controller's last loop turn.
    pub controller_beat_ms: AtomicU64,
    /// Calls the controller is running.
    pub live_calls: AtomicUsize,
    epoch: std::sync::OnceLock<tokio::time::Instant>,
}

impl Liveness {
    fn epoch(&self) -> tokio::time::Instant {
        *self.epoch.get_or_init(tokio::time::Instant::now)
    }

    /// The controller calls this on every loop turn (and at least every second).
    pub fn beat(&self) {
        let ms = self.epoch().elapsed().as_millis() as u64;
        self.controller_beat_ms.store(ms, Ordering::Relaxed);
    }

    /// How long since the controller's last beat.
    pub fn since_beat(&self) -> Duration {
        let now = self.epoch().elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.controller_beat_ms.load(Ordering::Relaxed)))
    }
}

/// Sends watchdog pings at half the interval systemd asked for, only while the
/// controller beats and the ARI supervisor has not stopped; keeps `STATUS=` current.
pub async fn supervise(
    liveness: Arc<Liveness>,
    mut ari: watch::Receiver<ConnectionState>,
    stop: CancellationToken,
) {
    liveness.beat();
    let watchdog = sd_notify::watchdog_enabled();
    let period = watchdog.map_or(Duration::from_secs(5), |w| w / 2);
    let mut tick = tokio::time::interval(period);
    let mut last_status = String::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
            changed = ari.changed() => if changed.is_err() { return },
        }
        let state = ari.borrow().clone();
        let calls = liveness.live_calls.load(Ordering::Relaxed);
        let text = match &state {
            ConnectionState::Connected { .. } => format!("ARI connected; {calls} live calls"),
            ConnectionState::Connecting { attempt } => {
                format!("ARI connecting (attempt {attempt}); {calls} live calls")
            }
            ConnectionState::Disconnected { reason, .. } => {
                format!("ARI disconnected: {reason}; {calls} live calls")
            }
            ConnectionState::Stopped => format!("ARI stopped; {calls} live calls"),
            ConnectionState::Standby => "standby: another daemon owns the ARI application".into(),
            ConnectionState::Replaced => {
                "replaced: another connection took the ARI application".into()
            }
        };
        if text != last_status {
            status(&text);
            last_status = text;
        }
        let healthy =
            !matches!(state, ConnectionState::Stopped) && liveness.since_beat() < period * 2;
        if watchdog.is_some() {
            if healthy {
                send(&[NotifyState::Watchdog]);
            } else {
                tracing::error!(
                    "call controller or ARI supervisor stalled; withholding the watchdog ping"
                );
            }
        }
    }
}
