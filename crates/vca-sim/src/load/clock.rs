//! Puts a call's send grid and its recording clock on one clock.
//!
//! The recording stamps arrivals relative to the External Media channel's creation, and the
//! caller's grid starts `media_start_delay` after the peer was connected to the caller;
//! neither instant is exported by the simulator. Both are bracketed by polling the call's
//! recording every millisecond from the moment it is placed:
//! - connect: the first poll that finds a recording (the simulator sets the call's media
//!   channel and sends the peer its Connect under one lock, and the peer answers the
//!   snapshot after Connect) lies after it; the last poll that found none, before it;
//! - creation: the first arrival `A0` lies between the last poll that saw no packet and
//!   the first that saw one, so creation lies in that interval shifted back by `A0` (the
//!   daemon starts sending only after the bridge is up, after the previous poll).
//!
//! Each instant is taken as the middle of its bracket; `uncertainty` is the sum of the two
//! half-widths, about 1–2 ms on an idle box.

use std::time::Duration;

use tokio::time::Instant;

use crate::{CallStatus, SimCall};

/// Poll period.
const POLL: Duration = Duration::from_millis(1);

/// A call's two reference instants, on the load runner's clock.
#[derive(Debug, Clone, Copy)]
pub struct CallClock {
    /// When the caller was connected to the External Media peer.
    pub connect: Instant,
    /// When the External Media channel (its recording clock's zero) was created.
    pub created: Instant,
    /// Half-width of the connect bracket plus that of the creation bracket.
    pub uncertainty: Duration,
}

impl CallClock {
    /// Milliseconds on the recording clock at which tick 0 of the caller's grid is sent.
    pub fn tick0_ms(&self, media_start_delay: Duration) -> f64 {
        let tick0 = self.connect + media_start_delay;
        if tick0 >= self.created {
            tick0.duration_since(self.created).as_secs_f64() * 1000.0
        } else {
            -(self.created.duration_since(tick0).as_secs_f64() * 1000.0)
        }
    }

    /// Polls `call` until both instants are bracketed; `None` if the call ends first or
    /// `deadline` passes.
    pub async fn calibrate(call: &SimCall, deadline: Instant) -> Option<CallClock> {
        let mut before_connect = Instant::now();
        let mut connect: Option<(Instant, Instant)> = None;
        let mut before_packet = before_connect;
        loop {
            let t0 = Instant::now();
            let rec = call.recording().await;
            let t2 = Instant::now();
            match rec {
                None => {
                    if matches!(call.status(), CallStatus::Ended(_)) {
                        return None;
                    }
                    before_connect = t0;
                    before_packet = t0;
                }
                Some(rec) => {
                    let (c_lo, c_hi) = *connect.get_or_insert((before_connect, t2));
                    match rec.packets.first() {
                        None => before_packet = t0,
                        Some(p) => {
                            let lo = before_packet.checked_sub(p.arrival)?;
                            let hi = t2.checked_sub(p.arrival)?;
                            let created = lo + (hi.duration_since(lo) / 2);
                            let connect = c_lo + (c_hi.duration_since(c_lo) / 2);
                            let uncertainty =
                                (c_hi.duration_since(c_lo) + hi.duration_since(lo)) / 2;
                            return Some(CallClock {
                                connect,
                                created,
                                uncertainty,
                            });
                        }
                    }
                }
            }
            if t2 >= deadline {
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
