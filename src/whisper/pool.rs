//! A bounded pool that runs blocking transcriptions off the async runtime. At most `workers`
//! transcriptions run at once (each on tokio's blocking threads) and at most `queue` more wait
//! for a worker; a request beyond that is refused at once with [`WhisperError::Busy`], never
//! left to pile up. The pool reports its queueing: [`WhisperPool::queue_depth`], and the
//! `metrics` gauge `vca_whisper_queue_depth` and histograms `vca_whisper_queue_seconds` and
//! `vca_whisper_compute_seconds`. A caller that drops its future while waiting gives its slot
//! back; one that drops it while its transcription runs does not stop that run (CTranslate2
//! cannot be interrupted), and the worker stays taken until it ends.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::WhisperError;
use super::model::{Transcribe, WhisperModel, audio_seconds};

/// Gauge: requests waiting for a worker.
pub const METRIC_QUEUE_DEPTH: &str = "vca_whisper_queue_depth";
/// Histogram: seconds a request waited for a worker.
pub const METRIC_QUEUE_SECONDS: &str = "vca_whisper_queue_seconds";
/// Histogram: seconds a transcription computed.
pub const METRIC_COMPUTE_SECONDS: &str = "vca_whisper_compute_seconds";

/// Registers descriptions of the pool's metrics with the installed recorder.
pub fn describe_metrics() {
    metrics::describe_gauge!(METRIC_QUEUE_DEPTH, "Whisper requests waiting for a worker.");
    metrics::describe_histogram!(
        METRIC_QUEUE_SECONDS,
        metrics::Unit::Seconds,
        "Time a Whisper request waited for a worker."
    );
    metrics::describe_histogram!(
        METRIC_COMPUTE_SECONDS,
        metrics::Unit::Seconds,
        "Time a Whisper transcription computed."
    );
}

/// One finished transcription.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// What was said; empty when there was no speech.
    pub text: String,
    /// The language code used (given or detected).
    pub language: String,
    /// Length of the audio transcribed.
    pub audio_seconds: f64,
    /// Time spent waiting for a worker.
    pub queued_for: Duration,
    /// Time the transcription itself took.
    pub compute: Duration,
}

impl Transcript {
    /// Compute time over audio time (below 1 is faster than real time).
    pub fn real_time_factor(&self) -> f64 {
        if self.audio_seconds > 0.0 {
            self.compute.as_secs_f64() / self.audio_seconds
        } else {
            0.0
        }
    }
}

/// Runs transcriptions of a shared model on a bounded number of workers with a bounded queue.
/// Cheap to clone: clones share the model, the workers and the queue.
#[derive(Debug)]
pub struct WhisperPool<M: Transcribe = WhisperModel> {
    inner: Arc<PoolInner<M>>,
}

impl<M: Transcribe> Clone for WhisperPool<M> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

#[derive(Debug)]
struct PoolInner<M> {
    model: Arc<M>,
    /// Permits for queued plus running requests (`workers + queue`): admission control.
    admitted: Semaphore,
    /// Permits for running requests (`workers`).
    running: Arc<Semaphore>,
    /// Requests admitted and still waiting for a worker.
    waiting: AtomicUsize,
    workers: usize,
    limit: usize,
}

/// Counts one request as waiting while it lives; keeps the gauge in step.
struct WaitingGuard<'a>(&'a AtomicUsize);

impl<'a> WaitingGuard<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        let depth = counter.fetch_add(1, Ordering::SeqCst) + 1;
        metrics::gauge!(METRIC_QUEUE_DEPTH).set(depth as f64);
        Self(counter)
    }
}

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        let depth = self.0.fetch_sub(1, Ordering::SeqCst).saturating_sub(1);
        metrics::gauge!(METRIC_QUEUE_DEPTH).set(depth as f64);
    }
}

impl<M: Transcribe> WhisperPool<M> {
    /// A pool running at most `workers` transcriptions of `model` at once, with `queue`
    /// more waiting. For a [`WhisperModel`], `workers` should not exceed its replicas
    /// (extra workers would wait inside CTranslate2 and their wait would count as compute).
    pub fn new(model: M, workers: usize, queue: usize) -> Result<Self, WhisperError> {
        Self::with_shared(Arc::new(model), workers, queue)
    }

    /// As [`WhisperPool::new`], for a model already behind an `Arc`.
    pub fn with_shared(model: Arc<M>, workers: usize, queue: usize) -> Result<Self, WhisperError> {
        if workers == 0 {
            return Err(WhisperError::InvalidOptions(
                "a whisper pool needs at least one worker".into(),
            ));
        }
        let limit = workers.saturating_add(queue);
        metrics::gauge!(METRIC_QUEUE_DEPTH).set(0.0);
        Ok(Self {
            inner: Arc::new(PoolInner {
                model,
                admitted: Semaphore::new(limit),
                running: Arc::new(Semaphore::new(workers)),
                waiting: AtomicUsize::new(0),
                workers,
                limit,
            }),
        })
    }

    /// The model the pool runs.
    pub fn model(&self) -> &M {
        &self.inner.model
    }

    /// Requests admitted and waiting for a worker now.
    pub fn queue_depth(&self) -> usize {
        self.inner.waiting.load(Ordering::SeqCst)
    }

    /// Requests queued or running now.
    pub fn in_flight(&self) -> usize {
        self.inner.limit - self.inner.admitted.available_permits()
    }

    /// Transcriptions that can run at once.
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// Requests that can be in flight before [`WhisperError::Busy`]: workers plus queue.
    pub fn capacity(&self) -> usize {
        self.inner.limit
    }

    /// Transcribes `pcm_16k_mono` (16 kHz mono, samples in [-1, 1]) in `language` (e.g.
    /// `"en"`), or the detected language when `None`. Refuses at once with
    /// [`WhisperError::Busy`] when the workers and the queue are all taken.
    pub async fn transcribe(
        &self,
        pcm_16k_mono: Vec<f32>,
        language: Option<&str>,
    ) -> Result<Transcript, WhisperError> {
        let inner = &self.inner;
        let _admitted = inner
            .admitted
            .try_acquire()
            .map_err(|_| WhisperError::Busy {
                in_flight: self.in_flight(),
                limit: inner.limit,
            })?;
        let enqueued = Instant::now();
        let worker = {
            let _waiting = WaitingGuard::enter(&inner.waiting);
            Arc::clone(&inner.running)
                .acquire_owned()
                .await
                .map_err(|_| WhisperError::Worker("pool closed".into()))?
        };
        let queued_for = enqueued.elapsed();
        metrics::histogram!(METRIC_QUEUE_SECONDS).record(queued_for.as_secs_f64());

        let model = Arc::clone(&inner.model);
        let language = language.map(str::to_owned);
        let samples = pcm_16k_mono.len();
        let (recognition, compute) = tokio::task::spawn_blocking(move || {
            // The worker permit lives as long as the run, even if the caller goes away.
            let _worker = worker;
            let started = Instant::now();
            let result = model.transcribe_blocking(&pcm_16k_mono, language.as_deref());
            (result, started.elapsed())
        })
        .await
        .map_err(|e| WhisperError::Worker(e.to_string()))?;
        metrics::histogram!(METRIC_COMPUTE_SECONDS).record(compute.as_secs_f64());
        let recognition = recognition?;
        Ok(Transcript {
            text: recognition.text,
            language: recognition.language,
            audio_seconds: audio_seconds(samples),
            queued_for,
            compute,
        })
    }

    /// As [`WhisperPool::transcribe`], for 16-bit PCM (16 kHz mono).
    pub async fn transcribe_i16(
        &self,
        pcm_16k_mono: &[i16],
        language: Option<&str>,
    ) -> Result<Transcript, WhisperError> {
        self.transcribe(pcm_i16_to_f32(pcm_16k_mono), language)
            .await
    }
}

/// 16-bit PCM to floats in [-1, 1) (divided by 32768, as whisper's `load_audio`).
pub fn pcm_i16_to_f32(pcm: &[i16]) -> Vec<f32> {
    pcm.iter().map(|&s| f32::from(s) / 32768.0).collect()
}
