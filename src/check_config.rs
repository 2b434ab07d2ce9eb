//! The `check-config` command: shows every setting (secrets redacted) with where it
//! came from, then reaches each dependency (PostgreSQL, Redis, ARI with its credentials
//! and application) and says what is fine, what is wrong and
//! how to fix it. Exit status 0 only when all is fine.

use std::fmt::Write as _;
use std::time::Duration;

use crate::ari::{AriClient, AriError};
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
    let ari = check_ari(settings);
    let (pg, redis, ari) = tokio::join!(pg, redis, ari);
    vec![pg, redis, ari, check_recordings(&settings.recordings.dir)]
}

/// Whether recordings can be written under `dir`: into it, or into the nearest directory
/// above it that exists (the daemon makes the rest). Writes and removes one probe file.
pub fn check_recordings(dir: &std::path::Path) -> Check {
    let existing = dir.ancestors().find(|d| d.exists());
    let result = match existing {
        None => Err("no part of the path exists".to_string()),
        Some(d) if !d.is_dir() => Err(format!("{} is not a directory", d.display())),
        Some(d) => {
            let probe = d.join(format!(".vca-check-{}", std::process::id()));
            std::fs::write(&probe, b"")
                .and_then(|()| std::fs::remove_file(&probe))
                .map(|()| d.to_path_buf())
                .map_err(|e| format!("cannot write in {}: {e}", d.display()))
        }
    };
    match result {
        Ok(d) if d == dir => Check {
            name: "recordings",
            ok: true,
            detail: format!("{} is writable", dir.display()),
        },
        Ok(d) => Check {
            name: "recordings",
            ok: true,
            detail: format!("{} will be made in {}", dir.display(), d.display()),
        },
        Err(e) => Check {
            name: "recordings",
            ok: false,
            detail: format!(
                "{e}; set VCA_RECORDINGS_DIR to a directory the daemon's user may write \
                 (under systemd: StateDirectory=vca-bridge gives /var/lib/vca-bridge)"
            ),
        },
    }
}

/// Reaches ARI with the configured credentials and asks for our application.
async fn check_ari(settings: &Settings) -> Check {
    let fail = |detail: String| Check {
        name: "ari",
        ok: false,
        detail,
    };
    let cfg = crate::daemon::ari_config(settings);
    let client = match AriClient::new(&cfg) {
        Ok(c) => c,
        Err(e) => return fail(format!("{}; check VCA_ARI_URL", short(&e.to_string()))),
    };
    let app = &settings.ari_app;
    match tokio::time::timeout(Duration::from_secs(5), client.application(app)).await {
        Ok(Ok(_)) => Check {
            name: "ari",
            ok: true,
            detail: format!("credentials accepted; application {app:?} is registered (a daemon is connected)"),
        },
        Ok(Err(e)) if e.is_not_found() && e.message().is_some_and(|m| m.contains("Application not found")) => Check {
            name: "ari",
            ok: true,
            detail: format!("credentials accepted; application {app:?} registers when the daemon connects"),
        },
        Ok(Err(AriError::Unauthorized { .. })) => fail(
            "ARI refused the credentials; check VCA_ARI_USERNAME and VCA_ARI_PASSWORD against ari.conf".into(),
        ),
        Ok(Err(e)) if e.is_not_found() => fail(format!(
            "{} answers but has no ARI (HTTP 404); load res_ari and enable ari.conf",
            settings.ari_url
        )),
        Ok(Err(e)) => fail(format!(
            "{}; check VCA_ARI_URL ({}) and Asterisk's http.conf (enabled, bindaddr)",
            short(&e.to_string()),
            settings.ari_url
        )),
        Err(_) => fail(format!("no answer from {} within 5 s; check VCA_ARI_URL", settings.ari_url)),
    }
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

#[cfg(test)]
mod tests {
    use super::check_recordings;

    #[test]
    fn the_recordings_directory_is_checked_without_being_made() {
        let base = std::env::temp_dir().join(format!("vca-check-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&base).ok();
        let missing = base.join("a/b");
        let c = check_recordings(&missing);
        assert!(c.ok && c.detail.contains("will be made"), "{c:?}");
        assert!(!missing.exists(), "nothing is created");
        std::fs::create_dir_all(&missing).ok();
        assert!(check_recordings(&missing).detail.ends_with("is writable"));
        // A file where a directory should be: nothing can be written there.
        let blocked = base.join("file");
        std::fs::write(&blocked, b"").ok();
        let c = check_recordings(&blocked.join("rec"));
        assert!(!c.ok && c.detail.contains("not a directory"), "{c:?}");
        std::fs::remove_dir_all(base).ok();
    }
}
