//! The URL of the ARI event WebSocket, `ws(s)://host:port/ari/events?app=...&api_key=user:pass`,
//! built from [`AriConfig`] with every query value percent-encoded. It carries the password, so
//! its `Debug` shows only the host and app.
use std::fmt;

use super::config::AriConfig;
use super::error::AriError;
use super::query::query_string;

/// Where the supervisor connects, credentials included.
#[derive(Clone)]
pub struct EventsEndpoint {
    /// Full URL with `api_key`; never logged.
    url: String,
    /// `host:port` for logs.
    authority: String,
    /// Application name for logs.
    app: String,
}

impl EventsEndpoint {
    /// Derives the WebSocket URL from the REST base URL: `http` → `ws`, `https` → `wss`, path
    /// + `/events`.
    ///
    /// # Errors
    /// [`AriError::InvalidBaseUrl`] if the base URL is unusable.
    pub fn from_config(config: &AriConfig) -> Result<Self, AriError> {
        let base = config.checked_base_url()?;
        let scheme = if base.scheme() == "https" {
            "wss"
        } else {
            "ws"
        };
        let host = base
            .host_str()
            .ok_or_else(|| AriError::InvalidBaseUrl("no host".to_owned()))?;
        let authority = match base.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let path = base.path().trim_end_matches('/');
        let api_key = format!("{}:{}", config.username, config.password.expose());
        let query = query_string(&[("app", &config.app), ("api_key", &api_key)]);
        Ok(Self {
            url: format!("{scheme}://{authority}{path}/events{query}"),
            authority,
            app: config.app.clone(),
        })
    }

    /// The full URL including credentials: for the connector only, never for logs.
    #[must_use]
    pub fn url_with_credentials(&self) -> &str {
        &self.url
    }

    /// `host:port`, safe to log.
    #[must_use]
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The application name.
    #[must_use]
    pub fn app(&self) -> &str {
        &self.app
    }
}

impl fmt::Debug for EventsEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventsEndpoint")
            .field("authority", &self.authority)
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ari::config::AriPassword;

    #[test]
    fn builds_encoded_url_and_hides_it() {
        let cfg = AriConfig::new(
            "http://127.0.0.1:8088/ari/",
            "vca",
            AriPassword::new("s3cret+&="),
            "vca-bridge",
        );
        let endpoint = EventsEndpoint::from_config(&cfg).unwrap();
        assert_eq!(
            endpoint.url_with_credentials(),
            "ws://127.0.0.1:8088/ari/events?app=vca-bridge&api_key=vca%3As3cret%2B%26%3D"
        );
        let shown = format!("{endpoint:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn https_becomes_wss() {
        let cfg = AriConfig::new(
            "https://pbx.example:8089/ari",
            "u",
            AriPassword::new("p"),
            "a",
        );
        let endpoint = EventsEndpoint::from_config(&cfg).unwrap();
        assert!(
            endpoint
                .url_with_credentials()
                .starts_with("wss://pbx.example:8089/ari/events?")
        );
    }
}
