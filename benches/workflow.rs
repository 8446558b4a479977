//! The committed benchmark behind SPEC §5's figures: Neon requests on the critical path, wall
//! time against the emulator with injected latency, cold start, peak memory, the exact-name
//! lookup among 20,000 branches, and the binary size. Run: `cargo bench --bench workflow`
//! (`BENCH_RUNS=N` sets the repetitions; medians are reported). Not a test: nothing here fails
//! on a slow machine; it prints a table to compare with the targets.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use neon_emulator::{Api, Emulator, LoggedRequest, Options, Seed};
use support::Action;

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let rows = rt.block_on(async {
        let mut rows = Vec::new();
        rows.extend(preview(runs).await);
        rows.push(
            promotion(
                runs,
                ms(50),
                ms(1000),
                "promotion, 50 ms, 1 s operations (target ≤ 4,750 ms, floor 4,250)",
            )
            .await,
        );
        rows.push(
            promotion(
                runs,
                ms(0),
                ms(300),
                "promotion, 0 ms, 300 ms operations (target ≤ 1,500 ms, floor 1,200)",
            )
            .await,
        );
        rows.push(lookup().await);
        rows
    });
    println!("\n| figure | median | runs | requests (besides polls) | polls | peak memory |");
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.name, r.median, r.runs, r.requests, r.polls, r.peak
        );
    }
    let binary = support::binary();
    let size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
    println!(
        "\nbinary: {} ({:.2} MB)",
        binary.display(),
        size as f64 / 1e6
    );
}

struct Row {
    name: String,
    median: String,
    runs: usize,
    requests: String,
    polls: String,
    /// Peak resident memory of one such run (target ≤ 15 MiB).
    peak: String,
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Neon requests of one run, split into polls (`GET …/operations/…`, or the operations list
/// that polls several at once) and the rest.
fn count(requests: &[LoggedRequest]) -> (usize, usize) {
    let neon: Vec<_> = requests.iter().filter(|r| r.api == Api::Neon).collect();
    let polls = neon
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/operations"))
        .count();
    (neon.len() - polls, polls)
}

/// Runs the binary once, timing it from spawn to exit; returns (ms, requests, polls, cold start ms).
async fn timed(emu: &Emulator, action: Action) -> (f64, usize, usize, f64) {
    emu.clear_requests();
    let spawned = jiff::Timestamp::now();
    let start = Instant::now();
    let run = action.run(emu).await;
    let wall = start.elapsed().as_secs_f64() * 1e3;
    assert_eq!(run.status, 0, "bench run failed:\n{}", run.log());
    let requests = emu.requests();
    let first = requests.first().map_or(0.0, |r| {
        (r.at - spawned)
            .total(jiff::Unit::Millisecond)
            .unwrap_or_default()
    });
    let (n, polls) = count(&requests);
    (wall, n, polls, first)
}

/// Preview create (a new PR) and reuse (a push to it), 50 ms per request, 1 s operations.
async fn preview(runs: usize) -> Vec<Row> {
    let emu = Emulator::start(Options {
        latency: ms(50),
        op_duration: ms(1000),
        seed: Seed::Demo,
        ..Options::default()
    })
    .await;
    let (mut create, mut reuse, mut cold) = (Vec::new(), Vec::new(), Vec::new());
    let (mut create_reqs, mut reuse_reqs) = ((0, 0), (0, 0));
    for i in 0..runs {
        let number = 1000 + i as u64;
        for (action, times, reqs) in [
            ("opened", &mut create, &mut create_reqs),
            ("synchronize", &mut reuse, &mut reuse_reqs),
        ] {
            let payload = support::pull_request(action, number, "feature/bench", "abc1234def");
            let a = Action::new("pull_request", payload).input("comment", "false");
            let (wall, n, polls, first) = timed(&emu, a).await;
            times.push(wall);
            *reqs = (n, polls);
            cold.push(first);
        }
    }
    let create_peak = peak(
        &emu,
        &[
            "preview",
            "--pr",
            "999",
            "--ref",
            "feature/mem",
            "--sha",
            "abc1234",
        ],
    )
    .await;
    let reuse_peak = peak(
        &emu,
        &[
            "preview",
            "--pr",
            "999",
            "--ref",
            "feature/mem",
            "--sha",
            "abc1234",
        ],
    )
    .await;
    vec![
        Row {
            name: "preview create, 50 ms, 1 s operations (target ≤ 2,250 ms, floor 2,100)".into(),
            median: format!("{:.0} ms", median(create)),
            runs,
            requests: create_reqs.0.to_string(),
            polls: create_reqs.1.to_string(),
            peak: create_peak,
        },
        Row {
            name: "preview reuse, 50 ms (target ≤ 160 ms, floor 100)".into(),
            median: format!("{:.0} ms", median(reuse)),
            runs,
            requests: reuse_reqs.0.to_string(),
            polls: reuse_reqs.1.to_string(),
            peak: reuse_peak,
        },
        Row {
            name: "cold start: spawn → first request (target ≤ 5 ms)".into(),
            median: format!("{:.1} ms", median(cold)),
            runs: runs * 2,
            requests: "-".into(),
            polls: "-".into(),
            peak: "-".into(),
        },
    ]
}

/// A promotion on a push to the default branch; a fresh project each run.
async fn promotion(runs: usize, latency: Duration, op: Duration, name: &str) -> Row {
    let (mut times, mut reqs, mut mem) = (Vec::new(), (0, 0), String::new());
    for i in 0..runs {
        let emu = Emulator::start(Options {
            latency,
            op_duration: op,
            seed: Seed::Demo,
            ..Options::default()
        })
        .await;
        let sha = format!("{i:07}bench0000000000000000000000000000000");
        let a = Action::new("push", support::push("main", "main", &sha)).input("comment", "false");
        let (wall, n, polls, _) = timed(&emu, a).await;
        times.push(wall);
        reqs = (n, polls);
        if i == 0 {
            mem = peak(&emu, &["rollback", "latest"]).await;
        }
    }
    Row {
        name: name.into(),
        median: format!("{:.0} ms", median(times)),
        runs,
        requests: reqs.0.to_string(),
        polls: reqs.1.to_string(),
        peak: format!("{mem} (a rollback on the same project)"),
    }
}

/// A preview in a project of 20,000 branches whose names contain `dev`, with the real `dev`
/// the oldest of all (so a substring search lists it last): how many list requests to find it.
async fn lookup() -> Row {
    let emu = Emulator::start(Options {
        seed: Seed::Demo,
        ..Options::default()
    })
    .await;
    emu.with_state(|s| {
        let prod = s.default_branch().expect("prod").id.clone();
        s.insert_many_branches("dev_feature_", 20_000, &prod);
        let dev = s.branch_by_name("dev").expect("dev").id.clone();
        let old = s.now() - jiff::SignedDuration::from_hours(24 * 30);
        let b = s.branch_mut(&dev).expect("dev");
        b.created_at = old;
        b.updated_at = old;
    });
    let payload = support::pull_request("opened", 7, "feature/lookup", "abc1234def");
    let a = Action::new("pull_request", payload).input("comment", "false");
    let start = Instant::now();
    emu.clear_requests();
    let run = a.run(&emu).await;
    let wall = start.elapsed().as_secs_f64() * 1e3;
    assert_eq!(run.status, 0, "lookup run failed:\n{}", run.log());
    let lists = emu
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/branches"))
        .count();
    Row {
        name: "exact-name lookup among 20,000 `dev_*` branches (target ≤ 2 list requests)".into(),
        median: format!("{wall:.0} ms (whole preview)"),
        runs: 1,
        requests: format!("{lists} list requests"),
        polls: "-".into(),
        peak: peak(
            &emu,
            &[
                "preview",
                "--pr",
                "8",
                "--ref",
                "feature/lookup",
                "--sha",
                "abc1234",
            ],
        )
        .await,
    }
}

/// Peak resident memory of one CLI run of the binary against `emu`, by `/usr/bin/time` (the
/// bench's own children inherit its memory at fork, so getrusage on them would measure us).
async fn peak(emu: &Emulator, args: &[&str]) -> String {
    let out = tempfile::NamedTempFile::new().expect("temp file");
    let project = emu.project_id();
    let api = emu.neon_api();
    let status = tokio::process::Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(out.path())
        .arg(support::binary())
        .args(args)
        .args([
            "--api-key",
            "bench-key-123",
            "--project-id",
            &project,
            "--api-host",
            &api,
            "--comment",
            "false",
        ])
        .env_clear()
        .stdout(std::process::Stdio::null())
        .status()
        .await;
    match (status, std::fs::read_to_string(out.path())) {
        (Ok(s), Ok(kib)) if s.success() => match kib.trim().parse::<f64>() {
            Ok(kib) => format!("{:.1} MiB", kib / 1024.0),
            Err(_) => "n/a".into(),
        },
        _ => "n/a (install Debian's `time`)".into(),
    }
}
