//! Every event recorded from Asterisk 22 (`shared/asterisk/events/*.jsonl`) decodes into the
//! typed event enum, known types into their variants with the recorded field values, and the
//! recorded REST bodies decode into the typed models.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use vca_bridge::ari::events::KNOWN_EVENT_TYPES;
use vca_bridge::ari::{
    AriEvent, AriMessage, Bridge, Channel, ChannelState, ExternalMedia, parse_event,
};

const EVENTS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/asterisk/events");

/// Every line of every recording, with its file name.
fn recorded_lines() -> Vec<(String, serde_json::Value)> {
    let mut files: Vec<_> = std::fs::read_dir(EVENTS_DIR)
        .expect("shared/asterisk/events beside the repository")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "expected the recordings, found {files:?}"
    );
    let mut lines = Vec::new();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            if !line.trim().is_empty() {
                lines.push((name.clone(), serde_json::from_str(line).unwrap()));
            }
        }
    }
    lines
}

/// Every recorded event of one file, parsed.
fn events_of(file: &str) -> Vec<AriMessage> {
    recorded_lines()
        .into_iter()
        .filter(|(name, line)| name == file && line["dir"] == "event")
        .map(|(_, line)| parse_event(&line["event"].to_string()).unwrap())
        .collect()
}

#[test]
fn every_recorded_event_decodes() {
    let mut known = 0;
    let mut unknown = BTreeMap::<String, usize>::new();
    for (file, line) in recorded_lines() {
        if line["dir"] != "event" {
            continue;
        }
        let raw = &line["event"];
        let type_name = raw["type"].as_str().unwrap();
        let message = parse_event(&raw.to_string())
            .unwrap_or_else(|err| panic!("{file}: {type_name} failed: {err}"));
        assert_eq!(message.event.type_name(), type_name, "{file}");
        assert_eq!(message.application, raw["application"].as_str().unwrap());
        assert_eq!(message.timestamp, raw["timestamp"].as_str().unwrap());
        if KNOWN_EVENT_TYPES.contains(&type_name) {
            assert!(
                !matches!(message.event, AriEvent::Unknown { .. }),
                "{file}: {type_name} fell through to Unknown"
            );
            known += 1;
        } else {
            assert_eq!(
                message.event,
                AriEvent::Unknown {
                    type_name: type_name.to_owned()
                }
            );
            *unknown.entry(type_name.to_owned()).or_default() += 1;
        }
    }
    assert!(known > 500, "only {known} known events decoded");
    // What the recordings hold beyond our variants: subscribeAll-only noise.
    let unknown_names: Vec<_> = unknown.keys().map(String::as_str).collect();
    assert_eq!(
        unknown_names,
        ["ChannelCallerId", "ChannelDialplan", "DeviceStateChanged"]
    );
}

#[test]
fn stasis_start_carries_did_and_caller() {
    let events = events_of("inbound-call-caller-hangs-up.jsonl");
    let AriEvent::StasisStart(start) = &events[0].event else {
        panic!("first event is {:?}", events[0].event);
    };
    assert!(start.args.is_empty());
    assert_eq!(start.channel.id, "1795270178.0");
    assert_eq!(start.channel.state, ChannelState::Up);
    assert_eq!(start.channel.dialplan.exten, "+15559876543");
    assert_eq!(start.channel.dialplan.context, "from-tata-trunk");
    assert_eq!(start.channel.dialplan.app_name, "Stasis");
    assert_eq!(start.channel.dialplan.priority, 2);
    assert_eq!(start.channel.caller.number, "+15551234567");
    assert_eq!(events[0].application, "vca-bridge");
    assert_eq!(events[0].asterisk_id.as_deref(), Some("02:fc:00:00:00:01"));
}

#[test]
fn hangup_requests_carry_cause_and_soft() {
    let events = events_of("inbound-call-caller-hangs-up.jsonl");
    let hangups: Vec<_> = events
        .iter()
        .filter_map(|m| match &m.event {
            AriEvent::ChannelHangupRequest(h) => Some((h.channel.id.as_str(), h.cause, h.soft)),
            _ => None,
        })
        .collect();
    // Caller hangs up (cause 16, no soft), then we DELETE the External Media channel.
    assert_eq!(
        hangups,
        [
            ("1795270178.0", Some(16), None),
            ("1795270178.2", Some(32), Some(true))
        ]
    );
    let destroyed = events
        .iter()
        .find_map(|m| match &m.event {
            AriEvent::ChannelDestroyed(d) => Some(d),
            _ => None,
        })
        .unwrap();
    assert_eq!(destroyed.cause, 16);
    assert_eq!(destroyed.cause_txt, "Normal Clearing");
}

#[test]
fn dtmf_digits_and_durations() {
    let digits: Vec<(String, i64)> = events_of("dtmf.jsonl")
        .into_iter()
        .filter_map(|m| match m.event {
            AriEvent::ChannelDtmfReceived(d) => Some((d.digit, d.duration_ms)),
            _ => None,
        })
        .collect();
    let expected: Vec<(String, i64)> = [
        ("1", 100),
        ("2", 100),
        ("3", 100),
        ("#", 100),
        ("*", 400),
        ("9", 400),
    ]
    .iter()
    .map(|(d, ms)| ((*d).to_owned(), *ms))
    .collect();
    assert_eq!(digits, expected);
}

#[test]
fn external_media_events_and_bridge_events() {
    let events = events_of("inbound-call-caller-hangs-up.jsonl");
    let dial_statuses: Vec<_> = events
        .iter()
        .filter_map(|m| match &m.event {
            AriEvent::Dial(d) => Some((d.peer.id.as_str(), d.dialstatus.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        dial_statuses,
        [("1795270178.2", ""), ("1795270178.2", "ANSWER")]
    );
    let varsets: Vec<_> = events
        .iter()
        .filter_map(|m| match &m.event {
            AriEvent::ChannelVarset(v) => Some(v.variable.as_str()),
            _ => None,
        })
        .collect();
    assert!(varsets.contains(&"STASISSTATUS"));
    assert!(varsets.contains(&"BRIDGEPEER"));
    let entered: Vec<_> = events
        .iter()
        .filter_map(|m| match &m.event {
            AriEvent::ChannelEnteredBridge(b) => Some((
                b.bridge.id.as_str(),
                b.channel.as_ref().unwrap().id.as_str(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        entered,
        [
            ("50d4dd5c-809b-4306-89be-5f679a12c4ba", "1795270178.0"),
            ("50d4dd5c-809b-4306-89be-5f679a12c4ba", "1795270178.2")
        ]
    );
    assert!(events.iter().any(|m| matches!(
        &m.event,
        AriEvent::BridgeDestroyed(b) if b.bridge.id == "50d4dd5c-809b-4306-89be-5f679a12c4ba"
    )));
    assert!(events.iter().any(|m| matches!(
        &m.event,
        AriEvent::StasisEnd(e) if e.channel.id == "1795270178.0"
    )));
}

#[test]
fn playback_failure_is_visible() {
    let finished = events_of("errors.jsonl")
        .into_iter()
        .find_map(|m| match m.event {
            AriEvent::PlaybackFinished(p) => Some(p.playback),
            _ => None,
        })
        .unwrap();
    assert_eq!(finished.state, "failed");
    assert_eq!(finished.media_uri, "sound:no-such-sound-file");
}

#[test]
fn recorded_rest_bodies_decode() {
    let mut external_media = Vec::new();
    let mut checked = 0;
    for (file, line) in recorded_lines() {
        if line["dir"] != "response" || line["status"] != 200 {
            continue;
        }
        let path = line["path"].as_str().unwrap();
        let body = line["body"].clone();
        match (line["method"].as_str().unwrap(), path) {
            ("GET", "/channels") => {
                serde_json::from_value::<Vec<Channel>>(body).unwrap();
            }
            ("GET", "/bridges") => {
                serde_json::from_value::<Vec<Bridge>>(body).unwrap();
            }
            ("POST", "/bridges") => {
                let bridge: Bridge = serde_json::from_value(body).unwrap();
                assert_eq!(bridge.bridge_type, "mixing", "{file}");
            }
            ("POST", "/channels/externalMedia") => {
                let channel: Channel = serde_json::from_value(body).unwrap();
                external_media.push((file.clone(), channel));
            }
            _ => continue,
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} bodies checked");
    let main_call = external_media
        .iter()
        .find(|(file, _)| file == "inbound-call-caller-hangs-up.jsonl")
        .unwrap();
    let em = ExternalMedia::from_channel(main_call.1.clone()).unwrap();
    assert_eq!(
        em.rtp_address,
        "127.0.0.1:15732".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(em.channel.id, "1795270178.2");
    // Every UnicastRTP response carries the RTP address; chan_websocket ones do not.
    for (file, channel) in &external_media {
        let parsed = ExternalMedia::from_channel(channel.clone());
        if channel.name.starts_with("UnicastRTP/") {
            assert!(parsed.is_ok(), "{file}: {parsed:?}");
        } else {
            assert!(parsed.is_err(), "{file}: {}", channel.name);
        }
    }
}
