//! A webhook receiver for tests: an axum server on 127.0.0.1 that keeps every request it
//! gets (headers and body) and answers with the statuses it is told, in order, then 200.
//! `verified` checks each request's `X-VCA-Signature` with the secret.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub event_id: String,
    pub event_type: String,
    pub signature: String,
    pub body: Bytes,
}

impl Received {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// Statuses to answer with, first first; 200 once empty (unless `always`).
    script: VecDeque<u16>,
    always: Option<u16>,
}

/// A running receiver.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut inner = inner.lock().unwrap();
    inner.received.push(Received {
        event_id: header("x-vca-event-id"),
        event_type: header("x-vca-event-type"),
        signature: header("x-vca-signature"),
        body,
    });
    let code = match inner.always {
        Some(code) => code,
        None => inner.script.pop_front().unwrap_or(200),
    };
    StatusCode::from_u16(code).unwrap()
}

impl Receiver {
    /// Starts a receiver answering 200.
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { addr, inner }
    }

    /// The URL of the hook.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// The next requests are answered with these statuses, in order.
    pub fn answer(&self, statuses: &[u16]) {
        self.inner.lock().unwrap().script = statuses.iter().copied().collect();
    }

    /// Every request is answered with `status` (`None`: back to the script, then 200).
    pub fn always(&self, status: Option<u16>) {
        self.inner.lock().unwrap().always = status;
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Waits until `n` requests arrived (30 s at most), and returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..600 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} webhook requests, got {:?}", self.received());
    }

    /// Whether every request so far carries a valid signature by `secret`.
    pub fn all_verified(&self, secret: &str) -> bool {
        self.received().iter().all(|r| {
            vca_bridge::tools::signature::verify(
                secret.as_bytes(),
                &r.signature,
                &r.body,
                Duration::from_secs(300),
            )
        })
    }
}
