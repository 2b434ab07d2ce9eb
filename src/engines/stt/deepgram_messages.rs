//! The JSON messages Deepgram live streaming sends: `Results`, `UtteranceEnd`,
//! `SpeechStarted`, `Metadata` (anything else is `Other`).

use serde::Deserialize;

/// One server message, reduced to what the session uses.
#[derive(Debug, Clone, PartialEq)]
pub enum DeepgramMessage {
    /// A transcript of a stretch of audio.
    Results {
        /// Best alternative's text (may be empty).
        transcript: String,
        /// This stretch will not change any more.
        is_final: bool,
        /// Deepgram's endpointing saw the speaker pause.
        speech_final: bool,
        /// Sent in answer to our `Finalize`.
        from_finalize: bool,
        /// Start of the stretch, seconds into the stream.
        start: f64,
        /// Length of the stretch in seconds.
        duration: f64,
        /// The languages heard, most of the stretch first (`language=multi` only).
        languages: Vec<String>,
    },
    /// A gap of `utterance_end_ms` after the last word.
    UtteranceEnd {
        /// End of the last word, seconds into the stream.
        last_word_end: f64,
    },
    /// Speech began (with `vad_events=true`).
    SpeechStarted {
        /// Seconds into the stream.
        timestamp: f64,
    },
    /// Stream summary (sent when the stream closes).
    Metadata {
        /// Deepgram's request id.
        request_id: String,
        /// Seconds of audio processed.
        duration: f64,
    },
    /// A message type we do not use.
    Other(String),
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    is_final: bool,
    #[serde(default)]
    speech_final: bool,
    #[serde(default)]
    from_finalize: bool,
    #[serde(default)]
    start: f64,
    #[serde(default)]
    duration: f64,
    #[serde(default)]
    channel: Option<serde_json::Value>,
    #[serde(default)]
    last_word_end: f64,
    #[serde(default)]
    timestamp: f64,
    #[serde(default)]
    request_id: String,
}

/// Parses one text message; `Err` says why it is not a Deepgram message.
pub fn parse_message(text: &str) -> Result<DeepgramMessage, String> {
    let raw: Raw = serde_json::from_str(text).map_err(|e| format!("bad message JSON: {e}"))?;
    Ok(match raw.kind.as_str() {
        "Results" => {
            let best = raw
                .channel
                .as_ref()
                .and_then(|c| c.get("alternatives"))
                .and_then(|a| a.get(0));
            let languages = best
                .and_then(|a| a.get("languages"))
                .and_then(|l| l.as_array())
                .map(|l| {
                    l.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let transcript = best
                .and_then(|a| a.get("transcript"))
                .and_then(|t| t.as_str())
                .ok_or("Results without channel.alternatives[0].transcript")?
                .to_string();
            DeepgramMessage::Results {
                transcript,
                is_final: raw.is_final,
                speech_final: raw.speech_final,
                from_finalize: raw.from_finalize,
                start: raw.start,
                duration: raw.duration,
                languages,
            }
        }
        "UtteranceEnd" => DeepgramMessage::UtteranceEnd {
            last_word_end: raw.last_word_end,
        },
        "SpeechStarted" => DeepgramMessage::SpeechStarted {
            timestamp: raw.timestamp,
        },
        "Metadata" => DeepgramMessage::Metadata {
            request_id: raw.request_id,
            duration: raw.duration,
        },
        other => DeepgramMessage::Other(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_messages() {
        let r = parse_message(r#"{"type":"Results","channel_index":[0,1],"duration":1.5,"start":0.25,"is_final":true,"speech_final":true,"channel":{"alternatives":[{"transcript":"hello there","confidence":0.98,"words":[]}]},"metadata":{"request_id":"x"},"from_finalize":false}"#).unwrap();
        assert_eq!(
            r,
            DeepgramMessage::Results {
                transcript: "hello there".into(),
                is_final: true,
                speech_final: true,
                from_finalize: false,
                start: 0.25,
                duration: 1.5,
                languages: vec![],
            }
        );
        let multi = parse_message(r#"{"type":"Results","is_final":true,"channel":{"alternatives":[{"transcript":"नमस्ते hello","languages":["hi","en"]}]}}"#).unwrap();
        assert!(
            matches!(multi, DeepgramMessage::Results { ref languages, .. } if languages == &["hi", "en"]),
            "{multi:?}"
        );
        assert_eq!(
            parse_message(r#"{"type":"UtteranceEnd","channel":[0,1],"last_word_end":2.1}"#)
                .unwrap(),
            DeepgramMessage::UtteranceEnd { last_word_end: 2.1 }
        );
        assert_eq!(
            parse_message(r#"{"type":"SpeechStarted","channel":[0],"timestamp":0.6}"#).unwrap(),
            DeepgramMessage::SpeechStarted { timestamp: 0.6 }
        );
        assert!(matches!(
            parse_message(r#"{"type":"Metadata","request_id":"abc","duration":3.0,"channels":1}"#)
                .unwrap(),
            DeepgramMessage::Metadata { .. }
        ));
        assert!(parse_message(r#"{"type":"Results","channel":{}}"#).is_err());
        assert!(parse_message("not json").is_err());
        assert_eq!(
            parse_message(r#"{"type":"Whatever"}"#).unwrap(),
            DeepgramMessage::Other("Whatever".into())
        );
    }
}
