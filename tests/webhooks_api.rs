//! The webhook and usage routes of the admin API (driven with `oneshot`): create, list,
//! read, change, delete, deliveries; the secret never comes back; another tenant's webhook
//! is a 404 on every route; bad bodies and parameters are 400 with a clear message; URLs
//! that are or resolve to private addresses are refused unless allowed.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::admin::{Api, api, api_allowing_private_webhooks, assert_error};

async fn hook(api: &Api, tid: &str) -> String {
    let r = api
        .call(
            "POST",
            &format!("/api/tenants/{tid}/webhooks"),
            Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["call.ended"], "secret": "whsec-1"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    r.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn webhooks_are_created_read_changed_and_deleted_without_showing_the_secret() {
    let api = api_allowing_private_webhooks().await;
    let tid = api.tenant("Acme").await;
    let base = format!("/api/tenants/{tid}/webhooks");
    let r = api
        .call(
            "POST",
            &base,
            Some(json!({
                "url": "http://127.0.0.1:9/hook",
                "events": ["call.ended", "call.started", "call.ended"],
                "secret": "whsec-very-secret"
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    assert_eq!(r.body["events"], json!(["call.ended", "call.started"]));
    assert_eq!(r.body["is_active"], true);
    assert_eq!(r.body["has_secret"], true);
    assert!(!r.raw.contains("whsec-very-secret"));
    let id = r.body["id"].as_str().unwrap().to_string();

    let list = api.call("GET", &base, None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert!(!list.raw.contains("whsec-very-secret"));

    let r = api
        .call(
            "PATCH",
            &format!("{base}/{id}"),
            Some(json!({"is_active": false, "events": ["call.rejected"], "secret": "whsec-2"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["is_active"], false);
    assert_eq!(r.body["events"], json!(["call.rejected"]));
    assert_eq!(r.body["url"], "http://127.0.0.1:9/hook");
    assert!(!r.raw.contains("whsec-2"));
    let (secret,): (String,) = sqlx::query_as("SELECT secret FROM webhooks WHERE id = $1::uuid")
        .bind(&id)
        .fetch_one(api.store.pool())
        .await
        .unwrap();
    assert_eq!(secret, "whsec-2");

    let got = api.call("GET", &format!("{base}/{id}"), None).await;
    assert_eq!(got.body["events"], json!(["call.rejected"]));
    let deliveries = api
        .call("GET", &format!("{base}/{id}/deliveries"), None)
        .await;
    assert_eq!(deliveries.status, StatusCode::OK);
    assert_eq!(deliveries.body, json!([]));

    let del = api.call("DELETE", &format!("{base}/{id}"), None).await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let gone = api.call("GET", &format!("{base}/{id}"), None).await;
    assert_error(&gone, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn another_tenants_webhook_and_usage_are_not_found() {
    let api = api_allowing_private_webhooks().await;
    let a = api.tenant("A").await;
    let b = api.tenant("B").await;
    let id = hook(&api, &a).await;
    let other = format!("/api/tenants/{b}/webhooks/{id}");
    for (method, path, body) in [
        ("GET", other.clone(), None),
        ("PATCH", other.clone(), Some(json!({"is_active": false}))),
        ("DELETE", other.clone(), None),
        ("GET", format!("{other}/deliveries"), None),
    ] {
        let r = api.call(method, &path, body).await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    }
    let list = api
        .call("GET", &format!("/api/tenants/{b}/webhooks"), None)
        .await;
    assert_eq!(list.body, json!([]));
    let nobody = uuid::Uuid::new_v4();
    for path in [
        format!("/api/tenants/{nobody}/webhooks"),
        format!("/api/tenants/{nobody}/usage"),
        format!("/api/tenants/{a}/webhooks/not-a-uuid"),
    ] {
        let r = api.call("GET", &path, None).await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    }
    let r = api
        .call(
            "POST",
            &format!("/api/tenants/{nobody}/webhooks"),
            Some(json!({"url": "http://127.0.0.1:9/h", "events": ["call.ended"], "secret": "s"})),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    // Still there, unchanged, for its own tenant.
    let own = api
        .call("GET", &format!("/api/tenants/{a}/webhooks/{id}"), None)
        .await;
    assert_eq!(own.body["is_active"], true);
}

#[tokio::test]
async fn bad_bodies_and_parameters_are_400_with_a_message() {
    let api = api_allowing_private_webhooks().await;
    let tid = api.tenant("Acme").await;
    let base = format!("/api/tenants/{tid}/webhooks");
    for (body, says) in [
        (json!({"events": ["call.ended"], "secret": "s"}), "url"),
        (
            json!({"url": "http://127.0.0.1:9/h", "secret": "s"}),
            "events",
        ),
        (
            json!({"url": "http://127.0.0.1:9/h", "events": ["call.ended"]}),
            "secret",
        ),
        (
            json!({"url": "ftp://example.com/h", "events": ["call.ended"], "secret": "s"}),
            "http",
        ),
        (
            json!({"url": "not a url", "events": ["call.ended"], "secret": "s"}),
            "http",
        ),
        (
            json!({"url": "http://127.0.0.1:9/h", "events": [], "secret": "s"}),
            "at least one",
        ),
        (
            json!({"url": "http://127.0.0.1:9/h", "events": ["call.exploded"], "secret": "s"}),
            "call.exploded",
        ),
        (
            json!({"url": "http://127.0.0.1:9/h", "events": ["call.ended"], "secret": ""}),
            "secret",
        ),
        (
            json!({"url": "http://127.0.0.1:9/h", "events": "call.ended", "secret": "s"}),
            "sequence",
        ),
        (
            json!({"url": "http://127.0.0.1:9/h", "events": ["call.ended"], "secret": "s", "color": 1}),
            "color",
        ),
        (
            json!({"url": "http://127.0.0.1:9/h", "events": ["call.ended"], "secret": "s", "is_active": "yes"}),
            "boolean",
        ),
    ] {
        let r = api.call("POST", &base, Some(body.clone())).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    let r = api.raw_call("POST", &base, "{not json").await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    let id = hook(&api, &tid).await;
    for body in [
        json!({"events": []}),
        json!({"url": "gopher://x"}),
        json!({"secret": ""}),
        json!({"unknown": true}),
    ] {
        let r = api
            .call("PATCH", &format!("{base}/{id}"), Some(body.clone()))
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    }
    let r = api
        .call("GET", &format!("{base}/{id}/deliveries?limit=0"), None)
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    for query in [
        "granularity=week",
        "from=yesterday",
        "to=2026-13-01",
        "from=2026-12-02&to=2026-12-01",
        "from=2020-01-01&to=2026-01-01&granularity=day",
    ] {
        for path in [
            format!("/api/tenants/{tid}/usage?{query}"),
            format!("/api/usage?{query}"),
        ] {
            let r = api.call("GET", &path, None).await;
            assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
        }
    }
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let api = api().await;
    let tid = api.tenant("Acme").await;
    let base = format!("/api/tenants/{tid}/webhooks");
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.0.0.8/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://0.0.0.0/hook",
    ] {
        let r = api
            .call(
                "POST",
                &base,
                Some(json!({"url": url, "events": ["call.ended"], "secret": "s"})),
            )
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("private"), "{url}: {message}");
    }
    // A public address literal needs no DNS and is accepted.
    let r = api
        .call(
            "POST",
            &base,
            Some(json!({"url": "https://93.184.215.14/hook", "events": ["call.ended"], "secret": "s"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    let id = r.body["id"].as_str().unwrap();
    let r = api
        .call(
            "PATCH",
            &format!("{base}/{id}"),
            Some(json!({"url": "http://127.0.0.1/hook"})),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");

    let allowing = api_allowing_private_webhooks().await;
    let tid = allowing.tenant("Acme").await;
    hook(&allowing, &tid).await;
}
