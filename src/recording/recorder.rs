//! The recorder: a few threads (`VCA_RECORDING_THREADS`) that own every recording being
//! written, off the runtime and off the media path. Media tasks hand them G.711 frames
//! through a [`RecordingTap`] (a bounded channel's `try_send`: never blocks, never
//! allocates; a full queue drops the frame and counts it); each thread decodes, aligns the
//! two sides ([`StereoAligner`]) and writes Ogg Opus ([`OggOpusWriter`]) straight to the
//! file. A write error (a full disk) ends that recording only: counted, logged once, the
//! call goes on and the segment's row says what was kept.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::BufWriter;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use tokio::sync::oneshot;
use uuid::Uuid;

use crate::media::FRAME_SAMPLES;
use crate::media::g711::Law;
use crate::recording::aligner::{Side, StereoAligner};
use crate::recording::decode::last_granule;
use crate::recording::ogg_opus::{OggOpusError, OggOpusWriter};

/// Messages queued per recorder thread: about a second of 40 recorded calls.
const QUEUE: usize = 4_096;
/// How long opening or closing a recording may wait for room in a full queue.
const CONTROL_WAIT: Duration = Duration::from_secs(2);

/// How a segment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentOutcome {
    /// Bytes in the file.
    pub bytes: u64,
    /// Audio written, in ms.
    pub duration_ms: u64,
    /// Why writing stopped early (the file keeps what was written before), if it did.
    pub error: Option<String>,
}

/// Errors of starting or ending a recording.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// Every recorder thread's queue stayed full.
    #[error("the recorder is overloaded")]
    Overloaded,
    /// The recorder threads have stopped.
    #[error("the recorder has stopped")]
    Stopped,
}

enum Message {
    Open {
        key: u64,
        call_id: Uuid,
        serial: u32,
        path: PathBuf,
        law: Law,
    },
    Begin {
        key: u64,
        origin_ms: u64,
    },
    Frame {
        key: u64,
        side: Side,
        at_ms: u64,
        codes: [u8; FRAME_SAMPLES],
    },
    Close {
        key: u64,
        done: oneshot::Sender<SegmentOutcome>,
    },
}

/// The recorder threads. Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<RecorderInner>,
}

struct RecorderInner {
    /// One queue per thread; a thread ends once every sender of its queue is gone.
    workers: Vec<SyncSender<Message>>,
    next_key: AtomicU64,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("threads", &self.inner.workers.len())
            .finish()
    }
}

impl Recorder {
    /// Starts `threads` recorder threads (at least one).
    pub fn start(threads: usize) -> std::io::Result<Self> {
        let mut workers = Vec::new();
        for i in 0..threads.max(1) {
            let (tx, rx) = sync_channel(QUEUE);
            std::thread::Builder::new()
                .name(format!("vca-recorder-{i}"))
                .spawn(move || run(rx))?;
            workers.push(tx);
        }
        Ok(Self {
            inner: Arc::new(RecorderInner {
                workers,
                next_key: AtomicU64::new(1),
            }),
        })
    }

    /// Starts a recording into `path` (its directories are made, the file is mode 0640)
    /// of a call whose media speaks `law`. Opening happens on the recorder thread: a
    /// failure shows in the outcome of [`Recording::finish`].
    /// `segment` (1, 2, …) gives each of a call's files its own Ogg serial, so they chain.
    pub async fn open(
        &self,
        call_id: Uuid,
        segment: i32,
        path: PathBuf,
        law: Law,
    ) -> Result<Recording, RecorderError> {
        let key = self.inner.next_key.fetch_add(1, Ordering::Relaxed);
        let worker = self
            .inner
            .workers
            .get(key as usize % self.inner.workers.len())
            .ok_or(RecorderError::Stopped)?
            .clone();
        let serial = u32::from_le_bytes(call_id.as_bytes()[..4].try_into().unwrap_or([0; 4]))
            ^ (segment as u32).wrapping_mul(0x9E37_79B9);
        send_control(
            &worker,
            Message::Open {
                key,
                call_id,
                serial,
                path,
                law,
            },
        )
        .await?;
        Ok(Recording { worker, key })
    }
}

/// One recording being written: the session's side of it.
#[derive(Debug)]
pub struct Recording {
    worker: SyncSender<Message>,
    key: u64,
}

impl Recording {
    /// The media task's side: where it puts frames.
    pub fn tap(&self) -> RecordingTap {
        RecordingTap {
            worker: self.worker.clone(),
            key: self.key,
        }
    }

    /// Ends the recording once the frames queued before it are written (stop the media
    /// first), and says what the file holds.
    pub async fn finish(self) -> Result<SegmentOutcome, RecorderError> {
        let (done, outcome) = oneshot::channel();
        send_control(
            &self.worker,
            Message::Close {
                key: self.key,
                done,
            },
        )
        .await?;
        outcome.await.map_err(|_| RecorderError::Stopped)
    }
}

/// Where a media task puts the frames of a recorded call. Every method is a `try_send`:
/// it never blocks and never allocates; `false` means the frame was dropped.
#[derive(Debug, Clone)]
pub struct RecordingTap {
    worker: SyncSender<Message>,
    key: u64,
}

impl RecordingTap {
    /// The recording's timeline starts at `origin_ms` of the call's media.
    pub fn begin(&self, origin_ms: u64) -> bool {
        self.worker
            .try_send(Message::Begin {
                key: self.key,
                origin_ms,
            })
            .is_ok()
    }

    /// One 20 ms frame of `side` starting at `at_ms` of the call's media.
    pub fn frame(&self, side: Side, at_ms: u64, codes: &[u8; FRAME_SAMPLES]) -> bool {
        self.worker
            .try_send(Message::Frame {
                key: self.key,
                side,
                at_ms,
                codes: *codes,
            })
            .is_ok()
    }
}

async fn send_control(
    worker: &SyncSender<Message>,
    mut message: Message,
) -> Result<(), RecorderError> {
    let deadline = tokio::time::Instant::now() + CONTROL_WAIT;
    loop {
        match worker.try_send(message) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Disconnected(_)) => return Err(RecorderError::Stopped),
            Err(TrySendError::Full(back)) => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(RecorderError::Overloaded);
                }
                message = back;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}

/// One recording on its thread.
struct Active {
    call_id: Uuid,
    path: PathBuf,
    law: Law,
    writer: Option<OggOpusWriter<BufWriter<File>>>,
    aligner: Option<StereoAligner>,
    error: Option<String>,
}

impl Active {
    fn open(call_id: Uuid, serial: u32, path: &Path, law: Law) -> Self {
        let mut active = Self {
            call_id,
            path: path.to_path_buf(),
            law,
            writer: None,
            aligner: None,
            error: None,
        };
        match open_file(path).and_then(|file| {
            let call = call_id.to_string();
            OggOpusWriter::new(BufWriter::new(file), serial, &[("VCA_CALL_ID", &call)])
        }) {
            Ok(w) => active.writer = Some(w),
            Err(e) => active.fail("open", &e),
        }
        active
    }

    fn frame(&mut self, side: Side, at_ms: u64, codes: &[u8; FRAME_SAMPLES]) {
        let (Some(writer), Some(aligner)) = (self.writer.as_mut(), self.aligner.as_mut()) else {
            return;
        };
        let mut pcm = [0i16; FRAME_SAMPLES];
        self.law.decode_into(codes, &mut pcm);
        let mut failed = None;
        aligner.push(side, at_ms, &pcm, |l, r| {
            if failed.is_none()
                && let Err(e) = writer.write_frame(l, r)
            {
                failed = Some(e);
            }
        });
        if let Some(e) = failed {
            self.fail("write", &e);
        }
    }

    fn close(mut self) -> SegmentOutcome {
        if let (Some(writer), Some(aligner)) = (self.writer.as_mut(), self.aligner.as_mut()) {
            let mut failed = None;
            aligner.flush(|l, r| {
                if failed.is_none()
                    && let Err(e) = writer.write_frame(l, r)
                {
                    failed = Some(e);
                }
            });
            if let Some(e) = failed {
                self.fail("write", &e);
            }
        }
        let mut duration_ms = 0;
        if let Some(writer) = self.writer.take() {
            duration_ms = writer.duration_ms();
            if let Err(e) = writer.finish() {
                self.fail("write", &e);
            }
        }
        if self.error.is_some() {
            // What the file holds: up to its last whole page.
            duration_ms = File::open(&self.path)
                .ok()
                .and_then(|mut f| last_granule(&mut f).ok().flatten())
                .map_or(0, |g| g / 48);
        }
        SegmentOutcome {
            bytes: fs::metadata(&self.path).map_or(0, |m| m.len()),
            duration_ms,
            error: self.error,
        }
    }

    /// Stops writing: counted, logged once for the recording.
    fn fail(&mut self, stage: &'static str, e: &OggOpusError) {
        // What reached the file before the error is kept; nothing more is written.
        self.writer = None;
        metrics::counter!("vca_recording_errors_total", "stage" => stage).increment(1);
        tracing::warn!(call_id = %self.call_id, stage, error = %e, "recording stopped; the call goes on");
        self.error = Some(format!("{stage}: {e}"));
    }
}

fn open_file(path: &Path) -> Result<File, OggOpusError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let file = OpenOptions::new().write(true).create_new(true).open(path)?;
    // Set after creation: the unit's UMask would otherwise take the group's read away.
    file.set_permissions(fs::Permissions::from_mode(0o640))?;
    Ok(file)
}

fn run(rx: Receiver<Message>) {
    let mut active: HashMap<u64, Active> = HashMap::new();
    while let Ok(message) = rx.recv() {
        match message {
            Message::Open {
                key,
                call_id,
                serial,
                path,
                law,
            } => {
                active.insert(key, Active::open(call_id, serial, &path, law));
            }
            Message::Begin { key, origin_ms } => {
                if let Some(a) = active.get_mut(&key)
                    && a.aligner.is_none()
                {
                    a.aligner = Some(StereoAligner::new(origin_ms));
                }
            }
            Message::Frame {
                key,
                side,
                at_ms,
                codes,
            } => {
                if let Some(a) = active.get_mut(&key) {
                    a.frame(side, at_ms, &codes);
                }
            }
            Message::Close { key, done } => {
                let outcome = match active.remove(&key) {
                    Some(a) => a.close(),
                    None => SegmentOutcome {
                        bytes: 0,
                        duration_ms: 0,
                        error: Some("unknown recording".into()),
                    },
                };
                let _ = done.send(outcome);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::recording::decode::decode_ogg_opus;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn a_recording_is_written_aligned_and_closed() {
        let dir = std::env::temp_dir().join(format!("vca-rec-{}", Uuid::new_v4()));
        let path = dir.join("t/2026/12/call.opus");
        let recorder = Recorder::start(1).unwrap();
        let rec = recorder
            .open(Uuid::new_v4(), 1, path.clone(), Law::Ulaw)
            .await
            .unwrap();
        let tap = rec.tap();
        assert!(tap.begin(40));
        // A 400 Hz tone: 20 samples a period, so every 160-sample frame is the same.
        let mut loud = [0u8; FRAME_SAMPLES];
        for (i, c) in loud.iter_mut().enumerate() {
            let x = (i as f32 * std::f32::consts::TAU / 20.0).sin();
            *c = Law::Ulaw.encode((x * 12_000.0) as i16);
        }
        let quiet = [Law::Ulaw.silence(); FRAME_SAMPLES];
        for f in 0..100u64 {
            // Caller speaks for the first second, the agent for the second.
            let (c, a) = if f < 50 {
                (&loud, &quiet)
            } else {
                (&quiet, &loud)
            };
            assert!(tap.frame(Side::Caller, 40 + f * 20, c));
            assert!(tap.frame(Side::Agent, 40 + f * 20, a));
        }
        let outcome = rec.finish().await.unwrap();
        assert_eq!(outcome.error, None);
        assert_eq!(outcome.duration_ms, 2_000);
        let bytes = fs::read(&path).unwrap();
        assert_eq!(outcome.bytes, bytes.len() as u64);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let d = decode_ogg_opus(&bytes).unwrap();
        assert_eq!(d.left.len(), 2 * 48_000);
        let rms = |s: &[i16]| {
            (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
        };
        assert!(rms(&d.left[4_800..43_200]) > 1_000.0 && rms(&d.right[4_800..43_200]) < 100.0);
        assert!(rms(&d.right[52_800..91_200]) > 1_000.0 && rms(&d.left[52_800..91_200]) < 100.0);
        fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_file_that_cannot_be_made_is_an_outcome_not_a_panic() {
        let dir = std::env::temp_dir().join(format!("vca-rec-{}", Uuid::new_v4()));
        fs::create_dir_all(&dir).unwrap();
        // A file where the tenant's directory should be.
        fs::write(dir.join("tenant"), b"").unwrap();
        let recorder = Recorder::start(1).unwrap();
        let rec = recorder
            .open(
                Uuid::new_v4(),
                1,
                dir.join("tenant/2026/12/c.opus"),
                Law::Alaw,
            )
            .await
            .unwrap();
        let tap = rec.tap();
        tap.begin(0);
        tap.frame(Side::Caller, 0, &[0xD5; FRAME_SAMPLES]);
        let outcome = rec.finish().await.unwrap();
        assert!(
            outcome
                .error
                .as_deref()
                .is_some_and(|e| e.starts_with("open")),
            "{outcome:?}"
        );
        assert_eq!((outcome.bytes, outcome.duration_ms), (0, 0));
        fs::remove_dir_all(dir).unwrap();
    }
}
