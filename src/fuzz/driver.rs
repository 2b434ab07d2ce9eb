//! The stable-Rust fuzzer: from the target's seeds, mutates inputs (bytes, and JSON nodes
//! for JSON targets) with a seeded RNG, runs each under `catch_unwind`, times it, and
//! keeps a share of the mutants as new bases so inputs drift away from the seeds. No
//! coverage feedback (that is the `fuzz/` crate's job); deterministic for one seed and
//! input budget.
//!
//! A panic is a crash (kept with its message and input). An input slower than
//! [`Options::slow_after`] is counted as a hang; one still running after
//! [`Options::stop_after`] stops the process (exit code 3) after printing the input and
//! writing it to the temp directory, since a thread cannot be interrupted.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::targets::Target;
use super::{json, mutate};

/// How long a run goes on.
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    /// This many inputs (deterministic: the CI run).
    Inputs(u64),
    /// For this long.
    Time(Duration),
}

/// How one run is made.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seed of the RNG.
    pub seed: u64,
    /// When to stop.
    pub budget: Budget,
    /// Longest input generated.
    pub max_len: usize,
    /// An input slower than this counts as a hang.
    pub slow_after: Duration,
    /// An input still running after this stops the process.
    pub stop_after: Duration,
}

impl Options {
    /// `budget` with seed 1, inputs up to 4 KiB, 1 s for slow and 60 s to stop.
    pub fn new(budget: Budget) -> Self {
        Options {
            seed: 1,
            budget,
            max_len: 4096,
            slow_after: Duration::from_secs(1),
            stop_after: Duration::from_secs(60),
        }
    }
}

/// An input that panicked or was slow.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The panic message and location, or how long it took.
    pub message: String,
    /// The input.
    pub input: Vec<u8>,
}

/// What one run did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The target's name.
    pub target: &'static str,
    /// Inputs executed.
    pub inputs: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Inputs that panicked (the first of each distinct message).
    pub crashes: Vec<Finding>,
    /// Inputs that panicked in all.
    pub crash_count: u64,
    /// Inputs slower than [`Options::slow_after`].
    pub hangs: Vec<Finding>,
    /// The slowest input's time.
    pub slowest: Duration,
}

/// Findings kept of each kind.
const KEEP: usize = 16;
/// Mutants kept as bases for further mutation.
const POOL: usize = 512;

thread_local! {
    /// Whether this thread is running a fuzz input (its panics are findings, not noise).
    static FUZZING: Cell<bool> = const { Cell::new(false) };
    /// The message of this thread's last panic while fuzzing (the hook runs on the
    /// panicking thread, so parallel runs never see each other's).
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once) a panic hook that records panics of fuzzing threads instead of printing
/// them, and leaves every other thread's panics to the previous hook.
fn install_hook() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if FUZZING.with(Cell::get) {
                LAST_PANIC.with(|last| *last.borrow_mut() = Some(info.to_string()));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `input` once through `target`; `Err` is the panic's message.
pub fn run_one(target: &Target, input: &[u8]) -> Result<(), String> {
    install_hook();
    FUZZING.with(|f| f.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    FUZZING.with(|f| f.set(false));
    result.map_err(|_| {
        LAST_PANIC
            .with(|last| last.borrow_mut().take())
            .unwrap_or_else(|| "panic".into())
    })
}

/// Watches the input in progress; stops the process if one runs past `stop_after`.
struct Watchdog {
    started_ms: Arc<AtomicU64>,
    current: Arc<Mutex<Vec<u8>>>,
    done: Arc<AtomicBool>,
    epoch: Instant,
}

impl Watchdog {
    fn start(target: &'static str, stop_after: Duration) -> Self {
        let started_ms = Arc::new(AtomicU64::new(u64::MAX));
        let current = Arc::new(Mutex::new(Vec::new()));
        let done = Arc::new(AtomicBool::new(false));
        let epoch = Instant::now();
        let (s, c, d) = (started_ms.clone(), current.clone(), done.clone());
        std::thread::spawn(move || {
            while !d.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let started = s.load(Ordering::Relaxed);
                let now = epoch.elapsed().as_millis() as u64;
                if started != u64::MAX
                    && now.saturating_sub(started) > stop_after.as_millis() as u64
                {
                    let input = c.lock().map(|i| i.clone()).unwrap_or_default();
                    let path = std::env::temp_dir().join(format!("vca-fuzz-hang-{target}.bin"));
                    let _ = std::fs::write(&path, &input);
                    eprintln!(
                        "fuzz {target}: HANG, one input ran over {stop_after:?}; written to {} ({} bytes): {}",
                        path.display(),
                        input.len(),
                        hex::encode(input.get(..input.len().min(2048)).unwrap_or(&[]))
                    );
                    std::process::exit(3);
                }
            }
        });
        Watchdog {
            started_ms,
            current,
            done,
            epoch,
        }
    }

    fn begin(&self, input: &[u8]) {
        if let Ok(mut c) = self.current.lock() {
            c.clear();
            c.extend_from_slice(input);
        }
        self.started_ms
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn end(&self) {
        self.started_ms.store(u64::MAX, Ordering::Relaxed);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

/// Fuzzes `target` as `options` say.
pub fn run(target: &'static Target, options: &Options) -> Report {
    let mut rng = StdRng::seed_from_u64(options.seed);
    let seeds: Vec<Vec<u8>> = (target.seeds)();
    let mut pool: Vec<Vec<u8>> = Vec::new();
    let watchdog = Watchdog::start(target.name, options.stop_after);
    let mut report = Report {
        target: target.name,
        inputs: 0,
        elapsed: Duration::ZERO,
        crashes: Vec::new(),
        crash_count: 0,
        hangs: Vec::new(),
        slowest: Duration::ZERO,
    };
    let started = Instant::now();
    // Every seed once as it is, then mutants.
    let mut queue: std::collections::VecDeque<Vec<u8>> = seeds.iter().cloned().collect();
    loop {
        match options.budget {
            Budget::Inputs(n) if report.inputs >= n => break,
            Budget::Time(t) if report.inputs.is_multiple_of(64) && started.elapsed() >= t => break,
            _ => {}
        }
        let input = match queue.pop_front() {
            Some(seed) => seed,
            None => next_input(&mut rng, target, &seeds, &pool, options.max_len),
        };
        watchdog.begin(&input);
        let t0 = Instant::now();
        let result = run_one(target, &input);
        let took = t0.elapsed();
        watchdog.end();
        report.inputs += 1;
        report.slowest = report.slowest.max(took);
        if let Err(message) = result {
            report.crash_count += 1;
            if report.crashes.len() < KEEP && !report.crashes.iter().any(|f| f.message == message) {
                report.crashes.push(Finding {
                    message,
                    input: input.clone(),
                });
            }
        } else if took > options.slow_after {
            if report.hangs.len() < KEEP {
                report.hangs.push(Finding {
                    message: format!("took {took:?}"),
                    input: input.clone(),
                });
            }
        } else if rng.random_ratio(1, 16) {
            if pool.len() < POOL {
                pool.push(input);
            } else {
                let i = rng.random_range(0..POOL);
                pool[i] = input;
            }
        }
    }
    report.elapsed = started.elapsed();
    report
}

/// A new input: a mutant of a seed or of a kept mutant, sometimes random bytes.
fn next_input(
    rng: &mut StdRng,
    target: &Target,
    seeds: &[Vec<u8>],
    pool: &[Vec<u8>],
    max_len: usize,
) -> Vec<u8> {
    let pick = |rng: &mut StdRng| -> Vec<u8> {
        if !pool.is_empty() && (seeds.is_empty() || rng.random_bool(0.5)) {
            pool[rng.random_range(0..pool.len())].clone()
        } else if !seeds.is_empty() {
            seeds[rng.random_range(0..seeds.len())].clone()
        } else {
            Vec::new()
        }
    };
    if rng.random_ratio(1, 32) {
        let n = rng.random_range(0..=max_len.min(512));
        return (0..n).map(|_| rng.random()).collect();
    }
    let mut base = pick(rng);
    if target.json
        && rng.random_bool(0.5)
        && let Some(mutant) = json::mutate(rng, &base, target.dictionary)
        && mutant.len() <= max_len
    {
        return mutant;
    }
    let other = pick(rng);
    mutate::mutate(rng, &mut base, &other, target.dictionary, max_len);
    base
}
