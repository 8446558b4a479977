//! The committed benchmark behind SPEC §5's figures. Run: `cargo bench --bench workflow`
//! (`BENCH_RUNS=N` sets the repetitions, 5 by default). Not a test: nothing here fails on a slow
//! machine; it prints, side by side from one run, each scenario's Neon requests (in all, polls,
//! the rest), its wall time (median) against its floor, and its highest request rate over any
//! 1 s and any 60 s, next to the targets and to v1's figures; then cold start, peak memory, the
//! exact-name lookup among 20,000 branches and the binary size.
//!
//! Everything is counted from the emulator's request log, so it is the same whatever the client
//! says about itself (`BENCH_LOG=1` prints each run's log, to see why). A poll is a `GET` of
//! one operation, or of the operations list 20 at a time (how the wait reads several at once);
//! the other reads of that list (running operations, what an ambiguous mutation started) page
//! by 100 and are not polls. Counts and rates are the worst run's (a range when runs differ).
//!
//! Floors are those of SPEC §5, in the emulator's terms (`lat` per request, `op` per operation):
//! preview create 2 round trips and 2 operations; reuse 2 round trips; a promotion
//! `4·op + 5·lat` until prod is verified plus `op + lat` for each clean-up operation it awaits
//! (a `DELETE` of a branch after the restore: the emulator's snapshot deletions and `PATCH`es
//! start none). SPEC §5 gives a rollback no figure: its floor here is a promotion's less its
//! one snapshot (`3·op + 4·lat` until verified).

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use neon_emulator::{Api, Emulator, LoggedRequest, Options, Seed};
use support::Action;

/// The polling budget of one run (SPEC §5).
const POLLS_PER_SECOND: usize = 4;
const POLLS_PER_MINUTE: usize = 120;

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(5);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (scenarios, extras) = rt.block_on(async {
        let (create, reuse, cold) = previews(runs).await;
        let scenarios = vec![
            create,
            reuse,
            promotion(runs, ms(50), ms(1000)).await,
            promotion(runs, ms(0), ms(300)).await,
            rollback(runs).await,
            burst(runs).await,
        ];
        let mut extras = vec![cold];
        extras.extend(memory().await);
        extras.push(lookup().await);
        extras.push(binary_size());
        (scenarios, extras)
    });
    print_scenarios(runs, &scenarios);
    println!("\n| figure | measured | target |");
    println!("|---|---|---|");
    for (figure, measured, target) in extras {
        println!("| {figure} | {measured} | {target} |");
    }
}

/// A figure outside the scenarios: what, measured, target.
type Figure = (String, String, String);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn emulator_options(latency: Duration, op: Duration) -> Options {
    Options {
        latency,
        op_duration: op,
        seed: Seed::Demo,
        ..Options::default()
    }
}

/// What one run (or one burst) did, from the request log.
struct Sample {
    wall_ms: f64,
    floor_ms: f64,
    all: usize,
    polls: usize,
    /// The most requests within any 1 s and any 60 s: all of them, then polls only.
    peak_second: (usize, usize),
    peak_minute: (usize, usize),
}

impl Sample {
    fn new(wall_ms: f64, floor_ms: f64, log: &[LoggedRequest]) -> Self {
        let neon: Vec<&LoggedRequest> = log.iter().filter(|r| r.api == Api::Neon).collect();
        if std::env::var("BENCH_LOG").is_ok_and(|v| v == "1") {
            print_log(&neon, wall_ms);
        }
        let times = |polls_only: bool| -> Vec<Timestamp> {
            neon.iter()
                .filter(|r| !polls_only || is_poll(r))
                .map(|r| r.at)
                .collect()
        };
        let (all, polls) = (times(false), times(true));
        let (second, minute) = (Duration::from_secs(1), Duration::from_secs(60));
        Sample {
            wall_ms,
            floor_ms,
            all: all.len(),
            polls: polls.len(),
            peak_second: (peak(&all, second), peak(&polls, second)),
            peak_minute: (peak(&all, minute), peak(&polls, minute)),
        }
    }
}

fn print_log(neon: &[&LoggedRequest], wall_ms: f64) {
    let start = neon.first().map(|r| r.at);
    for r in neon {
        let at = start.and_then(|s| (r.at - s).total(jiff::Unit::Millisecond).ok());
        let query = if r.query.is_empty() { "" } else { "?" };
        println!(
            "{:>8.0} ms {} {} {}{query}{}",
            at.unwrap_or_default(),
            r.status,
            r.method,
            r.path,
            r.query
        );
    }
    println!("-- {} requests, {wall_ms:.0} ms", neon.len());
}

fn is_poll(r: &LoggedRequest) -> bool {
    let Some((_, rest)) = r.path.split_once("/operations") else {
        return false;
    };
    r.method == "GET" && (!rest.is_empty() || r.query_param("limit").as_deref() == Some("20"))
}

/// The most of `times` within any `window`.
fn peak(times: &[Timestamp], window: Duration) -> usize {
    let mut times = times.to_vec();
    times.sort();
    let window = jiff::SignedDuration::try_from(window).expect("window");
    let mut first = 0;
    let mut most = 0;
    for (last, at) in times.iter().enumerate() {
        while at.duration_since(times[first]) >= window {
            first += 1;
        }
        most = most.max(last + 1 - first);
    }
    most
}

/// A figure a scenario is held to (SPEC §5 and the issue).
enum Target {
    /// Most requests in all, and besides polls.
    All(usize),
    Other(usize),
    /// Most wall time (the median), in ms and as a multiple of the floor.
    Ms(f64),
    OfFloor(f64),
    /// The polling budget of one run, in the worst run.
    PollBudget,
}

impl Target {
    fn text(&self) -> String {
        match self {
            Target::All(n) => format!("≤ {n} in all"),
            Target::Other(n) => format!("≤ {n} besides polls"),
            Target::Ms(n) => format!("≤ {n:.0} ms"),
            Target::OfFloor(x) => format!("≤ {x} × floor"),
            Target::PollBudget => {
                format!("polls ≤ {POLLS_PER_SECOND}/s, ≤ {POLLS_PER_MINUTE}/min")
            }
        }
    }

    /// What `s` measured against this target, when it missed it.
    fn missed(&self, s: &Scenario) -> Option<String> {
        match *self {
            Target::All(n) => {
                let got = s.worst(|x| x.all);
                (got > n).then(|| format!("{got} requests > {n}"))
            }
            Target::Other(n) => {
                let got = s.worst(|x| x.all - x.polls);
                (got > n).then(|| format!("{got} besides polls > {n}"))
            }
            Target::Ms(n) => {
                let wall = s.median(|x| x.wall_ms);
                (wall > n).then(|| format!("{wall:.0} ms > {n:.0} ms"))
            }
            Target::OfFloor(n) => {
                let ratio = s.median(|x| x.wall_ms) / s.median(|x| x.floor_ms);
                (ratio > n).then(|| format!("{ratio:.2} × floor > {n}"))
            }
            Target::PollBudget => {
                let second = s.worst(|x| x.peak_second.1);
                let minute = s.worst(|x| x.peak_minute.1);
                (second > POLLS_PER_SECOND || minute > POLLS_PER_MINUTE)
                    .then(|| format!("{second} polls in 1 s, {minute} in 60 s"))
            }
        }
    }
}

/// A scenario's samples and what they are held to.
struct Scenario {
    name: String,
    samples: Vec<Sample>,
    targets: Vec<Target>,
    v1: &'static str,
}

impl Scenario {
    fn new(name: impl Into<String>, samples: Vec<Sample>, targets: Vec<Target>) -> Self {
        Scenario {
            name: name.into(),
            samples,
            targets,
            v1: "—",
        }
    }

    /// The highest value over the runs.
    fn worst(&self, of: impl Fn(&Sample) -> usize) -> usize {
        self.samples.iter().map(of).max().unwrap_or(0)
    }

    /// One number, or the range when runs differ.
    fn count(&self, of: impl Fn(&Sample) -> usize) -> String {
        let lo = self.samples.iter().map(&of).min().unwrap_or(0);
        let hi = self.worst(of);
        if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}–{hi}")
        }
    }

    fn median(&self, of: impl Fn(&Sample) -> f64) -> f64 {
        let mut values: Vec<f64> = self.samples.iter().map(of).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    }
}

fn print_scenarios(runs: usize, scenarios: &[Scenario]) {
    println!(
        "\n| scenario | requests: all / polls / other | wall, median of {runs} | floor | × floor | peak in 1 s: all (polls) | peak in 60 s: all (polls) | targets | v1 | verdict |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for s in scenarios {
        let (wall, floor) = (s.median(|x| x.wall_ms), s.median(|x| x.floor_ms));
        let targets: Vec<String> = s.targets.iter().map(Target::text).collect();
        let missed: Vec<String> = s.targets.iter().filter_map(|t| t.missed(s)).collect();
        let verdict = match (targets.is_empty(), missed.is_empty()) {
            (true, _) => "—".to_string(),
            (false, true) => "met".to_string(),
            (false, false) => format!("missed: {}", missed.join(", ")),
        };
        println!(
            "| {} | {} / {} / {} | {wall:.0} ms | {floor:.0} ms | {:.2} | {} ({}) | {} ({}) | {} | {} | {verdict} |",
            s.name,
            s.count(|x| x.all),
            s.count(|x| x.polls),
            s.count(|x| x.all - x.polls),
            wall / floor,
            s.count(|x| x.peak_second.0),
            s.count(|x| x.peak_second.1),
            s.count(|x| x.peak_minute.0),
            s.count(|x| x.peak_minute.1),
            if targets.is_empty() {
                "—".to_string()
            } else {
                targets.join("; ")
            },
            s.v1
        );
    }
}

/// Runs the binary once against `emu`, from spawn to exit: wall ms, the run's requests, and
/// when it was spawned.
async fn timed(emu: &Emulator, action: Action) -> (f64, Vec<LoggedRequest>, Timestamp) {
    emu.clear_requests();
    let spawned = Timestamp::now();
    let start = Instant::now();
    let run = action.run(emu).await;
    let wall = start.elapsed().as_secs_f64() * 1e3;
    assert_eq!(run.status, 0, "bench run failed:\n{}", run.log());
    (wall, emu.requests(), spawned)
}

fn opened(number: u64) -> Action {
    let payload = support::pull_request("opened", number, "feature/bench", "abc1234def");
    Action::new("pull_request", payload).input("comment", "false")
}

/// Preview create (a new PR) and reuse (a push to it), 50 ms per request, 1 s operations;
/// and the cold start (spawn → first request) of all those runs.
async fn previews(runs: usize) -> (Scenario, Scenario, Figure) {
    let (lat, op) = (ms(50), ms(1000));
    let emu = Emulator::start(emulator_options(lat, op)).await;
    let (mut create, mut reuse, mut cold) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs {
        let number = 1000 + i as u64;
        let sync = support::pull_request("synchronize", number, "feature/bench", "abc1234def");
        let sync = Action::new("pull_request", sync).input("comment", "false");
        for (action, samples, floor) in [
            (opened(number), &mut create, 2 * op + 2 * lat),
            (sync, &mut reuse, 2 * lat),
        ] {
            let (wall, log, spawned) = timed(&emu, action).await;
            if let Some(first) = log.first() {
                let start = (first.at - spawned).total(jiff::Unit::Millisecond);
                cold.push(start.unwrap_or_default());
            }
            samples.push(Sample::new(wall, floor.as_secs_f64() * 1e3, &log));
        }
    }
    let create = Scenario {
        v1: "45–47 requests, 2 not polls",
        ..Scenario::new(
            "preview create, 50 ms, 1 s operations",
            create,
            vec![
                Target::All(12),
                Target::Other(3),
                Target::Ms(2250.0),
                Target::PollBudget,
            ],
        )
    };
    let reuse = Scenario {
        v1: "5 requests, 214 ms",
        ..Scenario::new(
            "preview reuse, 50 ms",
            reuse,
            vec![Target::All(3), Target::Ms(160.0), Target::PollBudget],
        )
    };
    cold.sort_by(f64::total_cmp);
    let cold = (
        format!(
            "cold start: spawn → first request (median of {})",
            cold.len()
        ),
        format!("{:.1} ms", cold[cold.len() / 2]),
        "≤ 5 ms".into(),
    );
    (create, reuse, cold)
}

/// The floor of a promotion or rollback that awaits `ops` operations until prod is verified,
/// plus one for each clean-up `DELETE` of a branch in `log`, sent after the restore.
fn restore_floor(ops: u32, lat: Duration, op: Duration, log: &[LoggedRequest]) -> f64 {
    let restore = log
        .iter()
        .position(|r| r.method == "POST" && r.path.ends_with("/restore"))
        .unwrap_or(log.len());
    let clean_ups = log[restore..]
        .iter()
        .filter(|r| r.method == "DELETE" && r.path.contains("/branches/"))
        .count() as u32;
    let floor = ops * op + (ops + 1) * lat + clean_ups * (op + lat);
    floor.as_secs_f64() * 1e3
}

fn sha(i: usize) -> String {
    format!("{i:07}bench0000000000000000000000000000000")
}

/// A promotion on a push to the default branch; a fresh project each run.
async fn promotion(runs: usize, lat: Duration, op: Duration) -> Scenario {
    let mut samples = Vec::new();
    for i in 0..runs {
        let emu = Emulator::start(emulator_options(lat, op)).await;
        let push = support::push("main", "main", &sha(i));
        let action = Action::new("push", push).input("comment", "false");
        let (wall, log, _) = timed(&emu, action).await;
        samples.push(Sample::new(wall, restore_floor(4, lat, op, &log), &log));
    }
    let name = format!(
        "promotion, {} ms, {} ms operations",
        lat.as_millis(),
        op.as_millis()
    );
    // SPEC §5 holds the common case (50 ms, 1 s) to the request budget and 1.1 × its floor,
    // the fast one to 1.25 × its floor.
    if lat.is_zero() {
        return Scenario::new(
            name,
            samples,
            vec![Target::OfFloor(1.25), Target::PollBudget],
        );
    }
    Scenario {
        v1: "76 requests, 66 polls",
        ..Scenario::new(
            name,
            samples,
            vec![Target::All(30), Target::OfFloor(1.1), Target::PollBudget],
        )
    }
}

/// `rollback latest` right after a promotion (not measured), 50 ms, 1 s operations.
async fn rollback(runs: usize) -> Scenario {
    let (lat, op) = (ms(50), ms(1000));
    let mut samples = Vec::new();
    for i in 0..runs {
        let emu = Emulator::start(emulator_options(lat, op)).await;
        let push = support::push("main", "main", &sha(i));
        timed(&emu, Action::new("push", push).input("comment", "false")).await;
        let dispatch = support::lifecycle::dispatch("latest");
        let action = Action::new("workflow_dispatch", dispatch)
            .input("snapshot_id", "latest")
            .input("comment", "false");
        let (wall, log, _) = timed(&emu, action).await;
        samples.push(Sample::new(wall, restore_floor(3, lat, op, &log), &log));
    }
    let name = "rollback `latest`, 50 ms, 1 s operations";
    Scenario::new(name, samples, vec![Target::PollBudget])
}

/// Ten previews of ten new PRs started at once (ten processes), 50 ms, 1 s operations: wall
/// time until the last ends; requests of the ten together. The emulator refuses a mutation
/// while any operation of the project runs (its strict reading of Neon's 423), so the creates
/// queue behind each other.
async fn burst(runs: usize) -> Scenario {
    const PREVIEWS: u64 = 10;
    let (lat, op) = (ms(50), ms(1000));
    let mut samples = Vec::new();
    for i in 0..runs as u64 {
        let emu = Arc::new(Emulator::start(emulator_options(lat, op)).await);
        let start = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for j in 0..PREVIEWS {
            let (emu, action) = (emu.clone(), opened(2000 + i * PREVIEWS + j));
            set.spawn(async move { action.run(&emu).await });
        }
        while let Some(run) = set.join_next().await {
            let run = run.expect("preview task");
            assert_eq!(run.status, 0, "bench run failed:\n{}", run.log());
        }
        let wall = start.elapsed().as_secs_f64() * 1e3;
        // The emulator's default lock lets one operation of a project run at a time (Neon's
        // strict reading of 423), so the floor is the ten previews' 20 operations back to back.
        let floor = (2 * PREVIEWS as u32 * op + 2 * lat).as_secs_f64() * 1e3;
        samples.push(Sample::new(wall, floor, &emu.requests()));
    }
    // Ten runs counted together: the budget is each run's, so it is not checked here.
    let name = format!("burst: {PREVIEWS} previews created at once (counts of all {PREVIEWS})");
    Scenario::new(name, samples, Vec::new())
}

/// Peak resident memory of a preview and of a rollback, each one CLI run.
async fn memory() -> Vec<Figure> {
    let emu = Emulator::start(emulator_options(ms(0), ms(0))).await;
    let preview = preview_cli("999");
    let first = peak_memory(&emu, &preview).await;
    let again = peak_memory(&emu, &preview).await;
    let push = support::push("main", "main", &sha(0));
    timed(&emu, Action::new("push", push).input("comment", "false")).await;
    let rollback = peak_memory(&emu, &["rollback", "latest"]).await;
    let target = || "≤ 15 MiB".to_string();
    vec![
        ("peak memory: preview create".into(), first, target()),
        ("peak memory: preview reuse".into(), again, target()),
        ("peak memory: rollback".into(), rollback, target()),
    ]
}

/// A preview in a project of 20,000 branches whose names contain `dev`, with the real `dev`
/// the oldest of all (so a substring search lists it last): how many list requests find it.
async fn lookup() -> Figure {
    let emu = Emulator::start(emulator_options(ms(0), ms(0))).await;
    emu.with_state(|s| {
        let prod = s.default_branch().expect("prod").id.clone();
        s.insert_many_branches("dev_feature_", 20_000, &prod);
        let dev = s.branch_by_name("dev").expect("dev").id.clone();
        let old = s.now() - jiff::SignedDuration::from_hours(24 * 30);
        let b = s.branch_mut(&dev).expect("dev");
        b.created_at = old;
        b.updated_at = old;
    });
    let (wall, log, _) = timed(&emu, opened(7)).await;
    let lists = log
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/branches"))
        .count();
    let memory = peak_memory(&emu, &preview_cli("8")).await;
    (
        "exact-name lookup among 20,000 `dev_*` branches (a preview)".into(),
        format!("{lists} list requests, {wall:.0} ms, peak memory {memory}"),
        "≤ 2 requests, correct".into(),
    )
}

fn binary_size() -> Figure {
    let binary = support::binary();
    let size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
    (
        format!("binary size ({})", binary.display()),
        format!("{:.2} MB", size as f64 / 1e6),
        "image ≤ 10 MB".into(),
    )
}

/// The command line of a preview of PR `pr`.
fn preview_cli(pr: &str) -> [&str; 7] {
    [
        "preview",
        "--pr",
        pr,
        "--ref",
        "feature/cli",
        "--sha",
        "abc1234",
    ]
}

/// Peak resident memory of one CLI run of the binary against `emu`, by `/usr/bin/time` (the
/// bench's own children inherit its memory at fork, so getrusage on them would measure us).
async fn peak_memory(emu: &Emulator, args: &[&str]) -> String {
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
