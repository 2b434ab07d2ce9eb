//! Field checks shared by the handlers, with messages that say what is allowed.
//! The database enforces the same rules; these give the caller a clearer 400.

use super::error::ApiError;

/// `value`, when given, must be one of `allowed`.
pub fn one_of(field: &str, value: Option<&str>, allowed: &[&str]) -> Result<(), ApiError> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(ApiError::BadRequest(format!(
            "{field} must be one of {}",
            allowed.join(", ")
        ))),
        _ => Ok(()),
    }
}

/// `value`, when given, must lie in `min..=max`.
pub fn range(field: &str, value: Option<i32>, min: i32, max: i32) -> Result<(), ApiError> {
    match value {
        Some(v) if !(min..=max).contains(&v) => Err(ApiError::BadRequest(format!(
            "{field} must be between {min} and {max}"
        ))),
        _ => Ok(()),
    }
}

/// `value`, when given, must have something other than white space, and at most 200 characters.
pub fn non_blank(field: &str, value: Option<&str>) -> Result<(), ApiError> {
    match value {
        Some(v) if v.trim().is_empty() => {
            Err(ApiError::BadRequest(format!("{field} must not be empty")))
        }
        Some(v) if v.trim().chars().count() > 200 => Err(ApiError::BadRequest(format!(
            "{field} must be at most 200 characters"
        ))),
        _ => Ok(()),
    }
}
