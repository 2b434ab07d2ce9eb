//! libFuzzer entry for the `sarvam_stt` target (src/fuzz/targets.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vca_bridge::fuzz::run_target("sarvam_stt", data));
