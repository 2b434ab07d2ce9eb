//! `/api/tenants/{tid}/ai-profiles`: how a tenant's agent behaves on calls.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, parse_id};
use super::phone_numbers::tenant;
use super::validate::{non_blank, one_of, range};
use std::collections::BTreeMap;

use crate::conversation::profile::{END_CALL, TRANSFER_CALL};
use crate::language::{LanguageTag, LineBook, LineText};

/// The most other languages a profile may name.
const MAX_LANGUAGES: usize = 12;
use crate::store::ai_profiles::{
    AiProfile, AiProfilePatch, DtmfAction, NewAiProfile, ROLES, is_dtmf_key,
};

/// Checks shared by create and update; `None` means "not given".
struct Fields<'a> {
    name: Option<&'a str>,
    role: Option<&'a str>,
    system_prompt: Option<&'a str>,
    language: Option<&'a str>,
    languages: Option<&'a [String]>,
    lines: Option<&'a BTreeMap<String, LineText>>,
    max_turns: Option<i32>,
    max_duration_seconds: Option<i32>,
    endpointing_silence_ms: Option<i32>,
    recording_notice: Option<&'a str>,
}

/// The longest recording notice, in characters.
const MAX_NOTICE_CHARS: usize = 500;

fn check(f: Fields<'_>) -> Result<(), ApiError> {
    if let Some(n) = f.recording_notice
        && (n.trim().is_empty() || n.chars().count() > MAX_NOTICE_CHARS)
    {
        return Err(ApiError::BadRequest(format!(
            "recording_notice: from 1 to {MAX_NOTICE_CHARS} characters (null for the default)"
        )));
    }
    non_blank("name", f.name)?;
    one_of("role", f.role, ROLES)?;
    if let Some(p) = f.system_prompt
        && p.trim().is_empty()
    {
        return Err(ApiError::BadRequest(
            "system_prompt must not be empty".into(),
        ));
    }
    if let Some(l) = f.language {
        LanguageTag::parse(l).map_err(|e| ApiError::BadRequest(format!("language: {e}")))?;
    }
    if let Some(list) = f.languages {
        if list.len() > MAX_LANGUAGES {
            return Err(ApiError::BadRequest(format!(
                "languages: at most {MAX_LANGUAGES}"
            )));
        }
        let mut seen = Vec::new();
        for l in list {
            let tag = LanguageTag::parse(l)
                .map_err(|e| ApiError::BadRequest(format!("languages: {e}")))?;
            if seen.contains(&tag.language()) {
                return Err(ApiError::BadRequest(format!(
                    "languages: {} is given twice",
                    tag.language()
                )));
            }
            seen.push(tag.language());
        }
    }
    if let Some(lines) = f.lines {
        LineBook::parse(lines, &LanguageTag::english())
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    }
    range("max_turns", f.max_turns, 1, 1000)?;
    range("max_duration_seconds", f.max_duration_seconds, 10, 86_400)?;
    range(
        "endpointing_silence_ms",
        f.endpointing_silence_ms,
        100,
        5000,
    )
}

/// Writes checked language tags in canonical case (`hi-in` → `hi-IN`).
fn canonical(language: &mut Option<String>, languages: &mut Option<Vec<String>>) {
    let canon = |l: &mut String| {
        if let Ok(tag) = LanguageTag::parse(l) {
            *l = tag.to_string();
        }
    };
    language.iter_mut().for_each(canon);
    languages.iter_mut().flatten().for_each(canon);
}

/// The keypad map and the tool list, against the tenant's targets and tools: every key one
/// of `0-9 * #`, every action `transfer:<an existing target>`, `hangup` or `repeat`, every
/// tool built in or the tenant's.
async fn check_actions(
    app: &AppState,
    tid: uuid::Uuid,
    dtmf_map: Option<&BTreeMap<String, String>>,
    tools: Option<&Vec<String>>,
) -> Result<(), ApiError> {
    if let Some(map) = dtmf_map {
        let targets: Vec<String> = if map.values().any(|v| v.starts_with("transfer:")) {
            app.store()
                .list_transfer_targets(tid)
                .await?
                .into_iter()
                .map(|t| t.name)
                .collect()
        } else {
            Vec::new()
        };
        for (key, action) in map {
            if !is_dtmf_key(key) {
                return Err(ApiError::BadRequest(format!(
                    "dtmf_map: {key:?} is not a key; use one of 0-9, * and #"
                )));
            }
            match DtmfAction::parse(action) {
                Some(DtmfAction::Transfer(t)) if !targets.contains(&t) => {
                    return Err(ApiError::BadRequest(format!(
                        "dtmf_map: key {key} transfers to {t:?}, which is not a transfer target of this tenant"
                    )));
                }
                Some(_) => {}
                None => {
                    return Err(ApiError::BadRequest(format!(
                        "dtmf_map: key {key}: use \"transfer:<target name>\", \"hangup\" or \"repeat\""
                    )));
                }
            }
        }
    }
    if let Some(tools) = tools {
        let own = app.store().tool_names(tid).await?;
        for name in tools {
            if name != TRANSFER_CALL && name != END_CALL && !own.contains(name) {
                return Err(ApiError::BadRequest(format!(
                    "tools: {name:?} is neither transfer_call, end_call nor one of this tenant's tools"
                )));
            }
        }
    }
    Ok(())
}

/// Create an AI profile. The tenant's first profile becomes its default unless
/// `is_default` says otherwise; `is_default: true` moves the default here.
#[utoipa::path(post, path = "/api/tenants/{tid}/ai-profiles", tag = "ai profiles",
    request_body = NewAiProfile, params(("tid" = uuid::Uuid, Path)),
    responses((status = 201, body = AiProfile), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(app): State<AppState>,
    Path(tid): Path<String>,
    ApiJson(mut body): ApiJson<NewAiProfile>,
) -> Result<(StatusCode, Json<AiProfile>), ApiError> {
    let tid = tenant(&app, &tid).await?;
    check(Fields {
        name: Some(&body.name),
        role: body.role.as_deref(),
        system_prompt: Some(&body.system_prompt),
        language: body.language.as_deref(),
        languages: body.languages.as_deref(),
        lines: body.lines.as_ref(),
        max_turns: body.max_turns,
        max_duration_seconds: body.max_duration_seconds,
        endpointing_silence_ms: body.endpointing_silence_ms,
        recording_notice: body.recording_notice.as_deref(),
    })?;
    check_actions(&app, tid, body.dtmf_map.as_ref(), body.tools.as_ref()).await?;
    canonical(&mut body.language, &mut body.languages);
    let p = app.store().create_ai_profile(tid, &body).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// List a tenant's AI profiles.
#[utoipa::path(get, path = "/api/tenants/{tid}/ai-profiles", tag = "ai profiles",
    params(("tid" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<AiProfile>), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(app): State<AppState>,
    Path(tid): Path<String>,
) -> Result<Json<Vec<AiProfile>>, ApiError> {
    let tid = tenant(&app, &tid).await?;
    Ok(Json(app.store().list_ai_profiles(tid).await?))
}

/// Read one of a tenant's AI profiles.
#[utoipa::path(get, path = "/api/tenants/{tid}/ai-profiles/{id}", tag = "ai profiles",
    params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = AiProfile), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
) -> Result<Json<AiProfile>, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    Ok(Json(app.store().get_ai_profile(tid, id).await?))
}

/// Change an AI profile.
#[utoipa::path(patch, path = "/api/tenants/{tid}/ai-profiles/{id}", tag = "ai profiles",
    request_body = AiProfilePatch, params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = AiProfile), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
    ApiJson(mut body): ApiJson<AiProfilePatch>,
) -> Result<Json<AiProfile>, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    check(Fields {
        name: body.name.as_deref(),
        role: body.role.as_deref(),
        system_prompt: body.system_prompt.as_deref(),
        language: body.language.as_deref(),
        languages: body.languages.as_deref(),
        lines: body.lines.as_ref(),
        max_turns: body.max_turns,
        max_duration_seconds: body.max_duration_seconds,
        endpointing_silence_ms: body.endpointing_silence_ms,
        recording_notice: body.recording_notice.as_ref().and_then(|n| n.as_deref()),
    })?;
    check_actions(&app, tid, body.dtmf_map.as_ref(), body.tools.as_ref()).await?;
    canonical(&mut body.language, &mut body.languages);
    Ok(Json(app.store().update_ai_profile(tid, id, &body).await?))
}

/// Delete an AI profile. Deleting the default leaves the tenant without one, and its
/// calls are rejected until another profile is made the default.
#[utoipa::path(delete, path = "/api/tenants/{tid}/ai-profiles/{id}", tag = "ai profiles",
    params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    app.store().delete_ai_profile(tid, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
