//! The systemd files in `systemd/`: the unit passes `systemd-analyze verify`, scores
//! 2.0 or better in `systemd-analyze security --offline=true`, keeps the contract
//! with the daemon (Type=notify, watchdog, stop timeout above the 60 s drain, env and
//! config paths); sysusers.d/tmpfiles.d create the user and private directories; and
//! `env.example` / `config.toml.example` cover every setting of the built binary with
//! values it accepts.
//!
//! The systemd tools come from the Debian package `systemd` (no running systemd
//! needed). Where a tool is absent the test skips (`support::skip`; a failure in CI).

use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::ops::{
    BINARY, Dialect, Section, TempDir, check_config, minimal_env, parse_ini, path_string,
    placeholders, read_repo_file, repo_file, sections, settings_in_help,
};
use crate::support::skip;

const UNIT: &str = "systemd/vca-bridge.service";
const INSTALLED_EXEC: &str = "ExecStart=/usr/local/bin/vca-bridge ";
/// The daemon's graceful drain on SIGTERM (issue 6).
const DAEMON_DRAIN_SECS: u64 = 60;

/// A copy of the unit in `dir` whose ExecStart runs the binary built for this test:
/// `verify` checks that the ExecStart program exists, and /usr/local/bin/vca-bridge is
/// not installed on a build machine. Everything else is byte for byte the shipped unit.
fn unit_copy(dir: &TempDir, text: &str) -> PathBuf {
    assert!(
        text.contains(INSTALLED_EXEC),
        "the unit must start {INSTALLED_EXEC}..."
    );
    let rewritten = text.replace(INSTALLED_EXEC, &format!("ExecStart={BINARY} "));
    let path = dir.join("vca-bridge.service");
    std::fs::write(&path, rewritten).unwrap();
    path
}

/// `systemd-analyze ARGS`, without colour or pager; (success, stdout, stderr).
fn systemd_analyze(tool: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(tool)
        .args(args)
        .env("SYSTEMD_COLORS", "0")
        .env("SYSTEMD_PAGER", "")
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .expect("run systemd-analyze");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The complaints `systemd-analyze verify` has about one unit file (it exits 0 on
/// mere warnings such as unknown keys, so its output must be read).
fn verify_complaints(tool: &Path, unit: &Path) -> Vec<String> {
    let unit_str = path_string(unit);
    let (ok, stdout, stderr) = systemd_analyze(tool, &["verify", "--man=no", &unit_str]);
    let mut complaints: Vec<String> = stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| l.contains("vca-bridge"))
        .map(str::to_string)
        .collect();
    if !ok {
        complaints.push(format!("exit status failure: {stderr}"));
    }
    complaints
}

#[test]
fn unit_passes_systemd_analyze_verify() {
    let Some(tool) = skip::tool("systemd-analyze", "Debian package: systemd") else {
        return;
    };
    let dir = TempDir::new("verify");
    let unit = unit_copy(&dir, &read_repo_file(UNIT));
    let complaints = verify_complaints(&tool, &unit);
    assert!(complaints.is_empty(), "verify complained: {complaints:#?}");
}

#[test]
fn verify_check_catches_a_broken_unit() {
    let Some(tool) = skip::tool("systemd-analyze", "Debian package: systemd") else {
        return;
    };
    let dir = TempDir::new("verify-broken");
    let broken = read_repo_file(UNIT).replace("NotifyAccess=main", "NotifyAcess=main");
    let unit = unit_copy(&dir, &broken);
    let complaints = verify_complaints(&tool, &unit);
    assert!(
        complaints.iter().any(|c| c.contains("NotifyAcess")),
        "a misspelt key went unnoticed: {complaints:#?}"
    );
}

/// The overall exposure from `systemd-analyze security` output.
fn exposure_score(output: &str) -> Option<f64> {
    let line = output
        .lines()
        .find(|l| l.contains("Overall exposure level for"))?;
    let after = line.split_once(": ")?.1;
    after.split_whitespace().next()?.parse().ok()
}

#[test]
fn unit_security_exposure_is_at_most_2() {
    let Some(tool) = skip::tool("systemd-analyze", "Debian package: systemd") else {
        return;
    };
    let dir = TempDir::new("security");
    let unit = unit_copy(&dir, &read_repo_file(UNIT));
    let unit_str = path_string(&unit);
    let (_, stdout, stderr) = systemd_analyze(
        &tool,
        &["security", "--offline=true", "--no-pager", &unit_str],
    );
    let score = exposure_score(&stdout)
        .unwrap_or_else(|| panic!("no exposure score in:\n{stdout}\n{stderr}"));
    println!("systemd-analyze security --offline=true: exposure {score}");
    assert!(score <= 2.0, "exposure {score} is above 2.0:\n{stdout}");

    // The same tool scores a bare unit badly, so the number above means something.
    let bare = dir.join("bare.service");
    std::fs::write(
        &bare,
        format!("[Service]\nType=notify\nExecStart={BINARY} run\n"),
    )
    .unwrap();
    let (_, bare_out, _) = systemd_analyze(
        &tool,
        &[
            "security",
            "--offline=true",
            "--no-pager",
            &path_string(&bare),
        ],
    );
    let bare_score = exposure_score(&bare_out).expect("score of the bare unit");
    assert!(bare_score > 5.0, "bare unit scored {bare_score}");
}

fn unit_sections() -> Vec<Section> {
    parse_ini(&read_repo_file(UNIT), Dialect::Systemd)
}

fn service(all: &[Section]) -> Section {
    let found = sections(all, "Service");
    assert_eq!(found.len(), 1, "one [Service] section");
    found[0].clone()
}

/// Seconds of a systemd time span such as `90s`, `2min`, `1min 30s` or `75`.
fn seconds(span: &str) -> u64 {
    let mut total = 0;
    for part in span.split_whitespace() {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        let unit = &part[digits.len()..];
        let n: u64 = digits
            .parse()
            .unwrap_or_else(|_| panic!("time span {span:?}"));
        total += match unit {
            "" | "s" | "sec" => n,
            "min" | "m" => n * 60,
            "h" => n * 3600,
            other => panic!("unit {other:?} in {span:?}"),
        };
    }
    total
}

#[test]
fn unit_keeps_the_daemon_contract() {
    let all = unit_sections();
    let s = service(&all);
    assert_eq!(s.get("Type"), Some("notify"));
    assert_eq!(s.get("NotifyAccess"), Some("main"));
    let watchdog = seconds(s.get("WatchdogSec").expect("WatchdogSec"));
    assert!((10..=120).contains(&watchdog), "WatchdogSec {watchdog}");
    assert_eq!(s.get("Restart"), Some("on-failure"));
    let stop = seconds(s.get("TimeoutStopSec").expect("TimeoutStopSec"));
    assert!(
        stop > DAEMON_DRAIN_SECS,
        "TimeoutStopSec {stop}s must exceed the {DAEMON_DRAIN_SECS}s drain"
    );
    assert_eq!(
        s.get("KillMode"),
        Some("mixed"),
        "SIGTERM to the daemon only, so espeak-ng children of draining calls live on"
    );
    assert_eq!(s.get("EnvironmentFile"), Some("/etc/vca-bridge/env"));
    assert_eq!(
        s.get("ExecStart"),
        Some("/usr/local/bin/vca-bridge --config /etc/vca-bridge/config.toml run")
    );
    assert_eq!(s.get("User"), Some("vca-bridge"));
    assert_eq!(s.get("Group"), Some("vca-bridge"));
    assert_eq!(s.get("DynamicUser"), None);
    assert_eq!(
        s.get("ReadWritePaths"),
        None,
        "the daemon writes only its state directory"
    );
    assert_eq!(
        s.get("StateDirectory"),
        Some("vca-bridge"),
        "recordings go there"
    );
    assert_eq!(s.get("StateDirectoryMode"), Some("0750"));
    // The default recordings directory is inside the state directory.
    let env = std::collections::HashMap::from([(
        "VCA_DATABASE_URL".to_string(),
        "postgres://localhost/vca".to_string(),
    )]);
    let layers =
        vca_bridge::config::Layers::new(None, env, std::collections::HashMap::new()).unwrap();
    let (settings, _) =
        vca_bridge::config::Settings::load(&layers, vca_bridge::config::Needs::Database).unwrap();
    assert!(settings.recordings.dir.starts_with("/var/lib/vca-bridge"));
    assert_eq!(s.get("ProtectSystem"), Some("strict"));
    assert_eq!(
        s.get("RestrictAddressFamilies"),
        Some("AF_INET AF_INET6 AF_UNIX")
    );
    assert_eq!(s.get("CapabilityBoundingSet"), Some(""));
    assert_eq!(s.get("UMask"), Some("0077"));
    let filters = s.all("SystemCallFilter");
    assert!(filters.contains(&"@system-service"), "{filters:?}");
    assert!(filters.contains(&"~@privileged @resources"), "{filters:?}");

    // One UDP socket per call over the whole RTP range, plus connections.
    let nofile: usize = s.get("LimitNOFILE").expect("LimitNOFILE").parse().unwrap();
    let dir = TempDir::new("nofile");
    let run = check_config(&minimal_env(&dir), None);
    let range = &run
        .setting("VCA_RTP_PORT_RANGE")
        .expect("VCA_RTP_PORT_RANGE shown")
        .value;
    let (first, last) = range.split_once('-').expect("FIRST-LAST");
    let ports: usize = last.parse::<usize>().unwrap() - first.parse::<usize>().unwrap() + 1;
    assert!(
        nofile >= ports + 1024,
        "LimitNOFILE {nofile} < {ports} RTP ports + 1024"
    );

    let unit_section = &sections(&all, "Unit")[0];
    assert!(
        unit_section
            .get("After")
            .is_some_and(|a| a.contains("network-online.target"))
    );
    assert_eq!(
        sections(&all, "Install")[0].get("WantedBy"),
        Some("multi-user.target")
    );
}

#[test]
fn sysusers_and_tmpfiles_make_the_user_and_private_directories() {
    let (Some(sysusers), Some(tmpfiles)) = (
        skip::tool("systemd-sysusers", "Debian package: systemd"),
        skip::tool("systemd-tmpfiles", "Debian package: systemd"),
    ) else {
        return;
    };
    let is_root = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    if skip::require(
        is_root.then_some(()),
        "not root",
        "tmpfiles sets file owners",
    )
    .is_none()
    {
        return;
    }
    let root = TempDir::new("sysroot");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    let root_arg = format!("--root={}", path_string(&root.path));
    let sysusers_conf = path_string(&repo_file("systemd/sysusers.d/vca-bridge.conf"));
    let tmpfiles_conf = path_string(&repo_file("systemd/tmpfiles.d/vca-bridge.conf"));

    let out = Command::new(&sysusers)
        .args([&root_arg, &sysusers_conf])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    let user: Vec<&str> = passwd
        .lines()
        .find(|l| l.starts_with("vca-bridge:"))
        .expect("vca-bridge in passwd")
        .split(':')
        .collect();
    let gid: u32 = user[3].parse().unwrap();
    assert!(gid > 0 && gid < 1000, "a system group, got {gid}");
    assert_eq!(user[6], "/usr/sbin/nologin");
    let group = std::fs::read_to_string(root.join("etc/group")).unwrap();
    assert!(
        group
            .lines()
            .any(|l| l.starts_with(&format!("vca-bridge:x:{gid}:")))
    );

    let run_tmpfiles = || {
        let out = Command::new(&tmpfiles)
            .args(["--create", &root_arg, &tmpfiles_conf])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run_tmpfiles();
    for dir in ["etc/vca-bridge", "etc/vca-bridge/secrets"] {
        let meta = std::fs::metadata(root.join(dir)).unwrap();
        assert!(meta.is_dir(), "{dir}");
        assert_eq!(meta.permissions().mode() & 0o7777, 0o750, "{dir} mode");
        assert_eq!((meta.uid(), meta.gid()), (0, gid), "{dir} owner");
    }
    // A secret written carelessly is made private at the next tmpfiles run (boot).
    let secret = root.join("etc/vca-bridge/secrets/admin_token");
    std::fs::write(&secret, "x").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    run_tmpfiles();
    let meta = std::fs::metadata(&secret).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    assert_eq!((meta.uid(), meta.gid()), (0, gid));
}

/// `NAME=value` lines of env.example; with `commented`, also the `#NAME=value` ones.
fn env_lines(text: &str, commented: bool) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = match l.strip_prefix('#') {
                Some(rest) if commented && rest.starts_with("VCA_") => rest,
                Some(_) => return None,
                None => l,
            };
            let (k, v) = l.split_once('=')?;
            k.starts_with("VCA_")
                .then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Makes example values runnable here: secret paths point into `dir` (files written),
/// placeholders become a plain word.
fn runnable(lines: Vec<(String, String)>, dir: &TempDir) -> Vec<(String, String)> {
    lines
        .into_iter()
        .map(|(k, mut v)| {
            if let Some(name) = v.strip_prefix("/etc/vca-bridge/secrets/") {
                let path = dir.join(name);
                std::fs::write(&path, "ops-example-secret-0123456789\n").unwrap();
                v = path_string(&path);
            }
            for p in placeholders(&v) {
                v = v.replace(&p, "placeholder");
            }
            (k, v)
        })
        .collect()
}

#[test]
fn env_example_names_every_setting_of_the_binary() {
    let text = read_repo_file("systemd/env.example");
    let names = settings_in_help();
    assert!(names.len() >= 15, "settings from --help: {names:?}");
    for name in &names {
        let word = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|w| w == name);
        assert!(word, "systemd/env.example does not mention {name}");
    }
    for (k, v) in env_lines(&text, true) {
        if k.ends_with("_FILE") {
            assert!(
                v.starts_with("/etc/vca-bridge/secrets/"),
                "{k}={v}: secrets live in /etc/vca-bridge/secrets/"
            );
        }
    }
}

#[test]
fn examples_are_accepted_by_check_config() {
    let dir = TempDir::new("examples");
    let env = runnable(
        env_lines(&read_repo_file("systemd/env.example"), false),
        &dir,
    );
    let config = repo_file("systemd/config.toml.example");
    let run = check_config(&env, Some(&config));
    assert_ne!(
        run.status,
        Some(2),
        "a setting was rejected: {}",
        run.stderr
    );
    assert!(run.settings.len() >= 14, "{}", run.stdout);
    let defaulted: Vec<&str> = run
        .settings
        .iter()
        .filter(|s| s.source == "default")
        .map(|s| s.name.as_str())
        .collect();
    assert!(
        defaulted.is_empty(),
        "set in neither example file: {defaulted:?}"
    );
}

#[test]
fn example_values_are_the_defaults_they_claim_to_be() {
    let dir = TempDir::new("claimed");
    let required = minimal_env(&dir);
    let plain = check_config(&required, None);
    assert_ne!(plain.status, Some(2), "{}", plain.stderr);
    let defaults: HashMap<&str, &str> = plain
        .settings
        .iter()
        .filter(|s| s.source == "default")
        .map(|s| (s.name.as_str(), s.value.as_str()))
        .collect();
    assert!(defaults.contains_key("VCA_ARI_URL"), "{}", plain.stdout);

    // The commented `#VCA_...=` lines of env.example.
    let env_text = read_repo_file("systemd/env.example");
    let commented: Vec<(String, String)> = env_lines(&env_text, true)
        .into_iter()
        .filter(|(k, _)| env_text.contains(&format!("#{k}=")))
        .collect();
    for (k, v) in &commented {
        if let Some(d) = defaults.get(k.as_str()) {
            assert_eq!(v, d, "env.example shows {k}={v}, the default is {d}");
        }
    }
    let mut env: Vec<(String, String)> = required
        .iter()
        .filter(|(k, _)| !commented.iter().any(|(c, _)| c == k))
        .cloned()
        .collect();
    env.extend(runnable(commented, &dir));
    let run = check_config(&env, None);
    assert_ne!(
        run.status,
        Some(2),
        "commented values rejected: {}",
        run.stderr
    );

    // config.toml.example: every key but ari_username is at its default.
    let config = repo_file("systemd/config.toml.example");
    let run = check_config(&required, Some(&config));
    assert_ne!(run.status, Some(2), "{}", run.stderr);
    for s in run.settings.iter().filter(|s| s.source == "config file") {
        if let Some(d) = defaults.get(s.name.as_str()) {
            assert_eq!(
                &s.value, d,
                "config.toml.example {} is not the default",
                s.name
            );
        }
    }
}
