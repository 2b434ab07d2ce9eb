//! Channel routes: External Media creation with Asterisk's validation (FINDINGS 22) and
//! its Dial/StasisStart sequence (FINDINGS 4), answer, hangup (FINDINGS 16-17), continue,
//! variables, play, DTMF and rtp_statistics.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::http::StatusCode;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::model::failure::{AriFailure, AriResult};
use crate::model::json as ari;
use crate::model::{Channel, ChannelKind, Dialplan, Party, SimState};
use crate::rtp::peer::{PeerCommand, PeerSetup, PeerTransport};
use crate::rtp::peer_core::PeerConfig;
use crate::spec::EndedBy;

use crate::timefmt::{ari_timestamp, fake_pointer};
use vca_media::g711::Law;

/// The hangup reasons ARI accepts (`reason=`).
const HANGUP_REASONS: &[&str] = &[
    "normal",
    "busy",
    "congestion",
    "no_answer",
    "timeout",
    "rejected",
    "unallocated",
    "normal_unspecified",
    "number_incomplete",
    "codec_mismatch",
    "interworking",
    "failure",
    "answered_elsewhere",
];

/// The parameters of `POST /channels/externalMedia`.
#[derive(Debug, Default)]
pub(crate) struct ExternalMediaParams {
    pub(crate) app: Option<String>,
    pub(crate) external_host: Option<String>,
    pub(crate) format: Option<String>,
    pub(crate) encapsulation: Option<String>,
    pub(crate) transport: Option<String>,
    pub(crate) connection_type: Option<String>,
    pub(crate) direction: Option<String>,
    pub(crate) data: Option<String>,
    pub(crate) channel_id: Option<String>,
    pub(crate) variables: BTreeMap<String, String>,
}

/// A peer to spawn once the state lock is released.
pub(crate) struct PeerLaunch {
    pub(crate) channel_id: String,
    pub(crate) created: std::time::Instant,
    pub(crate) setup: PeerSetup,
    pub(crate) commands: mpsc::UnboundedReceiver<PeerCommand>,
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// Validation in the order Asterisk applies it (errors.jsonl).
fn validate(p: &ExternalMediaParams) -> AriResult<(String, SocketAddr, Law)> {
    let app = non_empty(&p.app).ok_or_else(|| AriFailure::bad_request("app cannot be empty"))?;
    let transport = non_empty(&p.transport).unwrap_or("udp");
    let encapsulation = non_empty(&p.encapsulation).unwrap_or("rtp");
    let server = non_empty(&p.connection_type) == Some("server");
    let host = non_empty(&p.external_host);
    if host.is_none() && !(transport == "websocket" && server) {
        return Err(AriFailure::bad_request(
            "external_host is required for all but websocket server connections",
        ));
    }
    let format =
        non_empty(&p.format).ok_or_else(|| AriFailure::bad_request("format cannot be empty"))?;
    if server && transport != "websocket" {
        return Err(AriFailure::bad_request(
            "'server' connection_type can only be used with the websocket transport",
        ));
    }
    if non_empty(&p.direction).is_some_and(|d| d != "both") {
        return Err(AriFailure::bad_request("Invalid direction specified"));
    }
    let not_supported = || {
        AriFailure::new(
            StatusCode::NOT_IMPLEMENTED,
            "The encapsulation and/or transport is not supported",
        )
    };
    if transport == "websocket" {
        if encapsulation != "none" {
            return Err(AriFailure::bad_request(
                "encapsulation must be 'none' for websocket transport",
            ));
        }
        if !server {
            return Err(AriFailure::bad_request(
                "external_host must be a valid websocket_client connection id.",
            ));
        }
        return Err(not_supported());
    }
    match encapsulation {
        "rtp" => {
            if transport != "udp" {
                return Err(AriFailure::bad_request(
                    "transport must be 'udp' for rtp encapsulation",
                ));
            }
        }
        "audiosocket" => {
            if transport != "tcp" {
                return Err(AriFailure::bad_request(
                    "transport must be 'tcp' for audiosocket encapsulation",
                ));
            }
            if non_empty(&p.data).is_none() {
                return Err(AriFailure::bad_request("data can not be empty"));
            }
            return Err(not_supported());
        }
        _ => return Err(not_supported()),
    }
    let host = host.unwrap_or_default();
    let Some((h, port)) = host
        .rsplit_once(':')
        .filter(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
    else {
        return Err(AriFailure::bad_request(
            "external_host must be <host>:<port> for all transports other than websocket",
        ));
    };
    let port: u16 = port.parse().map_err(|_| AriFailure::internal())?;
    // The simulator resolves no names (no DNS) and only ever sends to loopback; anything
    // else fails as an unresolvable host does on Asterisk.
    let h = h.trim_matches(['[', ']']);
    let ip: IpAddr = if h == "localhost" {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        h.parse().map_err(|_| AriFailure::internal())?
    };
    if !ip.is_loopback() {
        return Err(AriFailure::internal());
    }
    let addr = SocketAddr::new(ip, port);
    // Formats the simulator's peer can carry; others (slin16…) are not simulated.
    let law = match format {
        "ulaw" => Law::Ulaw,
        "alaw" => Law::Alaw,
        _ => return Err(AriFailure::internal()),
    };
    Ok((app.to_owned(), addr, law))
}

/// Binds a UDP socket on a random even port of the range.
fn bind_rtp(ip: IpAddr, (lo, hi): (u16, u16)) -> Option<std::net::UdpSocket> {
    let (lo, hi) = (lo.min(hi), lo.max(hi));
    for _ in 0..128 {
        let port = rand::random_range(lo..=hi) & !1;
        if port < lo {
            continue;
        }
        if let Ok(s) = std::net::UdpSocket::bind(SocketAddr::new(ip, port)) {
            return Some(s);
        }
    }
    None
}

impl SimState {
    fn channel(&self, id: &str) -> AriResult<&Channel> {
        self.channels
            .get(id)
            .ok_or_else(AriFailure::channel_not_found)
    }

    fn require_stasis(&self, id: &str, status: StatusCode) -> AriResult<&Channel> {
        let c = self.channel(id)?;
        if c.stasis_app.is_none() {
            return Err(AriFailure::new(status, "Channel not in Stasis application"));
        }
        Ok(c)
    }

    /// `POST /channels/externalMedia` (RTP over UDP).
    pub(crate) fn external_media(
        &mut self,
        p: ExternalMediaParams,
    ) -> AriResult<(Value, PeerLaunch)> {
        let (app, external_host, law) = validate(&p)?;
        let id = match non_empty(&p.channel_id) {
            Some(id) if self.channels.contains_key(id) => return Err(AriFailure::internal()),
            Some(id) => id.to_owned(),
            None => self.next_unique_id(),
        };
        let (local, transport) = match &self.rtp_hub {
            Some(hub) => {
                let slot = hub.reserve().ok_or_else(AriFailure::internal)?;
                (SocketAddr::V4(slot.local), PeerTransport::Hub(slot))
            }
            None => {
                let std_socket = bind_rtp(self.config.rtp_ip, self.config.rtp_ports)
                    .ok_or_else(AriFailure::internal)?;
                std_socket
                    .set_nonblocking(true)
                    .map_err(|_| AriFailure::internal())?;
                let local = std_socket
                    .local_addr()
                    .map_err(|_| AriFailure::internal())?;
                let socket = tokio::net::UdpSocket::from_std(std_socket)
                    .map_err(|_| AriFailure::internal())?;
                (local, PeerTransport::Socket(socket))
            }
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let created = std::time::Instant::now();
        let host_text = p.external_host.clone().unwrap_or_default();
        let dialstring = format!("{host_text}/c({})", law.asterisk_format());
        let mut vars = p.variables.clone();
        let local_ip = match local.ip() {
            IpAddr::V4(v) if v.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            ip => ip,
        };
        vars.insert("UNICASTRTP_LOCAL_PORT".into(), local.port().to_string());
        vars.insert("UNICASTRTP_LOCAL_ADDRESS".into(), local_ip.to_string());
        let order = self.next_order();
        let channel = Channel {
            id: id.clone(),
            name: format!("UnicastRTP/{host_text}-{}", fake_pointer()),
            state: "Down",
            moh: None,
            caller: Party::default(),
            connected: Party::default(),
            dialplan: Dialplan::app_dial("default"),
            creationtime: ari_timestamp(),
            order,
            stasis_app: Some(app.clone()),
            bridge: None,
            vars,
            kind: ChannelKind::ExternalMedia {
                peer: tx,
                call_id: None,
                media_connected: false,
                created,
            },
        };
        let mut body = ari::channel(&channel);
        if let Value::Object(m) = &mut body {
            m.insert(
                "channelvars".into(),
                json!({
                    "UNICASTRTP_LOCAL_PORT": local.port().to_string(),
                    "UNICASTRTP_LOCAL_ADDRESS": local_ip.to_string(),
                }),
            );
        }
        self.channels.insert(id.clone(), channel);
        self.emit_dial(&id, "", &dialstring);
        if let Some(c) = self.channels.get_mut(&id) {
            c.state = "Up";
        }
        self.emit_channel("ChannelStateChange", &id, json!({}));
        self.emit_dial(&id, "ANSWER", &dialstring);
        if let Some(c) = self.channels.get_mut(&id) {
            c.dialplan = Dialplan {
                context: "default".into(),
                exten: "s".into(),
                priority: 1,
                app_name: "Stasis".into(),
                app_data: app,
            };
        }
        self.set_var_with_event(&id, "STASISSTATUS", "");
        self.emit_channel("StasisStart", &id, json!({ "args": [] }));
        let launch = PeerLaunch {
            channel_id: id,
            created,
            setup: PeerSetup {
                transport,
                config: PeerConfig {
                    external_host,
                    law,
                    learn: self.config.strict_learn,
                    probation: self.config.strict_probation,
                    start_delay: self.config.media_start_delay,
                    created,
                },
            },
            commands: rx,
        };
        Ok((body, launch))
    }

    fn emit_dial(&mut self, id: &str, status: &str, dialstring: &str) {
        if !self.subscribed(id) {
            return;
        }
        let Some(c) = self.channels.get(id) else {
            return;
        };
        let peer = ari::channel(c);
        self.emit(
            "Dial",
            json!({ "dialstatus": status, "forward": "", "dialstring": dialstring, "peer": peer }),
        );
    }

    /// `GET /channels/{id}`.
    pub(crate) fn get_channel(&self, id: &str) -> AriResult<Value> {
        Ok(ari::channel(self.channel(id)?))
    }

    /// `POST /channels/{id}/answer`.
    pub(crate) fn answer(&mut self, id: &str) -> AriResult<()> {
        let up = self.require_stasis(id, StatusCode::CONFLICT)?.state == "Up";
        if !up {
            if let Some(c) = self.channels.get_mut(id) {
                c.state = "Up";
            }
            self.emit_channel("ChannelStateChange", id, json!({}));
        }
        Ok(())
    }

    /// `DELETE /channels/{id}?reason=…|reason_code=…`.
    pub(crate) fn app_hangup(
        &mut self,
        id: &str,
        reason: Option<&str>,
        reason_code: Option<&str>,
    ) -> AriResult<()> {
        let c = self.channel(id)?;
        let in_stasis = c.stasis_app.is_some();
        let kind_call = match &c.kind {
            ChannelKind::Inbound { call_id } => Some((call_id.clone(), true)),
            ChannelKind::CallerLeg { call_id } => Some((call_id.clone(), false)),
            ChannelKind::ExternalMedia { .. } => None,
            ChannelKind::AgentLeg { agent_id } | ChannelKind::AgentPhone { agent_id } => {
                let agent_id = agent_id.clone();
                self.app_hangs_up_agent(&agent_id);
                self.refresh_hearing();
                return Ok(());
            }
        };
        let (reason, reason_code) = (
            reason.filter(|r| !r.is_empty()),
            reason_code.filter(|r| !r.is_empty()),
        );
        if reason.is_some() && reason_code.is_some() {
            return Err(AriFailure::bad_request(
                "The reason and reason_code can't both be specified",
            ));
        }
        let code = match reason_code {
            Some(rc) => Some(rc.trim().parse::<i32>().map_err(|_| {
                AriFailure::bad_request("Invalid reason for hangup reason code provided")
            })?),
            None => None,
        };
        if let Some(r) = reason
            && !HANGUP_REASONS.contains(&r)
        {
            return Err(AriFailure::bad_request(
                "Invalid reason for hangup reason provided",
            ));
        }
        match kind_call {
            Some((call_id, true)) if !in_stasis => {
                // A continued caller, hung up in the dialplan (not recorded: the events a
                // subscribed app gets are those of a dialplan hang-up).
                self.emit_channel(
                    "ChannelHangupRequest",
                    id,
                    json!({ "cause": 32, "soft": true }),
                );
                self.emit_channel(
                    "ChannelDestroyed",
                    id,
                    json!({ "cause": 16, "cause_txt": "Normal Clearing" }),
                );
                let by = EndedBy::App {
                    reason: reason.map(str::to_owned),
                    reason_code: code,
                };
                self.end_continued(&call_id, by);
            }
            Some((call_id, true)) => {
                self.emit_channel(
                    "ChannelHangupRequest",
                    id,
                    json!({ "cause": 32, "soft": true }),
                );
                self.leave_bridge(id);
                self.emit_channel("StasisEnd", id, json!({}));
                self.remove_call_channels(&call_id);
                let by = EndedBy::App {
                    reason: reason.map(str::to_owned),
                    reason_code: code,
                };
                self.end_call(&call_id, by, true);
            }
            Some((call_id, false)) => {
                // Hanging up the caller's own leg hangs up the call from the caller side.
                let _ = self.caller_hangup(&call_id);
                self.remove_call_channels(&call_id);
            }
            None => {
                self.emit_channel(
                    "ChannelHangupRequest",
                    id,
                    json!({ "cause": 32, "soft": true }),
                );
                self.external_media_leaves(id);
            }
        }
        self.refresh_hearing();
        Ok(())
    }

    /// An External Media channel leaves Stasis and is destroyed: BRIDGEPEER,
    /// `ChannelLeftBridge`, `StasisEnd`, `STASISSTATUS=SUCCESS`, `ChannelDestroyed{16}`.
    /// Dropping it ends its peer task.
    pub(crate) fn external_media_leaves(&mut self, id: &str) {
        let subscribed = self.subscribed(id);
        self.leave_bridge(id);
        self.emit_channel("StasisEnd", id, json!({}));
        if subscribed {
            self.set_var_with_event(id, "STASISSTATUS", "SUCCESS");
            if let Some(c) = self.channels.get_mut(id) {
                c.dialplan = Dialplan::app_dial("default");
            }
            self.emit_channel_always(
                "ChannelDestroyed",
                id,
                json!({ "cause": 16, "cause_txt": "Normal Clearing" }),
            );
        }
        self.destroy_channel(id);
    }

    /// `GET /channels/{id}/variable?variable=…` (FINDINGS 33-34): dialplan functions
    /// (`DIALPLAN_EXISTS`, `VALID_EXTEN`, `CALLERID`, `CHANNEL`), the built-in variables
    /// and the channel's own. Works on any channel, in Stasis or not.
    pub(crate) fn get_variable(&self, id: &str, name: Option<&str>) -> AriResult<Value> {
        let name = name
            .filter(|n| !n.is_empty())
            .ok_or_else(|| AriFailure::bad_request("Variable name is required"))?;
        let c = self
            .channels
            .get(id)
            .ok_or_else(|| AriFailure::not_found("Provided channel was not found"))?;
        let unreadable = || {
            AriFailure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Unable to read provided function",
            )
        };
        if let Some(open) = name.find('(') {
            let func = &name[..open];
            let args = name[open + 1..].strip_suffix(')').ok_or_else(unreadable)?;
            let value = match func {
                "DIALPLAN_EXISTS" | "VALID_EXTEN" => {
                    let mut a = args.split(',').map(str::trim);
                    let first = a.next().filter(|s| !s.is_empty()).ok_or_else(unreadable)?;
                    let (ctx, exten, prio) = if func == "VALID_EXTEN" {
                        // VALID_EXTEN([context,]extension[,priority])
                        let second = a.next();
                        match second {
                            Some(x) => (first, Some(x), a.next()),
                            None => (c.dialplan.context.as_str(), Some(first), None),
                        }
                    } else {
                        (first, a.next(), a.next())
                    };
                    let prio = prio
                        .filter(|p| !p.is_empty())
                        .map_or(Some(1), |p| p.parse::<i64>().ok())
                        .unwrap_or(0);
                    let ok = self
                        .dialplan
                        .exists(ctx, exten.filter(|x| !x.is_empty()), prio);
                    if ok { "1" } else { "0" }.to_owned()
                }
                "CALLERID" => match args {
                    "num" | "number" => c.caller.number.clone(),
                    "name" => c.caller.name.clone(),
                    "all" => format!("\"{}\" <{}>", c.caller.name, c.caller.number),
                    _ => return Err(unreadable()),
                },
                "CHANNEL" => match args {
                    "name" => c.name.clone(),
                    "state" => c.state.to_owned(),
                    "uniqueid" => c.id.clone(),
                    _ => return Err(unreadable()),
                },
                _ => return Err(unreadable()),
            };
            return Ok(json!({ "value": value }));
        }
        let value = match name {
            "CHANNEL" => Some(c.name.clone()),
            "UNIQUEID" => Some(c.id.clone()),
            "CONTEXT" => Some(c.dialplan.context.clone()),
            "EXTEN" => Some(c.dialplan.exten.clone()),
            "PRIORITY" => Some(c.dialplan.priority.to_string()),
            "HANGUPCAUSE" => Some(c.vars.get(name).cloned().unwrap_or_else(|| "0".into())),
            "STASISSTATUS" if c.stasis_app.is_some() => {
                Some(c.vars.get(name).cloned().unwrap_or_default())
            }
            _ => c.vars.get(name).cloned(),
        };
        value
            .map(|v| json!({ "value": v }))
            .ok_or_else(|| AriFailure::not_found("Provided variable was not found"))
    }

    /// `POST /channels/{id}/variable?variable=…&value=…`.
    pub(crate) fn set_variable(
        &mut self,
        id: &str,
        name: Option<&str>,
        value: Option<&str>,
    ) -> AriResult<()> {
        let name = name
            .filter(|n| !n.is_empty())
            .ok_or_else(|| AriFailure::bad_request("Variable name is required"))?;
        self.require_stasis(id, StatusCode::CONFLICT)?;
        self.set_var_with_event(id, name, value.unwrap_or(""));
        Ok(())
    }

    /// `POST /channels/{id}/play?media=…`: 201, then PlaybackStarted and PlaybackFinished.
    /// The simulator has no sound files, so every playback finishes as `failed`, exactly as
    /// Asterisk reports a missing sound.
    pub(crate) fn play(
        &mut self,
        id: &str,
        media: Option<&str>,
        playback_id: Option<&str>,
    ) -> AriResult<Value> {
        let media = media
            .filter(|m| !m.is_empty())
            .ok_or_else(|| AriFailure::bad_request("Missing parameter media"))?;
        self.require_stasis(id, StatusCode::CONFLICT)?;
        let pb_id = playback_id
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        self.emit(
            "PlaybackStarted",
            json!({ "playback": ari::playback(&pb_id, media, id, "playing") }),
        );
        self.emit(
            "PlaybackFinished",
            json!({ "playback": ari::playback(&pb_id, media, id, "failed") }),
        );
        Ok(ari::playback(&pb_id, media, id, "queued"))
    }

    /// `GET /channels/{id}/rtp_statistics`: 404 for UnicastRTP, 403 for Local channels.
    pub(crate) fn rtp_statistics(&self, id: &str) -> AriResult<Value> {
        match self.channel(id)?.kind {
            ChannelKind::ExternalMedia { .. } => Err(AriFailure::not_found("RTP info not found")),
            _ => Err(AriFailure::new(
                StatusCode::FORBIDDEN,
                "Unsupported channel type",
            )),
        }
    }
}
