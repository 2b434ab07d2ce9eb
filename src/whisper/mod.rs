//! `whisper-local`: in-process Whisper speech-to-text through CTranslate2 (the `ct2rs`
//! crate), compiled only with the cargo feature `whisper-local`.
//!
//! - [`mel`]: Whisper's log-mel frontend, computed exactly as openai/whisper does.
//! - [`vocab`]: the model's vocabulary and byte-level BPE decoding of generated tokens.
//! - [`model`]: [`WhisperModel`], a loaded CTranslate2 model directory and blocking
//!   transcription (encoder, language detection, `generate` with Whisper's prompt tokens).
//! - [`pool`]: [`WhisperPool`], a bounded worker pool that runs transcriptions off the async
//!   runtime, refuses with [`WhisperError::Busy`] when full and reports its queueing.
//! - [`error`][]: [`WhisperError`].
//!
//! Model directories come from `scripts/fetch-whisper-model [tiny|base] [DEST]`.
//!
//! Measured on this 2-core machine while three other builds ran (load average 5-8), with
//! `cargo run --features whisper-local --example whisper-wer -- models/NAME` (20 espeak-ng
//! sentences, each through 8 kHz A-law and µ-law, int8, beam 5; strict scoring: `I'm` for
//! `I am` counts as errors):
//!
//! | model   | WER, 40 utterances | WER, first 10 sentences | compute per utterance | RTF  |
//! |---------|--------------------|-------------------------|-----------------------|------|
//! | tiny.en | 27.7 %             | 21.9 %                  | 2.4 s                 | 0.70 |
//! | base    | 20.1 %             | 6.2 %                   | 8.5 s                 | 2.46 |
//!
//! The same sentences as clean 16 kHz audio: tiny.en 2.2 % (first 10): the phone band, not
//! the frontend, costs the accuracy. Greedy decoding (beam 1) costs a lot on phone-band
//! audio (base: 26 % at beam 1 over all 40 utterances; 15 % at beam 2 and 6 % at beam 5 over
//! the first 10 sentences; tiny.en: 28.5 % at beam 1 over all 40) and saves little
//! time, because the encoder, which always sees a 30 s window, dominates the cost; so the
//! compute per utterance is nearly constant and the RTF of short utterances is high.
//!
//! ```no_run
//! # async fn demo() -> Result<(), vca_bridge::whisper::WhisperError> {
//! use vca_bridge::whisper::{ModelOptions, WhisperModel, WhisperPool};
//! let model = WhisperModel::load("models/whisper-tiny.en".as_ref(), ModelOptions::default())?;
//! let pool = WhisperPool::new(model, 1, 4)?;
//! let pcm_16k: Vec<f32> = vec![0.0; 16_000];
//! let transcript = pool.transcribe(pcm_16k, Some("en")).await?;
//! println!("{} ({:?} queued, {:?} compute)", transcript.text, transcript.queued_for, transcript.compute);
//! # Ok(()) }
//! ```
pub mod error;
pub mod mel;
pub mod model;
pub mod pool;
pub mod vocab;

pub use error::WhisperError;
pub use mel::{LogMel, LogMelSpectrogram};
pub use model::{ModelOptions, Precision, Recognition, Transcribe, WhisperModel};
pub use pool::{Transcript, WhisperPool, describe_metrics, pcm_i16_to_f32};
pub use vocab::Vocabulary;
