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

use crate::config::{Config, Expiry};
use crate::ctx::Ctx;
use crate::event::{PullRequestInfo, PushInfo, Route};
use crate::neon::{Branch, NeonError, Snapshot};
use crate::outcome::{BranchRef, Failure, Fix, Outcome, PullRef};

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
/// production is in, and what to do next. When only a setting fixes the cause, the advice for
/// it (worded by `app`, which knows the mode) stands in for `next`.
pub fn failure(what: impl Display, cause: &anyhow::Error, state: &str, next: &str) -> Failure {
    match fix_for(cause) {
        Some(fix) => Failure {
            fix: Some(fix),
            ..Failure::from_message(format!("{what}: {cause:#}; {state}"))
        },
        None => Failure::from_message(line(what, cause, state, next)),
    }
}

/// `what: cause; state; next`, for a failure that words its own next step.
pub fn line(what: impl Display, cause: &anyhow::Error, state: &str, next: &str) -> String {
    format!("{what}: {cause:#}; {state}; {next}")
}

/// A branch or snapshot that an input names does not exist: the input needs fixing, and
/// re-running as it is cannot help.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Unknown {
    pub input: &'static str,
    /// `branch` or `snapshot`.
    pub kind: &'static str,
    pub message: String,
}

/// What fixes `cause`, when only a setting does.
pub fn fix_for(cause: &anyhow::Error) -> Option<Fix> {
    if let Some(u) = cause.chain().find_map(|c| c.downcast_ref::<Unknown>()) {
        return Some(Fix::Named {
            input: u.input,
            kind: u.kind,
        });
    }
    Some(match crate::ctx::neon_error(cause)? {
        NeonError::Unauthorized { .. } => Fix::ApiKey,
        NeonError::ProjectNotFound(_) => Fix::Project,
        NeonError::Unreachable { .. } => Fix::Host,
        NeonError::RateLimitedPastTimeout { until, .. } => Fix::WaitUntil(*until),
        _ => return None,
    })
}

/// The next step for a fix, naming settings as the user gives them (`api_key:` as an Action,
/// `--api-key` on the command line). Only a rate limit advises a re-run: the others fail the
/// same way until the setting changes.
pub fn advice(config: &Config, fix: &Fix) -> String {
    match fix {
        Fix::ApiKey => format!(
            "check {}: it must be a Neon API key of the organisation that owns project `{}`",
            config.input("api_key"),
            config.project_id
        ),
        Fix::Project => format!(
            "check {} (`{}`) and {} (`{}`)",
            config.input("project_id"),
            config.project_id,
            config.input("api_host"),
            config.api_host
        ),
        Fix::Host => format!(
            "check {} (`{}`): the host must be reachable from the runner",
            config.input("api_host"),
            config.api_host
        ),
        Fix::WaitUntil(until) => format!(
            "Neon accepts requests again at {until}: re-run after that, or raise {}",
            config.input("timeout")
        ),
        Fix::Named { input, kind } => format!(
            "set {} to the name or id of an existing {kind}",
            config.input(input)
        ),
    }
}

/// A failure's one line as printed, with the advice it left to the mode.
pub fn error_line(config: &Config, failure: &Failure) -> String {
    match &failure.fix {
        Some(fix) => format!("{}; {}", failure.message, advice(config, fix)),
        None => failure.message.clone(),
    }
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
    use crate::config::Mode;
    use crate::neon::ApiError;

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
        assert_eq!(error.fix, None);
        assert_eq!(
            error_line(&config(Mode::Action), &error),
            "could not create `x`: Create preview branch: conflict: branch exists; production is not affected; re-run the job"
        );
    }

    fn config(mode: Mode) -> Config {
        let raw = crate::config::RawInputs {
            api_key: Some(crate::secret::Secret::new("napi_k")),
            project_id: Some("proj-1".into()),
            api_host: Some("http://neon.test/api/v2".into()),
            ..Default::default()
        };
        Config::from_raw(raw, mode).unwrap()
    }

    /// The error line a cause gives as an Action and as a CLI, after a step that says "re-run".
    fn lines(cause: impl Into<anyhow::Error>) -> [String; 2] {
        let cause = cause.into().context("Find preview branch");
        let error = failure("could not look up `x`", &cause, PROD_UNTOUCHED, "re-run");
        [Mode::Action, Mode::Cli].map(|mode| error_line(&config(mode), &error))
    }

    fn api(request_id: Option<&str>) -> ApiError {
        ApiError {
            message: "m".into(),
            request_id: request_id.map(str::to_string),
            ..ApiError::default()
        }
    }

    #[test]
    fn a_setting_to_fix_replaces_the_re_run_in_the_words_of_the_mode() {
        let unauthorized = NeonError::Unauthorized {
            status: 401,
            api: api(Some("req-1")),
        };
        let unreachable = NeonError::Unreachable {
            host: "http://neon.test/api/v2".into(),
            reason: "connection refused".into(),
        };
        let named = Unknown {
            input: "snapshot_id",
            kind: "snapshot",
            message: "no snapshot has the id or name `s`".into(),
        };
        let cases = [
            (
                lines(unauthorized),
                "check `api_key:`: it must be a Neon API key of the organisation that owns project `proj-1`",
                "check `--api-key`: it must be a Neon API key of the organisation that owns project `proj-1`",
            ),
            (
                lines(NeonError::ProjectNotFound(api(None))),
                "check `project_id:` (`proj-1`) and `api_host:` (`http://neon.test/api/v2`)",
                "check `--project-id` (`proj-1`) and `--api-host` (`http://neon.test/api/v2`)",
            ),
            (
                lines(unreachable),
                "check `api_host:` (`http://neon.test/api/v2`): the host must be reachable from the runner",
                "check `--api-host` (`http://neon.test/api/v2`): the host must be reachable from the runner",
            ),
            (
                lines(named),
                "set `snapshot_id:` to the name or id of an existing snapshot",
                "set the `<SNAPSHOT>` argument to the name or id of an existing snapshot",
            ),
        ];
        for ([action, cli], in_action, in_cli) in cases {
            assert!(action.ends_with(&format!("; {in_action}")), "{action}");
            assert!(cli.ends_with(&format!("; {in_cli}")), "{cli}");
            assert!(
                !action.contains("re-run") && !cli.contains("re-run"),
                "{action}"
            );
        }
        let [action, _] = lines(NeonError::Unauthorized {
            status: 403,
            api: api(Some("req-1")),
        });
        assert!(
            action.starts_with("could not look up `x`: Find preview branch: unauthorized (HTTP 403): m (Neon request_id req-1); production is not affected; check"),
            "{action}"
        );
        // Waiting is what helps a rate limit: that advice is to re-run later.
        let limited = NeonError::RateLimitedPastTimeout {
            until: "2026-11-23T10:30:00Z".parse().unwrap(),
            status: 429,
            api: api(None),
        };
        let [action, _] = lines(limited);
        assert!(
            action.ends_with("; Neon accepts requests again at 2026-11-23T10:30:00Z: re-run after that, or raise `timeout:`"),
            "{action}"
        );
    }
}
