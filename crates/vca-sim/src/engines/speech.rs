//! `POST /v1/audio/speech` with `response_format: "pcm"`: after the TTS latency, 24 kHz
//! 16-bit little-endian mono audio of the speech-like signal, `MS_PER_CHAR` per character
//! of the input, streamed in 100 ms chunks sliced from one buffer built at start.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;

use super::EngineState;
use super::auth::error;
use super::waveform::speech_like_24k;

/// Milliseconds of speech per character of input text.
pub const MS_PER_CHAR: u64 = 50;
/// The longest reply audio (the buffer's length).
const MAX_SECONDS: usize = 20;
/// Bytes per streamed chunk: 100 ms at 24 kHz, 2 bytes a sample.
const CHUNK_BYTES: usize = 4800;

/// Samples (24 kHz) of speech the fake returns for `text`.
pub fn speech_samples_for(text: &str) -> usize {
    let ms = text.chars().count() as u64 * MS_PER_CHAR;
    usize::try_from(ms * 24)
        .unwrap_or(usize::MAX)
        .min(MAX_SECONDS * 24_000)
}

pub(crate) fn speech_pcm() -> Bytes {
    let samples = speech_like_24k(MAX_SECONDS * 24_000);
    let mut bytes = Vec::with_capacity(samples.len() * 2);
    for s in samples {
        bytes.extend_from_slice(&s.to_le_bytes());
    }
    Bytes::from(bytes)
}

/// The `input` of a valid `pcm` request.
fn input_text(body: &[u8]) -> Option<String> {
    let v = serde_json::from_slice::<serde_json::Value>(body).ok()?;
    if v.get("response_format").and_then(|f| f.as_str()) != Some("pcm") {
        return None;
    }
    let text = v.get("input")?.as_str()?;
    (!text.trim().is_empty()).then(|| text.to_string())
}

pub(crate) async fn handle(State(state): State<Arc<EngineState>>, body: Bytes) -> Response {
    let Some(text) = input_text(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "expected JSON with a non-empty input and response_format: pcm",
        );
    };
    tokio::time::sleep(state.latencies.tts).await;
    let len = (speech_samples_for(&text) * 2).min(state.speech_pcm.len());
    let pcm = state.speech_pcm.slice(..len);
    let chunks = (0..len.div_ceil(CHUNK_BYTES)).map(move |i| {
        let start = i * CHUNK_BYTES;
        Ok::<_, Infallible>(pcm.slice(start..(start + CHUNK_BYTES).min(len)))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "audio/pcm")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_proportional_to_text() {
        assert_eq!(speech_samples_for("abcd"), 4 * 50 * 24);
        assert_eq!(
            speech_samples_for(&"x".repeat(100_000)),
            MAX_SECONDS * 24_000
        );
    }

    #[test]
    fn only_pcm_with_input() {
        assert_eq!(
            input_text(br#"{"input":"Hi.","response_format":"pcm","voice":"alloy"}"#).as_deref(),
            Some("Hi.")
        );
        assert!(input_text(br#"{"input":"Hi.","response_format":"mp3"}"#).is_none());
        assert!(input_text(br#"{"input":" ","response_format":"pcm"}"#).is_none());
    }
}
