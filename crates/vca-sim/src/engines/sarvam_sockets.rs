//! The two WebSocket sessions of [`super::sarvam::FakeSarvam`].
//!
//! STT: `{"audio": {"data", "encoding", "sample_rate"}}` messages (base64 PCM) are
//! counted; the first audio of an utterance gets `START_SPEECH` (then, when scripted, an
//! error message or a close); `flush` (or
//! `auto_end_after` bytes) gets `END_SPEECH` and the utterance's `data` transcript with its
//! language code; anything unreadable gets an error message.
//!
//! TTS: `config` first (else an error), `text`, then `flush` answers the scripted audio as
//! base64 `audio` messages and the `final` event; `ping` is counted.

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::sarvam::{Shared, SttMode, TtsMode};
use super::ws::Socket;

fn text(value: Value) -> Message {
    Message::text(value.to_string())
}

fn error(code: &str, message: &str) -> Message {
    text(json!({"type": "error", "data": {"error": message, "message": message, "code": code}}))
}

fn close(code: u16) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: "".into(),
    }))
}

fn event(signal: &str) -> Message {
    text(
        json!({"type": "events", "data": {"event_type": "vad", "signal_type": signal, "occured_at": 0.0}}),
    )
}

/// One accepted STT socket, until either side closes it.
pub(crate) async fn stt_session(mut ws: Socket, shared: &Shared, index: usize) {
    let mut utterance_bytes = 0usize;
    let mut first = true;
    while let Some(Ok(message)) = ws.next().await {
        let behaviour = shared.behaviour();
        let text_message = match message {
            Message::Text(t) => t,
            Message::Close(_) => {
                shared.stt.update(index, |r| r.client_closed = true);
                break;
            }
            _ => continue,
        };
        let Ok(value) = serde_json::from_str::<Value>(&text_message) else {
            let _ = ws
                .send(error("invalid_message", "message is not JSON"))
                .await;
            continue;
        };
        if let Some(audio) = value.get("audio") {
            let Some(pcm) = audio["data"]
                .as_str()
                .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
            else {
                let _ = ws
                    .send(error("invalid_audio", "audio.data is not base64"))
                    .await;
                continue;
            };
            let rate = audio["sample_rate"].as_u64().unwrap_or(16_000);
            shared.stt.update(index, |r| {
                r.pcm.extend_from_slice(&pcm);
                r.audio_messages += 1;
                if rate != 8000 {
                    r.odd_rates.push(rate);
                }
            });
            if utterance_bytes == 0 {
                let _ = ws.send(event("START_SPEECH")).await;
            }
            if std::mem::take(&mut first) {
                match &behaviour.stt_mode {
                    SttMode::ErrorAfterAudio(code) => {
                        let _ = ws.send(error(code, "scripted error")).await;
                    }
                    SttMode::CloseAfterAudio(code) => {
                        let _ = ws.send(close(*code)).await;
                        break;
                    }
                    SttMode::Normal | SttMode::Stall => {}
                }
            }
            utterance_bytes += pcm.len();
            if behaviour.stt_mode == SttMode::Normal
                && behaviour
                    .auto_end_after
                    .is_some_and(|n| utterance_bytes >= n)
            {
                end_utterance(&mut ws, shared).await;
                utterance_bytes = 0;
            }
            continue;
        }
        match value["type"].as_str() {
            Some("flush") => {
                shared.stt.update(index, |r| r.flushes += 1);
                if behaviour.stt_mode != SttMode::Stall && utterance_bytes > 0 {
                    end_utterance(&mut ws, shared).await;
                    utterance_bytes = 0;
                }
            }
            Some("end_of_stream") => break,
            _ => {
                let _ = ws.send(error("invalid_message", "unknown message")).await;
            }
        }
    }
}

async fn end_utterance(ws: &mut Socket, shared: &Shared) {
    let (transcript, language) = shared.next_utterance();
    let _ = ws.send(event("END_SPEECH")).await;
    let data = json!({"type": "data", "data": {"request_id": "fake", "transcript": transcript,
        "language_code": language, "metrics": {"audio_duration": 1.0, "processing_latency": 0.1}}});
    let _ = ws.send(text(data)).await;
}

fn audio_message(bytes: &[u8], codec: &str) -> Message {
    let audio = base64::engine::general_purpose::STANDARD.encode(bytes);
    text(
        json!({"type": "audio", "data": {"content_type": format!("audio/{codec}"), "audio": audio}}),
    )
}

/// One accepted TTS socket, until either side closes it.
pub(crate) async fn tts_session(mut ws: Socket, shared: &Shared, index: usize) {
    let mut codec = String::new();
    let mut held: Vec<Vec<u8>> = Vec::new();
    while let Some(Ok(message)) = ws.next().await {
        let behaviour = shared.behaviour();
        let text_message = match message {
            Message::Text(t) => t,
            Message::Close(frame) => {
                let code = frame.map_or(1005, |f| u16::from(f.code));
                shared.tts.update(index, |r| r.close_code = Some(code));
                break;
            }
            _ => continue,
        };
        let Ok(value) = serde_json::from_str::<Value>(&text_message) else {
            let _ = ws
                .send(error("invalid_message", "message is not JSON"))
                .await;
            continue;
        };
        let configured = !codec.is_empty();
        match value["type"].as_str() {
            Some("config") => {
                let data = value["data"].clone();
                let codec_ok = matches!(
                    data["output_audio_codec"].as_str(),
                    Some("alaw" | "mulaw" | "linear16" | "wav" | "mp3" | "opus" | "flac" | "aac")
                );
                let rate = data["speech_sample_rate"]
                    .as_str()
                    .and_then(|s| s.parse::<u64>().ok())
                    .or_else(|| data["speech_sample_rate"].as_u64());
                let rate_ok = matches!(rate, Some(8000 | 16000 | 22050 | 24000));
                if !codec_ok || !rate_ok || data["target_language_code"].as_str().is_none() {
                    let _ = ws.send(error("invalid_config", "bad config")).await;
                    let _ = ws.send(close(4000)).await;
                    break;
                }
                codec = data["output_audio_codec"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                shared.tts.update(index, |r| r.config = Some(data));
            }
            Some("text") if configured => {
                let said = value["data"]["text"].as_str().unwrap_or("").to_string();
                shared.tts.update(index, |r| r.texts.push(said));
            }
            Some("flush") if configured => {
                shared.tts.update(index, |r| r.flushes += 1);
                if let TtsMode::Error(code) = &behaviour.tts_mode {
                    let _ = ws.send(error(code, "scripted error")).await;
                    continue;
                }
                let size = behaviour
                    .tts_audio
                    .len()
                    .div_ceil(behaviour.tts_chunks.max(1))
                    .max(1);
                let mut pieces: Vec<Vec<u8>> = behaviour
                    .tts_audio
                    .chunks(size)
                    .map(<[u8]>::to_vec)
                    .collect();
                if pieces.is_empty() {
                    continue;
                }
                let rest = pieces.split_off(1);
                let _ = ws.send(audio_message(&pieces[0], &codec)).await;
                match behaviour.tts_mode {
                    TtsMode::StallAfterFirst => {}
                    TtsMode::HoldUntilPing => held = rest,
                    _ => send_rest(&mut ws, &rest, &codec).await,
                }
            }
            Some("ping") => {
                shared.tts.update(index, |r| r.pings += 1);
                if !held.is_empty() {
                    let rest = std::mem::take(&mut held);
                    send_rest(&mut ws, &rest, &codec).await;
                }
            }
            _ => {
                let _ = ws
                    .send(error("invalid_message", "config must come first"))
                    .await;
            }
        }
    }
}

async fn send_rest(ws: &mut Socket, pieces: &[Vec<u8>], codec: &str) {
    for piece in pieces {
        let _ = ws.send(audio_message(piece, codec)).await;
    }
    let _ = ws
        .send(text(
            json!({"type": "event", "data": {"event_type": "final"}}),
        ))
        .await;
}
