//! libFuzzer entry for the `media_core` target (src/fuzz/targets.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vca_bridge::fuzz::run_target("media_core", data));
