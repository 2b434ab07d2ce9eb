//! Helpers shared by the simulator's integration tests: recorded transcripts, an ARI
//! client (reqwest + tokio-tungstenite), and a replay driver that runs a recording's
//! request sequence against the simulator and collects what happened.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
pub mod multi;

use vca_sim::{ArgsMode, CallSpec, SimCall, SimConfig, SimHandle, Simulator};

/// All lines of a recorded transcript.
pub fn transcript(name: &str) -> Vec<Value> {
    let path = format!(
        "{}/../../../shared/asterisk/events/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {path}: {e}"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A config for fast tests: short strict-RTP learning and media start.
pub fn test_config() -> SimConfig {
    SimConfig {
        default_args: ArgsMode::Empty,
        media_start_delay: Duration::from_millis(20),
        strict_learn: Duration::from_millis(300),
        ..SimConfig::default()
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// Events received on the app's WebSocket, read by a background task.
pub struct EventStream {
    rx: mpsc::UnboundedReceiver<Option<Value>>,
    pub closed_cleanly: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl EventStream {
    pub async fn connect(url: &str) -> EventStream {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let (_sink, mut stream) = ws.split();
        let (tx, rx) = mpsc::unbounded_channel();
        let closed_cleanly = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = closed_cleanly.clone();
        tokio::spawn(async move {
            let _sink = _sink;
            while let Some(msg) = stream.next().await {
                match msg {
                    Ok(Message::Text(t)) => {
                        let _ = tx.send(Some(serde_json::from_str(&t).unwrap()));
                    }
                    Ok(Message::Close(_)) => {
                        flag.store(true, std::sync::atomic::Ordering::SeqCst);
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            let _ = tx.send(None);
        });
        EventStream { rx, closed_cleanly }
    }

    /// The next event; `None` when the connection ended.
    pub async fn next(&mut self) -> Option<Value> {
        tokio::time::timeout(Duration::from_secs(10), self.rx.recv())
            .await
            .expect("timed out waiting for an event")
            .flatten()
    }

    /// Waits for an event of this type, returning it and everything before it.
    pub async fn until(&mut self, kind: &str) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let ev = self
                .next()
                .await
                .unwrap_or_else(|| panic!("closed before {kind}: {seen:?}"));
            let done = ev["type"] == kind;
            seen.push(ev);
            if done {
                return seen;
            }
        }
    }

    /// Every event already received, without waiting.
    pub fn drain(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        while let Ok(Some(ev)) = self.rx.try_recv() {
            out.push(ev);
        }
        out
    }
}

/// Events of a transcript (optionally of one `source` only).
pub fn recorded_events(lines: &[Value], source: Option<&str>) -> Vec<Value> {
    lines
        .iter()
        .filter(|l| l["dir"] == "event")
        .filter(|l| source.is_none_or(|s| l["source"] == s))
        .map(|l| l["event"].clone())
        .collect()
}

pub fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Compares a live event with a recorded one: type, key sets, and the fields that carry
/// meaning (cause, soft, variable and whether its value is empty, args length, digit,
/// duration, dialstatus, channel state and dialplan).
pub fn assert_event_matches(live: &Value, rec: &Value, ids: &HashMap<String, String>, idx: usize) {
    let ctx = format!("event #{idx}: live {live}\nrecorded {rec}");
    assert_eq!(live["type"], rec["type"], "{ctx}");
    assert_eq!(keys(live), keys(rec), "top-level keys, {ctx}");
    for f in [
        "cause",
        "soft",
        "cause_txt",
        "variable",
        "digit",
        "duration_ms",
        "dialstatus",
        "forward",
        "application",
        "asterisk_id",
    ] {
        assert_eq!(live.get(f), rec.get(f), "field {f}, {ctx}");
    }
    if let Some(v) = rec.get("value").and_then(Value::as_str) {
        let lv = live["value"].as_str().unwrap();
        assert_eq!(lv.is_empty(), v.is_empty(), "value, {ctx}");
        assert_eq!(
            lv.split('/').next(),
            v.split('/').next(),
            "value technology, {ctx}"
        );
    }
    if let Some(args) = rec.get("args") {
        assert_eq!(live["args"], *args, "args, {ctx}");
    }
    for obj in ["channel", "peer"] {
        if let Some(c) = rec.get(obj) {
            let l = &live[obj];
            assert_eq!(keys(l), keys(c), "{obj} keys, {ctx}");
            assert_eq!(l["state"], c["state"], "{obj} state, {ctx}");
            assert_eq!(l["dialplan"], c["dialplan"], "{obj} dialplan, {ctx}");
            assert_eq!(l["caller"], c["caller"], "{obj} caller, {ctx}");
            assert_eq!(l["connected"], c["connected"], "{obj} connected, {ctx}");
            assert_eq!(
                Some(l["id"].as_str().unwrap()),
                ids.get(c["id"].as_str().unwrap()).map(String::as_str),
                "{obj} id, {ctx}"
            );
            let tech = |v: &Value| {
                v["name"]
                    .as_str()
                    .unwrap()
                    .split('/')
                    .next()
                    .unwrap()
                    .to_owned()
            };
            assert_eq!(tech(l), tech(c), "{obj} technology, {ctx}");
        }
    }
    if let Some(b) = rec.get("bridge") {
        let l = &live["bridge"];
        assert_eq!(keys(l), keys(b), "bridge keys, {ctx}");
        let mapped: Vec<String> = b["channels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| ids.get(c.as_str().unwrap()).cloned().unwrap_or_default())
            .collect();
        let live_ch: Vec<String> = l["channels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(live_ch, mapped, "bridge channels, {ctx}");
        for f in [
            "technology",
            "bridge_type",
            "bridge_class",
            "creator",
            "video_mode",
        ] {
            assert_eq!(l[f], b[f], "bridge {f}, {ctx}");
        }
    }
}

/// What a replay produced.
pub struct Replay {
    pub sim: SimHandle,
    pub call: SimCall,
    pub rtp: UdpSocket,
    /// recorded id → live id
    pub ids: HashMap<String, String>,
    pub live_events: Vec<Value>,
    pub recorded_events: Vec<Value>,
    pub requests_compared: usize,
}

fn map_text(text: &str, ids: &HashMap<String, String>) -> String {
    let mut pairs: Vec<(&String, &String)> = ids.iter().collect();
    pairs.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    let mut out = text.to_owned();
    for (k, v) in pairs {
        out = out.replace(k.as_str(), v);
    }
    out
}

fn id_of(v: &Value) -> Option<String> {
    v.get("id").and_then(Value::as_str).map(str::to_owned)
}

/// Replays a single-call transcript: the originate becomes `place_call`, every other
/// request is sent as recorded (ids and the RTP port mapped), each status and body key set
/// is compared with the recorded response, the caller hangs up and presses digits where the
/// recording shows it, and all events are collected.
pub async fn replay(file: &str) -> Replay {
    let lines = transcript(file);
    let sim = Simulator::start(test_config()).await.unwrap();
    let mut events = EventStream::connect(&sim.events_url()).await;
    sim.wait_websocket().await;
    let rtp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let client = http();
    let base = format!("http://{}", sim.addr());
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut call: Option<SimCall> = None;
    let mut last_status: Option<(reqwest::StatusCode, Value)> = None;
    let mut skip_response = false;
    let mut compared = 0;
    let mut recorded_external_port = None;
    for line in &lines {
        match line["dir"].as_str().unwrap() {
            "request" => {
                let path = line["path"].as_str().unwrap();
                let method = line["method"].as_str().unwrap();
                if method == "POST" && path == "/channels" {
                    let p = &line["params"];
                    let spec = CallSpec::new(
                        p["extension"].as_str().unwrap(),
                        p["callerId"].as_str().unwrap(),
                    )
                    .args(ArgsMode::Empty);
                    let c = sim.place_call(spec);
                    call = Some(c);
                    skip_response = true;
                    continue;
                }
                let mut url = line["url"]
                    .as_str()
                    .unwrap()
                    .replace("http://127.0.0.1:8088", &base);
                if let Some(host) = line["params"].get("external_host").and_then(Value::as_str) {
                    recorded_external_port = host.rsplit(':').next().map(str::to_owned);
                    let live = rtp.local_addr().unwrap().to_string();
                    url = url.replace(&host.replace(':', "%3A"), &live.replace(':', "%3A"));
                }
                let url = map_text(&url, &ids);
                let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
                let resp = client
                    .request(m, &url)
                    .basic_auth("vca", Some("vca-secret"))
                    .send()
                    .await
                    .unwrap();
                let status = resp.status();
                let text = resp.text().await.unwrap();
                let body = if text.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(&text).unwrap()
                };
                last_status = Some((status, body));
            }
            "response" => {
                if std::mem::take(&mut skip_response) {
                    if let (Some(c), Some(rid)) = (&call, id_of(&line["body"])) {
                        ids.insert(rid, c.id().to_owned());
                    }
                    continue;
                }
                let (status, body) = last_status.take().expect("response without request");
                let ctx = format!("{} {}", line["method"], line["path"]);
                assert_eq!(
                    status.as_u16(),
                    line["status"].as_u64().unwrap() as u16,
                    "status of {ctx}: {body}"
                );
                let rec = &line["body"];
                match rec {
                    Value::Object(_) => {
                        assert_eq!(keys(&body), keys(rec), "body keys of {ctx}");
                        if let (Some(r), Some(l)) = (id_of(rec), id_of(&body)) {
                            ids.entry(r).or_insert(l);
                        }
                        if let Some(cv) = rec.get("channelvars") {
                            assert_eq!(keys(&body["channelvars"]), keys(cv));
                            assert!(body["channelvars"]["UNICASTRTP_LOCAL_PORT"].is_string());
                        }
                        if rec.get("value").is_some()
                            && line["path"].as_str().unwrap().ends_with("/variable")
                        {
                            assert!(body["value"].is_string());
                        }
                        if rec.get("message").is_some() {
                            assert_eq!(body["message"], rec["message"], "{ctx}");
                        }
                    }
                    Value::Array(items) => {
                        let live = body.as_array().unwrap();
                        assert_eq!(live.len(), items.len(), "list length of {ctx}: {body}");
                        for (l, r) in live.iter().zip(items) {
                            assert_eq!(keys(l), keys(r), "item keys of {ctx}");
                        }
                    }
                    _ => assert_eq!(body, Value::Null, "{ctx}"),
                }
                compared += 1;
            }
            "event" => {
                let ev = &line["event"];
                let c = call.as_ref().unwrap();
                if ev["type"] == "ChannelHangupRequest"
                    && ev["cause"] == 16
                    && ev.get("soft").is_none()
                {
                    c.hangup().unwrap();
                }
                if ev["type"] == "ChannelDtmfReceived" {
                    c.send_dtmf(
                        ev["digit"].as_str().unwrap(),
                        ev["duration_ms"].as_u64().unwrap() as u32,
                    )
                    .await
                    .unwrap();
                }
            }
            _ => {}
        }
    }
    // Map the recorded External Media / inbound / bridge ids learned from events too.
    let recorded = recorded_events(&lines, None);
    drop(client);
    let mut live_events = Vec::new();
    while live_events.len() < recorded.len() {
        match events.next().await {
            Some(ev) => live_events.push(ev),
            None => break,
        }
    }
    let _ = recorded_external_port;
    Replay {
        call: call.expect("no call placed"),
        sim,
        rtp,
        ids,
        live_events,
        recorded_events: recorded,
        requests_compared: compared,
    }
}

/// Asserts the live event sequence equals the recorded one, event by event.
pub fn assert_same_events(r: &Replay) {
    let live_types: Vec<&str> = r
        .live_events
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    let rec_types: Vec<&str> = r
        .recorded_events
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(live_types, rec_types, "event type sequence");
    for (i, (l, e)) in r.live_events.iter().zip(&r.recorded_events).enumerate() {
        assert_event_matches(l, e, &r.ids, i);
    }
}

/// Is anything listening on this TCP address?
pub async fn tcp_open(addr: std::net::SocketAddr) -> bool {
    TcpStream::connect(addr).await.is_ok()
}

/// A call bridged with an External Media channel, as the daemon sets it up.
pub struct Leg {
    pub call: SimCall,
    pub em_id: String,
    pub bridge_id: String,
    pub em_port: u16,
    pub rtp: UdpSocket,
}

/// Places a call and does what the daemon does: answer, bridge, externalMedia, addChannel.
pub async fn bridged_call(sim: &SimHandle, spec: CallSpec, format: &str) -> Leg {
    let call = sim.place_call(spec);
    let rtp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let c = http();
    let ari = sim.ari_url();
    let post = |url: String| c.post(url).basic_auth("vca", Some("vca-secret")).send();
    assert_eq!(
        post(format!("{ari}/channels/{}/answer", call.id()))
            .await
            .unwrap()
            .status(),
        204
    );
    let bridge: Value = post(format!("{ari}/bridges?type=mixing&name=vca-{}", call.id()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let em: Value = post(format!(
        "{ari}/channels/externalMedia?app=vca-bridge&external_host={}&format={format}",
        rtp.local_addr().unwrap()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let em_port: u16 = em["channelvars"]["UNICASTRTP_LOCAL_PORT"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let r = post(format!(
        "{ari}/bridges/{}/addChannel?channel={},{}",
        bridge["id"].as_str().unwrap(),
        call.id(),
        em["id"].as_str().unwrap()
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    Leg {
        call,
        em_id: em["id"].as_str().unwrap().to_owned(),
        bridge_id: bridge["id"].as_str().unwrap().to_owned(),
        em_port,
        rtp,
    }
}
