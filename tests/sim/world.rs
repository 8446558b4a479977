//! The simulated world of one seed: the emulator (in process, its clock driven by tokio's
//! paused time), the seeded random source every decision draws from, what each run did (for
//! the invariants), and the trace that replays a failing seed.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;
use neon_emulator::Emulator;
use tokio::time::Instant;

/// Production's name in every simulated project.
pub const PROD: &str = "production";
pub const DEV: &str = "dev";

/// What one run of a command did, as the transport saw it.
#[derive(Debug, Default, Clone)]
pub struct RunRecord {
    /// How the step names it, e.g. `promote sha=ab12cd3`.
    pub label: String,
    pub command: &'static str,
    /// Snapshots this run created: (snapshot id, branch id, operation ids).
    pub snapshots: Vec<(String, String, Vec<String>)>,
    /// Snapshots it created whose answer was lost and which no list it read since has shown
    /// it: a run cancelled then cannot know their ids, so cannot output them (I8).
    pub unseen_snapshots: Vec<String>,
    /// The snapshot this run restored onto prod, and prod's data right before.
    pub restored_prod: Option<(String, String)>,
    /// The same, for a restore request not yet answered.
    pub pending_restore: Option<(String, String)>,
    /// I2's verdict on that request, reported if Neon accepts it.
    pub pending_check: Option<String>,
    /// Branch ids given as inputs that a restore had already replaced when the run started.
    pub stale_inputs: Vec<String>,
    pub keep_old_branch: bool,
}

/// A promotion whose restore onto prod Neon accepted: what prod held just before, and which
/// branch prod was. It completed once that branch no longer carries prod's name (the restore
/// swapped them), whatever became of the run that asked for it.
#[derive(Debug, Clone)]
pub struct AcceptedPromotion {
    pub pre_restore_data: String,
    pub replaced: String,
}

/// Everything the invariants need to remember across runs.
#[derive(Debug, Default)]
pub struct Tracker {
    pub runs: Vec<RunRecord>,
    pub promotions: Vec<AcceptedPromotion>,
    /// Restores onto prod from a candidate of each commit (short sha → count).
    pub promoted_commits: BTreeMap<String, usize>,
    /// The operations of the restore that made each branch (branch id → operation ids).
    pub restore_ops: BTreeMap<String, Vec<String>>,
    /// Branches whose replacement was seen verified (ready, restored, its restore finished),
    /// even if that replacement is gone since: a chain of replaced branches is all obsolete.
    pub verified_replaced: std::collections::BTreeSet<String>,
    pub violations: Vec<String>,
    /// How many times each workflow run has been started (`GITHUB_RUN_ATTEMPT`).
    pub attempts: BTreeMap<u64, u32>,
    /// When each promotion run's push happened (its first start).
    pub pushed: BTreeMap<u64, Timestamp>,
    /// Two runs that each make dev's baseline ran at once since the last that ran alone:
    /// each may have missed the other's, so two baselines may be left until the next.
    pub baseline_race: bool,
    pub trace: Vec<String>,
}

/// Fault rates of one schedule (per request).
#[derive(Debug, Clone, Copy)]
pub struct FaultMix {
    pub rate: f64,
    /// Longest simulated network latency.
    pub latency: Duration,
}

pub struct World {
    pub emu: Emulator,
    pub start: Timestamp,
    t0: Instant,
    rng: Mutex<fastrand::Rng>,
    pub faults: FaultMix,
    pub tracker: Mutex<Tracker>,
}

impl World {
    pub fn new(emu: Emulator, start: Timestamp, seed: u64, faults: FaultMix) -> Self {
        Self {
            emu,
            start,
            t0: Instant::now(),
            rng: Mutex::new(fastrand::Rng::with_seed(seed ^ 0x5eed_5eed)),
            faults,
            tracker: Mutex::default(),
        }
    }

    /// Virtual now: the start plus tokio's (paused, auto-advancing) time.
    pub fn now(&self) -> Timestamp {
        self.start + self.t0.elapsed()
    }

    /// Moves the emulator's clock to virtual now (it never goes back).
    pub fn sync_clock(&self) {
        let now = self.now();
        self.emu.with_state(|s| {
            let _ = s.set_now(now);
        });
    }

    pub fn rng<T>(&self, f: impl FnOnce(&mut fastrand::Rng) -> T) -> T {
        f(&mut self.rng.lock().expect("rng lock"))
    }

    pub fn track<T>(&self, f: impl FnOnce(&mut Tracker) -> T) -> T {
        f(&mut self.tracker.lock().expect("tracker lock"))
    }

    pub fn trace(&self, line: String) {
        let ms = self.t0.elapsed().as_millis();
        self.track(|t| t.trace.push(format!("{ms:>8} ms  {line}")));
    }

    pub fn violation(&self, run: Option<usize>, what: String) {
        let who = run.map_or_else(String::new, |r| {
            format!(" (run #{r}: {})", self.track(|t| t.runs[r].label.clone()))
        });
        self.trace(format!("VIOLATION{who}: {what}"));
        self.track(|t| t.violations.push(format!("{what}{who}")));
    }
}
