//! neon-promote: config → context → dispatch → report → exit code. This is the only place an
//! error becomes an `::error::` line and an exit status.

use std::process::ExitCode;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use neon_promote::config::{Config, UsageError};
use neon_promote::ctx::Ctx;
use neon_promote::event::{self, GithubContext, Route};
use neon_promote::github::GitHub;
use neon_promote::neon::{Clock, NeonClient, NeonSettings};
use neon_promote::outcome::Outcome;
use neon_promote::render::{self, CommentInfo};
use neon_promote::runner::Runner;
use neon_promote::{cli, commands, http};

/// The runner sends SIGKILL 10 s after SIGINT; we leave ourselves margin to report.
const CANCEL_GRACE: Duration = Duration::from_millis(6500);

fn main() -> ExitCode {
    let runner = Runner::from_env();
    let raw = cli::parse();
    // Secrets are masked before anything else can be printed, even a usage error.
    for secret in [raw.api_key.as_deref(), raw.github_token.as_deref()]
        .into_iter()
        .flatten()
    {
        runner.add_mask(secret);
    }
    let prepared = Config::from_raw(raw)
        .map_err(UsageErrors)
        .and_then(|config| {
            let gh = GithubContext::from_env().map_err(|e| UsageErrors(vec![e]))?;
            let route = event::route(&config, gh.as_ref()).map_err(|e| UsageErrors(vec![e]))?;
            Ok((config, gh, route))
        });
    let (config, gh, route) = match prepared {
        Ok(prepared) => prepared,
        Err(errors) => {
            runner.error("Invalid configuration", &errors.to_string());
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            runner.error("neon-promote failed", &format!("cannot start: {e}"));
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(run(config, gh, route, runner))
}

/// Several usage errors reported as the one `::error::` line of a failed run.
struct UsageErrors(Vec<UsageError>);

impl std::fmt::Display for UsageErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lines: Vec<String> = self.0.iter().map(|e| e.to_string()).collect();
        f.write_str(&lines.join("; "))
    }
}

async fn run(config: Config, gh: Option<GithubContext>, route: Route, runner: Runner) -> ExitCode {
    let cancel = CancellationToken::new();
    tokio::spawn(watch_signals(cancel.clone()));
    let info = comment_info(&config, gh.as_ref());
    let http = match http::client() {
        Ok(http) => http,
        Err(e) => {
            runner.error(
                "neon-promote failed",
                &format!("cannot set up HTTPS: {e:#}; nothing was changed"),
            );
            return ExitCode::FAILURE;
        }
    };
    let ctx = context(http, config, gh, runner, cancel.clone());
    let command = command_name(&route);
    let group = ctx.runner.group(&format!("neon-promote {command}"));
    let result = tokio::select! {
        r = dispatch(&ctx, &route) => r,
        // A step abandons its wait on cancel; this bounds anything that is not a step.
        () = async { cancel.cancelled().await; tokio::time::sleep(CANCEL_GRACE).await } => {
            Err(anyhow::anyhow!("cancelled: the run was stopped before it could finish its current call; check the state of production in the Neon Console before re-running"))
        }
    };
    drop(group);
    match result {
        Ok(outcome) => {
            let _group = ctx.runner.group("Report: outputs, comment, summary");
            report(&ctx, &outcome, &info).await;
            ExitCode::SUCCESS
        }
        Err(error) => {
            let message = format!("{error:#}");
            ctx.runner
                .error(&format!("neon-promote {command} failed"), &message);
            let _ = ctx.runner.append_summary(&render::failure_summary(
                command,
                &message,
                &ctx.steps(),
                &ctx.warnings(),
            ));
            let code = if error.downcast_ref::<UsageError>().is_some() {
                2
            } else {
                1
            };
            ExitCode::from(code)
        }
    }
}

fn context(
    http: reqwest::Client,
    config: Config,
    gh: Option<GithubContext>,
    runner: Runner,
    cancel: CancellationToken,
) -> Ctx {
    let neon = NeonClient::new(
        http.clone(),
        NeonSettings {
            api_host: config.api_host.clone(),
            api_key: config.api_key.clone(),
            project_id: config.project_id.clone(),
            timeout: config.timeout,
            clock: Clock::system(),
            on_progress: None,
        },
    );
    // Without a token or a repository there is nobody to comment to; a bad token is a warning.
    let github = match (&config.github_token, &gh) {
        (Some(token), Some(gh)) => match GitHub::new(http, &gh.api_url, token, &gh.repository) {
            Ok(github) => Some(github),
            Err(e) => {
                runner.warning(&format!(
                    "GitHub client unavailable, comments are skipped: {e:#}"
                ));
                None
            }
        },
        _ => None,
    };
    Ctx::new(config, gh, neon, github, runner, cancel)
}

async fn dispatch(ctx: &Ctx, route: &Route) -> anyhow::Result<Outcome> {
    match route {
        Route::Preview(pr) => commands::preview(ctx, pr).await,
        Route::Cleanup(pr) => commands::cleanup(ctx, pr).await,
        Route::Promote(push) => commands::promote(ctx, push.as_ref()).await,
        Route::Rollback { snapshot_id } => commands::rollback(ctx, snapshot_id).await,
        Route::RefreshDev => commands::refresh_dev(ctx).await,
        Route::Setup => commands::setup(ctx).await,
        Route::Sweep => commands::sweep(ctx).await,
        Route::Skip { reason } => Ok(Outcome::Skipped {
            reason: reason.clone(),
        }),
    }
}

/// Outputs, the job summary and the sticky comment, from what the command did.
async fn report(ctx: &Ctx, outcome: &Outcome, info: &CommentInfo) {
    match outcome {
        Outcome::Skipped { reason } => ctx.runner.notice(reason),
        Outcome::DryRun(plan) => {
            ctx.runner
                .notice("dry run: every read was made; nothing was changed");
            for (i, call) in plan.calls.iter().enumerate() {
                ctx.runner.info(&format!("plan {}. {call}", i + 1));
            }
        }
        _ => {}
    }
    for (name, value) in outcome.outputs() {
        if let Err(e) = ctx.runner.set_output(name, &value) {
            ctx.warn(format!("could not write output {name}: {e}"));
        }
    }
    if let Some(url) = comment(ctx, outcome, info).await {
        let _ = ctx.runner.set_output("comment_url", &url);
    }
    let summary = render::summary(outcome, &ctx.steps(), &ctx.warnings(), info);
    if let Err(e) = ctx.runner.append_summary(&summary) {
        ctx.runner
            .warning(&format!("could not write the job summary: {e}"));
    }
}

/// Posts or updates the sticky comment; any GitHub failure is a warning, never a failed run.
async fn comment(ctx: &Ctx, outcome: &Outcome, info: &CommentInfo) -> Option<String> {
    if !ctx.config.comment {
        return None;
    }
    let pr = outcome.pull_request()?;
    let body = render::comment(outcome, info)?;
    let Some(github) = &ctx.github else {
        ctx.warn("no github_token: the pull request comment was skipped");
        return None;
    };
    match github.upsert_comment(pr.number, &body).await {
        Ok(url) => url,
        Err(e) => {
            ctx.warn(format!(
                "could not comment on pull request #{}: {e} (the job needs `pull-requests: write`)",
                pr.number
            ));
            None
        }
    }
}

/// The command a route runs, for messages before there is an outcome.
fn command_name(route: &Route) -> &'static str {
    match route {
        Route::Preview(_) => "preview",
        Route::Cleanup(_) => "cleanup",
        Route::Promote(_) => "promote",
        Route::Rollback { .. } => "rollback",
        Route::RefreshDev => "refresh-dev",
        Route::Setup => "setup",
        Route::Sweep => "sweep",
        Route::Skip { .. } => "skipped",
    }
}

fn comment_info(config: &Config, gh: Option<&GithubContext>) -> CommentInfo {
    CommentInfo {
        project_id: config.project_id.clone(),
        server_url: gh.map_or_else(|| "https://github.com".into(), |g| g.server_url.clone()),
        repository: gh.map(|g| g.repository.clone()),
        workflow: gh.and_then(|g| g.workflow.clone()),
    }
}

/// SIGINT then SIGTERM is how the runner cancels a container step: either one cancels the run.
async fn watch_signals(cancel: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    cancel.cancel();
}
