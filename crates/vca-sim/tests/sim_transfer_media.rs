//! The audio side of a transfer, from a small test app: channel MOH drops the app's audio
//! and plays hold music while the caller's RTP keeps flowing to the app (FINDINGS 38, 40);
//! after the swap the caller hears the agent and the agent the caller (36, 38); bridge MOH
//! reaches the app's RTP (41c); caller keys pause the RTP with the marker and timestamp
//! jump, longer during MOH (10, 44); app-sent DTMF (45).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use sim_support::{EventStream, Leg, bridged_call, http, test_config};
use tokio::net::UdpSocket;
use vca_media::g711::Law;
use vca_sim::{CallSpec, HeardKind, SimHandle, Simulator, moh_ms_in};

struct Ari {
    c: reqwest::Client,
    base: String,
}

impl Ari {
    fn new(sim: &SimHandle) -> Ari {
        Ari {
            c: http(),
            base: sim.ari_url(),
        }
    }
    async fn req(&self, m: reqwest::Method, path: &str) -> (u16, Value) {
        let r = self
            .c
            .request(m, format!("{}{path}", self.base))
            .basic_auth("vca", Some("vca-secret"))
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        let t = r.text().await.unwrap();
        (s, serde_json::from_str(&t).unwrap_or(Value::Null))
    }
    async fn post(&self, path: &str) -> (u16, Value) {
        self.req(reqwest::Method::POST, path).await
    }
    async fn delete(&self, path: &str) -> (u16, Value) {
        self.req(reqwest::Method::DELETE, path).await
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        self.req(reqwest::Method::GET, path).await
    }
}

/// One packet the app received.
#[derive(Debug, Clone)]
struct Got {
    at: Instant,
    marker: bool,
    ts: u32,
    pcm: Vec<i16>,
}

/// Receives the RTP Asterisk sends the app.
fn receive(sock: Arc<UdpSocket>) -> Arc<Mutex<Vec<Got>>> {
    let got = Arc::new(Mutex::new(Vec::new()));
    let out = got.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, _)) = sock.recv_from(&mut buf).await {
            if n < 12 {
                continue;
            }
            let mut pcm = vec![0i16; n - 12];
            Law::Ulaw.decode_into(&buf[12..n], &mut pcm);
            out.lock().unwrap().push(Got {
                at: Instant::now(),
                marker: buf[1] & 0x80 != 0,
                ts: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
                pcm,
            });
        }
    });
    got
}

/// The app sends a `freq` tone for `d` to the External Media port (paced 20 ms frames).
fn send_tone(sock: Arc<UdpSocket>, port: u16, freq: f64, d: Duration) {
    tokio::spawn(async move {
        let to = format!("127.0.0.1:{port}");
        let frames = d.as_millis() as usize / 20;
        let start = tokio::time::Instant::now();
        for i in 0..frames {
            let pcm: Vec<i16> = (0..160)
                .map(|k| {
                    let t = (i * 160 + k) as f64 / 8000.0;
                    (8000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
                })
                .collect();
            let mut p = vec![0x80, 0, (i >> 8) as u8, i as u8];
            p.extend_from_slice(&((i * 160) as u32).to_be_bytes());
            p.extend_from_slice(&0x0bad_cafeu32.to_be_bytes());
            let mut payload = [0u8; 160];
            Law::Ulaw.encode_into(&pcm, &mut payload);
            p.extend_from_slice(&payload);
            let _ = sock.send_to(&p, &to).await;
            tokio::time::sleep_until(start + Duration::from_millis(20 * (i as u64 + 1))).await;
        }
    });
}

fn speech(ms: usize) -> Vec<i16> {
    (0..ms * 8)
        .map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16)
        .collect()
}

fn ms_since(t0: Instant, t: Instant) -> u64 {
    t.saturating_duration_since(t0).as_millis() as u64
}

async fn start() -> (SimHandle, EventStream, Ari) {
    let sim = Simulator::start(test_config()).await.unwrap();
    let ev = EventStream::connect(&sim.events_url()).await;
    sim.wait_websocket().await;
    let ari = Ari::new(&sim);
    (sim, ev, ari)
}

async fn until_channel(ev: &mut EventStream, kind: &str, channel: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let e = ev.next().await.unwrap();
        let done = e["type"] == kind && e["channel"]["id"] == channel;
        seen.push(e);
        if done {
            return seen;
        }
    }
}

#[tokio::test]
async fn moh_silences_the_app_then_caller_and_agent_hear_each_other() {
    let (sim, mut ev, ari) = start().await;
    let t0 = Instant::now();
    let Leg {
        call,
        em_id,
        bridge_id,
        em_port,
        rtp,
    } = bridged_call(
        &sim,
        CallSpec::new("+15559876543", "+15551234567").speech(speech(6000)),
        "ulaw",
    )
    .await;
    let rtp = Arc::new(rtp);
    let got = receive(rtp.clone());
    send_tone(rtp.clone(), em_port, 1000.0, Duration::from_millis(3000));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let moh_on = Instant::now();
    assert_eq!(
        ari.post(&format!("/channels/{}/moh?mohClass=default", call.id()))
            .await
            .0,
        204
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (s, body) = ari
        .post(&format!(
            "/channels?endpoint=Local%2F100%40agent-sim&app=vca-bridge&appArgs=transfer%2C{}&timeout=20&callerId=%2B15551234567&channelId=agent-1",
            call.id()
        ))
        .await;
    assert_eq!(s, 200);
    assert_eq!(body["id"], "agent-1");
    assert_eq!(body["state"], "Down");
    let seen = until_channel(&mut ev, "StasisStart", "agent-1").await;
    let start = seen.last().unwrap();
    assert_eq!(start["args"], serde_json::json!(["transfer", call.id()]));
    assert_eq!(start["channel"]["state"], "Up");
    assert_eq!(
        ari.delete(&format!("/channels/{}/moh", call.id())).await.0,
        204
    );
    let moh_off = Instant::now();
    let removed = Instant::now();
    assert_eq!(
        ari.post(&format!(
            "/bridges/{bridge_id}/removeChannel?channel={em_id}"
        ))
        .await
        .0,
        204
    );
    assert_eq!(ari.delete(&format!("/channels/{em_id}")).await.0, 204);
    assert_eq!(
        ari.post(&format!("/bridges/{bridge_id}/addChannel?channel=agent-1"))
            .await
            .0,
        204
    );
    let swapped = Instant::now();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_, b) = ari.get(&format!("/bridges/{bridge_id}")).await;
    let mut members = vec![call.id().to_owned(), "agent-1".to_owned()];
    members.sort();
    assert_eq!(b["channels"], serde_json::json!(members));

    let heard = call.heard().await.unwrap();
    let (on, off, sw) = (
        ms_since(t0, moh_on),
        ms_since(t0, moh_off),
        ms_since(t0, swapped),
    );
    let segs = heard.segments();
    assert!(
        heard.ms_between(HeardKind::App, 100, on) >= on - 200,
        "app before MOH: {segs:?}"
    );
    assert_eq!(
        heard.ms_between(HeardKind::App, on + 20, off),
        0,
        "app during MOH: {segs:?}"
    );
    assert!(
        heard.ms_between(HeardKind::Moh, on + 20, off) >= off - on - 60,
        "{segs:?}"
    );
    let pcm =
        |a: u64, b: u64| &heard.pcm[(a * 8) as usize..(b * 8).min(heard.pcm.len() as u64) as usize];
    assert!(
        moh_ms_in(pcm(on + 20, off)) >= off - on - 100,
        "the music is in the audio"
    );
    assert_eq!(moh_ms_in(pcm(0, on)), 0);
    assert!(
        heard.ms_between(HeardKind::Agent, sw + 40, sw + 2400) >= 2300,
        "{segs:?}"
    );
    assert_eq!(moh_ms_in(pcm(sw + 40, sw + 2400)), 0);

    // RTP to the app carried on during MOH and stopped when External Media left.
    let got = got.lock().unwrap().clone();
    let during = got
        .iter()
        .filter(|g| g.at > moh_on && g.at < moh_off)
        .count();
    assert!(during >= 40, "{during} packets during MOH");
    assert!(
        got.iter()
            .all(|g| g.at < removed + Duration::from_millis(40)),
        "no RTP after External Media left"
    );

    let agent = sim.agent_heard("agent-1").unwrap();
    assert!(
        agent.ms(HeardKind::Caller) >= 2000,
        "{:?}",
        agent.segments()
    );
    let view = sim.agent("agent-1").unwrap();
    assert!(view.answered);
    assert_eq!(view.call_id.as_deref(), Some(call.id()));
    assert_eq!(call.agent_reached().as_deref(), Some("agent-1"));
    assert!(call.milestones().bridged_with_agent && call.milestones().moh_started);
}

#[tokio::test]
async fn caller_keys_pause_rtp_with_marker_longer_on_moh_and_app_dtmf_is_silent() {
    let (sim, mut ev, ari) = start().await;
    let spec = CallSpec::new("+15559876543", "+15551234567")
        .keys(Duration::from_millis(600), "1", 100)
        .keys(Duration::from_millis(2000), "2", 100);
    let leg = bridged_call(&sim, spec, "ulaw").await;
    let rtp = Arc::new(leg.rtp);
    let got = receive(rtp.clone());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        ari.post(&format!("/channels/{}/moh", leg.call.id()))
            .await
            .0,
        204
    );
    let mut digits = Vec::new();
    while digits.len() < 2 {
        let e = ev.next().await.unwrap();
        if e["type"] == "ChannelDtmfReceived" {
            assert_eq!(e["channel"]["id"], leg.call.id());
            assert_eq!(e["duration_ms"], 100);
            digits.push(e["digit"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(digits, ["1", "2"]);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let got = got.lock().unwrap().clone();
    let gaps: Vec<(u128, bool, u32)> = got
        .windows(2)
        .filter(|w| w[1].at.duration_since(w[0].at) > Duration::from_millis(60))
        .map(|w| {
            (
                w[1].at.duration_since(w[0].at).as_millis(),
                w[1].marker,
                w[1].ts.wrapping_sub(w[0].ts),
            )
        })
        .collect();
    assert_eq!(gaps.len(), 2, "{gaps:?}");
    let (gap, marker, ts) = gaps[0];
    assert!(
        (100..=220).contains(&gap) && marker && ts == 960,
        "{gaps:?}"
    );
    let (gap, marker, _) = gaps[1];
    assert!(
        (420..=620).contains(&gap) && marker,
        "digit during MOH: {gaps:?}"
    );

    // App-sent DTMF: 204 and no event; no digits at all: 400.
    for q in [
        "dtmf=123&between=100&duration=100",
        "dtmf=%2A%23",
        "dtmf=1w2",
        "dtmf=xyz",
    ] {
        assert_eq!(
            ari.post(&format!("/channels/{}/dtmf?{q}", leg.call.id()))
                .await
                .0,
            204
        );
    }
    let (s, b) = ari.post(&format!("/channels/{}/dtmf", leg.call.id())).await;
    assert_eq!((s, b["message"].as_str()), (400, Some("DTMF is required")));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        ev.drain()
            .iter()
            .all(|e| e["type"] != "ChannelDtmfReceived")
    );
}

#[tokio::test]
async fn bridge_moh_plays_to_the_caller_and_into_the_apps_rtp() {
    let (sim, mut ev, ari) = start().await;
    let t0 = Instant::now();
    let leg = bridged_call(&sim, CallSpec::new("+15559876543", "+15551234567"), "ulaw").await;
    let rtp = Arc::new(leg.rtp);
    let got = receive(rtp.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    ev.drain();
    let on = Instant::now();
    assert_eq!(
        ari.post(&format!("/bridges/{}/moh?mohClass=default", leg.bridge_id))
            .await
            .0,
        204
    );
    let (_, b) = ari.get(&format!("/bridges/{}", leg.bridge_id)).await;
    assert_eq!(b["technology"], "softmix");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        ari.delete(&format!("/bridges/{}/moh", leg.bridge_id))
            .await
            .0,
        204
    );
    let off = Instant::now();
    let (_, b) = ari.get(&format!("/bridges/{}", leg.bridge_id)).await;
    assert_eq!(b["technology"], "simple_bridge");
    let peers: Vec<String> = ev
        .drain()
        .iter()
        .filter(|e| e["variable"] == "BRIDGEPEER")
        .map(|e| e["value"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(peers.len(), 4, "{peers:?}");
    assert!(
        peers[0].starts_with("Announcer/ARI_MOH-")
            && peers[0].ends_with(";2,Local/s@caller-sim-00000000;1")
    );
    assert!(peers[1].starts_with("Announcer/ARI_MOH-") && peers[1].contains(",UnicastRTP/"));
    let music: Vec<i16> = got
        .lock()
        .unwrap()
        .iter()
        .filter(|g| g.at > on + Duration::from_millis(60) && g.at < off)
        .flat_map(|g| g.pcm.clone())
        .collect();
    assert!(
        moh_ms_in(&music) >= 1000,
        "the app hears the music: {} ms",
        moh_ms_in(&music)
    );
    let heard = leg.call.heard().await.unwrap();
    let (a, z) = (ms_since(t0, on), ms_since(t0, off));
    assert!(
        heard.ms_between(HeardKind::Moh, a + 20, z) >= z - a - 60,
        "{:?}",
        heard.segments()
    );
}
