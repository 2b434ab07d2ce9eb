//! One agent reply as a task: stream the language model, split the text into sentences
//! as it arrives, synthesise each sentence and queue it for playout, reporting progress to
//! the conversation. Aborting the task cancels the model and speech requests in flight
//! (their streams are dropped), which is how barge-in stops a reply.

use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::sentences::SentenceSplitter;
use crate::call::media_driver::MediaPlayer;
use crate::engines::EngineError;
use crate::engines::llm::{ChatCompletion, ChatRequest, LlmEvent, TokenUsage};
use crate::engines::tts::{TextToSpeech, TtsRequest};
use crate::media::playout::PlayoutId;

/// Where the reply's words come from.
#[derive(Debug, Clone)]
pub enum ReplySource {
    /// The language model answers the conversation.
    Model(ChatRequest),
    /// A fixed line (greeting, goodbye, fallback).
    Fixed(String),
}

/// Progress of a reply, in order.
#[derive(Debug)]
pub enum ReplyEvent {
    /// A sentence was queued for playout as clip `id`.
    Queued { id: PlayoutId, text: String },
    /// A sentence could not be synthesised and was skipped.
    Skipped { text: String, error: EngineError },
    /// The model failed; `spoke_any` says whether any sentence was queued before.
    ModelFailed { error: EngineError, spoke_any: bool },
    /// All sentences are queued (or skipped); nothing more follows.
    Finished {
        /// The whole text (end-of-call marker removed).
        text: String,
        /// Token usage, for model replies.
        usage: Option<TokenUsage>,
        /// Characters sent to speech synthesis.
        tts_chars: usize,
        /// The model asked to end the call.
        end_call: bool,
    },
}

/// What a reply needs to run.
pub struct ReplyJob {
    pub source: ReplySource,
    pub llm: Arc<dyn ChatCompletion>,
    pub tts: Arc<dyn TextToSpeech>,
    /// Voice, model and rate for every sentence.
    pub tts_template: TtsRequest,
    pub player: MediaPlayer,
    /// The first clip id this reply may use; ids go up by one per sentence.
    pub first_id: u64,
    /// The configured end-of-call marker (empty: none).
    pub end_marker: String,
    pub events: mpsc::Sender<ReplyEvent>,
}

impl ReplyJob {
    /// Runs the reply to its end. Meant to be spawned and aborted on barge-in.
    pub async fn run(self) {
        let (sentence_tx, sentence_rx) = mpsc::unbounded_channel::<String>();
        let speak = speak_sentences(
            sentence_rx,
            self.tts.clone(),
            self.tts_template.clone(),
            self.player.clone(),
            self.first_id,
            self.events.clone(),
        );
        let produce = produce_sentences(
            self.source,
            self.llm,
            sentence_tx,
            self.end_marker,
            self.events.clone(),
        );
        let ((text, usage, end_call, model_error), tts_chars) = tokio::join!(produce, speak);
        if let Some((error, spoke_any)) = model_error {
            let _ = self
                .events
                .send(ReplyEvent::ModelFailed { error, spoke_any })
                .await;
        }
        let _ = self
            .events
            .send(ReplyEvent::Finished {
                text,
                usage,
                tts_chars,
                end_call,
            })
            .await;
    }
}

type Produced = (
    String,
    Option<TokenUsage>,
    bool,
    Option<(EngineError, bool)>,
);

async fn produce_sentences(
    source: ReplySource,
    llm: Arc<dyn ChatCompletion>,
    out: mpsc::UnboundedSender<String>,
    end_marker: String,
    _events: mpsc::Sender<ReplyEvent>,
) -> Produced {
    let clean = |s: &str| -> String {
        if end_marker.is_empty() {
            s.trim().to_string()
        } else {
            s.replace(end_marker.as_str(), " ").trim().to_string()
        }
    };
    match source {
        ReplySource::Fixed(text) => {
            let mut splitter = SentenceSplitter::new();
            for s in splitter.push(&text).into_iter().chain(splitter.finish()) {
                let _ = out.send(s);
            }
            (text, None, false, None)
        }
        ReplySource::Model(request) => {
            let started = tokio::time::Instant::now();
            let mut stream = match llm.stream_chat(request).await {
                Ok(s) => s,
                Err(e) => return (String::new(), None, false, Some((e, false))),
            };
            metrics::histogram!("vca_llm_first_token_seconds")
                .record(started.elapsed().as_secs_f64());
            let mut splitter = SentenceSplitter::new();
            let mut full = String::new();
            let mut sent_any = false;
            let mut usage = None;
            let mut failure = None;
            while let Some(item) = stream.next().await {
                match item {
                    Ok(LlmEvent::Delta(delta)) => {
                        full.push_str(&delta);
                        for s in splitter.push(&delta) {
                            let s = clean(&s);
                            if !s.is_empty() {
                                sent_any = true;
                                let _ = out.send(s);
                            }
                        }
                    }
                    Ok(LlmEvent::Done { usage: u, .. }) => {
                        usage = Some(u);
                        break;
                    }
                    Err(e) => {
                        failure = Some((e, sent_any));
                        break;
                    }
                }
            }
            if failure.is_none()
                && let Some(rest) = splitter.finish()
            {
                let rest = clean(&rest);
                if !rest.is_empty() {
                    let _ = out.send(rest);
                }
            }
            let end_call = !end_marker.is_empty() && full.contains(end_marker.as_str());
            (clean(&full), usage, end_call, failure)
        }
    }
}

async fn speak_sentences(
    mut sentences: mpsc::UnboundedReceiver<String>,
    tts: Arc<dyn TextToSpeech>,
    template: TtsRequest,
    player: MediaPlayer,
    first_id: u64,
    events: mpsc::Sender<ReplyEvent>,
) -> usize {
    let mut next_id = first_id;
    let mut chars = 0;
    while let Some(text) = sentences.recv().await {
        let request = TtsRequest {
            text: text.clone(),
            ..template.clone()
        };
        chars += request.billable_chars();
        let started = tokio::time::Instant::now();
        let audio = async {
            let mut stream = tts.synthesize(request).await?;
            metrics::histogram!("vca_tts_first_audio_seconds")
                .record(started.elapsed().as_secs_f64());
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
            Ok::<_, EngineError>((rate, pcm))
        }
        .await;
        match audio {
            Ok((rate, pcm)) if !pcm.is_empty() => {
                let id = PlayoutId(next_id);
                next_id += 1;
                if player.play(id, rate, pcm).await.is_err() {
                    break;
                }
                let _ = events.send(ReplyEvent::Queued { id, text }).await;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(error = %error, "speech synthesis failed; sentence skipped");
                metrics::counter!("vca_fallbacks_total", "kind" => "tts_skip").increment(1);
                let _ = events.send(ReplyEvent::Skipped { text, error }).await;
            }
        }
    }
    chars
}
