//! The `vca-bridge` binary as an operator meets it: help, exit status 2 with one
//! line naming a bad setting, secrets kept out of every output, `migrate`,
//! `check-config` with a dependency down, and `run` serving until SIGTERM.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support::db;

const BIN: &str = env!("CARGO_BIN_EXE_vca-bridge");
const SECRET_TOKEN: &str = "super-secret-admin-token-42";
const SECRET_PASSWORD: &str = "ari-password-never-shown";

fn base_env(cmd: &mut Command, database_url: &str) {
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("VCA_DATABASE_URL", database_url)
        .env("VCA_REDIS_URL", db::redis_url())
        .env("VCA_ADMIN_TOKEN", SECRET_TOKEN)
        .env("VCA_ARI_USERNAME", "vca")
        .env("VCA_ARI_PASSWORD", SECRET_PASSWORD)
        .env("VCA_LLM_PROVIDER", "echo")
        .env("VCA_STT_BASE_URL", "http://127.0.0.1:9/v1")
        .env("VCA_LOG_FORMAT", "json");
}

fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_no_secrets(text: &str) {
    assert!(!text.contains(SECRET_TOKEN), "token leaked: {text}");
    assert!(!text.contains(SECRET_PASSWORD), "password leaked: {text}");
}

#[test]
fn help_for_every_command_shows_no_secret() {
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["migrate", "--help"],
        &["check-config", "--help"],
    ] {
        let mut cmd = Command::new(BIN);
        base_env(&mut cmd, "postgres://u:dbpass@127.0.0.1/x");
        let out = cmd.args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = output_text(&out);
        assert_no_secrets(&text);
        assert!(!text.contains("dbpass"));
        assert!(text.contains("Usage"), "{text}");
    }
}

#[test]
fn bad_settings_exit_2_with_one_line_naming_them() {
    let cases: &[(&str, &str, &str)] = &[
        ("VCA_ADMIN_LISTEN", "not-an-address", "VCA_ADMIN_LISTEN: "),
        ("VCA_MEDIA_FORMAT", "opus", "VCA_MEDIA_FORMAT: "),
        ("VCA_RTP_PORT_RANGE", "40000-30000", "VCA_RTP_PORT_RANGE: "),
        (
            "VCA_DEFAULT_COUNTRY_CODE",
            "abc",
            "VCA_DEFAULT_COUNTRY_CODE: ",
        ),
        ("VCA_LOG_FORMAT", "xml", "VCA_LOG_FORMAT: "),
        ("VCA_ARI_URL", "ftp://x", "VCA_ARI_URL: "),
        ("VCA_ADMIN_TOKEN", "short", "VCA_ADMIN_TOKEN: "),
        (
            "VCA_ARI_PASSWORD_FILE",
            "/nonexistent/secret",
            "VCA_ARI_PASSWORD",
        ),
    ];
    for (key, value, prefix) in cases {
        let mut cmd = Command::new(BIN);
        base_env(&mut cmd, "postgres://127.0.0.1/x");
        cmd.env(key, value).arg("check-config");
        let out = cmd.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{key}={value}: {}",
            output_text(&out)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(lines[0].contains(prefix), "{stderr}");
        assert_no_secrets(&stderr);
    }
    let mut cmd = Command::new(BIN);
    cmd.env_clear().arg("run");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("VCA_DATABASE_URL: missing"));
}

#[test]
fn flags_beat_environment_beat_file() {
    let dir = std::env::temp_dir().join(format!("vca-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.toml");
    std::fs::write(&file, "media_format = \"opus\"\n").unwrap();
    // The file's bad value loses to the environment's good one...
    let mut cmd = Command::new(BIN);
    base_env(&mut cmd, "postgres://127.0.0.1:1/x");
    cmd.env("VCA_MEDIA_FORMAT", "ulaw")
        .arg("--config")
        .arg(&file)
        .arg("check-config");
    let out = cmd.output().unwrap();
    assert_ne!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(output_text(&out).contains("VCA_MEDIA_FORMAT"));
    // ...and a flag's bad value beats the environment's good one.
    let mut cmd = Command::new(BIN);
    base_env(&mut cmd, "postgres://127.0.0.1:1/x");
    cmd.env("VCA_MEDIA_FORMAT", "ulaw")
        .args(["--media-format", "gsm", "check-config"]);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("vca-bridge: VCA_MEDIA_FORMAT: "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_then_check_config() {
    let url = db::fresh_database().await;
    let mut cmd = Command::new(BIN);
    base_env(&mut cmd, &url);
    let out = cmd.arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));

    let sim = vca_sim::Simulator::start(vca_sim::SimConfig {
        password: SECRET_PASSWORD.into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let ari_url = format!("http://{}", sim.addr());
    let mut cmd = Command::new(BIN);
    base_env(&mut cmd, &url);
    let out = cmd
        .env("VCA_ARI_URL", &ari_url)
        .arg("check-config")
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("[ ok ] postgres"), "{text}");
    assert!(text.contains("[ ok ] redis"), "{text}");
    assert!(text.contains("[ ok ] ari"), "{text}");
    assert!(text.contains("[redacted]"), "{text}");
    assert_no_secrets(&text);

    // ARI with the wrong password: named as a credentials problem.
    let mut cmd = Command::new(BIN);
    base_env(&mut cmd, &url);
    let out = cmd
        .env("VCA_ARI_URL", &ari_url)
        .env("VCA_ARI_PASSWORD", "not-the-password")
        .arg("check-config")
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("[FAIL] ari") && text.contains("credentials"),
        "{text}"
    );
    assert!(!text.contains("not-the-password"));

    // ARI down (nothing listens): the check says where it looked.
    let mut cmd = Command::new(BIN);
    base_env(&mut cmd, &url);
    let out = cmd
        .env("VCA_ARI_URL", "http://127.0.0.1:1")
        .arg("check-config")
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("[FAIL] ari") && text.contains("VCA_ARI_URL"),
        "{text}"
    );

    // Redis down: the check fails, says how to fix it, and the exit status is not 0.
    let mut cmd = Command::new(BIN);
    base_env(&mut cmd, &url);
    let out = cmd
        .env("VCA_REDIS_URL", "redis://127.0.0.1:1")
        .arg("check-config")
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("[FAIL] redis"), "{text}");
    assert!(text.contains("VCA_REDIS_URL"), "{text}");
    // PostgreSQL down likewise.
    let mut cmd = Command::new(BIN);
    base_env(&mut cmd, "postgres://postgres@127.0.0.1:1/none");
    let out = cmd.arg("check-config").output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("[FAIL] postgres"), "{text}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn run_migrates_serves_and_stops_on_sigterm() {
    let url = db::fresh_database().await;
    let port = free_port();
    let sim = vca_sim::Simulator::start(vca_sim::SimConfig {
        password: SECRET_PASSWORD.into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut cmd = Command::new(BIN);
    base_env(&mut cmd, &url);
    let mut child = cmd
        .env("VCA_ADMIN_LISTEN", format!("127.0.0.1:{port}"))
        .env("VCA_ARI_URL", format!("http://{}", sim.addr()))
        .arg("run")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let mut ready = None;
    for _ in 0..100 {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
        {
            ready = Some(r.status());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ready, Some(reqwest::StatusCode::OK));
    let r = client
        .get(format!("http://127.0.0.1:{port}/api/tenants"))
        .bearer_auth(SECRET_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || {
        let _ = child.wait();
        child.wait_with_output()
    })
    .await
    .unwrap()
    .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert_no_secrets(&text);
    // The migrations ran.
    let store = vca_bridge::store::Store::connect(&vca_bridge::config::Secret::new(url))
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM tenants")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(n, 0);
}
