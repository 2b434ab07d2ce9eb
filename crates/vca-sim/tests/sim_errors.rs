//! Every error case of errors.jsonl that applies to the simulated routes returns the
//! recorded status and body; the External Media channel created there produces the
//! recorded events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim_support;

use std::collections::HashMap;

use serde_json::Value;
use sim_support::{
    EventStream, assert_event_matches, http, keys, recorded_events, test_config, transcript,
};
use vca_sim::Simulator;

/// Requests that need what the simulator does not model: originating channels into
/// arbitrary dialplan (`POST /channels`, the non-Stasis `vca-nonstasis-1`), slin16, dial.
fn simulated(line: &Value) -> bool {
    let url = line["url"].as_str().unwrap_or("");
    let path = line["path"].as_str().unwrap_or("");
    !(path == "/channels" && line["method"] == "POST"
        || path.starts_with("/channels/create")
        || path.ends_with("/dial")
        || url.contains("nonstasis")
        || url.contains("slin16"))
}

#[tokio::test]
async fn error_responses_match_recording() {
    let lines = transcript("errors.jsonl");
    let sim = Simulator::start(test_config()).await.unwrap();
    let mut events = EventStream::connect(&sim.events_url()).await;
    sim.wait_websocket().await;
    let base = format!("http://{}", sim.addr());
    let client = http();
    let mut pending: Option<Value> = None;
    let mut compared = 0;
    for line in &lines {
        match line["dir"].as_str().unwrap() {
            "request" if simulated(line) => {
                let url = line["url"]
                    .as_str()
                    .unwrap()
                    .replace("http://127.0.0.1:8088", &base);
                let method =
                    reqwest::Method::from_bytes(line["method"].as_str().unwrap().as_bytes())
                        .unwrap();
                pending = Some(line.clone());
                let req = client.request(method, &url);
                let req = match line["auth_user"].as_str() {
                    None => req,
                    Some(user) => req.basic_auth(user, Some("vca-secret")),
                };
                let expected = lines
                    .iter()
                    .skip_while(|l| !std::ptr::eq(*l, line))
                    .find(|l| l["dir"] == "response")
                    .unwrap();
                // A 401 for user vca in the recording was a wrong password.
                let wrong = expected["status"] == 401 && line["auth_user"] == "vca";
                let req = if wrong {
                    client.get(&url).basic_auth("vca", Some("wrong"))
                } else {
                    req
                };
                let req = match &line["body"] {
                    Value::Null => req,
                    b => req.json(b),
                };
                let resp = req.send().await.unwrap();
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap();
                let ctx = format!("{} {}", line["method"], url);
                assert_eq!(
                    status,
                    expected["status"].as_u64().unwrap() as u16,
                    "{ctx}: {text}"
                );
                let body: Value = if text.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(&text).unwrap()
                };
                let rec = &expected["body"];
                if status >= 400 {
                    assert_eq!(&body, rec, "{ctx}");
                } else {
                    assert_eq!(keys(&body), keys(rec), "{ctx}");
                }
                compared += 1;
            }
            "ws" if line["state"] == "error" => {
                let url = line["url"]
                    .as_str()
                    .unwrap()
                    .replace("ws://127.0.0.1:8088", &format!("ws://{}", sim.addr()));
                let err = tokio_tungstenite::connect_async(&url).await.unwrap_err();
                let tokio_tungstenite::tungstenite::Error::Http(resp) = err else {
                    panic!("{err}")
                };
                assert_eq!(
                    resp.status().as_u16(),
                    line["status"].as_u64().unwrap() as u16
                );
                let body = String::from_utf8(resp.body().clone().unwrap_or_default()).unwrap();
                assert_eq!(body, line["body"].as_str().unwrap());
                compared += 1;
            }
            _ => {}
        }
    }
    let _ = pending;
    assert!(compared >= 40, "compared {compared}");

    // Events about the fixed-id External Media channel, Playback events aside (the
    // recording cut off the second playback's PlaybackFinished).
    let about_fixed = |e: &Value| {
        e.get("channel")
            .or_else(|| e.get("peer"))
            .is_some_and(|c| c["id"] == "vca-em-fixed-id")
    };
    let expected: Vec<Value> = recorded_events(&lines, None)
        .into_iter()
        .filter(about_fixed)
        .collect();
    let mut live = Vec::new();
    let mut playbacks = Vec::new();
    while live.len() < expected.len() {
        let ev = events.next().await.unwrap();
        if ev["type"].as_str().unwrap().starts_with("Playback") {
            playbacks.push(ev);
        } else if about_fixed(&ev) {
            live.push(ev);
        }
    }
    let ids: HashMap<String, String> =
        [("vca-em-fixed-id".to_owned(), "vca-em-fixed-id".to_owned())].into();
    for (i, (l, e)) in live.iter().zip(&expected).enumerate() {
        assert_event_matches(l, e, &ids, i);
    }
    let started: Vec<&Value> = playbacks
        .iter()
        .filter(|p| p["type"] == "PlaybackStarted")
        .collect();
    assert_eq!(started.len(), 2);
    assert_eq!(playbacks[1]["type"], "PlaybackFinished");
    assert_eq!(playbacks[1]["playback"]["state"], "failed");
}

#[tokio::test]
async fn external_media_validation_and_params_in_json_body() {
    let sim = Simulator::start(test_config()).await.unwrap();
    let c = http();
    let url = format!("{}/channels/externalMedia", sim.ari_url());
    let post = |body: Value| {
        c.post(&url)
            .basic_auth("vca", Some("vca-secret"))
            .json(&body)
            .send()
    };
    let r = post(serde_json::json!({"app":"vca-bridge","external_host":"127.0.0.1:40000","format":"alaw","channelId":"em-1","variables":{"VCA_CALL_ID":"abc-123"}})).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["id"], "em-1");
    assert!(
        body["name"]
            .as_str()
            .unwrap()
            .starts_with("UnicastRTP/127.0.0.1:40000-0x")
    );
    let v: Value = c
        .get(format!(
            "{}/channels/em-1/variable?variable=VCA_CALL_ID",
            sim.ari_url()
        ))
        .basic_auth("vca", Some("vca-secret"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["value"], "abc-123");
    let dup = post(serde_json::json!({"app":"vca-bridge","external_host":"127.0.0.1:40000","format":"alaw","channelId":"em-1"})).await.unwrap();
    assert_eq!(
        dup.status(),
        500,
        "duplicate channelId is a 500 on Asterisk, not 409"
    );
    let public = post(
        serde_json::json!({"app":"vca-bridge","external_host":"192.0.2.1:40000","format":"ulaw"}),
    )
    .await
    .unwrap();
    assert_eq!(
        public.status(),
        500,
        "the simulator never sends off loopback"
    );
}
