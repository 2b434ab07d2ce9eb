//! ElevenLabs streaming speech on [`super::FakeHttp`]:
//! `POST /v1/text-to-speech/{voice}/stream?output_format=...` with the key in `xi-api-key`
//! and `{"text": ...}`; `ulaw_8000` answers G.711 µ-law at 8 kHz (`audio/basic`),
//! `pcm_16000` 16-bit little-endian PCM at 16 kHz, `ms_per_char` per character.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::Value;

use super::body::streamed;
use super::http::{Received, Route, Shared, prelude, speech_samples};
use super::openai::{error, is_json};
use super::pause;
use super::wire::ulaw_bytes;

/// Audio per [`super::Framing::Whole`] piece: 100 ms.
const PIECE_MS: usize = 100;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/v1/text-to-speech/{voice}/stream", post(stream))
}

/// ElevenLabs' answer to a wrong or missing key.
fn invalid_key() -> Response {
    let mut response = Response::new(Body::from(
        r#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#,
    ));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

async fn stream(
    State(s): State<Arc<Shared>>,
    Path(voice): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let behaviour = s.behaviour();
    let mut received = Received::new(Route::ElevenLabs, &headers, &body);
    received.voice = Some(voice);
    received.query = query.clone();
    let reply = match prelude(&s, received).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let key_ok = headers
        .get("xi-api-key")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == behaviour.api_key);
    if !key_ok {
        return invalid_key();
    }
    let format = query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("output_format="))
        .unwrap_or("mp3_44100_128")
        .to_string();
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(422, "invalid JSON");
    };
    let text = request["text"].as_str().unwrap_or("");
    if text.is_empty() || !is_json(&headers) {
        return error(422, "text is required");
    }
    let (content_type, rate) = match format.as_str() {
        "ulaw_8000" => ("audio/basic", 8000),
        "pcm_16000" => ("audio/pcm", 16_000),
        _ => return error(400, "this fake serves only ulaw_8000 and pcm_16000"),
    };
    pause(behaviour.latencies.tts).await;
    let n = speech_samples(behaviour.voice, behaviour.ms_per_char, rate, text);
    let pcm = s.pcm(behaviour.voice, rate, n);
    let (bytes, bytes_per_sample) = if rate == 8000 {
        let samples: Vec<i16> = pcm
            .chunks_exact(2)
            .map(|p| i16::from_le_bytes([p[0], p[1]]))
            .collect();
        (Bytes::from(ulaw_bytes(&samples)), 1)
    } else {
        (pcm, 2)
    };
    let piece = rate as usize * PIECE_MS / 1000 * bytes_per_sample;
    streamed(
        &s.bodies,
        content_type,
        behaviour.pieces(bytes, piece),
        behaviour.gap(),
        &reply,
    )
}
