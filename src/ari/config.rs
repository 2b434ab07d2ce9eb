//! Connection settings of the ARI client: base URL, credentials, application name and request
//! timeouts. The password is wrapped so it never appears in `Debug` output or logs.
use std::time::Duration;

use super::error::AriError;

/// The ARI password: the daemon's [`Secret`], which prints as `[redacted]`.
pub type AriPassword = crate::secret::Secret;

/// Default time allowed for one REST request, connect to last body byte.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time allowed to open the TCP connection of a REST request.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Where ARI is and who we are to it.
#[derive(Debug, Clone)]
pub struct AriConfig {
    /// ARI root, e.g. `http://127.0.0.1:8088/ari` (`https://` also works). No trailing slash
    /// needed.
    pub base_url: String,
    /// ARI user (ari.conf).
    pub username: String,
    /// ARI password (ari.conf).
    pub password: AriPassword,
    /// Stasis application name, e.g. `vca-bridge`.
    pub app: String,
    /// Time allowed for one REST request, connect to last body byte.
    pub request_timeout: Duration,
    /// Time allowed to open the TCP connection of a REST request.
    pub connect_timeout: Duration,
}

impl AriConfig {
    /// Settings with the default timeouts.
    #[must_use]
    pub fn new(
        base_url: impl Into<String>,
        username: impl Into<String>,
        password: AriPassword,
        app: impl Into<String>,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            username: username.into(),
            password,
            app: app.into(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// The base URL, checked to be `http(s)://host[:port]/path`, without a trailing slash.
    ///
    /// # Errors
    /// [`AriError::InvalidBaseUrl`] if it does not parse, has another scheme, or carries a query.
    pub fn checked_base_url(&self) -> Result<url::Url, AriError> {
        let parsed = url::Url::parse(self.base_url.trim_end_matches('/'))
            .map_err(|err| AriError::InvalidBaseUrl(err.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(AriError::InvalidBaseUrl(format!(
                "scheme must be http or https, not {}",
                parsed.scheme()
            )));
        }
        if parsed.host().is_none() || parsed.query().is_some() || !parsed.username().is_empty() {
            return Err(AriError::InvalidBaseUrl(
                "expected http(s)://host:port/path without credentials or query".to_owned(),
            ));
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_password() {
        let cfg = AriConfig::new(
            "http://127.0.0.1:8088/ari",
            "vca",
            AriPassword::new("vca-secret"),
            "vca-bridge",
        );
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("vca-secret"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn base_url_is_checked() {
        let mut cfg = AriConfig::new("ftp://x/ari", "u", AriPassword::new("p"), "a");
        assert!(cfg.checked_base_url().is_err());
        cfg.base_url = "http://127.0.0.1:8088/ari/".to_owned();
        assert_eq!(
            cfg.checked_base_url().unwrap().as_str(),
            "http://127.0.0.1:8088/ari"
        );
    }
}
