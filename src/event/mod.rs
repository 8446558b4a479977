//! The GitHub context (`GITHUB_*` variables and the event payload) and the one place where an
//! event becomes a command (`command: auto`, SPEC §2). Refs, PR numbers and shas come from the
//! payload, never from `GITHUB_SHA`/`GITHUB_REF`, which name the merge commit under
//! `pull_request` and the default branch under `pull_request_target`.

use serde::Deserialize;
use serde_json::Value;

use crate::config::{CommandName, Config, Mode, UsageError};
use crate::naming::WorkflowRun;

/// What the runner tells us about the run.
#[derive(Debug, Clone)]
pub struct GitHubContext {
    pub event_name: String,
    /// `owner/repo`
    pub repository: String,
    /// `GITHUB_API_URL` (GHES: `https://HOST/api/v3`).
    pub api_url: String,
    pub server_url: String,
    /// The workflow file (from `GITHUB_WORKFLOW_REF`) or name, for `gh workflow run`.
    pub workflow: Option<String>,
    /// `GITHUB_RUN_ID`: the same for every attempt of a run, so a re-run can recognise what
    /// its first attempt did.
    pub run_id: Option<u64>,
    /// `GITHUB_RUN_ATTEMPT`: 1, then 2 for the first re-run, and so on.
    pub run_attempt: Option<u32>,
    pub payload: Value,
}

/// A pull request, as the event payload (or the CLI) gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestInfo {
    pub number: u64,
    pub head_ref: String,
    pub head_sha: String,
    pub title: String,
    pub merged: bool,
    /// From a fork (or Dependabot): no secrets and a read-only token under `pull_request`.
    pub from_fork: bool,
}

/// A push to the promotion branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushInfo {
    /// The pushed commit (`after`).
    pub sha: String,
    pub branch: String,
    /// When GitHub took the push (`repository.pushed_at`): a production replaced after it by
    /// a change this run cannot attribute to an older run must not be undone.
    pub pushed_at: Option<jiff::Timestamp>,
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `None`: no pull request, a literal `branch_name` names the branch.
    Preview(Option<PullRequestInfo>),
    Cleanup(Option<PullRequestInfo>),
    Diff(Option<PullRequestInfo>),
    Promote(Option<PushInfo>),
    Rollback {
        snapshot_id: String,
    },
    RefreshDev,
    Setup,
    Sweep,
    Connect,
    Checkpoint {
        sha: Option<String>,
    },
    /// Deliberately nothing (exit 0 with a notice).
    Skip {
        reason: String,
    },
}

impl Route {
    /// The command this route runs; `None` for a skip.
    pub fn command(&self) -> Option<CommandName> {
        Some(match self {
            Route::Preview(_) => CommandName::Preview,
            Route::Cleanup(_) => CommandName::Cleanup,
            Route::Diff(_) => CommandName::Diff,
            Route::Promote(_) => CommandName::Promote,
            Route::Rollback { .. } => CommandName::Rollback,
            Route::RefreshDev => CommandName::RefreshDev,
            Route::Setup => CommandName::Setup,
            Route::Sweep => CommandName::Sweep,
            Route::Connect => CommandName::Connect,
            Route::Checkpoint { .. } => CommandName::Checkpoint,
            Route::Skip { .. } => return None,
        })
    }
}

impl GitHubContext {
    /// The run and attempt, for snapshot names; `None` without `GITHUB_RUN_ID`.
    pub fn workflow_run(&self) -> Option<WorkflowRun> {
        Some(WorkflowRun {
            id: self.run_id?,
            attempt: self.run_attempt.unwrap_or(1),
        })
    }

    /// `None` outside GitHub Actions (no `GITHUB_EVENT_NAME`).
    pub fn from_env() -> Result<Option<GitHubContext>, UsageError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let Some(event_name) = var("GITHUB_EVENT_NAME") else {
            return Ok(None);
        };
        let payload = match var("GITHUB_EVENT_PATH") {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    usage(
                        "GITHUB_EVENT_PATH",
                        format!("cannot read the event payload {path}: {e}"),
                    )
                })?;
                serde_json::from_str(&text).map_err(|e| {
                    usage(
                        "GITHUB_EVENT_PATH",
                        format!("the event payload {path} is not JSON: {e}"),
                    )
                })?
            }
            None => Value::Null,
        };
        let workflow = var("GITHUB_WORKFLOW_REF")
            .and_then(|r| {
                let path = r.split('@').next()?;
                path.rsplit('/').next().map(str::to_string)
            })
            .or_else(|| var("GITHUB_WORKFLOW"));
        let repository = var("GITHUB_REPOSITORY")
            .or_else(|| {
                payload["repository"]["full_name"]
                    .as_str()
                    .map(str::to_string)
            })
            .unwrap_or_default();
        Ok(Some(GitHubContext {
            run_id: var("GITHUB_RUN_ID").and_then(|id| id.parse().ok()),
            run_attempt: var("GITHUB_RUN_ATTEMPT").and_then(|n| n.parse().ok()),
            event_name,
            repository,
            api_url: var("GITHUB_API_URL")
                .unwrap_or_else(|| "https://api.github.com".into())
                .trim_end_matches('/')
                .to_string(),
            server_url: var("GITHUB_SERVER_URL")
                .unwrap_or_else(|| "https://github.com".into())
                .trim_end_matches('/')
                .to_string(),
            workflow,
            payload,
        }))
    }

    fn is_pull_request(&self) -> bool {
        matches!(
            self.event_name.as_str(),
            "pull_request" | "pull_request_target"
        )
    }
}

fn usage(input: &str, message: impl Into<String>) -> UsageError {
    UsageError {
        input: input.into(),
        message: message.into(),
    }
}

#[derive(Deserialize)]
struct PullRequestEvent {
    action: String,
    pull_request: PullRequest,
}

#[derive(Deserialize)]
struct PullRequest {
    number: u64,
    #[serde(default)]
    title: String,
    #[serde(default)]
    merged: Option<bool>,
    #[serde(default)]
    merged_at: Option<String>,
    head: Side,
    base: Side,
    #[serde(default)]
    user: Option<User>,
}

#[derive(Deserialize)]
struct Side {
    #[serde(rename = "ref")]
    git_ref: String,
    #[serde(default)]
    sha: String,
    #[serde(default)]
    repo: Option<Repo>,
}

#[derive(Deserialize)]
struct Repo {
    full_name: String,
}

#[derive(Deserialize)]
struct User {
    login: String,
}

#[derive(Deserialize)]
struct PushEvent {
    #[serde(rename = "ref")]
    git_ref: String,
    after: String,
    #[serde(default)]
    deleted: bool,
    #[serde(default)]
    repository: Option<PushRepo>,
}

#[derive(Deserialize)]
struct PushRepo {
    #[serde(default)]
    default_branch: Option<String>,
    /// Unix seconds in push payloads (an RFC 3339 string in others).
    #[serde(default)]
    pushed_at: Option<Value>,
}

/// `repository.pushed_at` as a time: Unix seconds, or RFC 3339 text.
fn pushed_at(value: &Value) -> Option<jiff::Timestamp> {
    match value {
        Value::Number(n) => jiff::Timestamp::from_second(n.as_i64()?).ok(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn pull_request_info(payload: &Value) -> Result<(String, PullRequestInfo), UsageError> {
    let event = PullRequestEvent::deserialize(payload).map_err(|e| {
        usage(
            "event",
            format!("the pull_request payload is not one GitHub sends: {e}"),
        )
    })?;
    let pr = event.pull_request;
    let head_repo = pr.head.repo.as_ref().map(|r| r.full_name.as_str());
    let base_repo = pr.base.repo.as_ref().map(|r| r.full_name.as_str());
    let dependabot = pr
        .user
        .as_ref()
        .is_some_and(|u| u.login == "dependabot[bot]")
        || payload["sender"]["login"] == "dependabot[bot]";
    Ok((
        event.action,
        PullRequestInfo {
            number: pr.number,
            head_ref: pr.head.git_ref,
            head_sha: pr.head.sha,
            title: pr.title,
            merged: pr.merged.unwrap_or(false) || pr.merged_at.is_some(),
            from_fork: head_repo.is_none() || head_repo != base_repo || dependabot,
        },
    ))
}

/// The event → command mapping of SPEC §2, and explicit `command:` values.
pub fn route(config: &Config, gh: Option<&GitHubContext>) -> Result<Route, UsageError> {
    let pr = match gh.filter(|g| g.is_pull_request()) {
        Some(g) => Some(pull_request_info(&g.payload)?),
        None => None,
    };
    // Forks get no secrets under `pull_request`: that is a skip, not a misconfiguration.
    if config.api_key.is_empty() {
        let fork = gh.is_some_and(|g| g.event_name == "pull_request")
            && pr.as_ref().is_some_and(|(_, p)| p.from_fork);
        if fork {
            return Ok(Route::Skip {
                reason: "this pull request comes from a fork or Dependabot, which get no secrets under `pull_request`: no preview branch (api_key is empty)".into(),
            });
        }
        return Err(usage(
            "api_key",
            "api_key: required; pass your Neon API key, e.g. `api_key: ${{ secrets.NEON_API_KEY }}`",
        ));
    }
    if config.project_id.is_empty() {
        return Err(usage(
            "project_id",
            "project_id: required; pass your Neon project id (Settings → General in the Neon Console)",
        ));
    }
    let pr = pr.map(|(action, p)| (action, Some(p)));
    let named = config.branch_name.is_some();
    let target = |command: CommandName| -> Result<Option<PullRequestInfo>, UsageError> {
        let found = pr
            .as_ref()
            .and_then(|(_, p)| p.clone())
            .or_else(|| cli_pull_request(config));
        if found.is_some() || named {
            return Ok(found);
        }
        let how = match config.mode {
            Mode::Action => "run it on a pull_request event, or give `branch_name:`",
            Mode::Cli => "pass --pr (and --ref), or --branch-name",
        };
        Err(usage(
            "command",
            format!("command `{}` needs a pull request: {how}", command.as_str()),
        ))
    };
    if let Some(command) = config.command {
        return Ok(match command {
            CommandName::Preview => Route::Preview(target(command)?),
            CommandName::Cleanup => Route::Cleanup(target(command)?),
            CommandName::Diff => Route::Diff(target(command)?),
            CommandName::Promote => Route::Promote(
                gh.and_then(|g| push_info(&g.payload)).or_else(|| cli_push(config)),
            ),
            CommandName::Rollback => Route::Rollback {
                snapshot_id: snapshot_id(config, gh).ok_or_else(|| {
                    usage("snapshot_id", "command `rollback` needs `snapshot_id`: a snapshot id, a snapshot name, or `latest`")
                })?,
            },
            CommandName::RefreshDev => Route::RefreshDev,
            CommandName::Setup => Route::Setup,
            CommandName::Sweep => Route::Sweep,
            CommandName::Connect => Route::Connect,
            CommandName::Checkpoint => Route::Checkpoint {
                sha: gh
                    .and_then(|g| g.payload["after"].as_str().or(g.payload["pull_request"]["head"]["sha"].as_str()))
                    .map(str::to_string)
                    .or_else(|| config.sha.clone()),
            },
        });
    }
    let Some(gh) = gh else {
        return Err(usage(
            "command",
            "command: `auto` needs a GitHub Actions event; outside GitHub name the command (preview, cleanup, promote, rollback, refresh-dev, setup, sweep, diff, connect, checkpoint)",
        ));
    };
    match gh.event_name.as_str() {
        "pull_request" | "pull_request_target" => {
            let (action, pr) = pr.expect("parsed above for pull request events");
            let pr = pr.expect("a pull request event has one");
            Ok(match action.as_str() {
                "opened" | "reopened" | "synchronize" | "ready_for_review" => Route::Preview(Some(pr)),
                "closed" => Route::Cleanup(Some(pr)),
                other => Route::Skip {
                    reason: format!("pull request action `{other}` needs no Neon change"),
                },
            })
        }
        "push" => route_push(config, &gh.payload),
        "workflow_dispatch" => snapshot_id(config, Some(gh))
            .map(|snapshot_id| Route::Rollback { snapshot_id })
            .ok_or_else(|| {
                usage(
                    "snapshot_id",
                    "workflow_dispatch runs a rollback and needs `snapshot_id` (a snapshot id, a snapshot name, or `latest`): set the `snapshot_id` input, or give the workflow an input named snapshot_id; for other commands set `command`",
                )
            }),
        "schedule" => Ok(Route::Sweep),
        other => Err(usage(
            "event",
            format!(
                "event `{other}` is not supported with command `auto`: use pull_request or pull_request_target (previews), push (promotion), workflow_dispatch (rollback) or schedule (sweep), or set `command`"
            ),
        )),
    }
}

fn route_push(config: &Config, payload: &Value) -> Result<Route, UsageError> {
    let push = PushEvent::deserialize(payload).map_err(|e| {
        usage(
            "event",
            format!("the push payload is not one GitHub sends: {e}"),
        )
    })?;
    let Some(branch) = push.git_ref.strip_prefix("refs/heads/") else {
        return Ok(Route::Skip {
            reason: format!(
                "`{}` is not a branch push: nothing to promote",
                push.git_ref
            ),
        });
    };
    if push.deleted {
        return Ok(Route::Skip {
            reason: format!("branch `{branch}` was deleted: nothing to promote"),
        });
    }
    let promotion = config
        .promotion_branch
        .clone()
        .or_else(|| push.repository.and_then(|r| r.default_branch))
        .unwrap_or_else(|| "main".into());
    if branch != promotion {
        return Ok(Route::Skip {
            reason: format!(
                "a push to `{branch}`, not to the promotion branch `{promotion}`: nothing to promote"
            ),
        });
    }
    Ok(Route::Promote(push_info(payload)))
}

/// The pushed commit of a `push` payload to a branch.
fn push_info(payload: &Value) -> Option<PushInfo> {
    let push = PushEvent::deserialize(payload).ok()?;
    let branch = push.git_ref.strip_prefix("refs/heads/")?.to_string();
    Some(PushInfo {
        sha: push.after,
        branch,
        pushed_at: push
            .repository
            .and_then(|r| r.pushed_at)
            .as_ref()
            .and_then(pushed_at),
    })
}

/// The rollback target: the input, else the dispatch's `inputs.snapshot_id`.
fn snapshot_id(config: &Config, gh: Option<&GitHubContext>) -> Option<String> {
    config.snapshot_id.clone().or_else(|| {
        gh.and_then(|g| g.payload["inputs"]["snapshot_id"].as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    })
}

/// Outside GitHub: the pull request from `--pr`, `--ref`, `--sha`.
fn cli_pull_request(config: &Config) -> Option<PullRequestInfo> {
    Some(PullRequestInfo {
        number: config.pr?,
        head_ref: config.git_ref.clone().unwrap_or_default(),
        head_sha: config.sha.clone().unwrap_or_default(),
        title: String::new(),
        merged: false,
        from_fork: false,
    })
}

/// Outside GitHub: the commit being promoted, from `--sha`.
fn cli_push(config: &Config) -> Option<PushInfo> {
    Some(PushInfo {
        sha: config.sha.clone()?,
        branch: config.git_ref.clone().unwrap_or_default(),
        pushed_at: None,
    })
}

#[cfg(test)]
mod tests;
