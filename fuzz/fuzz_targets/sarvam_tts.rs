//! libFuzzer entry for the `sarvam_tts` target (src/fuzz/targets.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vca_bridge::fuzz::run_target("sarvam_tts", data));
