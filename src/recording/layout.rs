//! Where recordings live: `VCA_RECORDINGS_DIR/<tenant id>/<yyyy>/<mm>/<call id>.opus`, by
//! the month the call started, and `<call id>-<n>.opus` for the n-th segment of a call
//! re-adopted after a restart. Rows keep the path relative to the directory, so the
//! directory can move.

use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, Datelike, Utc};
use uuid::Uuid;

/// The relative path of segment `segment` (1 for the first) of a call.
pub fn segment_path(
    tenant_id: Uuid,
    call_id: Uuid,
    started_at: DateTime<Utc>,
    segment: i32,
) -> String {
    let name = if segment <= 1 {
        format!("{call_id}.opus")
    } else {
        format!("{call_id}-{segment}.opus")
    };
    format!(
        "{tenant_id}/{:04}/{:02}/{name}",
        started_at.year(),
        started_at.month()
    )
}

/// `relative` under `dir`, or `None` if it would leave `dir` (a row that was tampered with).
pub fn resolve(dir: &Path, relative: &str) -> Option<PathBuf> {
    let rel = Path::new(relative);
    rel.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| dir.join(rel))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn paths_follow_tenant_month_and_segment() {
        let t = Uuid::nil();
        let c = Uuid::from_u128(1);
        let at = Utc.with_ymd_and_hms(2026, 3, 31, 23, 59, 0).unwrap();
        assert_eq!(segment_path(t, c, at, 1), format!("{t}/2026/03/{c}.opus"));
        assert_eq!(segment_path(t, c, at, 2), format!("{t}/2026/03/{c}-2.opus"));
    }

    #[test]
    fn a_path_cannot_leave_the_directory() {
        let dir = Path::new("/var/lib/vca-bridge/recordings");
        assert!(resolve(dir, "a/2026/01/b.opus").is_some());
        assert!(resolve(dir, "../etc/passwd").is_none());
        assert!(resolve(dir, "/etc/passwd").is_none());
        assert!(resolve(dir, "a/../../x").is_none());
    }
}
