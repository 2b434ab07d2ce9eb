//! The admin API of agent actions (issue 12) against the real PostgreSQL and Redis: the
//! transfer-targets and tools routes (their defaults, 400 on bad bodies, 409 on conflicts,
//! 404 across tenants) and the AI profile's `dtmf_map` and `tools` checked against the
//! tenant's own targets and tools.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::admin::{Api, api, assert_error};

fn schema() -> Value {
    json!({"type": "object", "properties": {"party_size": {"type": "integer"}},
           "required": ["party_size"]})
}

async fn create(api: &Api, path: &str, body: Value) -> String {
    let r = api.call("POST", path, Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    r.body["id"].as_str().unwrap().to_string()
}

async fn profile(api: &Api, tid: &str) -> String {
    create(
        api,
        &format!("/api/tenants/{tid}/ai-profiles"),
        json!({"name": "Front desk", "system_prompt": "You are helpful."}),
    )
    .await
}

#[tokio::test]
async fn transfer_targets_crud_with_their_defaults() {
    let api = api().await;
    let tid = api.tenant("Bistro").await;
    let base = format!("/api/tenants/{tid}/transfer-targets");
    let r = api
        .call(
            "POST",
            &base,
            Some(json!({"name": "queue", "kind": "dialplan", "context": "humans", "extension": "100"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    assert_eq!(r.body["priority"], 1);
    let dialplan = r.body["id"].as_str().unwrap().to_string();
    let r = api
        .call(
            "POST",
            &base,
            Some(json!({"name": "front-desk", "kind": "endpoint", "endpoint": "PJSIP/1001"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    assert_eq!(r.body["ring_timeout_seconds"], 25);
    let endpoint = r.body["id"].as_str().unwrap().to_string();
    let r = api.call("GET", &base, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    let r = api
        .call(
            "PATCH",
            &format!("{base}/{endpoint}"),
            Some(json!({"ring_timeout_seconds": 40, "announce": "One moment."})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["ring_timeout_seconds"], 40);
    assert_eq!(r.body["announce"], "One moment.");
    let r = api.call("GET", &format!("{base}/{dialplan}"), None).await;
    assert_eq!(
        (r.status, &r.body["name"]),
        (StatusCode::OK, &json!("queue"))
    );
    let r = api
        .call("DELETE", &format!("{base}/{dialplan}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api.call("GET", &format!("{base}/{dialplan}"), None).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn transfer_targets_refuse_bad_bodies() {
    let api = api().await;
    let tid = api.tenant("Bistro").await;
    let base = format!("/api/tenants/{tid}/transfer-targets");
    let bad = [
        json!({"name": "Front Desk", "kind": "endpoint", "endpoint": "PJSIP/1001"}),
        json!({"name": "", "kind": "endpoint", "endpoint": "PJSIP/1001"}),
        json!({"name": "x".repeat(41), "kind": "endpoint", "endpoint": "PJSIP/1001"}),
        json!({"name": "desk", "kind": "queue", "endpoint": "PJSIP/1001"}),
        json!({"name": "desk", "kind": "dialplan", "context": "humans"}),
        json!({"name": "desk", "kind": "dialplan", "context": "humans", "extension": "100",
               "endpoint": "PJSIP/1001"}),
        json!({"name": "desk", "kind": "endpoint"}),
        json!({"name": "desk", "kind": "endpoint", "endpoint": "PJSIP/1001", "context": "humans"}),
        json!({"name": "desk", "kind": "endpoint", "endpoint": "PJSIP/1001", "ring_timeout_seconds": 4}),
        json!({"name": "desk", "kind": "endpoint", "endpoint": "PJSIP/1001", "ring_timeout_seconds": 121}),
        json!({"name": "desk", "kind": "endpoint", "endpoint": "not an endpoint"}),
        json!({"name": "desk", "kind": "dialplan", "context": "humans", "extension": "100", "priority": 0}),
        json!({"name": "desk", "kind": "endpoint", "endpoint": "PJSIP/1001", "announce": "a".repeat(501)}),
        json!({"name": "desk", "kind": "endpoint", "endpoint": "PJSIP/1001", "colour": "red"}),
    ];
    for body in bad {
        let r = api.call("POST", &base, Some(body.clone())).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
        assert!(r.raw.len() < 2000, "{body}: {}", r.raw);
    }
    let r = api.raw_call("POST", &base, "{\"name\": ").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.raw);
    let r = api.call("GET", &base, None).await;
    assert_eq!(r.body, json!([]), "nothing was written");
    // A kind's fields cannot be patched onto the other kind; names stay unique.
    let id = create(
        &api,
        &base,
        json!({"name": "desk", "kind": "endpoint", "endpoint": "PJSIP/1001"}),
    )
    .await;
    for patch in [
        json!({"context": "humans"}),
        json!({"ring_timeout_seconds": 500}),
        json!({"name": "Desk!"}),
        json!({"kind": "dialplan"}),
    ] {
        let r = api
            .call("PATCH", &format!("{base}/{id}"), Some(patch.clone()))
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    }
    let r = api
        .call(
            "POST",
            &base,
            Some(json!({"name": "desk", "kind": "endpoint", "endpoint": "PJSIP/1002"})),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
}

#[tokio::test]
async fn transfer_targets_and_tools_are_isolated_between_tenants() {
    let api = api().await;
    let a = api.tenant("A").await;
    let b = api.tenant("B").await;
    let target = create(
        &api,
        &format!("/api/tenants/{a}/transfer-targets"),
        json!({"name": "desk", "kind": "endpoint", "endpoint": "PJSIP/1001"}),
    )
    .await;
    let tool = create(
        &api,
        &format!("/api/tenants/{a}/tools"),
        json!({"name": "book_table", "description": "Books a table.", "parameters": schema(),
               "url": "https://bistro.example/book", "secret": "s3cret"}),
    )
    .await;
    for (kind, id) in [("transfer-targets", &target), ("tools", &tool)] {
        let path = format!("/api/tenants/{b}/{kind}/{id}");
        let r = api.call("GET", &path, None).await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
        let r = api
            .call("PATCH", &path, Some(json!({"name": "mine-now"})))
            .await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
        let r = api.call("DELETE", &path, None).await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
        let r = api
            .call("GET", &format!("/api/tenants/{b}/{kind}"), None)
            .await;
        assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!([])));
        // Still A's, unchanged.
        let r = api
            .call("GET", &format!("/api/tenants/{a}/{kind}/{id}"), None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_ne!(r.body["name"], "mine-now");
        // An unknown tenant is 404, an id that is not one 400 or 404, never 500.
        let nobody = uuid::Uuid::new_v4();
        let r = api
            .call("GET", &format!("/api/tenants/{nobody}/{kind}"), None)
            .await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
        let r = api
            .call("GET", &format!("/api/tenants/{a}/{kind}/not-a-uuid"), None)
            .await;
        assert!(
            matches!(r.status, StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND),
            "{}",
            r.raw
        );
    }
    // B may use A's names for its own.
    create(
        &api,
        &format!("/api/tenants/{b}/transfer-targets"),
        json!({"name": "desk", "kind": "dialplan", "context": "humans", "extension": "queue"}),
    )
    .await;
}

#[tokio::test]
async fn tools_crud_keep_the_secret_write_only_and_refuse_bad_bodies() {
    let api = api().await;
    let tid = api.tenant("Bistro").await;
    let base = format!("/api/tenants/{tid}/tools");
    let good = json!({"name": "book_table", "description": "Books a table.",
                      "parameters": schema(), "url": "https://bistro.example/book",
                      "secret": "s3cret-value"});
    let r = api.call("POST", &base, Some(good.clone())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    assert_eq!(r.body["timeout_ms"], 3000);
    assert!(!r.raw.contains("s3cret-value"), "{}", r.raw);
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = api.call("GET", &format!("{base}/{id}"), None).await;
    assert!(!r.raw.contains("s3cret-value"), "{}", r.raw);
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b["name"] = json!("other_tool");
        b[k] = v;
        b
    };
    let bad = [
        with("name", json!("BookTable")),
        with("name", json!("transfer_call")),
        with("name", json!("end_call")),
        with("name", json!("1tool")),
        with("description", json!("  ")),
        with(
            "parameters",
            json!({"type": "object", "properties": {"x": {"type": "nope"}}}),
        ),
        with("parameters", json!([1, 2])),
        with("url", json!("ftp://bistro.example/book")),
        with("timeout_ms", json!(10001)),
        with("timeout_ms", json!(0)),
        with("secret", json!("")),
        with("extra", json!(true)),
    ];
    for body in bad {
        let r = api.call("POST", &base, Some(body.clone())).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    }
    let r = api.call("POST", &base, Some(good)).await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    let r = api
        .call(
            "PATCH",
            &format!("{base}/{id}"),
            Some(json!({"timeout_ms": 20000})),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    let r = api
        .call(
            "PATCH",
            &format!("{base}/{id}"),
            Some(json!({"parameters": {"type": "string"}})),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    let r = api
        .call(
            "PATCH",
            &format!("{base}/{id}"),
            Some(json!({"timeout_ms": 5000})),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["timeout_ms"]),
        (StatusCode::OK, &json!(5000))
    );
    let r = api.call("GET", &base, None).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_keypad_map_and_tools_are_checked_against_the_tenants_own() {
    let api = api().await;
    let a = api.tenant("A").await;
    let b = api.tenant("B").await;
    // B has a target and a tool; A has neither yet.
    create(
        &api,
        &format!("/api/tenants/{b}/transfer-targets"),
        json!({"name": "desk", "kind": "endpoint", "endpoint": "PJSIP/1001"}),
    )
    .await;
    create(
        &api,
        &format!("/api/tenants/{b}/tools"),
        json!({"name": "book_table", "description": "Books a table.", "parameters": schema(),
               "url": "https://bistro.example/book", "secret": "s"}),
    )
    .await;
    let pid = profile(&api, &a).await;
    let path = format!("/api/tenants/{a}/ai-profiles/{pid}");
    let bad = [
        json!({"dtmf_map": {"0": "transfer:desk"}}),
        json!({"dtmf_map": {"x": "hangup"}}),
        json!({"dtmf_map": {"10": "hangup"}}),
        json!({"dtmf_map": {"1": "dance"}}),
        json!({"dtmf_map": {"1": "transfer:"}}),
        json!({"tools": ["book_table"]}),
        json!({"tools": ["launch_rockets"]}),
    ];
    for body in &bad {
        let r = api.call("PATCH", &path, Some(body.clone())).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    }
    // A profile created with them is refused the same way.
    let r = api
        .call(
            "POST",
            &format!("/api/tenants/{a}/ai-profiles"),
            Some(json!({"name": "P2", "system_prompt": "Hi.", "dtmf_map": {"0": "transfer:desk"}})),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    // With A's own target and tool they are accepted.
    let target = create(
        &api,
        &format!("/api/tenants/{a}/transfer-targets"),
        json!({"name": "desk", "kind": "dialplan", "context": "humans", "extension": "queue"}),
    )
    .await;
    create(
        &api,
        &format!("/api/tenants/{a}/tools"),
        json!({"name": "book_table", "description": "Books a table.", "parameters": schema(),
               "url": "https://bistro.example/book", "secret": "s"}),
    )
    .await;
    let r = api
        .call(
            "PATCH",
            &path,
            Some(
                json!({"dtmf_map": {"0": "transfer:desk", "9": "hangup", "*": "repeat"},
                        "tools": ["book_table", "transfer_call", "end_call"]}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["dtmf_map"]["0"], "transfer:desk");
    // The target the map names cannot be deleted or renamed from under it.
    let tpath = format!("/api/tenants/{a}/transfer-targets/{target}");
    let r = api.call("DELETE", &tpath, None).await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    let r = api
        .call("PATCH", &tpath, Some(json!({"name": "front-desk"})))
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    // The profile is invisible to B.
    let r = api
        .call("GET", &format!("/api/tenants/{b}/ai-profiles/{pid}"), None)
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
}
