//! The GitHub context (`GITHUB_*` variables and the event payload) and the one place where an
//! event becomes a command (`command: auto`, SPEC §2). Refs, PR numbers and shas come from the
//! payload, never from `GITHUB_SHA`/`GITHUB_REF`, which name the merge commit under
//! `pull_request` and the default branch under `pull_request_target`.

use serde::Deserialize;
use serde_json::Value;

use crate::config::{CommandName, Config, UsageError};

/// What the runner tells us about the run.
#[derive(Debug, Clone)]
pub struct GithubContext {
    pub event_name: String,
    /// `owner/repo`
    pub repository: String,
    /// `GITHUB_API_URL` (GHES: `https://HOST/api/v3`).
    pub api_url: String,
    pub server_url: String,
    /// The workflow file (from `GITHUB_WORKFLOW_REF`) or name, for `gh workflow run`.
    pub workflow: Option<String>,
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
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Preview(PullRequestInfo),
    Cleanup(PullRequestInfo),
    Promote(Option<PushInfo>),
    Rollback {
        snapshot_id: String,
    },
    RefreshDev,
    Setup,
    Sweep,
    /// Deliberately nothing (exit 0 with a notice).
    Skip {
        reason: String,
    },
}

impl GithubContext {
    /// `None` outside GitHub Actions (no `GITHUB_EVENT_NAME`).
    pub fn from_env() -> Result<Option<GithubContext>, UsageError> {
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
        Ok(Some(GithubContext {
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
pub fn route(config: &Config, gh: Option<&GithubContext>) -> Result<Route, UsageError> {
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
    let pr_info = |command: &str| -> Result<PullRequestInfo, UsageError> {
        pr.as_ref().map(|(_, p)| p.clone()).or_else(|| cli_pull_request(config)).ok_or_else(|| {
            usage(
                "command",
                format!("command `{command}` needs a pull request: run it on a pull_request event, or pass --pr and --ref"),
            )
        })
    };
    match config.command {
        CommandName::Preview => return pr_info("preview").map(Route::Preview),
        CommandName::Cleanup => return pr_info("cleanup").map(Route::Cleanup),
        CommandName::Promote => {
            let push = gh
                .and_then(|g| PushEvent::deserialize(&g.payload).ok())
                .and_then(|p| {
                    p.git_ref.strip_prefix("refs/heads/").map(|b| PushInfo {
                        sha: p.after.clone(),
                        branch: b.to_string(),
                    })
                })
                .or_else(|| cli_push(config));
            return Ok(Route::Promote(push));
        }
        CommandName::Rollback => {
            return snapshot_id(config, gh)
                .map(|snapshot_id| Route::Rollback { snapshot_id })
                .ok_or_else(|| usage("snapshot_id", "command `rollback` needs `snapshot_id`: a snapshot id, a snapshot name, or `latest`"));
        }
        CommandName::RefreshDev => return Ok(Route::RefreshDev),
        CommandName::Setup => return Ok(Route::Setup),
        CommandName::Sweep => return Ok(Route::Sweep),
        CommandName::Auto => {}
    }
    let Some(gh) = gh else {
        return Err(usage(
            "command",
            "command: `auto` needs a GitHub Actions event; outside GitHub name the command (preview, cleanup, promote, rollback, refresh-dev, setup, sweep)",
        ));
    };
    match gh.event_name.as_str() {
        "pull_request" | "pull_request_target" => {
            let (action, pr) = pr.expect("parsed above for pull request events");
            Ok(match action.as_str() {
                "opened" | "reopened" | "synchronize" | "ready_for_review" => Route::Preview(pr),
                "closed" => Route::Cleanup(pr),
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
    Ok(Route::Promote(Some(PushInfo {
        sha: push.after,
        branch: branch.to_string(),
    })))
}

/// The rollback target: the input, else the dispatch's `inputs.snapshot_id`.
fn snapshot_id(config: &Config, gh: Option<&GithubContext>) -> Option<String> {
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawInputs;
    use serde_json::json;

    /// Real payloads from `@octokit/webhooks-examples@7.6.1`, via `scripts/fetch-fixtures.sh`.
    fn examples(event: &str) -> Vec<Value> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let index = root.join(
            ".cache/npm-pack/_octokit_webhooks-examples-7.6.1/package/api.github.com/index.json",
        );
        if !index.exists() {
            let ok = std::process::Command::new(root.join("scripts/fetch-fixtures.sh"))
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "scripts/fetch-fixtures.sh failed");
        }
        let all: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(index).unwrap()).unwrap();
        let found = all.into_iter().find(|e| e["name"] == event).unwrap();
        found["examples"].as_array().unwrap().clone()
    }

    fn config(pairs: &[(&str, &str)]) -> Config {
        let mut raw = RawInputs {
            api_key: Some("key".into()),
            project_id: Some("autumn-fog-12345678".into()),
            ..RawInputs::default()
        };
        for (k, v) in pairs {
            let v = Some(v.to_string());
            match *k {
                "api_key" => raw.api_key = v,
                "snapshot_id" => raw.snapshot_id = v,
                "command" => raw.command = v,
                "promotion_branch" => raw.promotion_branch = v,
                _ => unreachable!(),
            }
        }
        Config::from_raw(raw).unwrap()
    }

    fn gh(event: &str, payload: Value) -> GithubContext {
        GithubContext {
            event_name: event.into(),
            repository: "o/r".into(),
            api_url: "https://api.github.com".into(),
            server_url: "https://github.com".into(),
            workflow: None,
            payload,
        }
    }

    #[test]
    fn every_pull_request_example_routes_by_its_action() {
        for p in examples("pull_request") {
            let action = p["action"].as_str().unwrap().to_string();
            let route = route(&config(&[]), Some(&gh("pull_request", p.clone()))).unwrap();
            let number = p["pull_request"]["number"].as_u64().unwrap();
            match (action.as_str(), &route) {
                (
                    "opened" | "reopened" | "synchronize" | "ready_for_review",
                    Route::Preview(pr),
                )
                | ("closed", Route::Cleanup(pr)) => {
                    assert_eq!(pr.number, number);
                    assert_eq!(pr.head_sha, p["pull_request"]["head"]["sha"]);
                    assert_eq!(pr.head_ref, p["pull_request"]["head"]["ref"]);
                }
                (_, Route::Skip { .. })
                    if ![
                        "opened",
                        "reopened",
                        "synchronize",
                        "ready_for_review",
                        "closed",
                    ]
                    .contains(&action.as_str()) => {}
                _ => panic!("{action} routed to {route:?}"),
            }
        }
    }

    #[test]
    fn a_fork_without_api_key_is_skipped_elsewhere_it_is_an_error() {
        let mut p = examples("pull_request")
            .into_iter()
            .find(|p| p["action"] == "opened")
            .unwrap();
        let no_key = config(&[("api_key", " ")]);
        let same = route(&no_key, Some(&gh("pull_request", p.clone()))).unwrap_err();
        assert_eq!(same.input, "api_key");
        p["pull_request"]["head"]["repo"]["full_name"] = json!("someone/fork");
        let r = route(&no_key, Some(&gh("pull_request", p.clone()))).unwrap();
        assert!(matches!(r, Route::Skip { .. }), "{r:?}");
        let Route::Preview(pr) = route(&config(&[]), Some(&gh("pull_request", p.clone()))).unwrap()
        else {
            panic!()
        };
        assert!(pr.from_fork);
        p["pull_request"]["head"]["repo"] = Value::Null;
        assert!(matches!(
            route(&no_key, Some(&gh("pull_request", p))).unwrap(),
            Route::Skip { .. }
        ));
        assert_eq!(
            route(&no_key, Some(&gh("schedule", json!({}))))
                .unwrap_err()
                .input,
            "api_key"
        );
    }

    #[test]
    fn pushes_promote_only_the_promotion_branch() {
        for p in examples("push") {
            let r = route(&config(&[]), Some(&gh("push", p.clone()))).unwrap();
            let git_ref = p["ref"].as_str().unwrap();
            let default = format!(
                "refs/heads/{}",
                p["repository"]["default_branch"].as_str().unwrap()
            );
            if git_ref == default && p["deleted"] == false {
                assert_eq!(
                    r,
                    Route::Promote(Some(PushInfo {
                        sha: p["after"].as_str().unwrap().into(),
                        branch: default[11..].into()
                    }))
                );
            } else {
                assert!(matches!(r, Route::Skip { .. }), "{git_ref}: {r:?}");
            }
        }
        let push = |git_ref: &str, deleted: bool| json!({"ref": git_ref, "after": "abc", "deleted": deleted, "repository": {"default_branch": "main"}});
        let r = |p| route(&config(&[]), Some(&gh("push", p))).unwrap();
        assert_eq!(
            r(push("refs/heads/main", false)),
            Route::Promote(Some(PushInfo {
                sha: "abc".into(),
                branch: "main".into()
            }))
        );
        assert!(matches!(
            r(push("refs/heads/feature", false)),
            Route::Skip { .. }
        ));
        assert!(matches!(r(push("refs/tags/v1", false)), Route::Skip { .. }));
        assert!(matches!(
            r(push("refs/heads/main", true)),
            Route::Skip { .. }
        ));
        let release = route(
            &config(&[("promotion_branch", "release")]),
            Some(&gh("push", push("refs/heads/release", false))),
        )
        .unwrap();
        assert!(matches!(release, Route::Promote(Some(_))));
    }

    #[test]
    fn dispatch_rolls_back_schedule_sweeps_other_events_are_refused() {
        let mut d = examples("workflow_dispatch").remove(0);
        d["inputs"] = json!({});
        assert_eq!(
            route(&config(&[]), Some(&gh("workflow_dispatch", d.clone())))
                .unwrap_err()
                .input,
            "snapshot_id"
        );
        assert_eq!(
            route(
                &config(&[("snapshot_id", "latest")]),
                Some(&gh("workflow_dispatch", d.clone()))
            )
            .unwrap(),
            Route::Rollback {
                snapshot_id: "latest".into()
            }
        );
        d["inputs"] = json!({"snapshot_id": "snap-1"});
        assert_eq!(
            route(&config(&[]), Some(&gh("workflow_dispatch", d))).unwrap(),
            Route::Rollback {
                snapshot_id: "snap-1".into()
            }
        );
        assert_eq!(
            route(
                &config(&[]),
                Some(&gh("schedule", json!({"schedule": "0 3 * * *"})))
            )
            .unwrap(),
            Route::Sweep
        );
        let issues = examples("issues").remove(0);
        let e = route(&config(&[]), Some(&gh("issues", issues))).unwrap_err();
        assert!(e.message.contains("pull_request"), "{}", e.message);
    }

    #[test]
    fn explicit_commands_outside_github_need_their_settings() {
        assert_eq!(
            route(&config(&[("command", "sweep")]), None).unwrap(),
            Route::Sweep
        );
        assert_eq!(
            route(&config(&[("command", "preview")]), None)
                .unwrap_err()
                .input,
            "command"
        );
        assert_eq!(route(&config(&[]), None).unwrap_err().input, "command");
    }
}
