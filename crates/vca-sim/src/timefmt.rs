//! Asterisk's formats for times and ids: `2026-11-21T14:08:45.871+0000` timestamps,
//! `1795270178.0` channel ids (epoch seconds + `.` + a counter), `0x7f67cc0104f0` pointers.

use chrono::Utc;

/// The current time as ARI prints it: millisecond precision, `+0000` offset.
pub(crate) fn ari_timestamp() -> String {
    Utc::now().format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// Seconds since the Unix epoch, the first half of a channel id.
pub(crate) fn epoch_seconds() -> i64 {
    Utc::now().timestamp()
}

/// A channel-pointer-looking hex string, like Asterisk puts in UnicastRTP channel names.
pub(crate) fn fake_pointer() -> String {
    let low: u32 = rand::random::<u32>() & 0xffff_fff0;
    format!("0x7f67{low:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_has_ari_shape() {
        let t = ari_timestamp();
        assert_eq!(t.len(), "2026-11-21T14:08:45.871+0000".len(), "{t}");
        assert!(t.ends_with("+0000"));
        assert_eq!(&t[10..11], "T");
        assert_eq!(&t[19..20], ".");
    }

    #[test]
    fn pointer_is_hex() {
        let p = fake_pointer();
        assert!(p.starts_with("0x"));
        assert_eq!(p.len(), 14);
        assert!(p[2..].chars().all(|c| c.is_ascii_hexdigit()));
    }
}
