//! Local speech with espeak-ng as a child process (no network): text on stdin,
//! `--stdout` gives a WAV at 22 050 Hz read as it streams. The child is killed when the
//! stream is dropped (barge-in) or the call times out. Without a voice in the request, the
//! request's language picks the voice (`hi`, `en-gb`), unless the configured voice is
//! already of that language.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdout, Command};

use super::{ChunkSource, TextToSpeech, TtsRequest, TtsStream, refuse_empty, stream_after_first};
use crate::engines::audio::PcmChunk;
use crate::engines::error::EngineError;
use crate::engines::metrics;
use crate::engines::resilience::Guard;
use crate::engines::wav::WavStreamReader;

/// Provider label in errors and metrics.
pub const PROVIDER: &str = "espeak";
/// The voice unless `VCA_TTS_VOICE` (or the AI profile) says otherwise.
pub const DEFAULT_VOICE: &str = "en-us";
/// What `VCA_TTS_MODEL` shows for espeak-ng (it has no models).
pub const MODEL_NAME: &str = "espeak-ng";

/// Settings of the espeak-ng provider.
#[derive(Debug, Clone)]
pub struct EspeakConfig {
    /// The program (`espeak-ng`, or a full path).
    pub program: String,
    /// Default voice (`en-us`, `hi`, `en-gb+f3`, ...).
    pub voice: String,
    /// Default rate in words per minute (espeak-ng's default is 175).
    pub rate_wpm: u32,
}

impl Default for EspeakConfig {
    fn default() -> Self {
        EspeakConfig {
            program: "espeak-ng".into(),
            voice: "en-us".into(),
            rate_wpm: 175,
        }
    }
}

/// The espeak-ng provider.
#[derive(Debug)]
pub struct Espeak {
    config: EspeakConfig,
    guard: Guard,
}

/// A running espeak-ng and the WAV being read from it.
struct Running {
    child: Child,
    stdout: ChildStdout,
    wav: WavStreamReader,
    buf: Vec<u8>,
}

fn process(detail: impl Into<String>) -> EngineError {
    EngineError::Process {
        provider: PROVIDER,
        detail: detail.into(),
    }
}

impl ChunkSource for Running {
    /// The next non-empty chunk, or `None` when espeak-ng exits cleanly.
    async fn next_chunk(
        &mut self,
        limit: Duration,
        stage: &'static str,
    ) -> Result<Option<PcmChunk>, EngineError> {
        loop {
            let read = tokio::time::timeout(limit, self.stdout.read(&mut self.buf))
                .await
                .map_err(|_| EngineError::Timeout {
                    provider: PROVIDER,
                    stage,
                })?
                .map_err(|e| process(format!("reading its output: {e}")))?;
            if read == 0 {
                let status = tokio::time::timeout(limit, self.child.wait())
                    .await
                    .map_err(|_| EngineError::Timeout {
                        provider: PROVIDER,
                        stage: "exit",
                    })?
                    .map_err(|e| process(format!("waiting for exit: {e}")))?;
                if !status.success() {
                    return Err(process(format!("exited with {status}")));
                }
                return Ok(None);
            }
            let samples = self
                .wav
                .push(&self.buf[..read])
                .map_err(|e| EngineError::Protocol {
                    provider: PROVIDER,
                    detail: e.to_string(),
                })?;
            if let (false, Some(rate_hz)) = (samples.is_empty(), self.wav.rate()) {
                return Ok(Some(PcmChunk { rate_hz, samples }));
            }
        }
    }
}

impl Espeak {
    /// A provider using `guard` for timeouts and its breaker (a local process is not
    /// retried).
    pub fn new(config: EspeakConfig, guard: Guard) -> Self {
        Espeak { config, guard }
    }

    async fn start(&self, request: &TtsRequest) -> Result<(Running, PcmChunk), EngineError> {
        let voice = voice_for(request, &self.config.voice);
        let voice = voice.as_str();
        let rate = request
            .rate_wpm
            .unwrap_or(self.config.rate_wpm)
            .clamp(80, 450);
        let mut child = Command::new(&self.config.program)
            .args(["--stdout", "--stdin", "-v", voice, "-s", &rate.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| process(format!("cannot start {}: {e}", self.config.program)))?;
        let mut stdin = child.stdin.take().ok_or_else(|| process("no stdin"))?;
        let stdout = child.stdout.take().ok_or_else(|| process("no stdout"))?;
        let text = request.text.replace(['\r', '\n'], " ");
        stdin
            .write_all(text.as_bytes())
            .await
            .map_err(|e| process(format!("writing the text: {e}")))?;
        drop(stdin);
        let mut running = Running {
            child,
            stdout,
            wav: WavStreamReader::new(),
            buf: vec![0; 8192],
        };
        match running
            .next_chunk(self.guard.timeouts.first_byte, "first audio")
            .await?
        {
            Some(first) => Ok((running, first)),
            None => Err(EngineError::Protocol {
                provider: PROVIDER,
                detail: "espeak-ng produced no audio".into(),
            }),
        }
    }
}

/// The voice for `request`: its own, else the configured one when it speaks the
/// request's language (or the request names none), else the language's voice.
fn voice_for(request: &TtsRequest, configured: &str) -> String {
    if let Some(voice) = &request.voice {
        return voice.clone();
    }
    let Some(language) = request.language.as_deref() else {
        return configured.to_string();
    };
    let wanted = crate::engines::language_forms::espeak_voice(language);
    let family = |v: &str| v.split(['-', '+']).next().unwrap_or(v).to_ascii_lowercase();
    if family(configured) == family(&wanted) {
        configured.to_string()
    } else {
        wanted
    }
}

#[async_trait::async_trait]
impl TextToSpeech for Espeak {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    async fn synthesize(&self, request: TtsRequest) -> Result<TtsStream, EngineError> {
        refuse_empty(PROVIDER, &request)?;
        let started = tokio::time::Instant::now();
        let limit = self.guard.timeouts.first_byte;
        let (running, first) = self
            .guard
            .run("first audio", limit, || self.start(&request))
            .await?;
        metrics::tts_first_audio(PROVIDER, started.elapsed());
        Ok(stream_after_first(first, running, self.guard.timeouts.idle))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_picks_the_voice_unless_one_is_given() {
        let mut request = TtsRequest::new("x");
        assert_eq!(voice_for(&request, "en-gb+f3"), "en-gb+f3");
        request.language = Some("hi-IN".into());
        assert_eq!(voice_for(&request, "en-gb+f3"), "hi");
        request.language = Some("en-IN".into());
        assert_eq!(voice_for(&request, "en-gb+f3"), "en-gb+f3");
        request.language = Some("od-IN".into());
        assert_eq!(voice_for(&request, "en-us"), "or");
        request.voice = Some("mb-en1".into());
        assert_eq!(voice_for(&request, "en-us"), "mb-en1");
    }
}
