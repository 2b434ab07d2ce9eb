//! Hostile HTTP clients against the daemon's real admin socket: oversized heads, too many
//! headers, a long URI and an oversized body are refused; a client sending its head or its
//! body byte by byte is cut off within a bound of the timeout, and an idle keep-alive
//! connection is closed; past the connection cap a new connection is not served until
//! one closes, and the established ones go on. Normal requests keep working throughout.
//! Small limits come from settings so each test runs in seconds.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::daemon::{TOKEN, World};

/// The longest any single wait of these tests may take before the test fails.
const BOUND: Duration = Duration::from_secs(10);

/// One response read off a raw connection.
struct Raw {
    status: u16,
    head: String,
    body: String,
}

/// Reads one response (head, then `Content-Length` bytes of body); `None` if the
/// connection closes or errs first.
async fn read_response(stream: &mut TcpStream) -> Option<Raw> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
    Some(Raw { status, head, body })
}

/// Sends `request` on a fresh connection and reads the one response.
async fn send_raw(admin: SocketAddr, request: &[u8]) -> Raw {
    let mut stream = TcpStream::connect(admin).await.unwrap();
    stream.write_all(request).await.unwrap();
    tokio::time::timeout(BOUND, read_response(&mut stream))
        .await
        .expect("a response in time")
        .expect("a response before the connection closed")
}

/// Waits until the server closes `stream`, reading and discarding whatever it sends;
/// how long that took.
async fn wait_closed(stream: &mut TcpStream) -> Duration {
    let start = Instant::now();
    let mut chunk = [0u8; 4096];
    tokio::time::timeout(BOUND, async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the server closes the connection");
    start.elapsed()
}

/// A normal request through a normal client.
async fn healthz(admin: SocketAddr) -> u16 {
    reqwest::Client::new()
        .get(format!("http://{admin}/healthz"))
        .timeout(BOUND)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn code_of(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["error"]["code"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_heads_long_uris_and_big_bodies_are_refused() {
    let w = World::new().await;
    let admin = w.daemon.as_ref().unwrap().admin;

    // Request line and headers over 16 KiB: 431 from hyper, connection closed.
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    assert_eq!(send_raw(admin, big.as_bytes()).await.status, 431);
    // Within the limit (8 KiB of headers) is served.
    let fine = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(8 * 1024)
    );
    assert_eq!(send_raw(admin, fine.as_bytes()).await.status, 200);

    // More than 64 headers: 431. Sixty are fine.
    let many = |n: usize| {
        let mut r = String::from("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
        for i in 0..n {
            r.push_str(&format!("X-H{i}: v\r\n"));
        }
        r.push_str("\r\n");
        r
    };
    assert_eq!(send_raw(admin, many(80).as_bytes()).await.status, 431);
    assert_eq!(send_raw(admin, many(60).as_bytes()).await.status, 200);

    // A URI over 4 KiB (but inside the head limit): 414 in the API's error shape, before
    // authentication is even looked at.
    let long = format!(
        "GET /api/tenants?q={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(5 * 1024)
    );
    let r = send_raw(admin, long.as_bytes()).await;
    assert_eq!(r.status, 414, "{}", r.head);
    assert_eq!(code_of(&r.body), "uri_too_long");
    let short = format!(
        "GET /api/tenants?q={} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n",
        "a".repeat(3 * 1024)
    );
    assert_eq!(send_raw(admin, short.as_bytes()).await.status, 200);

    // A body over 64 KiB: 413 in the API's error shape.
    let r = reqwest::Client::new()
        .post(format!("http://{admin}/api/tenants"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(format!("{{\"name\":\"{}\"}}", "n".repeat(100 * 1024)))
        .timeout(BOUND)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(code_of(&r.text().await.unwrap()), "payload_too_large");

    assert_eq!(healthz(admin).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_heads_slow_bodies_and_idle_connections_are_cut_off() {
    let header_timeout = Duration::from_millis(1000);
    let request_timeout = Duration::from_millis(1500);
    let w = World::with(&[
        ("VCA_ADMIN_HEADER_TIMEOUT_MS", "1000"),
        ("VCA_ADMIN_REQUEST_TIMEOUT_MS", "1500"),
    ])
    .await;
    let admin = w.daemon.as_ref().unwrap().admin;

    // Slowloris: a head sent one byte every 100 ms never completes; the connection is
    // closed within 3x the header timeout, while others are served.
    let stream = TcpStream::connect(admin).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let dribble = tokio::spawn(async move {
        let _ = writer
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await;
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(b"a").await.is_err() {
                return;
            }
        }
    });
    let start = Instant::now();
    assert_eq!(healthz(admin).await, 200);
    let mut got = Vec::new();
    tokio::time::timeout(BOUND, reader.read_to_end(&mut got))
        .await
        .expect("the slow head is cut off")
        .ok();
    let took = start.elapsed();
    dribble.abort();
    assert!(took < header_timeout * 3, "cut off after {took:?}");
    assert!(took >= header_timeout / 2, "cut off after {took:?}");
    assert!(
        !String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"),
        "a slow head was served"
    );

    // A body sent one byte every 100 ms: 408 in the API's error shape within 3x the
    // request timeout, and the connection closed.
    let mut stream = TcpStream::connect(admin).await.unwrap();
    let head = format!(
        "POST /api/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let dribble = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(b" ").await.is_err() {
                return;
            }
        }
    });
    let start = Instant::now();
    assert_eq!(healthz(admin).await, 200);
    let mut got = Vec::new();
    tokio::time::timeout(BOUND, reader.read_to_end(&mut got))
        .await
        .expect("the slow body is cut off")
        .ok();
    let took = start.elapsed();
    dribble.abort();
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(got.contains("\"request_timeout\""), "{got}");
    assert!(took < request_timeout * 3, "cut off after {took:?}");
    assert!(took >= request_timeout / 2, "cut off after {took:?}");

    // A keep-alive connection left idle after a response is closed within 3x the
    // header timeout.
    let mut stream = TcpStream::connect(admin).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let r = tokio::time::timeout(BOUND, read_response(&mut stream))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, 200);
    let idle = wait_closed(&mut stream).await;
    assert!(
        idle < header_timeout * 3,
        "idle connection open for {idle:?}"
    );
    assert!(idle >= header_timeout / 2, "closed after {idle:?}");

    assert_eq!(healthz(admin).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_a_connection_waits_until_one_closes() {
    let w = World::with(&[
        ("VCA_ADMIN_MAX_CONNECTIONS", "2"),
        ("VCA_ADMIN_HEADER_TIMEOUT_MS", "60000"),
    ])
    .await;
    let admin = w.daemon.as_ref().unwrap().admin;
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(admin).await.unwrap();
        stream.write_all(request).await.unwrap();
        let r = tokio::time::timeout(BOUND, read_response(&mut stream))
            .await
            .expect("a held connection is served")
            .unwrap();
        assert_eq!(r.status, 200);
        held.push(stream);
    }

    // The third connects (the kernel's backlog takes it) but is not served.
    let mut third = TcpStream::connect(admin).await.unwrap();
    third.write_all(request).await.unwrap();
    let waiting = tokio::time::timeout(Duration::from_secs(1), read_response(&mut third)).await;
    assert!(waiting.is_err(), "served past the cap");

    // The established ones are not disturbed.
    for stream in &mut held {
        stream.write_all(request).await.unwrap();
        let r = tokio::time::timeout(BOUND, read_response(stream))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.status, 200);
    }

    // One closes: the waiting one is served.
    drop(held.pop());
    let r = tokio::time::timeout(BOUND, read_response(&mut third))
        .await
        .expect("served once a connection closed")
        .unwrap();
    assert_eq!(r.status, 200);
    drop(third);

    // The cap reached is counted.
    let page = reqwest::Client::new()
        .get(format!("http://{admin}/metrics"))
        .timeout(BOUND)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let reached: f64 = page
        .lines()
        .find_map(|l| l.strip_prefix("vca_admin_connection_cap_reached_total "))
        .expect("the cap metric is rendered")
        .trim()
        .parse()
        .unwrap();
    assert!(reached >= 1.0, "{reached}");
}
