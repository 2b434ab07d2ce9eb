//! What Sarvam's speech APIs share: the base URL (`https://api.sarvam.ai`, its WebSocket
//! form `wss://…`), the `api-subscription-key` header on every request and upgrade, the
//! WebSocket connect, and how its error messages and close codes become [`EngineError`]s.

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, protocol::CloseFrame};

use super::error::EngineError;
use super::http;
use crate::secret::Secret;

/// Where requests go unless `VCA_STT_BASE_URL` / `VCA_TTS_BASE_URL` say otherwise.
pub const DEFAULT_BASE_URL: &str = "https://api.sarvam.ai";
/// The header carrying the key.
pub const KEY_HEADER: &str = "api-subscription-key";

/// A Sarvam WebSocket.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The key as a header value (marked sensitive).
pub fn key_value(
    provider: &'static str,
    key: &Secret,
) -> Result<reqwest::header::HeaderValue, EngineError> {
    let mut value = reqwest::header::HeaderValue::from_str(key.expose()).map_err(|_| {
        EngineError::InvalidRequest {
            provider,
            detail: "the API key holds characters a header cannot carry".into(),
        }
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// `{base}/{path…}` with the scheme `http(s)` or, for a WebSocket, `ws(s)`.
pub fn endpoint(
    provider: &'static str,
    base_url: &str,
    path: &[&str],
    websocket: bool,
) -> Result<url::Url, EngineError> {
    let bad = || EngineError::InvalidRequest {
        provider,
        detail: "the base URL is not an http(s) or ws(s) URL".into(),
    };
    let mut url = url::Url::parse(base_url.trim_end_matches('/')).map_err(|_| bad())?;
    let secure = match url.scheme() {
        "https" | "wss" => true,
        "http" | "ws" => false,
        _ => return Err(bad()),
    };
    let scheme = match (websocket, secure) {
        (true, true) => "wss",
        (true, false) => "ws",
        (false, true) => "https",
        (false, false) => "http",
    };
    url.set_scheme(scheme).map_err(|()| bad())?;
    url.path_segments_mut()
        .map_err(|_| bad())?
        .pop_if_empty()
        .extend(path);
    Ok(url)
}

/// Opens a WebSocket to `url` with the key header; a refused upgrade becomes the error of
/// its status (401/403 → [`EngineError::Auth`]).
pub async fn connect(
    provider: &'static str,
    url: &url::Url,
    key: &reqwest::header::HeaderValue,
) -> Result<Ws, EngineError> {
    let mut request =
        url.as_str()
            .into_client_request()
            .map_err(|_| EngineError::InvalidRequest {
                provider,
                detail: "cannot build the WebSocket request".into(),
            })?;
    request.headers_mut().insert(KEY_HEADER, key.clone());
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(response)) => Err(http::status_error(
            provider,
            response.status().as_u16(),
            response.headers(),
        )),
        Err(tungstenite::Error::Io(_) | tungstenite::Error::Tls(_)) => {
            Err(EngineError::Unavailable {
                provider,
                reason: "connection failed".into(),
            })
        }
        Err(_) => Err(EngineError::Protocol {
            provider,
            detail: "WebSocket handshake failed".into(),
        }),
    }
}

/// The error an `{"type": "error"}` message stands for, by its code (Sarvam's message
/// text is not kept: it may echo the request). Key and quota codes are
/// [`EngineError::Auth`] / HTTP 429; everything else is a protocol error naming the code.
pub fn error_message(provider: &'static str, code: Option<&str>) -> EngineError {
    let code = code.unwrap_or("").trim();
    let lower = code.to_ascii_lowercase();
    if lower.contains("auth") || lower.contains("key") || code == "401" || code == "403" {
        return EngineError::Auth {
            provider,
            status: code.parse().unwrap_or(401),
        };
    }
    if lower.contains("rate") || lower.contains("quota") || code == "429" {
        return EngineError::Http {
            provider,
            status: 429,
            retry_after: None,
        };
    }
    let shown: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(64)
        .collect();
    EngineError::Protocol {
        provider,
        detail: if shown.is_empty() {
            "the provider sent an error".into()
        } else {
            format!("the provider sent error {shown}")
        },
    }
}

/// The error a close frame stands for: a normal close is [`EngineError::Cancelled`];
/// 1003 (key or quota) auth; 1008 (idle too long) and 1011 (server error) unavailable;
/// 4000 (rejected parameters) an invalid request; others a protocol error with the code.
pub fn close_error(provider: &'static str, frame: Option<&CloseFrame>) -> EngineError {
    let Some(frame) = frame else {
        return EngineError::Cancelled { provider };
    };
    let code = u16::from(frame.code);
    match frame.code {
        CloseCode::Normal | CloseCode::Away => EngineError::Cancelled { provider },
        CloseCode::Unsupported => EngineError::Auth {
            provider,
            status: 403,
        },
        CloseCode::Policy => EngineError::Unavailable {
            provider,
            reason: "closed by the provider (idle, code 1008)".into(),
        },
        CloseCode::Error => EngineError::Unavailable {
            provider,
            reason: "closed by the provider (server error, code 1011)".into(),
        },
        _ if code == 4000 => EngineError::InvalidRequest {
            provider,
            detail: "the provider rejected the session's parameters (code 4000)".into(),
        },
        _ => EngineError::Protocol {
            provider,
            detail: format!("closed by the provider (code {code})"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_switch_scheme() {
        let u = endpoint(
            "s",
            "https://api.sarvam.ai/",
            &["speech-to-text", "ws"],
            true,
        )
        .unwrap();
        assert_eq!(u.as_str(), "wss://api.sarvam.ai/speech-to-text/ws");
        let u = endpoint("s", "http://127.0.0.1:9/x", &["text-to-speech"], false).unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:9/x/text-to-speech");
        assert!(endpoint("s", "ftp://a", &[], false).is_err());
    }

    #[test]
    fn errors_by_code() {
        assert!(matches!(
            error_message("s", Some("invalid_api_key")),
            EngineError::Auth { .. }
        ));
        assert!(matches!(
            error_message("s", Some("rate_limit_exceeded")),
            EngineError::Http { status: 429, .. }
        ));
        let e = error_message("s", Some("bad<audio>"));
        assert_eq!(
            e.to_string(),
            "s: protocol error: the provider sent error badaudio"
        );
        let frame = |code: u16| CloseFrame {
            code: CloseCode::from(code),
            reason: "".into(),
        };
        assert!(matches!(
            close_error("s", Some(&frame(1011))),
            EngineError::Unavailable { .. }
        ));
        assert!(matches!(
            close_error("s", Some(&frame(4000))),
            EngineError::InvalidRequest { .. }
        ));
        assert!(matches!(
            close_error("s", Some(&frame(1000))),
            EngineError::Cancelled { .. }
        ));
    }
}
