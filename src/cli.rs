//! The command line: `vca-bridge run | migrate | check-config`, with `--config FILE`
//! and one flag per setting. Secret values have no flags (a flag shows in `ps`):
//! only their `*-file` forms do, and `--help` never prints a value.

use std::collections::HashMap;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// vca-bridge: an AI voice agent for phone numbers served by Asterisk.
#[derive(Debug, Parser)]
#[command(name = "vca-bridge", version, about, long_about = None)]
pub struct Cli {
    /// TOML file with settings (keys as in the environment names, lower case, without VCA_).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub flags: SettingFlags,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: apply migrations, serve the admin API, take calls from Asterisk.
    Run,
    /// Apply database migrations and exit.
    Migrate,
    /// Check the settings and the dependencies, print what is fine and what is wrong.
    CheckConfig,
}

/// One flag per setting; each beats the environment and the config file.
#[derive(Debug, Args, Default)]
pub struct SettingFlags {
    /// PostgreSQL URL [env: VCA_DATABASE_URL] (prefer the environment if it holds a password).
    #[arg(long, global = true, value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Redis URL [env: VCA_REDIS_URL; default redis://127.0.0.1:6379].
    #[arg(long, global = true, value_name = "URL")]
    pub redis_url: Option<String>,
    /// Admin API address [env: VCA_ADMIN_LISTEN; default 127.0.0.1:8090].
    #[arg(long, global = true, value_name = "ADDR:PORT")]
    pub admin_listen: Option<String>,
    /// File holding the admin bearer token [env: VCA_ADMIN_TOKEN_FILE, or VCA_ADMIN_TOKEN].
    #[arg(long, global = true, value_name = "FILE")]
    pub admin_token_file: Option<String>,
    /// Admin API connections served at once; more wait [env: VCA_ADMIN_MAX_CONNECTIONS; default 256].
    #[arg(long, global = true, value_name = "N")]
    pub admin_max_connections: Option<String>,
    /// Time a client has to send a request's headers, and an idle connection stays open [env: VCA_ADMIN_HEADER_TIMEOUT_MS; default 10000].
    #[arg(long, global = true, value_name = "MS")]
    pub admin_header_timeout_ms: Option<String>,
    /// Time a request may take, its body read included (408 past it) [env: VCA_ADMIN_REQUEST_TIMEOUT_MS; default 30000].
    #[arg(long, global = true, value_name = "MS")]
    pub admin_request_timeout_ms: Option<String>,
    /// Failed authentications from one address in a minute before it gets 429 until the minute ends [env: VCA_ADMIN_AUTH_MAX_FAILURES; default 10].
    #[arg(long, global = true, value_name = "N")]
    pub admin_auth_max_failures: Option<String>,
    /// Asterisk HTTP base URL [env: VCA_ARI_URL; default http://127.0.0.1:8088].
    #[arg(long, global = true, value_name = "URL")]
    pub ari_url: Option<String>,
    /// ARI user [env: VCA_ARI_USERNAME].
    #[arg(long, global = true, value_name = "USER")]
    pub ari_username: Option<String>,
    /// File holding the ARI password [env: VCA_ARI_PASSWORD_FILE, or VCA_ARI_PASSWORD].
    #[arg(long, global = true, value_name = "FILE")]
    pub ari_password_file: Option<String>,
    /// Stasis application name [env: VCA_ARI_APP; default vca-bridge].
    #[arg(long, global = true, value_name = "NAME")]
    pub ari_app: Option<String>,
    /// Address RTP sockets bind to [env: VCA_RTP_BIND; default 127.0.0.1].
    #[arg(long, global = true, value_name = "IP")]
    pub rtp_bind: Option<String>,
    /// Address Asterisk sends RTP to [env: VCA_RTP_ADVERTISE; default the bind address].
    #[arg(long, global = true, value_name = "IP")]
    pub rtp_advertise: Option<String>,
    /// RTP port range [env: VCA_RTP_PORT_RANGE; default 30000-39999].
    #[arg(long, global = true, value_name = "FIRST-LAST")]
    pub rtp_port_range: Option<String>,
    /// Threads carrying the calls' RTP [env: VCA_MEDIA_THREADS; default: one per core].
    #[arg(long, global = true, value_name = "N")]
    pub media_threads: Option<String>,
    /// Utterance buffers shared by all calls [env: VCA_UTTERANCE_POOL; default 256].
    #[arg(long, global = true, value_name = "N")]
    pub utterance_pool: Option<String>,
    /// Real-time (SCHED_FIFO) priority of the media threads, 0 for none
    /// [env: VCA_MEDIA_REALTIME_PRIORITY; default 10].
    #[arg(long, global = true, value_name = "N")]
    pub media_realtime_priority: Option<String>,
    /// External Media format: alaw or ulaw [env: VCA_MEDIA_FORMAT; default alaw].
    #[arg(long, global = true, value_name = "LAW")]
    pub media_format: Option<String>,
    /// Country code for national numbers [env: VCA_DEFAULT_COUNTRY_CODE; default 91].
    #[arg(long, global = true, value_name = "CC")]
    pub default_country_code: Option<String>,
    /// Log format: json or pretty [env: VCA_LOG_FORMAT; default json unless stderr is a terminal].
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Log filter, e.g. info or vca_bridge=debug [env: VCA_LOG or RUST_LOG; default info].
    #[arg(long, global = true, value_name = "FILTER")]
    pub log: Option<String>,
    /// Marker that lets the language model end the call [env: VCA_END_CALL_MARKER; default [END_CALL]].
    #[arg(long, global = true, value_name = "TEXT")]
    pub end_call_marker: Option<String>,
    /// Seconds live calls may go on after SIGTERM before a goodbye [env: VCA_DRAIN_TIMEOUT_SECONDS; default 60].
    #[arg(long, global = true, value_name = "SECONDS")]
    pub drain_timeout_seconds: Option<String>,
    /// What SIGTERM does: handover (to a standby), drain, or auto (handover when a standby is seen) [env: VCA_SHUTDOWN; default auto].
    #[arg(long, global = true, value_name = "MODE")]
    pub shutdown: Option<String>,
    /// This daemon's name in the ARI owner lease (active/standby) [env: VCA_NODE_NAME; default auto: host:admin port].
    #[arg(long, global = true, value_name = "NAME")]
    pub node_name: Option<String>,
    /// Let webhook URLs reach loopback, private and link-local addresses [env: VCA_WEBHOOK_ALLOW_PRIVATE; default false].
    #[arg(long, global = true, value_name = "BOOL")]
    pub webhook_allow_private: Option<String>,
    /// One webhook delivery attempt, in milliseconds [env: VCA_WEBHOOK_TIMEOUT_MS; default 10000].
    #[arg(long, global = true, value_name = "MS")]
    pub webhook_timeout_ms: Option<String>,
    /// Wait after a webhook's first failed attempt, doubled per attempt [env: VCA_WEBHOOK_RETRY_BASE_MS; default 30000].
    #[arg(long, global = true, value_name = "MS")]
    pub webhook_retry_base_ms: Option<String>,
    /// Longest wait between two webhook attempts [env: VCA_WEBHOOK_RETRY_MAX_SECONDS; default 3600].
    #[arg(long, global = true, value_name = "SECONDS")]
    pub webhook_retry_max_seconds: Option<String>,
    /// How long after an event its delivery is retried [env: VCA_WEBHOOK_RETRY_WINDOW_SECONDS; default 86400].
    #[arg(long, global = true, value_name = "SECONDS")]
    pub webhook_retry_window_seconds: Option<String>,
    /// How often an idle webhook worker looks for due events [env: VCA_WEBHOOK_POLL_MS; default 1000].
    #[arg(long, global = true, value_name = "MS")]
    pub webhook_poll_ms: Option<String>,
    /// Where call recordings are written [env: VCA_RECORDINGS_DIR; default /var/lib/vca-bridge/recordings].
    #[arg(long, global = true, value_name = "DIR")]
    pub recordings_dir: Option<String>,
    /// Threads that encode and write recordings [env: VCA_RECORDING_THREADS; default 1].
    #[arg(long, global = true, value_name = "N")]
    pub recording_threads: Option<String>,
    /// How often recordings past their tenant's retention are deleted [env: VCA_RECORDING_SWEEP_SECONDS; default 3600].
    #[arg(long, global = true, value_name = "SECONDS")]
    pub recording_sweep_seconds: Option<String>,
    /// Speech-to-text provider: deepgram, openai, sarvam or whisper-local [env: VCA_STT_PROVIDER; default openai].
    #[arg(long, global = true, value_name = "PROVIDER")]
    pub stt_provider: Option<String>,
    /// STT base URL [env: VCA_STT_BASE_URL; default https://api.openai.com/v1, wss://api.deepgram.com/v1 or https://api.sarvam.ai].
    #[arg(long, global = true, value_name = "URL")]
    pub stt_base_url: Option<String>,
    /// STT model; for whisper-local a model directory [env: VCA_STT_MODEL; default whisper-1, nova-2 or saarika:v2.5].
    #[arg(long, global = true, value_name = "MODEL")]
    pub stt_model: Option<String>,
    /// Default STT language, `auto` to detect [env: VCA_STT_LANGUAGE; default en].
    #[arg(long, global = true, value_name = "LANG")]
    pub stt_language: Option<String>,
    /// File holding the STT API key [env: VCA_STT_API_KEY_FILE, or VCA_STT_API_KEY].
    #[arg(long, global = true, value_name = "FILE")]
    pub stt_api_key_file: Option<String>,
    /// End of speech to final transcript limit [env: VCA_STT_TIMEOUT_MS; default 2500].
    #[arg(long, global = true, value_name = "MS")]
    pub stt_timeout_ms: Option<String>,
    /// whisper-local: transcriptions run at once, sharing the cores [env: VCA_STT_WORKERS; default 1].
    #[arg(long, global = true, value_name = "N")]
    pub stt_workers: Option<String>,
    /// Sarvam STT: stream (WebSocket) or rest (one upload per utterance) [env: VCA_STT_MODE; default stream].
    #[arg(long, global = true, value_name = "MODE")]
    pub stt_mode: Option<String>,
    /// Chat provider: openai (any compatible server) or echo [env: VCA_LLM_PROVIDER; default openai].
    #[arg(long, global = true, value_name = "PROVIDER")]
    pub llm_provider: Option<String>,
    /// LLM base URL [env: VCA_LLM_BASE_URL; default https://api.openai.com/v1].
    #[arg(long, global = true, value_name = "URL")]
    pub llm_base_url: Option<String>,
    /// LLM model [env: VCA_LLM_MODEL; default gpt-4o-mini].
    #[arg(long, global = true, value_name = "MODEL")]
    pub llm_model: Option<String>,
    /// File holding the LLM API key [env: VCA_LLM_API_KEY_FILE, or VCA_LLM_API_KEY].
    #[arg(long, global = true, value_name = "FILE")]
    pub llm_api_key_file: Option<String>,
    /// Header carrying the LLM key: Authorization sends `Bearer <key>`, another header (api-subscription-key for Sarvam) the bare key [env: VCA_LLM_API_KEY_HEADER; default Authorization].
    #[arg(long, global = true, value_name = "HEADER")]
    pub llm_api_key_header: Option<String>,
    /// Reply token limit [env: VCA_LLM_MAX_TOKENS; default 150].
    #[arg(long, global = true, value_name = "N")]
    pub llm_max_tokens: Option<String>,
    /// Sampling temperature 0-2 [env: VCA_LLM_TEMPERATURE; default 0.7].
    #[arg(long, global = true, value_name = "T")]
    pub llm_temperature: Option<String>,
    /// History messages sent per request [env: VCA_LLM_MAX_HISTORY; default 20].
    #[arg(long, global = true, value_name = "N")]
    pub llm_max_history: Option<String>,
    /// Request to first token limit [env: VCA_LLM_TIMEOUT_MS; default 2500].
    #[arg(long, global = true, value_name = "MS")]
    pub llm_timeout_ms: Option<String>,
    /// Text-to-speech provider: openai, elevenlabs, sarvam or espeak [env: VCA_TTS_PROVIDER; default espeak].
    #[arg(long, global = true, value_name = "PROVIDER")]
    pub tts_provider: Option<String>,
    /// TTS base URL [env: VCA_TTS_BASE_URL; default per provider].
    #[arg(long, global = true, value_name = "URL")]
    pub tts_base_url: Option<String>,
    /// TTS model [env: VCA_TTS_MODEL; default per provider].
    #[arg(long, global = true, value_name = "MODEL")]
    pub tts_model: Option<String>,
    /// Default voice [env: VCA_TTS_VOICE; default en-us, alloy or an ElevenLabs voice id].
    #[arg(long, global = true, value_name = "VOICE")]
    pub tts_voice: Option<String>,
    /// File holding the TTS API key [env: VCA_TTS_API_KEY_FILE, or VCA_TTS_API_KEY].
    #[arg(long, global = true, value_name = "FILE")]
    pub tts_api_key_file: Option<String>,
    /// Request to first audio limit [env: VCA_TTS_TIMEOUT_MS; default 2000].
    #[arg(long, global = true, value_name = "MS")]
    pub tts_timeout_ms: Option<String>,
    /// Sarvam TTS: stream (WebSocket) or http (streamed POST) [env: VCA_TTS_MODE; default stream].
    #[arg(long, global = true, value_name = "MODE")]
    pub tts_mode: Option<String>,
    /// Language spoken when a request names none, BCP-47 (Sarvam) [env: VCA_TTS_LANGUAGE; default hi-IN].
    #[arg(long, global = true, value_name = "LANG")]
    pub tts_language: Option<String>,
}

impl SettingFlags {
    /// The flags that were given, keyed by setting name.
    pub fn into_map(self) -> HashMap<String, String> {
        let SettingFlags {
            database_url,
            redis_url,
            admin_listen,
            admin_token_file,
            admin_max_connections,
            admin_header_timeout_ms,
            admin_request_timeout_ms,
            admin_auth_max_failures,
            ari_url,
            ari_username,
            ari_password_file,
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
            end_call_marker,
            drain_timeout_seconds,
            shutdown,
            node_name,
            webhook_allow_private,
            webhook_timeout_ms,
            webhook_retry_base_ms,
            webhook_retry_max_seconds,
            webhook_retry_window_seconds,
            webhook_poll_ms,
            recordings_dir,
            recording_threads,
            recording_sweep_seconds,
            stt_provider,
            stt_base_url,
            stt_model,
            stt_language,
            stt_api_key_file,
            stt_timeout_ms,
            stt_workers,
            stt_mode,
            llm_provider,
            llm_base_url,
            llm_model,
            llm_api_key_file,
            llm_api_key_header,
            llm_max_tokens,
            llm_temperature,
            llm_max_history,
            llm_timeout_ms,
            tts_provider,
            tts_base_url,
            tts_model,
            tts_voice,
            tts_api_key_file,
            tts_timeout_ms,
            tts_mode,
            tts_language,
        } = self;
        [
            ("database_url", database_url),
            ("redis_url", redis_url),
            ("admin_listen", admin_listen),
            ("admin_token_file", admin_token_file),
            ("admin_max_connections", admin_max_connections),
            ("admin_header_timeout_ms", admin_header_timeout_ms),
            ("admin_request_timeout_ms", admin_request_timeout_ms),
            ("admin_auth_max_failures", admin_auth_max_failures),
            ("ari_url", ari_url),
            ("ari_username", ari_username),
            ("ari_password_file", ari_password_file),
            ("ari_app", ari_app),
            ("rtp_bind", rtp_bind),
            ("rtp_advertise", rtp_advertise),
            ("rtp_port_range", rtp_port_range),
            ("media_threads", media_threads),
            ("utterance_pool", utterance_pool),
            ("media_realtime_priority", media_realtime_priority),
            ("media_format", media_format),
            ("default_country_code", default_country_code),
            ("log_format", log_format),
            ("log", log),
            ("end_call_marker", end_call_marker),
            ("drain_timeout_seconds", drain_timeout_seconds),
            ("shutdown", shutdown),
            ("node_name", node_name),
            ("webhook_allow_private", webhook_allow_private),
            ("webhook_timeout_ms", webhook_timeout_ms),
            ("webhook_retry_base_ms", webhook_retry_base_ms),
            ("webhook_retry_max_seconds", webhook_retry_max_seconds),
            ("webhook_retry_window_seconds", webhook_retry_window_seconds),
            ("webhook_poll_ms", webhook_poll_ms),
            ("recordings_dir", recordings_dir),
            ("recording_threads", recording_threads),
            ("recording_sweep_seconds", recording_sweep_seconds),
            ("stt_provider", stt_provider),
            ("stt_base_url", stt_base_url),
            ("stt_model", stt_model),
            ("stt_language", stt_language),
            ("stt_api_key_file", stt_api_key_file),
            ("stt_timeout_ms", stt_timeout_ms),
            ("stt_workers", stt_workers),
            ("stt_mode", stt_mode),
            ("llm_provider", llm_provider),
            ("llm_base_url", llm_base_url),
            ("llm_model", llm_model),
            ("llm_api_key_file", llm_api_key_file),
            ("llm_api_key_header", llm_api_key_header),
            ("llm_max_tokens", llm_max_tokens),
            ("llm_temperature", llm_temperature),
            ("llm_max_history", llm_max_history),
            ("llm_timeout_ms", llm_timeout_ms),
            ("tts_provider", tts_provider),
            ("tts_base_url", tts_base_url),
            ("tts_model", tts_model),
            ("tts_voice", tts_voice),
            ("tts_api_key_file", tts_api_key_file),
            ("tts_timeout_ms", tts_timeout_ms),
            ("tts_mode", tts_mode),
            ("tts_language", tts_language),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect()
    }
}
