//! The small world a command runs in: settings, the two API clients, the runner's I/O, the
//! clock, and the record of timed steps and planned calls. Commands are plain
//! `async fn(&Ctx, …) -> Result<Done>`, so tests (and the simulation) can swap any part of the
//! world.
//!
//! Every mutating Neon call goes through [`Ctx::apply`]: a real run performs it as one timed
//! step, a dry run records it in the plan instead. The plan and the run therefore come from the
//! same step definitions and cannot drift.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::event::GitHubContext;
use crate::github::GitHub;
use crate::neon::{NeonClient, NeonError, NeonSettings, WithOps};
use crate::outcome::StepRecord;
use crate::plan::{Call, Sent};
use crate::runner::Runner;

/// A run was cancelled (SIGINT/SIGTERM): no new step starts.
#[derive(Debug, thiserror::Error)]
#[error("cancelled during: {0}")]
pub struct Cancelled(pub String);

/// What a call Neon accepted made, attached to the error of a step that then failed or was
/// cancelled while waiting for its operations (the thing exists; the caller decides what it
/// is worth).
#[derive(Debug, thiserror::Error)]
#[error("Neon accepted the call, but its operations were not seen to finish")]
pub struct Made(pub Sent);

/// The Neon error behind an error, wherever it sits in the chain.
pub fn neon_error(e: &anyhow::Error) -> Option<&NeonError> {
    e.chain().find_map(|c| c.downcast_ref::<NeonError>())
}

/// Wall-clock time as the run sees it: the system clock, or a simulated one.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

pub struct Ctx {
    pub config: Config,
    /// The run's GitHub context (event, repository, workflow); `None` outside GitHub Actions.
    pub github_run: Option<GitHubContext>,
    pub neon: NeonClient,
    /// `None` when there is no token or no repository to comment on.
    pub github: Option<GitHub>,
    pub runner: Runner,
    pub cancel: CancellationToken,
    clock: Clock,
    steps: Mutex<Vec<StepRecord>>,
    warnings: Mutex<Vec<String>>,
    planned: Mutex<Vec<String>>,
}

impl Ctx {
    pub fn new(
        config: Config,
        github_run: Option<GitHubContext>,
        neon: NeonClient,
        github: Option<GitHub>,
        runner: Runner,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            config,
            github_run,
            neon,
            github,
            runner,
            cancel,
            clock: Arc::new(Timestamp::now),
            steps: Mutex::default(),
            warnings: Mutex::default(),
            planned: Mutex::default(),
        }
    }

    /// The context of a run against the real APIs (or an emulator of them), over `http`. Without
    /// a token or a repository there is nobody to comment to; a bad token is a warning.
    pub fn real_world(
        http: reqwest::Client,
        config: Config,
        gh: Option<GitHubContext>,
        runner: Runner,
        cancel: CancellationToken,
    ) -> Self {
        let neon = NeonClient::new(
            http.clone(),
            NeonSettings {
                api_host: config.api_host.clone(),
                api_key: config.api_key.expose().to_string(),
                project_id: config.project_id.clone(),
                timeout: config.timeout,
                clock: crate::neon::Clock::system(),
                // Long operation waits say how they are doing, masked like every line.
                on_progress: Some(Arc::new(runner.info_printer())),
            },
        );
        let repository = config
            .repo
            .clone()
            .or_else(|| gh.as_ref().map(|g| g.repository.clone()));
        let api_url = gh
            .as_ref()
            .map_or("https://api.github.com", |g| g.api_url.as_str());
        let github = match (&config.github_token, repository) {
            (Some(token), Some(repository)) => {
                match GitHub::new(http, api_url, token.expose(), &repository) {
                    Ok(github) => Some(github),
                    Err(e) => {
                        runner.warning(&format!(
                            "GitHub client unavailable, comments are skipped: {e:#}"
                        ));
                        None
                    }
                }
            }
            _ => None,
        };
        Self::new(config, gh, neon, github, runner, cancel)
    }

    /// The same context with another clock (the simulation's virtual time).
    /// The workflow run and attempt this run is, for snapshot names (`None` outside Actions).
    pub fn workflow_run(&self) -> Option<crate::naming::WorkflowRun> {
        self.github_run
            .as_ref()
            .and_then(GitHubContext::workflow_run)
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Now, by the run's clock: snapshot names and expiry times are counted from here.
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// Runs one named step: refuses to start once the run is cancelled, abandons the wait when
    /// a cancel arrives mid-step, logs one line with the duration, and records it for the
    /// summary. Every Neon call a command makes goes through here.
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
            biased;
            () = self.cancel.cancelled() => Err(Cancelled(label.clone()).into()),
            r = fut => r.map_err(Into::into),
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

    /// Performs a mutating call as one step and waits for the operations it started; in a dry
    /// run, records it in the plan and returns `None` (the caller goes on with a placeholder).
    pub async fn apply(
        &self,
        label: impl Into<String>,
        call: Call,
    ) -> anyhow::Result<Option<Sent>> {
        if self.record(&call) {
            return Ok(None);
        }
        let made = Mutex::new(None);
        let result = self
            .step(label, async {
                let sent = call.send(&self.neon).await?;
                *made.lock().expect("made lock") = Some(sent.value.clone());
                self.neon.wait(&sent.operations).await?;
                Ok::<_, anyhow::Error>(sent.value)
            })
            .await;
        match (result, made.into_inner().expect("made lock")) {
            (Ok(value), _) => Ok(Some(value)),
            (Err(e), Some(sent)) => Err(e.context(Made(sent))),
            (Err(e), None) => Err(e),
        }
    }

    /// [`Ctx::apply`] without the wait: the caller waits for the operations itself (a preview
    /// reads its connection string meanwhile).
    pub async fn apply_started(
        &self,
        label: impl Into<String>,
        call: Call,
    ) -> anyhow::Result<Option<WithOps<Sent>>> {
        if self.record(&call) {
            return Ok(None);
        }
        self.step(label, call.send(&self.neon)).await.map(Some)
    }

    /// In a dry run, adds the call to the plan and says so.
    fn record(&self, call: &Call) -> bool {
        if self.dry_run() {
            let line = call.render(self.neon.project_id());
            self.planned.lock().expect("plan lock").push(line);
        }
        self.dry_run()
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

    /// The calls a dry run would have made, in order.
    pub fn planned(&self) -> Vec<String> {
        self.planned.lock().expect("plan lock").clone()
    }

    /// The `dry_run` input: every read is made, every mutation only recorded.
    pub fn dry_run(&self) -> bool {
        self.config.dry_run
    }
}
