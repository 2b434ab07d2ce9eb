//! The load rig: the simulator (ARI + RTP peers) and the fake engines in one process, and
//! the environment block that points a daemon at both.

use std::net::SocketAddr;
use std::time::Duration;

use crate::engines::http::Behaviour;
use crate::engines::{EngineLatencies, FakeHttp};
use crate::load::error::LoadError;
use crate::{SimConfig, SimHandle, Simulator};

/// Where the rig listens and what it expects.
#[derive(Debug, Clone)]
pub struct RigConfig {
    /// The simulator's settings (ARI listen address, credentials, RTP ports).
    pub sim: SimConfig,
    /// The fake engines' listen address.
    pub engines_listen: SocketAddr,
    /// The bearer key the fake engines require.
    pub api_key: String,
    /// The fake engines' latencies.
    pub latencies: EngineLatencies,
    /// Percent of engine requests answered 503 (0: none).
    pub engine_failure_percent: u8,
}

/// A running simulator and fake engines.
#[derive(Debug)]
pub struct LoadRig {
    /// The simulator.
    pub sim: SimHandle,
    /// The fake engines (OpenAI-compatible STT, LLM and TTS).
    pub engines: FakeHttp,
    api_key: String,
}

impl LoadRig {
    /// Starts both.
    pub async fn start(config: RigConfig) -> Result<LoadRig, LoadError> {
        if !config.sim.listen.ip().is_loopback() {
            return Err(LoadError::Invalid(format!(
                "--listen must be loopback, not {}",
                config.sim.listen
            )));
        }
        let sim = Simulator::start(config.sim).await?;
        let behaviour = Behaviour {
            failure_percent: config.engine_failure_percent,
            ..Behaviour::for_load(config.api_key.clone(), config.latencies)
        };
        let engines = FakeHttp::bind(config.engines_listen, behaviour).await?;
        Ok(LoadRig {
            sim,
            engines,
            api_key: config.api_key,
        })
    }

    /// The daemon's environment for this rig, as `KEY=value` pairs.
    pub fn daemon_env(&self) -> Vec<(String, String)> {
        let c = self.sim.config();
        daemon_env(
            self.sim.addr(),
            &c.user,
            &c.password,
            self.engines.addr(),
            &self.api_key,
        )
    }

    /// Waits until the daemon's ARI events WebSocket is connected.
    pub async fn wait_daemon(&self, limit: Duration) -> Result<(), LoadError> {
        tokio::time::timeout(limit, self.sim.wait_websocket())
            .await
            .map_err(|_| LoadError::DaemonNotConnected(limit.as_secs()))
    }
}

/// The `VCA_*` settings that point a daemon's ARI client at the simulator on `ari` and its
/// STT, LLM and TTS providers (`openai`) at the fake engines on `engines`.
pub fn daemon_env(
    ari: SocketAddr,
    ari_user: &str,
    ari_password: &str,
    engines: SocketAddr,
    api_key: &str,
) -> Vec<(String, String)> {
    let base = format!("http://{engines}/v1");
    [
        ("VCA_ARI_URL", format!("http://{ari}")),
        ("VCA_ARI_USERNAME", ari_user.to_string()),
        ("VCA_ARI_PASSWORD", ari_password.to_string()),
        ("VCA_STT_PROVIDER", "openai".to_string()),
        ("VCA_STT_BASE_URL", base.clone()),
        ("VCA_STT_API_KEY", api_key.to_string()),
        ("VCA_LLM_PROVIDER", "openai".to_string()),
        ("VCA_LLM_BASE_URL", base.clone()),
        ("VCA_LLM_API_KEY", api_key.to_string()),
        ("VCA_LLM_MODEL", "vca-sim-fake".to_string()),
        ("VCA_TTS_PROVIDER", "openai".to_string()),
        ("VCA_TTS_BASE_URL", base),
        ("VCA_TTS_API_KEY", api_key.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}
