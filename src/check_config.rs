//! The `check-config` command: shows every setting (secrets redacted) with where it
//! came from, then reaches each dependency and says what is fine, what is wrong and
//! how to fix it. Exit status 0 only when all is fine.

use std::fmt::Write as _;
use std::time::Duration;

use crate::config::{Settings, ShownSetting};
use crate::store::Store;
use crate::store::redis::RedisPool;

/// The result of one check.
#[derive(Debug, Clone)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// What was found, and for a failure how to fix it.
    pub detail: String,
}

/// Runs every dependency check, each bounded in time.
pub async fn run_checks(settings: &Settings) -> Vec<Check> {
    let limit = Duration::from_secs(5);
    let pg = async {
        let attempt = async {
            let store = Store::connect(&settings.database_url).await?;
            store.ping().await
        };
        match tokio::time::timeout(limit, attempt).await {
            Ok(Ok(())) => Check {
                name: "postgres",
                ok: true,
                detail: "reachable".into(),
            },
            Ok(Err(e)) => Check {
                name: "postgres",
                ok: false,
                detail: format!(
                    "{}; check VCA_DATABASE_URL and that PostgreSQL runs (pg_isready)",
                    short(&e.to_string())
                ),
            },
            Err(_) => Check {
                name: "postgres",
                ok: false,
                detail: "no answer within 5 s; check VCA_DATABASE_URL host and port".into(),
            },
        }
    };
    let redis = async {
        let result = match RedisPool::new(&settings.redis_url) {
            Ok(pool) => pool.ping().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(()) => Check {
                name: "redis",
                ok: true,
                detail: "reachable".into(),
            },
            Err(e) => Check {
                name: "redis",
                ok: false,
                detail: format!(
                    "{}; check VCA_REDIS_URL and that Redis runs (redis-cli ping)",
                    short(&e)
                ),
            },
        }
    };
    let (pg, redis) = tokio::join!(pg, redis);
    vec![pg, redis]
}

/// Keeps error texts to one short line.
fn short(s: &str) -> String {
    let line = s.lines().next().unwrap_or("");
    line.chars().take(160).collect()
}

/// Renders the settings and the checks for a terminal.
pub fn render(shown: &[ShownSetting], checks: &[Check]) -> String {
    let mut out = String::from("Settings\n");
    let width = shown.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for s in shown {
        let _ = writeln!(
            out,
            "  {:width$}  {}  ({})",
            s.name,
            s.value,
            s.source.as_str()
        );
    }
    out.push_str("\nChecks\n");
    for c in checks {
        let _ = writeln!(
            out,
            "  [{}] {:9} {}",
            if c.ok { " ok " } else { "FAIL" },
            c.name,
            c.detail
        );
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed == 0 {
        out.push_str("\nAll checks passed.\n");
    } else {
        let _ = writeln!(out, "\n{failed} check(s) failed.");
    }
    out
}
