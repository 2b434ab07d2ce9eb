//! Voice activity detection: a `Send` wrapper around webrtc-vad (libfvad) fixed at 8 kHz,
//! classifying whole 20 ms frames.
use webrtc_vad::{SampleRate, Vad, VadMode};

use super::FRAME_SAMPLES;

/// RMS below which audio is never speech (about -45 dBFS): the core gates the VAD's
/// frames on it and the endpointer finds the end of voicing within a frame with it. It
/// keeps the VAD's hangover on digital silence from stretching short sounds.
pub const MIN_SPEECH_RMS: i64 = 180;

/// The webrtc VAD, movable between threads.
pub struct VoiceDetector {
    vad: Vad,
}

// SAFETY: `Vad` owns a heap-allocated libfvad instance reached only through `&mut self`
// (so never used from two threads at once), and libfvad keeps no global or thread-local
// state; moving the owner to another thread is therefore sound. It is not `Sync`.
#[allow(unsafe_code)]
unsafe impl Send for VoiceDetector {}

impl VoiceDetector {
    /// A detector for 8 kHz audio; `mode` 0 (least aggressive) to 3 (most), clamped.
    pub fn new(mode: u8) -> Self {
        VoiceDetector {
            vad: Vad::new_with_rate_and_mode(SampleRate::Rate8kHz, Self::vad_mode(mode)),
        }
    }

    fn vad_mode(mode: u8) -> VadMode {
        match mode {
            0 => VadMode::Quality,
            1 => VadMode::LowBitrate,
            2 => VadMode::Aggressive,
            _ => VadMode::VeryAggressive,
        }
    }

    /// Whether the 20 ms frame holds speech. The slice is never empty (it is a whole frame),
    /// which is what webrtc-vad requires; an error from it counts as "no speech".
    pub fn is_speech(&mut self, frame: &[i16; FRAME_SAMPLES]) -> bool {
        self.vad.is_voice_segment(frame).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_is_not_speech() {
        let mut vad = VoiceDetector::new(2);
        assert!(!vad.is_speech(&[0; FRAME_SAMPLES]));
    }

    #[test]
    fn detector_can_move_to_another_thread() {
        let mut vad = VoiceDetector::new(3);
        let handle = std::thread::spawn(move || vad.is_speech(&[0; FRAME_SAMPLES]));
        assert!(!handle.join().unwrap());
    }
}
