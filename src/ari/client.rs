//! The ARI REST client: the calls the call layer makes on channels, bridges, External Media,
//! applications and playbacks, with basic auth, a timeout on every request, percent-encoded
//! paths and queries, and typed errors.
//!
//! The client is cheap to clone (it shares one connection pool) and never logs the password.
use std::fmt;

use bytes::Bytes;
use reqwest::Method;
use serde::de::DeserializeOwned;

use super::config::{AriConfig, AriPassword};
use super::error::{AriError, VARIABLE_NOT_FOUND};
use super::external_media::{ExternalMedia, ExternalMediaRequest};
use super::hangup::HangupReason;
use super::models::{Application, Bridge, Channel, Playback, Variable};
use super::originate::OriginateRequest;
use super::query::{encode_component, query_string};

/// Where to send a channel on `continue`; all `None` continues at the next priority.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DialplanTarget {
    /// Context to continue in.
    pub context: Option<String>,
    /// Extension to continue at.
    pub extension: Option<String>,
    /// Priority to continue at.
    pub priority: Option<i64>,
    /// Label to continue at (instead of a priority).
    pub label: Option<String>,
}

/// A handle on one Asterisk's ARI REST interface.
#[derive(Clone)]
pub struct AriClient {
    /// Shared HTTP connection pool, with the request and connect timeouts set.
    http: reqwest::Client,
    /// ARI root without trailing slash, e.g. `http://127.0.0.1:8088/ari`.
    base: String,
    /// ARI user.
    username: String,
    /// ARI password (redacted in `Debug`).
    password: AriPassword,
    /// Our Stasis application.
    app: String,
}

impl fmt::Debug for AriClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AriClient")
            .field("base", &self.base)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}

impl AriClient {
    /// Builds a client from settings.
    ///
    /// # Errors
    /// [`AriError::InvalidBaseUrl`] for a bad base URL, [`AriError::Transport`] if the HTTP
    /// client cannot be built (TLS backend failure).
    pub fn new(config: &AriConfig) -> Result<Self, AriError> {
        let base = config.checked_base_url()?;
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(AriError::Transport)?;
        Ok(Self {
            http,
            base: base.as_str().trim_end_matches('/').to_owned(),
            username: config.username.clone(),
            password: config.password.clone(),
            app: config.app.clone(),
        })
    }

    /// The Stasis application this client was configured for.
    #[must_use]
    pub fn app(&self) -> &str {
        &self.app
    }

    // ---- channels -------------------------------------------------------------------------

    /// `POST /channels/{id}/answer` (204; also 204 on an already-Up channel).
    ///
    /// # Errors
    /// `NotFound` for an unknown channel, `Conflict` if it is not in Stasis, or transport errors.
    pub async fn answer(&self, channel_id: &str) -> Result<(), AriError> {
        let path = format!("/channels/{}/answer", encode_component(channel_id));
        self.call(Method::POST, &path, &[], None).await.map(drop)
    }

    /// `DELETE /channels/{id}?reason=...`: hang up with an ARI hangup reason.
    ///
    /// # Errors
    /// `NotFound` if the channel is already gone, or transport errors.
    pub async fn hangup(&self, channel_id: &str, reason: HangupReason) -> Result<(), AriError> {
        let path = format!("/channels/{}", encode_component(channel_id));
        self.call(
            Method::DELETE,
            &path,
            &[("reason", reason.as_ari_str())],
            None,
        )
        .await
        .map(drop)
    }

    /// `POST /channels/{id}/continue`: leave Stasis and continue in the dialplan.
    ///
    /// # Errors
    /// `NotFound`, `Conflict` (not in Stasis), or transport errors.
    pub async fn continue_in_dialplan(
        &self,
        channel_id: &str,
        target: &DialplanTarget,
    ) -> Result<(), AriError> {
        let path = format!("/channels/{}/continue", encode_component(channel_id));
        let priority = target.priority.map(|p| p.to_string());
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(context) = &target.context {
            query.push(("context", context));
        }
        if let Some(extension) = &target.extension {
            query.push(("extension", extension));
        }
        if let Some(priority) = &priority {
            query.push(("priority", priority));
        }
        if let Some(label) = &target.label {
            query.push(("label", label));
        }
        self.call(Method::POST, &path, &query, None).await.map(drop)
    }

    /// `GET /channels/{id}`.
    ///
    /// # Errors
    /// `NotFound`, `Decode`, or transport errors.
    pub async fn channel(&self, channel_id: &str) -> Result<Channel, AriError> {
        let path = format!("/channels/{}", encode_component(channel_id));
        self.call_json(Method::GET, &path, &[], None).await
    }

    /// `GET /channels/{id}/variable?variable=NAME`: the variable's value, `None` when the
    /// channel has no such variable (404 `Provided variable was not found`). Works on any
    /// channel, in Stasis or not (FINDINGS.md 34). `NAME` may be a dialplan function call such
    /// as `CHANNEL(state)`; `(`, `,`, `)` and `+` are percent-encoded.
    ///
    /// # Errors
    /// `NotFound` (`Provided channel was not found`) once the channel is gone, `BadRequest`
    /// for an empty name, `ServerError` (`Unable to read provided function`) for an unknown
    /// function, `Decode`, or transport errors.
    pub async fn get_variable(
        &self,
        channel_id: &str,
        name: &str,
    ) -> Result<Option<String>, AriError> {
        let path = format!("/channels/{}/variable", encode_component(channel_id));
        match self
            .call_json::<Variable>(Method::GET, &path, &[("variable", name)], None)
            .await
        {
            Ok(variable) => Ok(Some(variable.value)),
            Err(AriError::NotFound { message }) if message == VARIABLE_NOT_FOUND => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Whether `context,extension,priority` exists in the dialplan, read as
    /// `DIALPLAN_EXISTS(context,extension,priority)` through [`Self::get_variable`] on
    /// `channel_id` (any live channel answers the same; FINDINGS.md 33). `continue` to a
    /// missing target answers 204 and Asterisk hangs the caller up (FINDINGS.md 31), so check
    /// first. Extension patterns match (`_X.`), as they do for a real call.
    ///
    /// # Errors
    /// `InvalidArgument` (nothing sent) for an empty context or extension, one containing
    /// `,`, `(`, `)`, `"` or a control character, or a priority below 1; `NotFound` when the
    /// channel is gone; `UnexpectedValue` for an answer other than `"0"`/`"1"`; or transport.
    pub async fn dialplan_exists(
        &self,
        channel_id: &str,
        context: &str,
        extension: &str,
        priority: i64,
    ) -> Result<bool, AriError> {
        let function = dialplan_exists_function(context, extension, priority)?;
        match self.get_variable(channel_id, &function).await? {
            Some(value) if value == "1" => Ok(true),
            Some(value) if value == "0" => Ok(false),
            value => Err(AriError::UnexpectedValue {
                name: "DIALPLAN_EXISTS",
                value,
            }),
        }
    }

    /// `GET /channels`: every channel Asterisk has (used to reconcile after a reconnect).
    ///
    /// # Errors
    /// `Decode` or transport errors.
    pub async fn channels(&self) -> Result<Vec<Channel>, AriError> {
        self.call_json(Method::GET, "/channels", &[], None).await
    }

    /// `POST /channels/{id}/play?media=...`: start a playback (201 even for missing sounds;
    /// the failure shows up as `PlaybackFinished{state: failed}`).
    ///
    /// # Errors
    /// `NotFound`, `Conflict` (not in Stasis), or transport errors.
    pub async fn play(
        &self,
        channel_id: &str,
        media: &str,
        playback_id: Option<&str>,
    ) -> Result<Playback, AriError> {
        let path = format!("/channels/{}/play", encode_component(channel_id));
        let mut query = vec![("media", media)];
        if let Some(id) = playback_id {
            query.push(("playbackId", id));
        }
        self.call_json(Method::POST, &path, &query, None).await
    }

    /// `POST /channels/{id}/moh[?mohClass=...]`: music on hold on the channel (204; no event
    /// is sent). An unknown class also answers 204 and plays `default`; without a class the
    /// default class plays (FINDINGS.md 40). While it plays, frames from the bridge to the
    /// channel are dropped: the caller does not hear our External Media audio (FINDINGS.md 38).
    ///
    /// # Errors
    /// `NotFound`, `Conflict` (`Channel not in Stasis application`), or transport errors.
    pub async fn start_moh(&self, channel_id: &str, class: Option<&str>) -> Result<(), AriError> {
        let path = format!("/channels/{}/moh", encode_component(channel_id));
        let query: Vec<(&str, &str)> = class.map(|c| ("mohClass", c)).into_iter().collect();
        self.call(Method::POST, &path, &query, None).await.map(drop)
    }

    /// `DELETE /channels/{id}/moh` (204, also when nothing plays; FINDINGS.md 40).
    ///
    /// # Errors
    /// `NotFound`, `Conflict` (not in Stasis), or transport errors.
    pub async fn stop_moh(&self, channel_id: &str) -> Result<(), AriError> {
        let path = format!("/channels/{}/moh", encode_component(channel_id));
        self.call(Method::DELETE, &path, &[], None).await.map(drop)
    }

    /// `POST /channels?endpoint=...&app=...`: originates a leg into a Stasis application and
    /// returns the new channel (`;1`, state `Down`) of the 200 response. The answer says
    /// nothing about the far end: it enters `app` with a `StasisStart` when answered; busy, no
    /// answer (after `timeout_seconds`) and congestion show only as `Dial` events and a
    /// `ChannelDestroyed` (FINDINGS.md 35, 39).
    ///
    /// # Errors
    /// `InvalidArgument` (nothing sent) for an empty endpoint or app or an `app_args` item
    /// containing a comma; `BadRequest` (`Endpoint must be specified`, `Invalid endpoint
    /// specified`), `Conflict` (`Channel with given unique ID already exists`), `ServerError`
    /// (`Allocation failed` for an unknown technology), `Decode`, or transport errors.
    pub async fn originate(&self, request: &OriginateRequest) -> Result<Channel, AriError> {
        if request.endpoint.is_empty() {
            return Err(AriError::InvalidArgument {
                name: "endpoint",
                reason: "is empty",
            });
        }
        if request.app.is_empty() {
            return Err(AriError::InvalidArgument {
                name: "app",
                reason: "is empty",
            });
        }
        if request.app_args.iter().any(|a| a.contains(',')) {
            return Err(AriError::InvalidArgument {
                name: "app_args",
                reason: "an argument contains a comma",
            });
        }
        let app_args = request.app_args_value();
        let timeout = request.timeout_seconds.map(|t| t.to_string());
        let mut query: Vec<(&str, &str)> =
            vec![("endpoint", &request.endpoint), ("app", &request.app)];
        if let Some(args) = &app_args {
            query.push(("appArgs", args));
        }
        if let Some(timeout) = &timeout {
            query.push(("timeout", timeout));
        }
        if let Some(caller_id) = &request.caller_id {
            query.push(("callerId", caller_id));
        }
        if let Some(id) = &request.channel_id {
            query.push(("channelId", id));
        }
        if let Some(id) = &request.other_channel_id {
            query.push(("otherChannelId", id));
        }
        self.call_json(Method::POST, "/channels", &query, None)
            .await
    }

    /// `POST /channels/externalMedia` with `encapsulation=rtp`, `transport=udp`,
    /// `direction=both`: returns the channel and the RTP address parsed from its
    /// `UNICASTRTP_LOCAL_ADDRESS`/`UNICASTRTP_LOCAL_PORT`.
    ///
    /// # Errors
    /// `BadRequest`/`ServerError`/`NotImplemented` as Asterisk reports them (a duplicate
    /// `channelId` is a 500), `MissingChannelVar`/`MalformedChannelVar`, or transport errors.
    pub async fn create_external_media(
        &self,
        request: &ExternalMediaRequest,
    ) -> Result<ExternalMedia, AriError> {
        let external_host = request.external_host.to_string();
        let mut query: Vec<(&str, &str)> = vec![
            ("app", &request.app),
            ("external_host", &external_host),
            ("format", &request.format),
            ("encapsulation", "rtp"),
            ("transport", "udp"),
            ("direction", "both"),
        ];
        if let Some(id) = &request.channel_id {
            query.push(("channelId", id));
        }
        let body = if request.variables.is_empty() {
            None
        } else {
            Some(serde_json::json!({ "variables": request.variables }))
        };
        let channel: Channel = self
            .call_json(
                Method::POST,
                "/channels/externalMedia",
                &query,
                body.as_ref(),
            )
            .await?;
        ExternalMedia::from_channel(channel)
    }

    // ---- bridges --------------------------------------------------------------------------

    /// `POST /bridges?type=mixing[&name=...][&bridgeId=...]` (an empty `name` is not sent).
    ///
    /// # Errors
    /// `Conflict` if `bridge_id` exists, `ServerError`, or transport errors.
    pub async fn create_bridge(
        &self,
        name: &str,
        bridge_id: Option<&str>,
    ) -> Result<Bridge, AriError> {
        let mut query = vec![("type", "mixing")];
        if !name.is_empty() {
            query.push(("name", name));
        }
        if let Some(id) = bridge_id {
            query.push(("bridgeId", id));
        }
        self.call_json(Method::POST, "/bridges", &query, None).await
    }

    /// `POST /bridges/{id}/addChannel?channel=a,b`.
    ///
    /// # Errors
    /// `NotFound` (bridge), `BadRequest` (unknown channel), `Unprocessable` (not in Stasis).
    pub async fn add_channels_to_bridge(
        &self,
        bridge_id: &str,
        channel_ids: &[&str],
    ) -> Result<(), AriError> {
        let path = format!("/bridges/{}/addChannel", encode_component(bridge_id));
        let channels = channel_ids.join(",");
        self.call(Method::POST, &path, &[("channel", &channels)], None)
            .await
            .map(drop)
    }

    /// `POST /bridges/{id}/removeChannel?channel=...` (204 after `ChannelLeftBridge`). Used to
    /// take External Media out before the agent joins (FINDINGS.md 36); `continue` removes
    /// the caller by itself (FINDINGS.md 26).
    ///
    /// # Errors
    /// `NotFound`, `Unprocessable` (`Channel not in this bridge`), or transport errors.
    pub async fn remove_channel_from_bridge(
        &self,
        bridge_id: &str,
        channel_id: &str,
    ) -> Result<(), AriError> {
        let path = format!("/bridges/{}/removeChannel", encode_component(bridge_id));
        self.call(Method::POST, &path, &[("channel", channel_id)], None)
            .await
            .map(drop)
    }

    /// `GET /bridges/{id}`.
    ///
    /// # Errors
    /// `NotFound`, `Decode`, or transport errors.
    pub async fn bridge(&self, bridge_id: &str) -> Result<Bridge, AriError> {
        let path = format!("/bridges/{}", encode_component(bridge_id));
        self.call_json(Method::GET, &path, &[], None).await
    }

    /// `GET /bridges`.
    ///
    /// # Errors
    /// `Decode` or transport errors.
    pub async fn bridges(&self) -> Result<Vec<Bridge>, AriError> {
        self.call_json(Method::GET, "/bridges", &[], None).await
    }

    /// `DELETE /bridges/{id}`.
    ///
    /// # Errors
    /// `NotFound` if already destroyed, or transport errors.
    pub async fn destroy_bridge(&self, bridge_id: &str) -> Result<(), AriError> {
        let path = format!("/bridges/{}", encode_component(bridge_id));
        self.call(Method::DELETE, &path, &[], None).await.map(drop)
    }

    // ---- applications ---------------------------------------------------------------------

    /// `GET /applications/{name}`: the channels and bridges Asterisk holds for an app.
    ///
    /// # Errors
    /// `NotFound` when the app does not exist (never connected, or cleanly gone).
    pub async fn application(&self, name: &str) -> Result<Application, AriError> {
        let path = format!("/applications/{}", encode_component(name));
        self.call_json(Method::GET, &path, &[], None).await
    }

    // ---- plumbing -------------------------------------------------------------------------

    /// Sends a request and decodes a JSON success body.
    async fn call_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<T, AriError> {
        let bytes = self.call(method, path, query, body).await?;
        serde_json::from_slice(&bytes).map_err(AriError::Decode)
    }

    /// Sends one request with auth and timeout; returns the body of a 2xx response, or the
    /// typed error for any other status.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<Bytes, AriError> {
        let url = format!("{}{}{}", self.base, path, query_string(query));
        let mut request = self
            .http
            .request(method.clone(), url)
            .basic_auth(&self.username, Some(self.password.expose()));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(transport_error)?;
        tracing::debug!(%method, path, status = status.as_u16(), "ARI request");
        if status.is_success() {
            Ok(bytes)
        } else {
            Err(AriError::from_status(status.as_u16(), &bytes))
        }
    }
}

/// Sorts reqwest's errors into timeouts and other transport failures.
fn transport_error(err: reqwest::Error) -> AriError {
    if err.is_timeout() {
        AriError::Timeout
    } else {
        AriError::Transport(err)
    }
}

/// `DIALPLAN_EXISTS(context,extension,priority)`, refusing arguments that would change the
/// function's meaning: a `,` splits an argument, `(`/`)` end the call early, `"` quotes, and
/// control characters have no place in a dialplan name.
fn dialplan_exists_function(
    context: &str,
    extension: &str,
    priority: i64,
) -> Result<String, AriError> {
    for (name, value) in [("context", context), ("extension", extension)] {
        if value.is_empty() {
            return Err(AriError::InvalidArgument {
                name,
                reason: "is empty",
            });
        }
        if value
            .chars()
            .any(|c| matches!(c, ',' | '(' | ')' | '"') || c.is_control())
        {
            return Err(AriError::InvalidArgument {
                name,
                reason: "contains one of , ( ) \" or a control character",
            });
        }
    }
    if priority < 1 {
        return Err(AriError::InvalidArgument {
            name: "priority",
            reason: "is below 1",
        });
    }
    Ok(format!("DIALPLAN_EXISTS({context},{extension},{priority})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialplan_exists_function_as_recorded() {
        assert_eq!(
            dialplan_exists_function("humans", "100", 1).unwrap(),
            "DIALPLAN_EXISTS(humans,100,1)"
        );
        assert_eq!(
            dialplan_exists_function("from-tata-trunk", "+15559876543", 1).unwrap(),
            "DIALPLAN_EXISTS(from-tata-trunk,+15559876543,1)"
        );
    }

    #[test]
    fn dialplan_exists_refuses_injection() {
        for (context, extension, priority) in [
            ("humans,x", "100", 1),
            ("humans", "100)", 1),
            ("humans", "", 1),
            ("", "100", 1),
            ("humans", "1\n00", 1),
            ("humans", "100", 0),
        ] {
            let err = dialplan_exists_function(context, extension, priority).unwrap_err();
            assert!(matches!(err, AriError::InvalidArgument { .. }), "{err:?}");
        }
    }
}
