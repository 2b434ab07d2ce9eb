//! [`FakeHttp`]: the HTTP providers on one loopback server, OpenAI-compatible chat (SSE),
//! speech (PCM 24 kHz) and transcriptions (multipart WAV), and ElevenLabs streaming speech.
//! Requests are checked like the real APIs do; what they get is the [`Behaviour`] (changeable
//! while it runs) unless a [`Reply`] was scripted for that route.
//!
//! Every route starts with [`prelude`]: the request is counted (and recorded, when the
//! behaviour says so), the scripted reply taken, a scripted error or slow start played;
//! then the provider's own checks, its latency, and the streamed body.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::response::Response;

use super::body::{BodyCounts, chunks, ragged};
use super::record::{Log, wait_until};
pub use super::script::Reply;
use super::script::Scripts;
use super::server::{Server, any_loopback_port};
use super::waveform::{speech_like_24k, tone};
use super::wire::le_bytes;
use super::{EngineLatencies, FakeEnginesError, elevenlabs, lock, openai, pause};

/// The agent's reply to every turn of a load run.
pub const REPLY_TEXT: &str = "Sure, I can help with that. Is there anything else?";
/// What every utterance of a load run is transcribed as.
pub const TRANSCRIPT_TEXT: &str = "I would like to book a table for two tonight.";
/// Milliseconds of speech per character of input text in a load run.
pub const MS_PER_CHAR: u64 = 50;
/// The longest speech-like audio one request gets (the prebuilt buffer's length).
const SPEECH_LIKE_MAX_SECONDS: usize = 20;
/// The largest request body accepted (a long utterance's WAV upload fits many times).
const BODY_LIMIT: usize = 16 * 1024 * 1024;
/// Gap between the pieces of a [`Framing::Ragged`] body.
const RAGGED_GAP: Duration = Duration::from_millis(2);

/// Which endpoint a request hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST /v1/chat/completions`.
    Chat,
    /// `POST /v1/audio/speech`.
    Speech,
    /// `POST /v1/audio/transcriptions`.
    Transcriptions,
    /// `POST /v1/text-to-speech/{voice}/stream`.
    ElevenLabs,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The endpoint.
    pub route: Route,
    /// The voice id of an ElevenLabs request.
    pub voice: Option<String>,
    /// The raw query string.
    pub query: Option<String>,
    /// All headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
    /// For transcriptions: the form fields (file excluded).
    pub form: HashMap<String, String>,
    /// Rate and samples of an uploaded WAV.
    pub wav: Option<(u32, usize)>,
}

impl Received {
    pub(crate) fn new(route: Route, headers: &HeaderMap, body: &Bytes) -> Received {
        Received {
            route,
            voice: None,
            query: None,
            headers: headers.clone(),
            body: body.clone(),
            form: HashMap::new(),
            wav: None,
        }
    }
}

/// The signal the speech routes speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voice {
    /// A 440 Hz tone, amplitude 8000 ([`super::tone`]), as long as asked for.
    Tone,
    /// The speech-like signal ([`super::speech_like`]), which the far end's VAD hears as
    /// speech; at most 20 s per request.
    SpeechLike,
}

/// How streamed bodies are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Pieces of 7, 301, 3, 64, 1 and 129 bytes, cycling, 2 ms apart: SSE lines and samples
    /// split anywhere, as a network may deliver them.
    Ragged,
    /// One SSE event or 100 ms of audio per piece, back to back: everything after the
    /// latency is the client's own time.
    Whole,
}

/// How the fake answers, changeable while it runs.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// The only key accepted (Bearer for OpenAI routes, `xi-api-key` for ElevenLabs).
    pub api_key: String,
    /// The chat reply, streamed word by word.
    pub chat_reply: String,
    /// The transcription text.
    pub transcript: String,
    /// Milliseconds of speech generated per character of input text.
    pub ms_per_char: u32,
    /// Leave out the usage chunk even when asked (as some local servers do).
    pub omit_usage: bool,
    /// Waits after a request's checks, before its first byte.
    pub latencies: EngineLatencies,
    /// What the speech routes sound like.
    pub voice: Voice,
    /// How bodies are cut.
    pub framing: Framing,
    /// Keep every request (headers and body) for [`FakeHttp::received`]; off for load
    /// runs, which would otherwise hold every upload.
    pub record: bool,
    /// Percent of requests (0-100) answered `503` instead of their normal reply, chosen
    /// by a fixed pseudo-random sequence per route (see [`fails`]); scripted replies are
    /// taken first. The chaos runs' "engines failing" scenario.
    pub failure_percent: u8,
}

impl Default for Behaviour {
    /// What the daemon's tests expect: no latency, a tone, ragged bodies, everything kept.
    fn default() -> Self {
        Behaviour {
            api_key: "test-key-123".into(),
            chat_reply: "Hello there. How can I help you today?".into(),
            transcript: "I would like to book a table".into(),
            ms_per_char: 20,
            omit_usage: false,
            latencies: EngineLatencies::ZERO,
            voice: Voice::Tone,
            framing: Framing::Ragged,
            record: true,
            failure_percent: 0,
        }
    }
}

impl Behaviour {
    /// A load run's engines: [`REPLY_TEXT`], [`TRANSCRIPT_TEXT`], speech-like audio at
    /// [`MS_PER_CHAR`], whole pieces after fixed `latencies`, nothing recorded.
    pub fn for_load(api_key: impl Into<String>, latencies: EngineLatencies) -> Behaviour {
        Behaviour {
            api_key: api_key.into(),
            chat_reply: REPLY_TEXT.into(),
            transcript: TRANSCRIPT_TEXT.into(),
            ms_per_char: MS_PER_CHAR as u32,
            omit_usage: false,
            latencies,
            voice: Voice::SpeechLike,
            framing: Framing::Whole,
            record: false,
            failure_percent: 0,
        }
    }

    /// The gap between body pieces.
    pub(crate) fn gap(&self) -> Duration {
        match self.framing {
            Framing::Ragged => RAGGED_GAP,
            Framing::Whole => Duration::ZERO,
        }
    }

    /// `bytes` cut as [`Self::framing`] says, `whole` bytes a piece for [`Framing::Whole`].
    pub(crate) fn pieces(&self, bytes: Bytes, whole: usize) -> Vec<Bytes> {
        match self.framing {
            Framing::Ragged => ragged(&bytes),
            Framing::Whole => chunks(&bytes, whole),
        }
    }
}

/// Samples (24 kHz) of speech a load run's fake returns for `text`.
pub fn speech_samples_for(text: &str) -> usize {
    speech_samples(Voice::SpeechLike, MS_PER_CHAR as u32, 24_000, text)
}

/// Samples at `rate` of speech for `text` at `ms_per_char`, capped for the speech-like voice.
pub(crate) fn speech_samples(voice: Voice, ms_per_char: u32, rate: u32, text: &str) -> usize {
    let ms = text.chars().count() as u64 * u64::from(ms_per_char);
    let n = usize::try_from(ms * u64::from(rate) / 1000).unwrap_or(usize::MAX);
    match voice {
        Voice::Tone => n,
        Voice::SpeechLike => n.min(SPEECH_LIKE_MAX_SECONDS * rate as usize),
    }
}

/// What every route shares.
#[derive(Debug)]
pub(crate) struct Shared {
    behaviour: Mutex<Behaviour>,
    scripts: Scripts<Route>,
    received: Log<Received>,
    requests: Mutex<HashMap<Route, usize>>,
    pub(crate) bodies: Arc<BodyCounts>,
    /// 20 s of the speech-like signal at 24 kHz, built once (it takes a while).
    speech_like_24k: OnceLock<Bytes>,
}

impl Shared {
    /// A copy of the current behaviour.
    pub(crate) fn behaviour(&self) -> Behaviour {
        lock(&self.behaviour).clone()
    }

    /// 16-bit little-endian PCM of `n` samples at `rate` in `voice`.
    pub(crate) fn pcm(&self, voice: Voice, rate: u32, n: usize) -> Bytes {
        match voice {
            Voice::Tone => Bytes::from(le_bytes(&tone(rate, n))),
            Voice::SpeechLike if rate == 24_000 => {
                let all = self.speech_like_24k();
                all.slice(..(n * 2).min(all.len()))
            }
            Voice::SpeechLike => Bytes::from(le_bytes(&super::speech_like(rate, n))),
        }
    }

    fn speech_like_24k(&self) -> &Bytes {
        self.speech_like_24k.get_or_init(|| {
            Bytes::from(le_bytes(&speech_like_24k(SPEECH_LIKE_MAX_SECONDS * 24_000)))
        })
    }
}

/// The start of every route: `received` counted (and kept if recording), the scripted
/// reply taken; a scripted status is the answer (`Err`), a slow start waits.
pub(crate) async fn prelude(shared: &Shared, received: Received) -> Result<Reply, Response> {
    let route = received.route;
    let nth = {
        let mut counts = lock(&shared.requests);
        let n = counts.entry(route).or_default();
        *n += 1;
        *n
    };
    let (record, failure_percent) = {
        let b = lock(&shared.behaviour);
        (b.record, b.failure_percent)
    };
    if record {
        shared.received.push(received);
    }
    let reply = shared.scripts.next(&route);
    if reply == Reply::Normal && fails(route, nth, failure_percent) {
        return Err(openai::scripted_status(503, None));
    }
    match &reply {
        Reply::Status {
            status,
            retry_after,
        } => Err(openai::scripted_status(*status, retry_after.as_deref())),
        Reply::SlowStart(d) => {
            pause(*d).await;
            Ok(reply)
        }
        _ => Ok(reply),
    }
}

/// Whether the `nth` request to `route` fails at `percent`: splitmix64 of the pair, so a
/// run's failures are the same every time yet spread like independent draws (a retry is
/// as likely to fail as the first try).
pub(crate) fn fails(route: Route, nth: usize, percent: u8) -> bool {
    if percent == 0 {
        return false;
    }
    let mut z = (nth as u64) ^ ((route as u64) << 56);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    z % 100 < u64::from(percent)
}

/// The running fake; the server stops when this is dropped.
#[derive(Debug)]
pub struct FakeHttp {
    server: Server,
    shared: Arc<Shared>,
}

impl FakeHttp {
    /// Starts on 127.0.0.1:0 with the default behaviour.
    pub async fn start() -> Result<FakeHttp, FakeEnginesError> {
        Self::start_with(Behaviour::default()).await
    }

    /// Starts on 127.0.0.1:0.
    pub async fn start_with(behaviour: Behaviour) -> Result<FakeHttp, FakeEnginesError> {
        Self::bind(any_loopback_port(), behaviour).await
    }

    /// Starts on `listen`, which must be loopback.
    pub async fn bind(
        listen: SocketAddr,
        behaviour: Behaviour,
    ) -> Result<FakeHttp, FakeEnginesError> {
        let speech_like = behaviour.voice == Voice::SpeechLike;
        let shared = Arc::new(Shared {
            behaviour: Mutex::new(behaviour),
            scripts: Scripts::default(),
            received: Log::default(),
            requests: Mutex::new(HashMap::new()),
            bodies: Arc::default(),
            speech_like_24k: OnceLock::new(),
        });
        if speech_like {
            // Built before the first request, so that it does not pay for it.
            shared.speech_like_24k();
        }
        let app = Router::new()
            .merge(openai::routes())
            .merge(elevenlabs::routes())
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(shared.clone());
        let server = Server::start(listen, app).await?;
        Ok(FakeHttp { server, shared })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:PORT/v1`, the base URL the daemon's providers take.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr())
    }

    /// The accepted key.
    pub fn api_key(&self) -> String {
        lock(&self.shared.behaviour).api_key.clone()
    }

    /// Changes the behaviour.
    pub fn set(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut lock(&self.shared.behaviour));
    }

    /// Queues replies for the next requests to `route`.
    pub fn script(&self, route: Route, replies: impl IntoIterator<Item = Reply>) {
        self.shared.scripts.push(route, replies);
    }

    /// Every request received so far (none unless [`Behaviour::record`]).
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.snapshot()
    }

    /// Requests received on `route` (counted even when not recorded).
    pub fn count(&self, route: Route) -> usize {
        lock(&self.shared.requests)
            .get(&route)
            .copied()
            .unwrap_or(0)
    }

    /// Streamed bodies the client went away from before their end.
    pub fn dropped_early(&self) -> usize {
        self.shared.bodies.dropped_early.load(Ordering::SeqCst)
    }

    /// Streamed bodies sent to the end.
    pub fn completed(&self) -> usize {
        self.shared.bodies.completed.load(Ordering::SeqCst)
    }

    /// Waits (up to 5 s) until `dropped_early` reaches `n`.
    pub async fn wait_dropped_early(&self, n: usize) -> bool {
        wait_until(|| self.dropped_early() >= n).await
    }

    /// Stops serving.
    pub fn stop(&self) {
        self.server.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speech_length_follows_the_text_and_the_voice() {
        assert_eq!(speech_samples_for("abcd"), 4 * 50 * 24);
        assert_eq!(
            speech_samples_for(&"x".repeat(100_000)),
            SPEECH_LIKE_MAX_SECONDS * 24_000
        );
        assert_eq!(speech_samples(Voice::Tone, 20, 8000, "Hello"), 5 * 20 * 8);
        assert_eq!(
            speech_samples(Voice::Tone, 50, 24_000, &"x".repeat(100_000)),
            100_000 * 50 * 24
        );
    }

    #[test]
    fn the_failure_share_is_what_was_asked_and_independent_per_request() {
        let count = |route, percent| (1..=10_000).filter(|n| fails(route, *n, percent)).count();
        assert_eq!(count(Route::Chat, 0), 0);
        assert_eq!(count(Route::Chat, 100), 10_000);
        for route in [Route::Chat, Route::Speech, Route::Transcriptions] {
            let n = count(route, 50);
            assert!((4_700..=5_300).contains(&n), "{route:?}: {n} of 10000");
        }
        // A retry right after a failure fails about half the time too (not alternating).
        let after_failure: Vec<bool> = (1..10_000)
            .filter(|n| fails(Route::Chat, *n, 50))
            .map(|n| fails(Route::Chat, n + 1, 50))
            .collect();
        let again = after_failure.iter().filter(|f| **f).count();
        assert!(
            (again * 100 / after_failure.len()).abs_diff(50) <= 5,
            "{again} of {}",
            after_failure.len()
        );
    }
}
