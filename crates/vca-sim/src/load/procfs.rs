//! A process's CPU time and resident memory from `/proc/PID/stat` (utime + stime, in clock
//! ticks) and `/proc/PID/status` (`VmRSS`).

use std::sync::OnceLock;

use crate::load::error::LoadError;

/// One reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcSample {
    /// User + system CPU time so far, in ms.
    pub cpu_ms: f64,
    /// Resident set size in KiB.
    pub rss_kib: u64,
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux if that fails).
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// utime + stime in ticks from the text of `/proc/PID/stat` (the command name may hold
/// spaces and parentheses, so fields are counted after the last `)`).
pub(crate) fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `VmRSS` in KiB from the text of `/proc/PID/status`.
pub(crate) fn parse_vmrss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Reads `pid`'s CPU time and RSS now.
pub fn read_proc(pid: u32) -> Result<ProcSample, LoadError> {
    let io = |source| LoadError::Proc { pid, source };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(io)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(io)?;
    let bad = |what: &str| LoadError::Proc {
        pid,
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string()),
    };
    let ticks = parse_stat_ticks(&stat).ok_or_else(|| bad("unreadable stat"))?;
    let rss_kib = parse_vmrss_kib(&status).ok_or_else(|| bad("no VmRSS"))?;
    Ok(ProcSample {
        cpu_ms: ticks as f64 * 1000.0 / clock_ticks(),
        rss_kib,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_the_command_name() {
        let stat = "4242 (vca bridge) (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 1234 1000000 500 18446744073709551615";
        assert_eq!(parse_stat_ticks(stat), Some(325));
        assert_eq!(parse_stat_ticks("garbage"), None);
    }

    #[test]
    fn vmrss_in_kib() {
        let status = "Name:\tvca-bridge\nVmPeak:\t  99999 kB\nVmRSS:\t   12345 kB\nThreads:\t9\n";
        assert_eq!(parse_vmrss_kib(status), Some(12345));
        assert_eq!(parse_vmrss_kib("Name: x\n"), None);
    }

    #[test]
    fn own_process_reads() {
        let s = read_proc(std::process::id()).unwrap();
        assert!(s.rss_kib > 0);
        assert!(s.cpu_ms >= 0.0);
    }
}
