//! libFuzzer entry for the `ari_rest` target (src/fuzz/targets.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vca_bridge::fuzz::run_target("ari_rest", data));
