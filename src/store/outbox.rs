//! The webhook outbox (`webhook_deliveries`, `webhook_attempts`): events are written here
//! in the same transaction as the call-row change they report ([`enqueue_call_event`]), one
//! row per subscribed active webhook, so an event is never lost and never sent for a change
//! that rolled back. Delivery workers in every daemon [`Store::claim_deliveries`] with
//! `FOR UPDATE SKIP LOCKED` and a lease, and [`Store::record_attempt`] each try.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::calls::CALL_COLUMNS;
use super::usage::BILLED_MINUTES_SQL;
use super::{Store, StoreError};
use crate::secret::Secret;
// SQL here is built only from constant column lists and expressions; values are always bound.
use sqlx::AssertSqlSafe;

/// What happened to a call, as a webhook event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEventType {
    /// The call was accepted (its row was created).
    Started,
    /// The call's row became final; the event carries its transcript and usage.
    Ended,
    /// The call was handed to a transfer target.
    Transferred,
    /// The call was refused before it was answered.
    Rejected,
    /// The post-call summary was written onto the call.
    Summarized,
}

impl CallEventType {
    /// The `type` of the event.
    pub fn as_str(self) -> &'static str {
        match self {
            CallEventType::Started => "call.started",
            CallEventType::Ended => "call.ended",
            CallEventType::Transferred => "call.transferred",
            CallEventType::Rejected => "call.rejected",
            CallEventType::Summarized => "call.summarized",
        }
    }
}

/// Writes `event` about `call_id` to the outbox, inside the caller's transaction: one row
/// per active webhook of the call's tenant subscribed to it, all with one event id. The
/// event's `data` is read from the call row as this transaction sees it: `{"call"}`, and for
/// `call.ended` also `"transcript"` and `"usage"`. Returns the rows written.
pub(crate) async fn enqueue_call_event(
    conn: &mut PgConnection,
    call_id: Uuid,
    event: CallEventType,
) -> Result<u64, StoreError> {
    let sql = format!(
        "WITH c AS (SELECT {CALL_COLUMNS} FROM calls WHERE id = $1 AND tenant_id IS NOT NULL), \
         d AS (SELECT c.tenant_id, CASE WHEN $3 THEN jsonb_build_object( \
                 'call', to_jsonb(c), \
                 'transcript', (SELECT COALESCE(jsonb_agg(jsonb_build_object( \
                     'seq', t.seq, 'speaker', t.speaker, 'text', t.text, 'start_ms', t.start_ms, \
                     'end_ms', t.end_ms, 'interrupted', t.interrupted) ORDER BY t.seq), '[]'::jsonb) \
                   FROM transcript_turns t WHERE t.call_id = c.id), \
                 'usage', jsonb_build_object( \
                     'seconds', round(COALESCE(c.duration_ms, 0) / 1000.0, 3), \
                     'billed_minutes', {BILLED_MINUTES_SQL}, \
                     'stt_seconds', round(c.stt_audio_ms / 1000.0, 3), \
                     'llm_prompt_tokens', c.llm_prompt_tokens, \
                     'llm_completion_tokens', c.llm_completion_tokens, \
                     'tts_characters', c.tts_characters, \
                     'turns', c.turn_count)) \
               ELSE jsonb_build_object('call', to_jsonb(c)) END AS data FROM c), \
         ev AS MATERIALIZED (SELECT gen_random_uuid() AS id, now() AS at) \
         INSERT INTO webhook_deliveries (event_id, tenant_id, webhook_id, event_type, payload) \
         SELECT ev.id, w.tenant_id, w.id, $2, jsonb_build_object('id', ev.id, 'type', $2::text, \
                'created_at', ev.at, 'tenant_id', w.tenant_id, 'data', d.data) \
         FROM d JOIN webhooks w ON w.tenant_id = d.tenant_id AND w.is_active AND $2 = ANY (w.events) \
         CROSS JOIN ev"
    );
    let done = sqlx::query(AssertSqlSafe(sql))
        .bind(call_id)
        .bind(event.as_str())
        .bind(event == CallEventType::Ended)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// A delivery a worker has taken: what to send, where, and with which secret (never
/// printed: `Debug` leaves it out).
#[derive(Clone, sqlx::FromRow)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub event_id: Uuid,
    pub tenant_id: Uuid,
    pub webhook_id: Uuid,
    pub event_type: String,
    /// The whole body: `{"id", "type", "created_at", "tenant_id", "data"}`.
    pub payload: serde_json::Value,
    /// This attempt's number (1 for the first).
    pub attempts: i32,
    pub url: String,
    secret: String,
}

impl std::fmt::Debug for ClaimedDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimedDelivery")
            .field("id", &self.id)
            .field("event_id", &self.event_id)
            .field("tenant_id", &self.tenant_id)
            .field("webhook_id", &self.webhook_id)
            .field("event_type", &self.event_type)
            .field("attempts", &self.attempts)
            .field("secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl ClaimedDelivery {
    /// The webhook's signing secret.
    pub fn secret(&self) -> Secret {
        Secret::new(self.secret.clone())
    }
}

/// How one attempt went, to record.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    /// The response's status, when one arrived.
    pub status_code: Option<u16>,
    /// Why it failed (a short sentence, no secrets), or `None` when delivered.
    pub error: Option<String>,
    pub duration_ms: i64,
    /// Delivered (a 2xx).
    pub delivered: bool,
    /// When not delivered: the wait before the next attempt.
    pub retry_in: std::time::Duration,
    /// Attempts stop once the next would start later than this after the event.
    pub retry_window: std::time::Duration,
}

/// A delivery as the API shows it, with its attempts.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Delivery {
    pub id: i64,
    /// The `X-VCA-Event-Id` sent.
    pub event_id: Uuid,
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts made so far.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was delivered or given up.
    pub finished_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    #[sqlx(skip)]
    pub attempt_log: Vec<Attempt>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Attempt {
    #[serde(skip)]
    pub delivery_id: i64,
    pub attempt: i32,
    pub at: DateTime<Utc>,
    /// The receiver's status, when it answered.
    pub status_code: Option<i32>,
    /// Why it was not delivered.
    pub error: Option<String>,
    pub duration_ms: i64,
}

fn secs(d: std::time::Duration) -> f64 {
    d.as_secs_f64()
}

impl Store {
    /// Takes up to `limit` due deliveries of active webhooks for this worker: each one's
    /// attempt count goes up and it is not due again for `lease`, so no other worker takes
    /// it while this one sends (a worker that dies leaves it due again after the lease).
    pub async fn claim_deliveries(
        &self,
        limit: i64,
        lease: std::time::Duration,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        Ok(sqlx::query_as(
            "UPDATE webhook_deliveries d SET attempts = d.attempts + 1, \
             next_attempt_at = now() + make_interval(secs => $2) \
             FROM webhooks w \
             WHERE d.id IN (SELECT x.id FROM webhook_deliveries x \
                            WHERE x.status = 'pending' AND x.next_attempt_at <= now() \
                            AND EXISTS (SELECT 1 FROM webhooks a WHERE a.id = x.webhook_id AND a.is_active) \
                            ORDER BY x.next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) \
             AND w.tenant_id = d.tenant_id AND w.id = d.webhook_id \
             RETURNING d.id, d.event_id, d.tenant_id, d.webhook_id, d.event_type, d.payload, \
             d.attempts, w.url, w.secret",
        )
        .bind(limit)
        .bind(secs(lease))
        .fetch_all(self.pool())
        .await?)
    }

    /// Records attempt `attempt` of delivery `id` and moves the delivery on: delivered,
    /// due again after `retry_in`, or failed when that would pass the retry window.
    /// Returns the delivery's status after it (`None` if another worker owns it now).
    pub async fn record_attempt(
        &self,
        id: i64,
        attempt: i32,
        r: &AttemptResult,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let status: Option<(String,)> = sqlx::query_as(
            "UPDATE webhook_deliveries SET \
             status = CASE WHEN $3 THEN 'delivered' \
                      WHEN created_at + make_interval(secs => $7) < now() + make_interval(secs => $6) THEN 'failed' \
                      ELSE 'pending' END, \
             next_attempt_at = CASE WHEN $3 THEN next_attempt_at ELSE now() + make_interval(secs => $6) END, \
             finished_at = CASE WHEN $3 OR created_at + make_interval(secs => $7) < now() + make_interval(secs => $6) \
                           THEN now() END, \
             last_status_code = $4, last_error = $5 \
             WHERE id = $1 AND attempts = $2 AND status = 'pending' RETURNING status",
        )
        .bind(id)
        .bind(attempt)
        .bind(r.delivered)
        .bind(r.status_code.map(i32::from))
        .bind(&r.error)
        .bind(secs(r.retry_in))
        .bind(secs(r.retry_window))
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, duration_ms) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (delivery_id, attempt) DO NOTHING",
        )
        .bind(id)
        .bind(attempt)
        .bind(r.status_code.map(i32::from))
        .bind(&r.error)
        .bind(r.duration_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(status.map(|s| s.0))
    }

    /// The newest `limit` deliveries of one of a tenant's webhooks, each with its attempts.
    pub async fn list_deliveries(
        &self,
        tenant_id: Uuid,
        webhook_id: Uuid,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut deliveries: Vec<Delivery> = sqlx::query_as(
            "SELECT id, event_id, event_type, status, attempts, created_at, \
             CASE WHEN status = 'pending' THEN next_attempt_at END AS next_attempt_at, \
             finished_at, last_status_code, last_error FROM webhook_deliveries \
             WHERE tenant_id = $1 AND webhook_id = $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(tenant_id)
        .bind(webhook_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let ids: Vec<i64> = deliveries.iter().map(|d| d.id).collect();
        let attempts: Vec<Attempt> = sqlx::query_as(
            "SELECT delivery_id, attempt, at, status_code, error, duration_ms FROM webhook_attempts \
             WHERE delivery_id = ANY ($1) ORDER BY delivery_id, attempt",
        )
        .bind(&ids)
        .fetch_all(self.pool())
        .await?;
        for a in attempts {
            if let Some(d) = deliveries.iter_mut().find(|d| d.id == a.delivery_id) {
                d.attempt_log.push(a);
            }
        }
        Ok(deliveries)
    }
}
