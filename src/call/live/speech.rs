//! The agent's sentences on their way to playout: synthesised one at a time, in the order
//! the conversation gave them, each as a whole clip. The call's task polls
//! [`Speech::next`] for the next finished one and queues it in the media.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::StreamExt;

use crate::conversation::ReplyId;
use crate::engines::EngineError;
use crate::engines::tts::{TextToSpeech, TtsRequest};
use crate::language::LanguageTag;
use crate::media::playout::PlayoutId;

/// A sentence's audio: its sample rate and samples.
pub(crate) type Audio = (u32, Vec<i16>);

type Synthesis = Pin<Box<dyn Future<Output = Result<Audio, EngineError>> + Send>>;

struct Pending {
    reply: ReplyId,
    clip: PlayoutId,
    text: String,
    language: String,
}

/// One call's speech synthesis queue.
pub(crate) struct Speech {
    tts: Arc<dyn TextToSpeech>,
    /// Voice and model for every sentence of the call.
    template: TtsRequest,
    queue: VecDeque<Pending>,
    in_flight: Option<(ReplyId, PlayoutId, Synthesis)>,
}

impl Speech {
    /// A queue speaking through `tts` with `template`'s voice and model.
    pub(crate) fn new(tts: Arc<dyn TextToSpeech>, template: TtsRequest) -> Self {
        Speech {
            tts,
            template,
            queue: VecDeque::new(),
            in_flight: None,
        }
    }

    /// Queues a sentence in `language`; returns the characters it will bill.
    pub(crate) fn push(
        &mut self,
        reply: ReplyId,
        clip: PlayoutId,
        text: String,
        language: &LanguageTag,
    ) -> usize {
        let chars = text.chars().count();
        self.queue.push_back(Pending {
            reply,
            clip,
            text,
            language: language.to_string(),
        });
        chars
    }

    /// Drops every sentence of `reply` not yet handed over, the one being synthesised too.
    pub(crate) fn cancel(&mut self, reply: ReplyId) {
        self.queue.retain(|p| p.reply != reply);
        if self.in_flight.as_ref().is_some_and(|(r, _, _)| *r == reply) {
            self.in_flight = None;
        }
    }

    /// The next synthesised sentence; pending while there is none to make.
    /// Cancel-safe: a synthesis interrupted here resumes at the next call.
    pub(crate) async fn next(&mut self) -> (PlayoutId, Result<Audio, EngineError>) {
        if self.in_flight.is_none() {
            match self.queue.pop_front() {
                Some(p) => {
                    let future = synthesize(
                        self.tts.clone(),
                        TtsRequest {
                            text: p.text,
                            language: Some(p.language),
                            ..self.template.clone()
                        },
                    );
                    self.in_flight = Some((p.reply, p.clip, future));
                }
                None => return std::future::pending().await,
            }
        }
        let Some((_, clip, future)) = self.in_flight.as_mut() else {
            return std::future::pending().await;
        };
        let clip = *clip;
        let result = future.await;
        self.in_flight = None;
        (clip, result)
    }
}

/// The whole audio of one sentence.
fn synthesize(tts: Arc<dyn TextToSpeech>, request: TtsRequest) -> Synthesis {
    Box::pin(async move {
        let mut stream = tts.synthesize(request).await?;
        let mut rate = 0;
        let mut pcm: Vec<i16> = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if rate != 0 && chunk.rate_hz != rate {
                return Err(EngineError::Protocol {
                    provider: tts.name(),
                    detail: "sample rate changed mid-stream".into(),
                });
            }
            rate = chunk.rate_hz;
            pcm.extend_from_slice(&chunk.samples);
        }
        Ok((rate, pcm))
    })
}
