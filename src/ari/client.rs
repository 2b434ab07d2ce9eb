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
use super::error::AriError;
use super::external_media::{ExternalMedia, ExternalMediaRequest};
use super::hangup::HangupReason;
use super::models::{Application, Bridge, Channel, Playback, Variable};
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

    /// `GET /channels/{id}/variable?variable=NAME`: the variable's value.
    ///
    /// # Errors
    /// `NotFound` (channel, or `Provided variable was not found`), `BadRequest`, or transport.
    pub async fn channel_variable(&self, channel_id: &str, name: &str) -> Result<String, AriError> {
        let path = format!("/channels/{}/variable", encode_component(channel_id));
        let variable: Variable = self
            .call_json(Method::GET, &path, &[("variable", name)], None)
            .await?;
        Ok(variable.value)
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

    /// `POST /bridges/{id}/removeChannel?channel=...`.
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
