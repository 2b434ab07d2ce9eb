//! A call's recording from the session's side: a segment row and its file are opened when
//! the media is up, the media task gets the tap, and when the media stops the segment is
//! finished and the call row updated. A re-adopted call first closes what the daemon that
//! died left open (its length read from the file's last page), then opens its next segment.
//! Nothing here can end or delay a call: every failure is logged and the call goes on.

use std::fs::OpenOptions;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::media::g711::Law;
use crate::recording::decode::end_cut_stream;
use crate::recording::layout::resolve;
use crate::recording::recorder::{Recorder, Recording, RecordingTap};
use crate::store::Store;
use crate::store::recordings::{Segment, SegmentEnd};

/// Where recordings go and who writes them: shared by every call of the daemon.
#[derive(Debug, Clone)]
pub struct Recordings {
    /// `VCA_RECORDINGS_DIR`.
    pub dir: PathBuf,
    /// The recorder threads.
    pub recorder: Recorder,
}

/// A segment being recorded.
#[derive(Debug)]
pub struct CallRecording {
    call_id: Uuid,
    segment: i32,
    recording: Recording,
}

impl Recordings {
    /// Starts the call's next segment, and closes (in the background) those a dead daemon
    /// left open on it.
    /// `None` (logged) when the row or the recorder cannot be had.
    pub async fn start(
        &self,
        store: &Store,
        node: &str,
        tenant_id: Uuid,
        call_id: Uuid,
        call_started_at: DateTime<Utc>,
        law: Law,
    ) -> Option<CallRecording> {
        // The segments left open are read before ours is opened, so ours is never among
        // them; they are closed off the call's path (a file a handing-over daemon still
        // writes is waited for).
        let left_open = match store.open_segments(call_id).await {
            Ok(open) => open,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the call's recording segments");
                Vec::new()
            }
        };
        if !left_open.is_empty() {
            let (this, other) = (self.clone(), store.clone());
            tokio::spawn(tracing::Instrument::in_current_span(async move {
                this.close_left_open(&other, call_id, left_open).await;
            }));
        }
        let (segment, path) = match store
            .open_segment(tenant_id, call_id, call_started_at, node)
            .await
        {
            Ok(opened) => opened,
            Err(e) => {
                metrics::counter!("vca_recording_errors_total", "stage" => "row").increment(1);
                tracing::warn!(error = %e, "cannot record the call: no recording row");
                return None;
            }
        };
        // Paths are made by `segment_path`, never from outside: this cannot leave the dir.
        let file = resolve(&self.dir, &path)?;
        match self.recorder.open(call_id, segment, file, law).await {
            Ok(recording) => {
                tracing::info!(segment, path = %path, "recording the call");
                Some(CallRecording {
                    call_id,
                    segment,
                    recording,
                })
            }
            Err(e) => {
                metrics::counter!("vca_recording_errors_total", "stage" => "recorder").increment(1);
                tracing::warn!(error = %e, "cannot record the call");
                let end = SegmentEnd {
                    bytes: 0,
                    duration_ms: 0,
                    error: Some(e.to_string()),
                };
                if let Err(e) = store.finish_segment(call_id, segment, &end).await {
                    tracing::warn!(error = %e, "cannot mark the recording failed");
                }
                None
            }
        }
    }

    /// Finishes `open`, segments of `call_id` that were still marked `recording` before
    /// this daemon opened its own, from what their files hold (a daemon died writing them,
    /// or is handing the call over).
    async fn close_left_open(&self, store: &Store, call_id: Uuid, open: Vec<Segment>) {
        for seg in open {
            let Some(file) = resolve(&self.dir, &seg.path) else {
                continue;
            };
            wait_idle(&file).await;
            // The daemon that handed the call over may have finished it meanwhile.
            if !store
                .segment_is_open(call_id, seg.segment)
                .await
                .unwrap_or(true)
            {
                continue;
            }
            let end = left_behind(&file);
            tracing::info!(
                segment = seg.segment,
                bytes = end.bytes,
                duration_ms = end.duration_ms,
                "closing a recording segment left open"
            );
            if let Err(e) = store.close_open_segment(call_id, seg.segment, &end).await {
                tracing::warn!(error = %e, "cannot close the recording segment");
            }
        }
    }
}

/// What a segment whose writer died holds, once its stream is ended where it was cut
/// (a torn last page removed, the last whole one marked end-of-stream) so that it plays
/// alone and chained with the next segment: its size and its length.
pub fn left_behind(file: &std::path::Path) -> SegmentEnd {
    let ended = OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
        .and_then(|mut f| {
            let ended = end_cut_stream(&mut f)?;
            f.set_len(ended.len)?;
            Ok(ended)
        });
    let duration_ms = match &ended {
        Ok(e) => e.kept.map_or(0, |g| g / 48),
        Err(e) => {
            tracing::warn!(path = %file.display(), error = %e, "cannot end a cut recording");
            0
        }
    };
    SegmentEnd {
        bytes: std::fs::metadata(file).map_or(0, |m| m.len()),
        duration_ms,
        error: Some("interrupted: the daemon writing it stopped".into()),
    }
}

/// Waits (up to 5 s) until nobody has written `file` for 3 s: a daemon handing the call
/// over may still be finishing it.
async fn wait_idle(file: &std::path::Path) {
    for _ in 0..5 {
        let idle = std::fs::metadata(file)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_none_or(|age| age >= std::time::Duration::from_secs(3));
        if idle {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

impl CallRecording {
    /// The media task's side.
    pub fn tap(&self) -> RecordingTap {
        self.recording.tap()
    }

    /// Ends the segment (after the media has stopped) and writes its row.
    pub async fn finish(self, store: &Store) {
        let (call_id, segment) = (self.call_id, self.segment);
        let end = match self.recording.finish().await {
            Ok(o) => SegmentEnd {
                bytes: o.bytes,
                duration_ms: o.duration_ms,
                error: o.error,
            },
            Err(e) => SegmentEnd {
                bytes: 0,
                duration_ms: 0,
                error: Some(e.to_string()),
            },
        };
        metrics::counter!("vca_recording_seconds_total").increment(end.duration_ms / 1000);
        metrics::counter!("vca_recording_bytes_total").increment(end.bytes);
        tracing::info!(segment, bytes = end.bytes, duration_ms = end.duration_ms, error = ?end.error, "recording segment finished");
        if let Err(e) = store.finish_segment(call_id, segment, &end).await {
            tracing::warn!(error = %e, "cannot record the recording's size");
        }
    }
}
