//! What `scripts/api-fuzz` (Schemathesis against `/api/openapi.json`) found, kept fixed: the
//! document lists the codes the layers around the handlers answer on every route, states the
//! handlers' rules so schema-valid requests are accepted, and a cursor is read only in the
//! form the API writes and the document states.

use axum::http::StatusCode;

use crate::support::admin::api;

/// Every `/api` operation may answer 401, 403, 408, 414, 429 (locked out after failed
/// authentications) and 503 (database down); one with a body also 413. Before the fuzz run
/// the document listed only 401 and 403.
#[tokio::test]
async fn every_operation_lists_the_layers_responses() {
    let api = api().await;
    let doc = api.call("GET", "/api/openapi.json", None).await.body;
    let paths = doc["paths"].as_object().unwrap();
    let mut seen = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let codes = op["responses"].as_object().unwrap();
            let mut wanted = vec!["408", "414"];
            if path.starts_with("/api/") {
                wanted.extend(["401", "403", "429", "503"]);
            }
            if op.get("requestBody").is_some() {
                wanted.push("413");
            }
            for code in wanted {
                assert!(codes.contains_key(code), "{method} {path} lacks {code}");
            }
            seen += 1;
        }
    }
    assert!(seen >= 46, "{seen} operations");
}

/// Schemathesis sent `{"name": ""}`, `{"status": ""}`, `"role": ""`, `"events": []`, tool
/// and target names with capitals: valid by the document, refused with 400. The document
/// now says what the handlers allow; a value it allows is accepted.
#[tokio::test]
async fn the_document_states_the_rules_the_handlers_check() {
    let api = api().await;
    let doc = api.call("GET", "/api/openapi.json", None).await.body;
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["NewApiKey"]["properties"]["role"]["enum"],
        serde_json::json!(["admin", "viewer"])
    );
    assert_eq!(
        schemas["NewTool"]["properties"]["name"]["pattern"],
        "^[a-z][a-z0-9_]{0,63}$"
    );
    assert_eq!(schemas["NewWebhook"]["properties"]["events"]["minItems"], 1);
    // Values at the edges the document gives are accepted.
    let r = api
        .call(
            "POST",
            "/api/tenants",
            Some(serde_json::json!({"name": format!(" {} ", "n".repeat(200)),
                "max_concurrent_calls": 10_000, "recording_retention_days": 1, "status": "suspended"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

/// Schemathesis's negative cases: a cursor the document's pattern refuses (capitals, no
/// hyphens, a sign, 17 digits) was read as a cursor; now it is 400 like any other.
#[tokio::test]
async fn a_cursor_not_in_the_documented_form_is_400() {
    let api = api().await;
    let tid = api.tenant("Cursors").await;
    let id = uuid::Uuid::new_v4();
    let ok = format!("1764000000123456_{id}");
    let r = api
        .call(
            "GET",
            &format!("/api/tenants/{tid}/calls?cursor={ok}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for bad in [
        format!("1764000000123456_{}", id.to_string().to_uppercase()),
        format!("1764000000123456_{}", id.simple()),
        format!("%2B1764000000123456_{id}"),
        format!("17640000001234567_{id}"),
    ] {
        for route in ["calls", "api-keys"] {
            let r = api
                .call(
                    "GET",
                    &format!("/api/tenants/{tid}/{route}?cursor={bad}"),
                    None,
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::BAD_REQUEST,
                "{route} {bad}: {:?}",
                r.body
            );
        }
    }
}

/// Schemathesis sent `?limit=null&limit=null`: axum's query rejection answered in plain
/// text, a content type the document does not list. Now it is our JSON 400.
#[tokio::test]
async fn a_query_that_does_not_parse_is_a_json_400() {
    let api = api().await;
    let tid = api.tenant("Queries").await;
    for path in [
        format!("/api/tenants/{tid}/calls?limit=1&limit=2"),
        format!("/api/tenants/{tid}/api-keys?cursor=a&cursor=b"),
        format!("/api/tenants/{tid}/usage?granularity=day&granularity=month"),
        "/api/usage?from=x&from=y".to_string(),
    ] {
        let r = api.call("GET", &path, None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(
            r.body["error"]["code"], "bad_request",
            "{path}: {:?}",
            r.body
        );
    }
}

/// Schemathesis sent `{"max_concurrent_calls": 1867.0}` and `"recording_retention_days":
/// 2344.0`: integers by JSON Schema, refused with 400 by serde. A whole number written with
/// a fraction is now taken as the integer; a real fraction is still a 400.
#[tokio::test]
async fn a_whole_number_written_with_a_fraction_is_an_integer() {
    let api = api().await;
    let r = api
        .call(
            "POST",
            "/api/tenants",
            Some(
                serde_json::json!({"name": "front-desk", "max_concurrent_calls": 12.0,
                "recording_retention_days": 2344.0}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    assert_eq!(r.body["max_concurrent_calls"], 12);
    assert_eq!(r.body["recording_retention_days"], 2344);
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = api
        .call(
            "PATCH",
            &format!("/api/tenants/{id}"),
            Some(serde_json::json!({"max_concurrent_calls": 1867.0})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["max_concurrent_calls"], 1867);
    let r = api
        .call(
            "PATCH",
            &format!("/api/tenants/{id}"),
            Some(serde_json::json!({"max_concurrent_calls": 18.5})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.raw);
    assert_eq!(r.body["error"]["code"], "bad_request");
}
