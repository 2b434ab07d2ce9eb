//! The admin API against the real PostgreSQL and Redis: every route, every rule,
//! every error shape, and tenant isolation on every route.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::support::admin::{self, TOKEN, api, assert_error};
use crate::support::db;

#[tokio::test]
async fn tenants_crud() {
    let api = api().await;
    let r = api
        .call(
            "POST",
            "/api/tenants",
            Some(json!({"name": "  Acme Dental  "})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["name"], "Acme Dental");
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.body["plan"], "starter");
    assert_eq!(r.body["max_concurrent_calls"], 5);
    let id = r.body["id"].as_str().unwrap().to_string();

    let r = api.call("GET", &format!("/api/tenants/{id}"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["name"], "Acme Dental");

    let r = api
        .call(
            "PATCH",
            &format!("/api/tenants/{id}"),
            Some(json!({"status": "suspended", "plan": "growth", "max_concurrent_calls": 12})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["status"], "suspended");
    assert_eq!(r.body["plan"], "growth");
    assert_eq!(r.body["max_concurrent_calls"], 12);
    assert_eq!(r.body["name"], "Acme Dental");

    api.tenant("Second").await;
    let r = api.call("GET", "/api/tenants", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn tenant_validation() {
    let api = api().await;
    let id = api.tenant("T").await;
    for body in [
        json!({"name": "x", "status": "paused"}),
        json!({"name": "x", "plan": "gold"}),
        json!({"name": "   "}),
        json!({"name": "x", "max_concurrent_calls": 0}),
        json!({"name": "x", "max_concurrent_calls": "5"}),
        json!({"name": "x", "extra": 1}),
        json!({"plan": "starter"}),
    ] {
        let r = api.call("POST", "/api/tenants", Some(body.clone())).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    }
    for body in [
        json!({"status": "archived"}),
        json!({"plan": 3}),
        json!({"id": "00000000-0000-0000-0000-000000000000"}),
        json!({"created_at": "2020-01-01T00:00:00Z"}),
        json!({"name": ""}),
    ] {
        let r = api
            .call("PATCH", &format!("/api/tenants/{id}"), Some(body.clone()))
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    }
    let r = api.raw_call("POST", "/api/tenants", "{\"name\": ").await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    let r = api.raw_call("POST", "/api/tenants", "[1,2]").await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    let r = api.raw_call("POST", "/api/tenants", "").await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test]
async fn auth_is_required_on_every_api_route() {
    let api = api().await;
    let tid = api.tenant("T").await;
    let id = uuid::Uuid::new_v4();
    let routes = [
        ("GET", "/api/tenants".to_string()),
        ("POST", "/api/tenants".to_string()),
        ("GET", format!("/api/tenants/{tid}")),
        ("PATCH", format!("/api/tenants/{tid}")),
        ("GET", format!("/api/tenants/{tid}/phone-numbers")),
        ("POST", format!("/api/tenants/{tid}/phone-numbers")),
        ("GET", format!("/api/tenants/{tid}/phone-numbers/{id}")),
        ("PATCH", format!("/api/tenants/{tid}/phone-numbers/{id}")),
        ("DELETE", format!("/api/tenants/{tid}/phone-numbers/{id}")),
        ("GET", format!("/api/tenants/{tid}/ai-profiles")),
        ("POST", format!("/api/tenants/{tid}/ai-profiles")),
        ("GET", format!("/api/tenants/{tid}/ai-profiles/{id}")),
        ("PATCH", format!("/api/tenants/{tid}/ai-profiles/{id}")),
        ("DELETE", format!("/api/tenants/{tid}/ai-profiles/{id}")),
        ("GET", format!("/api/tenants/{tid}/calls")),
        ("GET", format!("/api/tenants/{tid}/calls/{id}")),
        ("GET", "/api/openapi.json".to_string()),
        ("GET", "/api/no-such-route".to_string()),
    ];
    for (method, path) in &routes {
        for auth in [
            None,
            Some("Bearer wrong-token-wrong-token"),
            Some(TOKEN),
            Some("Basic abc"),
        ] {
            let mut b = Request::builder().method(*method).uri(path.as_str());
            if let Some(a) = auth {
                b = b.header("authorization", a);
            }
            let r = api.send(b.body(Body::from("{}")).unwrap()).await;
            assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
        }
    }
    let r = api.call("GET", "/api/tenants", None).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn health_and_readiness_need_no_token() {
    let api = api().await;
    let r = api
        .send(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = api
        .send(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["status"], "ready");
    assert_eq!(r.body["components"]["postgres"]["ok"], true);
    assert_eq!(r.body["components"]["redis"]["ok"], true);
}

#[tokio::test]
async fn readiness_fails_when_redis_is_down() {
    // Nothing listens on port 1 of loopback.
    let api = admin::api_with_redis("redis://127.0.0.1:1").await;
    let r = api
        .send(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.raw);
    assert_eq!(r.body["status"], "unavailable");
    assert_eq!(r.body["components"]["postgres"]["ok"], true);
    assert_eq!(r.body["components"]["redis"]["ok"], false);
}

#[tokio::test]
async fn readiness_fails_when_postgres_is_gone() {
    let api = api().await;
    api.store.pool().close().await;
    let r = api
        .send(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.raw);
    assert_eq!(r.body["components"]["postgres"]["ok"], false);
    // A data route answers 503 in our error shape, not a 500 with details.
    let r = api.call("GET", "/api/tenants", None).await;
    assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
}

#[tokio::test]
async fn unknown_routes_and_methods_use_the_error_shape() {
    let api = api().await;
    let r = api
        .send(Request::get("/nope").body(Body::empty()).unwrap())
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = api.call("GET", "/api/nope", None).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = api.call("DELETE", "/api/tenants", None).await;
    assert_error(&r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let r = api.call("GET", "/api/tenants/not-a-uuid", None).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = api
        .call(
            "GET",
            &format!("/api/tenants/{}", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn oversized_body_is_413() {
    let api = api().await;
    let big = format!("{{\"name\": \"{}\"}}", "a".repeat(70 * 1024));
    let r = api.raw_call("POST", "/api/tenants", &big).await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    // Just under the limit is parsed (and refused for its content, not its size).
    let near = format!("{{\"name\": \"{}\"}}", "a".repeat(60 * 1024));
    let r = api.raw_call("POST", "/api/tenants", &near).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test]
async fn phone_numbers_normalise_and_conflict() {
    let api = api().await;
    let a = api.tenant("A").await;
    let b = api.tenant("B").await;
    let r = api
        .call(
            "POST",
            &format!("/api/tenants/{a}/phone-numbers"),
            Some(json!({"did_number": "+91 80 1234 5678", "provider_type": "tata"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    assert_eq!(r.body["did_number"], "+918012345678");
    assert_eq!(r.body["provider_type"], "tata");
    assert_eq!(r.body["is_active"], true);
    let nid = r.body["id"].as_str().unwrap().to_string();

    // The same DID in other shapes is the same number, for this tenant or any other.
    for (tenant, raw) in [
        (&a, "080-1234-5678"),
        (&b, "918012345678"),
        (&b, "+918012345678"),
    ] {
        let r = api
            .call(
                "POST",
                &format!("/api/tenants/{tenant}/phone-numbers"),
                Some(json!({"did_number": raw})),
            )
            .await;
        assert_error(&r, StatusCode::CONFLICT, "conflict");
    }
    for raw in [
        "hello",
        "12",
        "+1 (555) 0000 0000 0000",
        "",
        "+91 80 1234 567x",
    ] {
        let r = api
            .call(
                "POST",
                &format!("/api/tenants/{a}/phone-numbers"),
                Some(json!({"did_number": raw})),
            )
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    }
    let r = api
        .call(
            "POST",
            &format!("/api/tenants/{a}/phone-numbers"),
            Some(json!({"did_number": "08011112222", "provider_type": "sip"})),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");

    let r = api
        .call(
            "PATCH",
            &format!("/api/tenants/{a}/phone-numbers/{nid}"),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["is_active"], false);
    let r = api
        .call(
            "PATCH",
            &format!("/api/tenants/{a}/phone-numbers/{nid}"),
            Some(json!({"did_number": "080 9999 0000"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["did_number"], "+918099990000");

    let r = api
        .call("GET", &format!("/api/tenants/{a}/phone-numbers"), None)
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let r = api
        .call(
            "DELETE",
            &format!("/api/tenants/{a}/phone-numbers/{nid}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api
        .call(
            "GET",
            &format!("/api/tenants/{a}/phone-numbers/{nid}"),
            None,
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    // Freed: another tenant may now take the old number.
    let r = api
        .call(
            "POST",
            &format!("/api/tenants/{b}/phone-numbers"),
            Some(json!({"did_number": "918099990000"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

fn profile(prompt: &str) -> Value {
    json!({"name": "Front desk", "system_prompt": prompt, "greeting": "Hello!", "role": "receptionist"})
}

#[tokio::test]
async fn ai_profiles_rules_and_defaults() {
    let api = api().await;
    let t = api.tenant("T").await;
    let base = format!("/api/tenants/{t}/ai-profiles");
    let r = api
        .call("POST", &base, Some(profile("You are helpful.")))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    assert_eq!(
        r.body["is_default"], true,
        "the first profile becomes the default"
    );
    assert_eq!(r.body["max_turns"], 20);
    assert_eq!(r.body["max_duration_seconds"], 300);
    assert_eq!(r.body["endpointing_silence_ms"], 600);
    assert_eq!(r.body["language"], "en");
    let first = r.body["id"].as_str().unwrap().to_string();

    let r = api.call("POST", &base, Some(profile("Second."))).await;
    assert_eq!(r.body["is_default"], false);
    let second = r.body["id"].as_str().unwrap().to_string();

    for body in [
        profile("   \n\t "),
        json!({"name": "x"}),
        json!({"name": "x", "system_prompt": "p", "role": "boss"}),
        json!({"name": "x", "system_prompt": "p", "max_turns": 0}),
        json!({"name": "x", "system_prompt": "p", "max_duration_seconds": 1}),
        json!({"name": "x", "system_prompt": "p", "endpointing_silence_ms": 50}),
        json!({"name": "x", "system_prompt": "p", "is_default": "yes"}),
        json!({"name": "x", "system_prompt": "p", "tenant_id": t}),
    ] {
        let r = api.call("POST", &base, Some(body.clone())).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    }
    let r = api
        .call(
            "PATCH",
            &format!("{base}/{first}"),
            Some(json!({"system_prompt": "  "})),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");

    // Moving the default clears the old one.
    let r = api
        .call(
            "PATCH",
            &format!("{base}/{second}"),
            Some(json!({"is_default": true, "voice": "en-us", "max_turns": 5})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["is_default"], true);
    assert_eq!(r.body["voice"], "en-us");
    let r = api.call("GET", &format!("{base}/{first}"), None).await;
    assert_eq!(r.body["is_default"], false);
    // A null voice clears it; an absent one leaves it.
    let r = api
        .call(
            "PATCH",
            &format!("{base}/{second}"),
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(r.body["voice"], "en-us");
    let r = api
        .call(
            "PATCH",
            &format!("{base}/{second}"),
            Some(json!({"voice": null})),
        )
        .await;
    assert_eq!(r.body["voice"], Value::Null);

    let r = api.call("DELETE", &format!("{base}/{first}"), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api.call("GET", &base, None).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn concurrent_default_changes_leave_exactly_one_default() {
    let api = api().await;
    let t = api.tenant("T").await;
    let base = format!("/api/tenants/{t}/ai-profiles");
    let mut ids = Vec::new();
    for i in 0..6 {
        let r = api
            .call("POST", &base, Some(profile(&format!("p{i}"))))
            .await;
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    for round in 0..5 {
        let mut tasks = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let router = api.router.clone();
            let path = format!("{base}/{id}");
            let create = i % 3 == round % 3;
            let base = base.clone();
            tasks.push(tokio::spawn(async move {
                use tower::ServiceExt;
                let (method, uri, body) = if create {
                    (
                        "POST",
                        base,
                        json!({"name": "new", "system_prompt": "p", "is_default": true}),
                    )
                } else {
                    ("PATCH", path, json!({"is_default": true}))
                };
                let req = Request::builder()
                    .method(method)
                    .uri(uri)
                    .header("authorization", format!("Bearer {TOKEN}"))
                    .body(Body::from(body.to_string()))
                    .unwrap();
                router.oneshot(req).await.unwrap().status()
            }));
        }
        for t in tasks {
            let status = t.await.unwrap();
            assert!(
                status == StatusCode::OK || status == StatusCode::CREATED,
                "{status}"
            );
        }
        let r = api.call("GET", &base, None).await;
        let defaults = r
            .body
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["is_default"] == true)
            .count();
        assert_eq!(defaults, 1, "round {round}");
    }
}

#[tokio::test]
async fn another_tenants_resources_are_404_on_every_route() {
    let api = api().await;
    let a = api.tenant("A").await;
    let b = api.tenant("B").await;
    let r = api
        .call(
            "POST",
            &format!("/api/tenants/{a}/phone-numbers"),
            Some(json!({"did_number": "+918011111111"})),
        )
        .await;
    let num = r.body["id"].as_str().unwrap().to_string();
    let r = api
        .call(
            "POST",
            &format!("/api/tenants/{a}/ai-profiles"),
            Some(profile("p")),
        )
        .await;
    let prof = r.body["id"].as_str().unwrap().to_string();
    let call = insert_call(&api, &a).await;

    let missing = uuid::Uuid::new_v4().to_string();
    for id in [&num, &missing] {
        for (m, body) in [
            ("GET", None),
            ("PATCH", Some(json!({"is_active": false}))),
            ("DELETE", None),
        ] {
            let r = api
                .call(m, &format!("/api/tenants/{b}/phone-numbers/{id}"), body)
                .await;
            assert_error(&r, StatusCode::NOT_FOUND, "not_found");
        }
    }
    for id in [&prof, &missing] {
        for (m, body) in [
            ("GET", None),
            ("PATCH", Some(json!({"is_default": true}))),
            ("DELETE", None),
        ] {
            let r = api
                .call(m, &format!("/api/tenants/{b}/ai-profiles/{id}"), body)
                .await;
            assert_error(&r, StatusCode::NOT_FOUND, "not_found");
        }
    }
    for id in [&call, &missing] {
        let r = api
            .call("GET", &format!("/api/tenants/{b}/calls/{id}"), None)
            .await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    }
    // B's lists show none of A's rows.
    for list in ["phone-numbers", "ai-profiles"] {
        let r = api
            .call("GET", &format!("/api/tenants/{b}/{list}"), None)
            .await;
        assert_eq!(r.body, json!([]), "{list}");
    }
    let r = api
        .call("GET", &format!("/api/tenants/{b}/calls"), None)
        .await;
    assert_eq!(r.body["items"], json!([]));
    // A tenant that does not exist is 404 on its collections too.
    for list in ["phone-numbers", "ai-profiles", "calls"] {
        let r = api
            .call("GET", &format!("/api/tenants/{missing}/{list}"), None)
            .await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    }
    let r = api
        .call(
            "POST",
            &format!("/api/tenants/{missing}/phone-numbers"),
            Some(json!({"did_number": "+918022222222"})),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    // A's rows are untouched.
    let r = api
        .call(
            "GET",
            &format!("/api/tenants/{a}/phone-numbers/{num}"),
            None,
        )
        .await;
    assert_eq!(r.body["is_active"], true);
    let r = api
        .call("GET", &format!("/api/tenants/{a}/ai-profiles/{prof}"), None)
        .await;
    assert_eq!(r.body["is_default"], true);
}

/// Inserts a finished call with an event and two transcript turns directly.
async fn insert_call(api: &admin::Api, tenant: &str) -> String {
    let tenant = uuid::Uuid::parse_str(tenant).unwrap();
    let (id,): (uuid::Uuid,) = sqlx::query_as(
        "INSERT INTO calls (tenant_id, channel_id, caller, called, status, answered_at, ended_at, duration_ms, end_reason) \
         VALUES ($1, '1795270178.0', '+15551234567', '+918012345678', 'completed', now(), now(), 1000, 'caller_hangup') RETURNING id",
    )
    .bind(tenant)
    .fetch_one(api.store.pool())
    .await
    .unwrap();
    sqlx::query("INSERT INTO call_events (call_id, tenant_id, kind, details) VALUES ($1, $2, 'answered', '{\"x\":1}'), ($1, $2, 'hangup', '{}')")
        .bind(id)
        .bind(tenant)
        .execute(api.store.pool())
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO transcript_turns (call_id, tenant_id, seq, speaker, text, start_ms, end_ms) \
         VALUES ($1, $2, 1, 'caller', 'hi', 500, 900), ($1, $2, 0, 'agent', 'Hello!', 0, 400)",
    )
    .bind(id)
    .bind(tenant)
    .execute(api.store.pool())
    .await
    .unwrap();
    id.to_string()
}

#[tokio::test]
async fn call_detail_has_events_and_transcript_in_order() {
    let api = api().await;
    let t = api.tenant("T").await;
    let id = insert_call(&api, &t).await;
    let r = api
        .call("GET", &format!("/api/tenants/{t}/calls/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["status"], "completed");
    assert_eq!(r.body["events"][0]["kind"], "answered");
    assert_eq!(r.body["events"][1]["kind"], "hangup");
    assert_eq!(r.body["transcript"][0]["speaker"], "agent");
    assert_eq!(r.body["transcript"][1]["text"], "hi");
}

#[tokio::test]
async fn call_list_filters_and_pages() {
    let api = api().await;
    let t = api.tenant("T").await;
    let tid = uuid::Uuid::parse_str(&t).unwrap();
    // 7 calls a minute apart; every third one rejected.
    for i in 0..7i32 {
        let status = if i % 3 == 0 { "rejected" } else { "completed" };
        sqlx::query(
            "INSERT INTO calls (tenant_id, channel_id, status, started_at, ended_at) \
             VALUES ($1, $2, $3, '2026-11-21T10:00:00Z'::timestamptz + make_interval(mins => $4), now())",
        )
        .bind(tid)
        .bind(format!("c{i}"))
        .bind(status)
        .bind(i)
        .execute(api.store.pool())
        .await
        .unwrap();
    }
    let base = format!("/api/tenants/{t}/calls");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{base}?limit=3&cursor={c}"),
            None => format!("{base}?limit=3"),
        };
        let r = api.call("GET", &path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
        for c in r.body["items"].as_array().unwrap() {
            seen.push(c["channel_id"].as_str().unwrap().to_string());
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["c6", "c5", "c4", "c3", "c2", "c1", "c0"]);

    let r = api
        .call("GET", &format!("{base}?status=rejected"), None)
        .await;
    let ids: Vec<_> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["channel_id"].clone())
        .collect();
    assert_eq!(ids, [json!("c6"), json!("c3"), json!("c0")]);
    let r = api
        .call(
            "GET",
            &format!("{base}?from=2026-11-21T10:02:00Z&to=2026-11-21T10:05:00Z"),
            None,
        )
        .await;
    let ids: Vec<_> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["channel_id"].clone())
        .collect();
    assert_eq!(ids, [json!("c4"), json!("c3"), json!("c2")]);
    for bad in [
        "?status=lost",
        "?limit=0",
        "?limit=201",
        "?limit=x",
        "?from=yesterday",
        "?cursor=garbage",
    ] {
        let r = api.call("GET", &format!("{base}{bad}"), None).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    }
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let api = api().await;
    let r = api.call("GET", "/api/openapi.json", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths = &r.body["paths"];
    for (path, methods) in [
        ("/api/tenants", &["get", "post"][..]),
        ("/api/tenants/{id}", &["get", "patch"]),
        ("/api/tenants/{tid}/phone-numbers", &["get", "post"]),
        (
            "/api/tenants/{tid}/phone-numbers/{id}",
            &["get", "patch", "delete"],
        ),
        ("/api/tenants/{tid}/ai-profiles", &["get", "post"]),
        (
            "/api/tenants/{tid}/ai-profiles/{id}",
            &["get", "patch", "delete"],
        ),
        ("/api/tenants/{tid}/calls", &["get"]),
        ("/api/tenants/{tid}/calls/{id}", &["get"]),
        ("/healthz", &["get"]),
        ("/readyz", &["get"]),
        ("/api/openapi.json", &["get"]),
    ] {
        for m in methods {
            assert!(paths[path][m].is_object(), "{m} {path} missing");
        }
    }
    for schema in [
        "Tenant",
        "NewTenant",
        "TenantPatch",
        "PhoneNumber",
        "AiProfile",
        "CallDetail",
        "CallPage",
        "ErrorBody",
    ] {
        assert!(
            r.body["components"]["schemas"][schema].is_object(),
            "schema {schema} missing"
        );
    }
}

#[tokio::test]
async fn errors_never_leak_sql() {
    let api = api().await;
    let t = api.tenant("T").await;
    // A value the handler lets through but a database rule refuses.
    let r = api
        .call(
            "POST",
            &format!("/api/tenants/{t}/ai-profiles"),
            Some(json!({"name": "x".repeat(201), "system_prompt": "p"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    for word in ["SELECT", "INSERT", "sqlx", "violates", "postgres"] {
        assert!(!r.raw.contains(word), "{word} in {}", r.raw);
    }
}

#[tokio::test]
async fn readiness_includes_ari_when_the_daemon_runs_calls() {
    use vca_bridge::ari::{ConnectionState, DisconnectReason};
    let (store, _) = db::store().await;
    let redis =
        vca_bridge::store::redis::RedisPool::new(&vca_bridge::config::Secret::new(db::redis_url()))
            .unwrap();
    let (tx, rx) = tokio::sync::watch::channel(ConnectionState::Disconnected {
        reason: DisconnectReason::NotYetAvailable {
            detail: "connection refused".into(),
        },
        retry_in: std::time::Duration::from_millis(200),
    });
    let state = vca_bridge::admin::AppState::new(
        store.clone(),
        redis,
        vca_bridge::config::Secret::new(TOKEN),
        91,
    )
    .with_ari_state(rx);
    let api = admin::Api {
        router: vca_bridge::admin::router(state),
        store,
    };
    let r = api
        .send(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.raw);
    assert_eq!(r.body["components"]["ari"]["ok"], false);
    tx.send(ConnectionState::Connected {
        since: tokio::time::Instant::now(),
    })
    .unwrap();
    let r = api
        .send(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["components"]["ari"]["ok"], true);
}
