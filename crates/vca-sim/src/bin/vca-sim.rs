//! `vca-sim`: the Asterisk simulator binary (a thin CLI over the `vca_sim` library).
//!
//! - `vca-sim serve`: ARI REST + events WebSocket + RTP peers, plus the JSON control API
//!   under `/sim` that shell scripts (the demo) drive.
//! - `vca-sim call`: a client of that control API: places one call with a caller WAV,
//!   waits for it to end and leaves what the caller heard in `--out`.
//!
//! - `vca-sim load`: the simulator and fake OpenAI-compatible engines in one process; many
//!   concurrent calls against a running daemon, with a table, JSON and (`--sweep`) a PNG
//!   chart of the daemon's CPU, RSS and pacing jitter (see `vca_sim::load`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use vca_sim::{
    AgentBehaviour, ArgsMode, CallRequest, CallStatus, CallView, DialplanConfig, KeysRequest,
    SimConfig, Simulator, Trigger,
};

#[derive(Debug, Parser)]
#[command(
    name = "vca-sim",
    about = "Asterisk 22 ARI + External Media simulator for vca-bridge tests and demos"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the simulator until Ctrl-C / SIGTERM.
    Serve(ServeArgs),
    /// Place one call through a running simulator's control API and wait for it to end.
    Call(CallArgs),
    /// Load a running daemon with concurrent calls and report latency, jitter, CPU and RSS.
    Load(vca_sim::load::LoadArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Listen address for ARI and /sim (keep it on loopback).
    #[arg(long, default_value = "127.0.0.1:8088")]
    listen: SocketAddr,
    /// ARI user.
    #[arg(long, default_value = "vca")]
    user: String,
    /// File holding the ARI password (first line).
    #[arg(long, env = "VCA_SIM_PASSWORD_FILE")]
    password_file: Option<PathBuf>,
    /// Stasis application name.
    #[arg(long, default_value = "vca-bridge")]
    app: String,
    /// RTP port range, `LOW-HIGH`.
    #[arg(long, default_value = "10000-20000")]
    rtp_ports: String,
    /// Strict-RTP learning window in ms (Asterisk: 5000).
    #[arg(long, default_value_t = 5000)]
    strict_learn_ms: u64,
    /// Delay from bridging to the first RTP packet in ms (Asterisk: about 500).
    #[arg(long, default_value_t = 500)]
    media_start_ms: u64,
    /// `StasisStart.args` of placed calls: `did_and_caller` or `empty`.
    #[arg(long, default_value = "did_and_caller")]
    args: String,
    /// Directory for recordings of calls that name no file.
    #[arg(long)]
    record_dir: Option<PathBuf>,
    /// How an agent endpoint behaves when the app originates a leg to it, as
    /// `ENDPOINT=BEHAVIOUR` with BEHAVIOUR `answer[:RING_MS[:AFTER_MS|never]]`, `busy`,
    /// `noanswer` or `congestion` (repeatable). `Local/<ext>@agent-sim` behave as in
    /// extensions.conf without this, e.g. `--agent PJSIP/1001=busy`.
    #[arg(long = "agent", value_name = "ENDPOINT=BEHAVIOUR")]
    agents: Vec<String>,
    /// A dialplan transfer target of your own, `CONTEXT,EXTEN,ENDPOINT[,TIMEOUT_S]`: the
    /// extension dials ENDPOINT like `humans,100` (repeatable).
    #[arg(
        long = "dial-target",
        value_name = "CONTEXT,EXTEN,ENDPOINT[,TIMEOUT_S]"
    )]
    dial_targets: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct CallArgs {
    /// Control API base URL, e.g. http://127.0.0.1:8088/sim.
    #[arg(long, default_value = "http://127.0.0.1:8088/sim")]
    control: String,
    /// Dialled number.
    #[arg(long)]
    did: String,
    /// Calling number.
    #[arg(long)]
    caller: String,
    /// What the caller says: 8 kHz mono 16-bit WAV (convert with sox first).
    #[arg(long)]
    wav: Option<PathBuf>,
    /// Where to write what the caller heard.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where to write the caller's whole recording once the call is over: a timeline from
    /// the call's start with the app's audio, music on hold and the agent, as heard
    /// (prints its summary: ms of each, segments).
    #[arg(long)]
    heard_out: Option<PathBuf>,
    /// Silence before the caller speaks, ms.
    #[arg(long)]
    pause_before_ms: Option<u64>,
    /// Hang up this long after the caller finished speaking, ms.
    #[arg(long, default_value_t = 5000)]
    hangup_after_audio_ms: u64,
    /// Hang up this long after the call started, ms (overrides --hangup-after-audio-ms).
    #[arg(long)]
    hangup_after_ms: Option<u64>,
    /// Send no silence frames while the caller is quiet.
    #[arg(long)]
    no_transmit_silence: bool,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout_s: u64,
    /// Keys the caller presses, `AT_MS:DIGITS` (`w`/`W` pause 0.5/1 s), repeatable.
    #[arg(long = "keys", value_name = "AT_MS:DIGITS")]
    keys: Vec<String>,
    /// Hang up when this happens: `moh_started`, `agent_ringing`, `agent_answered`,
    /// `bridged_with_agent` or `continued`, optionally `:DELAY_MS` (overrides the other
    /// hang-up options).
    #[arg(long, value_name = "TRIGGER[:DELAY_MS]")]
    hangup_on: Option<String>,
}

fn parse_agent(s: &str) -> anyhow::Result<(String, AgentBehaviour)> {
    let (endpoint, spec) = s
        .split_once('=')
        .context("--agent must be ENDPOINT=BEHAVIOUR")?;
    let b = AgentBehaviour::parse(spec).with_context(|| {
        format!("--agent {s}: BEHAVIOUR is answer[:RING_MS[:AFTER_MS|never]], busy, noanswer or congestion")
    })?;
    Ok((endpoint.trim().to_owned(), b))
}

fn parse_dial_target(s: &str, d: &mut DialplanConfig) -> anyhow::Result<()> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    match parts.as_slice() {
        [ctx, exten, endpoint] => d.add_dial_target(*ctx, *exten, *endpoint, 20),
        [ctx, exten, endpoint, t] => d.add_dial_target(*ctx, *exten, *endpoint, t.parse()?),
        _ => bail!("--dial-target must be CONTEXT,EXTEN,ENDPOINT[,TIMEOUT_S], not {s:?}"),
    }
    Ok(())
}

fn parse_keys(s: &str) -> anyhow::Result<KeysRequest> {
    let (at, digits) = s.split_once(':').context("--keys must be AT_MS:DIGITS")?;
    Ok(KeysRequest {
        at_ms: at.trim().parse()?,
        digits: digits.to_owned(),
        duration_ms: 100,
    })
}

fn parse_trigger(s: &str) -> anyhow::Result<(Trigger, u64)> {
    let (name, delay) = match s.split_once(':') {
        Some((n, d)) => (n, d.trim().parse()?),
        None => (s, 0),
    };
    let t: Trigger = serde_json::from_value(serde_json::Value::String(name.trim().to_owned()))
        .with_context(|| format!("unknown --hangup-on trigger {name:?}"))?;
    Ok((t, delay))
}

fn parse_args_mode(s: &str) -> anyhow::Result<ArgsMode> {
    match s {
        "did_and_caller" => Ok(ArgsMode::DidAndCaller),
        "empty" => Ok(ArgsMode::Empty),
        other => bail!("--args must be did_and_caller or empty, not {other:?}"),
    }
}

fn parse_range(s: &str) -> anyhow::Result<(u16, u16)> {
    let (lo, hi) = s.split_once('-').context("--rtp-ports must be LOW-HIGH")?;
    Ok((lo.trim().parse()?, hi.trim().parse()?))
}

async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    if !a.listen.ip().is_loopback() {
        bail!("--listen must be a loopback address, not {}", a.listen);
    }
    let password = match &a.password_file {
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("reading {}", p.display()))?
            .lines()
            .next()
            .unwrap_or("")
            .to_owned(),
        None => SimConfig::default().password,
    };
    let mut dialplan = DialplanConfig::default();
    for t in &a.dial_targets {
        parse_dial_target(t, &mut dialplan)?;
    }
    let agents = a
        .agents
        .iter()
        .map(|s| parse_agent(s))
        .collect::<anyhow::Result<_>>()?;
    let config = SimConfig {
        agents,
        dialplan,
        listen: a.listen,
        user: a.user,
        password,
        app: a.app,
        rtp_ports: parse_range(&a.rtp_ports)?,
        strict_learn: Duration::from_millis(a.strict_learn_ms),
        media_start_delay: Duration::from_millis(a.media_start_ms),
        default_args: parse_args_mode(&a.args)?,
        record_dir: a.record_dir,
        ..SimConfig::default()
    };
    let sim = Simulator::start(config).await?;
    eprintln!(
        "vca-sim: ARI at {}  control at {}",
        sim.ari_url(),
        sim.control_url()
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    sim.shutdown();
    Ok(())
}

async fn call(a: CallArgs) -> anyhow::Result<bool> {
    let client = reqwest::Client::new();
    let base = a.control.trim_end_matches('/').to_owned();
    let out = match &a.out {
        Some(p) if p.is_absolute() => Some(p.clone()),
        Some(p) => Some(std::env::current_dir()?.join(p)),
        None => None,
    };
    let heard_out = match &a.heard_out {
        Some(p) if p.is_absolute() => Some(p.clone()),
        Some(p) => Some(std::env::current_dir()?.join(p)),
        None => None,
    };
    let wav = match &a.wav {
        Some(p) => Some(std::fs::canonicalize(p).with_context(|| format!("{}", p.display()))?),
        None => None,
    };
    let keys = a
        .keys
        .iter()
        .map(|k| parse_keys(k))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let hangup_on = a.hangup_on.as_deref().map(parse_trigger).transpose()?;
    let req = CallRequest {
        keys,
        hangup_on: hangup_on.map(|(t, _)| t),
        hangup_on_delay_ms: hangup_on.map(|(_, d)| d),
        did: a.did,
        caller: a.caller,
        wav,
        pause_before_ms: a.pause_before_ms,
        transmit_silence: Some(!a.no_transmit_silence),
        hangup_after_ms: a.hangup_after_ms,
        hangup_after_audio_ms: Some(a.hangup_after_audio_ms),
        args: None,
        record_to: out,
    };
    let resp = client
        .post(format!("{base}/calls"))
        .json(&req)
        .send()
        .await?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await?;
    if !status.is_success() {
        bail!("placing the call failed ({status}): {body}");
    }
    let id = body["id"]
        .as_str()
        .context("no call id in the answer")?
        .to_owned();
    eprintln!("vca-sim: call {id} placed");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(a.timeout_s);
    let mut ended_at = None;
    loop {
        if tokio::time::Instant::now() >= deadline {
            bail!("call {id} did not end within {} s", a.timeout_s);
        }
        // The simulator may be restarting: connection errors are retried.
        if let Ok(r) = client.get(format!("{base}/calls/{id}")).send().await
            && let Ok(view) = r.json::<CallView>().await
            && let CallStatus::Ended(outcome) = &view.status
        {
            let since = *ended_at.get_or_insert_with(tokio::time::Instant::now);
            // Give the app time to delete the External Media channel (final recording).
            if view.media_done || since.elapsed() > Duration::from_secs(10) {
                println!("{}", serde_json::to_string_pretty(&view)?);
                if let Some(p) = &heard_out {
                    let wav: String =
                        url::form_urlencoded::byte_serialize(p.display().to_string().as_bytes())
                            .collect();
                    let url = format!("{base}/calls/{id}/heard?wav={wav}");
                    let heard: vca_sim::HeardView = client.get(url).send().await?.json().await?;
                    println!("{}", serde_json::to_string_pretty(&heard)?);
                }
                return Ok(outcome.entered_stasis);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve(a) => serve(a).await,
        Command::Call(a) => {
            if call(a).await? {
                Ok(())
            } else {
                bail!("the call never entered Stasis (is the app connected?)")
            }
        }
        Command::Load(a) => Ok(vca_sim::load::run_cli(a).await?),
    }
}
