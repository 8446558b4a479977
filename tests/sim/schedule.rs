//! A schedule: what a seed makes happen, drawn up front from the seed alone, so a failing seed
//! prints as a list of steps anyone can read and replay.

use std::fmt::Write as _;
use std::time::Duration;

use neon_emulator::state::{
    Column, FailedRestore, LockScope, RestoreRename, SnapshotSlug, State, Table, Variants,
};

/// What a guard does, as the input spells it.
#[derive(Debug, Clone, Copy)]
pub enum Policy {
    Warn,
    Fail,
    Ignore,
}

impl From<Policy> for String {
    fn from(p: Policy) -> String {
        format!("{p:?}").to_lowercase()
    }
}

#[derive(Debug, Clone)]
pub enum Target {
    Latest,
    /// The n-th rollback point of ours at run time, by id or by name.
    Nth(usize, bool),
}

#[derive(Debug, Clone)]
pub enum Cmd {
    Setup,
    Preview(u64),
    Cleanup(u64),
    Promote { sha: String },
    Rollback(Target),
    RefreshDev,
    Sweep,
    Checkpoint,
}

impl Cmd {
    /// Commands whose clean-up makes dev's baseline.
    pub fn makes_baseline(&self) -> bool {
        matches!(self, Cmd::Promote { .. } | Cmd::RefreshDev | Cmd::Setup)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Cmd::Setup => "setup",
            Cmd::Preview(_) => "preview",
            Cmd::Cleanup(_) => "cleanup",
            Cmd::Promote { .. } => "promote",
            Cmd::Rollback(_) => "rollback",
            Cmd::RefreshDev => "refresh-dev",
            Cmd::Sweep => "sweep",
            Cmd::Checkpoint => "checkpoint",
        }
    }
}

/// One run of a command, with its inputs.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub command: Cmd,
    /// `GITHUB_RUN_ID`: the same for a re-run.
    pub run_id: u64,
    /// Give prod and dev by the ids they had when the schedule started.
    pub by_id: bool,
    pub keep_old: bool,
    pub kept: usize,
    pub on_prod_changed: Policy,
    pub on_destructive: Policy,
    /// Cancelled (SIGINT) this long after it starts, then run again at once.
    pub cancel_after: Option<Duration>,
}

impl Invocation {
    pub fn without_cancel(&self) -> Self {
        Self {
            cancel_after: None,
            ..self.clone()
        }
    }

    pub fn describe(&self) -> String {
        let mut s = format!("{:?} run={}", self.command, self.run_id);
        if self.by_id {
            s.push_str(" by-id");
        }
        if self.keep_old {
            s.push_str(" keep_old_branch");
        }
        let _ = write!(
            s,
            " kept={} on_prod_changed={:?} on_destructive_change={:?}",
            self.kept, self.on_prod_changed, self.on_destructive
        );
        if let Some(after) = self.cancel_after {
            let _ = write!(s, " cancelled after {after:?}");
        }
        s
    }
}

/// A change to dev's schema, as a migration on dev would make it.
#[derive(Debug, Clone)]
pub enum Migration {
    AddColumn(u32),
    DropColumn,
    AddTable(u32),
}

impl Migration {
    pub fn apply(&self, s: &mut State, branch: &str) {
        let mut tables = s
            .schema_of(branch, "neondb")
            .map(<[Table]>::to_vec)
            .unwrap_or_default();
        match self {
            Migration::AddColumn(n) => {
                if let Some(t) = tables.first_mut() {
                    t.columns.push(Column {
                        name: format!("c{n}"),
                        kind: "text".into(),
                        nullable: n % 2 == 0,
                        generated: false,
                    });
                }
            }
            Migration::DropColumn => {
                if let Some(t) = tables.iter_mut().find(|t| t.columns.len() > 1) {
                    t.columns.pop();
                }
            }
            Migration::AddTable(n) => tables.push(Table {
                schema: "public".into(),
                name: format!("t{n}"),
                columns: vec![Column {
                    name: "id".into(),
                    kind: "bigint".into(),
                    nullable: false,
                    generated: false,
                }],
                constraints: Vec::new(),
            }),
        }
        s.set_schema(branch, "neondb", tables);
    }
}

#[derive(Debug, Clone)]
pub enum Step {
    Write(&'static str),
    Migrate(Migration),
    Advance(Duration),
    Run(Invocation),
    /// Re-run the k-th earlier run (mod their count), as GitHub's "Re-run jobs" does.
    Rerun(usize),
    /// Two runs started at once.
    Together(Invocation, Invocation),
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub seed: u64,
    pub empty_project: bool,
    pub op_duration: Duration,
    pub quota: usize,
    pub restore_moves_protection: bool,
    pub variants: Variants,
    pub fault_rate: f64,
    pub latency: Duration,
    pub steps: Vec<Step>,
}

impl Schedule {
    pub fn draw(seed: u64) -> Schedule {
        let mut r = fastrand::Rng::with_seed(seed);
        let pick = |r: &mut fastrand::Rng, n: usize| r.usize(0..n);
        let variants = Variants {
            restore_rename: [RestoreRename::AtRequest, RestoreRename::WhenFinished]
                [pick(&mut r, 2)],
            failed_restore: [FailedRestore::Untouched, FailedRestore::Renamed][pick(&mut r, 2)],
            lock_scope: [LockScope::ProjectWide, LockScope::PerBranch][pick(&mut r, 2)],
            list_lag: r.bool(),
            snapshot_slug: [SnapshotSlug::Honoured, SnapshotSlug::Ignored][pick(&mut r, 2)],
        };
        let empty_project = r.u8(0..10) < 3;
        let mut next_run = 1000;
        let mut steps = Vec::new();
        if empty_project {
            steps.push(Step::Run(invocation(&mut r, Cmd::Setup, &mut next_run)));
        }
        for _ in 0..r.usize(6..=16) {
            let step = match r.u32(0..100) {
                0..25 => {
                    let sha = sha(&mut r);
                    Step::Run(invocation(&mut r, Cmd::Promote { sha }, &mut next_run))
                }
                25..35 => Step::Write(["production", "dev"][pick(&mut r, 2)]),
                35..40 => Step::Migrate(match r.u32(0..3) {
                    0 => Migration::AddColumn(r.u32(..)),
                    1 => Migration::DropColumn,
                    _ => Migration::AddTable(r.u32(..)),
                }),
                40..52 => {
                    let target = if r.bool() {
                        Target::Latest
                    } else {
                        Target::Nth(r.usize(0..8), r.bool())
                    };
                    Step::Run(invocation(&mut r, Cmd::Rollback(target), &mut next_run))
                }
                52..60 => {
                    let pr = r.u64(1..4);
                    Step::Run(invocation(&mut r, Cmd::Preview(pr), &mut next_run))
                }
                60..64 => {
                    let pr = r.u64(1..4);
                    Step::Run(invocation(&mut r, Cmd::Cleanup(pr), &mut next_run))
                }
                64..70 => Step::Run(invocation(&mut r, Cmd::RefreshDev, &mut next_run)),
                70..72 => Step::Run(invocation(&mut r, Cmd::Setup, &mut next_run)),
                72..78 => Step::Run(invocation(&mut r, Cmd::Sweep, &mut next_run)),
                78..83 => Step::Run(invocation(&mut r, Cmd::Checkpoint, &mut next_run)),
                83..88 => Step::Advance(Duration::from_secs(3600 * r.u64(1..=72))),
                88..94 => Step::Rerun(r.usize(..)),
                _ => {
                    let a = random_command(&mut r);
                    let b = random_command(&mut r);
                    Step::Together(
                        invocation(&mut r, a, &mut next_run),
                        invocation(&mut r, b, &mut next_run),
                    )
                }
            };
            steps.push(step);
        }
        Schedule {
            seed,
            empty_project,
            op_duration: Duration::from_millis([0, 50, 300, 1000][pick(&mut r, 4)]),
            quota: r.usize(3..=10),
            restore_moves_protection: r.bool(),
            variants,
            fault_rate: [0.0, 0.02, 0.05, 0.1, 0.2][pick(&mut r, 5)],
            latency: Duration::from_millis([0, 20, 100][pick(&mut r, 3)]),
            steps,
        }
    }

    /// The schedule as lines a person can read and replay.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "  project: {}, operations take {:?}, snapshot quota {}, restore moves protection: {}\n  variants: {:?}\n  faults: {:.0}% of requests, latency up to {:?}\n",
            if self.empty_project {
                "production only"
            } else {
                "production and dev"
            },
            self.op_duration,
            self.quota,
            self.restore_moves_protection,
            self.variants,
            self.fault_rate * 100.0,
            self.latency
        );
        for (i, step) in self.steps.iter().enumerate() {
            let _ = writeln!(s, "  {i:>2}. {}", describe_step(step));
        }
        s
    }
}

fn describe_step(step: &Step) -> String {
    match step {
        Step::Run(inv) => inv.describe(),
        Step::Together(a, b) => format!("at once: [{}] and [{}]", a.describe(), b.describe()),
        other => format!("{other:?}"),
    }
}

/// A commit sha: 40 hex digits, every one random (so short shas differ too).
fn sha(r: &mut fastrand::Rng) -> String {
    (0..40)
        .map(|_| char::from_digit(r.u32(0..16), 16).expect("hex"))
        .collect()
}

fn random_command(r: &mut fastrand::Rng) -> Cmd {
    match r.u32(0..6) {
        0 | 1 => Cmd::Promote { sha: sha(r) },
        2 => Cmd::Rollback(Target::Latest),
        3 => Cmd::RefreshDev,
        4 => Cmd::Sweep,
        _ => Cmd::Checkpoint,
    }
}

fn invocation(r: &mut fastrand::Rng, command: Cmd, next_run: &mut u64) -> Invocation {
    *next_run += 1;
    let policy = |r: &mut fastrand::Rng| {
        [Policy::Warn, Policy::Warn, Policy::Fail, Policy::Ignore][r.usize(0..4)]
    };
    Invocation {
        command,
        run_id: *next_run,
        by_id: r.u8(0..10) < 2,
        keep_old: r.u8(0..10) < 2,
        kept: r.usize(1..=4),
        on_prod_changed: policy(r),
        on_destructive: policy(r),
        cancel_after: (r.u8(0..10) < 1).then(|| Duration::from_millis(r.u64(0..4000))),
    }
}
