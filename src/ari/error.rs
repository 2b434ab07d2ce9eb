//! Typed errors of the ARI REST client, one variant per status Asterisk really returns
//! (FINDINGS.md 21-22), plus transport, timeout and decoding failures.
//!
//! Asterisk's error bodies come in three shapes: `{"message": "..."}` (almost all),
//! `{"error": "..."}` (500 on `POST /channels` with an unknown technology) and an HTML page
//! (400 on a WebSocket upgrade without `app`). [`error_message_from_body`] reduces all three to
//! one short, log-safe line.
//!
//! Two 404 bodies matter to callers beyond their status: `Provided variable was not found`
//! (the channel exists, the variable does not: [`VARIABLE_NOT_FOUND`], which
//! `AriClient::get_variable` turns into `None`) and `Provided channel was not found` (the
//! channel is gone; FINDINGS.md 34).

/// The 404 message of `GET /channels/{id}/variable` for an unset variable on a live channel.
pub const VARIABLE_NOT_FOUND: &str = "Provided variable was not found";

/// What went wrong talking to ARI over REST.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AriError {
    /// 400: a parameter is missing or invalid (e.g. `Invalid reason for hangup reason provided`,
    /// or `Channel not found` from addChannel).
    #[error("ARI rejected the request (400): {message}")]
    BadRequest {
        /// Asterisk's message.
        message: String,
    },
    /// 401: wrong, missing or unknown credentials. A configuration error.
    #[error("ARI authentication failed (401): {message}")]
    Unauthorized {
        /// Asterisk's message (`Authentication required`).
        message: String,
    },
    /// 404: the channel, bridge, application, variable or path does not exist.
    #[error("ARI resource not found (404): {message}")]
    NotFound {
        /// Asterisk's message, e.g. `Channel not found`.
        message: String,
    },
    /// 409: conflicting state (channel not in Stasis, id already exists, not `Down`).
    #[error("ARI conflict (409): {message}")]
    Conflict {
        /// Asterisk's message.
        message: String,
    },
    /// 422: the request is understood but cannot apply (channel not in Stasis for addChannel,
    /// channel not in this bridge for removeChannel).
    #[error("ARI could not process the request (422): {message}")]
    Unprocessable {
        /// Asterisk's message.
        message: String,
    },
    /// 500: Asterisk failed internally (allocation failure, unknown format, duplicate
    /// externalMedia `channelId`).
    #[error("ARI internal error (500): {message}")]
    ServerError {
        /// Asterisk's message, from either `message` or `error`.
        message: String,
    },
    /// 501: not implemented (e.g. an unsupported externalMedia encapsulation).
    #[error("ARI does not implement this (501): {message}")]
    NotImplemented {
        /// Asterisk's message.
        message: String,
    },
    /// Any other non-success status (403, 405, 503, …).
    #[error("ARI returned HTTP {status}: {message}")]
    UnexpectedStatus {
        /// The HTTP status code.
        status: u16,
        /// Asterisk's message or a short excerpt of the body.
        message: String,
    },
    /// The request did not complete within its timeout.
    #[error("ARI request timed out")]
    Timeout,
    /// The request could not be sent or its response not read (refused, reset, DNS, TLS).
    #[error("ARI transport error: {0}")]
    Transport(#[source] reqwest::Error),
    /// A success response whose body is not the expected JSON.
    #[error("ARI response body could not be decoded: {0}")]
    Decode(#[source] serde_json::Error),
    /// The externalMedia response lacks a channel variable we need.
    #[error("externalMedia response has no channel variable {name}")]
    MissingChannelVar {
        /// The variable, e.g. `UNICASTRTP_LOCAL_PORT`.
        name: &'static str,
    },
    /// The externalMedia response carries an address or port we cannot parse.
    #[error("externalMedia response has a malformed {name}: {value:?}")]
    MalformedChannelVar {
        /// The variable, e.g. `UNICASTRTP_LOCAL_ADDRESS`.
        name: &'static str,
        /// The value Asterisk sent.
        value: String,
    },
    /// The configured base URL cannot be used.
    #[error("invalid ARI base URL: {0}")]
    InvalidBaseUrl(String),
    /// An argument we were asked to send cannot be expressed safely (e.g. a comma inside a
    /// `DIALPLAN_EXISTS` argument or an `appArgs` item); nothing was sent.
    #[error("invalid ARI argument {name}: {reason}")]
    InvalidArgument {
        /// The argument, e.g. `context`.
        name: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A success response whose value is not one the call can interpret (e.g.
    /// `DIALPLAN_EXISTS` answering neither `"0"` nor `"1"`).
    #[error("ARI returned an unexpected value for {name}: {value:?}")]
    UnexpectedValue {
        /// What was read, e.g. `DIALPLAN_EXISTS`.
        name: &'static str,
        /// The value Asterisk sent (or `None` when the variable was absent).
        value: Option<String>,
    },
}

impl AriError {
    /// Maps a non-success status and its body to the matching variant.
    #[must_use]
    pub fn from_status(status: u16, body: &[u8]) -> Self {
        let message = error_message_from_body(body);
        match status {
            400 => Self::BadRequest { message },
            401 => Self::Unauthorized { message },
            404 => Self::NotFound { message },
            409 => Self::Conflict { message },
            422 => Self::Unprocessable { message },
            500 => Self::ServerError { message },
            501 => Self::NotImplemented { message },
            _ => Self::UnexpectedStatus { status, message },
        }
    }

    /// The HTTP status this error came from, if it came from one.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::BadRequest { .. } => Some(400),
            Self::Unauthorized { .. } => Some(401),
            Self::NotFound { .. } => Some(404),
            Self::Conflict { .. } => Some(409),
            Self::Unprocessable { .. } => Some(422),
            Self::ServerError { .. } => Some(500),
            Self::NotImplemented { .. } => Some(501),
            Self::UnexpectedStatus { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True for a 404: the resource is already gone (useful when cleaning up).
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// The message Asterisk gave, for status errors.
    #[must_use]
    pub fn message(&self) -> Option<&str> {
        match self {
            Self::BadRequest { message }
            | Self::Unauthorized { message }
            | Self::NotFound { message }
            | Self::Conflict { message }
            | Self::Unprocessable { message }
            | Self::ServerError { message }
            | Self::NotImplemented { message }
            | Self::UnexpectedStatus { message, .. } => Some(message),
            _ => None,
        }
    }
}

/// Longest message kept from a body that is neither `{"message"}` nor `{"error"}`.
const MAX_EXCERPT_CHARS: usize = 200;

/// Extracts a short human message from an ARI error body: the `message` or `error` key of a
/// JSON object, the text of the first `<p>` of an HTML page, or a trimmed excerpt otherwise.
#[must_use]
pub fn error_message_from_body(body: &[u8]) -> String {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body) {
        for key in ["message", "error"] {
            if let Some(serde_json::Value::String(text)) = map.get(key) {
                return text.clone();
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if let Some(paragraph) = html_first_paragraph(text) {
        return paragraph;
    }
    text.chars().take(MAX_EXCERPT_CHARS).collect()
}

/// The text inside the first `<p>…</p>` of an HTML body, if any.
fn html_first_paragraph(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<p>")? + "<p>".len();
    let end = start + lower.get(start..)?.find("</p>")?;
    let inner = text.get(start..end)?.trim();
    Some(inner.chars().take(MAX_EXCERPT_CHARS).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_key_wins() {
        assert_eq!(
            error_message_from_body(br#"{"message":"Channel not found"}"#),
            "Channel not found"
        );
    }

    #[test]
    fn error_key_is_read() {
        let err = AriError::from_status(500, br#"{"error":"Allocation failed"}"#);
        assert!(
            matches!(err, AriError::ServerError { ref message } if message == "Allocation failed")
        );
    }

    #[test]
    fn html_paragraph_is_read() {
        let body = b"<!DOCTYPE HTML>\r\n<html><head><title>400 Bad Request</title></head><body>\r\n<h1>Bad Request</h1>\r\n<p>HTTP request is missing param: [app]</p>\r\n</body></html>";
        assert_eq!(
            error_message_from_body(body),
            "HTTP request is missing param: [app]"
        );
    }

    #[test]
    fn other_status_keeps_code() {
        let err = AriError::from_status(405, br#"{"message":"Invalid method"}"#);
        assert_eq!(err.status(), Some(405));
        assert_eq!(err.message(), Some("Invalid method"));
    }
}
