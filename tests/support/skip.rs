//! The one way a test skips: something it needs from the machine is missing (a tool such as
//! espeak-ng or systemd-analyze, the Whisper model, root, the recordings beside the
//! repository). Outside CI the test prints `SKIPPED <test>: <what> (<how to get it>)` on
//! stderr (shown with `--nocapture`) and returns. Under `CI` (set to anything but empty,
//! `0` or `false`), where scripts/test installs and fetches everything, the same absence
//! fails the test: a missing tool never passes as green.
//!
//! ```ignore
//! let Some(tool) = skip::tool("systemd-analyze", "Debian package: systemd") else {
//!     return;
//! };
//! let Some(dir) = skip::require(model, "no Whisper model", "scripts/fetch-whisper-model")
//! else {
//!     return;
//! };
//! ```

use std::ffi::OsStr;
use std::path::PathBuf;

/// What a test does when something it needs is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Say so and pass without running.
    Skip,
    /// Fail (in CI).
    Fail,
}

/// The decision for this value of the `CI` environment variable.
pub fn decide(ci: Option<&OsStr>) -> Missing {
    match ci {
        Some(v) if !(v.is_empty() || v == "0" || v == "false") => Missing::Fail,
        _ => Missing::Skip,
    }
}

/// `found` when it is there. When it is `None`, `what` is missing (`fix` says how to get
/// it): the test is skipped (`None`, with a `SKIPPED` line) or, under CI, fails.
pub fn require<T>(found: Option<T>, what: &str, fix: &str) -> Option<T> {
    require_under(std::env::var_os("CI").as_deref(), found, what, fix)
}

/// [`require`] with the value of `CI` given.
fn require_under<T>(ci: Option<&OsStr>, found: Option<T>, what: &str, fix: &str) -> Option<T> {
    if found.is_some() {
        return found;
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("this test");
    match decide(ci) {
        Missing::Skip => {
            eprintln!("SKIPPED {test}: {what} ({fix})");
            None
        }
        Missing::Fail => panic!("{what} ({fix}); in CI a test fails instead of skipping"),
    }
}

/// The full path of the program `name` (on `PATH`, or in `/usr/bin` or `/usr/sbin`); when
/// it is not installed ([`require`]) the test skips, or fails in CI. `install` says how to
/// get it.
pub fn tool(name: &str, install: &str) -> Option<PathBuf> {
    require(
        find_tool(name),
        &format!("{name} is not installed"),
        install,
    )
}

fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ci(value: &str) -> Option<&OsStr> {
        Some(OsStr::new(value))
    }

    #[test]
    fn without_ci_a_missing_tool_is_skipped() {
        for unset in [None, ci(""), ci("0"), ci("false")] {
            assert_eq!(decide(unset), Missing::Skip, "{unset:?}");
            assert_eq!(
                require_under(unset, None::<u8>, "x is missing", "get x"),
                None
            );
            assert_eq!(
                require_under(unset, Some(7), "x is missing", "get x"),
                Some(7)
            );
        }
    }

    #[test]
    fn under_ci_a_missing_tool_fails() {
        for set in [ci("true"), ci("1"), ci("yes")] {
            assert_eq!(decide(set), Missing::Fail, "{set:?}");
            assert_eq!(
                require_under(set, Some(7), "x is missing", "get x"),
                Some(7)
            );
        }
    }

    #[test]
    #[should_panic(expected = "x is missing (get x); in CI a test fails instead of skipping")]
    fn under_ci_require_panics() {
        require_under(ci("true"), None::<u8>, "x is missing", "get x");
    }

    #[test]
    fn tools_are_found_on_the_path() {
        assert!(find_tool("sh").is_some());
        assert!(find_tool("no-such-tool-vca-bridge").is_none());
    }
}
