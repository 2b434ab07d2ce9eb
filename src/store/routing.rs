//! The one query that routes a call: DID → phone number → tenant → default AI profile.

use uuid::Uuid;

use super::ai_profiles::AiProfile;
use super::{Store, StoreError};

/// Everything routing needs to know about a dialled number, from one query.
#[derive(Debug, Clone)]
pub struct RouteRow {
    pub phone_number_id: Uuid,
    pub tenant_id: Uuid,
    pub number_active: bool,
    pub tenant_status: String,
    pub max_concurrent_calls: i32,
    /// The tenant's default profile, if it has one.
    pub profile: Option<AiProfile>,
}

#[derive(sqlx::FromRow)]
struct Flat {
    phone_number_id: Uuid,
    tenant_id: Uuid,
    number_active: bool,
    tenant_status: String,
    max_concurrent_calls: i32,
    p_id: Option<Uuid>,
    p_name: Option<String>,
    p_role: Option<String>,
    p_system_prompt: Option<String>,
    p_greeting: Option<String>,
    p_language: Option<String>,
    p_languages: Option<Vec<String>>,
    p_lines:
        Option<sqlx::types::Json<std::collections::BTreeMap<String, crate::language::LineText>>>,
    p_voice: Option<String>,
    p_llm_model: Option<String>,
    p_max_turns: Option<i32>,
    p_max_duration_seconds: Option<i32>,
    p_endpointing_silence_ms: Option<i32>,
    p_dtmf_map: Option<sqlx::types::Json<std::collections::BTreeMap<String, String>>>,
    p_tools: Option<Vec<String>>,
    p_post_call_summary: Option<bool>,
    p_record_calls: Option<bool>,
    p_recording_notice: Option<String>,
    p_created_at: Option<chrono::DateTime<chrono::Utc>>,
    p_updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Store {
    /// Looks up an E.164 DID; `None` when no tenant owns it.
    pub async fn route_did(&self, did: &str) -> Result<Option<RouteRow>, StoreError> {
        let flat: Option<Flat> = sqlx::query_as(
            "SELECT n.id AS phone_number_id, t.id AS tenant_id, n.is_active AS number_active, \
                    t.status AS tenant_status, t.max_concurrent_calls, \
                    p.id AS p_id, p.name AS p_name, p.role AS p_role, p.system_prompt AS p_system_prompt, \
                    p.greeting AS p_greeting, p.language AS p_language, \
                    p.languages AS p_languages, p.lines AS p_lines, p.voice AS p_voice, p.llm_model AS p_llm_model, \
                    p.max_turns AS p_max_turns, p.max_duration_seconds AS p_max_duration_seconds, \
                    p.endpointing_silence_ms AS p_endpointing_silence_ms, \
                    p.dtmf_map AS p_dtmf_map, p.tools AS p_tools, p.post_call_summary AS p_post_call_summary, \
                    p.record_calls AS p_record_calls, p.recording_notice AS p_recording_notice, \
                    p.created_at AS p_created_at, p.updated_at AS p_updated_at \
             FROM phone_numbers n \
             JOIN tenants t ON t.id = n.tenant_id \
             LEFT JOIN ai_profiles p ON p.tenant_id = t.id AND p.is_default \
             WHERE n.did_number = $1",
        )
        .bind(did)
        .fetch_optional(self.pool())
        .await?;
        Ok(flat.map(|f| {
            let profile = match (f.p_id, f.p_system_prompt, f.p_created_at, f.p_updated_at) {
                (Some(id), Some(system_prompt), Some(created_at), Some(updated_at)) => {
                    Some(AiProfile {
                        id,
                        tenant_id: f.tenant_id,
                        name: f.p_name.unwrap_or_default(),
                        role: f.p_role.unwrap_or_default(),
                        system_prompt,
                        greeting: f.p_greeting.unwrap_or_default(),
                        language: f
                            .p_language
                            .unwrap_or_else(|| super::ai_profiles::DEFAULT_PROFILE_LANGUAGE.into()),
                        languages: f.p_languages.unwrap_or_default(),
                        lines: f.p_lines.unwrap_or_default(),
                        voice: f.p_voice,
                        llm_model: f.p_llm_model,
                        max_turns: f
                            .p_max_turns
                            .unwrap_or(super::ai_profiles::DEFAULT_MAX_TURNS),
                        max_duration_seconds: f
                            .p_max_duration_seconds
                            .unwrap_or(super::ai_profiles::DEFAULT_MAX_DURATION_SECONDS),
                        endpointing_silence_ms: f
                            .p_endpointing_silence_ms
                            .unwrap_or(super::ai_profiles::DEFAULT_ENDPOINTING_SILENCE_MS),
                        dtmf_map: f.p_dtmf_map.unwrap_or_default(),
                        tools: f.p_tools.unwrap_or_default(),
                        post_call_summary: f.p_post_call_summary.unwrap_or(false),
                        record_calls: f.p_record_calls.unwrap_or(false),
                        recording_notice: f.p_recording_notice,
                        is_default: true,
                        created_at,
                        updated_at,
                    })
                }
                _ => None,
            };
            RouteRow {
                phone_number_id: f.phone_number_id,
                tenant_id: f.tenant_id,
                number_active: f.number_active,
                tenant_status: f.tenant_status,
                max_concurrent_calls: f.max_concurrent_calls,
                profile,
            }
        }))
    }
}
