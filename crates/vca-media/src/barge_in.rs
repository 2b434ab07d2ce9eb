//! Barge-in detection: caller speech lasting at least a minimum time while agent audio is
//! playing. Short noises and a brief "hmm" below that threshold do not count.
use super::FRAME_MS;
use super::config::{BargeInConfig, frames_in};

/// The barge-in detector of one call. Fires at most once per agent talk spurt.
#[derive(Debug, Clone)]
pub struct BargeInDetector {
    enabled: bool,
    min_frames: u64,
    gap_tolerance_ms: u64,
    run_start_ms: Option<u64>,
    voiced_frames: u64,
    unvoiced_ms: u64,
    fired: bool,
}

impl BargeInDetector {
    /// A detector with `config`'s thresholds.
    pub fn new(config: &BargeInConfig) -> Self {
        BargeInDetector {
            enabled: config.enabled,
            min_frames: frames_in(config.min_speech),
            gap_tolerance_ms: config.gap_tolerance.as_millis() as u64,
            run_start_ms: None,
            voiced_frames: 0,
            unvoiced_ms: 0,
            fired: false,
        }
    }

    /// Takes one 20 ms caller frame. Returns the start (ms from call start) of the caller's
    /// speech when it has just become a barge-in.
    pub fn handle_frame(&mut self, at_ms: u64, voiced: bool, agent_playing: bool) -> Option<u64> {
        if !self.enabled || !agent_playing {
            self.fired = false;
            self.reset_run();
            return None;
        }
        if self.fired {
            return None;
        }
        if !voiced {
            if self.run_start_ms.is_some() {
                self.unvoiced_ms += FRAME_MS;
                if self.unvoiced_ms > self.gap_tolerance_ms {
                    self.reset_run();
                }
            }
            return None;
        }
        let start = *self.run_start_ms.get_or_insert(at_ms);
        self.voiced_frames += 1;
        self.unvoiced_ms = 0;
        if self.voiced_frames >= self.min_frames {
            self.fired = true;
            self.reset_run();
            return Some(start);
        }
        None
    }

    fn reset_run(&mut self) {
        self.run_start_ms = None;
        self.voiced_frames = 0;
        self.unvoiced_ms = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(d: &mut BargeInDetector, voiced: &[bool], playing: bool) -> Vec<(usize, u64)> {
        voiced
            .iter()
            .enumerate()
            .filter_map(|(i, &v)| {
                d.handle_frame(i as u64 * FRAME_MS, v, playing)
                    .map(|s| (i, s))
            })
            .collect()
    }

    #[test]
    fn fires_after_250_ms_of_speech_over_the_agent() {
        let mut d = BargeInDetector::new(&BargeInConfig::default());
        let mut pattern = vec![false; 5];
        pattern.extend([true; 20]);
        assert_eq!(feed(&mut d, &pattern, true), vec![(17, 100)]);
    }

    #[test]
    fn a_hmm_below_the_threshold_does_not_fire() {
        let mut d = BargeInDetector::new(&BargeInConfig::default());
        let mut pattern = vec![true; 12];
        pattern.extend([false; 10]);
        pattern.extend([true; 12]);
        assert!(feed(&mut d, &pattern, true).is_empty());
    }

    #[test]
    fn speech_while_the_agent_is_quiet_is_not_barge_in() {
        let mut d = BargeInDetector::new(&BargeInConfig::default());
        assert!(feed(&mut d, &[true; 40], false).is_empty());
    }
}
