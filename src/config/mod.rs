//! Daemon settings: loaded from a TOML file, `VCA_*` environment variables and flags
//! (in rising precedence), validated into typed values, and printable without secrets.
//!
//! A missing or invalid setting is a [`ConfigError`] whose one-line message names the
//! setting (`VCA_ADMIN_LISTEN: ...`); `main` prints it and exits with status 2.

mod layers;

use std::net::{IpAddr, SocketAddr};

pub use crate::secret::Secret;
pub use layers::{Layers, Source, env_name, toml_layer};

use crate::admin::server::ServerLimits;
use crate::engines::settings::{
    EngineSettings, LlmProvider, LlmSettings, SttProvider, SttSettings, TtsProvider, TtsSettings,
    key_required, parse_base_url, parse_header_name, parse_language, parse_llm_provider,
    parse_stt_mode, parse_stt_provider, parse_timeout_ms, parse_tts_mode, parse_tts_provider,
    parse_whisper_model_dir,
};
use crate::engines::{llm, stt, tts};
use crate::media::g711::Law;
use crate::webhooks::WebhookSettings;
use crate::webhooks::backoff::Backoff;

/// A setting that is missing or does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `setting` names the variable (or `--config`); `problem` says what is wrong.
    #[error("{setting}: {problem}")]
    Invalid { setting: String, problem: String },
}

/// What a command needs: `migrate` only the database, `run` and `check-config` everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Only `VCA_DATABASE_URL` must be present.
    Database,
    /// Every required setting must be present.
    Everything,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (journald, log shippers).
    Json,
    /// Human-readable lines for a terminal.
    Pretty,
}

/// An inclusive range of UDP ports for per-call RTP sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    /// First port of the range.
    pub first: u16,
    /// Last port of the range (inclusive).
    pub last: u16,
}

impl PortRange {
    /// How many ports the range holds.
    pub fn len(&self) -> usize {
        usize::from(self.last - self.first) + 1
    }

    /// A range always holds at least one port.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Every validated setting of the daemon.
#[derive(Debug, Clone)]
pub struct Settings {
    /// PostgreSQL connection URL (may carry a password, so it is a secret).
    pub database_url: Secret,
    /// Redis connection URL.
    pub redis_url: Secret,
    /// Where the admin HTTP API listens.
    pub admin_listen: SocketAddr,
    /// Bearer token required on every `/api/...` route.
    pub admin_token: Secret,
    /// The admin server's connection cap and head read timeout
    /// (`VCA_ADMIN_MAX_CONNECTIONS`, `VCA_ADMIN_HEADER_TIMEOUT_MS`).
    pub admin_server: ServerLimits,
    /// How long an admin request may take, its body read included
    /// (`VCA_ADMIN_REQUEST_TIMEOUT_MS`).
    pub admin_request_timeout: std::time::Duration,
    /// Failed authentications from one address in a minute before it gets 429
    /// (`VCA_ADMIN_AUTH_MAX_FAILURES`).
    pub admin_auth_max_failures: u32,
    /// Base URL of Asterisk's HTTP server (ARI lives under `/ari`).
    pub ari_url: url::Url,
    /// ARI user from `ari.conf`.
    pub ari_username: String,
    /// ARI password from `ari.conf`.
    pub ari_password: Secret,
    /// Name of the Stasis application the dialplan sends calls to.
    pub ari_app: String,
    /// Address the media threads' RTP sockets bind to.
    pub rtp_bind: IpAddr,
    /// Address Asterisk sends RTP to (External Media `external_host`).
    pub rtp_advertise: IpAddr,
    /// Ports the media threads bind (one each, the first free ones).
    pub rtp_port_range: PortRange,
    /// `VCA_MEDIA_THREADS`: threads carrying the calls' RTP (default: one per core).
    pub media_threads: usize,
    /// `VCA_UTTERANCE_POOL`: utterance buffers shared by all calls (callers speaking at once).
    pub utterance_pool: usize,
    /// `VCA_MEDIA_REALTIME_PRIORITY`: the media threads' SCHED_FIFO priority (0: normal
    /// scheduling), so a frame never waits behind the async work for a core.
    pub media_realtime_priority: u8,
    /// The G.711 law of External Media streams.
    pub media_format: Law,
    /// Country calling code applied to national numbers (91 for India).
    pub default_country_code: u16,
    /// Log line format; `None` means JSON unless stderr is a terminal.
    pub log_format: Option<LogFormat>,
    /// Log filter (`info`, `vca_bridge=debug`, ...), from `VCA_LOG` or `RUST_LOG`.
    pub log: String,
    /// STT, LLM and TTS providers, models, keys and time limits.
    pub engines: EngineSettings,
    /// A reply of the language model containing this ends the call (after a goodbye).
    pub end_call_marker: String,
    /// On SIGTERM, how long live calls may go on before they hear a goodbye.
    pub drain_timeout: std::time::Duration,
    /// What SIGTERM does to live calls: hand them to a standby or drain them.
    pub shutdown: ShutdownMode,
    /// This daemon's name in the ARI owner lease; `None`: the host and the admin port.
    pub node_name: Option<String>,
    /// How webhooks are delivered (`VCA_WEBHOOK_*`).
    pub webhooks: WebhookSettings,
    /// Where and how calls are recorded (`VCA_RECORDING*`).
    pub recordings: RecordingSettings,
}

/// Where and how calls are recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingSettings {
    /// `VCA_RECORDINGS_DIR`: `<tenant>/<yyyy>/<mm>/<call>.opus` files go under it.
    pub dir: std::path::PathBuf,
    /// `VCA_RECORDING_THREADS`: threads encoding and writing recordings.
    pub threads: usize,
    /// `VCA_RECORDING_SWEEP_SECONDS`: how often expired recordings are deleted.
    pub sweep_interval: std::time::Duration,
}

/// What the first SIGTERM does (`VCA_SHUTDOWN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownMode {
    /// `handover` when a standby daemon is seen for this Asterisk, else `drain`.
    Auto,
    /// Give the application up without hanging anybody up: the standby takes the live
    /// calls over within a second or two.
    Handover,
    /// No new calls; live calls finish (up to the drain timeout), then hear a goodbye.
    Drain,
}

/// One line of `check-config` output: a setting, its shown value and its source.
#[derive(Debug, Clone)]
pub struct ShownSetting {
    /// The environment name of the setting.
    pub name: String,
    /// The value as it may be shown (secrets redacted).
    pub value: String,
    /// Where it came from.
    pub source: Source,
}

fn invalid(key: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: env_name(key),
        problem: problem.into(),
    }
}

/// Reads the settings one by one, remembering where each came from.
struct Reader<'a> {
    layers: &'a Layers,
    shown: Vec<ShownSetting>,
}

impl Reader<'_> {
    fn raw(&self, key: &str) -> Option<(String, Source)> {
        self.layers.get(key).map(|(v, s)| (v.trim().to_string(), s))
    }

    fn show(&mut self, key: &str, value: String, source: Source) {
        self.shown.push(ShownSetting {
            name: env_name(key),
            value,
            source,
        });
    }

    /// A plain setting parsed by `parse`, with a default when absent.
    fn parse<T>(
        &mut self,
        key: &str,
        default: Option<&str>,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let (text, source) = match self.raw(key) {
            Some(found) => found,
            None => match default {
                Some(d) => (d.to_string(), Source::Default),
                None => {
                    return Err(invalid(
                        key,
                        "missing; set it in the config file, the environment or a flag",
                    ));
                }
            },
        };
        let value = parse(&text).map_err(|p| invalid(key, p))?;
        self.show(key, text, source);
        Ok(value)
    }

    /// A secret: given directly (`key`) or as a file path (`key_file`), never both.
    fn secret(&mut self, key: &str, required: bool) -> Result<Option<Secret>, ConfigError> {
        let file_key = format!("{key}_file");
        let direct = self.raw(key);
        let file = self.raw(&file_key);
        let (value, source) = match (direct, file) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    key,
                    format!(
                        "set either {} or {}, not both",
                        env_name(key),
                        env_name(&file_key)
                    ),
                ));
            }
            (Some((v, s)), None) => (v, s),
            (None, Some((path, s))) => {
                let text = read_secret_file(&path).map_err(|e| invalid(&file_key, e))?;
                let text = text.trim_end_matches(['\n', '\r']).to_string();
                if text.is_empty() {
                    return Err(invalid(&file_key, format!("{path} is empty")));
                }
                (text, s)
            }
            (None, None) if required => {
                return Err(invalid(
                    key,
                    format!("missing; set {} or {}", env_name(key), env_name(&file_key)),
                ));
            }
            (None, None) => return Ok(None),
        };
        self.show(key, "[redacted]".into(), source);
        Ok(Some(Secret::new(value)))
    }
}

/// The largest secret file read (a token, a password, an API key).
const MAX_SECRET_FILE: u64 = 64 * 1024;

/// Reads a secret file: a regular file of at most [`MAX_SECRET_FILE`] bytes of UTF-8, so a
/// path like `/dev/zero` or a log file given by mistake is refused, not read forever.
fn read_secret_file(path: &str) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read {path}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{path} is not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {path}: {e}"))?;
    if bytes.len() as u64 > MAX_SECRET_FILE {
        return Err(format!(
            "{path} is over {MAX_SECRET_FILE} bytes: not a secret"
        ));
    }
    String::from_utf8(bytes).map_err(|_| format!("{path} is not UTF-8 text"))
}

/// Parses an IP address.
fn parse_ip(s: &str) -> Result<IpAddr, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not an IP address (e.g. 127.0.0.1)"))
}

/// Parses `FIRST-LAST` with FIRST ≤ LAST, both above 1023.
pub fn parse_port_range(s: &str) -> Result<PortRange, String> {
    let bad = || format!("{s:?} is not a port range like 30000-39999");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let first: u16 = a.trim().parse().map_err(|_| bad())?;
    let last: u16 = b.trim().parse().map_err(|_| bad())?;
    if first > last {
        return Err(format!("{s:?}: the first port is above the last"));
    }
    if first < 1024 {
        return Err(format!(
            "{s:?}: ports below 1024 need privileges; use 1024-65535"
        ));
    }
    Ok(PortRange { first, last })
}

/// Replaces the password of a URL, if any, with `***` so it can be shown.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(unparseable URL)".into(),
    }
}

impl Settings {
    /// Validates the layers into settings, plus what `check-config` shows of them.
    pub fn load(
        layers: &Layers,
        needs: Needs,
    ) -> Result<(Settings, Vec<ShownSetting>), ConfigError> {
        let everything = needs == Needs::Everything;
        let mut r = Reader {
            layers,
            shown: Vec::new(),
        };
        let database_url = r.parse("database_url", None, |s| {
            url::Url::parse(s)
                .ok()
                .filter(|u| matches!(u.scheme(), "postgres" | "postgresql"))
                .map(|_| Secret::new(s))
                .ok_or_else(|| {
                    "not a postgres:// URL (e.g. postgres://vca@127.0.0.1:5432/vca_bridge)"
                        .to_string()
                })
        })?;
        redact_last(&mut r.shown, &database_url);
        let redis_url = r.parse("redis_url", Some("redis://127.0.0.1:6379"), |s| {
            url::Url::parse(s)
                .ok()
                .filter(|u| matches!(u.scheme(), "redis" | "rediss"))
                .map(|_| Secret::new(s))
                .ok_or_else(|| "not a redis:// URL (e.g. redis://127.0.0.1:6379)".to_string())
        })?;
        redact_last(&mut r.shown, &redis_url);
        let admin_listen = r.parse("admin_listen", Some("127.0.0.1:8090"), |s| {
            s.parse::<SocketAddr>()
                .map_err(|_| format!("{s:?} is not an address:port (e.g. 127.0.0.1:8090)"))
        })?;
        let admin_token = r
            .secret("admin_token", everything)?
            .unwrap_or_else(|| Secret::new(""));
        if everything && admin_token.expose().len() < 16 {
            return Err(invalid(
                "admin_token",
                "too short: use at least 16 characters (e.g. openssl rand -hex 32)",
            ));
        }
        let (admin_server, admin_request_timeout) = load_admin_limits(&mut r)?;
        let admin_auth_max_failures = r.parse("admin_auth_max_failures", Some("10"), |s| {
            bounded(s, 1, 1_000_000, "failures").map(|n| n as u32)
        })?;
        let ari_url = r.parse("ari_url", Some("http://127.0.0.1:8088"), |s| {
            url::Url::parse(s)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .ok_or_else(|| format!("{s:?} is not an http(s) URL (e.g. http://127.0.0.1:8088)"))
        })?;
        let ari_username = if everything {
            r.parse("ari_username", None, |s| Ok(s.to_string()))?
        } else {
            String::new()
        };
        let ari_password = r
            .secret("ari_password", everything)?
            .unwrap_or_else(|| Secret::new(""));
        let ari_app = r.parse("ari_app", Some("vca-bridge"), |s| {
            if s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                Ok(s.to_string())
            } else {
                Err(format!("{s:?}: use letters, digits, '-' and '_' only"))
            }
        })?;
        let rtp_bind = r.parse("rtp_bind", Some("127.0.0.1"), parse_ip)?;
        let rtp_advertise = match r.raw("rtp_advertise") {
            Some(_) => r.parse("rtp_advertise", None, parse_ip)?,
            None if rtp_bind.is_unspecified() => {
                return Err(invalid(
                    "rtp_advertise",
                    "missing: VCA_RTP_BIND is a wildcard address, so say which address Asterisk must send RTP to",
                ));
            }
            None => {
                r.show("rtp_advertise", rtp_bind.to_string(), Source::Default);
                rtp_bind
            }
        };
        if rtp_advertise.is_unspecified() {
            return Err(invalid(
                "rtp_advertise",
                "must be a concrete address Asterisk can reach, not a wildcard",
            ));
        }
        let rtp_port_range = r.parse("rtp_port_range", Some("30000-39999"), parse_port_range)?;
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let media_threads = r.parse("media_threads", Some(&cores.to_string()), |s| {
            bounded(s, 1, 256, "threads").map(|n| n as usize)
        })?;
        let utterance_pool = r.parse("utterance_pool", Some("256"), |s| {
            bounded(s, 1, 100_000, "buffers").map(|n| n as usize)
        })?;
        let media_realtime_priority = r.parse("media_realtime_priority", Some("10"), |s| {
            bounded(s, 0, 99, "priority").map(|n| n as u8)
        })?;
        let media_format = r.parse("media_format", Some("alaw"), |s| {
            match s.to_ascii_lowercase().as_str() {
                "alaw" => Ok(Law::Alaw),
                "ulaw" => Ok(Law::Ulaw),
                _ => Err(format!("{s:?}: use alaw or ulaw")),
            }
        })?;
        let default_country_code = r.parse("default_country_code", Some("91"), |s| {
            let digits = s.trim_start_matches('+');
            match digits.parse::<u16>() {
                Ok(cc) if (1..=999).contains(&cc) && !digits.starts_with('0') => Ok(cc),
                _ => Err(format!(
                    "{s:?} is not a country calling code (1-3 digits, e.g. 91)"
                )),
            }
        })?;
        let log_format = match r.raw("log_format") {
            None => None,
            Some(_) => Some(r.parse(
                "log_format",
                None,
                |s| match s.to_ascii_lowercase().as_str() {
                    "json" => Ok(LogFormat::Json),
                    "pretty" => Ok(LogFormat::Pretty),
                    _ => Err(format!("{s:?}: use json or pretty")),
                },
            )?),
        };
        let log = r.parse("log", Some("info"), |s| {
            tracing_subscriber::EnvFilter::try_new(s)
                .map(|_| s.to_string())
                .map_err(|e| format!("{s:?} is not a log filter: {e}"))
        })?;
        let engines = load_engines(&mut r, everything)?;
        let end_call_marker = r.parse("end_call_marker", Some("[END_CALL]"), |s| {
            if s.chars().count() <= 64 {
                Ok(s.to_string())
            } else {
                Err("at most 64 characters".into())
            }
        })?;
        let drain_timeout = r.parse("drain_timeout_seconds", Some("60"), |s| {
            match s.parse::<u64>() {
                Ok(n) if n <= 3600 => Ok(std::time::Duration::from_secs(n)),
                _ => Err(format!("{s:?}: give a number of seconds from 0 to 3600")),
            }
        })?;
        let shutdown = r.parse("shutdown", Some("auto"), |s| match s {
            "auto" => Ok(ShutdownMode::Auto),
            "handover" => Ok(ShutdownMode::Handover),
            "drain" => Ok(ShutdownMode::Drain),
            _ => Err(format!("{s:?}: use auto, handover or drain")),
        })?;
        let node_name = r.parse("node_name", Some("auto"), |s| {
            if s.len() <= 200 && !s.chars().any(char::is_control) {
                Ok(Some(s.to_string()).filter(|s| !s.is_empty() && s != "auto"))
            } else {
                Err(format!("{s:?}: at most 200 printable characters"))
            }
        })?;
        let webhooks = load_webhooks(&mut r)?;
        let recordings = load_recordings(&mut r)?;
        let settings = Settings {
            database_url,
            redis_url,
            admin_listen,
            admin_token,
            admin_server,
            admin_request_timeout,
            admin_auth_max_failures,
            ari_url,
            ari_username,
            ari_password,
            ari_app,
            rtp_bind,
            rtp_advertise,
            rtp_port_range,
            media_threads,
            utterance_pool,
            media_realtime_priority,
            media_format,
            default_country_code,
            log_format,
            log,
            engines,
            end_call_marker,
            drain_timeout,
            shutdown,
            node_name,
            webhooks,
            recordings,
        };
        Ok((settings, r.shown))
    }
}

/// A provider's key: required (when `everything`) if its base URL is a hosted https
/// service, optional for local http servers.
fn engine_key(
    r: &mut Reader<'_>,
    key: &str,
    base_url: &str,
    always: bool,
    everything: bool,
) -> Result<Option<Secret>, ConfigError> {
    let required = everything && (always || key_required(base_url));
    r.secret(key, required)
}

/// The `VCA_STT_*`, `VCA_LLM_*` and `VCA_TTS_*` settings.
fn load_engines(r: &mut Reader<'_>, everything: bool) -> Result<EngineSettings, ConfigError> {
    let stt_provider = r.parse("stt_provider", Some("openai"), parse_stt_provider)?;
    let (stt_url, stt_model, stt_schemes, stt_timeout): (&str, Option<&str>, &[&str], &str) =
        match stt_provider {
            SttProvider::OpenAi => (
                stt::openai::DEFAULT_BASE_URL,
                Some(stt::openai::DEFAULT_MODEL),
                &["http", "https"],
                "2500",
            ),
            SttProvider::Deepgram => (
                stt::deepgram::DEFAULT_BASE_URL,
                Some(stt::deepgram::DEFAULT_MODEL),
                &["ws", "wss"],
                "2500",
            ),
            // One base for the socket (its wss:// form) and the REST endpoint.
            SttProvider::Sarvam => (
                crate::engines::sarvam::DEFAULT_BASE_URL,
                Some(stt::sarvam::DEFAULT_MODEL),
                &["http", "https"],
                "2500",
            ),
            // No network; the model directory has no sensible default; CPU inference of a
            // whole utterance takes longer than a hosted service's final transcript.
            SttProvider::WhisperLocal => ("http://127.0.0.1", None, &["http"], "10000"),
        };
    let stt_base = r.parse("stt_base_url", Some(stt_url), |s| {
        parse_base_url(s, stt_schemes)
    })?;
    let stt_model = if stt_provider == SttProvider::WhisperLocal && everything {
        r.parse("stt_model", None, parse_whisper_model_dir)?
    } else {
        // Commands that need no engines (migrate) do not check the model directory.
        r.parse("stt_model", stt_model.or(Some("")), |s| Ok(s.to_string()))?
    };
    let stt_language = r.parse("stt_language", Some("en"), |s| Ok(s.to_string()))?;
    let stt_key = match stt_provider {
        SttProvider::WhisperLocal => r.secret("stt_api_key", false)?,
        SttProvider::Deepgram | SttProvider::Sarvam => {
            engine_key(r, "stt_api_key", &stt_base, true, everything)?
        }
        SttProvider::OpenAi => engine_key(r, "stt_api_key", &stt_base, false, everything)?,
    };
    let stt_timeout = r.parse("stt_timeout_ms", Some(stt_timeout), parse_timeout_ms)?;
    let stt_workers = r.parse("stt_workers", Some("1"), |s| match s.parse::<usize>() {
        Ok(n) if (1..=64).contains(&n) => Ok(n),
        _ => Err(format!("{s:?}: give a number of workers from 1 to 64")),
    })?;
    let stt_mode = r.parse("stt_mode", Some("stream"), parse_stt_mode)?;

    let llm_provider = r.parse("llm_provider", Some("openai"), parse_llm_provider)?;
    let llm_base = r.parse("llm_base_url", Some(llm::openai::DEFAULT_BASE_URL), |s| {
        parse_base_url(s, &["http", "https"])
    })?;
    let llm_model = r.parse("llm_model", Some(llm::openai::DEFAULT_MODEL), |s| {
        Ok(s.to_string())
    })?;
    let llm_key = if llm_provider == LlmProvider::Echo {
        r.secret("llm_api_key", false)?
    } else {
        engine_key(r, "llm_api_key", &llm_base, false, everything)?
    };
    let llm_key_header = r.parse(
        "llm_api_key_header",
        Some("Authorization"),
        parse_header_name,
    )?;
    let llm_max_tokens = r.parse("llm_max_tokens", Some("150"), |s| match s.parse::<u32>() {
        Ok(n) if (1..=4096).contains(&n) => Ok(n),
        _ => Err(format!("{s:?}: give a number of tokens from 1 to 4096")),
    })?;
    let llm_temperature = r.parse("llm_temperature", Some("0.7"), |s| match s.parse::<f32>() {
        Ok(t) if (0.0..=2.0).contains(&t) => Ok(t),
        _ => Err(format!("{s:?}: give a temperature from 0 to 2")),
    })?;
    let llm_max_history = r.parse("llm_max_history", Some("20"), |s| {
        match s.parse::<usize>() {
            Ok(n) if (1..=200).contains(&n) => Ok(n),
            _ => Err(format!("{s:?}: give a number of messages from 1 to 200")),
        }
    })?;
    let llm_timeout = r.parse("llm_timeout_ms", Some("2500"), parse_timeout_ms)?;

    let tts_provider = r.parse("tts_provider", Some("espeak"), parse_tts_provider)?;
    let (tts_url, tts_model, tts_voice) = match tts_provider {
        TtsProvider::Espeak => (
            "http://127.0.0.1",
            tts::espeak::MODEL_NAME,
            tts::espeak::DEFAULT_VOICE,
        ),
        TtsProvider::OpenAi => (
            tts::openai::DEFAULT_BASE_URL,
            tts::openai::DEFAULT_MODEL,
            tts::openai::DEFAULT_VOICE,
        ),
        TtsProvider::ElevenLabs => (
            tts::elevenlabs::DEFAULT_BASE_URL,
            tts::elevenlabs::DEFAULT_MODEL,
            tts::elevenlabs::DEFAULT_VOICE,
        ),
        TtsProvider::Sarvam => (
            crate::engines::sarvam::DEFAULT_BASE_URL,
            tts::sarvam::DEFAULT_MODEL,
            tts::sarvam::DEFAULT_VOICE,
        ),
    };
    let tts_base = r.parse("tts_base_url", Some(tts_url), |s| {
        parse_base_url(s, &["http", "https"])
    })?;
    let tts_model = r.parse("tts_model", Some(tts_model), |s| Ok(s.to_string()))?;
    let tts_voice = r.parse("tts_voice", Some(tts_voice), |s| {
        if s.is_empty() || s.starts_with('-') {
            Err(format!("{s:?} is not a voice name"))
        } else {
            Ok(s.to_string())
        }
    })?;
    let tts_key = match tts_provider {
        TtsProvider::Espeak => r.secret("tts_api_key", false)?,
        TtsProvider::ElevenLabs | TtsProvider::Sarvam => {
            engine_key(r, "tts_api_key", &tts_base, true, everything)?
        }
        TtsProvider::OpenAi => engine_key(r, "tts_api_key", &tts_base, false, everything)?,
    };
    let tts_timeout = r.parse("tts_timeout_ms", Some("2000"), parse_timeout_ms)?;
    let tts_mode = r.parse("tts_mode", Some("stream"), parse_tts_mode)?;
    let tts_language = r.parse("tts_language", Some(tts::sarvam::DEFAULT_LANGUAGE), |s| {
        if s.is_empty() {
            Ok(None)
        } else {
            parse_language(s).map(Some)
        }
    })?;
    Ok(EngineSettings {
        stt: SttSettings {
            provider: stt_provider,
            base_url: stt_base,
            model: stt_model,
            language: Some(stt_language).filter(|l| !l.is_empty() && l != "auto"),
            api_key: stt_key,
            final_timeout: stt_timeout,
            workers: stt_workers,
            mode: stt_mode,
        },
        llm: LlmSettings {
            provider: llm_provider,
            base_url: llm_base,
            model: llm_model,
            api_key: llm_key,
            api_key_header: llm_key_header,
            max_tokens: llm_max_tokens,
            temperature: llm_temperature,
            max_history: llm_max_history,
            first_token_timeout: llm_timeout,
        },
        tts: TtsSettings {
            provider: tts_provider,
            base_url: tts_base,
            model: tts_model,
            voice: tts_voice,
            api_key: tts_key,
            first_audio_timeout: tts_timeout,
            mode: tts_mode,
            language: tts_language,
        },
    })
}

/// A number from `min` to `max`.
fn bounded(s: &str, min: u64, max: u64, unit: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "{s:?}: give a number of {unit} from {min} to {max}"
        )),
    }
}

/// The admin server's limits: `VCA_ADMIN_MAX_CONNECTIONS`, `VCA_ADMIN_HEADER_TIMEOUT_MS`
/// and `VCA_ADMIN_REQUEST_TIMEOUT_MS`.
fn load_admin_limits(
    r: &mut Reader<'_>,
) -> Result<(ServerLimits, std::time::Duration), ConfigError> {
    use std::time::Duration;
    let max_connections = r.parse("admin_max_connections", Some("256"), |s| {
        bounded(s, 1, 65_536, "connections").map(|n| n as usize)
    })?;
    let header_timeout = r.parse("admin_header_timeout_ms", Some("10000"), |s| {
        bounded(s, 100, 600_000, "milliseconds").map(Duration::from_millis)
    })?;
    let request_timeout = r.parse("admin_request_timeout_ms", Some("30000"), |s| {
        bounded(s, 100, 600_000, "milliseconds").map(Duration::from_millis)
    })?;
    let limits = ServerLimits {
        max_connections,
        header_timeout,
    };
    Ok((limits, request_timeout))
}

/// The `VCA_WEBHOOK_*` settings.
fn load_webhooks(r: &mut Reader<'_>) -> Result<WebhookSettings, ConfigError> {
    use std::time::Duration;
    let d = WebhookSettings::default();
    let allow_private = r.parse("webhook_allow_private", Some("false"), |s| {
        match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(format!("{s:?}: use true or false")),
        }
    })?;
    let timeout = r.parse("webhook_timeout_ms", Some("10000"), |s| {
        bounded(s, 100, 60_000, "milliseconds").map(Duration::from_millis)
    })?;
    let base = r.parse("webhook_retry_base_ms", Some("30000"), |s| {
        bounded(s, 1, 3_600_000, "milliseconds").map(Duration::from_millis)
    })?;
    let max = r.parse("webhook_retry_max_seconds", Some("3600"), |s| {
        bounded(s, 1, 86_400, "seconds").map(Duration::from_secs)
    })?;
    let window = r.parse("webhook_retry_window_seconds", Some("86400"), |s| {
        bounded(s, 0, 7 * 86_400, "seconds").map(Duration::from_secs)
    })?;
    let poll_interval = r.parse("webhook_poll_ms", Some("1000"), |s| {
        bounded(s, 10, 60_000, "milliseconds").map(Duration::from_millis)
    })?;
    Ok(WebhookSettings {
        allow_private,
        timeout,
        backoff: Backoff { base, max, window },
        poll_interval,
        batch: d.batch,
    })
}

/// The `VCA_RECORDING*` settings.
fn load_recordings(r: &mut Reader<'_>) -> Result<RecordingSettings, ConfigError> {
    let dir = r.parse(
        "recordings_dir",
        Some("/var/lib/vca-bridge/recordings"),
        |s| {
            let path = std::path::PathBuf::from(s);
            if path.is_absolute() && !s.chars().any(char::is_control) {
                Ok(path)
            } else {
                Err(format!("{s:?}: give an absolute directory path"))
            }
        },
    )?;
    let threads = r.parse("recording_threads", Some("1"), |s| {
        bounded(s, 1, 64, "threads").map(|n| n as usize)
    })?;
    let sweep_interval = r.parse("recording_sweep_seconds", Some("3600"), |s| {
        bounded(s, 1, 86_400, "seconds").map(std::time::Duration::from_secs)
    })?;
    Ok(RecordingSettings {
        dir,
        threads,
        sweep_interval,
    })
}

/// Replaces the shown value of the last setting (a URL) by its redacted form.
fn redact_last(shown: &mut [ShownSetting], url: &Secret) {
    if let Some(last) = shown.last_mut() {
        last.value = redact_url(url.expose());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(env: &[(&str, &str)], needs: Needs) -> Result<Settings, ConfigError> {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let layers = Layers::new(None, env, HashMap::new())?;
        Settings::load(&layers, needs).map(|(s, _)| s)
    }

    const BASE: &[(&str, &str)] = &[
        ("VCA_DATABASE_URL", "postgres://vca:pw@127.0.0.1/vca"),
        ("VCA_ADMIN_TOKEN", "0123456789abcdef0123"),
        ("VCA_ARI_USERNAME", "vca"),
        ("VCA_ARI_PASSWORD", "vca-secret"),
        ("VCA_STT_API_KEY", "sk-stt-secret-1"),
        ("VCA_LLM_API_KEY", "sk-llm-secret-2"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut v = BASE.to_vec();
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn sarvam_settings_load_and_are_checked() {
        let env = with(&[
            ("VCA_STT_PROVIDER", "sarvam"),
            ("VCA_STT_MODE", "rest"),
            ("VCA_TTS_PROVIDER", "sarvam"),
            ("VCA_TTS_API_KEY", "sarvam-secret-4"),
            ("VCA_TTS_LANGUAGE", "hi-in"),
            ("VCA_LLM_BASE_URL", "https://api.sarvam.ai/v1"),
            ("VCA_LLM_API_KEY_HEADER", "api-subscription-key"),
        ]);
        let e = load(&env, Needs::Everything).unwrap().engines;
        assert_eq!(e.stt.provider, SttProvider::Sarvam);
        assert_eq!(e.stt.base_url, "https://api.sarvam.ai");
        assert_eq!(e.stt.model, "saarika:v2.5");
        assert_eq!(e.stt.mode, crate::engines::settings::SttMode::Rest);
        assert_eq!(e.tts.provider, TtsProvider::Sarvam);
        assert_eq!(e.tts.model, "bulbul:v2");
        assert_eq!(e.tts.voice, "anushka");
        assert_eq!(e.tts.mode, crate::engines::settings::TtsMode::Stream);
        assert_eq!(e.tts.language.as_deref(), Some("hi-IN"));
        assert_eq!(e.llm.api_key_header, "api-subscription-key");
        let defaults = load(BASE, Needs::Everything).unwrap().engines;
        assert_eq!(defaults.llm.api_key_header, "Authorization");
        assert_eq!(defaults.tts.language.as_deref(), Some("hi-IN"));
        for (key, value, prefix) in [
            ("VCA_STT_MODE", "batch", "VCA_STT_MODE: "),
            ("VCA_TTS_MODE", "grpc", "VCA_TTS_MODE: "),
            ("VCA_TTS_LANGUAGE", "xx-YY", "VCA_TTS_LANGUAGE: "),
            (
                "VCA_LLM_API_KEY_HEADER",
                "bad header",
                "VCA_LLM_API_KEY_HEADER: ",
            ),
        ] {
            let err = load(&with(&[(key, value)]), Needs::Everything)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(prefix), "{err}");
        }
        // The TTS key is required by Sarvam like every hosted provider's.
        let err = load(&with(&[("VCA_TTS_PROVIDER", "sarvam")]), Needs::Everything)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("VCA_TTS_API_KEY: missing"), "{err}");
    }

    #[test]
    fn defaults_apply() {
        let s = load(BASE, Needs::Everything).unwrap();
        assert_eq!(s.admin_listen.to_string(), "127.0.0.1:8090");
        assert_eq!(s.ari_url.as_str(), "http://127.0.0.1:8088/");
        assert_eq!(s.ari_app, "vca-bridge");
        assert_eq!(s.rtp_advertise, s.rtp_bind);
        assert_eq!(
            s.rtp_port_range,
            PortRange {
                first: 30000,
                last: 39999
            }
        );
        assert_eq!(s.media_format, Law::Alaw);
        assert_eq!(s.default_country_code, 91);
    }

    #[test]
    fn errors_name_the_setting() {
        let err = load(&with(&[("VCA_ADMIN_LISTEN", "nowhere")]), Needs::Everything).unwrap_err();
        assert!(err.to_string().starts_with("VCA_ADMIN_LISTEN: "), "{err}");
        let err = load(&with(&[("VCA_RTP_PORT_RANGE", "5-1")]), Needs::Everything).unwrap_err();
        assert!(err.to_string().starts_with("VCA_RTP_PORT_RANGE: "), "{err}");
        let err = load(&with(&[("VCA_MEDIA_FORMAT", "opus")]), Needs::Everything).unwrap_err();
        assert!(err.to_string().starts_with("VCA_MEDIA_FORMAT: "), "{err}");
        let err = load(&BASE[..1], Needs::Everything).unwrap_err();
        assert!(
            err.to_string().starts_with("VCA_ADMIN_TOKEN: missing"),
            "{err}"
        );
    }

    #[test]
    fn migrate_needs_only_the_database() {
        let s = load(&BASE[..1], Needs::Database).unwrap();
        assert_eq!(s.admin_token.expose(), "");
        assert!(
            load(&[], Needs::Database)
                .unwrap_err()
                .to_string()
                .starts_with("VCA_DATABASE_URL: missing")
        );
    }

    #[test]
    fn secrets_never_show() {
        let env = BASE.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let layers = Layers::new(None, env, HashMap::new()).unwrap();
        let (settings, shown) = Settings::load(&layers, Needs::Everything).unwrap();
        let all = format!("{settings:?} {shown:?}");
        for secret in [
            "0123456789abcdef0123",
            "vca-secret",
            ":pw@",
            "sk-stt-secret-1",
            "sk-llm-secret-2",
        ] {
            assert!(!all.contains(secret), "{secret} leaked: {all}");
        }
    }

    #[test]
    fn secret_from_file_and_not_both() {
        let path = std::env::temp_dir().join(format!("vca-secret-{}", std::process::id()));
        std::fs::write(&path, "from-a-file-token-0123\n").unwrap();
        let p = path.to_string_lossy().to_string();
        let mut env: Vec<(String, String)> = BASE
            .iter()
            .filter(|(k, _)| *k != "VCA_ADMIN_TOKEN")
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.push(("VCA_ADMIN_TOKEN_FILE".into(), p.clone()));
        let layers = Layers::new(None, env.clone(), HashMap::new()).unwrap();
        let (s, _) = Settings::load(&layers, Needs::Everything).unwrap();
        assert_eq!(s.admin_token.expose(), "from-a-file-token-0123");
        env.push(("VCA_ADMIN_TOKEN".into(), "0123456789abcdef0123".into()));
        let layers = Layers::new(None, env, HashMap::new()).unwrap();
        let err = Settings::load(&layers, Needs::Everything).unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");
        assert!(!err.to_string().contains("0123456789abcdef0123"));
    }

    #[test]
    fn secret_files_are_bounded_regular_text_files() {
        let dir = std::env::temp_dir().join(format!("vca-secret-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big");
        std::fs::write(&big, vec![b'a'; 70 * 1024]).unwrap();
        let binary = dir.join("binary");
        std::fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
        for (path, says) in [
            ("/dev/zero".to_string(), "not a regular file"),
            (dir.to_string_lossy().to_string(), "not a regular file"),
            (big.to_string_lossy().to_string(), "over 65536 bytes"),
            (binary.to_string_lossy().to_string(), "not UTF-8"),
        ] {
            let mut env: Vec<(String, String)> = BASE
                .iter()
                .filter(|(k, _)| *k != "VCA_ADMIN_TOKEN")
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            env.push(("VCA_ADMIN_TOKEN_FILE".into(), path.clone()));
            let layers = Layers::new(None, env, HashMap::new()).unwrap();
            let err = Settings::load(&layers, Needs::Everything).unwrap_err();
            assert!(err.to_string().contains(says), "{path}: {err}");
            assert!(err.to_string().contains("VCA_ADMIN_TOKEN_FILE"), "{err}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn engine_defaults() {
        let s = load(BASE, Needs::Everything).unwrap();
        let e = &s.engines;
        assert_eq!(e.stt.provider, SttProvider::OpenAi);
        assert_eq!(e.stt.base_url, "https://api.openai.com/v1");
        assert_eq!(e.stt.model, "whisper-1");
        assert_eq!(e.llm.provider, LlmProvider::OpenAi);
        assert_eq!(e.tts.provider, TtsProvider::Espeak);
        assert_eq!(e.tts.voice, "en-us");
        assert_eq!(
            e.llm.api_key.as_ref().map(Secret::expose),
            Some("sk-llm-secret-2")
        );
        assert!(e.tts.api_key.is_none());
    }

    #[test]
    fn engine_keys_are_required_by_hosted_providers() {
        let without = |name: &str| -> Vec<(&'static str, &'static str)> {
            BASE.iter().copied().filter(|(k, _)| *k != name).collect()
        };
        let err = load(&without("VCA_LLM_API_KEY"), Needs::Everything).unwrap_err();
        assert!(
            err.to_string().starts_with("VCA_LLM_API_KEY: missing"),
            "{err}"
        );
        let err = load(&without("VCA_STT_API_KEY"), Needs::Everything).unwrap_err();
        assert!(
            err.to_string().starts_with("VCA_STT_API_KEY: missing"),
            "{err}"
        );
        let mut env = with(&[("VCA_TTS_PROVIDER", "elevenlabs")]);
        let err = load(&env, Needs::Everything).unwrap_err();
        assert!(
            err.to_string().starts_with("VCA_TTS_API_KEY: missing"),
            "{err}"
        );
        env.push(("VCA_TTS_API_KEY", "xi-secret-3"));
        let s = load(&env, Needs::Everything).unwrap();
        assert!(!format!("{s:?}").contains("xi-secret-3"));
        // Local servers on plain http and echo need no key.
        let mut local = without("VCA_LLM_API_KEY");
        local.push(("VCA_LLM_BASE_URL", "http://127.0.0.1:11434/v1"));
        assert!(
            load(&local, Needs::Everything)
                .unwrap()
                .engines
                .llm
                .api_key
                .is_none()
        );
        let mut echo = without("VCA_LLM_API_KEY");
        echo.push(("VCA_LLM_PROVIDER", "echo"));
        assert_eq!(
            load(&echo, Needs::Everything).unwrap().engines.llm.provider,
            LlmProvider::Echo
        );
        let err = load(
            &with(&[("VCA_STT_PROVIDER", "deepgram")]),
            Needs::Everything,
        )
        .unwrap();
        assert_eq!(err.engines.stt.base_url, "wss://api.deepgram.com/v1");
        assert!(load(&without("VCA_LLM_API_KEY"), Needs::Database).is_ok());
    }

    #[test]
    fn engine_values_are_checked() {
        for (key, value) in [
            ("VCA_STT_PROVIDER", "whisperx"),
            ("VCA_LLM_PROVIDER", "gpt"),
            ("VCA_TTS_PROVIDER", "festival"),
            ("VCA_LLM_BASE_URL", "ftp://x"),
            ("VCA_LLM_MAX_TOKENS", "0"),
            ("VCA_LLM_TEMPERATURE", "3"),
            ("VCA_LLM_TIMEOUT_MS", "5"),
            ("VCA_TTS_VOICE", "-rf"),
            ("VCA_STT_WORKERS", "0"),
        ] {
            let err = load(&with(&[(key, value)]), Needs::Everything).unwrap_err();
            assert!(err.to_string().starts_with(&format!("{key}: ")), "{err}");
        }
    }

    #[test]
    fn whisper_local_needs_a_model_directory() {
        let env = with(&[("VCA_STT_PROVIDER", "whisper-local")]);
        let err = load(&env, Needs::Everything).unwrap_err().to_string();
        if cfg!(feature = "whisper-local") {
            assert!(err.starts_with("VCA_STT_MODEL: missing"), "{err}");
            let dir = std::env::temp_dir().join(format!("vca-no-model-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path: &'static str = Box::leak(dir.to_string_lossy().into_owned().into_boxed_str());
            let env = with(&[
                ("VCA_STT_PROVIDER", "whisper-local"),
                ("VCA_STT_MODEL", path),
            ]);
            let err = load(&env, Needs::Everything).unwrap_err().to_string();
            assert!(err.contains("has no model.bin"), "{err}");
            for file in ["model.bin", "config.json", "vocabulary.txt"] {
                std::fs::write(dir.join(file), b"x").unwrap();
            }
            let s = load(&env, Needs::Everything).unwrap();
            assert_eq!(s.engines.stt.provider, SttProvider::WhisperLocal);
            assert_eq!(s.engines.stt.final_timeout.as_millis(), 10_000);
            assert_eq!(s.engines.stt.workers, 1);
            std::fs::remove_dir_all(&dir).ok();
            // Commands that need no engines do not look for the model.
            let env = with(&[("VCA_STT_PROVIDER", "whisper-local")]);
            assert!(load(&env, Needs::Database).is_ok());
        } else {
            assert!(err.starts_with("VCA_STT_PROVIDER: "), "{err}");
            assert!(err.contains("--features whisper-local"), "{err}");
        }
    }

    #[test]
    fn webhook_settings_default_and_are_checked() {
        let s = load(BASE, Needs::Everything).unwrap();
        assert_eq!(s.webhooks, WebhookSettings::default());
        let s = load(
            &with(&[
                ("VCA_WEBHOOK_ALLOW_PRIVATE", "true"),
                ("VCA_WEBHOOK_RETRY_BASE_MS", "20"),
                ("VCA_WEBHOOK_RETRY_WINDOW_SECONDS", "0"),
            ]),
            Needs::Everything,
        )
        .unwrap();
        assert!(s.webhooks.allow_private);
        assert_eq!(s.webhooks.backoff.base.as_millis(), 20);
        assert!(s.webhooks.backoff.window.is_zero());
        for (key, value) in [
            ("VCA_WEBHOOK_ALLOW_PRIVATE", "maybe"),
            ("VCA_WEBHOOK_TIMEOUT_MS", "5"),
            ("VCA_WEBHOOK_RETRY_BASE_MS", "0"),
            ("VCA_WEBHOOK_POLL_MS", "x"),
        ] {
            let err = load(&with(&[(key, value)]), Needs::Everything).unwrap_err();
            assert!(err.to_string().starts_with(&format!("{key}: ")), "{err}");
        }
    }

    #[test]
    fn admin_limits_default_and_are_checked() {
        let s = load(BASE, Needs::Everything).unwrap();
        assert_eq!(s.admin_server, ServerLimits::default());
        assert_eq!(
            s.admin_request_timeout,
            crate::admin::DEFAULT_REQUEST_TIMEOUT
        );
        let s = load(
            &with(&[
                ("VCA_ADMIN_MAX_CONNECTIONS", "3"),
                ("VCA_ADMIN_HEADER_TIMEOUT_MS", "500"),
                ("VCA_ADMIN_REQUEST_TIMEOUT_MS", "700"),
            ]),
            Needs::Everything,
        )
        .unwrap();
        assert_eq!(s.admin_server.max_connections, 3);
        assert_eq!(s.admin_server.header_timeout.as_millis(), 500);
        assert_eq!(s.admin_request_timeout.as_millis(), 700);
        assert_eq!(
            load(BASE, Needs::Everything)
                .unwrap()
                .admin_auth_max_failures,
            10
        );
        let s = load(
            &with(&[("VCA_ADMIN_AUTH_MAX_FAILURES", "1000")]),
            Needs::Everything,
        )
        .unwrap();
        assert_eq!(s.admin_auth_max_failures, 1000);
        for (key, value) in [
            ("VCA_ADMIN_MAX_CONNECTIONS", "0"),
            ("VCA_ADMIN_MAX_CONNECTIONS", "many"),
            ("VCA_ADMIN_HEADER_TIMEOUT_MS", "5"),
            ("VCA_ADMIN_REQUEST_TIMEOUT_MS", "-1"),
            ("VCA_ADMIN_AUTH_MAX_FAILURES", "0"),
            ("VCA_ADMIN_AUTH_MAX_FAILURES", "1000001"),
        ] {
            let err = load(&with(&[(key, value)]), Needs::Everything).unwrap_err();
            assert!(err.to_string().starts_with(&format!("{key}: ")), "{err}");
        }
    }

    #[test]
    fn wildcard_bind_needs_advertise() {
        let err = load(&with(&[("VCA_RTP_BIND", "0.0.0.0")]), Needs::Everything).unwrap_err();
        assert!(err.to_string().starts_with("VCA_RTP_ADVERTISE: "), "{err}");
        let s = load(
            &with(&[
                ("VCA_RTP_BIND", "0.0.0.0"),
                ("VCA_RTP_ADVERTISE", "10.0.0.5"),
            ]),
            Needs::Everything,
        )
        .unwrap();
        assert_eq!(s.rtp_advertise.to_string(), "10.0.0.5");
    }
}
