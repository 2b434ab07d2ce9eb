//! What the handlers accept, written into the OpenAPI document: the allowed values, lengths,
//! patterns and ranges of request fields and query parameters, from the same constants the
//! handlers check. A client (or Schemathesis, `scripts/api-fuzz`) that follows the document
//! then sends what is accepted, and what the document calls invalid is refused with 400.
//! Rules a schema cannot say (a DID that is not a phone number, a URL that does not resolve,
//! a keypad map naming a missing target) stay in the handlers' 400 messages.

use serde_json::Value;
use utoipa::openapi::schema::{ArrayItems, KnownFormat, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{OpenApi, RefOr};

use crate::store::{ai_profiles, api_keys, calls, phone_numbers, tenants, webhooks};

/// A constraint on one value.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// A string matching `pattern` (unanchored, as JSON Schema reads it) of at most `max`
    /// characters when given.
    Text {
        min: usize,
        max: Option<usize>,
        pattern: Option<&'static str>,
    },
    /// An integer from `min` to `max`.
    Range(i64, i64),
    /// An RFC 3339 time.
    DateTime,
    /// An array of `min..=max` items, each one of `each` when given.
    Items {
        min: usize,
        max: Option<usize>,
        each: Option<&'static [&'static str]>,
    },
}

/// Something with white space trimmed away: at least one character that is not white space.
const NOT_BLANK: &str = r"\S";

/// Text that is not blank and has at most 200 characters once trimmed (`validate::non_blank`).
const NAME: Rule = Rule::Text {
    min: 1,
    max: None,
    pattern: Some(r"^\s*(\S|\S[\s\S]{0,198}\S)\s*$"),
};

/// A dialplan context or extension (`transfer_targets::check_dialplan_part`).
const DIALPLAN_PART: Rule = Rule::Text {
    min: 1,
    max: Some(80),
    pattern: Some(r"^[A-Za-z0-9_.+*#-]{1,80}$"),
};

/// The rules of request bodies: (schemas, property, rule).
const BODY_RULES: &[(&[&str], &str, Rule)] = &[
    (&["NewTenant", "TenantPatch"], "name", NAME),
    (
        &["NewTenant", "TenantPatch"],
        "status",
        Rule::OneOf(tenants::STATUSES),
    ),
    (
        &["NewTenant", "TenantPatch"],
        "plan",
        Rule::OneOf(tenants::PLANS),
    ),
    (
        &["NewTenant", "TenantPatch"],
        "max_concurrent_calls",
        Rule::Range(1, 10_000),
    ),
    (
        &["NewTenant", "TenantPatch"],
        "recording_retention_days",
        Rule::Range(1, 3650),
    ),
    (
        &["NewPhoneNumber", "PhoneNumberPatch"],
        "provider_type",
        Rule::OneOf(phone_numbers::PROVIDER_TYPES),
    ),
    (&["NewAiProfile", "AiProfilePatch"], "name", NAME),
    (
        &["NewAiProfile", "AiProfilePatch"],
        "role",
        Rule::OneOf(ai_profiles::ROLES),
    ),
    (
        &["NewAiProfile", "AiProfilePatch"],
        "system_prompt",
        Rule::Text {
            min: 1,
            max: None,
            pattern: Some(NOT_BLANK),
        },
    ),
    (
        &["NewAiProfile", "AiProfilePatch"],
        "languages",
        Rule::Items {
            min: 0,
            max: Some(12),
            each: None,
        },
    ),
    (
        &["NewAiProfile", "AiProfilePatch"],
        "max_turns",
        Rule::Range(1, 1000),
    ),
    (
        &["NewAiProfile", "AiProfilePatch"],
        "max_duration_seconds",
        Rule::Range(10, 86_400),
    ),
    (
        &["NewAiProfile", "AiProfilePatch"],
        "endpointing_silence_ms",
        Rule::Range(100, 5000),
    ),
    (
        &["NewAiProfile", "AiProfilePatch"],
        "recording_notice",
        Rule::Text {
            min: 1,
            max: Some(500),
            pattern: Some(NOT_BLANK),
        },
    ),
    (
        &["NewTransferTarget", "TransferTargetPatch"],
        "name",
        Rule::Text {
            min: 1,
            max: Some(40),
            pattern: Some("^[a-z0-9-]{1,40}$"),
        },
    ),
    (
        &["NewTransferTarget"],
        "kind",
        Rule::OneOf(&["dialplan", "endpoint"]),
    ),
    (
        &["NewTransferTarget", "TransferTargetPatch"],
        "context",
        DIALPLAN_PART,
    ),
    (
        &["NewTransferTarget", "TransferTargetPatch"],
        "extension",
        DIALPLAN_PART,
    ),
    (
        &["NewTransferTarget", "TransferTargetPatch"],
        "priority",
        Rule::Range(1, 10_000),
    ),
    (
        &["NewTransferTarget", "TransferTargetPatch"],
        "endpoint",
        Rule::Text {
            min: 3,
            max: None,
            pattern: Some(r"^[A-Za-z][A-Za-z0-9_]*/[A-Za-z0-9_.+@:-]{1,120}$"),
        },
    ),
    (
        &["NewTransferTarget", "TransferTargetPatch"],
        "ring_timeout_seconds",
        Rule::Range(5, 120),
    ),
    (
        &["NewTransferTarget", "TransferTargetPatch"],
        "caller_id",
        Rule::Text {
            min: 1,
            max: Some(80),
            pattern: Some(r"^[^\x00-\x1f\x7f-\x9f]{1,80}$"),
        },
    ),
    (
        &["NewTransferTarget", "TransferTargetPatch"],
        "announce",
        Rule::Text {
            min: 0,
            max: Some(500),
            pattern: None,
        },
    ),
    (
        &["NewTool", "ToolPatch"],
        "name",
        Rule::Text {
            min: 1,
            max: Some(64),
            pattern: Some("^[a-z][a-z0-9_]{0,63}$"),
        },
    ),
    (
        &["NewTool", "ToolPatch"],
        "description",
        Rule::Text {
            min: 1,
            max: Some(1000),
            pattern: Some(NOT_BLANK),
        },
    ),
    (
        &["NewTool", "ToolPatch"],
        "timeout_ms",
        Rule::Range(100, 10_000),
    ),
    (
        &["NewTool", "ToolPatch", "NewWebhook", "WebhookPatch"],
        "secret",
        Rule::Text {
            min: 1,
            max: Some(500),
            pattern: None,
        },
    ),
    (
        &["NewWebhook", "WebhookPatch"],
        "events",
        Rule::Items {
            min: 1,
            max: None,
            each: Some(webhooks::EVENT_TYPES),
        },
    ),
    (&["NewApiKey"], "name", NAME),
    (&["NewApiKey"], "role", Rule::OneOf(api_keys::ROLES)),
];

/// A page size (`page::limit`).
const LIMIT: Rule = Rule::Range(1, 200);
/// A cursor as `page::encode_cursor` writes it (`page::decode_cursor` reads no other).
const CURSOR: Rule = Rule::Text {
    min: 38,
    max: None,
    pattern: Some("^-?[0-9]{1,16}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
};

/// The rules of query parameters: (path, parameter, rule).
const QUERY_RULES: &[(&str, &str, Rule)] = &[
    (
        "/api/tenants/{tid}/calls",
        "status",
        Rule::OneOf(calls::STATUSES),
    ),
    ("/api/tenants/{tid}/calls", "limit", LIMIT),
    ("/api/tenants/{tid}/calls", "cursor", CURSOR),
    ("/api/tenants/{tid}/calls", "from", Rule::DateTime),
    ("/api/tenants/{tid}/calls", "to", Rule::DateTime),
    ("/api/tenants/{tid}/api-keys", "limit", LIMIT),
    ("/api/tenants/{tid}/api-keys", "cursor", CURSOR),
    (
        "/api/tenants/{tid}/webhooks/{id}/deliveries",
        "limit",
        LIMIT,
    ),
    (
        "/api/tenants/{tid}/usage",
        "granularity",
        Rule::OneOf(&["day", "month"]),
    ),
    ("/api/usage", "granularity", Rule::OneOf(&["day", "month"])),
];

/// Writes [`BODY_RULES`] and [`QUERY_RULES`] into `doc`; a rule whose schema, property or
/// parameter is missing is returned, so a test can tell the tables went stale.
pub fn apply(doc: &mut OpenApi) -> Vec<String> {
    let mut missing = Vec::new();
    let schemas = doc.components.as_mut().map(|c| &mut c.schemas);
    if let Some(schemas) = schemas {
        for (names, property, rule) in BODY_RULES {
            for name in *names {
                let target = match schemas.get_mut(*name) {
                    Some(RefOr::T(Schema::Object(object))) => {
                        match object.properties.get_mut(*property) {
                            Some(RefOr::T(schema)) => Some(schema),
                            _ => None,
                        }
                    }
                    _ => None,
                };
                if !target.is_some_and(|schema| constrain(schema, *rule)) {
                    missing.push(format!("{name}.{property}"));
                }
            }
        }
    }
    for (path, param, rule) in QUERY_RULES {
        let found = doc
            .paths
            .paths
            .get_mut(*path)
            .and_then(|item| item.get.as_mut())
            .and_then(|op| op.parameters.as_mut())
            .and_then(|params| params.iter_mut().find(|p| p.name == *param))
            .and_then(|p| match p.schema.as_mut() {
                Some(RefOr::T(schema)) => Some(schema),
                _ => None,
            });
        let applied = found.is_some_and(|schema| {
            if let Rule::Range(..) = rule
                && let Schema::Object(object) = schema
            {
                // The handlers read the text as a number: say it is one.
                object.schema_type = SchemaType::Type(Type::Integer);
            }
            constrain(schema, *rule)
        });
        if !applied {
            missing.push(format!("{path}?{param}"));
        }
    }
    missing
}

fn allows_null(schema_type: &SchemaType) -> bool {
    match schema_type {
        SchemaType::Type(t) => *t == Type::Null,
        SchemaType::Array(types) => types.contains(&Type::Null),
        SchemaType::AnyValue => true,
    }
}

fn one_of(values: &[&str], null: bool) -> Vec<Value> {
    let mut out: Vec<Value> = values.iter().map(|v| Value::from(*v)).collect();
    if null {
        out.push(Value::Null);
    }
    out
}

/// Writes `rule` into `schema`; false when the schema is not of the rule's shape.
fn constrain(schema: &mut Schema, rule: Rule) -> bool {
    match (schema, rule) {
        (Schema::Object(object), Rule::OneOf(values)) => {
            object.enum_values = Some(one_of(values, allows_null(&object.schema_type)));
            true
        }
        (Schema::Object(object), Rule::Text { min, max, pattern }) => {
            object.min_length = (min > 0).then_some(min);
            object.max_length = max;
            object.pattern = pattern.map(str::to_string);
            true
        }
        (Schema::Object(object), Rule::Range(min, max)) => {
            object.minimum = Some(min.into());
            object.maximum = Some(max.into());
            true
        }
        (Schema::Object(object), Rule::DateTime) => {
            object.format = Some(SchemaFormat::KnownFormat(KnownFormat::DateTime));
            true
        }
        (Schema::Array(array), Rule::Items { min, max, each }) => {
            array.min_items = (min > 0).then_some(min);
            array.max_items = max;
            if let (Some(each), ArrayItems::RefOrSchema(items)) = (each, &mut array.items)
                && let RefOr::T(Schema::Object(item)) = items.as_mut()
            {
                item.enum_values = Some(one_of(each, false));
            }
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi as _;

    use super::*;
    use crate::admin::openapi::ApiDoc;

    #[test]
    fn every_rule_names_a_field_of_the_document() {
        let mut doc = ApiDoc::openapi();
        assert_eq!(apply(&mut doc), Vec::<String>::new());
    }

    #[test]
    fn the_rules_reach_the_document() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        let patch = &doc["components"]["schemas"]["TenantPatch"]["properties"];
        assert_eq!(
            patch["status"]["enum"],
            serde_json::json!(["active", "suspended", "deleted", null])
        );
        assert_eq!(patch["max_concurrent_calls"]["maximum"], 10_000);
        let events = &doc["components"]["schemas"]["NewWebhook"]["properties"]["events"];
        assert_eq!(events["minItems"], 1);
        assert_eq!(events["items"]["enum"][0], "call.started");
        let limit = doc["paths"]["/api/tenants/{tid}/calls"]["get"]["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == "limit"))
            .map(|p| p["schema"].clone())
            .unwrap_or_default();
        assert_eq!(limit["type"], "integer");
        assert_eq!(
            (limit["minimum"].clone(), limit["maximum"].clone()),
            (1.into(), 200.into())
        );
    }
}
