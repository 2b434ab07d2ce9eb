//! The JSON messages Sarvam's streaming STT (`/speech-to-text/ws`) sends: `data` (a final
//! transcript of what its VAD heard, with the language), `events` (`START_SPEECH`,
//! `END_SPEECH`) and `error`; anything else is `Other`.

use serde::Deserialize;

/// One server message, reduced to what the session uses.
#[derive(Debug, Clone, PartialEq)]
pub enum SarvamSttMessage {
    /// The transcript of one utterance.
    Transcript {
        /// The text (may be empty).
        text: String,
        /// The language Sarvam heard (`hi-IN`), when it says.
        language: Option<String>,
    },
    /// Its VAD heard speech start.
    SpeechStart,
    /// Its VAD heard speech end (a transcript follows).
    SpeechEnd,
    /// An error; the code only (the text may echo the request).
    Error {
        /// Sarvam's error code, if any.
        code: Option<String>,
    },
    /// A message type we do not use.
    Other(String),
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: serde_json::Value,
}

/// Parses one text message; `Err` says why it is not a Sarvam message.
pub fn parse_sarvam_message(text: &str) -> Result<SarvamSttMessage, String> {
    let raw: Raw = serde_json::from_str(text).map_err(|e| format!("bad message JSON: {e}"))?;
    let field = |name: &str| raw.data.get(name).and_then(|v| v.as_str());
    Ok(match raw.kind.as_str() {
        "data" => SarvamSttMessage::Transcript {
            text: field("transcript")
                .ok_or("data without data.transcript")?
                .trim()
                .to_string(),
            language: field("language_code")
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        },
        "events" => match field("signal_type") {
            Some("START_SPEECH") => SarvamSttMessage::SpeechStart,
            Some("END_SPEECH") => SarvamSttMessage::SpeechEnd,
            other => SarvamSttMessage::Other(format!("events/{}", other.unwrap_or(""))),
        },
        "error" => SarvamSttMessage::Error {
            code: raw
                .data
                .get("code")
                .and_then(|c| {
                    c.as_str()
                        .map(str::to_string)
                        .or_else(|| c.as_u64().map(|n| n.to_string()))
                })
                .or_else(|| field("error_code").map(str::to_string)),
        },
        other => SarvamSttMessage::Other(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_messages() {
        assert_eq!(
            parse_sarvam_message(
                r#"{"type":"data","data":{"request_id":"r1","transcript":" नमस्ते ","language_code":"hi-IN","metrics":{"audio_duration":1.2}}}"#
            )
            .unwrap(),
            SarvamSttMessage::Transcript {
                text: "नमस्ते".into(),
                language: Some("hi-IN".into())
            }
        );
        assert_eq!(
            parse_sarvam_message(
                r#"{"type":"events","data":{"event_type":"vad","signal_type":"START_SPEECH","occured_at":1.0}}"#
            )
            .unwrap(),
            SarvamSttMessage::SpeechStart
        );
        assert_eq!(
            parse_sarvam_message(r#"{"type":"events","data":{"signal_type":"END_SPEECH"}}"#)
                .unwrap(),
            SarvamSttMessage::SpeechEnd
        );
        assert_eq!(
            parse_sarvam_message(
                r#"{"type":"error","data":{"error":"x","code":"quota_exceeded"}}"#
            )
            .unwrap(),
            SarvamSttMessage::Error {
                code: Some("quota_exceeded".into())
            }
        );
        assert!(parse_sarvam_message(r#"{"type":"data","data":{}}"#).is_err());
        assert!(parse_sarvam_message("nope").is_err());
    }
}
