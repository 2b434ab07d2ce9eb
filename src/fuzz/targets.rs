//! One entry function per parser of outside input. Each takes any bytes, runs the real
//! parsing code on them and checks what must hold whatever the bytes (pieces split anywhere
//! give the same result as the whole, one `Done` ends a reply, frames keep time order).
//! A panic — from the code under test or a broken check — is a finding.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::input::{Input, pieces};
use crate::ari::events::{AriEvent, parse_event};
use crate::ari::external_media::rtp_address_from_vars;
use crate::ari::models::{Application, Bridge, Channel, Playback, Variable};
use crate::config::{Layers, Needs, Settings, toml_layer};
use crate::engines::audio::Le16Assembler;
use crate::engines::llm::LlmEvent;
use crate::engines::llm::reply::ReplyReader;
use crate::engines::sse::SseParser;
use crate::engines::stt::deepgram_messages::parse_message;
use crate::engines::stt::sarvam_messages::parse_sarvam_message;
use crate::engines::tts::sarvam_ws::{Step, step};
use crate::engines::wav::{WavStreamReader, mono16};
use crate::media::config::{JitterConfig, MediaConfig};
use crate::media::core::{MediaCore, Output};
use crate::media::g711::Law;
use crate::media::inbound::InboundStream;
use crate::media::outbound::RtpIdentity;
use crate::media::playout::{PlayoutId, PlayoutQueue};
use crate::media::stats::MediaStats;
use crate::media::{FRAME_SAMPLES, OUT_PACKET_LEN, RTP_HEADER_LEN};

/// A fuzz target.
pub struct Target {
    /// Its name (`scripts/fuzz NAME`).
    pub name: &'static str,
    /// What it feeds and to which code.
    pub about: &'static str,
    /// The entry function.
    pub run: fn(&[u8]),
    /// Valid inputs to start from.
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Words worth inserting (field names, keywords).
    pub dictionary: &'static [&'static [u8]],
    /// Whether inputs are JSON (the driver then also mutates JSON nodes).
    pub json: bool,
}

/// Every target.
pub static TARGETS: &[Target] = &[
    Target {
        name: "rtp",
        about: "one datagram: rtp-rs header parsing and InboundStream's checks, then its frames",
        run: rtp,
        seeds: rtp_seeds,
        dictionary: &[
            b"\x80\x00",
            b"\x80\x08",
            b"\x90\x00",
            b"\xa0\x00",
            b"\x8f\x00",
            b"\xbe\xde",
        ],
        json: false,
    },
    Target {
        name: "media_core",
        about: "a sequence of datagrams, agent audio and flushes with advancing virtual time \
                through MediaCore::handle_datagram/handle_play + drain",
        run: media_core,
        seeds: media_core_seeds,
        dictionary: &[],
        json: false,
    },
    Target {
        name: "ari_event",
        about: "an ARI WebSocket text frame: parse_event, then the routing and External Media \
                reads of what it carries",
        run: ari_event,
        seeds: ari_event_seeds,
        dictionary: ARI_WORDS,
        json: true,
    },
    Target {
        name: "ari_rest",
        about: "an ARI REST response body into every model the client decodes",
        run: ari_rest,
        seeds: ari_rest_seeds,
        dictionary: ARI_WORDS,
        json: true,
    },
    Target {
        name: "deepgram",
        about: "a Deepgram live message: parse_message",
        run: deepgram,
        seeds: deepgram_seeds,
        dictionary: &[
            b"\"Results\"",
            b"\"UtteranceEnd\"",
            b"\"SpeechStarted\"",
            b"\"Metadata\"",
            b"type",
            b"channel",
            b"alternatives",
            b"transcript",
            b"languages",
            b"is_final",
            b"speech_final",
            b"from_finalize",
            b"start",
            b"duration",
            b"last_word_end",
            b"timestamp",
            b"request_id",
        ],
        json: true,
    },
    Target {
        name: "sarvam_stt",
        about: "a Sarvam streaming STT message: parse_sarvam_message",
        run: sarvam_stt,
        seeds: sarvam_stt_seeds,
        dictionary: &[
            b"\"data\"",
            b"\"events\"",
            b"\"error\"",
            b"type",
            b"transcript",
            b"language_code",
            b"signal_type",
            b"\"START_SPEECH\"",
            b"\"END_SPEECH\"",
            b"code",
            b"message",
        ],
        json: true,
    },
    Target {
        name: "sarvam_tts",
        about: "a Sarvam TTS WebSocket message (text or close frame): the synthesis step",
        run: sarvam_tts,
        seeds: sarvam_tts_seeds,
        dictionary: &[
            b"\"audio\"",
            b"\"event\"",
            b"\"error\"",
            b"\"final\"",
            b"type",
            b"data",
            b"event_type",
            b"code",
            b"content_type",
            b"request_id",
        ],
        json: true,
    },
    Target {
        name: "sse",
        about: "a server-sent-events body split anywhere: SseParser",
        run: sse,
        seeds: sse_seeds,
        dictionary: &[
            b"data:", b"data: ", b"event:", b": ping", b"\n\n", b"\r\n", b"\r", b"id:", b"retry:",
        ],
        json: false,
    },
    Target {
        name: "llm_stream",
        about: "an OpenAI-compatible chat stream split anywhere: ReplyReader (SSE, chunks, \
                tool-call fragment assembly, usage)",
        run: llm_stream,
        seeds: llm_stream_seeds,
        dictionary: &[
            b"data: ",
            b"\n\n",
            b"[DONE]",
            b"\"choices\"",
            b"\"delta\"",
            b"\"content\"",
            b"\"tool_calls\"",
            b"\"index\"",
            b"\"id\"",
            b"\"function\"",
            b"\"name\"",
            b"\"arguments\"",
            b"\"finish_reason\"",
            b"\"usage\"",
            b"\"prompt_tokens\"",
            b"\"completion_tokens\"",
            b"\"error\"",
            b"null",
            b"4294967295",
        ],
        json: false,
    },
    Target {
        name: "elevenlabs",
        about: "an ElevenLabs audio body split anywhere: 16-bit PCM reassembly (pcm_16000) and \
                µ-law decoding (ulaw_8000), queued for playout",
        run: elevenlabs,
        seeds: elevenlabs_seeds,
        dictionary: &[],
        json: false,
    },
    Target {
        name: "wav",
        about: "a WAV stream split anywhere: WavStreamReader, its samples queued for playout at \
                the header's rate",
        run: wav,
        seeds: wav_seeds,
        dictionary: &[
            b"RIFF",
            b"WAVE",
            b"fmt ",
            b"data",
            b"LIST",
            b"\x10\x00\x00\x00",
            b"\x01\x00\x01\x00",
            b"\x40\x1f\x00\x00",
            b"\x10\x00",
        ],
        json: false,
    },
    Target {
        name: "settings",
        about: "a settings file: TOML layer, then Settings::load of what it sets",
        run: settings,
        seeds: settings_seeds,
        dictionary: SETTINGS_WORDS,
        json: false,
    },
];

/// The target called `name`.
pub fn find(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Runs the target called `name` on `data` (the libFuzzer binaries in `fuzz/`); a name
/// that is not a target panics, so a misspelt binary fails at once.
pub fn run_target(name: &str, data: &[u8]) {
    match find(name) {
        Some(target) => (target.run)(data),
        None => panic!("no fuzz target {name:?}"),
    }
}

/// Cut points derived from the input itself (FNV-1a, then xorshift), so an input alone
/// decides how it is split: pieces of 1..=`max` bytes.
fn self_cuts(data: &[u8], max: usize) -> Vec<usize> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut cuts = Vec::new();
    let mut at = 0usize;
    loop {
        h ^= h << 13;
        h ^= h >> 7;
        h ^= h << 17;
        at += 1 + (h % max as u64) as usize;
        if at >= data.len() {
            return cuts;
        }
        cuts.push(at);
    }
}

// ---- RTP ----

const ASTERISK: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000);
const STRANGER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40002);

fn rtp(data: &[u8]) {
    // rtp-rs alone, every accessor.
    if let Ok(reader) = rtp_rs::RtpReader::new(data) {
        let _ = (
            reader.version(),
            reader.padding(),
            reader.mark(),
            reader.payload_type(),
        );
        let _ = (reader.sequence_number(), reader.timestamp(), reader.ssrc());
        let _ = reader.csrc().count();
        let _ = reader.extension();
        assert!(reader.payload().len() <= data.len());
    }
    // Our checks on top, then whatever frames it makes.
    let start = Instant::now();
    for law in [Law::Ulaw, Law::Alaw] {
        let mut stats = MediaStats::default();
        let mut stream = InboundStream::new(law, ASTERISK, start, &JitterConfig::default());
        let _ = stream.handle_datagram(start, ASTERISK, data, &mut stats);
        let later = start + Duration::from_millis(200);
        let mut last = None;
        while let Some(frame) = stream.poll_frame(later, &mut stats) {
            assert!(usize::from(frame.filled_samples) <= FRAME_SAMPLES);
            assert!(last.is_none_or(|l| frame.at_ms > l), "frames out of order");
            last = Some(frame.at_ms);
        }
        assert_eq!(stats.packets_in, 1);
    }
}

fn rtp_packet(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn rtp_seeds() -> Vec<Vec<u8>> {
    let mut seeds = vec![
        rtp_packet(0, true, 1, 160, 7, &[0xFF; 160]),
        rtp_packet(8, false, 2, 320, 7, &[0xD5; 160]),
        rtp_packet(0, false, 3, 480, 7, &[0x7F; 80]),
    ];
    // CSRCs, an extension, padding.
    let mut csrc = rtp_packet(0, false, 4, 640, 7, &[]);
    csrc[0] = 0x82;
    csrc.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]);
    csrc.extend_from_slice(&[0xFF; 160]);
    seeds.push(csrc);
    let mut ext = rtp_packet(0, false, 5, 800, 7, &[]);
    ext[0] = 0x90;
    ext.extend_from_slice(&[0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0]);
    ext.extend_from_slice(&[0xFF; 160]);
    seeds.push(ext);
    let mut pad = rtp_packet(0, false, 6, 960, 7, &[0xFF; 160]);
    pad[0] = 0xA0;
    pad.extend_from_slice(&[0, 0, 0, 4]);
    seeds.push(pad);
    seeds
}

// ---- the media core ----

/// Reads operations off the input: RTP packets built from fields (most of them valid, so
/// they pass the checks and reach reordering, concealment, VAD, endpointing and barge-in),
/// raw datagrams, datagrams from a stranger, agent audio, flushes, time jumps; drains after
/// each, with time moving forward.
fn media_core(data: &[u8]) {
    let mut input = Input::new(data);
    let start = Instant::now();
    let law = if input.u8() & 1 == 0 {
        Law::Ulaw
    } else {
        Law::Alaw
    };
    let pt = match law {
        Law::Ulaw => 0,
        Law::Alaw => 8,
    };
    let config = MediaConfig {
        law,
        ..MediaConfig::default()
    };
    let identity = RtpIdentity {
        ssrc: 0x1234_5678,
        first_seq: input.u16(),
        first_timestamp: input.u32(),
    };
    let Ok(mut core) = MediaCore::new(&config, ASTERISK, start, identity) else {
        return;
    };
    let mut now = start;
    let mut out = [0u8; OUT_PACKET_LEN];
    let (mut seq, mut ts, mut ssrc) = (input.u16(), input.u32(), input.u32());
    let mut clip = 0u64;
    let mut last_frame: Option<u64> = None;
    let mut ops = 0;
    while !input.is_empty() && ops < 2000 {
        ops += 1;
        match input.u8() % 10 {
            0..=3 => {
                // The next packet, with a sequence step of -8..=23 and a timestamp to match.
                let step = i32::from(input.u8() % 32) - 8;
                seq = seq.wrapping_add(step as u16);
                let samples = [0u32, 80, 160, 160, 160, 240, 320, 960][usize::from(input.u8() % 8)];
                ts = ts.wrapping_add((step as u32).wrapping_mul(samples));
                let flags = input.u8();
                if flags & 0x0F == 0 {
                    ssrc = input.u32();
                }
                let packet_pt = if flags & 0x30 == 0x30 {
                    input.u8() & 0x7F
                } else {
                    pt
                };
                let level = input.u8();
                let payload: Vec<u8> = (0..samples as usize)
                    .map(|i| {
                        if level & 1 == 0 {
                            level
                        } else {
                            level.wrapping_add((i % 37) as u8)
                        }
                    })
                    .collect();
                let packet = rtp_packet(packet_pt, flags & 0x40 != 0, seq, ts, ssrc, &payload);
                let _ = core.handle_datagram(now, ASTERISK, &packet);
            }
            4 => {
                let len = usize::from(input.u8());
                let _ = core.handle_datagram(now, ASTERISK, input.bytes(len));
            }
            5 => {
                let len = usize::from(input.u8());
                let _ = core.handle_datagram(now, STRANGER, input.bytes(len));
            }
            6 => {
                let rate = [8000, 16000, 22050, 24000, 44100, 48000][usize::from(input.u8() % 6)];
                let len = usize::from(input.u16() % 8000);
                let seed = input.u16();
                let pcm: Vec<i16> = (0..len)
                    .map(|i| (i as i16).wrapping_mul(seed as i16))
                    .collect();
                clip += 1;
                let _ = core.handle_play(PlayoutId(clip), rate, &pcm);
            }
            7 => {
                let _ = core.handle_flush();
            }
            8 => core.set_end_silence(Duration::from_millis(u64::from(input.u16()))),
            _ => {
                // A stall: up to 65 s, or to the core's own deadline.
                if input.u8() & 1 == 0 {
                    now += Duration::from_millis(u64::from(input.u16()));
                } else {
                    now = now.max(core.poll_timeout());
                }
            }
        }
        now += Duration::from_millis(u64::from(input.u8() % 41));
        core.drain(now, &mut out, |output| match output {
            Output::Transmit { packet, .. } => {
                assert!(packet.len() > RTP_HEADER_LEN && packet.len() <= OUT_PACKET_LEN);
            }
            Output::Inbound(frame) => {
                assert!(usize::from(frame.filled_samples) <= FRAME_SAMPLES);
                assert!(
                    last_frame.is_none_or(|l| frame.at_ms > l),
                    "frames out of order"
                );
                last_frame = Some(frame.at_ms);
            }
            Output::Event { .. } => {}
        });
        let deadline = core.poll_timeout();
        assert!(
            deadline > now,
            "the core's deadline is not after a drain: now {:?}, deadline {:?}, next transmit {:?}",
            now - start,
            deadline.saturating_duration_since(start),
            core.next_transmit() - start
        );
    }
}

fn media_core_seeds() -> Vec<Vec<u8>> {
    let mut talk = vec![0u8, 0, 1, 0, 0, 0, 0, 0, 100, 0, 0, 0, 50, 0, 0, 0, 7];
    for i in 0..120u8 {
        // op 0, step +1, 160 samples, same SSRC, a level that changes like speech, 20 ms.
        talk.extend_from_slice(&[0, 9, 2, 0x01, if i % 30 < 20 { 0x11 } else { 0xFF }, 20]);
    }
    let mut barge = talk.clone();
    barge.splice(17..17, [6, 1, 0x1F, 0x40, 0, 3, 0]);
    let mut lossy = talk.clone();
    for (n, chunk) in lossy.chunks_mut(6).enumerate().skip(3) {
        if n % 5 == 0 {
            chunk[1] = 12; // a jump of 4
        }
    }
    let mut stall = talk.clone();
    stall.extend_from_slice(&[9, 0, 0x75, 0x30, 0]);
    stall.extend_from_slice(&[0, 9, 2, 0x01, 0x11, 20]);
    vec![talk, barge, lossy, stall]
}

// ---- ARI ----

const ARI_WORDS: &[&[u8]] = &[
    b"type",
    b"StasisStart",
    b"StasisEnd",
    b"ChannelDestroyed",
    b"ChannelHangupRequest",
    b"ChannelDtmfReceived",
    b"ChannelVarset",
    b"ChannelStateChange",
    b"ChannelEnteredBridge",
    b"Dial",
    b"PlaybackFinished",
    b"ApplicationReplaced",
    b"channel",
    b"bridge",
    b"playback",
    b"peer",
    b"caller",
    b"number",
    b"dialplan",
    b"exten",
    b"context",
    b"priority",
    b"args",
    b"channelvars",
    b"UNICASTRTP_LOCAL_ADDRESS",
    b"UNICASTRTP_LOCAL_PORT",
    b"state",
    b"Up",
    b"Ring",
    b"digit",
    b"duration_ms",
    b"cause",
    b"variable",
    b"value",
    b"id",
    b"name",
    b"channels",
    b"application",
    b"timestamp",
    b"asterisk_id",
    b"+919876543210",
    b"::1",
];

/// Up to `limit` recorded lines of `shared/asterisk/events` (beside the repository) where
/// `pick` finds a value, as JSON text; none when the recordings are not there.
fn recorded(
    pick: fn(&serde_json::Value) -> Option<&serde_json::Value>,
    limit: usize,
) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/asterisk/events");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for line in text.lines() {
            let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if let Some(v) = pick(&value)
                && let Ok(bytes) = serde_json::to_vec(v)
                && !out.contains(&bytes)
            {
                out.push(bytes);
                if out.len() >= limit {
                    return out;
                }
            }
        }
    }
    out
}

fn ari_event(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(message) = parse_event(&text) else {
        return;
    };
    let _ = message.event.type_name();
    let _ = message.event.channel_id();
    let mut channels: Vec<&Channel> = Vec::new();
    match &message.event {
        AriEvent::StasisStart(start) => {
            let numbers = crate::call::routing::dialled_numbers(start, 91);
            let _ = crate::phone::mask(&numbers.caller);
            let _ = crate::phone::mask(&numbers.called);
            channels.push(&start.channel);
            channels.extend(start.replace_channel.as_ref());
        }
        AriEvent::Dial(dial) => {
            channels.push(&dial.peer);
            channels.extend(dial.caller.as_ref());
        }
        AriEvent::ChannelDestroyed(d) => channels.push(&d.channel),
        _ => {}
    }
    for channel in channels {
        let _ = rtp_address_from_vars(&channel.channelvars);
        let _ = crate::phone::normalize_e164(&channel.caller.number, 91);
    }
}

const ARI_EVENT_SEEDS: &[&str] = &[
    r#"{"type":"StasisStart","timestamp":"2026-11-21T14:10:28.368+0000","args":["+912240001234"],"channel":{"id":"1795270228.6","name":"PJSIP/tata-00000002","state":"Ring","caller":{"name":"","number":"09876543210"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"from-tata-trunk","exten":"+912240001234","priority":2,"app_name":"Stasis","app_data":"vca-bridge"},"creationtime":"2026-11-21T14:10:28.368+0000","language":"en","channelvars":{"UNICASTRTP_LOCAL_ADDRESS":"127.0.0.1","UNICASTRTP_LOCAL_PORT":"40000"}},"asterisk_id":"02:fc:00:00:00:01","application":"vca-bridge"}"#,
    r#"{"type":"ChannelDtmfReceived","digit":"5","duration_ms":120,"channel":{"id":"1.2"},"application":"vca-bridge"}"#,
    r#"{"type":"ChannelDestroyed","cause":16,"cause_txt":"Normal Clearing","channel":{"id":"1.2","state":"Up"}}"#,
    r#"{"type":"Dial","peer":{"id":"1.3","name":"Local/x"},"dialstatus":"ANSWER","dialstring":"x@y"}"#,
    r#"{"type":"ChannelVarset","variable":"UNICASTRTP_LOCAL_PORT","value":"40000","channel":{"id":"1.2"}}"#,
    r#"{"type":"ChannelEnteredBridge","bridge":{"id":"b1","technology":"simple_bridge","bridge_type":"mixing","channels":["1.2","1.3"]},"channel":{"id":"1.2"}}"#,
    r#"{"type":"PlaybackFinished","playback":{"id":"p1","media_uri":"sound:hello","target_uri":"channel:1.2","state":"done"}}"#,
    r#"{"type":"ApplicationReplaced","application":"vca-bridge"}"#,
    r#"{"type":"SomethingNew","application":"vca-bridge","x":[1,2,3]}"#,
];

fn ari_event_seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = ARI_EVENT_SEEDS
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    seeds.extend(recorded(
        |v| {
            (v.get("dir")?.as_str()? == "event")
                .then(|| v.get("event"))
                .flatten()
        },
        300,
    ));
    seeds
}

fn ari_rest(data: &[u8]) {
    let _ = serde_json::from_slice::<Channel>(data);
    let _ = serde_json::from_slice::<Vec<Channel>>(data);
    let _ = serde_json::from_slice::<Bridge>(data);
    let _ = serde_json::from_slice::<Vec<Bridge>>(data);
    let _ = serde_json::from_slice::<Application>(data);
    let _ = serde_json::from_slice::<Variable>(data);
    let _ = serde_json::from_slice::<Playback>(data);
    if let Ok(channel) = serde_json::from_slice::<Channel>(data) {
        let _ = crate::ari::ExternalMedia::from_channel(channel);
    }
}

fn ari_rest_seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = [
        r#"{"id":"1795270228.6","name":"UnicastRTP/127.0.0.1:40000-0x1","state":"Down","caller":{"name":"","number":""},"dialplan":{"context":"default","exten":"s","priority":1},"channelvars":{"UNICASTRTP_LOCAL_ADDRESS":"127.0.0.1","UNICASTRTP_LOCAL_PORT":"40000"}}"#,
        r#"[{"id":"1.2","state":"Up"},{"id":"1.3","state":"Ringing"}]"#,
        r#"{"id":"b1","technology":"simple_bridge","bridge_type":"mixing","bridge_class":"stasis","channels":["1.2"]}"#,
        r#"{"name":"vca-bridge","channel_ids":["1.2"],"bridge_ids":[],"endpoint_ids":[],"device_names":[]}"#,
        r#"{"value":"+912240001234"}"#,
        r#"{"id":"p1","media_uri":"sound:hello","target_uri":"channel:1.2","state":"queued"}"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    seeds.extend(recorded(
        |v| {
            (v.get("dir")?.as_str()? == "response")
                .then(|| v.get("body"))
                .flatten()
                .filter(|b| !b.is_null())
        },
        200,
    ));
    seeds
}

// ---- provider streams ----

fn deepgram(data: &[u8]) {
    let _ = parse_message(&String::from_utf8_lossy(data));
}

fn deepgram_seeds() -> Vec<Vec<u8>> {
    [
        r#"{"type":"Results","channel_index":[0,1],"duration":1.02,"start":0.5,"is_final":true,"speech_final":true,"from_finalize":false,"channel":{"alternatives":[{"transcript":"I want to book a table","confidence":0.98,"words":[],"languages":["en"]}]},"metadata":{"request_id":"r"}}"#,
        r#"{"type":"UtteranceEnd","channel":[0,1],"last_word_end":2.1}"#,
        r#"{"type":"SpeechStarted","channel":[0],"timestamp":0.3}"#,
        r#"{"type":"Metadata","request_id":"abc","duration":12.5,"channels":1}"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn sarvam_stt(data: &[u8]) {
    let _ = parse_sarvam_message(&String::from_utf8_lossy(data));
}

fn sarvam_stt_seeds() -> Vec<Vec<u8>> {
    [
        r#"{"type":"data","data":{"request_id":"r","transcript":"नमस्ते, मुझे मदद चाहिए","language_code":"hi-IN","metrics":{"audio_duration":1.2}}}"#,
        r#"{"type":"events","data":{"signal_type":"START_SPEECH","occured_at":1.0}}"#,
        r#"{"type":"events","data":{"signal_type":"END_SPEECH"}}"#,
        r#"{"type":"error","data":{"code":"429","message":"rate limited"}}"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn sarvam_tts(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    for law in [Law::Alaw, Law::Ulaw] {
        if let Ok(Step::Audio(chunk)) = step(Message::text(text.clone()), law) {
            assert_eq!(chunk.rate_hz, 8000);
        }
    }
    // The same bytes as a close frame: code from the first two, reason the rest.
    let mut input = Input::new(data);
    let code = CloseCode::from(input.u16());
    let reason = String::from_utf8_lossy(input.rest()).into_owned();
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    assert!(step(Message::Close(Some(frame)), Law::Alaw).is_err());
}

fn sarvam_tts_seeds() -> Vec<Vec<u8>> {
    [
        r#"{"type":"audio","data":{"content_type":"audio/alaw","audio":"1dXV1dXV1dXV1dXV"}}"#,
        r#"{"type":"event","data":{"event_type":"final"}}"#,
        r#"{"type":"error","data":{"message":"bad speaker","code":400}}"#,
        r#"{"type":"error","data":{"code":"rate_limit_exceeded"}}"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// Every event of `data` pushed in `pieces`, or the error.
fn sse_events(pieces: &[&[u8]]) -> Result<Vec<String>, ()> {
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    for piece in pieces {
        parser.push(piece).map_err(|_| ())?;
        while let Some(e) = parser.next_event() {
            events.push(e);
        }
    }
    parser.finish();
    while let Some(e) = parser.next_event() {
        events.push(e);
    }
    Ok(events)
}

fn sse(data: &[u8]) {
    let whole = sse_events(&[data]);
    let cuts = self_cuts(data, 7);
    let split = sse_events(&pieces(data, &cuts));
    assert_eq!(whole, split, "events differ when the body is split");
}

fn sse_seeds() -> Vec<Vec<u8>> {
    [
        "data: one\n\ndata: two\ndata: lines\n\n",
        ": keep-alive\r\n\r\nevent: x\r\ndata:{\"a\":1}\r\n\r\n",
        "data: no end",
        "id: 1\nretry: 10\ndata\n\ndata: é ह 😀\n\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// The events of a chat stream pushed in `pieces`, or the first error.
fn reply_events(pieces: &[&[u8]]) -> Result<Vec<LlmEvent>, String> {
    let mut reader = ReplyReader::new(100);
    let mut events = Vec::new();
    for piece in pieces {
        if reader.is_done() {
            break;
        }
        reader.push(piece)?;
        while let Some(e) = reader.pop() {
            events.push(e);
        }
    }
    if !reader.is_done() {
        reader.end()?;
    }
    while let Some(e) = reader.pop() {
        events.push(e);
    }
    Ok(events)
}

fn llm_stream(data: &[u8]) {
    let whole = reply_events(&[data]);
    if let Ok(events) = &whole {
        let dones = events
            .iter()
            .filter(|e| matches!(e, LlmEvent::Done { .. }))
            .count();
        assert_eq!(dones, 1, "a complete reply ends with exactly one Done");
        assert!(
            matches!(events.last(), Some(LlmEvent::Done { .. })),
            "Done is last"
        );
        let tool_calls = events
            .iter()
            .filter(|e| matches!(e, LlmEvent::ToolCalls(_)))
            .count();
        assert!(tool_calls <= 1);
    }
    let cuts = self_cuts(data, 13);
    let split = reply_events(&pieces(data, &cuts));
    assert_eq!(
        whole.is_ok(),
        split.is_ok(),
        "a split stream reads differently: {whole:?} / {split:?}"
    );
    if let (Ok(a), Ok(b)) = (&whole, &split) {
        // Deltas may be cut differently; the text, tool calls and end are the same.
        assert_eq!(reply_summary(a), reply_summary(b));
    }
}

fn reply_summary(events: &[LlmEvent]) -> (String, Vec<LlmEvent>) {
    let mut text = String::new();
    let mut rest = Vec::new();
    for e in events {
        match e {
            LlmEvent::Delta(d) => text.push_str(d),
            other => rest.push(other.clone()),
        }
    }
    (text, rest)
}

fn llm_stream_seeds() -> Vec<Vec<u8>> {
    [
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n\
         data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" there.\"},\"finish_reason\":\"stop\"}]}\n\n\
         data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3}}\n\n\
         data: [DONE]\n\n",
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"book\",\"arguments\":\"\"}}]}}]}\n\n\
         data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"day\\\":\"}}]}}]}\n\n\
         data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_2\",\"function\":{\"name\":\"end_call\",\"arguments\":\"{}\"}},{\"index\":0,\"function\":{\"arguments\":\"\\\"mon\\\"}\"}}]}}]}\n\n\
         data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"length\"}]}\n\n",
        "data: {\"error\":{\"message\":\"overloaded\"}}\n\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn elevenlabs(data: &[u8]) {
    // pcm_16000: 16-bit little-endian, split anywhere.
    let mut whole = Le16Assembler::new();
    let all = whole.push(data);
    let mut split = Le16Assembler::new();
    let mut pieced = Vec::new();
    for piece in pieces(data, &self_cuts(data, 5)) {
        pieced.extend(split.push(piece));
    }
    assert_eq!(all, pieced, "samples differ when the body is split");
    assert_eq!(all.len(), data.len() / 2);
    assert_eq!(whole.has_carry(), data.len() % 2 == 1);
    // ulaw_8000: one sample per byte.
    let ulaw: Vec<i16> = data.iter().map(|&b| Law::Ulaw.decode(b)).collect();
    let mut queue = PlayoutQueue::new();
    let _ = queue.push(PlayoutId(1), 16_000, &all);
    let _ = queue.push(PlayoutId(2), 8000, &ulaw);
}

fn elevenlabs_seeds() -> Vec<Vec<u8>> {
    let tone: Vec<u8> = (0..640i32)
        .flat_map(|i| (((i * 37) % 2000 - 1000) as i16).to_le_bytes())
        .collect();
    vec![tone, vec![0xFF; 321], vec![0x00, 0x80, 0xFF, 0x7F]]
}

/// Samples and rate of a WAV stream pushed in `pieces`, or whether it failed.
fn wav_read(pieces: &[&[u8]]) -> Result<(Vec<i16>, Option<u32>), ()> {
    let mut reader = WavStreamReader::new();
    let mut samples = Vec::new();
    for piece in pieces {
        samples.extend(reader.push(piece).map_err(|_| ())?);
    }
    Ok((samples, reader.rate()))
}

fn wav(data: &[u8]) {
    let whole = wav_read(&[data]);
    let split = wav_read(&pieces(data, &self_cuts(data, 9)));
    if let (Ok(a), Ok(b)) = (&whole, &split) {
        assert_eq!(a, b, "a WAV split anywhere reads the same");
    }
    if let Ok((samples, Some(rate))) = whole {
        let mut queue = PlayoutQueue::new();
        let _ = queue.push(PlayoutId(1), rate, &samples);
    }
}

fn wav_seeds() -> Vec<Vec<u8>> {
    let tone: Vec<i16> = (0..400).map(|i| ((i * 91) % 3000 - 1500) as i16).collect();
    let mut list = mono16(22_050, &tone);
    // A LIST chunk between fmt and data, as espeak-ng writes it.
    list.splice(36..36, b"LIST\x04\x00\x00\x00INFO".iter().copied());
    vec![
        mono16(16_000, &tone),
        mono16(22_050, &tone),
        list,
        mono16(8000, &[]),
    ]
}

// ---- the settings file ----

const SETTINGS_WORDS: &[&[u8]] = &[
    b"database_url",
    b"redis_url",
    b"admin_listen",
    b"admin_token",
    b"admin_token_file",
    b"ari_url",
    b"ari_username",
    b"ari_password",
    b"ari_app",
    b"rtp_bind",
    b"rtp_advertise",
    b"rtp_port_range",
    b"media_format",
    b"default_country_code",
    b"log",
    b"log_format",
    b"end_call_marker",
    b"drain_timeout_seconds",
    b"shutdown",
    b"node_name",
    b"stt_provider",
    b"stt_base_url",
    b"stt_model",
    b"stt_language",
    b"stt_api_key",
    b"stt_timeout_ms",
    b"stt_workers",
    b"stt_mode",
    b"llm_provider",
    b"llm_base_url",
    b"llm_model",
    b"llm_api_key",
    b"llm_max_tokens",
    b"llm_temperature",
    b"llm_max_history",
    b"llm_timeout_ms",
    b"tts_provider",
    b"tts_base_url",
    b"tts_model",
    b"tts_voice",
    b"tts_api_key",
    b"tts_timeout_ms",
    b"tts_mode",
    b"tts_language",
    b"webhook_allow_private",
    b"webhook_timeout_ms",
    b"webhook_retry_base_ms",
    b"webhook_retry_max_seconds",
    b"webhook_retry_window_seconds",
    b"webhook_poll_ms",
    b" = ",
    b"\"",
    b"'''",
    b"[x]",
    b"\n",
    b"0.0.0.0:0",
    b"[::]:5060",
    b"10000-20000",
    b"65535-1",
    b"-1",
    b"1e400",
    b"nan",
    b"inf",
    b"18446744073709551616",
    b"deepgram",
    b"sarvam",
    b"openai",
    b"elevenlabs",
    b"whisper-local",
    b"espeak",
    b"echo",
    b"alaw",
    b"ulaw",
    b"hi-IN",
    b"auto",
    b"/nonexistent",
];

fn settings(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(file) = toml_layer(&text, Path::new("fuzz.toml")) else {
        return;
    };
    // What the file sets, as the file layer, the environment and flags in turn.
    let env: Vec<(String, String)> = file
        .iter()
        .map(|(k, v)| (crate::config::env_name(k), v.clone()))
        .collect();
    for layers in [
        Layers::new(None, env, HashMap::new()),
        Layers::new(None, Vec::new(), file),
    ] {
        let Ok(layers) = layers else { continue };
        for needs in [Needs::Database, Needs::Everything] {
            let _ = Settings::load(&layers, needs);
        }
    }
}

fn settings_seeds() -> Vec<Vec<u8>> {
    [
        "database_url = \"postgres://vca@127.0.0.1:5432/vca_bridge\"\nredis_url = \"redis://127.0.0.1:6379\"\n\
         admin_listen = \"127.0.0.1:8090\"\nadmin_token = \"0123456789abcdef0123\"\nari_url = \"http://127.0.0.1:8088\"\n\
         ari_username = \"vca\"\nari_password = \"secret\"\nrtp_bind = \"127.0.0.1\"\nrtp_port_range = \"40000-40999\"\n\
         media_format = \"alaw\"\ndefault_country_code = 91\nstt_provider = \"deepgram\"\nstt_api_key = \"k\"\n\
         llm_provider = \"openai\"\nllm_api_key = \"k\"\nllm_temperature = 0.4\nllm_max_tokens = 200\n\
         tts_provider = \"sarvam\"\ntts_api_key = \"k\"\ntts_language = \"hi-IN\"\nwebhook_timeout_ms = 5000\n",
        "database_url = \"postgres://x/y\"\nstt_provider = \"whisper-local\"\nstt_model = \"/nonexistent\"\nstt_workers = 2\n\
         tts_provider = \"espeak\"\nllm_provider = \"echo\"\nrtp_bind = \"0.0.0.0\"\nrtp_advertise = \"10.0.0.5\"\nshutdown = \"auto\"\n",
        "database_url = \"postgres://x/y\"\nlog = \"info\"\nlog_format = \"json\"\nwebhook_allow_private = true\n\
         webhook_retry_base_ms = 100\nwebhook_retry_max_seconds = 60\ndrain_timeout_seconds = 30\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}
