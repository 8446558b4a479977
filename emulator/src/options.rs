//! What an emulator starts with: [`Options`] and the [`Seed`] of the project.

use std::time::Duration;

use crate::clock::Clock;
use crate::state::{Features, Limits, State, Variants};

/// What the project starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Seed {
    /// `production` only (default root branch with a read-write compute).
    #[default]
    Empty,
    /// `production` plus a `dev` root restored from a production snapshot, with a compute.
    Demo,
    /// No branches at all: seed everything through [`Emulator::with_state`].
    Nothing,
}

/// Emulator settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Added to every request before it is handled.
    pub latency: Duration,
    /// How long each operation takes (scheduling → running → finished). Zero: operations are
    /// created `finished`.
    pub op_duration: Duration,
    /// How many snapshots the project may hold (Neon's Free plan: 1).
    pub snapshot_quota: usize,
    pub seed: Seed,
    pub project_id: String,
    /// The only Neon API key accepted; `None` accepts any non-empty bearer token.
    pub api_key: Option<String>,
    /// Finalize-restore moves the `protected` flag from the replaced branch to the new one
    /// (default). `false`: the new branch comes out unprotected and the old one stays protected
    /// (the case where a client has to move the protection itself).
    pub restore_moves_protection: bool,
    /// How many root branches the project may have (Neon: Free 3, Launch 5, Scale 25). A
    /// restore creates a root branch, so a promotion needs room for `<prod> (old)`.
    pub root_branch_quota: usize,
    /// Port to bind on 127.0.0.1 (0: any free port).
    pub port: u16,
    /// Where Neon's behaviour is unknown, which reading to emulate (defaults: the emulator's
    /// earlier behaviour). Also settable at run time: `with_state(|s| s.limits.variants…)`.
    pub variants: Variants,
    /// Neon Auth and the Data API (off: their routes answer 404, as for a branch without them).
    pub features: Features,
    /// `None`: the emulated clock is the wall clock (plus what tests advance). `Some(t)`: it
    /// reads exactly `t` plus what [`crate::State::advance`] and [`crate::State::set_now`]
    /// added, never the wall clock, so a run is reproducible.
    pub start_time: Option<jiff::Timestamp>,
    /// Enforce Neon's rate limits on the Neon API (700 requests a minute, 40 a second per
    /// route): excess requests get 429 with `Retry-After`. Off by default.
    pub rate_limit: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            latency: Duration::ZERO,
            op_duration: Duration::ZERO,
            snapshot_quota: 10,
            seed: Seed::Empty,
            project_id: "proj-emulated".into(),
            api_key: None,
            restore_moves_protection: true,
            root_branch_quota: 25,
            port: 0,
            start_time: None,
            variants: Variants::default(),
            features: Features::default(),
            rate_limit: false,
        }
    }
}

impl Options {
    /// The tunables of the state machine among these options.
    pub(crate) fn limits(&self) -> Limits {
        Limits {
            op_duration: self.op_duration,
            snapshot_quota: self.snapshot_quota,
            restore_moves_protection: self.restore_moves_protection,
            root_branch_quota: self.root_branch_quota,
            variants: self.variants,
            features: self.features,
        }
    }
}

/// A new project with the given seed.
pub(crate) fn fresh_state(project_id: &str, limits: &Limits, seed: Seed, clock: Clock) -> State {
    let mut state = State::with_clock(project_id, limits.clone(), clock);
    match seed {
        Seed::Empty => {
            state.seed_default();
        }
        Seed::Demo => {
            state.seed_demo();
        }
        Seed::Nothing => {}
    }
    state
}
