//! What the conversation writes as it happens: transcript turns, and the call's turn
//! count and usage counters.

use uuid::Uuid;

use super::{Store, StoreError};

/// One transcript row to write.
#[derive(Debug, Clone)]
pub struct NewTurn<'a> {
    pub call_id: Uuid,
    pub tenant_id: Uuid,
    pub seq: i32,
    /// `caller` or `agent`.
    pub speaker: &'a str,
    pub text: &'a str,
    pub start_ms: i64,
    pub end_ms: i64,
    pub interrupted: bool,
}

/// Usage to add to a call's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageDelta {
    pub turns: i32,
    pub stt_audio_ms: i64,
    pub llm_prompt_tokens: i64,
    pub llm_completion_tokens: i64,
    pub tts_characters: i64,
}

impl Store {
    /// Writes one transcript turn.
    pub async fn insert_turn(&self, t: &NewTurn<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO transcript_turns (call_id, tenant_id, seq, speaker, text, start_ms, end_ms, interrupted) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (call_id, seq) DO NOTHING",
        )
        .bind(t.call_id)
        .bind(t.tenant_id)
        .bind(t.seq)
        .bind(t.speaker)
        .bind(t.text)
        .bind(t.start_ms.max(0))
        .bind(t.end_ms.max(t.start_ms.max(0)))
        .bind(t.interrupted)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Adds to a call's turn count and usage counters.
    pub async fn add_call_usage(
        &self,
        call_id: Uuid,
        tenant_id: Uuid,
        u: &UsageDelta,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE calls SET turn_count = turn_count + $3, stt_audio_ms = stt_audio_ms + $4, \
             llm_prompt_tokens = llm_prompt_tokens + $5, llm_completion_tokens = llm_completion_tokens + $6, \
             tts_characters = tts_characters + $7 WHERE id = $1 AND tenant_id = $2",
        )
        .bind(call_id)
        .bind(tenant_id)
        .bind(u.turns)
        .bind(u.stt_audio_ms)
        .bind(u.llm_prompt_tokens)
        .bind(u.llm_completion_tokens)
        .bind(u.tts_characters)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The transcript of a call, oldest first (to rebuild a history without Redis).
    pub async fn transcript_texts(
        &self,
        call_id: Uuid,
        tenant_id: Uuid,
    ) -> Result<Vec<(String, String, i32)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT speaker, text, seq FROM transcript_turns WHERE call_id = $1 AND tenant_id = $2 ORDER BY seq",
        )
        .bind(call_id)
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await?)
    }
}
