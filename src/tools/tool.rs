//! A tenant's HTTP tool, checked and compiled once: [`ToolDefinition`] is what the admin API
//! stores, [`HttpTool`] is what the executor runs — its URL parsed, its timeout bounded, and
//! its `parameters` JSON Schema compiled into a validator (compiled once per tool, used for
//! every call; cheap to clone).
//!
//! Schemas are compiled without remote or file `$ref` resolution: a tenant's schema must be
//! self-contained (local `#/$defs/...` references work), and the daemon never fetches a URL
//! named in a schema.
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::secret::Secret;

/// The longest a tool may take (`timeout_ms` is at most 10000).
pub const MAX_TOOL_TIMEOUT: Duration = Duration::from_secs(10);

/// A tool as configured for a tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDefinition {
    /// Function name offered to the model, `[a-z][a-z0-9_]{0,63}`.
    pub name: String,
    /// Where the daemon POSTs each call (`http` or `https`).
    pub url: String,
    /// How long a call may take, connection to last body byte; at most [`MAX_TOOL_TIMEOUT`].
    pub timeout: Duration,
    /// Key of the `X-VCA-Signature` HMAC.
    pub secret: Secret,
    /// JSON Schema of the arguments (a JSON object).
    pub parameters: serde_json::Value,
}

/// Why a [`ToolDefinition`] cannot be used. The messages name the problem, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ToolDefinitionError {
    /// The name is not `[a-z][a-z0-9_]{0,63}`.
    #[error("tool name must match [a-z][a-z0-9_]{{0,63}}")]
    Name,
    /// The URL does not parse or is not `http`/`https`.
    #[error("tool url must be an absolute http or https URL")]
    Url,
    /// Zero, or more than [`MAX_TOOL_TIMEOUT`].
    #[error("tool timeout must be more than 0 and at most 10 s")]
    Timeout,
    /// The secret is empty.
    #[error("tool secret must not be empty")]
    Secret,
    /// `parameters` is not a JSON object, or not a valid JSON Schema.
    #[error("tool parameters are not a valid JSON Schema object: {0}")]
    Parameters(String),
}

/// A checked tool with its compiled argument validator. Clones share the validator.
#[derive(Clone)]
pub struct HttpTool {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    url: url::Url,
    timeout: Duration,
    secret: Secret,
    validator: jsonschema::Validator,
}

impl fmt::Debug for HttpTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTool")
            .field("name", &self.inner.name)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpTool {
    /// Checks a definition and compiles its schema.
    ///
    /// # Errors
    /// The first [`ToolDefinitionError`] found.
    pub fn new(definition: &ToolDefinition) -> Result<Self, ToolDefinitionError> {
        if !valid_name(&definition.name) {
            return Err(ToolDefinitionError::Name);
        }
        let url = url::Url::parse(&definition.url).map_err(|_| ToolDefinitionError::Url)?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(ToolDefinitionError::Url);
        }
        if definition.timeout.is_zero() || definition.timeout > MAX_TOOL_TIMEOUT {
            return Err(ToolDefinitionError::Timeout);
        }
        if definition.secret.expose().is_empty() {
            return Err(ToolDefinitionError::Secret);
        }
        let validator = compile_parameters(&definition.parameters)?;
        Ok(Self {
            inner: Arc::new(Inner {
                name: definition.name.clone(),
                url,
                timeout: definition.timeout,
                secret: definition.secret.clone(),
                validator,
            }),
        })
    }

    /// The function name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The time limit of one call.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    pub(crate) fn url(&self) -> &url::Url {
        &self.inner.url
    }

    pub(crate) fn secret(&self) -> &Secret {
        &self.inner.secret
    }

    pub(crate) fn validator(&self) -> &jsonschema::Validator {
        &self.inner.validator
    }
}

/// Compiles a tool's `parameters`: it must be a JSON object and a valid JSON Schema (the
/// draft is taken from `$schema`, 2020-12 when absent). Also what the admin API can call to
/// validate `parameters` when they are written.
///
/// # Errors
/// [`ToolDefinitionError::Parameters`] with the schema error.
pub fn compile_parameters(
    schema: &serde_json::Value,
) -> Result<jsonschema::Validator, ToolDefinitionError> {
    if !schema.is_object() {
        return Err(ToolDefinitionError::Parameters(
            "the schema must be a JSON object".to_owned(),
        ));
    }
    jsonschema::validator_for(schema)
        .map_err(|e| ToolDefinitionError::Parameters(shorten(&e.to_string(), 200)))
}

/// `[a-z][a-z0-9_]{0,63}`.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// At most `max` characters, with `…` when cut.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn definition() -> ToolDefinition {
        ToolDefinition {
            name: "book_table".to_owned(),
            url: "https://example.test/hooks/book".to_owned(),
            timeout: Duration::from_secs(3),
            secret: Secret::new("s3cret"),
            parameters: json!({"type": "object", "properties": {"party_size": {"type": "integer"}}}),
        }
    }

    #[test]
    fn a_good_definition_compiles() {
        let tool = HttpTool::new(&definition()).unwrap();
        assert_eq!(tool.name(), "book_table");
        assert_eq!(tool.timeout(), Duration::from_secs(3));
        assert!(!format!("{tool:?}").contains("s3cret"));
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(ToolDefinition, ToolDefinitionError)> = vec![
            (
                ToolDefinition {
                    name: "Book".to_owned(),
                    ..definition()
                },
                ToolDefinitionError::Name,
            ),
            (
                ToolDefinition {
                    name: format!("a{}", "b".repeat(64)),
                    ..definition()
                },
                ToolDefinitionError::Name,
            ),
            (
                ToolDefinition {
                    url: "ftp://example.test/x".to_owned(),
                    ..definition()
                },
                ToolDefinitionError::Url,
            ),
            (
                ToolDefinition {
                    url: "/relative".to_owned(),
                    ..definition()
                },
                ToolDefinitionError::Url,
            ),
            (
                ToolDefinition {
                    timeout: Duration::from_millis(10_001),
                    ..definition()
                },
                ToolDefinitionError::Timeout,
            ),
            (
                ToolDefinition {
                    timeout: Duration::ZERO,
                    ..definition()
                },
                ToolDefinitionError::Timeout,
            ),
            (
                ToolDefinition {
                    secret: Secret::new(""),
                    ..definition()
                },
                ToolDefinitionError::Secret,
            ),
        ];
        for (bad, expected) in cases {
            assert_eq!(HttpTool::new(&bad).unwrap_err(), expected, "{bad:?}");
        }
        assert!(
            HttpTool::new(&ToolDefinition {
                timeout: MAX_TOOL_TIMEOUT,
                name: "a".to_owned(),
                ..definition()
            })
            .is_ok()
        );
    }

    #[test]
    fn schemas_must_be_objects_and_valid() {
        for schema in [
            json!(true),
            json!("object"),
            json!({"type": "nosuchtype"}),
            json!({"properties": {"a": {"minimum": "ten"}}}),
        ] {
            let err = compile_parameters(&schema).unwrap_err();
            assert!(
                matches!(err, ToolDefinitionError::Parameters(_)),
                "{schema}"
            );
        }
    }

    #[tokio::test]
    async fn remote_references_are_refused_not_fetched() {
        // Inside a runtime, where a blocking fetch would panic.
        let schema = json!({"$ref": "https://example.test/schema.json"});
        assert!(matches!(
            compile_parameters(&schema),
            Err(ToolDefinitionError::Parameters(_))
        ));
        let local = json!({
            "$defs": {"size": {"type": "integer", "minimum": 1}},
            "type": "object",
            "properties": {"party_size": {"$ref": "#/$defs/size"}}
        });
        let validator = compile_parameters(&local).unwrap();
        assert!(!validator.is_valid(&json!({"party_size": 0})));
        assert!(validator.is_valid(&json!({"party_size": 2})));
    }
}
