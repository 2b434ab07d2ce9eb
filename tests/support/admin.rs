//! The admin API as a test drives it: the router over a fresh database and the real Redis,
//! called with `oneshot` (no socket), and the shape of its error bodies.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use vca_bridge::admin::{AppState, router};
use vca_bridge::config::Secret;
use vca_bridge::store::Store;
use vca_bridge::store::redis::RedisPool;

use super::db;

/// The admin token of every API under test.
pub const TOKEN: &str = "test-admin-token-0123456789";

/// The admin API over a fresh database and the real Redis.
pub struct Api {
    pub router: Router,
    pub store: Store,
}

/// The admin API with the real Redis.
pub async fn api() -> Api {
    api_with_redis(&db::redis_url()).await
}

/// The admin API with Redis at `redis` (a closed port: Redis down).
pub async fn api_with_redis(redis: &str) -> Api {
    build(redis, false).await
}

/// The admin API letting webhooks point at private addresses (`VCA_WEBHOOK_ALLOW_PRIVATE`).
pub async fn api_allowing_private_webhooks() -> Api {
    build(&db::redis_url(), true).await
}

async fn build(redis: &str, allow_private: bool) -> Api {
    let (store, _) = db::store().await;
    let redis = RedisPool::new(&Secret::new(redis)).unwrap();
    let state = AppState::new(store.clone(), redis, Secret::new(TOKEN), 91)
        .with_webhook_allow_private(allow_private);
    Api {
        router: router(state),
        store,
    }
}

/// A response: status and JSON body (Null when empty or not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub raw: String,
}

impl Api {
    pub async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let raw = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp { status, body, raw }
    }

    /// A request with the right token and an optional JSON body.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        let builder = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/json");
        let body = match body {
            Some(v) => Body::from(v.to_string()),
            None => Body::empty(),
        };
        self.send(builder.body(body).unwrap()).await
    }

    pub async fn raw_call(&self, method: &str, path: &str, body: &str) -> Resp {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(req).await
    }

    /// Creates a tenant and returns its id.
    pub async fn tenant(&self, name: &str) -> String {
        let r = self
            .call(
                "POST",
                "/api/tenants",
                Some(serde_json::json!({"name": name})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }
}

/// Asserts the error shape and code.
pub fn assert_error(r: &Resp, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "body: {}", r.raw);
    assert_eq!(r.body["error"]["code"], code, "body: {}", r.raw);
    assert!(r.body["error"]["message"].is_string(), "body: {}", r.raw);
}
