//! End to end through the binary: `vca-sim serve` + `vca-sim call` with the recorded caller
//! prompt, against a minimal app written here (answer, bridge, externalMedia, echo the RTP
//! back, clean up on StasisEnd). Checks that what the app received matches the payload real
//! Asterisk sent in the recorded call (rtp/caller-speech.ulaw, FINDINGS 15) and that the
//! caller's recording holds exactly what the app sent back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim_support;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::net::UdpSocket;
use tokio::process::Command;
use tokio_tungstenite::tungstenite::Message;
use vca_media::g711::Law;
use vca_sim::read_wav_8k_mono;

const RTP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/asterisk/rtp");

struct KillOnDrop(tokio::process::Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

/// Normalised cross-correlation of `a` against `b` at the best lag in ±`max_lag`.
fn best_correlation(a: &[f64], b: &[f64], max_lag: usize) -> f64 {
    let mut best = 0.0f64;
    for lag in 0..=2 * max_lag {
        let (mut num, mut ea, mut eb) = (0.0, 0.0, 0.0);
        for (i, &x) in a.iter().enumerate() {
            let j = i as i64 + lag as i64 - max_lag as i64;
            if j < 0 || j as usize >= b.len() {
                continue;
            }
            let y = b[j as usize];
            num += x * y;
            ea += x * x;
            eb += y * y;
        }
        if ea > 0.0 && eb > 0.0 {
            best = best.max(num / (ea * eb).sqrt());
        }
    }
    best
}

/// The app: bridges each call to an External Media channel, echoes RTP, cleans up.
async fn run_app(base: String) -> (Vec<u8>, Vec<u8>) {
    let (ws, _) = tokio_tungstenite::connect_async(format!(
        "ws://{base}/ari/events?app=vca-bridge&api_key=vca:vca-secret"
    ))
    .await
    .unwrap();
    let (_sink, mut stream) = ws.split();
    let c = reqwest::Client::new();
    let ari = format!("http://{base}/ari");
    let rtp = std::sync::Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let (mut em, mut bridge) = (String::new(), String::new());
    let echo = {
        let rtp = rtp.clone();
        tokio::spawn(async move {
            let (mut got, mut sent) = (Vec::new(), Vec::new());
            let mut buf = [0u8; 2048];
            let mut seq = 0u16;
            while let Ok(Ok((n, from))) =
                tokio::time::timeout(Duration::from_secs(3), rtp.recv_from(&mut buf)).await
            {
                got.extend_from_slice(&buf[12..n]);
                let mut out = vec![0x80, 0, (seq >> 8) as u8, seq as u8, 0, 0, 0, 0, 0, 0, 0, 7];
                out[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
                out.extend_from_slice(&buf[12..n]);
                sent.extend_from_slice(&buf[12..n]);
                rtp.send_to(&out, from).await.unwrap();
                seq = seq.wrapping_add(1);
            }
            (got, sent)
        })
    };
    while let Some(Ok(Message::Text(t))) = stream.next().await {
        let ev: Value = serde_json::from_str(&t).unwrap();
        let name = ev["channel"]["name"].as_str().unwrap_or("");
        let id = ev["channel"]["id"].as_str().unwrap_or("").to_owned();
        let post = |u: String| c.post(u).basic_auth("vca", Some("vca-secret")).send();
        if ev["type"] == "StasisStart" && name.starts_with("Local/") {
            assert_eq!(ev["args"][0], "+15559876543");
            assert_eq!(ev["args"][1], "+15551234567");
            post(format!("{ari}/channels/{id}/answer")).await.unwrap();
            let b: Value = post(format!("{ari}/bridges?type=mixing"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            bridge = b["id"].as_str().unwrap().to_owned();
            let e: Value = post(format!(
                "{ari}/channels/externalMedia?app=vca-bridge&format=ulaw&external_host={}",
                rtp.local_addr().unwrap()
            ))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
            em = e["id"].as_str().unwrap().to_owned();
            post(format!(
                "{ari}/bridges/{bridge}/addChannel?channel={id},{em}"
            ))
            .await
            .unwrap();
        }
        if ev["type"] == "StasisEnd" && name.starts_with("Local/") {
            let del = |u: String| c.delete(u).basic_auth("vca", Some("vca-secret")).send();
            assert_eq!(
                del(format!("{ari}/channels/{em}")).await.unwrap().status(),
                204
            );
            assert_eq!(
                del(format!("{ari}/bridges/{bridge}"))
                    .await
                    .unwrap()
                    .status(),
                204
            );
            break;
        }
    }
    echo.await.unwrap()
}

#[tokio::test]
async fn serve_and_call_with_the_recorded_prompt() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("127.0.0.1:{port}");
    let bin = env!("CARGO_BIN_EXE_vca-sim");
    let _server = KillOnDrop(
        Command::new(bin)
            .args([
                "serve",
                "--listen",
                &base,
                "--strict-learn-ms",
                "300",
                "--media-start-ms",
                "20",
            ])
            .kill_on_drop(true)
            .spawn()
            .unwrap(),
    );
    while tokio::net::TcpStream::connect(&base).await.is_err() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let app = tokio::spawn(run_app(base.clone()));
    // Wait for the app's WebSocket before placing the call.
    let client = reqwest::Client::new();
    loop {
        let r = client
            .get(format!("http://{base}/ari/applications/vca-bridge"))
            .basic_auth("vca", Some("vca-secret"))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let dir = std::env::temp_dir().join(format!("vca-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let heard = dir.join("heard.wav");
    let prompt = format!("{RTP_DIR}/caller-speech-source.wav");
    let out = Command::new(bin)
        .args([
            "call",
            "--control",
            &format!("http://{base}/sim"),
            "--did",
            "+15559876543",
            "--caller",
            "+15551234567",
        ])
        .args([
            "--wav",
            &prompt,
            "--out",
            heard.to_str().unwrap(),
            "--hangup-after-audio-ms",
            "300",
            "--no-transmit-silence",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let view: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(view["status"]["status"], "ended");
    assert_eq!(view["media_done"], true);
    let (got, sent) = app.await.unwrap();

    // What the app received is the prompt as G.711, like the payload real Asterisk sent.
    let source = read_wav_8k_mono(std::path::Path::new(&prompt)).unwrap();
    assert_eq!(got.len(), source.len());
    let recorded = std::fs::read(format!("{RTP_DIR}/caller-speech.ulaw")).unwrap();
    let to_f = |b: &[u8]| {
        b.iter()
            .map(|&x| f64::from(Law::Ulaw.decode(x)))
            .collect::<Vec<_>>()
    };
    // Compare 1 s of speech from 2 s into the prompt; the recording starts 0.99 s in.
    let ours = to_f(&got[16000..24000]);
    let theirs = to_f(&recorded[7920 + 16000 - 800..7920 + 24000 + 800]);
    let corr = best_correlation(&ours, &theirs, 800);
    assert!(
        corr > 0.99,
        "correlation with the recorded RTP payload: {corr}"
    );

    // The caller heard exactly what the app sent back.
    let heard_pcm = read_wav_8k_mono(&heard).unwrap();
    let sent_pcm: Vec<i16> = sent.iter().map(|&b| Law::Ulaw.decode(b)).collect();
    assert_eq!(heard_pcm, sent_pcm);
}
