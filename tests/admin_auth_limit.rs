//! Failed authentications through the daemon's real socket: after ten from one address in
//! a minute, that address gets 429 with `Retry-After`, even with the right token; the
//! presented token never reaches the log.

use crate::support::daemon::{TOKEN, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_that_keeps_failing_is_locked_out_for_a_while() {
    let w = World::new().await;
    let admin = w.daemon.as_ref().unwrap().admin;
    let client = reqwest::Client::new();
    let get = |token: &'static str| {
        client
            .get(format!("http://{admin}/api/tenants"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(get(TOKEN).await.unwrap().status(), 200);
    for _ in 0..10 {
        assert_eq!(get("guess-guess-guess").await.unwrap().status(), 401);
    }
    let r = get("guess-guess-guess").await.unwrap();
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_requests");
    // Locked out means locked out: the right token waits too.
    assert_eq!(get(TOKEN).await.unwrap().status(), 429);
    // Health and readiness are not behind the token.
    let r = client
        .get(format!("http://{admin}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
