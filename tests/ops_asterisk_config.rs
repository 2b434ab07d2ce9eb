//! The Asterisk configs in `asterisk-config/` hold up their end of the contract with
//! the daemon as built: the Stasis app name, its arguments, the ARI user and HTTP
//! bind, the RTP port ranges, the trunk's codecs and context, the modules, and the
//! dialplan paths (a failed Stasis plays a sound and hangs up; the daemon's `continue`
//! label exists). The daemon's defaults come from the built binary (`check-config`),
//! the dialplan is run by a small interpreter of the applications it uses, and every
//! `<PLACEHOLDER>` must be upper case and explained in docs/operating.md.

use std::collections::HashMap;

use crate::support::ops::{
    Dialect, Section, daemon_defaults, is_upper_placeholder, parse_ini, placeholders,
    read_repo_file, repo_file, sections,
};
use crate::support::skip;

/// The label the daemon may `continue` a call to when it shuts down gracefully.
const CONTINUE_LABEL: &str = "unavailable";
/// Stock Asterisk core sounds fit to tell a caller the service is down.
const UNAVAILABLE_SOUNDS: &[&str] = &["ss-noservice", "an-error-has-occurred"];

fn conf(name: &str) -> Vec<Section> {
    parse_ini(
        &read_repo_file(&format!("asterisk-config/{name}")),
        Dialect::Asterisk,
    )
}

fn one<'a>(all: &'a [Section], name: &str) -> &'a Section {
    let found = sections(all, name);
    assert_eq!(found.len(), 1, "exactly one [{name}]");
    found[0]
}

/// The section called `name` whose `type` is `kind` (pjsip reuses names across types).
fn typed<'a>(all: &'a [Section], name: &str, kind: &str) -> &'a Section {
    all.iter()
        .find(|s| s.name == name && s.get("type") == Some(kind))
        .unwrap_or_else(|| panic!("no [{name}] with type={kind}"))
}

/// A shared Asterisk file recorded with the real PBX, if `shared/` is beside the repo.
fn shared_asterisk(rel: &str) -> Option<String> {
    std::fs::read_to_string(repo_file("../shared/asterisk").join(rel)).ok()
}

// --- A tiny dialplan interpreter --------------------------------------------------------

/// One priority of an extension.
#[derive(Debug, Clone)]
struct Step {
    label: Option<String>,
    app: String,
    args: String,
}

/// Splits on commas outside parentheses and brackets.
fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    for c in s.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.push(current);
    out
}

/// `App(args)` and an optional `n(label)` priority into a step.
fn step(priority: &str, call: &str) -> Step {
    let label = priority
        .split_once('(')
        .map(|(_, l)| l.trim_end_matches(')').to_string());
    let (app, args) = match call.split_once('(') {
        Some((app, rest)) => (
            app.trim().to_string(),
            rest.strip_suffix(')')
                .unwrap_or_else(|| panic!("unclosed application call {call:?}"))
                .to_string(),
        ),
        None => (call.trim().to_string(), String::new()),
    };
    Step { label, app, args }
}

/// The extensions of a context, by pattern, each as its list of priorities.
fn extensions(context: &Section) -> Vec<(String, Vec<Step>)> {
    let mut exts: Vec<(String, Vec<Step>)> = Vec::new();
    for (key, value) in &context.entries {
        match key.as_str() {
            "exten" => {
                let mut parts = value.splitn(3, ',');
                let pattern = parts.next().unwrap().trim().to_string();
                let priority = parts.next().expect("priority").trim();
                let call = parts.next().expect("application").trim();
                assert_eq!(
                    priority.split('(').next(),
                    Some("1"),
                    "{pattern} starts at 1"
                );
                exts.push((pattern, vec![step(priority, call)]));
            }
            "same" => {
                let (priority, call) = value.split_once(',').expect("same => n,App()");
                let (_, steps) = exts.last_mut().expect("`same` after an `exten`");
                steps.push(step(priority.trim(), call.trim()));
            }
            _ => {}
        }
    }
    exts
}

/// Expands `${NAME}` from `vars`.
fn expand(s: &str, vars: &HashMap<&str, String>) -> String {
    let mut out = s.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    out
}

/// Evaluates `$["A" = "B"]` / `$["A" != "B"]` after expansion.
fn condition(expr: &str, vars: &HashMap<&str, String>) -> bool {
    let e = expand(expr, vars);
    let inner = e
        .trim()
        .strip_prefix("$[")
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or_else(|| panic!("unsupported expression {expr:?}"));
    let (a, op, b) = if let Some((a, b)) = inner.split_once("!=") {
        (a, "!=", b)
    } else if let Some((a, b)) = inner.split_once('=') {
        (a, "=", b)
    } else {
        panic!("unsupported expression {expr:?}")
    };
    let (a, b) = (a.trim().trim_matches('"'), b.trim().trim_matches('"'));
    if op == "=" { a == b } else { a != b }
}

/// What the caller goes through from priority index `start`, when Stasis() returns
/// with `stasis_status`: the applications run, as `App(expanded args)`.
fn run(steps: &[Step], start: usize, exten: &str, stasis_status: &str) -> Vec<String> {
    let mut vars: HashMap<&str, String> = HashMap::new();
    vars.insert("EXTEN", exten.to_string());
    vars.insert("CALLERID(num)", "+919800000001".to_string());
    let jump = |label: &str| {
        steps
            .iter()
            .position(|s| s.label.as_deref() == Some(label))
            .unwrap_or_else(|| panic!("no label {label:?}"))
    };
    let mut trace = Vec::new();
    let mut at = start;
    for _ in 0..100 {
        let Some(s) = steps.get(at) else {
            trace.push("(fell off the end of the extension)".to_string());
            return trace;
        };
        trace.push(format!("{}({})", s.app, expand(&s.args, &vars)));
        at += 1;
        match s.app.as_str() {
            "Stasis" => {
                vars.insert("STASISSTATUS", stasis_status.to_string());
            }
            "GotoIf" => {
                let (cond, targets) = s.args.split_once('?').expect("GotoIf(cond?a:b)");
                let (yes, no) = targets.split_once(':').unwrap_or((targets, ""));
                let target = if condition(cond, &vars) { yes } else { no };
                if !target.is_empty() {
                    at = jump(target);
                }
            }
            "Goto" => at = jump(&s.args),
            "Hangup" => return trace,
            _ => {}
        }
    }
    panic!("dialplan loops: {trace:?}")
}

/// Problems with the failure paths of one extension, empty when it is right.
fn dialplan_problems(pattern: &str, steps: &[Step], app_name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let exten = if pattern.starts_with("_+") {
        "+918000000000"
    } else {
        "918000000000"
    };
    let stasis: Vec<&Step> = steps.iter().filter(|s| s.app == "Stasis").collect();
    if stasis.len() != 1 {
        problems.push(format!("{pattern}: {} Stasis() calls", stasis.len()));
        return problems;
    }
    let args = split_args(&stasis[0].args);
    let want = [app_name, "${EXTEN}", "${CALLERID(num)}"];
    if args != want {
        problems.push(format!("{pattern}: Stasis({:?}), want {want:?}", args));
    }
    let plays_then_hangs_up = |trace: &[String]| {
        let play = trace.iter().position(|t| {
            UNAVAILABLE_SOUNDS
                .iter()
                .any(|snd| t.starts_with(&format!("Playback({snd}")))
        });
        let answered = trace
            .iter()
            .position(|t| t.starts_with("Answer(") || t.starts_with("Progress("));
        matches!((answered, play), (Some(a), Some(p)) if a < p)
            && trace.last().is_some_and(|t| t.starts_with("Hangup("))
    };
    let failed = run(steps, 0, exten, "FAILED");
    if !plays_then_hangs_up(&failed) {
        problems.push(format!(
            "{pattern}: app not connected, the caller gets {failed:?}"
        ));
    }
    let ended = run(steps, 0, exten, "SUCCESS");
    let after_stasis = &ended[ended.iter().position(|t| t.starts_with("Stasis(")).unwrap()..];
    if after_stasis.iter().any(|t| t.starts_with("Playback("))
        || !ended.last().is_some_and(|t| t.starts_with("Hangup("))
    {
        problems.push(format!("{pattern}: app ended the call, then {ended:?}"));
    }
    match steps
        .iter()
        .position(|s| s.label.as_deref() == Some(CONTINUE_LABEL))
    {
        Some(at) => {
            let continued = run(steps, at, exten, "SUCCESS");
            if !plays_then_hangs_up(&continued) {
                problems.push(format!(
                    "{pattern}: continue?label={CONTINUE_LABEL} gives {continued:?}"
                ));
            }
        }
        None => problems.push(format!("{pattern}: no label {CONTINUE_LABEL:?}")),
    }
    problems
}

#[test]
fn inbound_calls_go_to_the_daemons_stasis_app_with_did_and_caller() {
    let defaults = daemon_defaults();
    let app = defaults.get("VCA_ARI_APP").expect("default VCA_ARI_APP");
    let all = conf("extensions.conf");
    let context = one(&all, "from-tata-trunk");
    let exts = extensions(context);
    let patterns: Vec<&str> = exts.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(patterns, ["_X.", "_+X."], "DIDs with and without +");
    let problems: Vec<String> = exts
        .iter()
        .flat_map(|(p, steps)| dialplan_problems(p, steps, app))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn dialplan_check_rejects_dead_air() {
    // The recording PBX's dialplan (no args, no announcement) must fail the check.
    let recorded = match shared_asterisk("configs/extensions.conf") {
        Some(text) => text,
        None => "[from-tata-trunk]\nexten => _X.,1,Stasis(vca-bridge)\n same => n,Hangup()\n"
            .to_string(),
    };
    let all = parse_ini(&recorded, Dialect::Asterisk);
    let exts = extensions(one(&all, "from-tata-trunk"));
    for (pattern, steps) in &exts {
        let problems = dialplan_problems(pattern, steps, "vca-bridge");
        assert!(
            problems.iter().any(|p| p.contains("app not connected")),
            "{pattern}: {problems:?}"
        );
        assert!(problems.iter().any(|p| p.contains("want")), "{problems:?}");
    }
}

/// `host:port` of an http URL as `check-config` shows it.
fn host_port(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

#[test]
fn ari_user_and_http_bind_match_the_daemon() {
    let defaults = daemon_defaults();
    let ari_url = defaults.get("VCA_ARI_URL").expect("default VCA_ARI_URL");
    let http = conf("http.conf");
    let general = one(&http, "general");
    assert_eq!(general.get("enabled"), Some("yes"));
    let bind = format!(
        "{}:{}",
        general.get("bindaddr").expect("bindaddr"),
        general.get("bindport").expect("bindport")
    );
    assert_eq!(
        bind,
        host_port(ari_url),
        "http.conf vs the daemon's ARI URL"
    );
    assert!(
        bind.starts_with("127.0.0.1:"),
        "ARI stays on loopback: {bind}"
    );

    let ari = conf("ari.conf");
    assert_eq!(one(&ari, "general").get("enabled"), Some("yes"));
    let users: Vec<&Section> = ari
        .iter()
        .filter(|s| s.get("type") == Some("user"))
        .collect();
    assert_eq!(users.len(), 1, "one ARI user");
    let user = users[0];
    assert_eq!(user.name, "vca");
    assert_eq!(user.get("password_format"), Some("plain"));
    assert_eq!(
        user.get("read_only"),
        Some("no"),
        "the daemon controls calls"
    );
    assert_eq!(user.get("password"), Some("<ARI_PASSWORD>"));
    // The daemon's examples log in as that user.
    let config_example = read_repo_file("systemd/config.toml.example");
    assert!(
        config_example
            .lines()
            .any(|l| l.trim() == format!("ari_username = \"{}\"", user.name)),
        "config.toml.example ari_username"
    );
    assert!(
        read_repo_file("systemd/env.example")
            .lines()
            .any(|l| l.trim() == format!("#VCA_ARI_USERNAME={}", user.name))
    );
}

/// `FIRST-LAST` into numbers.
fn range(s: &str) -> (u32, u32) {
    let (a, b) = s.split_once('-').expect("FIRST-LAST");
    (a.trim().parse().unwrap(), b.trim().parse().unwrap())
}

#[test]
fn asterisk_rtp_ports_do_not_overlap_the_daemons() {
    let defaults = daemon_defaults();
    let (d_first, d_last) = range(defaults.get("VCA_RTP_PORT_RANGE").expect("default range"));
    let rtp = conf("rtp.conf");
    let general = one(&rtp, "general");
    let start: u32 = general.get("rtpstart").unwrap().parse().unwrap();
    let end: u32 = general.get("rtpend").unwrap().parse().unwrap();
    assert!(start < end, "rtpstart {start} below rtpend {end}");
    assert!(
        end < d_first || start > d_last,
        "Asterisk {start}-{end} overlaps the daemon's {d_first}-{d_last}"
    );
    assert_eq!(general.get("strictrtp"), Some("yes"));
    let probation = general.get("probation").expect("probation");
    if let Some(recorded) = shared_asterisk("configs/rtp.conf") {
        let rec = parse_ini(&recorded, Dialect::Asterisk);
        assert_eq!(
            Some(probation),
            one(&rec, "general").get("probation"),
            "probation as recorded"
        );
    }
}

#[test]
fn tata_trunk_offers_alaw_first_into_the_right_context() {
    let defaults = daemon_defaults();
    let media = defaults.get("VCA_MEDIA_FORMAT").expect("default format");
    let pjsip = conf("pjsip.conf");
    let endpoint = typed(&pjsip, "tata-trunk", "endpoint");
    assert_eq!(endpoint.get("context"), Some("from-tata-trunk"));
    let dialplan = conf("extensions.conf");
    assert_eq!(sections(&dialplan, "from-tata-trunk").len(), 1);
    assert_eq!(endpoint.all("disallow"), ["all"]);
    let allowed: Vec<&str> = endpoint
        .all("allow")
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    assert_eq!(allowed, ["alaw", "ulaw"]);
    assert_eq!(allowed[0], media, "first codec = the daemon's media format");
    for (key, want) in [
        ("direct_media", "no"),
        ("rtp_symmetric", "yes"),
        ("force_rport", "yes"),
        ("rewrite_contact", "yes"),
        ("dtmf_mode", "rfc4733"),
    ] {
        assert_eq!(endpoint.get(key), Some(want), "endpoint {key}");
    }
    let aor_name = endpoint.get("aors").expect("aors");
    let aor = typed(&pjsip, aor_name, "aor");
    assert_eq!(aor.get("contact"), Some("sip:<TATA_SIP_HOST>:5060"));
    let identify = pjsip
        .iter()
        .find(|s| s.get("type") == Some("identify"))
        .expect("an identify section");
    assert_eq!(identify.get("endpoint"), Some("tata-trunk"));
    assert!(identify.get("match").is_some_and(is_upper_placeholder));
    let transport = typed(
        &pjsip,
        endpoint.get("transport").expect("transport"),
        "transport",
    );
    assert_eq!(transport.get("protocol"), Some("udp"));
    assert!(transport.get("bind").is_some_and(|b| b.ends_with(":5060")));
}

#[test]
fn placeholders_are_upper_case_and_documented() {
    let docs = std::fs::read_to_string(repo_file("docs/operating.md")).unwrap_or_default();
    let mut files: Vec<String> = std::fs::read_dir(repo_file("asterisk-config"))
        .unwrap()
        .map(|e| {
            format!(
                "asterisk-config/{}",
                e.unwrap().file_name().to_string_lossy()
            )
        })
        .collect();
    files.sort();
    files.push("systemd/env.example".into());
    files.push("systemd/config.toml.example".into());
    let mut seen = Vec::new();
    for file in &files {
        let text = read_repo_file(file);
        for p in placeholders(&text) {
            assert!(is_upper_placeholder(&p), "{file}: {p} is not <UPPER_CASE>");
            assert!(
                docs.contains(&p),
                "{file}: {p} is not explained in docs/operating.md"
            );
            seen.push(p);
        }
    }
    for needed in ["<TATA_SIP_HOST>", "<TATA_SIGNALLING_IPS>", "<ARI_PASSWORD>"] {
        assert!(seen.iter().any(|p| p == needed), "{needed} missing");
    }
}

#[test]
fn modules_the_daemon_needs_are_required_and_were_running() {
    let all = conf("modules.conf");
    let modules = one(&all, "modules");
    assert_eq!(modules.get("autoload"), Some("yes"));
    let required = modules.all("require");
    let noload = modules.all("noload");
    for needed in [
        "res_ari.so",
        "res_ari_channels.so",
        "res_ari_bridges.so",
        "res_ari_events.so",
        "res_stasis.so",
        "res_http_websocket.so",
        "app_stasis.so",
        "chan_rtp.so",
        "res_rtp_asterisk.so",
        "res_pjsip.so",
        "chan_pjsip.so",
        "res_pjsip_endpoint_identifier_ip.so",
        "codec_alaw.so",
        "codec_ulaw.so",
        "bridge_simple.so",
        "bridge_softmix.so",
        "app_playback.so",
        "pbx_config.so",
    ] {
        assert!(
            required.contains(&needed),
            "modules.conf does not require {needed}"
        );
    }
    for module in &required {
        assert!(
            !noload.contains(module),
            "{module} both required and noload"
        );
    }
    let Some(loaded) = skip::require(
        shared_asterisk("loaded-modules.txt"),
        "shared/asterisk/loaded-modules.txt is not beside the repository",
        "the recordings of the real PBX",
    ) else {
        return;
    };
    let running: Vec<&str> = loaded
        .lines()
        .filter(|l| l.contains(" Running "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for module in required {
        let pjsip = module.starts_with("res_pjsip")
            || module == "chan_pjsip.so"
            || module == "res_pjproject.so";
        if !pjsip {
            assert!(
                running.contains(&module),
                "{module} was not running on the recording PBX: misspelt?"
            );
        }
    }
}

#[test]
fn asterisk_transmits_silence() {
    let all = conf("asterisk.conf");
    assert_eq!(one(&all, "options").get("transmit_silence"), Some("yes"));
    assert!(
        sections(&all, "directories").is_empty(),
        "a snippet to merge must not override the operator's [directories]"
    );
}
