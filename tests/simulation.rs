//! The deterministic simulation (`tests/sim/`): thousands of seeded schedules of commands,
//! faults, cancels, re-runs, concurrent runs and Neon behaviour variants, each checked against
//! SPEC §5's invariants after every request and every run.
//!
//! `cargo test --test simulation` runs 2,000 seeds (`SIM_SEEDS` to change, `SIM_FROM` to start
//! elsewhere); the ignored `simulation_long` runs 100,000 (`cargo test --release --test
//! simulation -- --ignored`). A failing seed prints its schedule and trace, and joins
//! `REGRESSIONS` once fixed.

mod sim;

use std::sync::atomic::{AtomicU64, Ordering};

/// Seeds that once broke an invariant, kept as regression tests.
const REGRESSIONS: &[u64] = &[
    295, 1118, 1791, 2487, 3263, 7554, 10222, 12834, 16608, 20599, 25421, 26601, 59115, 76056,
    81999, 87444, 91668,
];

/// Runs seeds `from..from + count` on every core; returns the reports of those that failed.
fn sweep_seeds(from: u64, count: u64) -> (Vec<String>, u64) {
    let next = AtomicU64::new(from);
    let runs = AtomicU64::new(0);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= from + count {
                        return;
                    }
                    let verdict = sim::run_seed(seed);
                    runs.fetch_add(verdict.runs as u64, Ordering::Relaxed);
                    if !verdict.violations.is_empty() {
                        failures.lock().unwrap().push(verdict.report());
                    }
                }
            });
        }
    });
    (failures.into_inner().unwrap(), runs.into_inner())
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn check(from: u64, count: u64) {
    let started = std::time::Instant::now();
    let (failures, runs) = sweep_seeds(from, count);
    println!(
        "simulation: {count} seeds ({from}..{}), {runs} command runs, {} failing, {:.1} s",
        from + count,
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    for f in &failures {
        println!("{}", f.lines().take(2).collect::<Vec<_>>().join(" | "));
    }
    if let Some(first) = failures.first() {
        panic!(
            "{} of {count} seeds broke an invariant; the first:\n{first}",
            failures.len()
        );
    }
}

#[test]
fn two_thousand_seeds_keep_every_invariant() {
    check(env("SIM_FROM", 0), env("SIM_SEEDS", 2_000));
}

#[test]
#[ignore = "the long run: cargo test --release --test simulation -- --ignored"]
fn simulation_long() {
    check(env("SIM_FROM", 0), env("SIM_SEEDS", 100_000));
}

#[test]
fn regression_seeds_keep_every_invariant() {
    for &seed in REGRESSIONS {
        let verdict = sim::run_seed(seed);
        assert!(verdict.violations.is_empty(), "{}", verdict.report());
    }
}

#[test]
fn a_seed_replays_exactly() {
    for seed in [3, 17, 2026] {
        let (a, b) = (sim::run_seed(seed), sim::run_seed(seed));
        assert_eq!(a.trace, b.trace, "seed {seed} is not deterministic");
    }
}
