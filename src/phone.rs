//! Phone numbers: normalisation to E.164 and masking for logs.
//!
//! DIDs and caller numbers reach us in many shapes ("+91 80 1234 5678",
//! "080-1234-5678", "918012345678", "00918012345678"); every comparison and every
//! stored number uses the one E.164 form, `+918012345678`.

/// Why a string is not a phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PhoneError {
    /// Letters or symbols that never appear in a dialled number.
    #[error("contains characters that are not part of a phone number")]
    BadCharacters,
    /// Too few or too many digits for E.164 (at most 15, at least 8 with the country code).
    #[error("has {0} digits; an E.164 number has 8 to 15 including the country code")]
    BadLength(usize),
    /// Nothing but punctuation.
    #[error("is empty")]
    Empty,
}

/// National significant numbers are at most this long in practice; a string of
/// digits longer than this that starts with the country code already carries it.
const MAX_NATIONAL_DIGITS: usize = 10;

/// Normalises `raw` to E.164 (`+` and 8-15 digits), applying `country_code` to
/// national numbers (a leading trunk `0`, or no country code at all).
pub fn normalize_e164(raw: &str, country_code: u16) -> Result<String, PhoneError> {
    let trimmed = raw.trim();
    let mut digits = String::with_capacity(trimmed.len());
    let mut plus = false;
    for (i, c) in trimmed.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => plus = true,
            ' ' | '-' | '.' | '(' | ')' | '/' => {}
            _ => return Err(PhoneError::BadCharacters),
        }
    }
    if digits.is_empty() {
        return Err(PhoneError::Empty);
    }
    let cc = country_code.to_string();
    let international = if plus {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_string()
    } else if let Some(rest) = digits.strip_prefix('0') {
        format!("{cc}{rest}")
    } else if digits.starts_with(&cc) && digits.len() > MAX_NATIONAL_DIGITS {
        digits
    } else {
        format!("{cc}{digits}")
    };
    if !(8..=15).contains(&international.len()) || international.starts_with('0') {
        return Err(PhoneError::BadLength(international.len()));
    }
    Ok(format!("+{international}"))
}

/// Masks all but the last four digits (`+91******5678`), for logs at info level.
pub fn mask(number: &str) -> String {
    let total = number.chars().filter(char::is_ascii_digit).count();
    let keep_from = total.saturating_sub(4);
    let mut seen = 0;
    let mut out = String::with_capacity(number.len());
    for c in number.chars() {
        if c.is_ascii_digit() {
            // The country code prefix (first two digits) and the last four stay readable.
            out.push(if seen < 2 || seen >= keep_from {
                c
            } else {
                '*'
            });
            seen += 1;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indian_forms_agree() {
        for raw in [
            "+91 80 1234 5678",
            "080-1234-5678",
            "918012345678",
            "8012345678",
            "0091 80 1234 5678",
            "+91-(80)-1234.5678",
        ] {
            assert_eq!(normalize_e164(raw, 91).unwrap(), "+918012345678", "{raw}");
        }
    }

    #[test]
    fn foreign_numbers_keep_their_code() {
        assert_eq!(normalize_e164("+15559876543", 91).unwrap(), "+15559876543");
        assert_eq!(normalize_e164("5559876543", 1).unwrap(), "+15559876543");
        assert_eq!(normalize_e164("15559876543", 1).unwrap(), "+15559876543");
    }

    #[test]
    fn rejects_what_is_not_a_number() {
        assert_eq!(normalize_e164("hello", 91), Err(PhoneError::BadCharacters));
        assert_eq!(normalize_e164("  ", 91), Err(PhoneError::Empty));
        assert_eq!(normalize_e164("+-", 91), Err(PhoneError::Empty));
        assert!(matches!(
            normalize_e164("123", 91),
            Err(PhoneError::BadLength(_))
        ));
        assert!(matches!(
            normalize_e164("+1234567890123456", 91),
            Err(PhoneError::BadLength(16))
        ));
        assert_eq!(normalize_e164("12+34", 91), Err(PhoneError::BadCharacters));
        assert_eq!(
            normalize_e164("+91 80 1234 5678; DROP", 91),
            Err(PhoneError::BadCharacters)
        );
    }

    #[test]
    fn masks_the_middle() {
        assert_eq!(mask("+918012345678"), "+91******5678");
        assert_eq!(mask("123"), "123");
    }
}
