//! The bounded CI run: every target for a fixed number of inputs from a fixed seed, no
//! crash, no input over the slow limit. Seconds in all (the long runs are `scripts/fuzz`).

use std::time::Duration;

use super::{Budget, Options, TARGETS, run};

/// Inputs per target in the CI run.
const CI_INPUTS: u64 = 1500;

#[test]
fn every_target_survives_a_bounded_run() {
    let mut failures = Vec::new();
    for target in TARGETS {
        let mut options = Options::new(Budget::Inputs(CI_INPUTS));
        options.seed = 0x5eed;
        options.slow_after = Duration::from_secs(2);
        let report = run(target, &options);
        assert_eq!(report.inputs, CI_INPUTS);
        for f in report.crashes.iter().chain(&report.hangs) {
            failures.push(format!(
                "{}: {} (input {})",
                target.name,
                f.message,
                hex::encode(&f.input)
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_seed_is_a_valid_input() {
    for target in TARGETS {
        let seeds = (target.seeds)();
        assert!(!seeds.is_empty(), "{} has no seeds", target.name);
        if target.json {
            for seed in &seeds {
                assert!(
                    serde_json::from_slice::<serde_json::Value>(seed).is_ok(),
                    "{}: a seed is not JSON: {}",
                    target.name,
                    String::from_utf8_lossy(seed)
                );
            }
        }
    }
}

#[test]
fn a_panicking_target_is_caught_and_reported() {
    static BOOM: super::Target = super::Target {
        name: "boom",
        about: "panics on a 0x42 byte",
        run: |data| assert!(!data.contains(&0x42), "found the byte"),
        seeds: || vec![vec![1, 2, 3]],
        dictionary: &[b"\x42"],
        json: false,
    };
    let report = run(&BOOM, &Options::new(Budget::Inputs(2000)));
    assert!(report.crash_count > 0);
    assert!(report.crashes[0].message.contains("found the byte"));
    assert!(report.crashes[0].input.contains(&0x42));
}

#[test]
fn runs_are_deterministic_for_a_seed() {
    let target = super::find("sse").unwrap_or(&TARGETS[0]);
    let mut first = Vec::new();
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(9);
    let seeds = (target.seeds)();
    for _ in 0..50 {
        let mut base = seeds[0].clone();
        super::mutate::mutate(&mut rng, &mut base, &seeds[1], target.dictionary, 4096);
        first.push(base);
    }
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(9);
    for expected in first {
        let mut base = seeds[0].clone();
        super::mutate::mutate(&mut rng, &mut base, &seeds[1], target.dictionary, 4096);
        assert_eq!(base, expected);
    }
}
