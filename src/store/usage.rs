//! Usage for billing: what the call rows count, summed per day or month (UTC) and in total,
//! for one tenant or (the operator's view) every tenant with a line per tenant. One query
//! per report, over the covering indexes `calls_usage_tenant` / `calls_usage_all`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{Store, StoreError};
// SQL here is built only from this file's constant fragments; values are always bound.
use sqlx::AssertSqlSafe;

/// A call's billed minutes: its answered duration rounded up to the minute (0 when never
/// answered). The webhook payload of `call.ended` uses the same rule.
pub(crate) const BILLED_MINUTES_SQL: &str = "(CASE WHEN answered_at IS NULL THEN 0 \
     ELSE ceil(COALESCE(duration_ms, 0) / 60000.0)::bigint END)";

/// The length of a usage period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    Day,
    Month,
}

impl Granularity {
    /// The `date_trunc` field.
    fn as_sql(self) -> &'static str {
        match self {
            Granularity::Day => "day",
            Granularity::Month => "month",
        }
    }

    /// Parses `day` or `month`.
    pub fn parse(text: &str) -> Option<Granularity> {
        match text {
            "day" => Some(Granularity::Day),
            "month" => Some(Granularity::Month),
            _ => None,
        }
    }
}

/// What to report on: calls started in `[from, to)`.
#[derive(Debug, Clone)]
pub struct UsageQuery {
    /// One tenant, or `None` for every tenant.
    pub tenant_id: Option<Uuid>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub granularity: Granularity,
}

/// The counted figures of a set of calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UsageFigures {
    /// Calls started (accepted and rejected).
    pub calls: i64,
    /// Calls answered.
    pub answered: i64,
    /// Calls refused before they were answered.
    pub rejected: i64,
    /// Rejected calls by reason (`unknown_did`, `tenant_busy`, ...).
    pub rejected_by_reason: BTreeMap<String, i64>,
    /// Calls handed to a transfer target.
    pub transferred: i64,
    /// Each answered call's duration rounded up to the minute, summed.
    pub billed_minutes: i64,
    /// Answered time, in seconds (millisecond precision).
    pub seconds: f64,
    /// Audio sent to speech-to-text, in seconds.
    pub stt_seconds: f64,
    pub llm_prompt_tokens: i64,
    pub llm_completion_tokens: i64,
    pub tts_characters: i64,
    /// Bytes recorded (every segment, also of recordings deleted since).
    pub recording_bytes: i64,
}

/// One period's figures.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UsagePeriod {
    /// The period's first instant (UTC midnight of the day, or of the month's first day).
    pub start: DateTime<Utc>,
    #[serde(flatten)]
    pub figures: UsageFigures,
}

/// One tenant's figures over the whole range (the operator's report).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TenantUsage {
    /// `null` for calls rejected before they matched a tenant.
    pub tenant_id: Option<Uuid>,
    #[serde(flatten)]
    pub figures: UsageFigures,
}

/// A usage report.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UsageReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub granularity: Granularity,
    /// Periods with at least one call, oldest first.
    pub periods: Vec<UsagePeriod>,
    pub total: UsageFigures,
    /// Per tenant, in the operator's report only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenants: Option<Vec<TenantUsage>>,
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    g: i32,
    gt: i32,
    period: Option<DateTime<Utc>>,
    tenant_id: Option<Uuid>,
    reason: Option<String>,
    calls: i64,
    answered: i64,
    rejected: i64,
    transferred: i64,
    billed_minutes: i64,
    answered_ms: i64,
    stt_ms: i64,
    llm_prompt_tokens: i64,
    llm_completion_tokens: i64,
    tts_characters: i64,
    recording_bytes: i64,
}

impl Row {
    fn figures(&self) -> UsageFigures {
        UsageFigures {
            calls: self.calls,
            answered: self.answered,
            rejected: self.rejected,
            rejected_by_reason: BTreeMap::new(),
            transferred: self.transferred,
            billed_minutes: self.billed_minutes,
            seconds: self.answered_ms as f64 / 1000.0,
            stt_seconds: self.stt_ms as f64 / 1000.0,
            llm_prompt_tokens: self.llm_prompt_tokens,
            llm_completion_tokens: self.llm_completion_tokens,
            tts_characters: self.tts_characters,
            recording_bytes: self.recording_bytes,
        }
    }
}

// (GROUPING(period, reason), GROUPING(tenant_id)): a bit is 1 where the column is
// aggregated over.
const G_PERIOD: (i32, i32) = (0b01, 1);
const G_TOTAL: (i32, i32) = (0b11, 1);
const G_PERIOD_REASON: (i32, i32) = (0b00, 1);
const G_REASON: (i32, i32) = (0b10, 1);
const G_TENANT: (i32, i32) = (0b11, 0);
const G_TENANT_REASON: (i32, i32) = (0b10, 0);

fn sql(one_tenant: bool) -> String {
    let (filter, gt, sets) = if one_tenant {
        (
            "tenant_id = $1",
            "1",
            "(period), (), (period, reason), (reason)",
        )
    } else {
        (
            "$1::uuid IS NULL",
            "GROUPING(tenant_id)",
            "(period), (), (period, reason), (reason), (tenant_id), (tenant_id, reason)",
        )
    };
    format!(
        "WITH c AS (SELECT date_trunc($2, started_at, 'UTC') AS period, tenant_id, \
           CASE WHEN status = 'rejected' THEN COALESCE(end_reason, 'unknown') END AS reason, \
           status, answered_at, duration_ms, transfer_target, stt_audio_ms, llm_prompt_tokens, \
           llm_completion_tokens, tts_characters, recording_bytes, {BILLED_MINUTES_SQL} AS billed \
           FROM calls WHERE {filter} AND started_at >= $3 AND started_at < $4) \
         SELECT GROUPING(period, reason) AS g, {gt} AS gt, period, \
           {tenant} AS tenant_id, reason, \
           count(*) AS calls, count(answered_at) AS answered, \
           count(*) FILTER (WHERE status = 'rejected') AS rejected, \
           count(*) FILTER (WHERE status = 'transferred' OR transfer_target IS NOT NULL) AS transferred, \
           COALESCE(sum(billed), 0)::bigint AS billed_minutes, \
           COALESCE(sum(duration_ms) FILTER (WHERE answered_at IS NOT NULL), 0)::bigint AS answered_ms, \
           COALESCE(sum(stt_audio_ms), 0)::bigint AS stt_ms, \
           COALESCE(sum(llm_prompt_tokens), 0)::bigint AS llm_prompt_tokens, \
           COALESCE(sum(llm_completion_tokens), 0)::bigint AS llm_completion_tokens, \
           COALESCE(sum(tts_characters), 0)::bigint AS tts_characters, \
           COALESCE(sum(recording_bytes), 0)::bigint AS recording_bytes \
         FROM c GROUP BY GROUPING SETS ({sets}) ORDER BY 3 NULLS LAST, 4 NULLS FIRST",
        tenant = if one_tenant {
            "NULL::uuid"
        } else {
            "tenant_id"
        },
    )
}

impl Store {
    /// The usage report of `q`, in one query.
    pub async fn usage(&self, q: &UsageQuery) -> Result<UsageReport, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(AssertSqlSafe(sql(q.tenant_id.is_some())))
            .bind(q.tenant_id)
            .bind(q.granularity.as_sql())
            .bind(q.from)
            .bind(q.to)
            .fetch_all(self.pool())
            .await?;
        let mut periods: Vec<UsagePeriod> = Vec::new();
        let mut total = UsageFigures::default();
        let mut tenants: Vec<TenantUsage> = Vec::new();
        // Rows come ordered by period, and within a period the plain row before the
        // per-reason ones is not guaranteed, so reasons are applied after.
        let mut reasons = Vec::new();
        for row in &rows {
            match (row.g, row.gt) {
                G_PERIOD => {
                    if let Some(start) = row.period {
                        periods.push(UsagePeriod {
                            start,
                            figures: row.figures(),
                        });
                    }
                }
                G_TOTAL => total = row.figures(),
                G_TENANT => tenants.push(TenantUsage {
                    tenant_id: row.tenant_id,
                    figures: row.figures(),
                }),
                G_PERIOD_REASON | G_REASON | G_TENANT_REASON => reasons.push(row),
                _ => {}
            }
        }
        for row in reasons {
            let Some(reason) = row.reason.clone() else {
                continue;
            };
            let figures = match (row.g, row.gt) {
                G_REASON => Some(&mut total),
                G_PERIOD_REASON => periods
                    .iter_mut()
                    .find(|p| Some(p.start) == row.period)
                    .map(|p| &mut p.figures),
                _ => tenants
                    .iter_mut()
                    .find(|t| t.tenant_id == row.tenant_id)
                    .map(|t| &mut t.figures),
            };
            if let Some(f) = figures {
                f.rejected_by_reason.insert(reason, row.calls);
            }
        }
        Ok(UsageReport {
            from: q.from,
            to: q.to,
            granularity: q.granularity,
            periods,
            total,
            tenants: q.tenant_id.is_none().then_some(tenants),
        })
    }
}
