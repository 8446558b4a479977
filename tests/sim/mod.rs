//! A deterministic simulation of neon-promote's commands against the emulator. A seed draws a
//! schedule (commands, writes to prod and dev, migrations of dev, time passing, cancels with
//! re-runs, re-runs of earlier runs, two runs at once), a fault mix and one variant of each
//! Neon behaviour nobody has pinned down (the emulator's `Variants`). The real command
//! functions run through `app::run_cancellable`, in one current-thread runtime with paused
//! time, over the real client with an in-process transport; the invariants of SPEC §5 are
//! checked around every request and after every run. Same seed, same run.

pub mod invariants;
pub mod schedule;
pub mod transport;
pub mod world;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use neon_emulator::{Emulator, Options, Seed};
use neon_promote::app;
use neon_promote::config::{Config, Mode, RawInputs};
use neon_promote::ctx::Ctx;
use neon_promote::event::{GitHubContext, PullRequestInfo, PushInfo, Route};
use neon_promote::naming::SnapshotName;
use neon_promote::neon::{Clock, NeonClient, NeonSettings};
use neon_promote::render::CommentInfo;
use neon_promote::runner::Runner;
use neon_promote::secret::Secret;
use tokio_util::sync::CancellationToken;

use schedule::{Cmd, Invocation, Schedule, Step, Target};
use world::{DEV, FaultMix, PROD, RunRecord, World};

/// What a seed found: the schedule, and the violations with the replay trace.
pub struct Verdict {
    pub schedule: Schedule,
    pub violations: Vec<String>,
    pub trace: Vec<String>,
    pub runs: usize,
}

impl Verdict {
    /// The seed, its schedule as steps, and the trace: enough to replay and debug it.
    pub fn report(&self) -> String {
        format!(
            "seed {} broke {} invariant(s):\n  {}\n\nschedule:\n{}\n\ntrace:\n{}",
            self.schedule.seed,
            self.violations.len(),
            self.violations.join("\n  "),
            self.schedule.describe(),
            self.trace.join("\n")
        )
    }
}

/// Plays one seed to its end in a fresh paused-time runtime.
pub fn run_seed(seed: u64) -> Verdict {
    fastrand::seed(seed);
    let schedule = Schedule::draw(seed);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    runtime.block_on(play(schedule))
}

async fn play(schedule: Schedule) -> Verdict {
    let start: jiff::Timestamp = "2026-11-30T12:00:00Z".parse().expect("start");
    let emu = Emulator::detached(Options {
        seed: if schedule.empty_project {
            Seed::Empty
        } else {
            Seed::Demo
        },
        op_duration: schedule.op_duration,
        snapshot_quota: schedule.quota,
        start_time: Some(start),
        restore_moves_protection: schedule.restore_moves_protection,
        variants: schedule.variants,
        ..Options::default()
    });
    let faults = FaultMix {
        rate: schedule.fault_rate,
        latency: schedule.latency,
    };
    let world = Arc::new(World::new(emu, start, schedule.seed, faults));
    let first_ids = Ids::now(&world);
    let mut done: Vec<Invocation> = Vec::new();
    for step in &schedule.steps {
        world.trace(format!("step: {step:?}"));
        match step {
            Step::Write(branch) => {
                world.sync_clock();
                let n = world.track(|t| t.trace.len());
                world.emu.with_state(|s| {
                    s.set_data(branch, &format!("{branch}-w{n}"));
                });
            }
            Step::Migrate(change) => {
                world.sync_clock();
                world.emu.with_state(|s| change.apply(s, DEV));
            }
            Step::Advance(by) => tokio::time::sleep(*by).await,
            Step::Run(inv) => {
                run(&world, inv, &first_ids, false).await;
                done.push(inv.clone());
            }
            Step::Rerun(k) => {
                if let Some(inv) = done.get(k % done.len().max(1)).cloned() {
                    run(&world, &inv.without_cancel(), &first_ids, false).await;
                }
            }
            Step::Together(a, b) => {
                if a.command.makes_baseline() && b.command.makes_baseline() {
                    world.track(|t| t.baseline_race = true);
                }
                tokio::join!(
                    run(&world, a, &first_ids, true),
                    run(&world, b, &first_ids, true)
                );
                done.push(a.clone());
                done.push(b.clone());
            }
        }
    }
    let (violations, trace, runs) =
        world.track(|t| (t.violations.clone(), t.trace.clone(), t.runs.len()));
    Verdict {
        schedule,
        violations,
        trace,
        runs,
    }
}

/// Prod's and dev's ids when the schedule started: what a workflow that gives them by id has
/// written down.
struct Ids {
    prod: Option<String>,
    dev: Option<String>,
}

impl Ids {
    fn now(world: &World) -> Self {
        world.emu.with_state(|s| Ids {
            prod: s.branch_by_name(PROD).map(|b| b.id.clone()),
            dev: s.branch_by_name(DEV).map(|b| b.id.clone()),
        })
    }
}

/// One run of an invocation; a cancelled one is re-run at once, as a user would.
async fn run(world: &Arc<World>, inv: &Invocation, ids: &Ids, concurrent: bool) {
    run_once(world, inv, ids, concurrent).await;
    if inv.cancel_after.is_some() {
        run_once(world, &inv.without_cancel(), ids, concurrent).await;
    }
}

async fn run_once(world: &Arc<World>, inv: &Invocation, ids: &Ids, concurrent: bool) {
    world.sync_clock();
    let by_id = |id: &Option<String>| id.clone().filter(|_| inv.by_id);
    let (prod_input, dev_input) = (by_id(&ids.prod), by_id(&ids.dev));
    let stale_inputs: Vec<String> = world.emu.with_state(|s| {
        [&prod_input, &dev_input]
            .into_iter()
            .flatten()
            .filter(|id| {
                s.branches
                    .values()
                    .any(|b| b.restored_as.as_deref() == Some(id.as_str()))
            })
            .cloned()
            .collect()
    });
    let run = world.track(|t| {
        t.runs.push(RunRecord {
            label: inv.describe(),
            command: inv.command.name(),
            stale_inputs,
            keep_old_branch: inv.keep_old,
            ..RunRecord::default()
        });
        t.runs.len() - 1
    });
    world.trace(format!("run #{run}: {}", inv.describe()));
    let Some(route) = route(world, inv) else {
        return;
    };
    let sink = Arc::new(Mutex::new(Vec::new()));
    let cancel = CancellationToken::new();
    let ctx = context(
        world,
        run,
        inv,
        prod_input,
        dev_input,
        sink.clone(),
        cancel.clone(),
    );
    let info = CommentInfo::new(&ctx.config, ctx.github_run.as_ref());
    let code = match inv.cancel_after {
        None => app::run_cancellable(&ctx, &route, &info).await,
        Some(after) => {
            let stop = async {
                tokio::time::sleep(after).await;
                cancel.cancel();
                std::future::pending::<u8>().await
            };
            tokio::select! {
                biased;
                code = app::run_cancellable(&ctx, &route, &info) => code,
                never = stop => never,
            }
        }
    };
    let printed = String::from_utf8_lossy(&sink.lock().expect("sink")).into_owned();
    world.trace(format!("run #{run} exited {code}"));
    for line in printed
        .lines()
        .filter(|l| l.starts_with("::error") || l.starts_with("::warning"))
    {
        world.trace(format!("run #{run}   {line}"));
    }
    after_run(
        world,
        run,
        inv,
        code,
        &printed,
        &ctx.runner.outputs(),
        concurrent,
    );
}

/// I5, I7 (the bound) and I8, once a run has ended.
fn after_run(
    world: &World,
    run: usize,
    inv: &Invocation,
    code: u8,
    printed: &str,
    outputs: &[(String, String)],
    concurrent: bool,
) {
    let record = world.track(|t| t.runs[run].clone());
    let errors: Vec<String> = printed
        .lines()
        .filter(|l| l.starts_with("::error"))
        .map(str::to_string)
        .collect();
    let mut checks = Vec::new();
    if code != 0 {
        // A snapshot whose own operation failed is no rollback point, even while it exists
        // (a cancel may interrupt its deletion).
        let existing: Vec<String> = world.emu.with_state(|s| {
            let failed = |ops: &[String]| {
                s.operations
                    .iter()
                    .any(|o| ops.contains(&o.id) && o.outcome.is_failure())
            };
            record
                .snapshots
                .iter()
                .filter(|(id, _, ops)| {
                    !failed(ops)
                        && !record.unseen_snapshots.contains(id)
                        && s.snapshot(id).is_some_and(|snap| {
                            SnapshotName::parse(&snap.name)
                                .is_some_and(|n| n.kind.is_rollback_point())
                        })
                })
                .map(|(id, _, _)| id.clone())
                .collect()
        });
        checks.push(invariants::every_failure_says_where_prod_stands(
            &errors, outputs, &existing,
        ));
    } else if !errors.is_empty() {
        checks.push(Err(format!("a run that exited 0 printed {errors:?}")));
    }
    let restored = code == 0 && record.restored_prod.is_some();
    if restored && matches!(inv.command, Cmd::Rollback(Target::Latest)) && !concurrent {
        let accepted = world.track(|t| t.promotions.clone());
        checks.push(world.emu.with_state(|s| {
            invariants::latest_restores_the_state_before_the_last_promotion(s, &accepted)
        }));
    }
    if code == 0 && inv.command.makes_baseline() && !concurrent && printed.contains("Clean-up") {
        world.track(|t| t.baseline_race = false);
    }
    let clean = !printed.contains("::warning::clean-up");
    let retained = restored || matches!(inv.command, Cmd::Checkpoint);
    if code == 0 && retained && clean && !concurrent && printed.contains("Clean-up") {
        let others = world.emu.with_state(|s| in_flight_points(s, &record));
        let baselines = if world.track(|t| t.baseline_race) {
            2
        } else {
            1
        };
        checks.push(world.emu.with_state(|s| {
            invariants::no_snapshot_outlives_its_purpose(s, inv.kept + others, baselines)
        }));
    }
    for failed in checks.into_iter().filter_map(Result::err) {
        world.violation(Some(run), failed);
    }
}

/// Rollback points of the current prod made in the last ten minutes (a run's `timeout`) by
/// other runs: retention leaves them alone, as another run may be about to restore with one.
fn in_flight_points(s: &neon_emulator::state::State, record: &RunRecord) -> usize {
    let Some(prod) = s.branch_by_name(PROD) else {
        return 0;
    };
    let since = s.now() - jiff::SignedDuration::from_mins(10);
    s.snapshots
        .iter()
        .filter(|x| {
            x.source_branch_id == prod.id
                && x.created_at >= since
                && SnapshotName::parse(&x.name).is_some_and(|n| n.kind.is_rollback_point())
                && !record.snapshots.iter().any(|(id, _, _)| *id == x.id)
        })
        .count()
}

/// The route an invocation takes; `None` when it has nothing to act on yet.
fn route(world: &World, inv: &Invocation) -> Option<Route> {
    let pr = |n: u64| PullRequestInfo {
        number: n,
        head_ref: format!("feature/{n}"),
        head_sha: format!("{n:07x}"),
        title: format!("PR {n}"),
        merged: false,
        from_fork: false,
    };
    let pushed = world.now() - jiff::SignedDuration::from_secs(1);
    Some(match &inv.command {
        Cmd::Setup => Route::Setup,
        Cmd::Preview(n) => Route::Preview(Some(pr(*n))),
        Cmd::Cleanup(n) => Route::Cleanup(Some(pr(*n))),
        Cmd::Promote { sha } => Route::Promote(Some(PushInfo {
            sha: sha.clone(),
            branch: "main".into(),
            // GitHub took the push when the run was first started; a re-run keeps it.
            pushed_at: Some(world.track(|t| *t.pushed.entry(inv.run_id).or_insert(pushed))),
        })),
        Cmd::Rollback(Target::Latest) => Route::Rollback {
            snapshot_id: "latest".into(),
        },
        Cmd::Rollback(Target::Nth(n, by_name)) => {
            let ours: Vec<(String, String)> = world.emu.with_state(|s| {
                s.snapshots
                    .iter()
                    .filter(|x| {
                        SnapshotName::parse(&x.name).is_some_and(|n| n.kind.is_rollback_point())
                    })
                    .map(|x| (x.id.clone(), x.name.clone()))
                    .collect()
            });
            let (id, name) = ours.get(n % ours.len().max(1))?.clone();
            Route::Rollback {
                snapshot_id: if *by_name { name } else { id },
            }
        }
        Cmd::RefreshDev => Route::RefreshDev,
        Cmd::Sweep => Route::Sweep,
        Cmd::Checkpoint => Route::Checkpoint { sha: None },
    })
}

/// The run's world: config from inputs, the real client over the simulation's transport, a
/// runner that prints into `sink`, the virtual clock.
fn context(
    world: &Arc<World>,
    run: usize,
    inv: &Invocation,
    prod: Option<String>,
    dev: Option<String>,
    sink: Arc<Mutex<Vec<u8>>>,
    cancel: CancellationToken,
) -> Ctx {
    let project = world.emu.with_state(|s| s.project.id.clone());
    let raw = RawInputs {
        api_key: Some(Secret::new("napi_simulated_key")),
        project_id: Some(project.clone()),
        api_host: Some("http://neon.invalid/api/v2".into()),
        prod_branch: prod,
        dev_branch: dev,
        keep_old_branch: Some(inv.keep_old.to_string()),
        rollback_snapshots_kept: Some(inv.kept.to_string()),
        on_prod_changed: Some(inv.on_prod_changed.into()),
        on_destructive_change: Some(inv.on_destructive.into()),
        comment: Some("false".into()),
        ..RawInputs::default()
    };
    let config = Config::from_raw(raw, Mode::Action).expect("valid simulated inputs");
    let clock = Clock::starting_at(world.now());
    let neon = NeonClient::with_transport(
        Arc::new(transport::SimTransport {
            world: world.clone(),
            run,
        }),
        NeonSettings {
            api_host: "http://neon.invalid/api/v2".into(),
            api_key: "napi_simulated_key".into(),
            project_id: project,
            timeout: Duration::from_secs(600),
            clock,
            on_progress: None,
        },
    );
    let gh = GitHubContext {
        event_name: "workflow_dispatch".into(),
        repository: "acme/shop".into(),
        api_url: "http://github.invalid".into(),
        server_url: "https://github.com".into(),
        workflow: Some("neon.yml".into()),
        run_id: Some(inv.run_id),
        // GitHub counts a run's attempts; a re-run keeps the run id.
        run_attempt: Some(world.track(|t| {
            let n = t.attempts.entry(inv.run_id).or_default();
            *n += 1;
            *n
        })),
        payload: serde_json::json!({}),
    };
    let runner = Runner::for_test(sink, None, None);
    Ctx::new(config, Some(gh), neon, None, runner, cancel).with_clock(Arc::new(move || clock.now()))
}
