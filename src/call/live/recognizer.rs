//! One call's speech recognition: the STT session (opened when the call starts, reopened
//! after a failure), the caller's frames pushed into it as they arrive, and one utterance
//! transcribed at a time. The call's task polls [`Recognizer::next`] for transcripts while
//! it serves everything else, so a slow recogniser never stalls the call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::conversation::UtteranceId;
use crate::engines::EngineError;
use crate::engines::stt::{SpeechToText, SttOptions, SttSession, Transcript, TranscriptFuture};

type Opening = Pin<Box<dyn Future<Output = Result<Box<dyn SttSession>, EngineError>> + Send>>;

/// One call's recognition.
pub(crate) struct Recognizer {
    engine: Arc<dyn SpeechToText>,
    options: SttOptions,
    session: Option<Box<dyn SttSession>>,
    opening: Option<Opening>,
    /// An utterance waiting for the session to open.
    waiting: Option<(UtteranceId, Vec<i16>)>,
    in_flight: Option<(UtteranceId, TranscriptFuture)>,
    /// Audio of sessions that failed, already counted (seconds).
    billed_before: f64,
}

impl Recognizer {
    /// Recognition through `engine`; call [`Self::open`] to connect.
    pub(crate) fn new(engine: Arc<dyn SpeechToText>, options: SttOptions) -> Self {
        Recognizer {
            engine,
            options,
            session: None,
            opening: None,
            waiting: None,
            in_flight: None,
            billed_before: 0.0,
        }
    }

    /// Starts opening a session unless one is open or opening.
    pub(crate) fn open(&mut self) {
        if self.session.is_some() || self.opening.is_some() {
            return;
        }
        let engine = self.engine.clone();
        let options = self.options.clone();
        self.opening = Some(Box::pin(async move { engine.open(options).await }));
    }

    /// One 20 ms G.711 frame of the caller (a streaming session sends it on).
    pub(crate) fn push_frame(&mut self, codes: &[u8]) {
        if let Some(session) = self.session.as_mut() {
            session.push_frame(codes);
        }
    }

    /// Whether the open session is one that takes no frames (per-utterance providers):
    /// the call can stop listening to its media's frames.
    pub(crate) fn ignores_frames(&self) -> bool {
        self.session.as_ref().is_some_and(|s| !s.wants_frames())
    }

    /// Transcribes `pcm` (8 kHz) as `utterance`; the answer comes from [`Self::next`].
    pub(crate) fn recognise(&mut self, utterance: UtteranceId, pcm: Vec<i16>) {
        match self.session.as_mut() {
            Some(session) => self.in_flight = Some((utterance, session.finish_utterance(pcm))),
            None => {
                self.waiting = Some((utterance, pcm));
                self.open();
            }
        }
    }

    /// Whether a transcript is being made or waits for the session.
    pub(crate) fn is_busy(&self) -> bool {
        self.in_flight.is_some() || self.waiting.is_some()
    }

    /// The next transcript; pending while none is being made. Cancel-safe.
    pub(crate) async fn next(&mut self) -> (UtteranceId, Result<Transcript, EngineError>) {
        loop {
            if let Some((id, future)) = self.in_flight.as_mut() {
                let id = *id;
                let result = future.await;
                self.in_flight = None;
                if result.is_err() {
                    // The next utterance gets a fresh session.
                    self.drop_session();
                }
                return (id, result);
            }
            let Some(opening) = self.opening.as_mut() else {
                return std::future::pending().await;
            };
            let opened = opening.await;
            self.opening = None;
            match opened {
                Ok(mut session) => {
                    if let Some((id, pcm)) = self.waiting.take() {
                        self.in_flight = Some((id, session.finish_utterance(pcm)));
                    }
                    self.session = Some(session);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "speech recognition unavailable; will retry at the next turn");
                    if let Some((id, _)) = self.waiting.take() {
                        return (id, Err(e));
                    }
                }
            }
        }
    }

    fn drop_session(&mut self) {
        if let Some(session) = self.session.take() {
            self.billed_before += session.usage().audio_seconds;
        }
    }

    /// Seconds of audio billed by every session of the call.
    pub(crate) fn billed_seconds(&self) -> f64 {
        self.billed_before
            + self
                .session
                .as_ref()
                .map_or(0.0, |s| s.usage().audio_seconds)
    }

    /// Ends the session cleanly.
    pub(crate) async fn close(&mut self) {
        self.in_flight = None;
        self.opening = None;
        if let Some(session) = self.session.as_mut() {
            session.close().await;
        }
    }
}
