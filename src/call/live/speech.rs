//! The agent's sentences on their way to playout: synthesised one at a time, in the order
//! the conversation gave them, each as a whole clip. The call's task polls
//! [`Speech::next`] for the next finished one and queues it in the media. A fixed line
//! (greeting, fallback, goodbye) is spoken from [`SpokenLines`] once it has been
//! synthesised, so it is heard even while the provider fails.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::StreamExt;

use crate::conversation::ReplyId;
use crate::engines::EngineError;
use crate::engines::tts::spoken_lines::SpokenLines;
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
    fixed: bool,
}

/// The sentence being synthesised; a fixed line keeps its request to keep its audio.
struct InFlight {
    reply: ReplyId,
    clip: PlayoutId,
    keep_as: Option<TtsRequest>,
    synthesis: Synthesis,
}

/// One call's speech synthesis queue.
pub(crate) struct Speech {
    tts: Arc<dyn TextToSpeech>,
    /// The fixed lines' audio, shared by the daemon's calls.
    lines: Arc<SpokenLines>,
    /// Voice and model for every sentence of the call.
    template: TtsRequest,
    queue: VecDeque<Pending>,
    in_flight: Option<InFlight>,
}

impl Speech {
    /// A queue speaking through `tts` with `template`'s voice and model, its fixed lines
    /// kept in `lines`.
    pub(crate) fn new(
        tts: Arc<dyn TextToSpeech>,
        lines: Arc<SpokenLines>,
        template: TtsRequest,
    ) -> Self {
        Speech {
            tts,
            lines,
            template,
            queue: VecDeque::new(),
            in_flight: None,
        }
    }

    /// What to ask the provider for `text` in `language`: the call's voice and model.
    fn request(&self, text: String, language: String) -> TtsRequest {
        TtsRequest {
            text,
            language: Some(language),
            ..self.template.clone()
        }
    }

    /// Synthesises ahead, in the background, the fixed `sentences` in `language` that are
    /// not kept yet (each by one call only). What they cost is not billed to the call.
    pub(crate) fn prepare_lines(&self, sentences: Vec<String>, language: &LanguageTag) {
        for text in sentences {
            let request = self.request(text, language.to_string());
            let provider = self.tts.name();
            if !self.lines.claim(provider, &request) {
                continue;
            }
            let (tts, lines) = (self.tts.clone(), self.lines.clone());
            tokio::spawn(async move {
                match synthesize(tts, request.clone()).await {
                    Ok((rate, pcm)) if !pcm.is_empty() => {
                        lines.keep(provider, &request, rate, &pcm)
                    }
                    _ => lines.release(provider, &request),
                }
            });
        }
    }

    /// Queues a sentence in `language` (`fixed`: a fixed line, not the model's words);
    /// returns the characters it will bill (a fixed line spoken from [`SpokenLines`]
    /// still counts, as the agent said it).
    pub(crate) fn push(
        &mut self,
        reply: ReplyId,
        clip: PlayoutId,
        text: String,
        language: &LanguageTag,
        fixed: bool,
    ) -> usize {
        let chars = text.chars().count();
        self.queue.push_back(Pending {
            reply,
            clip,
            text,
            language: language.to_string(),
            fixed,
        });
        chars
    }

    /// Drops every sentence of `reply` not yet handed over, the one being synthesised too.
    pub(crate) fn cancel(&mut self, reply: ReplyId) {
        self.queue.retain(|p| p.reply != reply);
        if self.in_flight.as_ref().is_some_and(|f| f.reply == reply) {
            self.in_flight = None;
        }
    }

    /// The next synthesised sentence; pending while there is none to make.
    /// Cancel-safe: a synthesis interrupted here resumes at the next call.
    pub(crate) async fn next(&mut self) -> (PlayoutId, Result<Audio, EngineError>) {
        if self.in_flight.is_none() {
            let Some(p) = self.queue.pop_front() else {
                return std::future::pending().await;
            };
            let request = self.request(p.text, p.language);
            if p.fixed
                && let Some(audio) = self.lines.get(self.tts.name(), &request)
            {
                metrics::counter!("vca_tts_lines_reused_total").increment(1);
                let (rate, pcm) = &*audio;
                return (p.clip, Ok((*rate, pcm.clone())));
            }
            let keep_as = p.fixed.then(|| request.clone());
            self.in_flight = Some(InFlight {
                reply: p.reply,
                clip: p.clip,
                keep_as,
                synthesis: synthesize(self.tts.clone(), request),
            });
        }
        let Some(f) = self.in_flight.as_mut() else {
            return std::future::pending().await;
        };
        let result = (&mut f.synthesis).await;
        let clip = f.clip;
        if let (Some(request), Ok((rate, pcm))) = (&f.keep_as, &result) {
            self.lines.keep(self.tts.name(), request, *rate, pcm);
        }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::engines::PcmChunk;
    use crate::engines::tts::TtsStream;

    /// A provider that speaks its first `works` requests and then fails every one, the
    /// way a provider going down mid-call does.
    #[derive(Debug)]
    struct FailingAfter {
        works: usize,
        asked: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl TextToSpeech for FailingAfter {
        fn name(&self) -> &'static str {
            "failing_after"
        }

        async fn synthesize(&self, request: TtsRequest) -> Result<TtsStream, EngineError> {
            if self.asked.fetch_add(1, Ordering::SeqCst) >= self.works {
                return Err(EngineError::Protocol {
                    provider: "failing_after",
                    detail: "503".into(),
                });
            }
            let samples = vec![request.text.len() as i16; 160];
            let chunk = PcmChunk {
                rate_hz: 8_000,
                samples,
            };
            Ok(Box::pin(futures_util::stream::iter([Ok(chunk)])))
        }
    }

    fn speech(works: usize) -> (Speech, Arc<FailingAfter>) {
        let tts = Arc::new(FailingAfter {
            works,
            asked: AtomicUsize::new(0),
        });
        let speech = Speech::new(tts.clone(), Arc::default(), TtsRequest::default());
        (speech, tts)
    }

    #[tokio::test]
    async fn a_fixed_line_once_spoken_is_heard_again_while_synthesis_fails() {
        let (mut speech, tts) = speech(1);
        let en = LanguageTag::parse("en-IN").unwrap();
        let sorry = "Sorry, could you say that again?";
        speech.push(ReplyId(1), PlayoutId(1), sorry.into(), &en, true);
        let (clip, first) = speech.next().await;
        assert_eq!(clip, PlayoutId(1));
        let first = first.unwrap();
        // The provider is down from here on.
        speech.push(ReplyId(2), PlayoutId(2), sorry.into(), &en, true);
        let (clip, again) = speech.next().await;
        assert_eq!((clip, again.unwrap()), (PlayoutId(2), first));
        assert_eq!(tts.asked.load(Ordering::SeqCst), 1, "not asked again");
    }

    #[tokio::test]
    async fn fallback_lines_prepared_ahead_are_heard_when_synthesis_fails_at_once() {
        let (mut speech, tts) = speech(2);
        let en = LanguageTag::parse("en-IN").unwrap();
        let lines = vec![
            "Sorry, I didn't catch that.".to_string(),
            "Could you say it again?".into(),
        ];
        speech.prepare_lines(lines.clone(), &en);
        speech.prepare_lines(lines.clone(), &en);
        let kept = |speech: &Speech| {
            lines.iter().all(|text| {
                let request = speech.request(text.clone(), en.to_string());
                speech.lines.get(speech.tts.name(), &request).is_some()
            })
        };
        for _ in 0..100 {
            if kept(&speech) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(
            tts.asked.load(Ordering::SeqCst),
            2,
            "each line asked for once"
        );
        // The provider fails from the first sentence of the call on; the lines are heard.
        for (n, text) in lines.into_iter().enumerate() {
            let clip = PlayoutId(n as u64);
            speech.push(ReplyId(1), clip, text, &en, true);
            let (got, audio) = speech.next().await;
            assert_eq!(got, clip);
            assert!(audio.is_ok());
        }
        assert_eq!(tts.asked.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_models_words_are_never_kept_nor_a_line_in_another_language() {
        let (mut speech, tts) = speech(2);
        let (en, hi) = (
            LanguageTag::parse("en-IN").unwrap(),
            LanguageTag::parse("hi-IN").unwrap(),
        );
        speech.push(
            ReplyId(1),
            PlayoutId(1),
            "Your order ships today.".into(),
            &en,
            false,
        );
        assert!(speech.next().await.1.is_ok());
        speech.push(ReplyId(2), PlayoutId(2), "Sorry?".into(), &en, true);
        assert!(speech.next().await.1.is_ok());
        // Synthesis fails now: the model's sentence again, and the line in Hindi, are asked
        // of the provider (and fail); the English line is still heard.
        speech.push(
            ReplyId(3),
            PlayoutId(3),
            "Your order ships today.".into(),
            &en,
            false,
        );
        assert!(speech.next().await.1.is_err());
        speech.push(ReplyId(4), PlayoutId(4), "Sorry?".into(), &hi, true);
        assert!(speech.next().await.1.is_err());
        speech.push(ReplyId(5), PlayoutId(5), "Sorry?".into(), &en, true);
        assert!(speech.next().await.1.is_ok());
        assert_eq!(tts.asked.load(Ordering::SeqCst), 4);
    }
}
