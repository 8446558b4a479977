//! One file per command, each an `async fn(&Ctx, …) -> Result<Done, Failure>`: it makes its
//! Neon calls through `ctx.step` and `ctx.apply`, returns what it did (and what it leaves to
//! clean up) as data, and never prints outputs, Markdown or comments (`app` renders).
//!
//! Every mutating call is a [`crate::plan::Call`], for the run and the dry run alike. The steps
//! they share live by concept: [`roots`] (finding prod and dev), [`snapshots`] (taking,
//! deleting, retention, which snapshots are ours), [`replace`] (restore → verify, and how a
//! failed run says where it stopped), [`tidy`] (what a verified restore leaves to do), and
//! [`connection`] (connection strings).

mod checkpoint;
mod cleanup;
mod connect;
mod connection;
mod diff;
mod guards;
mod preview;
mod promote;
mod refresh_dev;
mod replace;
mod rollback;
mod roots;
mod setup;
mod snapshots;
mod sweep;
mod tidy;

pub use checkpoint::checkpoint;
pub use cleanup::cleanup;
pub use connect::connect;
pub use diff::diff;
pub use preview::preview;
pub use promote::promote;
pub use refresh_dev::refresh_dev;
pub use rollback::rollback;
pub use setup::setup;
pub use sweep::sweep;
pub use tidy::{Tidy, run as tidy};

use std::fmt::Display;

use jiff::Timestamp;

use crate::config::Expiry;
use crate::ctx::Ctx;
use crate::event::{PullRequestInfo, PushInfo, Route};
use crate::neon::{Branch, NeonError, Snapshot};
use crate::outcome::{BranchRef, Failure, Outcome, PullRef};

/// What a failed preview, cleanup or connect leaves production in.
pub const PROD_UNTOUCHED: &str = "production is not affected";

/// What a command did, and the clean-up it leaves for after the report.
#[derive(Debug)]
pub struct Done {
    pub outcome: Outcome,
    pub tidy: Vec<Tidy>,
}

impl Done {
    /// Deliberately nothing to do (exit 0, a notice).
    pub fn skipped(reason: String) -> Self {
        Self {
            outcome: Outcome::Skipped { reason },
            tidy: Vec::new(),
        }
    }
}

/// Runs the command a route names.
pub async fn dispatch(ctx: &Ctx, route: &Route) -> Result<Done, Failure> {
    match route {
        Route::Preview(pr) => preview(ctx, pr.as_ref()).await,
        Route::Cleanup(pr) => cleanup(ctx, pr.as_ref()).await,
        Route::Diff(pr) => diff(ctx, pr.as_ref()).await,
        Route::Promote(push) => promote(ctx, push.as_ref()).await,
        Route::Rollback { snapshot_id } => rollback(ctx, snapshot_id).await,
        Route::RefreshDev => refresh_dev(ctx).await,
        Route::Setup => setup(ctx).await,
        Route::Sweep => sweep(ctx).await.map_err(Failure::from),
        Route::Connect => connect(ctx).await,
        Route::Checkpoint { sha } => checkpoint(ctx, sha.as_deref()).await,
        Route::Skip { reason } => Ok(Done::skipped(reason.clone())),
    }
}

/// The `expires_at` to send for a TTL input, counted from `now`: RFC 3339 in UTC with whole
/// seconds (Neon's documented form); `None` for `none`.
pub fn expires_at(ttl: &Expiry, now: Timestamp) -> Option<String> {
    let at = match ttl {
        Expiry::After(duration) => now.checked_add(*duration).ok()?,
        Expiry::At(at) => *at,
        Expiry::Never => return None,
    };
    // Truncated, not rounded: rounding up could land a 30-day TTL past Neon's 30-day limit.
    Some(at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// The preview branch's name: the literal `branch_name`, else the template filled in from the
/// pull request (routing guarantees one of them).
pub fn preview_name(ctx: &Ctx, pr: Option<&PullRequestInfo>) -> String {
    match (&ctx.config.branch_name, pr) {
        (Some(name), _) => crate::naming::literal_branch_name(name),
        (None, Some(pr)) => crate::naming::preview_branch_name(
            &ctx.config.preview_branch_name,
            pr.number,
            &pr.head_ref,
            &pr.head_sha,
        ),
        (None, None) => crate::naming::literal_branch_name(""),
    }
}

/// The input that names the preview: `branch_name` when given, else the template.
pub fn preview_name_input(ctx: &Ctx) -> &'static str {
    match ctx.config.branch_name {
        Some(_) => "branch_name",
        None => "preview_branch_name",
    }
}

/// Whether a branch of the preview's name may be taken for the preview (reused, or deleted
/// when also unprotected): never the default branch or the configured prod or dev, and a root
/// only when Neon made it schema-only (a `branch_type: schema-only` preview is a root).
pub fn may_be_preview(ctx: &Ctx, branch: &Branch) -> bool {
    let configured = [
        ctx.config.prod_branch.as_deref(),
        Some(ctx.config.dev_branch.as_str()),
    ];
    let is_configured = configured
        .into_iter()
        .flatten()
        .any(|b| b == branch.name || b == branch.id);
    !branch.default && !is_configured && (!branch.is_root() || branch.is_schema_only())
}

/// The pull request a preview or cleanup reports to.
pub fn pull_ref(pr: &PullRequestInfo) -> PullRef {
    PullRef {
        number: pr.number,
        title: pr.title.clone(),
    }
}

pub fn branch_ref(b: &Branch) -> BranchRef {
    BranchRef {
        id: b.id.clone(),
        name: b.name.clone(),
    }
}

/// The one-line error of a failed command: what failed (with the server's words), the state
/// production is in, and what to do next.
pub fn failure(what: impl Display, cause: &anyhow::Error, state: &str, next: &str) -> Failure {
    Failure::from_message(format!("{what}: {cause:#}; {state}; {next}"))
}

/// The next step for errors where re-running cannot help, in the words of the mode the run
/// is in (`api_key:` as an Action, `--api-key` on the command line).
pub fn advice(ctx: &Ctx, error: &anyhow::Error) -> Option<String> {
    let config = &ctx.config;
    let neon = crate::ctx::neon_error(error)?;
    Some(match neon {
        NeonError::Unauthorized { .. } => format!(
            "check {}: it must be a Neon API key of the organisation that owns project `{}`",
            config.input("api_key"),
            config.project_id
        ),
        NeonError::ProjectNotFound(_) => format!(
            "check {} (`{}`) and {} (`{}`)",
            config.input("project_id"),
            config.project_id,
            config.input("api_host"),
            config.api_host
        ),
        NeonError::Unreachable { .. } => format!(
            "check {} (`{}`): the host must be reachable from the runner",
            config.input("api_host"),
            config.api_host
        ),
        NeonError::RateLimitedPastTimeout { until, .. } => format!(
            "Neon accepts requests again at {until}: re-run after that, or raise {}",
            config.input("timeout")
        ),
        _ => return None,
    })
}

/// The command that restores what a snapshot holds onto production, as the user would type
/// it (built by `render`, the one place that formats it).
pub fn rollback_command(ctx: &Ctx, snapshot_id: &str) -> String {
    let gh = ctx.github_run.as_ref();
    crate::render::rollback_command(
        gh.map(|g| g.workflow.as_deref().unwrap_or("<workflow>")),
        gh.map(|g| g.repository.as_str()),
        snapshot_id,
    )
}

/// The PR the pushed commit was merged by, for the snapshot names and the comment. None found
/// is no comment; a GitHub failure is a warning, never a failed promotion.
async fn merged_pull(ctx: &Ctx, push: Option<&PushInfo>) -> Option<PullRef> {
    let (Some(push), Some(github)) = (push, &ctx.github) else {
        return None;
    };
    match github.merged_pull_for_commit(&push.sha, &push.branch).await {
        Ok(pr) => pr.map(|p| PullRef {
            number: p.number,
            title: p.title,
        }),
        Err(e) => {
            ctx.warn(format!(
                "could not find the pull request of {}: {e}; the promotion goes on without a comment",
                push.sha
            ));
            None
        }
    }
}

/// The PR whose promotion took the snapshot, when its name carries one; a GitHub failure is a
/// warning.
async fn snapshot_pull(ctx: &Ctx, snapshot: &Snapshot) -> Option<PullRef> {
    let number = crate::naming::SnapshotName::parse(&snapshot.name)?.pr?;
    let github = ctx.github.as_ref()?;
    match github.pull(number).await {
        Ok(p) => Some(PullRef {
            number: p.number,
            title: p.title,
        }),
        Err(e) => {
            ctx.warn(format!(
                "could not read pull request #{number}: {e}; no comment is posted"
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn expiry_is_rfc3339_with_whole_seconds() {
        let now: Timestamp = "2026-11-23T10:15:00.900Z".parse().unwrap();
        let week = Expiry::After(Duration::from_secs(7 * 86_400));
        assert_eq!(
            expires_at(&week, now).as_deref(),
            Some("2026-11-30T10:15:00Z")
        );
        let at = Expiry::At("2026-12-01T08:00:00.5+02:00".parse().unwrap());
        assert_eq!(
            expires_at(&at, now).as_deref(),
            Some("2026-12-01T06:00:00Z")
        );
        assert_eq!(expires_at(&Expiry::Never, now), None);
    }

    #[test]
    fn failures_read_as_one_line() {
        let cause = anyhow::anyhow!("conflict: branch exists").context("Create preview branch");
        let error = failure(
            "could not create `x`",
            &cause,
            PROD_UNTOUCHED,
            "re-run the job",
        );
        assert_eq!(
            error.message,
            "could not create `x`: Create preview branch: conflict: branch exists; production is not affected; re-run the job"
        );
    }
}
