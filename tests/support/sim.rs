//! The simulated caller's side: what a caller says in the call scenarios.

/// The recorded caller speech (8 kHz mono), as a simulated caller's audio.
pub fn caller_speech() -> Vec<i16> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/asterisk/rtp/caller-speech-source.wav"
    );
    vca_sim::read_wav_8k_mono(std::path::Path::new(path)).unwrap()
}
