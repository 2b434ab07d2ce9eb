//! Endpointing and barge-in on real speech, through the whole sans-IO inbound path on a
//! virtual clock: the caller speech Asterisk recorded (`caller-speech.ulaw`, packetized as
//! in `rtp-from-asterisk.csv`), speech made with espeak-ng (skipped when it is not
//! installed, a failure in CI), silence and noise.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use vca_media::config::MediaConfig;
use vca_media::core::{CoreEvent, MediaCore};
use vca_media::g711::Law;
use vca_media::outbound::RtpIdentity;
use vca_media::playout::PlayoutId;

use crate::support::speech;

const RTP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/asterisk/rtp/");

fn asterisk() -> SocketAddr {
    "127.0.0.1:15732".parse().unwrap()
}

fn identity() -> RtpIdentity {
    RtpIdentity {
        ssrc: 1,
        first_seq: 1,
        first_timestamp: 1,
    }
}

fn rtp(seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, u8::from(marker) << 7];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Feeds `(arrival ms, datagram)` pairs to a core and returns its events with the time (ms)
/// of the frame that produced them. Also ticks the pacer, as the driver would.
fn run(
    core: &mut MediaCore,
    t0: Instant,
    packets: &[(u64, Vec<u8>)],
    end_ms: u64,
) -> Vec<(u64, CoreEvent)> {
    let mut events = Vec::new();
    let mut out = [0u8; 172];
    let mut next = packets.iter().peekable();
    let mut ms = 0;
    while ms <= end_ms {
        let now = t0 + Duration::from_millis(ms);
        while let Some((at, d)) = next.peek() {
            if *at > ms {
                break;
            }
            core.handle_datagram(now, asterisk(), d).unwrap();
            next.next();
        }
        while core.poll_transmit(now, &mut out).is_some() {}
        core.handle_timeout(now);
        while let Some(e) = core.poll_event() {
            events.push((ms, e));
        }
        while let Some(frame) = core.poll_inbound(now) {
            while let Some(e) = core.poll_event() {
                events.push((frame.at_ms, e));
            }
        }
        ms += 1;
    }
    events
}

/// Loud 20 ms frames (RMS above -30 dBFS): the ground truth for where speech is.
fn loud_frames(pcm: &[i16]) -> Vec<bool> {
    pcm.chunks(160)
        .map(|c| {
            let energy: f64 =
                c.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / c.len() as f64;
            energy.sqrt() > 1000.0
        })
        .collect()
}

/// The recorded call: caller-speech.ulaw cut into packets with the sizes, sequence numbers,
/// timestamps and arrival times Asterisk used (rtp-from-asterisk.csv).
fn recorded_call() -> (Vec<(u64, Vec<u8>)>, Vec<u8>) {
    let audio = std::fs::read(format!("{RTP_DIR}caller-speech.ulaw")).unwrap();
    let csv = std::fs::read_to_string(format!("{RTP_DIR}rtp-from-asterisk.csv")).unwrap();
    let mut packets = Vec::new();
    let mut offset = 0;
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let arrival: f64 = f[1].parse().unwrap();
        let len: usize = f[15].parse().unwrap();
        let payload = &audio[offset..offset + len];
        offset += len;
        packets.push((
            (arrival * 1000.0).round() as u64,
            rtp(
                f[12].parse().unwrap(),
                f[13].parse().unwrap(),
                f[10] == "1",
                payload,
            ),
        ));
    }
    assert_eq!(
        offset,
        audio.len(),
        "the CSV accounts for every recorded byte"
    );
    (packets, audio)
}

#[test]
fn recorded_caller_speech_is_one_utterance_at_the_right_time() {
    let (packets, audio) = recorded_call();
    // Expected times, from the audio itself: decode it, mark 20 ms frames louder than
    // -30 dBFS; speech runs from the first loud frame to the end of the last one. The
    // packets carry 160 bytes each until well after the speech (the only short packet and
    // the DTMF pauses come later), so frame k of the audio is at k × 20 ms on the timeline
    // (the first packet arrives at 0 ms). The longest quiet stretch inside the prompt is
    // shorter than the 600 ms end silence, so it is one utterance.
    let pcm: Vec<i16> = audio.iter().map(|&c| Law::Ulaw.decode(c)).collect();
    let loud = loud_frames(&pcm);
    let onset = loud.iter().position(|&l| l).unwrap() as u64 * 20;
    let offset = (loud.iter().rposition(|&l| l).unwrap() as u64 + 1) * 20;
    let longest_quiet = loud[(onset / 20) as usize..(offset / 20) as usize]
        .split(|&l| l)
        .map(|run| run.len() as u64 * 20)
        .max()
        .unwrap();
    assert!(longest_quiet < 600, "{longest_quiet}");

    let t0 = Instant::now();
    let mut core = MediaCore::new(&MediaConfig::default(), asterisk(), t0, identity()).unwrap();
    let events = run(&mut core, t0, &packets, 20_000);
    let starts: Vec<u64> = events
        .iter()
        .filter_map(|(_, e)| match e {
            CoreEvent::SpeechStarted { at_ms } => Some(*at_ms),
            _ => None,
        })
        .collect();
    let utterances: Vec<_> = events
        .iter()
        .filter_map(|(t, e)| match e {
            CoreEvent::Utterance(b) => Some((*t, *b)),
            _ => None,
        })
        .collect();
    assert_eq!(starts.len(), 1, "{events:?}");
    assert_eq!(utterances.len(), 1, "{events:?}");
    let (reported_at, u) = utterances[0];
    assert!(
        u.start_ms.abs_diff(onset) <= 100,
        "start {} vs onset {onset}",
        u.start_ms
    );
    assert!(
        u.end_ms.abs_diff(offset) <= 200,
        "end {} vs offset {offset}",
        u.end_ms
    );
    assert!(!u.forced);
    // Reported by the frame in which 600 ms of silence after the last voiced sample (the
    // end is found to 2 ms) have passed.
    let silence_seen = reported_at + 20 - u.end_ms;
    assert!((600..620).contains(&silence_seen), "{silence_seen}");
    // The audio handed to STT starts 300 ms before the start (pre-roll) and is the
    // recorded audio, sample for sample.
    let utterance = core.utterance_pcm();
    let first = ((u.start_ms - 300) * 8) as usize;
    assert_eq!(&utterance[..800], &pcm[first..first + 800]);
    assert_eq!(core.stats().dropped_total(), 0);
}

#[test]
fn silence_and_quiet_noise_never_start_speech() {
    let t0 = Instant::now();
    let mut core = MediaCore::new(&MediaConfig::default(), asterisk(), t0, identity()).unwrap();
    // 10 s of digital silence then 10 s of quiet pseudo-random noise (about -50 dBFS).
    let mut seed = 0x1234_5678u32;
    let mut packets = Vec::new();
    for i in 0..1000u32 {
        let payload: Vec<u8> = (0..160)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let sample = if i < 500 {
                    0
                } else {
                    ((seed >> 16) as i16) / 320
                };
                Law::Ulaw.encode(sample)
            })
            .collect();
        packets.push((u64::from(i) * 20, rtp(i as u16, i * 160, false, &payload)));
    }
    let events = run(&mut core, t0, &packets, 21_000);
    assert!(events.is_empty(), "{events:?}");
}

/// Speech from espeak-ng at 8 kHz, or `None` (with a message) if it is not installed.
fn espeak(text: &str) -> Option<Vec<i16>> {
    speech::espeak_8k(text, "en", 0)
}

/// Packets carrying `lead_ms` of silence, then `speech`, then 2 s of silence.
fn packetize(lead_ms: u64, speech: &[i16]) -> Vec<(u64, Vec<u8>)> {
    let mut pcm = vec![0i16; (lead_ms * 8) as usize];
    pcm.extend_from_slice(speech);
    pcm.extend(std::iter::repeat_n(0, 16_000));
    pcm.chunks_exact(160)
        .enumerate()
        .map(|(i, c)| {
            let codes: Vec<u8> = c.iter().map(|&s| Law::Ulaw.encode(s)).collect();
            (i as u64 * 20, rtp(i as u16, i as u32 * 160, false, &codes))
        })
        .collect()
}

fn agent_talking(t0: Instant) -> MediaCore {
    let mut core = MediaCore::new(&MediaConfig::default(), asterisk(), t0, identity()).unwrap();
    let reply: Vec<i16> = (0..24_000 * 10)
        .map(|i| ((i % 55) as i16 - 27) * 300)
        .collect();
    core.handle_play(PlayoutId(1), 24_000, &reply).unwrap();
    core
}

#[test]
fn caller_speech_over_the_agent_is_barge_in_after_250_ms() {
    let Some(speech) = espeak("Hello, I would like to book a table for two tonight") else {
        return;
    };
    let loud = loud_frames(&speech);
    let onset = 1000 + loud.iter().position(|&l| l).unwrap() as u64 * 20;
    let t0 = Instant::now();
    let mut core = agent_talking(t0);
    let events = run(&mut core, t0, &packetize(1000, &speech), 4000);
    let barge: Vec<_> = events
        .iter()
        .filter_map(|(t, e)| match e {
            CoreEvent::BargeIn { at_ms, flushed } => Some((*t, *at_ms, flushed.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(barge.len(), 1, "{events:?}");
    let (fired_at, at_ms, flushed) = barge[0].clone();
    assert!(
        at_ms.abs_diff(onset) <= 100,
        "speech at {at_ms}, onset {onset}"
    );
    // Fired by the frame that completed 250 ms of speech (13 frames), not before.
    assert!(fired_at >= at_ms + 240, "fired at {fired_at}");
    assert!(fired_at <= at_ms + 500, "fired at {fired_at}");
    let cut = flushed.unwrap().interrupted.unwrap();
    assert_eq!(cut.id, PlayoutId(1));
    assert_eq!(cut.total_ms, 10_000);
    // The caller heard the reply up to the barge-in (sent frames, ±1 frame).
    assert!(
        cut.played_ms.abs_diff(fired_at + 20) <= 20,
        "{} vs {fired_at}",
        cut.played_ms
    );
    assert!(!core.is_playing());
}

#[test]
fn a_short_hmm_over_the_agent_is_not_barge_in() {
    let Some(speech) = espeak("hmm, okay") else {
        return;
    };
    let loud = loud_frames(&speech);
    let first = loud.iter().position(|&l| l).unwrap();
    // 160 ms of real voiced speech: below the 250 ms threshold.
    let hmm = &speech[first * 160..(first + 8) * 160];
    let t0 = Instant::now();
    let mut core = agent_talking(t0);
    let events = run(&mut core, t0, &packetize(1000, hmm), 4000);
    assert!(
        !events
            .iter()
            .any(|(_, e)| matches!(e, CoreEvent::BargeIn { .. })),
        "{events:?}"
    );
    assert!(core.is_playing());
}

#[test]
fn espeak_speech_is_endpointed_from_its_onset() {
    let Some(speech) = espeak("Can you tell me when the clinic opens on Saturday") else {
        return;
    };
    let loud = loud_frames(&speech);
    let onset = 500 + loud.iter().position(|&l| l).unwrap() as u64 * 20;
    let offset = 500 + (loud.iter().rposition(|&l| l).unwrap() as u64 + 1) * 20;
    let t0 = Instant::now();
    let mut core = MediaCore::new(&MediaConfig::default(), asterisk(), t0, identity()).unwrap();
    let events = run(&mut core, t0, &packetize(500, &speech), 6000);
    let u: Vec<_> = events
        .iter()
        .filter_map(|(_, e)| match e {
            CoreEvent::Utterance(b) => Some(*b),
            _ => None,
        })
        .collect();
    assert_eq!(u.len(), 1, "{events:?}");
    assert!(
        u[0].start_ms.abs_diff(onset) <= 100,
        "{} vs {onset}",
        u[0].start_ms
    );
    assert!(
        u[0].end_ms.abs_diff(offset) <= 200,
        "{} vs {offset}",
        u[0].end_ms
    );
}
