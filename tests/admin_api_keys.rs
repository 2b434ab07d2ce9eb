//! Tenant API keys against the real PostgreSQL: the key shown once and only its hash stored;
//! each role on every `/api` route of the OpenAPI document (so a route added later is
//! covered); another tenant's ids are 404, operator routes and viewer writes 403; expired,
//! deleted and wrong keys 401, counted by the failed-authentication limit and logged without
//! what was presented; bad bodies 400.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::admin::{Api, Resp, api, api_allowing_private_webhooks, assert_error};

/// A request with `Authorization: Bearer <credential>` and an optional JSON body.
async fn send(api: &Api, credential: &str, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {credential}"))
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    api.send(req).await
}

/// Creates a key through the operator token; returns its id and the key.
/// A key split at the `_` after its id: `("vcak_<id>", secret)`. The secret is base64url
/// and may hold `_` itself, so splitting at the last `_` can leave a one-letter "secret"
/// (reversed, the same key: that made a test flaky).
fn key_parts(key: &str) -> (String, String) {
    let rest = key.strip_prefix("vcak_").unwrap();
    let (id, secret) = rest.split_once('_').unwrap();
    (format!("vcak_{id}"), secret.to_string())
}

async fn new_key(api: &Api, tid: &str, role: &str) -> (String, String) {
    let r = api
        .call(
            "POST",
            &format!("/api/tenants/{tid}/api-keys"),
            Some(json!({"name": format!("{role} key"), "role": role})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    (
        r.body["id"].as_str().unwrap().to_string(),
        r.body["key"].as_str().unwrap().to_string(),
    )
}

async fn created(api: &Api, path: &str, body: Value) -> String {
    let r = api.call("POST", path, Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.raw);
    r.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_key_is_shown_once_and_only_its_hash_is_stored() {
    let api = api().await;
    let tid = api.tenant("Acme").await;
    let r = api
        .call(
            "POST",
            &format!("/api/tenants/{tid}/api-keys"),
            Some(json!({"name": "  CRM sync  ", "role": "admin", "expires_at": "2099-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    let id = r.body["id"].as_str().unwrap().to_string();
    let key = r.body["key"].as_str().unwrap().to_string();
    assert_eq!(r.body["name"], "CRM sync");
    assert_eq!(r.body["role"], "admin");
    assert_eq!(r.body["tenant_id"], tid.as_str());
    assert_eq!(r.body["expires_at"], "2099-01-01T00:00:00Z");
    assert!(r.body["last_used_at"].is_null());
    let simple = id.replace('-', "");
    let secret = key
        .strip_prefix(&format!("vcak_{simple}_"))
        .unwrap_or_else(|| panic!("{key} is not vcak_<id>_<secret>"));
    assert_eq!(secret.len(), 43, "32 random bytes in base64url");
    let prefix = r.body["prefix"].as_str().unwrap();
    assert_eq!(prefix, format!("vcak_{}", &simple[..8]));

    // Never shown again: not in the list, not in the key's own page.
    for path in [
        format!("/api/tenants/{tid}/api-keys"),
        format!("/api/tenants/{tid}/api-keys/{id}"),
    ] {
        let r = api.call("GET", &path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
        assert!(!r.raw.contains(secret), "{path} shows the secret");
        assert!(!r.raw.contains("\"key\""), "{path}: {}", r.raw);
    }
    let r = api
        .call("GET", &format!("/api/tenants/{tid}/api-keys"), None)
        .await;
    assert_eq!(r.body["items"][0]["id"], id.as_str());
    assert_eq!(r.body["items"][0]["prefix"], prefix);

    // The row holds the SHA-256 of the secret, and nothing of the key itself.
    let (row, stored): (String, Vec<u8>) = sqlx::query_as(
        "SELECT to_jsonb(k)::text, secret_sha256 FROM api_keys k WHERE id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(api.store.pool())
    .await
    .unwrap();
    assert_eq!(stored, Sha256::digest(secret.as_bytes()).to_vec());
    assert!(!row.contains(secret), "{row}");
    assert!(!row.contains(&key), "{row}");

    // The key works, and its use is recorded.
    let r = send(
        &api,
        &key,
        "GET",
        &format!("/api/tenants/{tid}/phone-numbers"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    let r = api
        .call("GET", &format!("/api/tenants/{tid}/api-keys/{id}"), None)
        .await;
    let used = r.body["last_used_at"].clone();
    assert!(used.is_string(), "{}", r.raw);
    // Recorded at most once a minute, not on every request.
    let r = send(
        &api,
        &key,
        "GET",
        &format!("/api/tenants/{tid}/tools"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    let r = api
        .call("GET", &format!("/api/tenants/{tid}/api-keys/{id}"), None)
        .await;
    assert_eq!(r.body["last_used_at"], used);
}

/// The tenant segment of an OpenAPI path (`/api/tenants/{x}/...`): its position and whether
/// more follows, or `None` for a path not under a tenant.
fn under_tenant(path: &str) -> Option<bool> {
    let segs: Vec<&str> = path.split('/').collect();
    (segs.len() >= 4 && segs[1] == "api" && segs[2] == "tenants" && segs[3].starts_with('{'))
        .then_some(segs.len() > 4)
}

/// `path` with the tenant segment as `tid` and every other `{...}` as an id of `ids` by the
/// segment before it (a real row, so reads succeed), else a fresh uuid.
fn concrete(path: &str, tid: &str, ids: &[(&str, String)]) -> String {
    let segs: Vec<&str> = path.split('/').collect();
    let mut out: Vec<String> = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        if !s.starts_with('{') {
            out.push((*s).to_string());
        } else if i == 3 && segs[2] == "tenants" {
            out.push(tid.to_string());
        } else {
            let id = ids
                .iter()
                .find(|(collection, _)| *collection == segs[i - 1])
                .map(|(_, id)| id.clone())
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            out.push(id);
        }
    }
    out.join("/")
}

#[tokio::test]
async fn each_role_on_every_api_route_of_the_openapi_document() {
    let api = api_allowing_private_webhooks().await;
    let a = api.tenant("A").await;
    let b = api.tenant("B").await;
    let (_, admin) = new_key(&api, &a, "admin").await;
    let (key_id, viewer) = new_key(&api, &a, "viewer").await;
    // One real row of each kind in A, so a read with the right key gets 200, not 404.
    let base = format!("/api/tenants/{a}");
    let ids = vec![
        (
            "phone-numbers",
            created(&api, &format!("{base}/phone-numbers"), json!({"did_number": "+918011111111"})).await,
        ),
        (
            "ai-profiles",
            created(&api, &format!("{base}/ai-profiles"), json!({"name": "p", "system_prompt": "Be brief."})).await,
        ),
        (
            "transfer-targets",
            created(&api, &format!("{base}/transfer-targets"), json!({"name": "desk", "kind": "endpoint", "endpoint": "PJSIP/1001"})).await,
        ),
        (
            "tools",
            created(&api, &format!("{base}/tools"), json!({"name": "book", "description": "Books.",
                "parameters": {"type": "object", "properties": {}}, "url": "https://bistro.example/book", "secret": "s"})).await,
        ),
        (
            "webhooks",
            created(&api, &format!("{base}/webhooks"), json!({"url": "http://127.0.0.1:9/hook", "events": ["call.ended"], "secret": "s"})).await,
        ),
        ("api-keys", key_id),
        ("calls", insert_call(&api, &a).await),
    ];

    let doc = api.call("GET", "/api/openapi.json", None).await;
    assert_eq!(doc.status, StatusCode::OK);
    let paths = doc.body["paths"].as_object().unwrap();
    let mut checked = 0;
    let mut reads_ok = 0;
    for (path, item) in paths {
        if !path.starts_with("/api/") {
            continue;
        }
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let m = method.to_uppercase();
            let write = method != "get";
            // A real delete would leave nothing for the next credential: delete a fresh id.
            let ids_here: &[(&str, String)] = if method == "delete" { &[] } else { &ids };
            let own = concrete(path, &a, ids_here);
            let body = write.then(|| json!({}));
            let operator = api.call(&m, &own, body.clone()).await;
            assert!(
                !matches!(
                    operator.status,
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
                ),
                "operator {m} {own}: {}",
                operator.raw
            );
            let as_admin = send(&api, &admin, &m, &own, body.as_ref()).await;
            let as_viewer = send(&api, &viewer, &m, &own, body.as_ref()).await;
            match under_tenant(path) {
                // Under its own tenant: exactly what the operator gets, but a viewer writing.
                Some(true) => {
                    assert_eq!(
                        as_admin.status, operator.status,
                        "admin {m} {own}: {}",
                        as_admin.raw
                    );
                    if write {
                        assert_error(&as_viewer, StatusCode::FORBIDDEN, "forbidden");
                    } else {
                        assert_eq!(
                            as_viewer.status, operator.status,
                            "viewer {m} {own}: {}",
                            as_viewer.raw
                        );
                        reads_ok += usize::from(as_viewer.status == StatusCode::OK);
                    }
                }
                // The tenant itself: both may read it, neither change it.
                Some(false) if !write => {
                    assert_eq!(
                        as_admin.status,
                        StatusCode::OK,
                        "{m} {own}: {}",
                        as_admin.raw
                    );
                    assert_eq!(
                        as_viewer.status,
                        StatusCode::OK,
                        "{m} {own}: {}",
                        as_viewer.raw
                    );
                }
                // Operator routes.
                _ => {
                    assert_error(&as_admin, StatusCode::FORBIDDEN, "forbidden");
                    assert_error(&as_viewer, StatusCode::FORBIDDEN, "forbidden");
                }
            }
            // Another tenant's paths are 404 for both roles, like a missing tenant.
            if under_tenant(path).is_some() {
                let other = concrete(path, &b, &ids);
                for key in [&admin, &viewer] {
                    let r = send(&api, key, &m, &other, body.as_ref()).await;
                    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} operations in the document");
    assert!(
        reads_ok >= 15,
        "only {reads_ok} reads of real rows answered 200"
    );
    // B's data is untouched and A's rows are still there.
    let r = api
        .call("GET", &format!("/api/tenants/{b}/api-keys"), None)
        .await;
    assert_eq!(r.body["items"], json!([]));
    let r = api
        .call("GET", &format!("{base}/phone-numbers/{}", ids[0].1), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

/// Inserts a finished call of `tenant` directly; returns its id.
async fn insert_call(api: &Api, tenant: &str) -> String {
    let (id,): (uuid::Uuid,) = sqlx::query_as(
        "INSERT INTO calls (tenant_id, channel_id, caller, called, status, answered_at, ended_at, duration_ms, end_reason) \
         VALUES ($1::uuid, '1795270178.0', '+15551234567', '+918011111111', 'completed', now(), now(), 1000, 'caller_hangup') RETURNING id",
    )
    .bind(tenant)
    .fetch_one(api.store.pool())
    .await
    .unwrap();
    id.to_string()
}

#[tokio::test]
async fn an_admin_key_manages_its_tenant_and_a_viewer_only_reads() {
    let api = api().await;
    let a = api.tenant("A").await;
    let (_, admin) = new_key(&api, &a, "admin").await;
    let (_, viewer) = new_key(&api, &a, "viewer").await;
    let numbers = format!("/api/tenants/{a}/phone-numbers");
    let body = json!({"did_number": "+918022222222"});
    let r = send(&api, &viewer, "POST", &numbers, Some(&body)).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = send(&api, &admin, "POST", &numbers, Some(&body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    let num = r.body["id"].as_str().unwrap().to_string();
    let r = send(&api, &viewer, "GET", &numbers, None).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1, "{}", r.raw);
    let r = send(&api, &viewer, "DELETE", &format!("{numbers}/{num}"), None).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = send(&api, &admin, "DELETE", &format!("{numbers}/{num}"), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);

    // An admin key manages its tenant's keys, a viewer cannot make one.
    let keys = format!("/api/tenants/{a}/api-keys");
    let new = json!({"name": "ci", "role": "viewer"});
    let r = send(&api, &viewer, "POST", &keys, Some(&new)).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = send(&api, &admin, "POST", &keys, Some(&new)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    let made = r.body["key"].as_str().unwrap().to_string();
    let made_id = r.body["id"].as_str().unwrap().to_string();
    let r = send(&api, &made, "GET", &numbers, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(&api, &admin, "DELETE", &format!("{keys}/{made_id}"), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = send(&api, &made, "GET", &numbers, None).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");

    // The tenant itself: readable, not changeable (status, plan and limit are the operator's).
    let r = send(&api, &admin, "GET", &format!("/api/tenants/{a}"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(
        &api,
        &admin,
        "PATCH",
        &format!("/api/tenants/{a}"),
        Some(&json!({"max_concurrent_calls": 9999})),
    )
    .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = api.call("GET", &format!("/api/tenants/{a}"), None).await;
    assert_eq!(r.body["max_concurrent_calls"], 5);
}

#[tokio::test]
async fn operator_routes_are_403_and_health_is_unchanged() {
    let api = api().await;
    let a = api.tenant("A").await;
    let (_, admin) = new_key(&api, &a, "admin").await;
    for (m, path, body) in [
        ("GET", "/api/tenants".to_string(), None),
        (
            "POST",
            "/api/tenants".to_string(),
            Some(json!({"name": "Mine"})),
        ),
        ("GET", "/api/usage".to_string(), None),
        ("GET", "/api/calls/live".to_string(), None),
        ("GET", "/api/openapi.json".to_string(), None),
        ("GET", "/api/no-such-route".to_string(), None),
        ("DELETE", format!("/api/tenants/{a}"), None),
        (
            "PATCH",
            format!("/api/tenants/{a}"),
            Some(json!({"status": "active"})),
        ),
    ] {
        let r = send(&api, &admin, m, &path, body.as_ref()).await;
        assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    }
    let r = api.call("GET", "/api/tenants", None).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1, "no tenant was made");
    for path in ["/healthz", "/readyz", "/metrics"] {
        let with_key = send(&api, &admin, "GET", path, None).await;
        let without = api
            .send(Request::builder().uri(path).body(Body::empty()).unwrap())
            .await;
        assert_eq!(with_key.status, without.status, "{path}");
        assert_ne!(without.status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

#[tokio::test]
async fn another_tenants_id_in_any_spelling_is_404() {
    let api = api().await;
    let a = api.tenant("A").await;
    let b = api.tenant("B").await;
    let (_, admin) = new_key(&api, &a, "admin").await;
    let b_num = created(
        &api,
        &format!("/api/tenants/{b}/phone-numbers"),
        json!({"did_number": "+918033333333"}),
    )
    .await;
    let spellings = |id: &str| {
        let u = uuid::Uuid::parse_str(id).unwrap();
        let encoded: String = id.bytes().map(|c| format!("%{c:02X}")).collect();
        vec![
            id.to_string(),
            id.to_uppercase(),
            u.simple().to_string(),
            format!("urn:uuid:{id}"),
            encoded,
            format!("%{:02x}{}", id.as_bytes()[0], &id[1..]),
        ]
    };
    for s in spellings(&b) {
        for (m, path) in [
            ("GET", format!("/api/tenants/{s}/phone-numbers")),
            ("GET", format!("/api/tenants/{s}/phone-numbers/{b_num}")),
            ("DELETE", format!("/api/tenants/{s}/phone-numbers/{b_num}")),
            ("GET", format!("/api/tenants/{s}")),
            ("GET", format!("/api/tenants/{s}/api-keys")),
        ] {
            let r = send(&api, &admin, m, &path, None).await;
            assert_error(&r, StatusCode::NOT_FOUND, "not_found");
        }
    }
    let r = api
        .call(
            "GET",
            &format!("/api/tenants/{b}/phone-numbers/{b_num}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "B's number is still there");
    // Its own id, however spelt, is its own.
    for s in spellings(&a) {
        let r = send(
            &api,
            &admin,
            "GET",
            &format!("/api/tenants/{s}/phone-numbers"),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{s}: {}", r.raw);
    }
    let r = send(
        &api,
        &admin,
        "GET",
        "/api/tenants/not-a-uuid/phone-numbers",
        None,
    )
    .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn expired_deleted_and_wrong_keys_are_401() {
    let api = api().await;
    let a = api.tenant("A").await;
    let numbers = format!("/api/tenants/{a}/phone-numbers");
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let r = api
        .call(
            "POST",
            &format!("/api/tenants/{a}/api-keys"),
            Some(json!({"name": "short", "role": "viewer", "expires_at": soon})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    let short = r.body["key"].as_str().unwrap().to_string();
    assert_eq!(
        send(&api, &short, "GET", &numbers, None).await.status,
        StatusCode::OK
    );
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let r = send(&api, &short, "GET", &numbers, None).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");

    let (id, key) = new_key(&api, &a, "admin").await;
    assert_eq!(
        send(&api, &key, "GET", &numbers, None).await.status,
        StatusCode::OK
    );
    let r = api
        .call("DELETE", &format!("/api/tenants/{a}/api-keys/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = send(&api, &key, "GET", &numbers, None).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    let r = api
        .call("DELETE", &format!("/api/tenants/{a}/api-keys/{id}"), None)
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");

    let (_, good) = new_key(&api, &a, "admin").await;
    let (head, secret) = key_parts(&good);
    let flipped = if secret.starts_with('A') { "B" } else { "A" };
    for bad in [
        format!("{head}_{flipped}{}", &secret[1..]),
        format!("{head}_{secret}x"),
        format!("{head}_"),
        format!("vcak_{}_{secret}", uuid::Uuid::new_v4().simple()),
        good.to_uppercase(),
        "vcak_".to_string(),
    ] {
        let r = send(&api, &bad, "GET", &numbers, None).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    assert_eq!(
        send(&api, &good, "GET", &numbers, None).await.status,
        StatusCode::OK
    );

    // A tenant marked deleted has its keys refused (and restored, accepted again).
    for (status, expected) in [
        ("deleted", StatusCode::UNAUTHORIZED),
        ("active", StatusCode::OK),
    ] {
        let r = api
            .call(
                "PATCH",
                &format!("/api/tenants/{a}"),
                Some(json!({"status": status})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
        assert_eq!(
            send(&api, &good, "GET", &numbers, None).await.status,
            expected,
            "{status}"
        );
    }

    // Deleting the tenant deletes its keys.
    let c = api.tenant("C").await;
    let (_, c_key) = new_key(&api, &c, "admin").await;
    sqlx::query("DELETE FROM tenants WHERE id = $1::uuid")
        .bind(&c)
        .execute(api.store.pool())
        .await
        .unwrap();
    let (left,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM api_keys WHERE tenant_id = $1::uuid")
            .bind(&c)
            .fetch_one(api.store.pool())
            .await
            .unwrap();
    assert_eq!(left, 0);
    let r = send(
        &api,
        &c_key,
        "GET",
        &format!("/api/tenants/{c}/phone-numbers"),
        None,
    )
    .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn wrong_keys_count_towards_the_lockout_and_forbidden_requests_do_not() {
    let api = api().await;
    let a = api.tenant("A").await;
    let (_, key) = new_key(&api, &a, "viewer").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = api
        .router
        .clone()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    let client = reqwest::Client::new();
    let get = |credential: String, path: String| {
        client
            .get(format!("http://{addr}{path}"))
            .bearer_auth(credential)
            .send()
    };
    let numbers = format!("/api/tenants/{a}/phone-numbers");
    // A valid key where it may not go is no failed authentication.
    for _ in 0..15 {
        let r = get(key.clone(), "/api/usage".into()).await.unwrap();
        assert_eq!(r.status(), 403);
    }
    assert_eq!(
        get(key.clone(), numbers.clone()).await.unwrap().status(),
        200
    );
    let (head, _) = key_parts(&key);
    let wrong = format!("{head}_{}", "A".repeat(43));
    for _ in 0..10 {
        assert_eq!(
            get(wrong.clone(), numbers.clone()).await.unwrap().status(),
            401
        );
    }
    let r = get(key.clone(), numbers.clone()).await.unwrap();
    assert_eq!(r.status(), 429, "locked out, even with the right key");
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn bad_bodies_are_400() {
    let api = api().await;
    let a = api.tenant("A").await;
    let path = format!("/api/tenants/{a}/api-keys");
    for body in [
        json!({"role": "admin"}),
        json!({"name": "x"}),
        json!({"name": "   ", "role": "admin"}),
        json!({"name": "x", "role": "owner"}),
        json!({"name": "x", "role": "Admin"}),
        json!({"name": "x", "role": "admin", "expires_at": "2020-01-01T00:00:00Z"}),
        json!({"name": "x", "role": "admin", "expires_at": "tomorrow"}),
        json!({"name": "x", "role": "admin", "expires_at": 1}),
        json!({"name": "x", "role": "admin", "key": "vcak_mine"}),
        json!({"name": "x", "role": "admin", "tenant_id": a}),
        json!({"name": "x".repeat(201), "role": "admin"}),
    ] {
        let r = api.call("POST", &path, Some(body.clone())).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    }
    let r = api.call("GET", &path, None).await;
    assert_eq!(r.body["items"], json!([]), "nothing was made");
    let missing = uuid::Uuid::new_v4();
    let r = api
        .call(
            "POST",
            &format!("/api/tenants/{missing}/api-keys"),
            Some(json!({"name": "x", "role": "admin"})),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn the_list_pages_newest_first() {
    let api = api().await;
    let a = api.tenant("A").await;
    let mut made = Vec::new();
    for role in ["admin", "viewer", "admin"] {
        made.push(new_key(&api, &a, role).await.0);
    }
    let base = format!("/api/tenants/{a}/api-keys");
    let r = api.call("GET", &format!("{base}?limit=2"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    let first: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(first, [made[2].as_str(), made[1].as_str()]);
    let cursor = r.body["next_cursor"].as_str().unwrap().to_string();
    let r = api
        .call("GET", &format!("{base}?limit=2&cursor={cursor}"), None)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["items"][0]["id"], made[0].as_str());
    assert!(r.body["next_cursor"].is_null());
    for q in ["limit=0", "limit=201", "cursor=nope"] {
        let r = api.call("GET", &format!("{base}?{q}"), None).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    }
}

#[tokio::test]
async fn openapi_documents_the_key_routes_and_403() {
    let api = api().await;
    let r = api.call("GET", "/api/openapi.json", None).await;
    let paths = &r.body["paths"];
    for (path, methods) in [
        ("/api/tenants/{tid}/api-keys", &["get", "post"][..]),
        ("/api/tenants/{tid}/api-keys/{id}", &["get", "delete"]),
    ] {
        for m in methods {
            assert!(paths[path][m].is_object(), "{m} {path} missing");
        }
    }
    for schema in ["ApiKey", "NewApiKey", "CreatedApiKey", "ApiKeyPage"] {
        assert!(
            r.body["components"]["schemas"][schema].is_object(),
            "{schema} missing"
        );
    }
    for (path, item) in paths.as_object().unwrap() {
        if !path.starts_with("/api/") {
            continue;
        }
        for (m, op) in item.as_object().unwrap() {
            for status in ["401", "403"] {
                assert!(
                    op["responses"][status].is_object(),
                    "{m} {path} lacks {status}"
                );
            }
        }
    }
}

/// Log lines written while the guard of [`capture_logs`] lives (this thread only).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn a_wrong_key_is_logged_without_what_was_presented() {
    let api = api().await;
    let a = api.tenant("A").await;
    let (_, key) = new_key(&api, &a, "admin").await;
    let (head, secret) = key_parts(&key);
    // Another secret of the same form: its first letter changed.
    let flipped = if secret.starts_with('A') { "B" } else { "A" };
    let wrong_secret = format!("{flipped}{}", &secret[1..]);
    let wrong = format!("{head}_{wrong_secret}");
    let (logs, guard) = capture_logs();
    let r = send(
        &api,
        &wrong,
        "GET",
        &format!("/api/tenants/{a}/tools"),
        None,
    )
    .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    drop(guard);
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("authentication failed"), "{text}");
    assert!(text.contains("tenant key"), "{text}");
    for part in [
        wrong.as_str(),
        wrong_secret.as_str(),
        secret.as_str(),
        head.as_str(),
    ] {
        assert!(!text.contains(part), "the log shows {part}: {text}");
    }
}
