//! The daemon's integration tests, in one binary: each test binary links the whole daemon,
//! so one binary instead of one per file saves a link per file on every build. One module
//! per surface (the file beside this one of the same name), sharing [`support`].
//!
//! `Cargo.toml` sets `autotests = false`, so a `tests/*.rs` file runs only as a module
//! declared here; [`every_test_file_is_a_module`] fails when one is left out. A test that
//! needs a process of its own (a global allocator, process-wide state) goes in its own
//! `[[test]]` target instead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod admin_actions;
mod admin_api;
mod admin_api_fuzz;
mod admin_api_keys;
mod admin_auth_limit;
mod admin_hostile_clients;
mod admin_languages;
mod agent_actions;
mod ari_events;
mod ari_rest;
mod ari_sim;
mod ari_supervisor;
mod call_leases;
mod call_scenarios;
mod call_summary;
mod cli;
mod conversation_calls;
mod database_outage;
#[cfg(feature = "whisper-local")]
mod demo_call;
mod engines_factory;
mod engines_languages;
mod engines_llm;
mod engines_sarvam;
mod engines_stt;
mod engines_tts;
mod fuzz_admin;
mod language_calls;
mod live_calls;
mod media_engine;
mod media_speech;
mod ops_asterisk_config;
mod ops_systemd;
mod recordings;
mod service_binary;
mod sim_load;
mod standby;
mod store_schema;
mod tools_http;
mod usage_api;
mod webhooks_api;
mod webhooks_calls;
mod webhooks_delivery;
#[cfg(feature = "whisper-local")]
mod whisper_model;

/// Every `tests/*.rs` file but this one is declared as a module above.
#[test]
fn every_test_file_is_a_module() {
    let this = include_str!("integration.rs");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests");
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_some_and(|e| e == "rs") && stem != "integration" {
            files += 1;
            assert!(
                this.lines().any(|l| l == format!("mod {stem};")),
                "tests/{stem}.rs is not a module of tests/integration.rs, so it never runs"
            );
        }
    }
    assert!(files > 0, "no test files found in {dir}");
}
