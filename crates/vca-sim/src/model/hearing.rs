//! What the simulated caller (and each agent) heard, as a timeline from the moment the call
//! entered Stasis, like the caller leg's MixMonitor `r()` recording in the recordings.
//!
//! The model logs what a party *can* hear whenever that changes ([`HearLog`]): channel MOH
//! drops everything the bridge sends the caller and plays hold music (FINDINGS 38, 40);
//! bridge MOH mixes the music in (41c); otherwise the caller hears the other members of its
//! bridge: the app through External Media (what its RTP peer received), an agent (its
//! prompt from the moment it answered), or a dialplan `Playback`. [`render`] turns that
//! log plus the received packets into 8 kHz audio with a tag per 20 ms frame. Sans-IO.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::model::agents::Phase;
use crate::model::{ChannelKind, SimState};

/// A source a party hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// The app, through this External Media channel.
    App(String),
    /// This agent leg.
    Agent(String),
    /// A dialplan `Playback` of the agent prompt that started then.
    Prompt(Instant),
}

/// What the caller can hear at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Hearing {
    pub(crate) moh: bool,
    pub(crate) sources: Vec<Source>,
}

/// A step function over time: each entry holds from its instant to the next.
#[derive(Debug, Clone)]
pub(crate) struct HearLog<T = Hearing> {
    pub(crate) steps: Vec<(Instant, T)>,
}

impl<T> Default for HearLog<T> {
    fn default() -> Self {
        HearLog { steps: Vec::new() }
    }
}

impl<T: PartialEq + Default + Clone> HearLog<T> {
    pub(crate) fn push(&mut self, at: Instant, v: T) {
        if self.steps.last().map(|(_, last)| last) != Some(&v) {
            self.steps.push((at, v));
        }
    }

    /// The value in force at `t`.
    pub(crate) fn at(&self, t: Instant) -> T {
        let i = self.steps.partition_point(|(s, _)| *s <= t);
        match i {
            0 => T::default(),
            _ => self.steps[i - 1].1.clone(),
        }
    }
}

/// What one 20 ms frame of a recording held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeardKind {
    /// Nothing.
    Silence,
    /// Audio the app sent over External Media.
    App,
    /// Music on hold.
    Moh,
    /// An agent's voice (its prompt).
    Agent,
    /// The caller's audio (in an agent's recording).
    Caller,
}

/// A contiguous stretch of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeardSegment {
    /// What was heard.
    pub kind: HeardKind,
    /// From this offset into the recording, ms.
    pub start_ms: u64,
    /// To this offset, ms.
    pub end_ms: u64,
}

/// A party's recording: 8 kHz audio from the call's start and what each 20 ms held.
#[derive(Debug, Clone, Default)]
pub struct Heard {
    /// 8 kHz mono 16-bit audio; sample 0 is the moment the call entered Stasis (for an
    /// agent, the moment its leg was created).
    pub pcm: Vec<i16>,
    /// One tag per 20 ms frame of `pcm` (the loudest source wins when several overlap).
    pub frames: Vec<HeardKind>,
}

impl Heard {
    /// Milliseconds tagged `kind`.
    pub fn ms(&self, kind: HeardKind) -> u64 {
        self.frames.iter().filter(|k| **k == kind).count() as u64 * 20
    }

    /// Milliseconds tagged `kind` between `from_ms` and `to_ms` of the recording.
    pub fn ms_between(&self, kind: HeardKind, from_ms: u64, to_ms: u64) -> u64 {
        let (a, b) = ((from_ms / 20) as usize, (to_ms / 20) as usize);
        self.frames
            .iter()
            .enumerate()
            .filter(|(i, k)| *i >= a && *i < b && **k == kind)
            .count() as u64
            * 20
    }

    /// The recording as contiguous segments (silence included).
    pub fn segments(&self) -> Vec<HeardSegment> {
        let mut out: Vec<HeardSegment> = Vec::new();
        for (i, k) in self.frames.iter().enumerate() {
            let t = i as u64 * 20;
            match out.last_mut() {
                Some(s) if s.kind == *k => s.end_ms = t + 20,
                _ => out.push(HeardSegment {
                    kind: *k,
                    start_ms: t,
                    end_ms: t + 20,
                }),
            }
        }
        out
    }

    /// Writes `pcm` as an 8 kHz mono 16-bit WAV.
    pub fn write_wav(&self, path: &std::path::Path) -> Result<(), crate::SimError> {
        crate::wav::write_wav_8k_mono(path, &self.pcm)
    }
}

/// The simulator's hold music: 440 Hz and 660 Hz alternating every 250 ms at about -16
/// dBFS, so a recording can tell it from speech, the agent prompt (850 Hz) and test tones.
/// `n` counts samples of music played so far on the channel (it resumes where it stopped).
pub fn moh_sample(n: u64) -> i16 {
    let f = if (n / 2000).is_multiple_of(2) {
        440.0
    } else {
        660.0
    };
    let t = n as f64 / 8000.0;
    (5000.0 * (2.0 * std::f64::consts::PI * f * t).sin()) as i16
}

/// How much of `pcm` sounds like [`moh_sample`]'s music, in ms (Goertzel per 20 ms frame:
/// 440 or 660 Hz holds most of the frame's energy).
pub fn moh_ms_in(pcm: &[i16]) -> u64 {
    fn power(frame: &[i16], f: f64) -> f64 {
        let k = 2.0 * (2.0 * std::f64::consts::PI * f / 8000.0).cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in frame {
            let s0 = f64::from(x) + k * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - k * s1 * s2
    }
    pcm.chunks_exact(160)
        .filter(|fr| {
            let energy: f64 = fr.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
            if energy < 160.0 * 300.0 * 300.0 {
                return false;
            }
            let tone = power(fr, 440.0).max(power(fr, 660.0));
            // A pure tone over N samples gives Goertzel power ≈ energy · N / 2.
            tone > 0.5 * energy * 80.0
        })
        .count() as u64
        * 20
}

/// What the caller of `call_id` can hear now.
pub(crate) fn hearing_of(st: &SimState, call_id: &str) -> Hearing {
    let Some(ch) = st.channels.get(call_id) else {
        return Hearing::default();
    };
    if ch.moh.is_some() {
        return Hearing {
            moh: true,
            sources: Vec::new(),
        };
    }
    let mut h = Hearing::default();
    if let Some(b) = ch.bridge.as_ref().and_then(|b| st.bridges.get(b)) {
        h.moh = b.moh_announcer.is_some();
        for m in b.channels.iter().filter(|m| *m != call_id) {
            match st.channels.get(m).map(|c| &c.kind) {
                Some(ChannelKind::ExternalMedia { .. }) => h.sources.push(Source::App(m.clone())),
                Some(ChannelKind::AgentLeg { agent_id }) => {
                    h.sources.push(Source::Agent(agent_id.clone()));
                }
                _ => {}
            }
        }
        return h;
    }
    if let Some(call) = st.calls.get(call_id) {
        if let Some(t) = call.playback_since {
            h.sources.push(Source::Prompt(t));
        }
        if let Some(a) = call.agent_reached.as_ref().and_then(|a| st.agents.get(a))
            && a.dialled_by.as_deref() == Some(call_id)
            && a.phase == Phase::Up
        {
            h.sources.push(Source::Agent(a.id.clone()));
        }
    }
    h
}

impl SimState {
    /// The caller an agent hears now (its bridge peer, or the caller that dialled it).
    pub(crate) fn agent_hears(&self, agent_id: &str) -> Option<String> {
        let a = self.agents.get(agent_id)?;
        if a.phase != Phase::Up {
            return None;
        }
        if let Some(c) = &a.dialled_by {
            return self.channels.contains_key(c).then(|| c.clone());
        }
        let b = self.channels.get(&a.id)?.bridge.as_ref()?;
        self.bridges.get(b)?.channels.iter().find_map(|m| {
            match self.channels.get(m).map(|c| &c.kind) {
                Some(ChannelKind::Inbound { call_id }) => Some(call_id.clone()),
                _ => None,
            }
        })
    }
}

/// One packet the app sent, decoded.
pub(crate) struct AppPacket<'a> {
    pub(crate) em_id: &'a str,
    pub(crate) arrival: Instant,
    pub(crate) samples: &'a [i16],
}

/// An agent's voice: when it started and what it says.
pub(crate) struct Voice {
    pub(crate) from: Instant,
    pub(crate) samples: Arc<[i16]>,
}

const FRAME: usize = 160;

fn frame_of(start: Instant, t: Instant) -> usize {
    (t.saturating_duration_since(start).as_micros() / 20_000) as usize
}

/// Renders the caller's recording from `start` to `end`.
pub(crate) fn render(
    start: Instant,
    end: Instant,
    log: &HearLog,
    packets: &[AppPacket<'_>],
    voice: &dyn Fn(&Source) -> Option<Voice>,
) -> Heard {
    let n = frame_of(start, end);
    let mut heard = Heard {
        pcm: vec![0; n * FRAME],
        frames: vec![HeardKind::Silence; n],
    };
    let mut moh_pos = 0u64;
    for i in 0..n {
        let t0 = start + Duration::from_millis(i as u64 * 20);
        let h = log.at(t0 + Duration::from_millis(10));
        let out = &mut heard.pcm[i * FRAME..(i + 1) * FRAME];
        if h.moh {
            for s in out.iter_mut() {
                *s = moh_sample(moh_pos);
                moh_pos += 1;
            }
            heard.frames[i] = HeardKind::Moh;
        }
        for src in &h.sources {
            if matches!(src, Source::App(_)) {
                continue;
            }
            let Some(v) = voice(src) else { continue };
            let Some(off) = t0.checked_duration_since(v.from) else {
                continue;
            };
            let off = (off.as_micros() * 8 / 1000) as usize;
            let Some(chunk) = v.samples.get(off..) else {
                continue;
            };
            if chunk.is_empty() {
                continue;
            }
            for (o, s) in out.iter_mut().zip(chunk) {
                *o = o.saturating_add(*s);
            }
            heard.frames[i] = HeardKind::Agent;
        }
    }
    // The app's packets, placed where they arrived (kept contiguous within half a frame).
    let mut next_pos: Option<usize> = None;
    for p in packets {
        let h = log.at(p.arrival);
        if !h
            .sources
            .iter()
            .any(|s| matches!(s, Source::App(e) if e == p.em_id))
        {
            next_pos = None;
            continue;
        }
        let at = (p.arrival.saturating_duration_since(start).as_micros() * 8 / 1000) as usize;
        let at = at.saturating_sub(p.samples.len());
        let pos = match next_pos {
            Some(np) if np.abs_diff(at) <= FRAME / 2 => np,
            _ => at,
        };
        for (k, s) in p.samples.iter().enumerate() {
            if let Some(o) = heard.pcm.get_mut(pos + k) {
                *o = o.saturating_add(*s);
            }
        }
        let loud = p.samples.iter().any(|s| s.unsigned_abs() > 64);
        if loud {
            for f in pos / FRAME..(pos + p.samples.len()).div_ceil(FRAME) {
                if let Some(k) = heard.frames.get_mut(f)
                    && *k != HeardKind::Moh
                {
                    *k = HeardKind::App;
                }
            }
        }
        next_pos = Some(pos + p.samples.len());
    }
    heard
}

/// Renders an agent's recording: the caller's timeline (`caller`, sample 0 at `caller_t0`)
/// while the agent heard that caller.
pub(crate) fn render_agent(
    start: Instant,
    end: Instant,
    log: &HearLog<Option<String>>,
    caller_t0: Instant,
    caller: &[i16],
) -> Heard {
    let n = frame_of(start, end);
    let mut heard = Heard {
        pcm: vec![0; n * FRAME],
        frames: vec![HeardKind::Silence; n],
    };
    for i in 0..n {
        let t0 = start + Duration::from_millis(i as u64 * 20);
        if log.at(t0 + Duration::from_millis(10)).is_none() {
            continue;
        }
        let Some(off) = t0.checked_duration_since(caller_t0) else {
            continue;
        };
        let off = (off.as_micros() * 8 / 1000) as usize;
        let Some(chunk) = caller.get(off..).filter(|c| !c.is_empty()) else {
            continue;
        };
        let out = &mut heard.pcm[i * FRAME..(i + 1) * FRAME];
        for (o, s) in out.iter_mut().zip(chunk) {
            *o = *s;
        }
        if chunk.iter().take(FRAME).any(|s| s.unsigned_abs() > 64) {
            heard.frames[i] = HeardKind::Caller;
        }
    }
    heard
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moh_then_agent_then_app_silenced_by_moh() {
        let start = Instant::now();
        let ms = |m: u64| start + Duration::from_millis(m);
        let mut log = HearLog::default();
        log.push(
            ms(0),
            Hearing {
                moh: false,
                sources: vec![Source::App("em".into())],
            },
        );
        log.push(
            ms(1000),
            Hearing {
                moh: true,
                sources: vec![],
            },
        );
        log.push(
            ms(2000),
            Hearing {
                moh: false,
                sources: vec![Source::Agent("a".into())],
            },
        );
        let tone: Vec<i16> = vec![3000; 160];
        let packets: Vec<AppPacket<'_>> = (0..150)
            .map(|i| AppPacket {
                em_id: "em",
                arrival: ms(20 + i * 20),
                samples: &tone,
            })
            .collect();
        let speech: Arc<[i16]> = vec![2000i16; 8000].into();
        let voice = |s: &Source| match s {
            Source::Agent(_) => Some(Voice {
                from: ms(2000),
                samples: speech.clone(),
            }),
            _ => None,
        };
        let h = render(start, ms(4000), &log, &packets, &voice);
        // The packet arriving at 1000 ms (MOH already on) is dropped.
        assert_eq!(h.ms_between(HeardKind::App, 0, 1000), 980);
        assert_eq!(h.ms_between(HeardKind::App, 1000, 2000), 0);
        assert_eq!(h.ms_between(HeardKind::Moh, 1000, 2000), 1000);
        assert_eq!(h.ms(HeardKind::Agent), 1000);
        assert!(moh_ms_in(&h.pcm[8000..16000]) >= 900);
        assert_eq!(moh_ms_in(&h.pcm[16000..]), 0);
    }
}
