//! `POST /v1/audio/transcriptions`: a multipart upload with a `file` part; after the STT
//! latency, `{"text": TRANSCRIPT_TEXT}`.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::EngineState;
use super::auth::error;

/// What every utterance is transcribed as.
pub const TRANSCRIPT_TEXT: &str = "I would like to book a table for two tonight.";

pub(crate) fn transcript_body() -> Bytes {
    Bytes::from(serde_json::json!({ "text": TRANSCRIPT_TEXT }).to_string())
}

/// Whether `body` is multipart/form-data (per `content_type`) with a `file` part.
fn has_file_part(content_type: &str, body: &[u8]) -> bool {
    let Some(boundary) = content_type
        .strip_prefix("multipart/form-data")
        .and_then(|rest| rest.split("boundary=").nth(1))
        .map(|b| b.trim_matches('"'))
    else {
        return false;
    };
    let needle = b"name=\"file\"";
    !boundary.is_empty()
        && body
            .windows(boundary.len())
            .any(|w| w == boundary.as_bytes())
        && body.windows(needle.len()).any(|w| w == needle)
}

pub(crate) async fn handle(
    State(state): State<Arc<EngineState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !has_file_part(content_type, &body) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "expected multipart/form-data with a file part",
        );
    }
    tokio::time::sleep(state.latencies.stt).await;
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(state.transcript.clone()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_part_needs_boundary_and_name() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"u.wav\"\r\n\r\nRIFF\r\n--XyZ--\r\n";
        assert!(has_file_part("multipart/form-data; boundary=XyZ", body));
        assert!(!has_file_part("application/json", body));
        assert!(!has_file_part("multipart/form-data; boundary=Other", body));
        assert!(!has_file_part(
            "multipart/form-data; boundary=XyZ",
            b"--XyZ\r\nname=\"model\"\r\n--XyZ--"
        ));
    }
}
