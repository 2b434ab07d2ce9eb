//! A loaded CTranslate2 Whisper model and blocking transcription with it: log-mel features
//! from [`super::mel`], the encoder run once per 30 s window, language detection when asked,
//! CTranslate2's lower-level `generate` with Whisper's prompt tokens, and the text decoded
//! from the vocabulary. Calls block for hundreds of milliseconds: run them off the async
//! runtime ([`super::WhisperPool`] does).
use std::path::{Path, PathBuf};

use ct2rs::sys::{self, ComputeType, Config, Device, StorageView};

use super::WhisperError;
use super::mel::{LogMel, N_FRAMES, SAMPLE_RATE};
use super::vocab::Vocabulary;

/// Whisper's rule for a window with no speech: high no-speech probability and a low average
/// log-probability of the decoded tokens (openai/whisper `no_speech_threshold`,
/// `logprob_threshold`).
const NO_SPEECH_THRESHOLD: f32 = 0.6;
const LOGPROB_THRESHOLD: f32 = -1.0;

/// Numeric precision CTranslate2 computes in on the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Precision {
    /// Weights quantised to int8 at load time: about twice as fast on x86, near-identical
    /// accuracy. The default.
    Int8,
    /// Full float32.
    Float32,
}

impl Precision {
    fn compute_type(self) -> ComputeType {
        match self {
            Precision::Int8 => ComputeType::INT8,
            Precision::Float32 => ComputeType::FLOAT32,
        }
    }
}

/// How to load and run a model.
#[derive(Debug, Clone)]
pub struct ModelOptions {
    /// Compute precision.
    pub precision: Precision,
    /// Model replicas: how many transcriptions can run at the same time. A
    /// [`super::WhisperPool`] should have at most this many workers.
    pub replicas: usize,
    /// CPU threads each replica uses for one transcription.
    pub threads_per_replica: usize,
    /// Beam width of the decoder. The encoder dominates the cost (it always sees 30 s), so a
    /// wider beam costs little; on phone-band speech it matters a lot (see the module docs of
    /// [`crate::whisper`]). Default 5.
    pub beam_size: usize,
    /// Longest token sequence generated per 30 s window.
    pub max_tokens: usize,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            precision: Precision::Int8,
            replicas: 1,
            threads_per_replica: 2,
            beam_size: 5,
            max_tokens: 224,
        }
    }
}

/// What one blocking transcription produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Recognition {
    /// The transcript; empty when there was no speech.
    pub text: String,
    /// The language code used (`en`, `de`, …), given or detected.
    pub language: String,
    /// The highest no-speech probability among the 30 s windows.
    pub no_speech_prob: f32,
}

/// Something that turns 16 kHz mono PCM into text, blocking the calling thread. The pool
/// runs implementations of this on its workers; [`WhisperModel`] is the real one.
pub trait Transcribe: Send + Sync + 'static {
    /// Transcribes `pcm` (16 kHz mono, samples in [-1, 1]) in `language` (a code like `en`)
    /// or, when `None`, the language the model detects.
    fn transcribe_blocking(
        &self,
        pcm: &[f32],
        language: Option<&str>,
    ) -> Result<Recognition, WhisperError>;
}

/// A Whisper model in CTranslate2 format, ready to transcribe. `Send + Sync`: share one
/// behind an `Arc`; CTranslate2 runs up to [`ModelOptions::replicas`] calls at once.
pub struct WhisperModel {
    dir: PathBuf,
    whisper: sys::Whisper,
    vocab: Vocabulary,
    mel: LogMel,
    options: ModelOptions,
    multilingual: bool,
}

impl std::fmt::Debug for WhisperModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhisperModel")
            .field("dir", &self.dir)
            .field("multilingual", &self.multilingual)
            .field("n_mels", &self.mel.n_mels())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Files a CTranslate2 Whisper model directory must hold.
const MODEL_FILES: [&str; 3] = ["model.bin", "config.json", "vocabulary.txt"];

impl WhisperModel {
    /// Loads the CTranslate2 Whisper model in `dir` (as made by
    /// `scripts/fetch-whisper-model`: `model.bin`, `config.json`, `vocabulary.txt`).
    pub fn load(dir: &Path, options: ModelOptions) -> Result<Self, WhisperError> {
        if options.replicas == 0 || options.threads_per_replica == 0 {
            return Err(WhisperError::InvalidOptions(
                "replicas and threads_per_replica must be at least 1".into(),
            ));
        }
        if options.beam_size == 0 || options.max_tokens == 0 {
            return Err(WhisperError::InvalidOptions(
                "beam_size and max_tokens must be at least 1".into(),
            ));
        }
        for file in MODEL_FILES {
            if !dir.join(file).is_file() {
                return Err(WhisperError::MissingFile {
                    dir: dir.to_path_buf(),
                    file,
                });
            }
        }
        let vocab = Vocabulary::load(&dir.join("vocabulary.txt"))?;
        for token in [
            "<|startoftranscript|>",
            "<|transcribe|>",
            "<|notimestamps|>",
        ] {
            if vocab.id(token).is_none() {
                return Err(WhisperError::MissingToken(token));
            }
        }
        let config = Config {
            device: Device::CPU,
            compute_type: options.precision.compute_type(),
            device_indices: vec![0; options.replicas],
            num_threads_per_replica: options.threads_per_replica,
            ..Config::default()
        };
        let whisper =
            sys::Whisper::new(dir, config).map_err(|e| WhisperError::Backend(format!("{e:#}")))?;
        let mel = LogMel::new(whisper.n_mels())?;
        let multilingual = whisper.is_multilingual();
        Ok(Self {
            dir: dir.to_path_buf(),
            whisper,
            vocab,
            mel,
            options,
            multilingual,
        })
    }

    /// The directory the model was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the model knows languages other than English.
    pub fn is_multilingual(&self) -> bool {
        self.multilingual
    }

    /// The options it was loaded with.
    pub fn options(&self) -> &ModelOptions {
        &self.options
    }

    /// How many transcriptions CTranslate2 runs at the same time.
    pub fn replicas(&self) -> usize {
        self.options.replicas
    }

    /// The `<|xx|>` token for `language`, checked against the vocabulary.
    fn language_token(&self, language: &str) -> Result<String, WhisperError> {
        let token = format!("<|{}|>", language.trim().to_ascii_lowercase());
        match self.vocab.id(&token) {
            Some(id) if self.vocab.is_special(id) => Ok(token),
            _ => Err(WhisperError::UnsupportedLanguage(language.to_owned())),
        }
    }

    /// The language token for one window: the given language, or the detected one.
    fn window_language(
        &self,
        encoded: &StorageView<'_>,
        language: Option<&str>,
    ) -> Result<String, WhisperError> {
        if let Some(language) = language {
            return self.language_token(language);
        }
        let detected = self
            .whisper
            .detect_language(encoded)
            .map_err(|e| WhisperError::Backend(format!("{e:#}")))?;
        detected
            .into_iter()
            .next()
            .and_then(|candidates| candidates.into_iter().next())
            .map(|best| best.language)
            .ok_or_else(|| WhisperError::Backend("language detection returned nothing".into()))
    }

    fn generation_options(&self) -> sys::WhisperOptions {
        sys::WhisperOptions {
            beam_size: self.options.beam_size,
            max_length: self.options.max_tokens,
            return_scores: true,
            return_no_speech_prob: true,
            ..sys::WhisperOptions::default()
        }
    }
}

impl Transcribe for WhisperModel {
    fn transcribe_blocking(
        &self,
        pcm: &[f32],
        language: Option<&str>,
    ) -> Result<Recognition, WhisperError> {
        if !self.multilingual
            && let Some(lang) = language.filter(|l| !l.trim().eq_ignore_ascii_case("en"))
        {
            return Err(WhisperError::UnsupportedLanguage(lang.to_owned()));
        }
        let backend = |e: anyhow::Error| WhisperError::Backend(format!("{e:#}"));
        let spectrogram = self.mel.compute(pcm);
        let options = self.generation_options();
        let mut texts: Vec<String> = Vec::new();
        let mut used_language = String::from("en");
        let mut no_speech_prob = 0.0f32;
        for start in spectrogram.window_starts() {
            let mut window = spectrogram.window(start);
            let features = StorageView::new(
                &[1, spectrogram.n_mels(), N_FRAMES],
                &mut window,
                Device::CPU,
            )
            .map_err(backend)?;
            let encoded = self.whisper.encode(&features, false).map_err(backend)?;
            let prompt: Vec<String> = if self.multilingual {
                let token = self.window_language(&encoded, language)?;
                used_language = token
                    .trim_start_matches("<|")
                    .trim_end_matches("|>")
                    .to_owned();
                vec![
                    "<|startoftranscript|>".into(),
                    token,
                    "<|transcribe|>".into(),
                    "<|notimestamps|>".into(),
                ]
            } else {
                vec!["<|startoftranscript|>".into(), "<|notimestamps|>".into()]
            };
            let result = self
                .whisper
                .generate(&encoded, &[prompt], &options)
                .map_err(backend)?
                .into_iter()
                .next()
                .ok_or_else(|| WhisperError::Backend("generate returned no result".into()))?;
            no_speech_prob = no_speech_prob.max(result.no_speech_prob);
            let avg_logprob = result.scores.first().copied().unwrap_or(0.0);
            if result.no_speech_prob > NO_SPEECH_THRESHOLD && avg_logprob < LOGPROB_THRESHOLD {
                continue;
            }
            if let Some(ids) = result.sequences_ids.first() {
                let text = self.vocab.decode(ids);
                if !text.is_empty() {
                    texts.push(text);
                }
            }
        }
        Ok(Recognition {
            text: texts.join(" "),
            language: used_language,
            no_speech_prob,
        })
    }
}

/// Seconds of audio in `samples` samples at 16 kHz.
pub fn audio_seconds(samples: usize) -> f64 {
    samples as f64 / f64::from(SAMPLE_RATE)
}
