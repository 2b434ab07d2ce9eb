//! The `calls`, `call_events` and `transcript_turns` tables: what happened on every
//! call, read by the admin API. (The call path writes them.)

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{Store, StoreError};
// SQL here is built only from this file's constant column lists; values are always bound.
use sqlx::AssertSqlSafe;

/// A call as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Call {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub phone_number_id: Option<Uuid>,
    pub ai_profile_id: Option<Uuid>,
    /// The Asterisk channel id of the caller's leg.
    pub channel_id: String,
    pub caller: String,
    pub called: String,
    pub direction: String,
    /// `ringing`, `in_progress`, `completed`, `failed`, `rejected`, `interrupted` or
    /// `transferred`.
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub end_reason: Option<String>,
    pub turn_count: i32,
    pub stt_audio_ms: i64,
    pub llm_prompt_tokens: i64,
    pub llm_completion_tokens: i64,
    pub tts_characters: i64,
    /// The transfer target the call was handed to, if it was.
    pub transfer_target: Option<String>,
    /// The post-call summary, when the profile asks for one and it has been written.
    pub summary: Option<String>,
    /// The post-call outcome: `{"intent", "resolved", "follow_up"}`.
    #[schema(value_type = Option<Object>)]
    pub outcome: Option<serde_json::Value>,
    /// `recording`, `complete`, `partial` (writing stopped early, or a daemon died),
    /// `failed`, `deleted` or `expired`; `null` for a call that was not recorded.
    pub recording_status: Option<String>,
    /// The first segment's file, relative to `VCA_RECORDINGS_DIR`.
    pub recording_path: Option<String>,
    /// Audio recorded, over every segment.
    pub recording_duration_ms: i64,
    /// Bytes recorded, over every segment (kept after the files are deleted, for usage).
    pub recording_bytes: i64,
}

/// Call status values.
pub const STATUSES: &[&str] = &[
    "ringing",
    "in_progress",
    "completed",
    "failed",
    "rejected",
    "interrupted",
    "transferred",
];

/// One thing that happened on a call.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct CallEvent {
    pub id: i64,
    pub kind: String,
    pub at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// One turn of the conversation.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TranscriptTurn {
    pub seq: i32,
    /// `caller` or `agent`.
    pub speaker: String,
    pub text: String,
    /// Offsets from the call's answer, in milliseconds.
    pub start_ms: i64,
    pub end_ms: i64,
    /// The caller barged in: `text` holds only what was heard.
    pub interrupted: bool,
}

/// A call with everything recorded about it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CallDetail {
    #[serde(flatten)]
    pub call: Call,
    pub events: Vec<CallEvent>,
    pub transcript: Vec<TranscriptTurn>,
}

/// Filters and page position for listing a tenant's calls.
#[derive(Debug, Clone, Default)]
pub struct CallQuery {
    pub status: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Continue after this (started_at, id), exclusive.
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

pub(crate) const CALL_COLUMNS: &str = "id, tenant_id, phone_number_id, ai_profile_id, channel_id, caller, \
    called, direction, status, started_at, answered_at, ended_at, duration_ms, end_reason, turn_count, \
    stt_audio_ms, llm_prompt_tokens, llm_completion_tokens, tts_characters, transfer_target, summary, outcome, \
    recording_status, recording_path, recording_duration_ms, recording_bytes";

impl Store {
    /// A page of a tenant's calls, newest first; one more than `limit` is fetched to
    /// tell whether another page follows.
    pub async fn list_calls(
        &self,
        tenant_id: Uuid,
        q: &CallQuery,
    ) -> Result<(Vec<Call>, bool), StoreError> {
        let sql = format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE tenant_id = $1 \
             AND ($2::text IS NULL OR status = $2) \
             AND ($3::timestamptz IS NULL OR started_at >= $3) \
             AND ($4::timestamptz IS NULL OR started_at < $4) \
             AND ($5::timestamptz IS NULL OR (started_at, id) < ($5, $6)) \
             ORDER BY started_at DESC, id DESC LIMIT $7"
        );
        let mut rows: Vec<Call> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(&q.status)
            .bind(q.from)
            .bind(q.to)
            .bind(q.after.map(|a| a.0))
            .bind(q.after.map(|a| a.1))
            .bind(q.limit + 1)
            .fetch_all(self.pool())
            .await?;
        let more = rows.len() as i64 > q.limit;
        rows.truncate(q.limit.max(0) as usize);
        Ok((rows, more))
    }

    /// One of a tenant's calls with its events and transcript, in order.
    pub async fn get_call(&self, tenant_id: Uuid, id: Uuid) -> Result<CallDetail, StoreError> {
        let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE tenant_id = $1 AND id = $2");
        let call: Call = sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(id)
            .fetch_one(self.pool())
            .await?;
        let events = sqlx::query_as(
            "SELECT id, kind, at, details FROM call_events WHERE tenant_id = $1 AND call_id = $2 ORDER BY id",
        )
        .bind(tenant_id)
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        let transcript = sqlx::query_as(
            "SELECT seq, speaker, text, start_ms, end_ms, interrupted FROM transcript_turns \
             WHERE tenant_id = $1 AND call_id = $2 ORDER BY seq",
        )
        .bind(tenant_id)
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        Ok(CallDetail {
            call,
            events,
            transcript,
        })
    }
}

impl Store {
    /// Stores the post-call summary and outcome of a finished call, and its
    /// `call.summarized` webhook event in the same transaction.
    pub async fn set_call_summary(
        &self,
        tenant_id: Uuid,
        call_id: Uuid,
        summary: &str,
        outcome: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE calls SET summary = $3, outcome = $4, summarized_at = now() \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(call_id)
        .bind(summary)
        .bind(outcome)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            super::outbox::enqueue_call_event(
                &mut tx,
                call_id,
                super::outbox::CallEventType::Summarized,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
