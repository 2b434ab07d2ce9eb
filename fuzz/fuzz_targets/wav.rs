//! libFuzzer entry for the `wav` target (src/fuzz/targets.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vca_bridge::fuzz::run_target("wav", data));
