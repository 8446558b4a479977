//! One run, start to end: dispatch the route, report what the command did (outputs, sticky
//! comment, job summary) as soon as it is known, then the clean-up it left, then the exit code.
//! This is the only place a failure becomes an `::error::` line. `main` wires the real world
//! into it; the simulation wires an emulated one.

use std::time::Duration;

use crate::commands::{self, Done};
use crate::config::CommandName;
use crate::ctx::Ctx;
use crate::event::Route;
use crate::outcome::{Failure, Outcome, Plan};
use crate::render::{self, CommentInfo};

/// The runner sends SIGKILL 10 s after SIGINT; we leave ourselves margin to report.
const CANCEL_GRACE: Duration = Duration::from_millis(6500);

/// [`run`], bounded after a cancel: a step abandons its wait at once; anything that is not a
/// step gets `CANCEL_GRACE`, then the run ends with an error saying to check production.
pub async fn run_cancellable(ctx: &Ctx, route: &Route, info: &CommentInfo) -> u8 {
    tokio::select! {
        biased;
        code = run(ctx, route, info) => code,
        () = async { ctx.cancel.cancelled().await; tokio::time::sleep(CANCEL_GRACE).await } => {
            ctx.runner.error(
                "neon-promote cancelled",
                "the run was stopped before it could finish its current call; check the state of production in the Neon Console before re-running",
            );
            1
        }
    }
}

/// Runs a route to its end and returns the exit status (0 done or skipped, 1 failed).
pub async fn run(ctx: &Ctx, route: &Route, info: &CommentInfo) -> u8 {
    let command = route.command();
    let name = command.map_or("skipped", CommandName::as_str);
    let result = {
        let _group = ctx.runner.group(&format!("neon-promote {name}"));
        commands::dispatch(ctx, route).await
    };
    match result {
        Ok(done) if ctx.dry_run() => {
            // The clean-up is part of the plan: record it before showing the plan.
            let _ = commands::tidy(ctx, &done.tidy).await;
            let plan = Outcome::DryRun(Plan {
                command: command.unwrap_or(CommandName::Preview),
                calls: ctx.planned(),
            });
            let outcome = match done.outcome {
                Outcome::Skipped { .. } => done.outcome,
                _ => plan,
            };
            report(ctx, &outcome, info).await;
            0
        }
        Ok(Done { outcome, tidy }) => {
            report(ctx, &outcome, info).await;
            if tidy.is_empty() {
                return 0;
            }
            let before = ctx.steps().len();
            let tidied = {
                let _group = ctx.runner.group("Clean-up");
                commands::tidy(ctx, &tidy).await
            };
            match tidied {
                Ok(t) => {
                    let steps = &ctx.steps()[before..];
                    let text = render::tidied(&t, steps, &t.failed);
                    if let Err(e) = ctx.runner.append_summary(&text) {
                        ctx.runner
                            .warning(&format!("could not write the job summary: {e}"));
                    }
                    0
                }
                Err(cancelled) => fail(
                    ctx,
                    name,
                    &Failure::from_message(format!(
                        "the clean-up was cancelled ({cancelled}); the {name} itself succeeded and was reported; re-run to finish the clean-up (or let sweep do it)"
                    )),
                ),
            }
        }
        Err(failure) => fail(ctx, name, &failure),
    }
}

/// The one `::error::` line of a failed run, the rollback point it took (when it still
/// exists) as an output, and the failure summary.
fn fail(ctx: &Ctx, name: &str, failure: &Failure) -> u8 {
    let message = commands::error_line(&ctx.config, failure);
    ctx.runner
        .error(&format!("neon-promote {name} failed"), &message);
    if let Some(s) = &failure.rollback_snapshot
        && let Err(e) = ctx.runner.set_output("rollback_snapshot_id", &s.id)
    {
        ctx.runner
            .warning(&format!("could not write output rollback_snapshot_id: {e}"));
    }
    let _ = ctx.runner.append_summary(&render::failure_summary(
        name,
        &message,
        &ctx.steps(),
        &ctx.warnings(),
    ));
    1
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
