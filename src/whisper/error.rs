//! The one error type of the `whisper` module: what can go wrong loading a model and
//! transcribing with it, told apart so a caller can react (retry later on `Busy`, fix the
//! configuration on the loading errors, log the rest).
use std::path::PathBuf;

/// Why a Whisper model could not be loaded or a transcription did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WhisperError {
    /// The model directory lacks a file a CTranslate2 Whisper model needs.
    #[error("model directory {dir} has no {file} (run scripts/fetch-whisper-model)")]
    MissingFile {
        /// The directory given to [`crate::whisper::WhisperModel::load`].
        dir: PathBuf,
        /// The missing file name.
        file: &'static str,
    },
    /// A model file exists but could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `vocabulary.txt` lacks a special token Whisper decoding needs.
    #[error("vocabulary has no {0} token")]
    MissingToken(&'static str),
    /// The model wants a mel filterbank size this frontend does not build (80 and 128 only).
    #[error("unsupported number of mel bins: {0} (80 or 128)")]
    UnsupportedMels(usize),
    /// Options out of range (zero threads, zero workers, beam size zero, …).
    #[error("invalid whisper options: {0}")]
    InvalidOptions(String),
    /// The language is not one the model knows (an English-only model knows only `en`).
    #[error("language {0:?} is not supported by this model")]
    UnsupportedLanguage(String),
    /// CTranslate2 refused to load the model or failed while running it.
    #[error("CTranslate2: {0}")]
    Backend(String),
    /// The pool's queue is full: the request was not accepted. Retry later or shed load.
    #[error("whisper pool is busy ({in_flight} requests in flight, limit {limit})")]
    Busy {
        /// Requests queued or running when this one arrived.
        in_flight: usize,
        /// Workers plus queue slots.
        limit: usize,
    },
    /// The blocking task running the transcription panicked or was cancelled.
    #[error("transcription worker failed: {0}")]
    Worker(String),
}
