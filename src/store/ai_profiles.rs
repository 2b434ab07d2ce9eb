//! The `ai_profiles` table: how a tenant's agent speaks (prompt, greeting, voice,
//! limits). At most one profile per tenant is the default, enforced by a partial
//! unique index; changing the default happens in one transaction that holds the
//! tenant's row lock, so concurrent requests serialise instead of colliding.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Store, StoreError};
use crate::language::{LanguageTag, Line, LineText, lines::builtin};
// SQL here is built only from this file's constant column lists; values are always bound.
use sqlx::AssertSqlSafe;

/// An AI profile as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AiProfile {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    /// `receptionist`, `sales`, `support`, `dispatcher` or `custom`.
    pub role: String,
    pub system_prompt: String,
    /// Spoken when the call is answered; empty for none.
    pub greeting: String,
    /// BCP 47 tag of the call's language, e.g. `hi-IN`, `en-IN` or `en`.
    pub language: String,
    /// Other languages the caller may switch to (BCP 47); the agent follows.
    pub languages: Vec<String>,
    /// The profile's own wording of the daemon's lines: `{"goodbye": "…"}` for the
    /// profile's language, or `{"goodbye": {"hi-IN": "…", "en": "…"}}` per language.
    #[schema(value_type = Object)]
    pub lines: Json<BTreeMap<String, LineText>>,
    /// TTS voice; `null` uses the daemon's configured voice.
    pub voice: Option<String>,
    /// Language model; `null` uses the daemon's configured model.
    pub llm_model: Option<String>,
    pub max_turns: i32,
    pub max_duration_seconds: i32,
    /// Silence that ends the caller's turn.
    pub endpointing_silence_ms: i32,
    /// What the caller's keys do: one key (`0-9`, `*`, `#`) → `transfer:<target name>`,
    /// `hangup` or `repeat`. Other keys are collected and given to the model.
    #[schema(value_type = Object)]
    pub dtmf_map: Json<BTreeMap<String, String>>,
    /// The tools the model may use: `transfer_call`, `end_call` or the tenant's tool names.
    pub tools: Vec<String>,
    /// After the call the model writes a short summary and an outcome onto the call.
    pub post_call_summary: bool,
    /// Calls are recorded (stereo Ogg Opus: caller left, agent right).
    pub record_calls: bool,
    /// Spoken before the greeting when calls are recorded; `null`: the profile's
    /// `lines.recording_notice`, else the daemon's line in the call's language.
    pub recording_notice: Option<String>,
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `max_turns` of a profile that does not say (the migration's column default agrees; a
/// test checks it).
pub const DEFAULT_MAX_TURNS: i32 = 20;
/// `max_duration_seconds` of a profile that does not say.
pub const DEFAULT_MAX_DURATION_SECONDS: i32 = 300;
/// `endpointing_silence_ms` of a profile that does not say.
pub const DEFAULT_ENDPOINTING_SILENCE_MS: i32 = 600;
/// `language` of a profile that does not say.
pub const DEFAULT_PROFILE_LANGUAGE: &str = "en";

/// What a key of the profile's `dtmf_map` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DtmfAction {
    /// `transfer:<target name>`.
    Transfer(String),
    /// `hangup`.
    Hangup,
    /// `repeat`.
    Repeat,
}

impl DtmfAction {
    /// Parses a value of the map.
    pub fn parse(value: &str) -> Option<DtmfAction> {
        match value {
            "hangup" => Some(DtmfAction::Hangup),
            "repeat" => Some(DtmfAction::Repeat),
            v => v
                .strip_prefix("transfer:")
                .filter(|t| !t.is_empty())
                .map(|t| DtmfAction::Transfer(t.to_string())),
        }
    }
}

/// Whether `key` is a key of the map: one of `0-9`, `*`, `#`.
pub fn is_dtmf_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(
        (chars.next(), chars.next()),
        (Some('0'..='9' | '*' | '#'), None)
    )
}

impl AiProfile {
    /// The keypad map, parsed (entries that do not parse are left out; writes refuse them).
    pub fn dtmf_actions(&self) -> BTreeMap<char, DtmfAction> {
        self.dtmf_map
            .0
            .iter()
            .filter_map(|(k, v)| Some((k.chars().next()?, DtmfAction::parse(v)?)))
            .collect()
    }
}

/// The greeting of a new profile that gives none: the daemon's, in its language.
fn default_greeting(language: Option<&str>) -> &'static str {
    let language = language
        .and_then(|l| LanguageTag::parse(l).ok())
        .unwrap_or_else(LanguageTag::english);
    builtin(Line::Greeting, language.language())
}

/// Role values.
pub const ROLES: &[&str] = &["receptionist", "sales", "support", "dispatcher", "custom"];

/// The body of `POST /api/tenants/{tid}/ai-profiles`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAiProfile {
    pub name: String,
    /// Defaults to `receptionist`.
    pub role: Option<String>,
    /// Required, non-empty after trimming.
    pub system_prompt: String,
    /// Defaults to the daemon's greeting in the profile's language ("Hello! How can I
    /// help you today?", "नमस्ते! …"); `""` for none.
    pub greeting: Option<String>,
    /// Defaults to `en`.
    pub language: Option<String>,
    /// Defaults to none.
    pub languages: Option<Vec<String>>,
    /// Defaults to `{}` (the daemon's lines).
    #[schema(value_type = Option<Object>)]
    pub lines: Option<BTreeMap<String, LineText>>,
    pub voice: Option<String>,
    pub llm_model: Option<String>,
    /// Defaults to 20.
    pub max_turns: Option<i32>,
    /// Defaults to 300.
    pub max_duration_seconds: Option<i32>,
    /// Defaults to 600.
    pub endpointing_silence_ms: Option<i32>,
    /// Defaults to `{}`.
    #[schema(value_type = Option<Object>)]
    pub dtmf_map: Option<BTreeMap<String, String>>,
    /// Defaults to none.
    pub tools: Option<Vec<String>>,
    /// Defaults to false.
    pub post_call_summary: Option<bool>,
    /// Defaults to false.
    pub record_calls: Option<bool>,
    /// Defaults to none (the daemon's localised line).
    pub recording_notice: Option<String>,
    /// Defaults to true when the tenant has no default profile yet, else false.
    pub is_default: Option<bool>,
}

/// The body of `PATCH /api/tenants/{tid}/ai-profiles/{id}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AiProfilePatch {
    pub name: Option<String>,
    pub role: Option<String>,
    pub system_prompt: Option<String>,
    pub greeting: Option<String>,
    pub language: Option<String>,
    /// Replaces the list.
    pub languages: Option<Vec<String>>,
    /// Replaces the profile's lines.
    #[schema(value_type = Option<Object>)]
    pub lines: Option<BTreeMap<String, LineText>>,
    /// `null` clears the voice (use the daemon's default).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub voice: Option<Option<String>>,
    /// `null` clears the model (use the daemon's default).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub llm_model: Option<Option<String>>,
    pub max_turns: Option<i32>,
    pub max_duration_seconds: Option<i32>,
    pub endpointing_silence_ms: Option<i32>,
    #[schema(value_type = Option<Object>)]
    pub dtmf_map: Option<BTreeMap<String, String>>,
    pub tools: Option<Vec<String>>,
    pub post_call_summary: Option<bool>,
    pub record_calls: Option<bool>,
    /// `null` clears the notice (use the localised default).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub recording_notice: Option<Option<String>>,
    pub is_default: Option<bool>,
}

/// Tells "absent" (`None`) from "null" (`Some(None)`).
pub(super) fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

const COLUMNS: &str = "id, tenant_id, name, role, system_prompt, greeting, language, languages, lines, voice, llm_model, \
    max_turns, max_duration_seconds, endpointing_silence_ms, dtmf_map, tools, post_call_summary, \
    record_calls, recording_notice, is_default, created_at, updated_at";

/// Locks the tenant row for the rest of the transaction; `NotFound` if there is none.
async fn lock_tenant(tx: &mut sqlx::PgConnection, tenant_id: Uuid) -> Result<(), StoreError> {
    sqlx::query("SELECT id FROM tenants WHERE id = $1 FOR UPDATE")
        .bind(tenant_id)
        .fetch_one(tx)
        .await?;
    Ok(())
}

async fn clear_default(tx: &mut sqlx::PgConnection, tenant_id: Uuid) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE ai_profiles SET is_default = false, updated_at = now() \
         WHERE tenant_id = $1 AND is_default",
    )
    .bind(tenant_id)
    .execute(tx)
    .await?;
    Ok(())
}

impl Store {
    /// Inserts a profile; making it the default clears the previous default atomically.
    pub async fn create_ai_profile(
        &self,
        tenant_id: Uuid,
        p: &NewAiProfile,
    ) -> Result<AiProfile, StoreError> {
        let mut tx = self.pool().begin().await?;
        lock_tenant(&mut tx, tenant_id).await?;
        let is_default = match p.is_default {
            Some(d) => d,
            None => {
                let existing: Option<(Uuid,)> = sqlx::query_as(
                    "SELECT id FROM ai_profiles WHERE tenant_id = $1 AND is_default",
                )
                .bind(tenant_id)
                .fetch_optional(&mut *tx)
                .await?;
                existing.is_none()
            }
        };
        if is_default {
            clear_default(&mut tx, tenant_id).await?;
        }
        let sql = format!(
            "INSERT INTO ai_profiles (tenant_id, name, role, system_prompt, greeting, language, voice, \
             max_turns, max_duration_seconds, endpointing_silence_ms, is_default, llm_model, dtmf_map, tools, \
             languages, lines, post_call_summary, record_calls, recording_notice) \
             VALUES ($1, btrim($2), COALESCE($3, 'receptionist'), $4, COALESCE($5, $19), COALESCE($6, $13), $7, \
             COALESCE($8, $14), COALESCE($9, $15), COALESCE($10, $16), $11, $12, $17, $18, $20, $21, $22, \
             $23, btrim($24)) \
             RETURNING {COLUMNS}"
        );
        let row = sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(&p.name)
            .bind(&p.role)
            .bind(&p.system_prompt)
            .bind(&p.greeting)
            .bind(&p.language)
            .bind(&p.voice)
            .bind(p.max_turns)
            .bind(p.max_duration_seconds)
            .bind(p.endpointing_silence_ms)
            .bind(is_default)
            .bind(&p.llm_model)
            .bind(DEFAULT_PROFILE_LANGUAGE)
            .bind(DEFAULT_MAX_TURNS)
            .bind(DEFAULT_MAX_DURATION_SECONDS)
            .bind(DEFAULT_ENDPOINTING_SILENCE_MS)
            .bind(Json(p.dtmf_map.clone().unwrap_or_default()))
            .bind(p.tools.clone().unwrap_or_default())
            .bind(default_greeting(p.language.as_deref()))
            .bind(p.languages.clone().unwrap_or_default())
            .bind(Json(p.lines.clone().unwrap_or_default()))
            .bind(p.post_call_summary.unwrap_or(false))
            .bind(p.record_calls.unwrap_or(false))
            .bind(&p.recording_notice)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// A tenant's profiles, oldest first.
    pub async fn list_ai_profiles(&self, tenant_id: Uuid) -> Result<Vec<AiProfile>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM ai_profiles WHERE tenant_id = $1 ORDER BY created_at, id"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// One of a tenant's profiles.
    pub async fn get_ai_profile(&self, tenant_id: Uuid, id: Uuid) -> Result<AiProfile, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM ai_profiles WHERE tenant_id = $1 AND id = $2");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(id)
            .fetch_one(self.pool())
            .await?)
    }

    /// Changes the given fields; `is_default: true` moves the default here atomically.
    pub async fn update_ai_profile(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        p: &AiProfilePatch,
    ) -> Result<AiProfile, StoreError> {
        let mut tx = self.pool().begin().await?;
        lock_tenant(&mut tx, tenant_id).await?;
        if p.is_default == Some(true) {
            clear_default(&mut tx, tenant_id).await?;
        }
        let sql = format!(
            "UPDATE ai_profiles SET name = COALESCE(btrim($3), name), role = COALESCE($4, role), \
             system_prompt = COALESCE($5, system_prompt), greeting = COALESCE($6, greeting), \
             language = COALESCE($7, language), voice = CASE WHEN $8 THEN $9 ELSE voice END, \
             max_turns = COALESCE($10, max_turns), max_duration_seconds = COALESCE($11, max_duration_seconds), \
             endpointing_silence_ms = COALESCE($12, endpointing_silence_ms), \
             is_default = COALESCE($13, is_default), \
             llm_model = CASE WHEN $14 THEN $15 ELSE llm_model END, \
             dtmf_map = COALESCE($16, dtmf_map), tools = COALESCE($17, tools), \
             languages = COALESCE($18, languages), lines = COALESCE($19, lines), \
             post_call_summary = COALESCE($20, post_call_summary), \
             record_calls = COALESCE($21, record_calls), \
             recording_notice = CASE WHEN $22 THEN btrim($23) ELSE recording_notice END, updated_at = now() \
             WHERE tenant_id = $1 AND id = $2 RETURNING {COLUMNS}"
        );
        let row = sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(id)
            .bind(&p.name)
            .bind(&p.role)
            .bind(&p.system_prompt)
            .bind(&p.greeting)
            .bind(&p.language)
            .bind(p.voice.is_some())
            .bind(p.voice.clone().flatten())
            .bind(p.max_turns)
            .bind(p.max_duration_seconds)
            .bind(p.endpointing_silence_ms)
            .bind(p.is_default)
            .bind(p.llm_model.is_some())
            .bind(p.llm_model.clone().flatten())
            .bind(p.dtmf_map.clone().map(Json))
            .bind(p.tools.clone())
            .bind(p.languages.clone())
            .bind(p.lines.clone().map(Json))
            .bind(p.post_call_summary)
            .bind(p.record_calls)
            .bind(p.recording_notice.is_some())
            .bind(p.recording_notice.clone().flatten())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// How many of the tenant's profiles map a key to the transfer target `name`.
    pub async fn profiles_using_target(
        &self,
        tenant_id: Uuid,
        name: &str,
    ) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM ai_profiles WHERE tenant_id = $1 \
             AND EXISTS (SELECT 1 FROM jsonb_each_text(dtmf_map) e WHERE e.value = $2)",
        )
        .bind(tenant_id)
        .bind(format!("transfer:{name}"))
        .fetch_one(self.pool())
        .await?;
        Ok(n)
    }

    /// How many of the tenant's profiles list the tool `name`.
    pub async fn profiles_using_tool(
        &self,
        tenant_id: Uuid,
        name: &str,
    ) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM ai_profiles WHERE tenant_id = $1 AND $2 = ANY(tools)",
        )
        .bind(tenant_id)
        .bind(name)
        .fetch_one(self.pool())
        .await?;
        Ok(n)
    }

    /// Deletes one of a tenant's profiles; past calls keep their rows.
    pub async fn delete_ai_profile(&self, tenant_id: Uuid, id: Uuid) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM ai_profiles WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
