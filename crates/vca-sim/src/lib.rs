//! `vca-sim`: an Asterisk 22 simulator for tests, the demo and load tests.
//!
//! It speaks ARI REST + the events WebSocket on one loopback port with the paths, bodies,
//! status codes and event orderings of the recordings in `shared/asterisk/`, and runs one
//! UnicastRTP-like peer per External Media channel. Nothing here uses the daemon's ARI types:
//! every JSON body is built from the recordings, so the simulator checks the client
//! independently.
//!
//! A tour, top to bottom:
//! - [`Simulator`] / [`SimHandle`] (`handle.rs`): start it, place calls, drive the caller side,
//!   drop the WebSocket, restart, inspect state and the REST request log.
//! - `spec.rs`: what a call does ([`CallSpec`]) and how it ended ([`CallOutcome`]).
//! - `model/`: the telephony state (channels, bridges, calls, agent legs, the app and its
//!   WebSockets, the dialplan) and the exact event sequences each operation produces. One
//!   mutex, never held across an await; what happens later (an agent answering, a prompt
//!   ending, a key press) is a timer the model queues and `core.rs` fires.
//! - transfers: `continue` into the simulated `humans` dialplan, agent legs originated
//!   into the app with `agent-sim` behaviours ([`AgentBehaviour`], configurable per
//!   endpoint), music on hold, and what each party heard ([`Heard`]).
//! - `ari/`: the axum routes under `/ari` (REST, auth, errors, the events WebSocket).
//! - `rtp/`: the per-channel RTP peer: strict-RTP source learning, paced G.711 sending,
//!   recording of what it receives.
//! - `control.rs`: the JSON control API under `/sim` used by the `vca-sim` binary.
//! - `listener.rs`: a TCP listener that can refuse connections for a while (restart).
//! - [`engines`]: fake STT, LLM and TTS providers (OpenAI-compatible, ElevenLabs, Deepgram)
//!   for load runs and the daemon's tests.
//! - [`load`]: `vca-sim load`, concurrent calls with latency, jitter, CPU and RSS figures.
//! - [`speech`]: espeak-ng test speech, the phone band to STT, and word error rates.

//! # Scripting a transfer call
//!
//! Agent endpoints behave as the `agent-sim` extensions of extensions.conf
//! (`Local/100@agent-sim` answers and talks, `Local/busy@agent-sim`, `noanswer`,
//! `congestion`, `ring3`, `short`); any other endpoint the app may originate is mapped in
//! [`SimConfig::agents`] or with [`SimHandle::set_agent`] (`vca-sim serve --agent
//! PJSIP/1001=busy`, `POST /sim/agents`). The caller presses keys at given times and hangs
//! up on a [`Trigger`]; afterwards the call tells where `continue` sent it, which agent it
//! reached and what it heard.
//!
//! ```no_run
//! # async fn demo() -> Result<(), vca_sim::SimError> {
//! use std::time::Duration;
//! use vca_sim::{AgentBehaviour, CallSpec, HangupWhen, HeardKind, SimConfig, Simulator, Trigger};
//!
//! let mut config = SimConfig::default();
//! config.agents.insert("PJSIP/1001".into(), AgentBehaviour::Busy);
//! config.agents.insert(
//!     "PJSIP/1002".into(),
//!     AgentBehaviour::Answer { ring: Duration::from_secs(2), speech: None, after_speech: None },
//! );
//! let sim = Simulator::start(config).await?;
//! // … start the daemon against sim.ari_url() / sim.events_url() …
//! let mut call = sim.place_call(
//!     CallSpec::new("+15559876543", "+15551234567")
//!         .keys(Duration::from_secs(3), "0", 100)
//!         .hangup(HangupWhen::On(Trigger::BridgedWithAgent, Duration::from_secs(5))),
//! );
//! call.ended().await;
//! let heard = call.heard().await.unwrap_or_default();
//! assert!(heard.ms(HeardKind::Moh) > 0 && heard.ms(HeardKind::Agent) > 0);
//! let agent = call.agent_reached();
//! let views = sim.agents(); // every agent leg, how it ended
//! # let _ = (agent, views);
//! # Ok(())
//! # }
//! ```

mod ari;
mod config;
mod control;
mod core;
pub mod engines;
mod error;
mod handle;
mod listener;
pub mod load;
mod model;
mod ops;
mod rtp;
mod spec;
pub mod speech;
mod timefmt;
mod wav;

pub use config::SimConfig;
pub use control::{CallRequest, CallView, HeardView, KeysRequest};
pub use error::SimError;
pub use handle::{SimCall, SimHandle, Simulator};
pub use model::agents::{AgentEnd, AgentView};
pub use model::dialplan::DialplanConfig;
pub use model::hearing::{Heard, HeardKind, HeardSegment, moh_ms_in, moh_sample};
pub use model::request_log::RestRequest;
pub use rtp::flood::RtpFlood;
pub use rtp::recording::{ReceivedPacket, RtpRecording, RtpStats};
pub use spec::{
    AgentBehaviour, ArgsMode, AudioPart, CallOutcome, CallSpec, CallStatus, EndedBy, HangupWhen,
    KeyPress, Milestones, RestartSpec, Trigger,
};
pub use wav::{read_wav_8k_mono, write_wav_8k_mono};
