//! The `vca-bridge run` binary as systemd and an operator see it: `READY=1`, `STATUS=`
//! lines, watchdog pings and `STOPPING=1` on the notify socket; JSON log lines of a call
//! carrying `call_id` and `tenant_id`, with phone numbers masked and no secret; SIGTERM
//! draining to exit status 0 with every call row final.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

use vca_sim::engines::http::{FakeHttp, Route};
use vca_sim::{CallSpec, HangupWhen, SimConfig, Simulator};

use crate::support::db;

const BIN: &str = env!("CARGO_BIN_EXE_vca-bridge");
const TOKEN: &str = "binary-test-admin-token-0123456789";
const ARI_PASSWORD: &str = "binary-test-ari-secret";

/// A tenant with the DID +918012345678 and a default profile that greets with "Hello!".
async fn seed_tenant(store: &vca_bridge::store::Store) -> (uuid::Uuid,) {
    let tid: (uuid::Uuid,) =
        sqlx::query_as("INSERT INTO tenants (name) VALUES ('Acme') RETURNING id")
            .fetch_one(store.pool())
            .await
            .unwrap();
    sqlx::query("INSERT INTO phone_numbers (tenant_id, did_number) VALUES ($1, '+918012345678')")
        .bind(tid.0)
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("INSERT INTO ai_profiles (tenant_id, name, system_prompt, greeting, is_default) VALUES ($1, 'p', 'x', 'Hello!', true)")
        .bind(tid.0)
        .execute(store.pool())
        .await
        .unwrap();
    tid
}

/// `vca-bridge run` with a clean environment pointed at the database, Redis, the simulator
/// and the admin port; engines and logging are the caller's to add.
fn daemon(db_url: &str, sim: &vca_sim::SimHandle, port: u16) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("run")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("VCA_DATABASE_URL", db_url)
        .env("VCA_REDIS_URL", db::redis_url())
        .env("VCA_ADMIN_LISTEN", format!("127.0.0.1:{port}"))
        .env("VCA_ADMIN_TOKEN", TOKEN)
        .env("VCA_ARI_URL", format!("http://{}", sim.addr()))
        .env("VCA_ARI_USERNAME", "vca")
        .env("VCA_ARI_PASSWORD", ARI_PASSWORD);
    cmd
}

/// Waits until the call row of `channel` is final.
async fn wait_final(store: &vca_bridge::store::Store, channel: &str) {
    loop {
        let r: (bool,) =
            sqlx::query_as("SELECT ended_at IS NOT NULL FROM calls WHERE channel_id = $1")
                .bind(channel)
                .fetch_one(store.pool())
                .await
                .unwrap_or((false,));
        if r.0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifies_systemd_logs_calls_and_drains_on_sigterm() {
    let sim = Simulator::start(SimConfig {
        password: ARI_PASSWORD.into(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let engines = FakeHttp::start().await.unwrap();
    let (store, db) = db::store().await;
    let tid = seed_tenant(&store).await;

    let dir = std::env::temp_dir().join(format!("vca-notify-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket_path = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();

    let port = free_port();
    let mut child = daemon(&db, &sim, port)
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "1000000")
        .env("VCA_STT_BASE_URL", engines.base_url())
        .env("VCA_STT_API_KEY", engines.api_key())
        .env("VCA_LLM_PROVIDER", "echo")
        .env("VCA_DRAIN_TIMEOUT_SECONDS", "30")
        .env("VCA_LOG_FORMAT", "json")
        .env("VCA_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Collect notifications on a thread (the socket is blocking).
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while std::time::Instant::now() < deadline {
            if let Ok(n) = socket.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).to_string();
                let stop = msg.contains("calls finished");
                if tx.send(msg).is_err() || stop {
                    break;
                }
            }
        }
    });
    let mut seen: Vec<String> = Vec::new();
    let mut wait_for = async |needle: &str, seen: &mut Vec<String>| {
        if seen.iter().any(|m| m.contains(needle)) {
            return;
        }
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(60), rx.recv())
                .await
                .unwrap_or_else(|_| panic!("no {needle} notification; got {seen:?}"))
                .unwrap_or_else(|| panic!("notify reader ended before {needle}; got {seen:?}"));
            let found = msg.contains(needle);
            seen.push(msg);
            if found {
                return;
            }
        }
    };
    wait_for("READY=1", &mut seen).await;
    wait_for("STATUS=ARI connected", &mut seen).await;
    wait_for("WATCHDOG=1", &mut seen).await;

    // A call, so that call log lines exist.
    let mut call = sim.place_call(
        CallSpec::new("+918012345678", "+919876543210")
            .hangup(HangupWhen::After(Duration::from_secs(2))),
    );
    tokio::time::timeout(Duration::from_secs(30), call.ended())
        .await
        .unwrap();
    wait_final(&store, call.id()).await;

    // SIGTERM: STOPPING=1, then a clean exit.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_for("STOPPING=1", &mut seen).await;
    let out = tokio::task::spawn_blocking(move || {
        let _ = child.wait();
        child.wait_with_output()
    })
    .await
    .unwrap()
    .unwrap();
    let _ = reader.join();
    assert!(out.status.success(), "exit status {:?}", out.status);

    // Log lines: JSON; inside the call they carry call_id and tenant_id; no secrets;
    // phone numbers masked.
    let logs = String::from_utf8_lossy(&out.stderr);
    let mut call_lines = 0;
    for line in logs.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            !line.contains(TOKEN) && !line.contains(ARI_PASSWORD),
            "secret in log: {line}"
        );
        assert!(
            !line.contains("9876543210"),
            "unmasked caller number: {line}"
        );
        let msg = v["message"].as_str().unwrap_or_default();
        if ["call accepted", "media flowing", "call ended"].contains(&msg) {
            call_lines += 1;
            let span = &v["span"];
            assert!(span["call_id"].is_string(), "no call_id: {line}");
            assert_eq!(
                span["tenant_id"].as_str(),
                Some(tid.0.to_string().as_str()),
                "{line}"
            );
        }
    }
    assert_eq!(call_lines, 3, "{logs}");
}

/// The sum of every series of a metric's `_count` in a Prometheus text page.
fn metric_count(page: &str, name: &str) -> u64 {
    let prefix = format!("{name}_count");
    page.lines()
        .filter(|l| l.starts_with(&prefix) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

/// Each engine latency is recorded once per request, by the provider: the daemon runs in a
/// process of its own (metrics are process-wide), every engine is a fake server that counts
/// its requests, and after a call of several turns each histogram's count equals them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_latencies_are_recorded_once_per_request() {
    let sim = Simulator::start(SimConfig {
        password: ARI_PASSWORD.into(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let engines = FakeHttp::start().await.unwrap();
    let (store, db) = db::store().await;
    seed_tenant(&store).await;
    let port = free_port();
    let mut child = daemon(&db, &sim, port)
        .env("VCA_MEDIA_FORMAT", "alaw")
        .env("VCA_STT_BASE_URL", engines.base_url())
        .env("VCA_STT_API_KEY", engines.api_key())
        .env("VCA_LLM_PROVIDER", "openai")
        .env("VCA_LLM_BASE_URL", engines.base_url())
        .env("VCA_LLM_API_KEY", engines.api_key())
        .env("VCA_TTS_PROVIDER", "openai")
        .env("VCA_TTS_BASE_URL", engines.base_url())
        .env("VCA_TTS_API_KEY", engines.api_key())
        .env("VCA_DRAIN_TIMEOUT_SECONDS", "0")
        .env("VCA_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), sim.wait_websocket())
        .await
        .expect("the daemon connects");
    let speech = crate::support::sim::caller_speech();
    let mut call = sim.place_call(
        CallSpec::new("+918012345678", "+919876543210")
            .pause(Duration::from_millis(2500))
            .speech(speech.clone())
            .pause(Duration::from_secs(6))
            .speech(speech)
            .hangup(HangupWhen::AfterAudio(Duration::from_secs(6))),
    );
    tokio::time::timeout(Duration::from_secs(90), call.ended())
        .await
        .unwrap();
    wait_final(&store, call.id()).await;
    let page = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let transcriptions = engines.count(Route::Transcriptions) as u64;
    let chats = engines.count(Route::Chat) as u64;
    let speeches = engines.count(Route::Speech) as u64;
    assert!(transcriptions >= 2, "two turns at least: {transcriptions}");
    assert!(
        chats >= 2 && speeches >= 3,
        "{chats} chats, {speeches} speeches"
    );
    assert_eq!(
        metric_count(&page, "vca_stt_final_latency_seconds"),
        transcriptions,
        "{page}"
    );
    assert_eq!(
        metric_count(&page, "vca_llm_first_token_seconds"),
        chats,
        "{page}"
    );
    assert_eq!(
        metric_count(&page, "vca_tts_first_audio_seconds"),
        speeches,
        "{page}"
    );
    assert_eq!(
        metric_count(&page, "vca_turn_latency_seconds"),
        chats,
        "{page}"
    );
}
