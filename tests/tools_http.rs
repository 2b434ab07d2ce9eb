//! The tenant HTTP tool executor against fake tool servers (axum on 127.0.0.1:0): a signed
//! call whose receiver checks the signature and the idempotency key, a slow tool (timeout),
//! one whose body trickles past the timeout, a failing one (500), huge bodies (declared and
//! streamed), a text body, an empty one, a redirect, invalid and non-JSON arguments and an
//! unknown tool name (no request made), an unreachable port and a server that does not
//! speak HTTP.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;
use vca_bridge::secret::Secret;
use vca_bridge::tools::{
    EMPTY_RESULT, HttpTool, MAX_RESULT_BYTES, ToolCall, ToolCallContext, ToolDefinition,
    ToolExecutor, ToolFailure, ToolOutcome, verify,
};

const SECRET: &str = "whsec_bistro";

/// One request as the fake tool received it.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    content_type: Option<String>,
    idempotency_key: Option<String>,
    signature: Option<String>,
    signature_ok: bool,
    body: Value,
}

type Log = Arc<Mutex<Vec<Received>>>;

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn record(log: &Log, path: &str, headers: &HeaderMap, body: &Bytes) -> bool {
    let signature = header_str(headers, "x-vca-signature");
    let signature_ok = signature
        .as_deref()
        .is_some_and(|s| verify(SECRET.as_bytes(), s, body, Duration::from_secs(300)));
    log.lock().unwrap().push(Received {
        path: path.to_owned(),
        content_type: header_str(headers, "content-type"),
        idempotency_key: header_str(headers, "idempotency-key"),
        signature,
        signature_ok,
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
    });
    signature_ok
}

/// A receiver as a tenant would write it: 401 unless the signature verifies and the
/// idempotency key is `<call_id>:<tool call id>` of the body's call.
async fn book(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> Response {
    let signed = record(&log, "/book", &headers, &body);
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let key = header_str(&headers, "idempotency-key").unwrap_or_default();
    let key_ok = parsed["call_id"]
        .as_str()
        .is_some_and(|call| key.starts_with(&format!("{call}:")) && key.len() > call.len() + 1);
    if !signed || !key_ok {
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    let party = parsed["arguments"]["party_size"].as_i64().unwrap_or(0);
    (
        [(header::CONTENT_TYPE, "application/json")],
        json!({"booked": true, "table": 12, "party_size": party}).to_string(),
    )
        .into_response()
}

async fn slow(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> Response {
    record(&log, "/slow", &headers, &body);
    tokio::time::sleep(Duration::from_secs(3)).await;
    "late".into_response()
}

/// Headers at once, then a body that trickles for seconds.
async fn slow_body(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> Response {
    record(&log, "/slow-body", &headers, &body);
    let stream = futures_util::stream::unfold(0u32, |i| async move {
        if i >= 30 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        Some((Ok::<_, std::io::Error>(Bytes::from_static(b"x")), i + 1))
    });
    Response::new(Body::from_stream(stream))
}

async fn fail(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> Response {
    record(&log, "/fail", &headers, &body);
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "Traceback (most recent call last): db password=hunter2 at 10.0.0.5",
    )
        .into_response()
}

async fn huge(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> Response {
    record(&log, "/huge", &headers, &body);
    let big = format!("{{\"menu\":\"{}\"}}", "x".repeat(1 << 20));
    ([(header::CONTENT_TYPE, "application/json")], big).into_response()
}

/// A big body without a Content-Length: 64 KiB chunks, 16 MiB in all.
async fn huge_chunked(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> Response {
    record(&log, "/huge-chunked", &headers, &body);
    let chunk = Bytes::from(vec![b'y'; 64 * 1024]);
    let stream =
        futures_util::stream::iter((0..256).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    Response::new(Body::from_stream(stream))
}

async fn exact(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> Response {
    record(&log, "/exact", &headers, &body);
    "z".repeat(MAX_RESULT_BYTES).into_response()
}

async fn text(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> Response {
    record(&log, "/text", &headers, &body);
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Booked: table 12 at 19:00 for 4.\n",
    )
        .into_response()
}

async fn empty(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> Response {
    record(&log, "/empty", &headers, &body);
    StatusCode::NO_CONTENT.into_response()
}

async fn redirect(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> Response {
    record(&log, "/redirect", &headers, &body);
    (StatusCode::FOUND, [(header::LOCATION, "/book")]).into_response()
}

async fn not_utf8(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> Response {
    record(&log, "/not-utf8", &headers, &body);
    Body::from(vec![0xff_u8, 0xfe, 0x00, 0x41]).into_response()
}

/// The fake tool server: its base URL and the requests it received.
async fn server() -> (String, Log) {
    let log = Log::default();
    let app = Router::new()
        .route("/book", post(book))
        .route("/slow", post(slow))
        .route("/slow-body", post(slow_body))
        .route("/fail", post(fail))
        .route("/huge", post(huge))
        .route("/huge-chunked", post(huge_chunked))
        .route("/exact", post(exact))
        .route("/text", post(text))
        .route("/empty", post(empty))
        .route("/redirect", post(redirect))
        .route("/not-utf8", post(not_utf8))
        .with_state(Arc::clone(&log));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), log)
}

fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "party_size": {"type": "integer", "minimum": 1, "maximum": 20},
            "time": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
            "name": {"type": "string"}
        },
        "required": ["party_size", "time"],
        "additionalProperties": false
    })
}

fn tool_at(url: &str, name: &str, timeout: Duration, secret: &str) -> HttpTool {
    HttpTool::new(&ToolDefinition {
        name: name.to_owned(),
        url: url.to_owned(),
        timeout,
        secret: Secret::new(secret),
        parameters: schema(),
    })
    .unwrap()
}

fn tool(base: &str, path: &str) -> HttpTool {
    tool_at(
        &format!("{base}{path}"),
        "book_table",
        Duration::from_secs(2),
        SECRET,
    )
}

fn context() -> ToolCallContext {
    ToolCallContext {
        call_id: Uuid::new_v4(),
        tenant_id: Uuid::new_v4(),
        caller: "+15551234567".to_owned(),
        did: "+15559876543".to_owned(),
    }
}

fn call(arguments: &str) -> ToolCall {
    ToolCall {
        id: "call_abc123".to_owned(),
        name: "book_table".to_owned(),
        arguments: arguments.to_owned(),
    }
}

const GOOD: &str = r#"{"party_size": 4, "time": "19:00", "name": "Priya"}"#;

async fn run(base: &str, path: &str, arguments: &str) -> ToolOutcome {
    ToolExecutor::new()
        .unwrap()
        .execute(&tool(base, path), &context(), &call(arguments))
        .await
}

/// An error result is a short JSON object with the failure's label and a sentence.
fn assert_error(outcome: &ToolOutcome, failure: ToolFailure, base: &str) -> String {
    assert!(!outcome.ok, "{outcome:?}");
    assert_eq!(outcome.failure, Some(failure), "{outcome:?}");
    let content: Value = serde_json::from_str(&outcome.content).unwrap();
    assert_eq!(content["error"], failure.as_str(), "{outcome:?}");
    let message = content["message"].as_str().unwrap().to_owned();
    assert!(message.len() < 400, "short: {message}");
    let authority = base.trim_start_matches("http://");
    assert!(
        !outcome.content.contains(authority) && !outcome.content.contains(SECRET),
        "no URL, no secret: {}",
        outcome.content
    );
    message
}

#[tokio::test]
async fn a_signed_call_reaches_the_tool_and_its_json_comes_back() {
    let (base, log) = server().await;
    let executor = ToolExecutor::new().unwrap();
    let ctx = context();
    let before = vca_bridge::tools::signature::unix_now();
    let outcome = executor
        .execute(&tool(&base, "/book"), &ctx, &call(GOOD))
        .await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(outcome.status, Some(200));
    assert_eq!(outcome.failure, None);
    assert!(outcome.duration < Duration::from_secs(2));
    assert_eq!(
        serde_json::from_str::<Value>(&outcome.content).unwrap(),
        json!({"booked": true, "table": 12, "party_size": 4})
    );

    let received = log.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let got = &received[0];
    assert!(
        got.signature_ok,
        "the receiver verified {:?}",
        got.signature
    );
    let signature = got.signature.clone().unwrap();
    let (t, v1) = signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .unwrap();
    let t: u64 = t.parse().unwrap();
    assert!(t >= before && t <= before + 5, "t is unix seconds now");
    assert!(v1.len() == 64 && v1.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        got.idempotency_key.as_deref(),
        Some(format!("{}:call_abc123", ctx.call_id).as_str())
    );
    assert_eq!(got.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        got.body,
        json!({
            "call_id": ctx.call_id.to_string(),
            "tenant_id": ctx.tenant_id.to_string(),
            "tool": "book_table",
            "arguments": {"party_size": 4, "time": "19:00", "name": "Priya"},
            "caller": "+15551234567",
            "did": "+15559876543",
        })
    );

    // Same call again: same key (a receiver de-duplicates on it); nothing is retried by us.
    let again = executor
        .execute(&tool(&base, "/book"), &ctx, &call(GOOD))
        .await;
    assert!(again.ok);
    let keys: Vec<_> = log
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.idempotency_key.clone())
        .collect();
    assert_eq!(keys[0], keys[1]);

    // Signed with another secret: the receiver refuses it, which is an error result.
    let forged = executor
        .execute(
            &tool_at(
                &format!("{base}/book"),
                "book_table",
                Duration::from_secs(2),
                "not-the-secret",
            ),
            &ctx,
            &call(GOOD),
        )
        .await;
    assert_error(&forged, ToolFailure::HttpStatus, &base);
    assert_eq!(forged.status, Some(401));
    assert!(!log.lock().unwrap()[2].signature_ok);
}

#[tokio::test]
async fn a_slow_tool_times_out() {
    let (base, log) = server().await;
    let slow = tool_at(
        &format!("{base}/slow"),
        "book_table",
        Duration::from_millis(300),
        SECRET,
    );
    let outcome = ToolExecutor::new()
        .unwrap()
        .execute(&slow, &context(), &call(GOOD))
        .await;
    let message = assert_error(&outcome, ToolFailure::Timeout, &base);
    assert!(message.contains("0.3 seconds"), "{message}");
    assert_eq!(outcome.status, None);
    assert!(
        outcome.duration >= Duration::from_millis(300)
            && outcome.duration < Duration::from_millis(1500),
        "{:?}",
        outcome.duration
    );
    assert_eq!(log.lock().unwrap().len(), 1, "sent once, not retried");
}

#[tokio::test]
async fn a_body_that_trickles_past_the_timeout_times_out() {
    let (base, _log) = server().await;
    let slow = tool_at(
        &format!("{base}/slow-body"),
        "book_table",
        Duration::from_millis(500),
        SECRET,
    );
    let outcome = ToolExecutor::new()
        .unwrap()
        .execute(&slow, &context(), &call(GOOD))
        .await;
    assert_error(&outcome, ToolFailure::Timeout, &base);
    assert!(outcome.duration < Duration::from_millis(1500));
}

#[tokio::test]
async fn a_failing_tool_is_an_error_without_its_body() {
    let (base, log) = server().await;
    let outcome = run(&base, "/fail", GOOD).await;
    let message = assert_error(&outcome, ToolFailure::HttpStatus, &base);
    assert_eq!(outcome.status, Some(500));
    assert!(message.contains("500"), "{message}");
    for leak in ["Traceback", "hunter2", "10.0.0.5"] {
        assert!(
            !outcome.content.contains(leak),
            "{leak} in {}",
            outcome.content
        );
    }
    assert_eq!(log.lock().unwrap().len(), 1, "not retried");
}

#[tokio::test]
async fn huge_bodies_are_refused_and_8_kib_is_fine() {
    let (base, _log) = server().await;
    for path in ["/huge", "/huge-chunked"] {
        let outcome = run(&base, path, GOOD).await;
        let message = assert_error(&outcome, ToolFailure::TooLarge, &base);
        assert!(message.contains("8 KiB"), "{message}");
        assert!(
            outcome.duration < Duration::from_secs(2),
            "{path}: stopped early"
        );
    }
    let exact = run(&base, "/exact", GOOD).await;
    assert!(exact.ok, "{exact:?}");
    assert_eq!(exact.content.len(), MAX_RESULT_BYTES);
}

#[tokio::test]
async fn invalid_arguments_are_named_and_send_nothing() {
    let (base, log) = server().await;
    for (arguments, names) in [
        (
            r#"{"party_size": "four", "time": "19:00"}"#,
            vec!["/party_size"],
        ),
        (r#"{"party_size": 4}"#, vec!["time"]),
        (
            r#"{"party_size": 0, "time": "7pm"}"#,
            vec!["/party_size", "/time"],
        ),
        (
            r#"{"party_size": 4, "time": "19:00", "card": "4111"}"#,
            vec!["card"],
        ),
        ("[4, \"19:00\"]", vec!["object"]),
        ("", vec!["party_size"]),
    ] {
        let outcome = run(&base, "/book", arguments).await;
        let message = assert_error(&outcome, ToolFailure::InvalidArguments, &base);
        for name in names {
            assert!(message.contains(name), "{name} not in {message}");
        }
        assert_eq!(outcome.status, None);
    }
    assert!(log.lock().unwrap().is_empty(), "no request was made");
}

#[tokio::test]
async fn non_json_arguments_send_nothing() {
    let (base, log) = server().await;
    for arguments in [
        "{party_size: 4",
        r#"{"party_size": 4, "time": "19:00""#,
        "book it",
    ] {
        let outcome = run(&base, "/book", arguments).await;
        let message = assert_error(&outcome, ToolFailure::ArgumentsNotJson, &base);
        assert!(message.contains("not valid JSON"), "{message}");
    }
    assert!(log.lock().unwrap().is_empty(), "no request was made");
}

#[tokio::test]
async fn an_unknown_tool_name_sends_nothing() {
    let (base, log) = server().await;
    let outcome = ToolExecutor::new()
        .unwrap()
        .execute(
            &tool(&base, "/book"),
            &context(),
            &ToolCall {
                name: "cancel_table".to_owned(),
                ..call(GOOD)
            },
        )
        .await;
    let message = assert_error(&outcome, ToolFailure::UnknownTool, &base);
    assert!(message.contains("cancel_table"), "{message}");
    assert!(log.lock().unwrap().is_empty());
}

#[tokio::test]
async fn text_and_empty_bodies_are_results() {
    let (base, _log) = server().await;
    let text = run(&base, "/text", GOOD).await;
    assert!(text.ok, "{text:?}");
    assert_eq!(text.content, "Booked: table 12 at 19:00 for 4.");
    let empty = run(&base, "/empty", GOOD).await;
    assert!(empty.ok, "{empty:?}");
    assert_eq!(empty.status, Some(204));
    assert_eq!(empty.content, EMPTY_RESULT);
}

#[tokio::test]
async fn redirects_are_not_followed_and_binary_is_unreadable() {
    let (base, log) = server().await;
    let moved = run(&base, "/redirect", GOOD).await;
    assert_error(&moved, ToolFailure::HttpStatus, &base);
    assert_eq!(moved.status, Some(302));
    let paths: Vec<_> = log.lock().unwrap().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/redirect"], "the signed body went nowhere else");
    let binary = run(&base, "/not-utf8", GOOD).await;
    assert_error(&binary, ToolFailure::Unreadable, &base);
    assert_eq!(binary.status, Some(200));
}

#[tokio::test]
async fn unreachable_and_broken_servers_are_error_results() {
    // A port nobody listens on.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let outcome = run(&closed, "/book", GOOD).await;
    let message = assert_error(&outcome, ToolFailure::Unreachable, &closed);
    assert_eq!(message, "The tool could not be reached.");

    // Servers that do not speak HTTP, hang up mid-headers, or lie about the body length.
    for reply in [
        &b"SSH-2.0-OpenSSH_9.6\r\n"[..],
        &b"HTTP/1.1 200 OK\r\nContent-Le"[..],
        &b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial\":"[..],
    ] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            if let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = vec![0u8; 4096];
                let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buf).await;
                let _ = socket.write_all(reply).await;
                let _ = socket.shutdown().await;
            }
        });
        let outcome = run(&base, "/book", GOOD).await;
        assert!(!outcome.ok, "{outcome:?}");
        let failure = outcome.failure.unwrap();
        assert!(
            matches!(failure, ToolFailure::Unreachable | ToolFailure::Unreadable),
            "{outcome:?}"
        );
        assert_error(&outcome, failure, &base);
    }
}
