//! A transfer as the call's task carries it out, once the conversation has said its
//! announce ([`TransferRun`]): a sequence of ARI steps, each a future polled among the call's
//! other work, moved on by the ARI events of the caller and of the agent's leg.
//!
//! - **dialplan** target: `DIALPLAN_EXISTS(ctx,exten,prio)` on the caller's channel (a
//!   missing target is a failed transfer, not a dropped caller: FINDINGS 31, 33), then
//!   `continue`; the caller leaves our application and the call is ours no more.
//! - **endpoint** target: hold music for the caller (channel MOH: our own audio would be
//!   dropped under it anyway, FINDINGS 38), the agent's leg originated into our application
//!   under an id of our choosing, then on its `StasisStart` the swap of FINDINGS 36 (MOH off,
//!   External Media out and deleted, the agent in the caller's bridge). Busy, congestion
//!   (from `Dial`), no answer (cause 19, or our own ring timeout) or any other end of the leg
//!   is a failed transfer: MOH off, and the conversation goes on. Bridged, caller and agent
//!   talk until either hangs up; the other leg is then hung up by us (FINDINGS 37, 47).

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::ari::{AriClient, AriError, AriEvent, DialplanTarget, HangupReason, OriginateRequest};

/// How long past its own ring timeout an agent leg may take to report its end before we
/// hang it up ourselves.
const RING_GRACE: Duration = Duration::from_secs(5);

/// Where a transfer goes, from the tenant's target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// Into the dialplan.
    Dialplan {
        context: String,
        extension: String,
        priority: i64,
    },
    /// A leg originated to an endpoint, bridged with the caller when it answers.
    Endpoint {
        endpoint: String,
        ring_timeout: Duration,
        caller_id: Option<String>,
    },
}

/// A target the call may be transferred to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) name: String,
    pub(crate) route: Route,
}

/// Why a transfer failed (the `transfer_failed` event's `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    NoSuchExtension,
    Busy,
    NoAnswer,
    Congestion,
    Failed,
}

impl Failure {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Failure::NoSuchExtension => "no_such_extension",
            Failure::Busy => "busy",
            Failure::NoAnswer => "no_answer",
            Failure::Congestion => "congestion",
            Failure::Failed => "failed",
        }
    }
}

/// What a transfer step or event means for the call.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Nothing to do yet.
    Pending,
    /// Dialplan: the caller left our application into the dialplan.
    Continued,
    /// Endpoint: the agent answered; the swap runs (the media must stop now).
    Answered,
    /// Endpoint: caller and agent are in one bridge.
    Bridged,
    /// It failed; MOH is being taken off (the conversation goes on).
    Failed(Failure),
    /// Bridged, one side hung up (the other is being hung up): the call is over.
    Over { caller_left: bool },
    /// The caller hung up before the transfer was made (the agent leg is being dropped).
    CallerLeft,
    /// The agent answered but could not be bridged with the caller, whose External Media
    /// is already gone: the call ends (both legs are hung up) rather than leave the caller
    /// in silence.
    SwapFailed,
}

type Step = Pin<Box<dyn Future<Output = StepResult> + Send>>;

#[derive(Debug)]
enum StepResult {
    Checked(Result<bool, AriError>),
    Continued(Result<(), AriError>),
    Originated(Result<(), AriError>),
    Swapped(Result<(), String>),
    /// A clean-up step (MOH off, a leg hung up) whose result changes nothing.
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    Checking,
    Continuing,
    Ringing {
        deadline: Instant,
    },
    Swapping,
    Bridged,
    /// Failed or over; only a clean-up step may still run.
    Finished,
}

/// One transfer of one call.
pub(crate) struct TransferRun {
    ari: AriClient,
    target: Target,
    caller: String,
    bridge: Option<String>,
    media_channel: String,
    /// The agent leg's channel id (endpoint targets).
    agent: String,
    stage: Stage,
    step: Option<Step>,
    /// An agent leg of ours may exist (originated, not yet seen destroyed): the call's end
    /// must hang it up, so no agent leg rings after the caller has gone.
    leg_may_exist: bool,
    /// The swap removed (and deleted) our External Media channel: its `StasisEnd` and
    /// `ChannelDestroyed` are our own doing, not a lost media channel.
    media_released: bool,
}

/// The id of the `n`-th agent leg of `call`: our prefix, the call, the attempt.
pub(crate) fn agent_channel_id(call: Uuid, attempt: u32) -> String {
    format!(
        "{}{call}-{attempt}",
        crate::call::context::AGENT_CHANNEL_PREFIX
    )
}

impl TransferRun {
    /// Starts transferring `caller` (in `bridge`, with our `media_channel`) to `target`;
    /// `agent` is the id the agent leg will have.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start(
        ari: AriClient,
        app: String,
        target: Target,
        caller: String,
        bridge: Option<String>,
        media_channel: String,
        agent: String,
        now: Instant,
    ) -> Self {
        let mut run = TransferRun {
            ari,
            target,
            caller,
            bridge,
            media_channel,
            agent,
            stage: Stage::Finished,
            step: None,
            leg_may_exist: false,
            media_released: false,
        };
        match run.target.route.clone() {
            Route::Dialplan {
                context,
                extension,
                priority,
            } => {
                let (ari, caller) = (run.ari.clone(), run.caller.clone());
                run.stage = Stage::Checking;
                run.step = Some(Box::pin(async move {
                    StepResult::Checked(
                        ari.dialplan_exists(&caller, &context, &extension, priority)
                            .await,
                    )
                }));
            }
            Route::Endpoint {
                endpoint,
                ring_timeout,
                caller_id,
            } => {
                let (ari, caller) = (run.ari.clone(), run.caller.clone());
                let request = OriginateRequest {
                    endpoint,
                    app,
                    app_args: vec!["transfer".into(), run.caller.clone()],
                    channel_id: Some(run.agent.clone()),
                    other_channel_id: Some(format!("{}-2", run.agent)),
                    caller_id,
                    timeout_seconds: Some(u32::try_from(ring_timeout.as_secs()).unwrap_or(25)),
                };
                run.stage = Stage::Ringing {
                    deadline: now + ring_timeout + RING_GRACE,
                };
                run.leg_may_exist = true;
                run.step = Some(Box::pin(async move {
                    // The caller hears hold music while the agent's phone rings.
                    if let Err(e) = ari.start_moh(&caller, None).await {
                        tracing::warn!(error = %e, "cannot start music on hold");
                    }
                    StepResult::Originated(ari.originate(&request).await.map(|_| ()))
                }));
            }
        }
        run
    }

    /// The target's name.
    pub(crate) fn target(&self) -> &str {
        &self.target.name
    }

    /// The agent leg's channel id.
    pub(crate) fn agent(&self) -> &str {
        &self.agent
    }

    /// Whether an agent leg of ours may still exist (ringing, answered, bridged, or being
    /// hung up by a step that may not get to run): the call's end must hang it up.
    pub(crate) fn agent_leg_up(&self) -> bool {
        self.leg_may_exist
    }

    /// Whether our External Media channel was taken out for the swap (its end is ours).
    pub(crate) fn media_released(&self) -> bool {
        self.media_released
    }

    /// Whether the caller and the agent are bridged (the conversation is over).
    pub(crate) fn is_bridged(&self) -> bool {
        self.stage == Stage::Bridged
    }

    /// When our own ring timeout ends the attempt.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match self.stage {
            Stage::Ringing { deadline } => Some(deadline),
            _ => None,
        }
    }

    /// The ring timeout passed without an answer or an end from Asterisk.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Outcome {
        match self.stage {
            Stage::Ringing { deadline } if now >= deadline => self.fail(Failure::NoAnswer, true),
            _ => Outcome::Pending,
        }
    }

    /// The result of the step in flight; pending while there is none. Cancel-safe.
    pub(crate) async fn next(&mut self) -> Outcome {
        let Some(step) = self.step.as_mut() else {
            return std::future::pending().await;
        };
        let result = step.await;
        self.step = None;
        match result {
            StepResult::Checked(Ok(true)) => {
                let (ari, caller) = (self.ari.clone(), self.caller.clone());
                let Route::Dialplan {
                    context,
                    extension,
                    priority,
                } = self.target.route.clone()
                else {
                    return Outcome::Pending;
                };
                self.stage = Stage::Continuing;
                self.step = Some(Box::pin(async move {
                    let target = DialplanTarget {
                        context: Some(context),
                        extension: Some(extension),
                        priority: Some(priority),
                        label: None,
                    };
                    StepResult::Continued(ari.continue_in_dialplan(&caller, &target).await)
                }));
                Outcome::Pending
            }
            StepResult::Checked(Ok(false)) => self.fail(Failure::NoSuchExtension, false),
            StepResult::Checked(Err(e)) => {
                tracing::warn!(error = %e, "cannot check the transfer target");
                self.fail(Failure::Failed, false)
            }
            StepResult::Continued(Ok(())) => {
                let done = self.stage == Stage::Continuing;
                self.stage = Stage::Finished;
                if done {
                    Outcome::Continued
                } else {
                    Outcome::Pending
                }
            }
            StepResult::Continued(Err(e)) if e.is_not_found() => {
                self.stage = Stage::Finished;
                Outcome::CallerLeft
            }
            StepResult::Continued(Err(e)) => {
                if self.stage == Stage::Finished {
                    // The caller's StasisEnd came first: the continue did happen.
                    return Outcome::Pending;
                }
                tracing::warn!(error = %e, "continue into the dialplan failed");
                self.fail(Failure::Failed, false)
            }
            StepResult::Originated(Ok(())) => Outcome::Pending,
            StepResult::Originated(Err(e)) => {
                tracing::warn!(error = %e, "cannot originate the agent leg");
                self.fail(Failure::Failed, false)
            }
            StepResult::Swapped(Ok(())) => {
                self.stage = Stage::Bridged;
                Outcome::Bridged
            }
            StepResult::Swapped(Err(e)) => {
                // Our External Media is gone: the conversation cannot go on.
                tracing::warn!(error = %e, "cannot bridge the agent with the caller");
                self.stage = Stage::Finished;
                Outcome::SwapFailed
            }
            StepResult::Done => Outcome::Pending,
        }
    }

    /// An ARI event of the caller's channel or of the agent's leg.
    pub(crate) fn handle_event(&mut self, event: &AriEvent) -> Outcome {
        let caller = self.caller.as_str();
        let agent = self.agent.as_str();
        let is_agent = |id: &str| id == agent || id.strip_prefix(agent) == Some("-2");
        if matches!(event, AriEvent::ChannelDestroyed(e) if e.channel.id == agent) {
            self.leg_may_exist = false;
        }
        let caller_gone = match event {
            AriEvent::ChannelHangupRequest(e) => e.channel.id == caller && e.soft != Some(true),
            AriEvent::ChannelDestroyed(e) => e.channel.id == caller,
            AriEvent::StasisEnd(e) => e.channel.id == caller,
            _ => false,
        };
        if caller_gone {
            return match self.stage {
                Stage::Continuing if matches!(event, AriEvent::StasisEnd(_)) => {
                    // The caller left our application into the dialplan.
                    self.stage = Stage::Finished;
                    Outcome::Continued
                }
                Stage::Bridged => {
                    self.hang_up_agent();
                    Outcome::Over { caller_left: true }
                }
                Stage::Finished => Outcome::Pending,
                _ => {
                    self.hang_up_agent();
                    Outcome::CallerLeft
                }
            };
        }
        match (event, &self.stage) {
            (AriEvent::StasisStart(e), Stage::Ringing { .. }) if e.channel.id == agent => {
                self.stage = Stage::Swapping;
                self.swap();
                Outcome::Answered
            }
            (AriEvent::Dial(d), Stage::Ringing { .. }) if is_agent(&d.peer.id) => {
                match d.dialstatus.as_str() {
                    "BUSY" => self.fail(Failure::Busy, true),
                    "CONGESTION" | "CHANUNAVAIL" => self.fail(Failure::Congestion, true),
                    "NOANSWER" => self.fail(Failure::NoAnswer, true),
                    _ => Outcome::Pending,
                }
            }
            (AriEvent::ChannelDestroyed(e), Stage::Ringing { .. }) if is_agent(&e.channel.id) => {
                // No final Dial on a ring timeout: cause 19 (18: no user responding).
                let failure = match e.cause {
                    17 => Failure::Busy,
                    18 | 19 => Failure::NoAnswer,
                    34 | 38 | 42 => Failure::Congestion,
                    _ => Failure::Failed,
                };
                self.fail(failure, false)
            }
            (
                AriEvent::ChannelDestroyed(_)
                | AriEvent::StasisEnd(_)
                | AriEvent::ChannelHangupRequest(_),
                Stage::Bridged | Stage::Swapping,
            ) if event.channel_id().is_some_and(|id| id == agent) => {
                if matches!(event, AriEvent::ChannelHangupRequest(h) if h.soft == Some(true)) {
                    return Outcome::Pending;
                }
                self.stage = Stage::Finished;
                Outcome::Over { caller_left: false }
            }
            _ => Outcome::Pending,
        }
    }

    /// Fails the attempt: the agent leg is hung up when `drop_leg`, MOH comes off.
    fn fail(&mut self, failure: Failure, drop_leg: bool) -> Outcome {
        let was_endpoint = matches!(self.target.route, Route::Endpoint { .. });
        self.stage = Stage::Finished;
        let (ari, caller, agent) = (self.ari.clone(), self.caller.clone(), self.agent.clone());
        self.step = Some(Box::pin(async move {
            if drop_leg {
                hang_up(&ari, &agent).await;
            }
            if was_endpoint && let Err(e) = ari.stop_moh(&caller).await {
                tracing::debug!(error = %e, "music on hold was already off");
            }
            StepResult::Done
        }));
        Outcome::Failed(failure)
    }

    fn hang_up_agent(&mut self) {
        if matches!(self.target.route, Route::Dialplan { .. }) {
            return;
        }
        self.stage = Stage::Finished;
        let (ari, agent) = (self.ari.clone(), self.agent.clone());
        self.step = Some(Box::pin(async move {
            hang_up(&ari, &agent).await;
            StepResult::Done
        }));
    }

    /// FINDINGS 36: MOH off, External Media out of the bridge and deleted, the agent in.
    fn swap(&mut self) {
        let (ari, caller, agent, em) = (
            self.ari.clone(),
            self.caller.clone(),
            self.agent.clone(),
            self.media_channel.clone(),
        );
        let bridge = self.bridge.clone();
        self.media_released = bridge.is_some();
        self.step = Some(Box::pin(async move {
            let result = async {
                let Some(bridge) = bridge else {
                    return Err("the call has no bridge".to_string());
                };
                if let Err(e) = ari.stop_moh(&caller).await {
                    tracing::debug!(error = %e, "music on hold was already off");
                }
                match ari.remove_channel_from_bridge(&bridge, &em).await {
                    Ok(()) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => tracing::debug!(error = %e, "External Media was not in the bridge"),
                }
                hang_up(&ari, &em).await;
                ari.add_channels_to_bridge(&bridge, &[agent.as_str()])
                    .await
                    .map_err(|e| e.to_string())
            }
            .await;
            StepResult::Swapped(result)
        }));
    }
}

async fn hang_up(ari: &AriClient, channel: &str) {
    match ari.hangup(channel, HangupReason::Normal).await {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => tracing::warn!(channel, error = %e, "cannot hang up a transfer leg"),
    }
}
