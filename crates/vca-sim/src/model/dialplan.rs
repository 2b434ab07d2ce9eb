//! The dialplan of the recordings' `extensions.conf`, as far as the simulator needs it:
//! which context/extension/priority exists (`DIALPLAN_EXISTS`, `VALID_EXTEN`, FINDINGS 33),
//! Asterisk's extension patterns (`_X.`, `_+X.`), and what the `humans` transfer targets do
//! when a caller is continued into them (FINDINGS 29-32). Sans-IO: plain data and lookups.

/// What the dialplan does with a caller continued into an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// `NoOp`, `Dial(endpoint,timeout)`, `NoOp(DIALSTATUS=…)`, `Hangup()` (humans,100).
    Dial { endpoint: String, timeout_s: u64 },
    /// `NoOp`, `Playback(custom/vca-agent-speech)`, `Hangup()` (humans,queue).
    Playback { sound: String },
    /// `NoOp(Stasis returned …)`, `Hangup()` (from-tata-trunk after Stasis).
    AfterStasis,
    /// Exists (DIALPLAN_EXISTS says 1) but the simulator does not run it: the caller is
    /// hung up as after a `Hangup()`.
    Other,
}

/// One extension: its pattern or name, how many priorities it has, and what it does.
#[derive(Debug, Clone)]
pub(crate) struct Extension {
    pub(crate) context: String,
    pub(crate) exten: String,
    pub(crate) priorities: i64,
    /// Application name and data of each priority (index 0 = priority 1).
    pub(crate) apps: Vec<(String, String)>,
    /// Priority labels (`same => n(label),…`).
    pub(crate) labels: Vec<(String, i64)>,
    pub(crate) target: Target,
}

fn ext(context: &str, exten: &str, apps: &[(&str, &str)], target: Target) -> Extension {
    Extension {
        context: context.to_owned(),
        exten: exten.to_owned(),
        priorities: apps.len() as i64,
        apps: apps
            .iter()
            .map(|(a, d)| ((*a).to_owned(), (*d).to_owned()))
            .collect(),
        labels: Vec::new(),
        target,
    }
}

/// The simulated dialplan.
#[derive(Debug, Clone)]
pub struct DialplanConfig {
    pub(crate) extensions: Vec<Extension>,
}

impl Default for DialplanConfig {
    /// The contexts of `shared/asterisk/configs/extensions.conf`.
    fn default() -> Self {
        let noop = ("NoOp", "");
        let humans = ("NoOp", "humans ${EXTEN} for ${CALLERID(num)} on ${CHANNEL}");
        // The recorded trunk context (priorities 1-4), plus the `unavailable` label of the
        // daemon's shipped asterisk-config/extensions.conf (5-8), where a draining daemon
        // sends new calls.
        let trunk = [
            ("NoOp", "inbound ${EXTEN} from ${CALLERID(num)}"),
            ("Stasis", "vca-bridge"),
            ("NoOp", "Stasis returned STASISSTATUS=${STASISSTATUS}"),
            ("Hangup", ""),
            (
                "NoOp",
                "vca-bridge unavailable: STASISSTATUS=${STASISSTATUS}",
            ),
            ("Answer", ""),
            ("Playback", "ss-noservice"),
            ("Hangup", ""),
        ];
        let with_label = |mut e: Extension| {
            e.labels.push(("unavailable".to_owned(), 5));
            e
        };
        let mut extensions = vec![
            with_label(ext("from-tata-trunk", "_X.", &trunk, Target::AfterStasis)),
            with_label(ext("from-tata-trunk", "_+X.", &trunk, Target::AfterStasis)),
            ext(
                "humans",
                "100",
                &[
                    humans,
                    ("Dial", "Local/100@agent-sim,20"),
                    ("NoOp", "DIALSTATUS=${DIALSTATUS}"),
                    ("Hangup", ""),
                ],
                Target::Dial {
                    endpoint: "Local/100@agent-sim".to_owned(),
                    timeout_s: 20,
                },
            ),
            ext(
                "humans",
                "queue",
                &[
                    humans,
                    ("Playback", "custom/vca-agent-speech"),
                    ("Hangup", ""),
                ],
                Target::Playback {
                    sound: "custom/vca-agent-speech".to_owned(),
                },
            ),
        ];
        let agent_100 = [
            noop,
            ("Answer", ""),
            ("MixMonitor", ""),
            ("Playback", "custom/vca-agent-speech"),
            ("Wait", "20"),
            ("Hangup", ""),
        ];
        let mut short = agent_100;
        short[4] = ("Wait", "2");
        for (exten, apps) in [
            ("100", &agent_100[..]),
            ("short", &short[..]),
            ("busy", &[noop, ("Busy", "5")][..]),
            (
                "noanswer",
                &[noop, ("Ringing", ""), ("Wait", "60"), ("Hangup", "")][..],
            ),
            ("congestion", &[noop, ("Congestion", "5")][..]),
            (
                "ring3",
                &[
                    noop,
                    ("Ringing", ""),
                    ("Wait", "3"),
                    ("Goto", "agent-sim,100,1"),
                ][..],
            ),
        ] {
            extensions.push(ext("agent-sim", exten, apps, Target::Other));
        }
        let caller = [
            ("s", 8),
            ("long", 8),
            ("rtp", 7),
            ("dtmf", 8),
            ("press0", 7),
            ("keys", 6),
            ("hangup6", 7),
            ("hindi", 6),
            ("press0media", 8),
            ("media60", 6),
        ];
        for (exten, n) in caller {
            let apps = vec![noop; n];
            extensions.push(ext("caller-sim", exten, &apps, Target::Other));
        }
        extensions.push(ext(
            "hold-sim",
            "s",
            &[("Answer", ""), ("Wait", "30"), ("Hangup", "")],
            Target::Other,
        ));
        extensions.push(ext(
            "caller-sim-rec",
            "s",
            &[
                noop,
                ("Answer", ""),
                ("MixMonitor", ""),
                ("Record", ""),
                ("Hangup", ""),
            ],
            Target::Other,
        ));
        DialplanConfig { extensions }
    }
}

impl DialplanConfig {
    /// Adds (or replaces) an extension whose priority 2 is `Dial(endpoint,timeout)`, like
    /// `humans,100`: a transfer target of a test's own.
    pub fn add_dial_target(
        &mut self,
        context: impl Into<String>,
        exten: impl Into<String>,
        endpoint: impl Into<String>,
        timeout_s: u64,
    ) {
        let (context, exten, endpoint) = (context.into(), exten.into(), endpoint.into());
        self.extensions
            .retain(|e| !(e.context == context && e.exten == exten));
        let data = format!("{endpoint},{timeout_s}");
        self.extensions.push(ext(
            &context,
            &exten,
            &[
                ("NoOp", "humans ${EXTEN} for ${CALLERID(num)} on ${CHANNEL}"),
                ("Dial", &data),
                ("NoOp", "DIALSTATUS=${DIALSTATUS}"),
                ("Hangup", ""),
            ],
            Target::Dial {
                endpoint,
                timeout_s,
            },
        ));
    }

    /// Whether the context exists.
    pub(crate) fn has_context(&self, context: &str) -> bool {
        self.extensions.iter().any(|e| e.context == context)
    }

    /// The extension `exten` of `context` matches, literal names before patterns.
    pub(crate) fn find(&self, context: &str, exten: &str) -> Option<&Extension> {
        let in_ctx = || self.extensions.iter().filter(|e| e.context == context);
        in_ctx()
            .find(|e| e.exten == exten)
            .or_else(|| in_ctx().find(|e| pattern_matches(&e.exten, exten)))
    }

    /// The priority of `label` in `context,exten`.
    pub(crate) fn label(&self, context: &str, exten: &str, label: &str) -> Option<i64> {
        let e = self.find(context, exten)?;
        e.labels.iter().find(|(l, _)| l == label).map(|(_, p)| *p)
    }

    /// `DIALPLAN_EXISTS(context[,exten[,priority]])`.
    pub(crate) fn exists(&self, context: &str, exten: Option<&str>, priority: i64) -> bool {
        match exten {
            None => self.has_context(context),
            Some(x) => self
                .find(context, x)
                .is_some_and(|e| priority >= 1 && priority <= e.priorities),
        }
    }
}

/// Asterisk's extension patterns: `_` prefix, `X` 0-9, `Z` 1-9, `N` 2-9, `[..]` sets,
/// `.` one or more, `!` zero or more; anything else literal.
pub(crate) fn pattern_matches(pattern: &str, exten: &str) -> bool {
    let Some(p) = pattern.strip_prefix('_') else {
        return pattern == exten;
    };
    fn go(p: &[char], s: &[char]) -> bool {
        let Some((&c, rest)) = p.split_first() else {
            return s.is_empty();
        };
        match c {
            '.' => !s.is_empty(),
            '!' => true,
            '[' => {
                let Some(end) = rest.iter().position(|&x| x == ']') else {
                    return false;
                };
                let set = &rest[..end];
                let Some((&first, tail)) = s.split_first() else {
                    return false;
                };
                let mut ok = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == '-' {
                        ok |= set[i] <= first && first <= set[i + 2];
                        i += 3;
                    } else {
                        ok |= set[i] == first;
                        i += 1;
                    }
                }
                ok && go(&rest[end + 1..], tail)
            }
            _ => {
                let Some((&first, tail)) = s.split_first() else {
                    return false;
                };
                let ok = match c.to_ascii_uppercase() {
                    'X' => first.is_ascii_digit(),
                    'Z' => ('1'..='9').contains(&first),
                    'N' => ('2'..='9').contains(&first),
                    _ => c == first,
                };
                ok && go(rest, tail)
            }
        }
    }
    let p: Vec<char> = p.chars().collect();
    let s: Vec<char> = exten.chars().collect();
    go(&p, &s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_dialplan_exists_answers() {
        let d = DialplanConfig::default();
        assert!(d.exists("humans", Some("100"), 1));
        assert!(d.exists("humans", Some("queue"), 1));
        assert!(!d.exists("humans", Some("999"), 1));
        assert!(!d.exists("humans", Some("100"), 99));
        assert!(!d.exists("nosuchcontext", Some("100"), 1));
        assert!(d.exists("humans", None, 1));
        assert!(!d.exists("nosuchcontext", None, 1));
        assert!(d.exists("from-tata-trunk", Some("+15559876543"), 1));
        assert!(d.exists("agent-sim", Some("busy"), 1));
    }

    #[test]
    fn patterns() {
        assert!(pattern_matches("_X.", "15559876543"));
        assert!(!pattern_matches("_X.", "+1555"));
        assert!(pattern_matches("_+X.", "+15559876543"));
        assert!(!pattern_matches("_X.", "1"));
        assert!(pattern_matches("_[1-3]XX", "250"));
        assert!(!pattern_matches("_NXX", "150"));
    }
}
