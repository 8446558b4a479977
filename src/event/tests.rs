//! Routing tests on the real example payloads of `@octokit/webhooks-examples`.

use super::*;
use crate::config::RawInputs;
use serde_json::json;

/// Real payloads from `@octokit/webhooks-examples@7.6.1`, via `scripts/fetch-fixtures.sh`.
fn examples(event: &str) -> Vec<Value> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let index = root
        .join(".cache/npm-pack/_octokit_webhooks-examples-7.6.1/package/api.github.com/index.json");
    if !index.exists() {
        let ok = std::process::Command::new(root.join("scripts/fetch-fixtures.sh"))
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "scripts/fetch-fixtures.sh failed");
    }
    let all: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(index).unwrap()).unwrap();
    let found = all.into_iter().find(|e| e["name"] == event).unwrap();
    found["examples"].as_array().unwrap().clone()
}

fn config(pairs: &[(&str, &str)]) -> Config {
    let mut raw = RawInputs {
        api_key: Some(crate::secret::Secret::new("key")),
        project_id: Some("autumn-fog-12345678".into()),
        ..RawInputs::default()
    };
    for (k, v) in pairs {
        let v = Some(v.to_string());
        match *k {
            "api_key" => raw.api_key = v.map(crate::secret::Secret::new),
            "snapshot_id" => raw.snapshot_id = v,
            "command" => raw.command = v,
            "promotion_branch" => raw.promotion_branch = v,
            "branch_name" => raw.branch_name = v,
            _ => unreachable!(),
        }
    }
    Config::from_raw(raw, crate::config::Mode::Action).unwrap()
}

fn gh(event: &str, payload: Value) -> GitHubContext {
    GitHubContext {
        run_id: None,
        run_attempt: None,
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
                Route::Preview(Some(pr)),
            )
            | ("closed", Route::Cleanup(Some(pr))) => {
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
    let Route::Preview(Some(pr)) =
        route(&config(&[]), Some(&gh("pull_request", p.clone()))).unwrap()
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
                    branch: default[11..].into(),
                    pushed_at: p["repository"]["pushed_at"]
                        .as_i64()
                        .map(|s| jiff::Timestamp::from_second(s).unwrap()),
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
            branch: "main".into(),
            pushed_at: None,
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

#[test]
fn a_literal_branch_name_lets_preview_run_on_any_event() {
    let named = config(&[("command", "preview"), ("branch_name", "ci-nightly")]);
    let schedule = json!({ "schedule": "0 3 * * *" });
    for (event, payload) in [
        ("push", examples("push")[0].clone()),
        (
            "workflow_dispatch",
            examples("workflow_dispatch")[0].clone(),
        ),
        ("schedule", schedule),
    ] {
        let route = route(&named, Some(&gh(event, payload))).unwrap();
        assert_eq!(route, Route::Preview(None), "{event}");
    }
    // Without one, the message names what an Action can set, never a CLI flag.
    let push = examples("push").into_iter().next().unwrap();
    let err = route(&config(&[("command", "preview")]), Some(&gh("push", push))).unwrap_err();
    assert!(
        err.message.contains("`branch_name:`") && !err.message.contains("--"),
        "{}",
        err.message
    );
}
