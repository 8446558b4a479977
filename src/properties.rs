//! SPEC §5: config and event parsing never panic, on any input. Every setting is drawn from
//! values a user might type (and any text at all), every payload from JSON shaped like GitHub's
//! (and any JSON at all). A rejected setting is a usage error (exit 2) that names the setting
//! the way the mode spells it.
//!
//! `cargo test` runs 256 cases a property (`PROPTEST_CASES` to change); the long run, `cargo
//! test --release --lib properties -- --ignored`, at least a million.

use jiff::Timestamp;
use proptest::prelude::*;
use proptest::test_runner::{Config as Cases, TestRunner};
use serde_json::{Map, Value};

use crate::config::{Config, Mode, RawInputs};
use crate::event::{GitHubContext, route};
use crate::secret::Secret;

/// Values users type, values at the edges, and anything at all.
fn value() -> impl Strategy<Value = Option<String>> {
    let typed = prop::sample::select(vec![
        "",
        " ",
        "true",
        "FALSE",
        "yes",
        "0",
        "-1",
        "1",
        "3",
        "604800",
        "604801",
        "7d",
        "30d",
        "31d",
        "12h",
        "30m",
        "90s",
        "none",
        "auto",
        "preview",
        "promote",
        "rollback",
        "refresh_dev",
        "refresh-dev",
        "setup",
        "sweep",
        "diff",
        "connect",
        "checkpoint",
        "latest",
        "warn",
        "fail",
        "ignore",
        "require",
        "omit",
        "schema-only",
        "default",
        "2026-12-01T00:00:00Z",
        "2020-01-01T00:00:00Z",
        "2099-01-01T00:00:00Z",
        "preview/pr-{pr}-{ref}",
        "{pr}",
        "{sha}{ref}",
        "{date}",
        "[]",
        "{}",
        "[{}]",
        "null",
        "https://console.neon.tech/api/v2",
        "http://127.0.0.1:1",
        "not a url",
        "99999999999999999999d",
        "18446744073709551616",
        "1e9",
        "7 d",
        "ẞ-名前-🚀",
    ]);
    prop_oneof![
        2 => Just(None),
        4 => typed.prop_map(|v| Some(v.to_string())),
        2 => any::<String>().prop_map(Some),
        1 => "[ \t\n]{0,2}[0-9]{1,25}[smhd ]{0,2}".prop_map(Some),
    ]
}

fn raw() -> impl Strategy<Value = RawInputs> {
    // One value per setting, taken in field order (struct fields are evaluated in order).
    prop::collection::vec(value(), 39).prop_map(|values| {
        let mut values = values.into_iter();
        let mut next = || values.next().flatten();
        RawInputs {
            api_key: next().map(Secret::new),
            project_id: next(),
            api_host: next(),
            github_token: next().map(Secret::new),
            repo: next(),
            command: next(),
            prod_branch: next(),
            dev_branch: next(),
            promotion_branch: next(),
            preview_branch_name: next(),
            preview_ttl: next(),
            database: next(),
            role: next(),
            ssl: next(),
            snapshot_id: next(),
            rollback_snapshot_ttl: next(),
            candidate_snapshot_ttl: next(),
            keep_old_branch: next(),
            rollback_snapshots_kept: next(),
            on_destructive_change: next(),
            on_prod_changed: next(),
            branch: next(),
            checkpoint_name: next(),
            comment: next(),
            dry_run: next(),
            timeout: next(),
            branch_name: next(),
            parent_branch: next(),
            expires_at: next(),
            branch_type: next(),
            masking_rules: next(),
            suspend_timeout: next(),
            prisma: next(),
            get_auth_url: next(),
            get_data_api_url: next(),
            pr: next(),
            git_ref: next(),
            sha: next(),
            migrations: next(),
        }
    })
}

/// JSON shaped like a webhook payload: GitHub's keys, any values, any depth up to four.
fn payload() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        8 => prop::sample::select(vec![
            "action", "pull_request", "number", "head", "base", "ref", "sha", "repo",
            "full_name", "merged", "merged_at", "title", "user", "login", "after", "before",
            "deleted", "created", "repository", "default_branch", "inputs", "snapshot_id",
            "fork", "id",
        ])
        .prop_map(str::to_string),
        1 => any::<String>(),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            "opened",
            "closed",
            "synchronize",
            "reopened",
            "ready_for_review",
            "edited",
            "refs/heads/main",
            "refs/tags/v1",
            "main",
            "o/r",
            "x/y",
            "dependabot[bot]",
            "0000000000000000000000000000000000000000",
            "latest",
            "",
        ])
        .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn event_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(vec![
            "pull_request", "pull_request_target", "push", "workflow_dispatch", "schedule",
            "issue_comment", "release", "merge_group",
        ])
        .prop_map(str::to_string),
        1 => any::<String>(),
    ]
}

fn now() -> Timestamp {
    "2026-11-30T12:00:00Z".parse().expect("a time")
}

/// Every usage error names its setting as the mode spells it.
fn check_config(raw: RawInputs, mode: Mode) -> Result<Option<Config>, TestCaseError> {
    match Config::from_raw_at(raw, mode, now()) {
        Ok(config) => {
            prop_assert!(config.rollback_snapshots_kept >= 1);
            Ok(Some(config))
        }
        Err(errors) => {
            prop_assert!(!errors.is_empty());
            for e in &errors {
                let named = match mode {
                    Mode::Action => format!("`{}:`", e.input),
                    Mode::Cli => format!("`--{}`", e.input.replace('_', "-")),
                };
                prop_assert!(
                    e.message.starts_with(&named),
                    "{:?} does not start with {named}",
                    e.message
                );
            }
            Ok(None)
        }
    }
}

fn config_property(runner: &mut TestRunner) {
    let modes = prop_oneof![Just(Mode::Action), Just(Mode::Cli)];
    runner
        .run(&(raw(), modes), |(raw, mode)| {
            check_config(raw, mode).map(drop)
        })
        .expect("config parsing");
}

fn route_property(runner: &mut TestRunner) {
    let valid = |mut raw: RawInputs| {
        raw.api_key = Some(Secret::new("napi_key"));
        raw.project_id = Some("autumn-fog-12345678".into());
        raw
    };
    let cases = (raw().prop_map(valid), event_name(), payload());
    runner
        .run(&cases, |(raw, event_name, payload)| {
            let Some(config) = check_config(raw, Mode::Action)? else {
                return Ok(());
            };
            let gh = GitHubContext {
                event_name,
                repository: "o/r".into(),
                api_url: "https://api.github.com".into(),
                server_url: "https://github.com".into(),
                workflow: None,
                run_id: Some(7),
                run_attempt: Some(1),
                payload,
            };
            if let Err(e) = route(&config, Some(&gh)) {
                prop_assert!(!e.input.is_empty() && !e.message.is_empty(), "{e:?}");
            }
            Ok(())
        })
        .expect("event routing");
}

fn runner() -> TestRunner {
    TestRunner::new(Cases::default())
}

#[test]
fn config_parsing_never_panics_and_names_what_it_refuses() {
    config_property(&mut runner());
}

#[test]
fn event_routing_never_panics_on_any_payload() {
    route_property(&mut runner());
}

#[test]
#[ignore = "the long run: cargo test --release --lib properties -- --ignored"]
fn a_million_cases() {
    let cases = Cases {
        cases: Cases::default().cases.max(1_000_000),
        ..Cases::default()
    };
    config_property(&mut TestRunner::new(cases.clone()));
    route_property(&mut TestRunner::new(cases));
}
