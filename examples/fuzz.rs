//! The stable fuzzer's command line (`scripts/fuzz` runs it):
//!
//! ```text
//! fuzz list
//! fuzz TARGET SECONDS [SEED]
//! fuzz all SECONDS [SEED]
//! fuzz TARGET --replay FILE...
//! ```
//!
//! Prints, per target, the inputs executed, the rate, crashes and hangs; writes each
//! finding to `fuzz/findings/TARGET-{crash,hang}-N.bin` and exits 1 if there was one.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use vca_bridge::fuzz::{Budget, Options, Report, TARGETS, Target, find, run};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: fuzz list | fuzz TARGET SECONDS [SEED] | fuzz all SECONDS [SEED]";
    match args.first().map(String::as_str) {
        Some("list") => {
            for t in TARGETS {
                println!("{:<12} {}", t.name, t.about);
            }
            ExitCode::SUCCESS
        }
        Some(name) if args.get(1).map(String::as_str) == Some("--replay") => {
            replay(name, &args[2..])
        }
        Some(name) => {
            let Some(seconds) = args.get(1).and_then(|s| s.parse::<f64>().ok()) else {
                eprintln!("{usage}");
                return ExitCode::from(2);
            };
            let seed = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
            let targets: Vec<&'static Target> = if name == "all" {
                TARGETS.iter().collect()
            } else {
                match find(name) {
                    Some(t) => vec![t],
                    None => {
                        eprintln!("no target {name:?}; `fuzz list` names them");
                        return ExitCode::from(2);
                    }
                }
            };
            let mut found = false;
            for target in targets {
                let mut options = Options::new(Budget::Time(Duration::from_secs_f64(seconds)));
                options.seed = seed;
                let report = run(target, &options);
                print_report(&report);
                found |= save_findings(&report);
            }
            if found {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        None => {
            eprintln!("{usage}");
            ExitCode::from(2)
        }
    }
}

/// Runs each file once through the target and prints what happened.
fn replay(name: &str, files: &[String]) -> ExitCode {
    let Some(target) = find(name) else {
        eprintln!("no target {name:?}; `fuzz list` names them");
        return ExitCode::from(2);
    };
    let mut failed = false;
    for file in files {
        match std::fs::read(file) {
            Ok(input) => match vca_bridge::fuzz::driver::run_one(target, &input) {
                Ok(()) => println!("{file}: ok"),
                Err(message) => {
                    failed = true;
                    println!("{file}: {message}");
                }
            },
            Err(e) => {
                failed = true;
                println!("{file}: {e}");
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_report(r: &Report) {
    let secs = r.elapsed.as_secs_f64();
    println!(
        "{:<12} inputs {:>10}  time {:>7.1} s  rate {:>8.0}/s  crashes {}  hangs {}  slowest {:.1} ms",
        r.target,
        r.inputs,
        secs,
        r.inputs as f64 / secs.max(1e-9),
        r.crash_count,
        r.hangs.len(),
        r.slowest.as_secs_f64() * 1000.0
    );
    for f in &r.crashes {
        println!("  crash: {}", f.message.lines().next().unwrap_or(""));
    }
    for f in &r.hangs {
        println!("  hang: {}", f.message);
    }
}

/// Writes the findings under `fuzz/findings/`; whether there were any.
fn save_findings(r: &Report) -> bool {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/findings");
    let all = r
        .crashes
        .iter()
        .map(|f| ("crash", f))
        .chain(r.hangs.iter().map(|f| ("hang", f)));
    let mut any = false;
    for (n, (kind, f)) in all.enumerate() {
        any = true;
        if std::fs::create_dir_all(&dir).is_ok() {
            let path = dir.join(format!("{}-{kind}-{n}.bin", r.target));
            if std::fs::write(&path, &f.input).is_ok() {
                println!("  saved {}", path.display());
            }
        }
    }
    any
}
