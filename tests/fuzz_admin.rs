//! The admin API under random bodies: every POST and PATCH route gets mutants of a valid
//! body (the JSON-aware and byte mutations of `vca_bridge::fuzz`, from a fixed seed) through
//! the real router over PostgreSQL and Redis, and must answer each with our error shape or
//! a success — never a 5xx, never a panic. The bounded run is part of the suite;
//! `scripts/fuzz admin SECONDS` runs the ignored long one.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use vca_bridge::fuzz::{json as json_mutation, mutate};

use crate::support::admin::{Api, api_allowing_private_webhooks};

/// Requests in the bounded run.
const CI_INPUTS: u64 = 600;

/// Words the mutations insert: the bodies' field names and values of their enums.
const WORDS: &[&[u8]] = &[
    b"name",
    b"status",
    b"plan",
    b"max_concurrent_calls",
    b"did_number",
    b"provider_type",
    b"is_active",
    b"role",
    b"lines",
    b"max_turns",
    b"max_duration_seconds",
    b"endpointing_silence_ms",
    b"system_prompt",
    b"greeting",
    b"language",
    b"languages",
    b"voice",
    b"llm_model",
    b"temperature",
    b"max_call_seconds",
    b"kind",
    b"endpoint",
    b"context",
    b"extension",
    b"priority",
    b"ring_timeout_seconds",
    b"announce",
    b"description",
    b"parameters",
    b"url",
    b"secret",
    b"timeout_ms",
    b"events",
    b"enabled",
    b"call.ended",
    b"call.summarized",
    b"dialplan",
    b"suspended",
    b"deleted",
    b"growth",
    b"tata",
    b"hi-IN",
    b"PJSIP/1001",
    b"\"type\"",
    b"\"object\"",
    b"\"properties\"",
    b"\"required\"",
    b"\"$ref\"",
    b"\"pattern\"",
    b"00000000-0000-0000-0000-000000000000",
];

/// A route and a body it accepts.
struct Route {
    method: &'static str,
    path: String,
    body: Value,
}

async fn created(api: &Api, path: &str, body: Value) -> String {
    let r = api.call("POST", path, Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.raw);
    r.body["id"].as_str().unwrap().to_string()
}

/// Every POST and PATCH route, with the resources their paths name created first.
async fn routes(api: &Api) -> Vec<Route> {
    let tid = api.tenant("Fuzzed").await;
    let other = api.tenant("Patched").await;
    let t = format!("/api/tenants/{tid}");
    let profile = json!({"name": "Front desk", "system_prompt": "You are helpful.",
                         "greeting": "Hello!", "language": "hi-IN"});
    let pid = created(api, &format!("{t}/ai-profiles"), profile.clone()).await;
    let number = json!({"did_number": "+91 80 1234 5678", "provider_type": "tata",
                        "is_active": true});
    let nid = created(api, &format!("{t}/phone-numbers"), number.clone()).await;
    let target = json!({"name": "desk", "kind": "endpoint", "endpoint": "PJSIP/1001",
                        "ring_timeout_seconds": 30, "announce": "One moment."});
    let xid = created(api, &format!("{t}/transfer-targets"), target.clone()).await;
    let tool = json!({"name": "book_table", "description": "Books a table.",
                      "parameters": {"type": "object",
                                     "properties": {"party_size": {"type": "integer"}},
                                     "required": ["party_size"]},
                      "url": "https://127.0.0.1:9/book", "secret": "s3cret-value",
                      "timeout_ms": 3000});
    let oid = created(api, &format!("{t}/tools"), tool.clone()).await;
    let hook = json!({"url": "http://127.0.0.1:9/hook", "events": ["call.ended"],
                      "secret": "whsec-1"});
    let wid = created(api, &format!("{t}/webhooks"), hook.clone()).await;
    let call = "00000000-0000-4000-8000-000000000001";
    let r = |method, path: String, body: Value| Route { method, path, body };
    vec![
        r(
            "POST",
            "/api/tenants".into(),
            json!({"name": "Acme", "plan": "growth", "max_concurrent_calls": 5}),
        ),
        r(
            "PATCH",
            format!("/api/tenants/{other}"),
            json!({"status": "suspended", "plan": "growth", "max_concurrent_calls": 12, "name": "P"}),
        ),
        r("POST", format!("{t}/ai-profiles"), profile.clone()),
        r("PATCH", format!("{t}/ai-profiles/{pid}"), profile),
        r("POST", format!("{t}/phone-numbers"), number.clone()),
        r(
            "PATCH",
            format!("{t}/phone-numbers/{nid}"),
            json!({"is_active": false, "provider_type": "tata"}),
        ),
        r("POST", format!("{t}/transfer-targets"), target.clone()),
        r("PATCH", format!("{t}/transfer-targets/{xid}"), target),
        r("POST", format!("{t}/tools"), tool.clone()),
        r("PATCH", format!("{t}/tools/{oid}"), tool),
        r("POST", format!("{t}/webhooks"), hook.clone()),
        r("PATCH", format!("{t}/webhooks/{wid}"), hook),
        r("POST", format!("{t}/calls/{call}/hangup"), json!({})),
    ]
}

/// What a run did.
struct Tally {
    inputs: u64,
    by_status: std::collections::BTreeMap<u16, u64>,
    failures: Vec<String>,
    slowest: Duration,
}

/// Sends mutants until `done` says stop.
async fn fuzz(seed: u64, mut done: impl FnMut(u64) -> bool) -> Tally {
    let api = api_allowing_private_webhooks().await;
    let routes = routes(&api).await;
    let seeds: Vec<Vec<u8>> = routes
        .iter()
        .map(|r| r.body.to_string().into_bytes())
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tally = Tally {
        inputs: 0,
        by_status: Default::default(),
        failures: Vec::new(),
        slowest: Duration::ZERO,
    };
    while !done(tally.inputs) {
        let i = rng.random_range(0..routes.len());
        let route = &routes[i];
        let body = match rng.random_range(0..8) {
            0..=3 => json_mutation::mutate(&mut rng, &seeds[i], WORDS).unwrap_or_default(),
            4..=6 => {
                let mut b = seeds[i].clone();
                let other = &seeds[rng.random_range(0..seeds.len())];
                mutate::mutate(&mut rng, &mut b, other, WORDS, 8192);
                b
            }
            _ => (0..rng.random_range(0..64)).map(|_| rng.random()).collect(),
        };
        let text = String::from_utf8_lossy(&body).into_owned();
        let t0 = Instant::now();
        let r = api.raw_call(route.method, &route.path, &text).await;
        tally.slowest = tally.slowest.max(t0.elapsed());
        tally.inputs += 1;
        *tally.by_status.entry(r.status.as_u16()).or_default() += 1;
        let shaped = r.status.is_success() || r.body["error"]["code"].is_string();
        if (r.status.is_server_error() || !shaped) && tally.failures.len() < 16 {
            tally.failures.push(format!(
                "{} {} {text:?} -> {} {}",
                route.method, route.path, r.status, r.raw
            ));
        }
    }
    tally
}

/// Found by this fuzzer: a NUL character in any text reached PostgreSQL (which cannot store
/// it in text or jsonb) and came back as a 500; it is a 400 in our error shape.
#[tokio::test]
async fn nul_characters_are_a_bad_request_not_a_500() {
    let api = api_allowing_private_webhooks().await;
    let routes = routes(&api).await;
    for route in &routes {
        let Some(fields) = route.body.as_object() else {
            continue;
        };
        let Some(key) = fields.keys().next() else {
            continue;
        };
        let mut body = route.body.clone();
        body[key.as_str()] = json!("a\u{0}b");
        let r = api
            .raw_call(route.method, &route.path, &body.to_string())
            .await;
        assert!(
            r.status == StatusCode::BAD_REQUEST,
            "{} {} {body} -> {} {}",
            route.method,
            route.path,
            r.status,
            r.raw
        );
        assert!(r.body["error"]["code"].is_string(), "{}", r.raw);
    }
}

#[tokio::test]
async fn random_bodies_never_get_a_5xx() {
    let tally = fuzz(0x5eed, |n| n >= CI_INPUTS).await;
    assert!(tally.failures.is_empty(), "{:#?}", tally.failures);
    // The mutants reach the handlers: some are accepted, most refused by validation.
    assert!(
        tally.by_status.keys().any(|s| (200..300).contains(s)),
        "{:?}",
        tally.by_status
    );
    assert!(tally.by_status.contains_key(&422) || tally.by_status.contains_key(&400));
}

/// `scripts/fuzz admin SECONDS`: the same for `VCA_FUZZ_SECONDS` (default 60) from
/// `VCA_FUZZ_SEED` (default 1); prints the figures.
#[tokio::test]
#[ignore = "long run: scripts/fuzz admin SECONDS"]
async fn random_bodies_long_run() {
    let seconds: f64 = std::env::var("VCA_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60.0);
    let seed = std::env::var("VCA_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let started = Instant::now();
    let limit = Duration::from_secs_f64(seconds);
    let tally = fuzz(seed, |_| started.elapsed() >= limit).await;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{:<12} inputs {:>10}  time {:>7.1} s  rate {:>8.0}/s  crashes {}  hangs 0  slowest {:.1} ms",
        "admin",
        tally.inputs,
        secs,
        tally.inputs as f64 / secs,
        tally.failures.len(),
        tally.slowest.as_secs_f64() * 1000.0
    );
    println!("  statuses: {:?}", tally.by_status);
    for f in &tally.failures {
        println!("  5xx: {f}");
    }
    assert!(tally.failures.is_empty());
}
