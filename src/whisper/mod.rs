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
