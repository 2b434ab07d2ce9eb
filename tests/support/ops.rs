//! What the operator-file tests (`ops_asterisk_config`, `ops_systemd`) share: paths into
//! the repository, private temp directories, a tiny INI
//! parser for systemd units and Asterisk `.conf` files, and running the built
//! `vca-bridge check-config` to learn which settings it knows and their defaults.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The built daemon binary.
pub const BINARY: &str = env!("CARGO_BIN_EXE_vca-bridge");

/// A file of the repository, by its path from the repository root.
pub fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The text of a repository file.
pub fn read_repo_file(rel: &str) -> String {
    std::fs::read_to_string(repo_file(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// A private directory under the system temp dir, removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("vca-ops-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// One `[section]` of an INI-like file, with its entries in file order.
#[derive(Debug, Clone)]
pub struct Section {
    /// The name between the brackets.
    pub name: String,
    /// `key = value` and `key => value` lines, trimmed, in order (keys may repeat).
    pub entries: Vec<(String, String)>,
}

impl Section {
    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The last value of `key` (later lines win, as in systemd and Asterisk).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.all(key).last().copied()
    }
}

/// Comment syntax of the file being parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// systemd: `#` or `;` at the start of a line only.
    Systemd,
    /// Asterisk: `;` anywhere starts a comment (`\;` is a literal semicolon).
    Asterisk,
}

/// Parses an INI-like file into sections; lines before any section are ignored.
pub fn parse_ini(text: &str, dialect: Dialect) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    for raw in text.lines() {
        let line = match dialect {
            Dialect::Systemd => {
                let t = raw.trim();
                if t.starts_with('#') || t.starts_with(';') {
                    ""
                } else {
                    t
                }
            }
            Dialect::Asterisk => strip_asterisk_comment(raw).trim(),
        };
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            // What follows the brackets (`(!)`, `(tata-template)`) is not needed.
            let (name, _) = rest.split_once(']').expect("section header closes");
            sections.push(Section {
                name: name.trim().to_string(),
                entries: Vec::new(),
            });
            continue;
        }
        let (key, value) = match (line.find("=>"), line.find('=')) {
            (Some(arrow), Some(eq)) if arrow <= eq => (&line[..arrow], &line[arrow + 2..]),
            (_, Some(eq)) => (&line[..eq], &line[eq + 1..]),
            _ => panic!("not a key/value line: {raw:?}"),
        };
        if let Some(section) = sections.last_mut() {
            section
                .entries
                .push((key.trim().to_string(), value.trim().to_string()));
        }
    }
    sections
}

/// The part of an Asterisk config line before its `;` comment.
fn strip_asterisk_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b';' && (i == 0 || bytes[i - 1] != b'\\') {
            return &line[..i];
        }
    }
    line
}

/// Every section called `name`.
pub fn sections<'a>(all: &'a [Section], name: &str) -> Vec<&'a Section> {
    all.iter().filter(|s| s.name == name).collect()
}

/// Every `<PLACEHOLDER>` in a text: `<` and `>` on one line around a word that starts
/// with a letter or digit (so `=>` and `<->` are not taken for placeholders).
pub fn placeholders(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let mut rest = line;
        while let Some(start) = rest.find('<') {
            let after = &rest[start + 1..];
            match after.find('>') {
                Some(end)
                    if after.starts_with(|c: char| c.is_ascii_alphanumeric())
                        && after[..end]
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_-. ".contains(c)) =>
                {
                    found.push(format!("<{}>", &after[..end]));
                    rest = &after[end + 1..];
                }
                _ => rest = after,
            }
        }
    }
    found
}

/// Whether a placeholder has the `<UPPER_CASE>` form operators are told to look for.
pub fn is_upper_placeholder(p: &str) -> bool {
    let Some(inner) = p.strip_prefix('<').and_then(|s| s.strip_suffix('>')) else {
        return false;
    };
    inner.starts_with(|c: char| c.is_ascii_uppercase())
        && inner
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// One line of the `Settings` block that `check-config` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownSetting {
    pub name: String,
    pub value: String,
    pub source: String,
}

/// What one `vca-bridge check-config` run printed.
#[derive(Debug)]
pub struct CheckConfigRun {
    /// Exit status: 0 all fine, 1 a dependency check failed, 2 a bad setting.
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub settings: Vec<ShownSetting>,
}

impl CheckConfigRun {
    pub fn setting(&self, name: &str) -> Option<&ShownSetting> {
        self.settings.iter().find(|s| s.name == name)
    }
}

/// Runs the built binary's `check-config` with exactly `env` (nothing inherited) and
/// an optional `--config` file. Settings with unreachable services fail the checks
/// (status 1) but are still all printed.
pub fn check_config(env: &[(String, String)], config: Option<&Path>) -> CheckConfigRun {
    let mut cmd = Command::new(BINARY);
    cmd.env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(path) = config {
        cmd.arg("--config").arg(path);
    }
    cmd.arg("check-config");
    let out = cmd.output().expect("run vca-bridge check-config");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let settings = parse_settings_block(&stdout);
    CheckConfigRun {
        status: out.status.code(),
        stdout,
        stderr,
        settings,
    }
}

/// Reads `  NAME  value  (source)` lines up to the `Checks` heading.
fn parse_settings_block(stdout: &str) -> Vec<ShownSetting> {
    let mut lines = stdout.lines();
    let mut shown = Vec::new();
    if !lines.any(|l| l.trim() == "Settings") {
        return shown;
    }
    for line in lines {
        let t = line.trim();
        if t == "Checks" {
            break;
        }
        if t.is_empty() {
            continue;
        }
        let Some(open) = t.rfind('(') else { continue };
        let source = t[open + 1..].trim_end_matches(')').to_string();
        let head = t[..open].trim();
        let (name, value) = head.split_once(char::is_whitespace).unwrap_or((head, ""));
        shown.push(ShownSetting {
            name: name.to_string(),
            value: value.trim().to_string(),
            source,
        });
    }
    shown
}

/// Settings every `check-config` run needs, with services on a closed loopback port
/// (connection refused at once) and secrets in files under `dir`.
pub fn minimal_env(dir: &TempDir) -> Vec<(String, String)> {
    let token = dir.join("admin_token");
    let password = dir.join("ari_password");
    std::fs::write(&token, "ops-test-admin-token-0123456789\n").unwrap();
    std::fs::write(&password, "ops-test-ari-password\n").unwrap();
    let stt_key = dir.join("stt_api_key");
    let llm_key = dir.join("llm_api_key");
    std::fs::write(&stt_key, "ops-test-stt-key\n").unwrap();
    std::fs::write(&llm_key, "ops-test-llm-key\n").unwrap();
    vec![
        ("VCA_STT_API_KEY_FILE".into(), path_string(&stt_key)),
        ("VCA_LLM_API_KEY_FILE".into(), path_string(&llm_key)),
        (
            "VCA_DATABASE_URL".into(),
            "postgres://ops:ops@127.0.0.1:1/ops".into(),
        ),
        ("VCA_REDIS_URL".into(), "redis://127.0.0.1:1".into()),
        ("VCA_ADMIN_TOKEN_FILE".into(), path_string(&token)),
        ("VCA_ARI_USERNAME".into(), "vca".into()),
        ("VCA_ARI_PASSWORD_FILE".into(), path_string(&password)),
    ]
}

/// The daemon's built-in defaults, as `check-config` reports them (`VCA_*` name → value).
pub fn daemon_defaults() -> HashMap<String, String> {
    let dir = TempDir::new("defaults");
    let run = check_config(&minimal_env(&dir), None);
    assert_ne!(
        run.status,
        Some(2),
        "minimal settings rejected: {}",
        run.stderr
    );
    assert!(
        !run.settings.is_empty(),
        "no settings printed: {}",
        run.stdout
    );
    run.settings
        .into_iter()
        .filter(|s| s.source == "default")
        .map(|s| (s.name, s.value))
        .collect()
}

/// Every `VCA_*` name the binary's `--help` mentions.
pub fn settings_in_help() -> Vec<String> {
    let out = Command::new(BINARY)
        .arg("--help")
        .env_clear()
        .output()
        .expect("run vca-bridge --help");
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut names: Vec<String> = Vec::new();
    let mut rest = help.as_str();
    while let Some(start) = rest.find("VCA_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        let name = tail[..end].to_string();
        if !names.contains(&name) {
            names.push(name);
        }
        rest = &tail[end..];
    }
    names
}

/// A path as an owned UTF-8 string (temp paths here always are).
pub fn path_string(p: &Path) -> String {
    p.to_str().expect("UTF-8 temp path").to_string()
}
