//! The `call_recordings` table (one row per file: a call's segments) and the recording
//! totals on the call row, kept in step in one transaction each time a segment changes.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Store, StoreError};
use crate::recording::layout::segment_path;

/// A segment as the API and the sweeper need it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Segment {
    pub id: Uuid,
    pub call_id: Uuid,
    pub segment: i32,
    /// Relative to the recordings directory.
    pub path: String,
    pub node: String,
    pub status: String,
}

/// How a segment ended, as the recorder saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentEnd {
    pub bytes: u64,
    pub duration_ms: u64,
    /// Why writing stopped early, if it did.
    pub error: Option<String>,
}

/// Recomputes the call's recording totals from its segments.
const REFRESH_CALL: &str = "UPDATE calls c SET \
    recording_path = s.first_path, recording_duration_ms = s.duration, recording_bytes = s.bytes, \
    recording_status = s.status, \
    recording_deleted_at = CASE WHEN s.status IN ('deleted', 'expired') THEN COALESCE(c.recording_deleted_at, now()) ELSE NULL END \
    FROM (SELECT (array_agg(path ORDER BY segment))[1] AS first_path, \
            COALESCE(sum(duration_ms), 0)::bigint AS duration, COALESCE(sum(bytes), 0)::bigint AS bytes, \
            CASE WHEN bool_or(status = 'recording') THEN 'recording' \
                 WHEN bool_and(status = 'expired') THEN 'expired' \
                 WHEN bool_and(status IN ('deleted', 'expired')) THEN 'deleted' \
                 WHEN bool_and(status = 'complete') THEN 'complete' \
                 WHEN bool_or(status IN ('complete', 'partial')) OR sum(bytes) > 0 THEN 'partial' \
                 ELSE 'failed' END AS status \
          FROM call_recordings WHERE call_id = $1) s \
    WHERE c.id = $1";

impl Store {
    /// Starts the call's next segment (1 for a new call): its row, and the call marked
    /// `recording`. Returns the segment's number and relative path.
    pub async fn open_segment(
        &self,
        tenant_id: Uuid,
        call_id: Uuid,
        call_started_at: DateTime<Utc>,
        node: &str,
    ) -> Result<(i32, String), StoreError> {
        let mut tx = self.pool().begin().await?;
        let (next,): (i32,) = sqlx::query_as(
            "SELECT COALESCE(max(segment), 0) + 1 FROM call_recordings WHERE call_id = $1",
        )
        .bind(call_id)
        .fetch_one(&mut *tx)
        .await?;
        let path = segment_path(tenant_id, call_id, call_started_at, next);
        sqlx::query(
            "INSERT INTO call_recordings (tenant_id, call_id, segment, path, node) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tenant_id)
        .bind(call_id)
        .bind(next)
        .bind(&path)
        .bind(node)
        .execute(&mut *tx)
        .await?;
        sqlx::query(REFRESH_CALL)
            .bind(call_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((next, path))
    }

    /// Writes how a segment ended and the call's new totals.
    pub async fn finish_segment(
        &self,
        call_id: Uuid,
        segment: i32,
        end: &SegmentEnd,
    ) -> Result<(), StoreError> {
        self.end_segment(call_id, segment, end, false).await
    }

    /// [`Self::finish_segment`] for a segment another daemon left open: only while its
    /// row still says `recording` (that daemon may have finished it since).
    pub async fn close_open_segment(
        &self,
        call_id: Uuid,
        segment: i32,
        end: &SegmentEnd,
    ) -> Result<(), StoreError> {
        self.end_segment(call_id, segment, end, true).await
    }

    /// Whether the segment's row still says `recording`.
    pub async fn segment_is_open(&self, call_id: Uuid, segment: i32) -> Result<bool, StoreError> {
        let open: Option<(bool,)> = sqlx::query_as(
            "SELECT status = 'recording' FROM call_recordings WHERE call_id = $1 AND segment = $2",
        )
        .bind(call_id)
        .bind(segment)
        .fetch_optional(self.pool())
        .await?;
        Ok(open.is_some_and(|(o,)| o))
    }

    async fn end_segment(
        &self,
        call_id: Uuid,
        segment: i32,
        end: &SegmentEnd,
        only_if_open: bool,
    ) -> Result<(), StoreError> {
        let status = match (&end.error, end.duration_ms) {
            (None, _) => "complete",
            (Some(_), 0) => "failed",
            (Some(_), _) => "partial",
        };
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE call_recordings SET status = $3, ended_at = now(), bytes = $4, duration_ms = $5, error = $6 \
             WHERE call_id = $1 AND segment = $2 AND (NOT $7 OR status = 'recording')",
        )
        .bind(call_id)
        .bind(segment)
        .bind(status)
        .bind(i64::try_from(end.bytes).unwrap_or(i64::MAX))
        .bind(i64::try_from(end.duration_ms).unwrap_or(i64::MAX))
        .bind(&end.error)
        .bind(only_if_open)
        .execute(&mut *tx)
        .await?;
        sqlx::query(REFRESH_CALL)
            .bind(call_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Segments still being written according to their rows: on a re-adopted call, what a
    /// daemon that died left open.
    pub async fn open_segments(&self, call_id: Uuid) -> Result<Vec<Segment>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, call_id, segment, path, node, status FROM call_recordings \
             WHERE call_id = $1 AND status = 'recording' ORDER BY segment",
        )
        .bind(call_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// A tenant's call's segments whose files exist (or are being written), in order.
    pub async fn playable_segments(
        &self,
        tenant_id: Uuid,
        call_id: Uuid,
    ) -> Result<Vec<Segment>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, call_id, segment, path, node, status FROM call_recordings \
             WHERE tenant_id = $1 AND call_id = $2 AND status IN ('recording', 'complete', 'partial', 'failed') \
             ORDER BY segment",
        )
        .bind(tenant_id)
        .bind(call_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Marks every kept segment of the call `status` (`deleted` or `expired`); returns them.
    pub async fn retire_segments(
        &self,
        call_id: Uuid,
        ids: &[Uuid],
        status: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE call_recordings SET status = $3 WHERE call_id = $1 AND id = ANY($2)")
            .bind(call_id)
            .bind(ids)
            .bind(status)
            .execute(&mut *tx)
            .await?;
        sqlx::query(REFRESH_CALL)
            .bind(call_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether the tenant's call is still live (its recording may still grow).
    pub async fn call_is_live(&self, tenant_id: Uuid, call_id: Uuid) -> Result<bool, StoreError> {
        let (live,): (bool,) = sqlx::query_as(
            "SELECT status IN ('ringing', 'in_progress') FROM calls WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(call_id)
        .fetch_one(self.pool())
        .await?;
        Ok(live)
    }

    /// Up to `limit` segments past their tenant's retention, oldest first, and the
    /// segments a dead daemon left `recording` on calls that have since ended.
    pub async fn sweepable_segments(&self, limit: i64) -> Result<Vec<(Segment, bool)>, StoreError> {
        let rows: Vec<(Uuid, Uuid, i32, String, String, String, bool)> = sqlx::query_as(
            "SELECT r.id, r.call_id, r.segment, r.path, r.node, r.status, \
                    r.started_at < now() - make_interval(days => t.recording_retention_days) AS expired \
             FROM call_recordings r JOIN tenants t ON t.id = r.tenant_id JOIN calls c ON c.id = r.call_id \
             WHERE r.status IN ('complete', 'partial', 'failed', 'recording') \
               AND (r.started_at < now() - make_interval(days => t.recording_retention_days) \
                    OR (r.status = 'recording' AND c.ended_at < now() - interval '1 minute')) \
             ORDER BY r.started_at LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, call_id, segment, path, node, status, expired)| {
                (
                    Segment {
                        id,
                        call_id,
                        segment,
                        path,
                        node,
                        status,
                    },
                    expired,
                )
            })
            .collect())
    }
}
