//! Usage reports from the call rows: per day and per month (UTC) and in total, one tenant
//! or every tenant, with billed minutes rounded up per call, rejected calls by reason, and
//! the range and granularity checked.

use axum::http::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::admin::{Api, api};

/// One final call row: (started, answered after s, duration ms, status, end reason,
/// transfer target, stt ms, prompt, completion, tts).
#[allow(clippy::too_many_arguments)]
async fn call(
    api: &Api,
    tenant: Option<&str>,
    started: &str,
    answered: bool,
    duration_ms: i64,
    status: &str,
    reason: &str,
    transfer: Option<&str>,
    usage: [i64; 4],
) {
    sqlx::query(
        "INSERT INTO calls (tenant_id, channel_id, status, started_at, answered_at, ended_at, duration_ms, \
         end_reason, transfer_target, stt_audio_ms, llm_prompt_tokens, llm_completion_tokens, tts_characters) \
         VALUES ($1::uuid, $2, $3, $4::timestamptz, CASE WHEN $5 THEN $4::timestamptz + interval '1 second' END, \
         $4::timestamptz + interval '10 minutes', $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(tenant)
    .bind(format!("ch-{}", Uuid::new_v4().simple()))
    .bind(status)
    .bind(started)
    .bind(answered)
    .bind(duration_ms)
    .bind(reason)
    .bind(transfer)
    .bind(usage[0])
    .bind(usage[1])
    .bind(usage[2])
    .bind(usage[3])
    .execute(api.store.pool())
    .await
    .unwrap();
}

async fn calls(api: &Api) -> (String, String) {
    let a = api.tenant("A").await;
    let b = api.tenant("B").await;
    let a_ = Some(a.as_str());
    call(
        api,
        a_,
        "2026-11-02T23:59:59Z",
        true,
        9_000,
        "completed",
        "caller_hangup",
        None,
        [1, 1, 1, 1],
    )
    .await;
    call(
        api,
        a_,
        "2026-11-03T10:00:00Z",
        true,
        61_000,
        "completed",
        "caller_hangup",
        None,
        [5_000, 100, 20, 50],
    )
    .await;
    call(
        api,
        a_,
        "2026-11-03T23:59:59Z",
        true,
        60_000,
        "completed",
        "agent_ended",
        None,
        [2_500, 10, 5, 7],
    )
    .await;
    call(
        api,
        a_,
        "2026-11-04T08:00:00Z",
        true,
        125_500,
        "transferred",
        "transferred",
        Some("sales"),
        [500, 0, 0, 3],
    )
    .await;
    call(
        api,
        a_,
        "2026-11-04T09:00:00Z",
        false,
        0,
        "rejected",
        "tenant_busy",
        None,
        [0; 4],
    )
    .await;
    call(
        api,
        a_,
        "2026-12-01T00:00:00Z",
        false,
        0,
        "rejected",
        "number_inactive",
        None,
        [0; 4],
    )
    .await;
    call(
        api,
        a_,
        "2026-12-01T12:00:00Z",
        false,
        3_000,
        "failed",
        "setup_failed: answer",
        None,
        [0; 4],
    )
    .await;
    call(
        api,
        Some(b.as_str()),
        "2026-11-03T12:00:00Z",
        true,
        30_000,
        "completed",
        "caller_hangup",
        None,
        [1_000, 1, 2, 3],
    )
    .await;
    call(
        api,
        None,
        "2026-11-05T12:00:00Z",
        false,
        0,
        "rejected",
        "unknown_did",
        None,
        [0; 4],
    )
    .await;
    (a, b)
}

fn figures(v: &Value) -> Value {
    json!({
        "calls": v["calls"], "answered": v["answered"], "rejected": v["rejected"],
        "rejected_by_reason": v["rejected_by_reason"], "transferred": v["transferred"],
        "billed_minutes": v["billed_minutes"], "seconds": v["seconds"], "stt_seconds": v["stt_seconds"],
        "llm_prompt_tokens": v["llm_prompt_tokens"], "llm_completion_tokens": v["llm_completion_tokens"],
        "tts_characters": v["tts_characters"], "recording_bytes": v["recording_bytes"],
    })
}

#[tokio::test]
async fn a_tenants_usage_per_day_and_month_equals_its_calls() {
    let api = api().await;
    let (a, _) = calls(&api).await;
    let r = api
        .call(
            "GET",
            &format!("/api/tenants/{a}/usage?from=2026-11-03&to=2026-12-02&granularity=day"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["granularity"], "day");
    assert!(r.body.get("tenants").is_none());
    assert_eq!(
        figures(&r.body["total"]),
        json!({
            "calls": 6, "answered": 3, "rejected": 2,
            "rejected_by_reason": {"number_inactive": 1, "tenant_busy": 1},
            "transferred": 1, "billed_minutes": 6, "seconds": 246.5, "stt_seconds": 8.0,
            "llm_prompt_tokens": 110, "llm_completion_tokens": 25, "tts_characters": 60,
            "recording_bytes": 0,
        })
    );
    let periods = r.body["periods"].as_array().unwrap();
    let starts: Vec<&str> = periods
        .iter()
        .map(|p| p["start"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        [
            "2026-11-03T00:00:00Z",
            "2026-11-04T00:00:00Z",
            "2026-12-01T00:00:00Z"
        ]
    );
    assert_eq!(periods[0]["calls"], 2);
    assert_eq!(periods[0]["billed_minutes"], 3);
    assert_eq!(periods[1]["transferred"], 1);
    assert_eq!(periods[1]["rejected_by_reason"], json!({"tenant_busy": 1}));
    assert_eq!(periods[1]["billed_minutes"], 3);
    assert_eq!(periods[2]["calls"], 2);
    assert_eq!(periods[2]["answered"], 0);
    assert_eq!(periods[2]["billed_minutes"], 0);
    assert_eq!(periods[0]["rejected_by_reason"], json!({}));

    let r = api
        .call(
            "GET",
            &format!("/api/tenants/{a}/usage?from=2026-11-01T00:00:00Z&to=2027-01-01T00:00:00Z&granularity=month"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    let periods = r.body["periods"].as_array().unwrap();
    assert_eq!(periods.len(), 2);
    assert_eq!(periods[0]["start"], "2026-11-01T00:00:00Z");
    assert_eq!(periods[0]["calls"], 5);
    assert_eq!(periods[0]["billed_minutes"], 7);
    assert_eq!(periods[1]["start"], "2026-12-01T00:00:00Z");
    assert_eq!(periods[1]["rejected"], 1);
    assert_eq!(r.body["total"]["calls"], 7);
}

#[tokio::test]
async fn the_operator_sees_every_tenant_and_each_one_apart() {
    let api = api().await;
    let (a, b) = calls(&api).await;
    let r = api
        .call("GET", "/api/usage?from=2026-11-03&to=2026-12-02", None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["total"]["calls"], 8);
    assert_eq!(
        r.body["total"]["rejected_by_reason"],
        json!({"number_inactive": 1, "tenant_busy": 1, "unknown_did": 1})
    );
    assert_eq!(r.body["total"]["billed_minutes"], 7);
    let tenants = r.body["tenants"].as_array().unwrap();
    let of = |id: Value| {
        tenants
            .iter()
            .find(|t| t["tenant_id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(of(json!(a))["calls"], 6);
    assert_eq!(of(json!(b))["calls"], 1);
    assert_eq!(of(json!(b))["seconds"], 30.0);
    assert_eq!(
        of(Value::Null)["rejected_by_reason"],
        json!({"unknown_did": 1})
    );
    let nov3 = &r.body["periods"][0];
    assert_eq!(nov3["start"], "2026-11-03T00:00:00Z");
    assert_eq!(nov3["calls"], 3);
    // Tenant B's own report holds only its call.
    let r = api
        .call(
            "GET",
            &format!("/api/tenants/{b}/usage?from=2026-11-01&to=2026-12-02"),
            None,
        )
        .await;
    assert_eq!(r.body["total"]["calls"], 1);
    assert_eq!(r.body["total"]["billed_minutes"], 1);
    // An empty range is all zeroes.
    let r = api
        .call(
            "GET",
            &format!("/api/tenants/{b}/usage?from=2025-01-01&to=2025-02-01"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["periods"], json!([]));
    assert_eq!(r.body["total"]["calls"], 0);
    assert_eq!(r.body["total"]["seconds"], 0.0);
}

#[tokio::test]
async fn a_tenants_usage_is_read_from_its_covering_index() {
    let api = api().await;
    let (a, _) = calls(&api).await;
    let pool = api.store.pool();
    sqlx::query("ANALYZE calls").execute(pool).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    // Few rows here: make the planner show the plan it takes on a big table.
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await
        .unwrap();
    let plan: Vec<(String,)> = sqlx::query_as(
        "EXPLAIN SELECT count(*), sum(duration_ms), sum(stt_audio_ms), sum(tts_characters) FROM calls \
         WHERE tenant_id = $1::uuid AND started_at >= '2026-01-01' AND started_at < '2027-01-01'",
    )
    .bind(&a)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let plan: String = plan.into_iter().map(|r| r.0 + "\n").collect();
    assert!(
        plan.contains("Index Only Scan using calls_usage_tenant"),
        "{plan}"
    );
}
