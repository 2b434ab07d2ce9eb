//! What the call path writes to `calls` and `call_events`: a row per call from the
//! moment it is accepted or rejected, its events as they happen, and one final state.
//! Each change a webhook reports (accepted, rejected, transferred, final) writes its event
//! to the outbox in the same transaction ([`super::outbox`]).

use serde_json::Value;
use uuid::Uuid;

use super::outbox::{CallEventType, enqueue_call_event};
use super::{CallStatus, EndReason, Store, StoreError};

/// A call about to be answered.
#[derive(Debug, Clone)]
pub struct NewCall {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub phone_number_id: Uuid,
    pub ai_profile_id: Uuid,
    pub channel_id: String,
    pub caller: String,
    pub called: String,
    /// Which Asterisk application the call lives in (`<ari url>#<app>`).
    pub ari_node: String,
}

/// A call refused before it was answered.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub tenant_id: Option<Uuid>,
    pub phone_number_id: Option<Uuid>,
    pub channel_id: String,
    pub caller: String,
    pub called: String,
    pub ari_node: String,
    /// `unknown_did`, `number_inactive`, `tenant_suspended`, `no_ai_profile`, `tenant_busy`, ...
    pub reason: String,
}

/// A call the database still thinks is live, with what is needed to re-adopt it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LiveCall {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub ai_profile_id: Option<Uuid>,
    pub phone_number_id: Option<Uuid>,
    pub channel_id: String,
    pub caller: String,
    pub called: String,
    pub status: String,
    pub bridge_id: Option<String>,
    pub media_channel_id: Option<String>,
    pub rtp_port: Option<i32>,
    pub answered_at: Option<chrono::DateTime<chrono::Utc>>,
    pub started_at: chrono::DateTime<chrono::Utc>,
}

impl Store {
    /// Writes the row of an accepted call (`ringing`), and its `call.started` event.
    pub async fn insert_call(&self, c: &NewCall) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO calls (id, tenant_id, phone_number_id, ai_profile_id, channel_id, caller, called, ari_node) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(c.id)
        .bind(c.tenant_id)
        .bind(c.phone_number_id)
        .bind(c.ai_profile_id)
        .bind(&c.channel_id)
        .bind(&c.caller)
        .bind(&c.called)
        .bind(&c.ari_node)
        .execute(&mut *tx)
        .await?;
        enqueue_call_event(&mut tx, c.id, CallEventType::Started).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes a rejected call (final at once), its event and its `call.rejected` event in
    /// one transaction; returns its id.
    pub async fn insert_rejection(&self, r: &Rejection) -> Result<Uuid, StoreError> {
        let mut tx = self.pool().begin().await?;
        let (id,): (Uuid,) = sqlx::query_as(
            "INSERT INTO calls (tenant_id, phone_number_id, channel_id, caller, called, ari_node, status, ended_at, duration_ms, end_reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $8, now(), 0, $7) RETURNING id",
        )
        .bind(r.tenant_id)
        .bind(r.phone_number_id)
        .bind(&r.channel_id)
        .bind(&r.caller)
        .bind(&r.called)
        .bind(&r.ari_node)
        .bind(&r.reason)
        .bind(CallStatus::Rejected.as_str())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO call_events (call_id, tenant_id, kind, details) VALUES ($1, $2, 'rejected', $3)")
            .bind(id)
            .bind(r.tenant_id)
            .bind(serde_json::json!({ "reason": r.reason }))
            .execute(&mut *tx)
            .await?;
        enqueue_call_event(&mut tx, id, CallEventType::Rejected).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Marks a call answered: `in_progress` from now.
    pub async fn mark_call_answered(&self, id: Uuid) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE calls SET status = $2, answered_at = now() WHERE id = $1 AND status = $3",
        )
        .bind(id)
        .bind(CallStatus::InProgress.as_str())
        .bind(CallStatus::Ringing.as_str())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Remembers the bridge, External Media channel and port of a live call.
    pub async fn set_call_media(
        &self,
        id: Uuid,
        bridge_id: &str,
        media_channel_id: &str,
        rtp_port: u16,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE calls SET bridge_id = $2, media_channel_id = $3, rtp_port = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(bridge_id)
        .bind(media_channel_id)
        .bind(i32::from(rtp_port))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Appends one event to a call.
    pub async fn add_call_event(
        &self,
        call_id: Uuid,
        tenant_id: Option<Uuid>,
        kind: &str,
        details: Value,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO call_events (call_id, tenant_id, kind, details) VALUES ($1, $2, $3, $4)",
        )
        .bind(call_id)
        .bind(tenant_id)
        .bind(kind)
        .bind(details)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Moves a live call to the final status of `reason`, with the end time and duration
    /// (from the answer, or the start when never answered). A call already final is left as
    /// it is; returns whether this call finalised it. The `call.ended` event (with the
    /// transcript and usage as they stand) is written in the same transaction.
    pub async fn finish_call(&self, id: Uuid, reason: &EndReason) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE calls SET status = $2, end_reason = $3, ended_at = now(), \
             duration_ms = GREATEST(0, (extract(epoch FROM now() - COALESCE(answered_at, started_at)) * 1000)::bigint) \
             WHERE id = $1 AND status IN ($4, $5)",
        )
        .bind(id)
        .bind(reason.status().as_str())
        .bind(reason.as_db().as_ref())
        .bind(CallStatus::Ringing.as_str())
        .bind(CallStatus::InProgress.as_str())
        .execute(&mut *tx)
        .await?;
        let finalised = done.rows_affected() == 1;
        if finalised {
            enqueue_call_event(&mut tx, id, CallEventType::Ended).await?;
        }
        tx.commit().await?;
        Ok(finalised)
    }

    /// Writes the name of the target a call was handed to, and its `call.transferred`
    /// event (once per target the call is handed to).
    pub async fn set_call_transfer_target(
        &self,
        id: Uuid,
        tenant_id: Uuid,
        target: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE calls SET transfer_target = $3 WHERE id = $1 AND tenant_id = $2 \
             AND transfer_target IS DISTINCT FROM $3",
        )
        .bind(id)
        .bind(tenant_id)
        .bind(target)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            enqueue_call_event(&mut tx, id, CallEventType::Transferred).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The calls of this Asterisk application that the database still thinks are live.
    pub async fn live_calls(&self, ari_node: &str) -> Result<Vec<LiveCall>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, tenant_id, ai_profile_id, phone_number_id, channel_id, caller, called, status, \
             bridge_id, media_channel_id, rtp_port, answered_at, started_at \
             FROM calls WHERE ari_node = $1 AND status IN ($2, $3) AND tenant_id IS NOT NULL \
             ORDER BY started_at",
        )
        .bind(ari_node)
        .bind(CallStatus::Ringing.as_str())
        .bind(CallStatus::InProgress.as_str())
        .fetch_all(self.pool())
        .await?)
    }
}
