//! A whole vca-bridge daemon against vca-sim, the fake providers, the real PostgreSQL and
//! Redis, for call scenario tests. The daemon runs on a runtime of its own so a test can stop
//! it gracefully or "kill" it (drop the runtime: no cleanup runs, sockets close).

use std::collections::HashMap;
use std::time::Duration;

use uuid::Uuid;
use vca_bridge::config::{Layers, Needs, Settings};
use vca_bridge::daemon::Daemon;
use vca_bridge::store::Store;
use vca_sim::engines::FakeHttp;
use vca_sim::{SimConfig, SimHandle, Simulator};

use super::db;

/// The admin token of the scenario daemons.
pub const TOKEN: &str = "scenario-admin-token-0123456789";

/// A daemon process stand-in.
pub struct DaemonProc {
    runtime: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::watch::Sender<u32>>,
    done: Option<tokio::sync::oneshot::Receiver<()>>,
    /// Where its admin API listens.
    pub admin: std::net::SocketAddr,
}

impl DaemonProc {
    /// Starts a daemon with these settings and waits until it serves.
    pub async fn start(settings: Settings) -> DaemonProc {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(0u32);
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        runtime.spawn(async move {
            let daemon = Daemon::start(&settings).await.expect("daemon starts");
            let addr = daemon.admin_addr().expect("the admin API listens");
            let _ = started_tx.send(addr);
            daemon.serve(stop_rx).await.unwrap();
            let _ = done_tx.send(());
        });
        let admin = tokio::time::timeout(Duration::from_secs(30), started_rx)
            .await
            .unwrap()
            .unwrap();
        DaemonProc {
            runtime: Some(runtime),
            stop: Some(stop_tx),
            done: Some(done_rx),
            admin,
        }
    }

    /// What `/readyz` says: its status code and the ARI component's error, if any.
    pub async fn readiness(&self) -> (u16, Option<String>) {
        let r = reqwest::get(format!("http://{}/readyz", self.admin))
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap();
        let ari = body["components"]["ari"]["error"]
            .as_str()
            .map(str::to_string);
        (status, ari)
    }

    /// One SIGTERM: drain, and wait until every call is down.
    pub async fn stop(self) {
        self.request_stop();
        self.wait_stopped().await;
    }

    /// Sends one more stop request (SIGTERM) without waiting.
    pub fn request_stop(&self) {
        if let Some(stop) = &self.stop {
            stop.send_modify(|n| *n += 1);
        }
    }

    /// Waits until the daemon has stopped.
    pub async fn wait_stopped(mut self) {
        if let Some(done) = self.done.take() {
            tokio::time::timeout(Duration::from_secs(30), done)
                .await
                .unwrap()
                .unwrap();
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }

    /// SIGKILL-like: every task vanishes at once, no cleanup.
    pub fn kill(mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for DaemonProc {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Settings for a daemon against `sim`, `database_url` and the fake engine server
/// `engines_url` (OpenAI-compatible transcription); `extra` overrides. The defaults use
/// the echo model and espeak-ng, so the agent repeats what it heard; `VCA_TTS_PROVIDER=openai`
/// alone speaks through the fake server's speech route.
pub fn settings(
    sim: &SimHandle,
    database_url: &str,
    engines_url: &str,
    extra: &[(&str, &str)],
) -> Settings {
    let mut env: HashMap<String, String> = HashMap::from([
        ("VCA_DATABASE_URL".into(), database_url.to_string()),
        ("VCA_REDIS_URL".into(), db::redis_url()),
        ("VCA_ADMIN_LISTEN".into(), "127.0.0.1:0".into()),
        ("VCA_ADMIN_TOKEN".into(), TOKEN.into()),
        ("VCA_ARI_URL".into(), format!("http://{}", sim.addr())),
        ("VCA_ARI_USERNAME".into(), "vca".into()),
        ("VCA_ARI_PASSWORD".into(), "vca-secret".into()),
        ("VCA_MEDIA_FORMAT".into(), "alaw".into()),
        ("VCA_STT_PROVIDER".into(), "openai".into()),
        ("VCA_STT_BASE_URL".into(), engines_url.to_string()),
        ("VCA_STT_API_KEY".into(), "test-key-123".into()),
        ("VCA_LLM_PROVIDER".into(), "echo".into()),
        ("VCA_LLM_BASE_URL".into(), engines_url.to_string()),
        ("VCA_LLM_API_KEY".into(), "test-key-123".into()),
        ("VCA_LLM_MODEL".into(), "fake-model".into()),
        ("VCA_TTS_PROVIDER".into(), "espeak".into()),
        ("VCA_DRAIN_TIMEOUT_SECONDS".into(), "0".into()),
    ]);
    for (k, v) in extra {
        env.insert((*k).to_string(), (*v).to_string());
    }
    // The fake OpenAI speech route when a test asks for `openai` speech without a server.
    if env.get("VCA_TTS_PROVIDER").is_some_and(|p| p == "openai")
        && !env.contains_key("VCA_TTS_BASE_URL")
    {
        env.insert("VCA_TTS_BASE_URL".into(), engines_url.to_string());
        env.insert("VCA_TTS_API_KEY".into(), "test-key-123".into());
    }
    let layers = Layers::new(None, env, HashMap::new()).unwrap();
    Settings::load(&layers, Needs::Everything).unwrap().0
}

/// A simulator, a fresh database and a running daemon connected to the simulator.
pub struct World {
    pub sim: SimHandle,
    /// The fake OpenAI-compatible / ElevenLabs server the engines talk to.
    pub engines: FakeHttp,
    extra: Vec<(String, String)>,
    pub store: Store,
    pub database_url: String,
    pub daemon: Option<DaemonProc>,
}

impl World {
    pub async fn new() -> World {
        Self::with(&[]).await
    }

    pub async fn with(extra: &[(&str, &str)]) -> World {
        // One name for this world's daemon in the ARI owner lease, kept across
        // `restart_daemon`, so a restarted daemon takes its own lease back at once.
        let node = format!("test-{}", Uuid::new_v4().simple());
        let mut extra: Vec<(&str, &str)> = extra.to_vec();
        if !extra.iter().any(|(k, _)| *k == "VCA_NODE_NAME") {
            extra.push(("VCA_NODE_NAME", node.as_str()));
        }
        // Recordings of this world's daemons go to a directory of its own.
        let recordings = std::env::temp_dir()
            .join("vca-test-recordings")
            .join(&node)
            .to_string_lossy()
            .into_owned();
        if !extra.iter().any(|(k, _)| *k == "VCA_RECORDINGS_DIR") {
            extra.push(("VCA_RECORDINGS_DIR", recordings.as_str()));
        }
        let extra = extra.as_slice();
        let sim = Simulator::start(SimConfig::default()).await.unwrap();
        let engines = FakeHttp::start().await.unwrap();
        let (store, database_url) = db::store().await;
        let daemon =
            DaemonProc::start(settings(&sim, &database_url, &engines.base_url(), extra)).await;
        let extra = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let world = World {
            sim,
            engines,
            extra,
            store,
            database_url,
            daemon: Some(daemon),
        };
        world.wait_connected().await;
        world
    }

    /// Where this world's daemons write recordings (`VCA_RECORDINGS_DIR`).
    pub fn recordings_dir(&self) -> std::path::PathBuf {
        self.extra
            .iter()
            .find(|(k, _)| k == "VCA_RECORDINGS_DIR")
            .map(|(_, v)| std::path::PathBuf::from(v))
            .unwrap_or_default()
    }

    pub async fn wait_connected(&self) {
        tokio::time::timeout(Duration::from_secs(20), self.sim.wait_websocket())
            .await
            .expect("daemon connects to ARI");
    }

    /// Starts a second daemon on the same database and simulator, named `node` in the owner
    /// lease, with `extra` settings over this world's.
    pub async fn another_daemon(&self, node: &str, extra: &[(&str, &str)]) -> DaemonProc {
        let mut all: Vec<(&str, &str)> = self
            .extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .filter(|(k, _)| *k != "VCA_NODE_NAME")
            .collect();
        all.push(("VCA_NODE_NAME", node));
        all.extend_from_slice(extra);
        DaemonProc::start(settings(
            &self.sim,
            &self.database_url,
            &self.engines.base_url(),
            &all,
        ))
        .await
    }

    /// Starts another daemon on the same database and simulator.
    pub async fn restart_daemon(&mut self) {
        let extra: Vec<(&str, &str)> = self
            .extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let d = DaemonProc::start(settings(
            &self.sim,
            &self.database_url,
            &self.engines.base_url(),
            &extra,
        ))
        .await;
        self.daemon = Some(d);
        self.wait_connected().await;
    }

    /// A tenant with one DID and a default profile; returns (tenant id, DID).
    pub async fn tenant(&self, did: &str, max_calls: i32, max_duration_seconds: i32) -> Uuid {
        let pool = self.store.pool();
        let (tid,): (Uuid,) = sqlx::query_as(
            "INSERT INTO tenants (name, max_concurrent_calls) VALUES ('Acme', $1) RETURNING id",
        )
        .bind(max_calls)
        .fetch_one(pool)
        .await
        .unwrap();
        sqlx::query("INSERT INTO phone_numbers (tenant_id, did_number) VALUES ($1, $2)")
            .bind(tid)
            .bind(did)
            .execute(pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO ai_profiles (tenant_id, name, system_prompt, greeting, is_default, max_duration_seconds) \
             VALUES ($1, 'Front desk', 'You are helpful.', 'Hello!', true, $2)",
        )
        .bind(tid)
        .bind(max_duration_seconds)
        .execute(pool)
        .await
        .unwrap();
        tid
    }

    /// The newest call row for the caller channel `channel`, once it exists (Asterisk
    /// reuses ids after a restart within the same second).
    pub async fn call_row(&self, channel: &str) -> CallRow {
        for _ in 0..200 {
            let row: Option<CallRow> = sqlx::query_as(
                "SELECT id, tenant_id, status, end_reason, answered_at IS NOT NULL AS answered, \
                 ended_at IS NOT NULL AS ended, duration_ms, media_channel_id, bridge_id, rtp_port \
                 FROM calls WHERE channel_id = $1 ORDER BY started_at DESC LIMIT 1",
            )
            .bind(channel)
            .fetch_optional(self.store.pool())
            .await
            .unwrap();
            if let Some(r) = row {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no call row for channel {channel}");
    }

    /// Waits until the call row of `channel` is final, and returns it.
    pub async fn final_row(&self, channel: &str) -> CallRow {
        for _ in 0..400 {
            let r = self.call_row(channel).await;
            if r.ended {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "call on {channel} never ended: {:?}",
            self.call_row(channel).await
        );
    }

    /// Waits until the call of `channel` is up with its media recorded, and returns it.
    pub async fn wait_media(&self, channel: &str) -> CallRow {
        for _ in 0..400 {
            let r = self.call_row(channel).await;
            if r.status == "in_progress" && r.media_channel_id.is_some() && r.bridge_id.is_some() {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "call on {channel} never got media: {:?}",
            self.call_row(channel).await
        );
    }

    /// Waits until the call has an event of `kind`.
    pub async fn wait_event(&self, call: Uuid, kind: &str) {
        for _ in 0..400 {
            if self.event_kinds(call).await.iter().any(|k| k == kind) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "call {call} never had event {kind}: {:?}",
            self.event_kinds(call).await
        );
    }

    pub async fn event_kinds(&self, call: Uuid) -> Vec<String> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT kind FROM call_events WHERE call_id = $1 ORDER BY id")
                .bind(call)
                .fetch_all(self.store.pool())
                .await
                .unwrap();
        rows.into_iter().map(|r| r.0).collect()
    }

    pub async fn count_calls(&self) -> i64 {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM calls")
            .fetch_one(self.store.pool())
            .await
            .unwrap();
        n
    }

    /// Waits until the simulator holds no channels and no bridges (nothing leaked).
    pub async fn wait_nothing_left(&self) {
        for _ in 0..200 {
            if self.sim.channels().is_empty() && self.sim.bridges().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "left on Asterisk: channels {:?} bridges {:?}",
            self.sim.channels(),
            self.sim.bridges()
        );
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CallRow {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub status: String,
    pub end_reason: Option<String>,
    pub answered: bool,
    pub ended: bool,
    pub duration_ms: Option<i64>,
    pub media_channel_id: Option<String>,
    pub bridge_id: Option<String>,
    pub rtp_port: Option<i32>,
}
