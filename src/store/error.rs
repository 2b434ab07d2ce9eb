//! What can go wrong in a repository, in terms the API and the call path can act on.

/// A repository failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No such row for this tenant (or no such tenant).
    #[error("not found")]
    NotFound,
    /// A uniqueness rule refused the write; the text says which, safe to show.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A CHECK rule refused the value; the text names the constraint, safe to show.
    #[error("invalid value ({0})")]
    Invalid(String),
    /// The database failed or could not be reached. Never shown to API clients.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if matches!(e, sqlx::Error::RowNotFound) {
            return StoreError::NotFound;
        }
        if let Some(db) = e.as_database_error() {
            match db.code().as_deref() {
                Some("23505") => {
                    return StoreError::Conflict(match db.constraint() {
                        Some("phone_numbers_did_number_key") => "this DID number is already in use",
                        Some("ai_profiles_one_default") => {
                            "the tenant already has a default AI profile"
                        }
                        Some("transfer_targets_tenant_id_name_key") => {
                            "the tenant already has a transfer target of this name"
                        }
                        Some("tools_tenant_id_name_key") => {
                            "the tenant already has a tool of this name"
                        }
                        _ => "a row with these values already exists",
                    });
                }
                Some("23514") => {
                    return StoreError::Invalid(db.constraint().unwrap_or("check").to_string());
                }
                Some("23503") => return StoreError::NotFound,
                _ => {}
            }
        }
        StoreError::Database(e)
    }
}
