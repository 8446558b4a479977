//! The small world a command runs in: settings, the two API clients, the runner's I/O, and the
//! record of timed steps. Commands are plain `async fn(&Ctx, …) -> Result<Outcome>`, so tests
//! can swap any part of the world.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::event::GithubContext;
use crate::github::GitHub;
use crate::neon::NeonClient;
use crate::runner::Runner;

/// One timed step, for the log and the job summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    pub label: String,
    pub duration: Duration,
    pub ok: bool,
}

/// A run was cancelled (SIGINT/SIGTERM): no new step starts.
#[derive(Debug, thiserror::Error)]
#[error("cancelled during: {0}")]
pub struct Cancelled(pub String);

pub struct Ctx {
    pub config: Config,
    /// `None` outside GitHub Actions.
    pub github_ctx: Option<GithubContext>,
    pub neon: NeonClient,
    /// `None` when there is no token or no repository to comment on.
    pub github: Option<GitHub>,
    pub runner: Runner,
    pub cancel: CancellationToken,
    steps: Mutex<Vec<StepRecord>>,
    warnings: Mutex<Vec<String>>,
}

impl Ctx {
    pub fn new(
        config: Config,
        github_ctx: Option<GithubContext>,
        neon: NeonClient,
        github: Option<GitHub>,
        runner: Runner,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            config,
            github_ctx,
            neon,
            github,
            runner,
            cancel,
            steps: Mutex::default(),
            warnings: Mutex::default(),
        }
    }

    /// Runs one named step: refuses to start once the run is cancelled, abandons the wait when
    /// a cancel arrives mid-step, logs one line with the duration, and records it for the
    /// summary. Every Neon operation a command performs goes through here.
    pub async fn step<T, E>(
        &self,
        label: impl Into<String>,
        fut: impl Future<Output = Result<T, E>>,
    ) -> anyhow::Result<T>
    where
        E: Into<anyhow::Error>,
    {
        let label = label.into();
        if self.cancel.is_cancelled() {
            return Err(Cancelled(label).into());
        }
        let start = Instant::now();
        let result = tokio::select! {
            r = fut => r.map_err(Into::into),
            () = self.cancel.cancelled() => Err(Cancelled(label.clone()).into()),
        };
        let duration = start.elapsed();
        let ok = result.is_ok();
        self.runner.step_line(&label, duration, ok);
        self.steps.lock().expect("steps lock").push(StepRecord {
            label,
            duration,
            ok,
        });
        result
    }

    /// A warning for the log (now) and the summary (later).
    pub fn warn(&self, message: impl Into<String>) {
        let message = message.into();
        self.runner.warning(&message);
        self.warnings.lock().expect("warnings lock").push(message);
    }

    pub fn steps(&self) -> Vec<StepRecord> {
        self.steps.lock().expect("steps lock").clone()
    }

    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().expect("warnings lock").clone()
    }

    /// The `dry_run` input: commands stop after their reads and return the plan.
    pub fn dry_run(&self) -> bool {
        self.config.dry_run
    }
}
