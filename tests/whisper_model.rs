//! `whisper-local`: the log-mel frontend through its public API, the bounded pool (refuses
//! when full, runs off the runtime, reports queueing) with a blocking stand-in engine, and
//! the real Whisper tiny.en model on phone-band espeak-ng speech (skipped when the model has
//! not been fetched or espeak-ng is missing, a failure in CI).

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use vca_bridge::whisper::mel::{N_FRAMES, mel_points};
use vca_bridge::whisper::{
    LogMel, ModelOptions, Recognition, Transcribe, WhisperError, WhisperModel, WhisperPool,
};
use vca_media::g711::Law;

use crate::support::whisper;

fn sine(freq: f32, seconds: f32, amplitude: f32) -> Vec<f32> {
    let n = (16_000.0 * seconds) as usize;
    (0..n)
        .map(|i| amplitude * (2.0 * std::f32::consts::PI * freq * i as f32 / 16_000.0).sin())
        .collect()
}

#[test]
fn mel_has_one_frame_per_hop_and_pads_windows_to_thirty_seconds() {
    let mel = LogMel::new(80).unwrap();
    let spec = mel.compute(&sine(440.0, 2.5, 0.5));
    assert_eq!(spec.n_mels(), 80);
    assert_eq!(spec.frames(), 250);
    assert_eq!(spec.window(0).len(), 80 * N_FRAMES);

    let long = mel.compute(&sine(440.0, 65.0, 0.5));
    assert_eq!(long.frames(), 6500);
    assert_eq!(
        long.window_starts().collect::<Vec<_>>(),
        vec![0, 3000, 6000]
    );
    let last = long.window(6000);
    assert_eq!(last[499], long.get(0, 6499).unwrap());
    assert!(last[500..N_FRAMES].iter().all(|&v| v == 0.0));
}

#[test]
fn a_sine_lands_in_the_mel_bin_of_its_frequency() {
    let mel = LogMel::new(80).unwrap();
    let centres = mel_points(16_000, 80);
    for freq in [300.0f32, 1000.0, 2500.0, 6000.0] {
        let spec = mel.compute(&sine(freq, 1.0, 0.5));
        let frame = 50;
        let loudest = (0..80)
            .max_by(|&a, &b| {
                spec.get(a, frame)
                    .unwrap()
                    .total_cmp(&spec.get(b, frame).unwrap())
            })
            .unwrap();
        // Filter i peaks at centres[i + 1]: the loudest bin is the one centred nearest.
        let nearest = (0..80)
            .min_by(|&a, &b| {
                (centres[a + 1] - f64::from(freq))
                    .abs()
                    .total_cmp(&(centres[b + 1] - f64::from(freq)).abs())
            })
            .unwrap();
        assert!(
            loudest.abs_diff(nearest) <= 1,
            "{freq} Hz: loudest bin {loudest}, expected about {nearest}"
        );
        // The maximum of the whole spectrogram maps to (max + 4) / 4 and bins far away sit at
        // the floor 8 below it.
        let top = spec.get(loudest, frame).unwrap();
        let far = spec.get((loudest + 40) % 80, frame).unwrap();
        assert!(top > far + 1.0, "{freq} Hz: {top} vs {far}");
        assert!(
            far >= top - 2.0 - 1e-4,
            "floor is max - 8 in log10, i.e. 2 after /4"
        );
    }
}

#[test]
fn silence_gives_the_floor_everywhere() {
    let mel = LogMel::new(80).unwrap();
    let spec = mel.compute(&vec![0.0; 16_000]);
    assert_eq!(spec.frames(), 100);
    for m in 0..80 {
        for t in 0..100 {
            // log10(1e-10) = -10, the maximum too, so (−10 + 4) / 4.
            assert_eq!(spec.get(m, t), Some(-1.5));
        }
    }
    assert_eq!(mel.compute(&[]).frames(), 0);
}

/// A stand-in engine that blocks until the test releases it and records its thread.
struct Gate {
    started: Mutex<mpsc::Sender<ThreadId>>,
    release: Mutex<mpsc::Receiver<()>>,
}

impl Transcribe for Gate {
    fn transcribe_blocking(
        &self,
        pcm: &[f32],
        language: Option<&str>,
    ) -> Result<Recognition, WhisperError> {
        self.started
            .lock()
            .unwrap()
            .send(std::thread::current().id())
            .unwrap();
        self.release.lock().unwrap().recv().unwrap();
        Ok(Recognition {
            text: format!("{} samples", pcm.len()),
            language: language.unwrap_or("en").to_owned(),
            no_speech_prob: 0.0,
        })
    }
}

fn gate() -> (Gate, mpsc::Receiver<ThreadId>, mpsc::Sender<()>) {
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let gate = Gate {
        started: Mutex::new(started_tx),
        release: Mutex::new(release_rx),
    };
    (gate, started_rx, release_tx)
}

/// Waits (without a time limit on the outcome) until `pool` has `depth` queued requests.
async fn until_queued(pool: &WhisperPool<Gate>, depth: usize) {
    while pool.queue_depth() != depth {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn pool_refuses_at_once_when_workers_and_queue_are_full() {
    let (engine, started, release) = gate();
    let pool = WhisperPool::new(engine, 1, 1).unwrap();
    assert_eq!(pool.capacity(), 2);

    let running = tokio::spawn({
        let pool = pool.clone();
        async move { pool.transcribe(vec![0.0; 160], Some("en")).await }
    });
    let started = tokio::task::spawn_blocking(move || {
        let first = started.recv().unwrap();
        (first, started)
    });
    let (_, started) = started.await.unwrap();

    let queued = tokio::spawn({
        let pool = pool.clone();
        async move { pool.transcribe(vec![0.0; 320], None).await }
    });
    until_queued(&pool, 1).await;
    assert_eq!(pool.in_flight(), 2);

    match pool.transcribe(vec![0.0; 480], None).await {
        Err(WhisperError::Busy { in_flight, limit }) => {
            assert_eq!((in_flight, limit), (2, 2));
        }
        other => panic!("expected Busy, got {other:?}"),
    }

    release.send(()).unwrap();
    let first = running.await.unwrap().unwrap();
    assert_eq!(first.text, "160 samples");
    assert_eq!(first.audio_seconds, 0.01);
    started.recv().unwrap();
    release.send(()).unwrap();
    let second = queued.await.unwrap().unwrap();
    assert_eq!(second.text, "320 samples");
    assert!(second.queued_for > Duration::ZERO);
    assert_eq!(pool.queue_depth(), 0);
    assert_eq!(pool.in_flight(), 0);

    // Room again once both are done.
    release.send(()).unwrap();
    let third = pool.transcribe_i16(&[0; 16], Some("de")).await.unwrap();
    assert_eq!(
        (third.text.as_str(), third.language.as_str()),
        ("16 samples", "de")
    );
}

#[tokio::test(flavor = "current_thread")]
async fn pool_runs_transcriptions_off_the_runtime_thread() {
    let (engine, started, release) = gate();
    let pool = WhisperPool::new(engine, 1, 0).unwrap();
    let runtime_thread = std::thread::current().id();
    let job = tokio::spawn({
        let pool = pool.clone();
        async move { pool.transcribe(vec![0.0; 16], None).await }
    });
    // The engine blocks its thread; this single-threaded runtime still gets the start
    // message through another blocking task, so it is not the one blocked.
    let worker_thread = tokio::task::spawn_blocking(move || started.recv().unwrap())
        .await
        .unwrap();
    assert_ne!(worker_thread, runtime_thread);
    release.send(()).unwrap();
    assert_eq!(job.await.unwrap().unwrap().text, "16 samples");
}

#[tokio::test(flavor = "current_thread")]
async fn a_cancelled_waiter_gives_its_queue_slot_back() {
    let (engine, started, release) = gate();
    let pool = WhisperPool::new(engine, 1, 1).unwrap();
    let running = tokio::spawn({
        let pool = pool.clone();
        async move { pool.transcribe(vec![0.0; 16], None).await }
    });
    let started = tokio::task::spawn_blocking(move || {
        started.recv().unwrap();
        started
    })
    .await
    .unwrap();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.transcribe(vec![0.0; 32], None).await }
    });
    until_queued(&pool, 1).await;
    waiter.abort();
    assert!(waiter.await.unwrap_err().is_cancelled());
    assert_eq!(pool.queue_depth(), 0);
    assert_eq!(pool.in_flight(), 1);
    release.send(()).unwrap();
    running.await.unwrap().unwrap();
    drop(started);
}

#[test]
fn pool_needs_a_worker() {
    let (engine, _started, _release) = gate();
    assert!(matches!(
        WhisperPool::new(engine, 0, 4),
        Err(WhisperError::InvalidOptions(_))
    ));
}

#[test]
fn loading_a_directory_without_a_model_says_what_is_missing() {
    let dir = std::env::temp_dir().join(format!("vca-whisper-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let err = WhisperModel::load(&dir, ModelOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            WhisperError::MissingFile {
                file: "model.bin",
                ..
            }
        ),
        "{err:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Sentences and the words each transcript must contain.
const KEY_WORDS: [(&str, &[&str]); 3] = [
    (
        "Please cancel my subscription at the end of this month.",
        &["cancel", "subscription", "month"],
    ),
    (
        "My package was damaged when it arrived this morning.",
        &["package", "damaged", "morning"],
    ),
    (
        "Can I speak with the manager about my complaint?",
        &["speak", "manager", "complaint"],
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_en_transcribes_phone_band_speech_with_its_key_words() {
    let Some(dir) = whisper::tiny_en() else {
        return;
    };
    let model = WhisperModel::load(&dir, ModelOptions::default()).unwrap();
    assert!(!model.is_multilingual());
    let pool = WhisperPool::with_shared(Arc::new(model), 1, 4).unwrap();
    for (i, (sentence, words)) in KEY_WORDS.iter().enumerate() {
        let law = if i % 2 == 0 { Law::Alaw } else { Law::Ulaw };
        let Some(speech) = whisper::phone_speech(sentence, law) else {
            return;
        };
        let transcript = pool.transcribe(speech, Some("en")).await.unwrap();
        eprintln!(
            "{law:?}: {:?} ({:.1} s audio, {:?} compute)",
            transcript.text, transcript.audio_seconds, transcript.compute
        );
        let heard = vca_sim::speech::normalize(&transcript.text);
        for word in *words {
            assert!(
                heard.iter().any(|w| w == word),
                "{word:?} missing from {:?} (said: {sentence:?})",
                transcript.text
            );
        }
        assert_eq!(transcript.language, "en");
        assert!(transcript.compute > Duration::ZERO);
    }
    // An English-only model refuses other languages, and silence is no speech.
    assert!(matches!(
        pool.transcribe(vec![0.0; 16_000], Some("de")).await,
        Err(WhisperError::UnsupportedLanguage(_))
    ));
    let silence = pool
        .transcribe(vec![0.0; 32_000], Some("en"))
        .await
        .unwrap();
    assert_eq!(
        silence.text, "",
        "silence transcribed as {:?}",
        silence.text
    );
}
