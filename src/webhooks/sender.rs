//! One delivery attempt: `POST <url>` with the event as the JSON body and the headers
//! `Content-Type: application/json`, `X-VCA-Event-Id`, `X-VCA-Event-Type` and
//! `X-VCA-Signature: t=<unix s>,v1=<hex HMAC-SHA256("<t>.<body>")>` (the tools' signing,
//! [`crate::tools::signature`]). Redirects are not followed, no proxy is used, and every
//! connection goes to an address [`CheckedResolver`] allowed. A 2xx is delivered; the
//! response body is never read into logs or the database.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use tokio::time::Instant;

use super::address::{AddressError, CheckedResolver, check_literal};
use crate::store::outbox::ClaimedDelivery;
use crate::tools::signature::{SIGNATURE_HEADER, sign, unix_now};

/// The header naming the event (receivers de-duplicate on it).
pub const EVENT_ID_HEADER: &str = "X-VCA-Event-Id";
/// The header naming the event type.
pub const EVENT_TYPE_HEADER: &str = "X-VCA-Event-Type";

/// The HTTP client of deliveries could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the webhook HTTP client: {0}")]
pub struct SenderError(#[source] reqwest::Error);

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub delivered: bool,
    pub status_code: Option<u16>,
    /// A short reason when not delivered: no URL, no secret, no response body.
    pub error: Option<String>,
    pub duration: Duration,
}

/// Sends deliveries.
#[derive(Debug, Clone)]
pub struct Sender {
    http: reqwest::Client,
    allow_private: bool,
}

impl Sender {
    /// A sender whose attempts take at most `timeout`.
    pub fn new(timeout: Duration, allow_private: bool) -> Result<Sender, SenderError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .dns_resolver(Arc::new(CheckedResolver { allow_private }))
            .user_agent(concat!("vca-bridge-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(SenderError)?;
        Ok(Sender {
            http,
            allow_private,
        })
    }

    /// One attempt of `d`. Never fails: every problem is a `Sent` that is not delivered.
    pub async fn send(&self, d: &ClaimedDelivery) -> Sent {
        let started = Instant::now();
        let failed = |error: String, status_code: Option<u16>| Sent {
            delivered: false,
            status_code,
            error: Some(error),
            duration: started.elapsed(),
        };
        if let Err(e) = check_literal(&d.url, self.allow_private) {
            return failed(format!("blocked: {e}"), None);
        }
        let body = match serde_json::to_vec(&d.payload) {
            Ok(body) => body,
            Err(e) => return failed(format!("cannot encode the event: {e}"), None),
        };
        let signature = sign(d.secret().expose().as_bytes(), unix_now(), &body);
        let response = self
            .http
            .post(&d.url)
            .header(CONTENT_TYPE, "application/json")
            .header(EVENT_ID_HEADER, d.event_id.to_string())
            .header(EVENT_TYPE_HEADER, d.event_type.as_str())
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await;
        match response {
            Ok(r) if r.status().is_success() => Sent {
                delivered: true,
                status_code: Some(r.status().as_u16()),
                error: None,
                duration: started.elapsed(),
            },
            Ok(r) => failed(
                format!("the receiver answered {}", r.status().as_u16()),
                Some(r.status().as_u16()),
            ),
            Err(e) => failed(describe(&e), None),
        }
    }
}

/// A short reason for a transport failure, without the URL.
fn describe(e: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(blocked) = s.downcast_ref::<AddressError>() {
            return format!("blocked: {blocked}");
        }
        source = s.source();
    }
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect to the receiver".into()
    } else if e.is_request() || e.is_body() {
        "the request failed before a response arrived".into()
    } else {
        "no response from the receiver".into()
    }
}
