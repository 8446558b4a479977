//! The end-to-end harness: runs the built `neon-promote` binary the way GitHub's runner runs a
//! container action (every input as `INPUT_*`, the event payload in a file, `GITHUB_OUTPUT` and
//! `GITHUB_STEP_SUMMARY` files), against the in-process emulator, with real webhook payloads
//! from `@octokit/webhooks-examples`.
#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod golden;
pub mod lifecycle;
pub mod npm;
pub mod routes;
pub mod sdk;
pub mod spec;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use neon_emulator::Emulator;
use serde_json::Value;

/// Every input of SPEC §2 and action.yml (`tests/docs.rs` holds them to each other). The runner passes each one, empty when not given and without a
/// default, so the binary must apply its own defaults to empty values.
pub const INPUTS: &[&str] = &[
    "api_key",
    "project_id",
    "api_host",
    "github_token",
    "command",
    "prod_branch",
    "dev_branch",
    "promotion_branch",
    "preview_branch_name",
    "preview_ttl",
    "database",
    "role",
    "ssl",
    "snapshot_id",
    "rollback_snapshot_ttl",
    "candidate_snapshot_ttl",
    "keep_old_branch",
    "rollback_snapshots_kept",
    "on_destructive_change",
    "on_prod_changed",
    "branch",
    "checkpoint_name",
    "migrations",
    "comment",
    "dry_run",
    "timeout",
    // create-branch-action v6.4's names.
    "branch_name",
    "parent_branch",
    "expires_at",
    "branch_type",
    "masking_rules",
    "suspend_timeout",
    "prisma",
    "get_auth_url",
    "get_data_api_url",
];

pub const API_KEY: &str = "napi_test_secret_key_0123456789";
pub const GITHUB_TOKEN: &str = "ghs_test_token_abcdef";

/// The real example payloads, by event name (`index.json` of @octokit/webhooks-examples).
fn examples() -> &'static Vec<Value> {
    static EXAMPLES: OnceLock<Vec<Value>> = OnceLock::new();
    EXAMPLES.get_or_init(|| {
        let dir = npm::package(
            "@octokit/webhooks-examples",
            "7.6.1",
            "89e6cb1c6345d32e3dd775617fa54effbdc26c859e514898d7728e95e9738280",
        );
        let text = std::fs::read_to_string(dir.join("api.github.com/index.json"))
            .expect("read webhooks index.json");
        serde_json::from_str(&text).expect("parse webhooks index.json")
    })
}

/// A real webhook payload for `event` (and `action`, when given): the first matching example.
pub fn webhook(event: &str, action: Option<&str>) -> Value {
    webhooks(event)
        .into_iter()
        .find(|p| action.is_none() || p["action"].as_str() == action)
        .unwrap_or_else(|| panic!("no {event} {action:?} example in @octokit/webhooks-examples"))
}

/// Every real example payload of one event.
pub fn webhooks(event: &str) -> Vec<Value> {
    examples()
        .iter()
        .filter(|e| e["name"] == event)
        .flat_map(|e| e["examples"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// A pull_request payload made ours: number, head ref and sha set; the rest is GitHub's own.
pub fn pull_request(action: &str, number: u64, head_ref: &str, head_sha: &str) -> Value {
    let mut p = webhook("pull_request", Some(action));
    p["number"] = number.into();
    p["pull_request"]["number"] = number.into();
    p["pull_request"]["head"]["ref"] = head_ref.into();
    p["pull_request"]["head"]["sha"] = head_sha.into();
    // Same-repository PR: head.repo is base.repo.
    p["pull_request"]["head"]["repo"] = p["pull_request"]["base"]["repo"].clone();
    p
}

/// A push payload to `branch` of the repository whose default branch is `default_branch`.
pub fn push(branch: &str, default_branch: &str, after: &str) -> Value {
    let mut p = webhook("push", None);
    p["ref"] = format!("refs/heads/{branch}").into();
    p["after"] = after.into();
    p["deleted"] = false.into();
    p["repository"]["default_branch"] = default_branch.into();
    p
}

/// What one run of the binary left behind.
#[derive(Debug)]
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub outputs: HashMap<String, String>,
    pub summary: String,
}

impl Run {
    /// Every line printed, both streams.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.stdout.lines().chain(self.stderr.lines())
    }

    /// The `::error::` lines (a failed run prints exactly one).
    pub fn errors(&self) -> Vec<&str> {
        self.lines().filter(|l| l.starts_with("::error")).collect()
    }

    pub fn output(&self, name: &str) -> &str {
        self.outputs
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| {
                panic!(
                    "no output {name}; outputs: {:?}\n{}",
                    self.outputs,
                    self.log()
                )
            })
    }

    /// The whole log, for assertion messages.
    pub fn log(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout, self.stderr)
    }

    /// A secret may appear only on `::add-mask::` lines, never in outputs' echo, the summary…
    pub fn assert_secret_hidden(&self, secret: &str) {
        for line in self.lines() {
            assert!(
                line.starts_with("::add-mask::") || !line.contains(secret),
                "secret printed: {line}"
            );
        }
        assert!(!self.summary.contains(secret), "secret in the job summary");
    }
}

/// How to run the binary: the event, its payload, the inputs and extra environment.
pub struct Action {
    pub event_name: String,
    pub payload: Value,
    pub inputs: Vec<(String, String)>,
    pub env: Vec<(String, String)>,
}

impl Action {
    pub fn new(event_name: &str, payload: Value) -> Self {
        Self {
            event_name: event_name.into(),
            payload,
            inputs: Vec::new(),
            env: Vec::new(),
        }
    }

    pub fn input(mut self, name: &str, value: &str) -> Self {
        self.inputs.push((name.into(), value.into()));
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Runs the binary against `emu` as the runner would, and collects what it left behind.
    /// The pull request of a `pull_request` payload is seeded into the GitHub fake first, as
    /// it exists on GitHub when the event fires.
    pub async fn run(self, emu: &Emulator) -> Run {
        seed_pull(emu, &self.payload);
        let dir = tempfile::tempdir().expect("tempdir");
        let event_path = dir.path().join("event.json");
        let output_path = dir.path().join("set_output");
        let summary_path = dir.path().join("step_summary");
        std::fs::write(&event_path, self.payload.to_string()).expect("write event");
        std::fs::write(&output_path, "").expect("create output file");
        std::fs::write(&summary_path, "").expect("create summary file");
        let repository = self.payload["repository"]["full_name"]
            .as_str()
            .unwrap_or("octo-org/octo-repo")
            .to_string();

        let mut given: HashMap<String, String> = HashMap::from([
            ("api_key".into(), API_KEY.into()),
            ("project_id".into(), emu.project_id()),
            ("api_host".into(), emu.neon_api()),
            ("github_token".into(), GITHUB_TOKEN.into()),
        ]);
        given.extend(self.inputs);
        let mut cmd = tokio::process::Command::new(binary());
        cmd.env_clear()
            .current_dir(dir.path())
            .env("GITHUB_ACTIONS", "true")
            .env("CI", "true")
            .env("HOME", dir.path())
            .env("RUNNER_TEMP", dir.path())
            .env("GITHUB_EVENT_NAME", &self.event_name)
            .env("GITHUB_EVENT_PATH", &event_path)
            .env("GITHUB_OUTPUT", &output_path)
            .env("GITHUB_STEP_SUMMARY", &summary_path)
            .env("GITHUB_REPOSITORY", &repository)
            .env("GITHUB_API_URL", emu.github_api())
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_WORKFLOW", "Neon")
            // Deliberately not the PR's head: the binary must read refs from the payload.
            .env("GITHUB_SHA", "0000000000000000000000000000000000000000")
            .env("GITHUB_REF", "refs/pull/0/merge");
        for name in INPUTS {
            cmd.env(format!("INPUT_{}", name.to_uppercase()), "");
        }
        // An input the test gives is passed even when INPUTS lacks it: SPEC §2 may name
        // inputs (`on_prod_changed`, `branch`, …) before action.yml declares them.
        for (name, value) in &given {
            cmd.env(format!("INPUT_{}", name.to_uppercase()), value);
        }
        // Any other `with:` entry (create-branch-action's names) reaches the container too:
        // the runner only warns about inputs that action.yml does not declare.
        for (name, value) in given.iter().filter(|(n, _)| !INPUTS.contains(&n.as_str())) {
            cmd.env(format!("INPUT_{}", name.to_uppercase()), value);
        }
        for (k, v) in self.env {
            cmd.env(k, v);
        }
        let before = emu.requests().len();
        let out = cmd.output().await.expect("run neon-promote");
        // Every request a run sends must be one the pinned Neon OpenAPI spec allows.
        spec::pinned().assert_requests_conform(&emu.requests()[before..]);
        let outputs_text = std::fs::read_to_string(&output_path).expect("read outputs");
        Run {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            outputs: parse_outputs(&outputs_text),
            summary: std::fs::read_to_string(&summary_path).expect("read summary"),
        }
    }
}

/// Makes the payload's pull request exist in the GitHub fake (once; later runs keep it).
pub fn seed_pull(emu: &Emulator, payload: &Value) {
    let (Some(repo), Some(number)) = (
        payload["repository"]["full_name"].as_str(),
        payload["pull_request"]["number"].as_u64(),
    ) else {
        return;
    };
    let pr = &payload["pull_request"];
    emu.with_state(|s| {
        if s.github.pull(repo, number).is_none() {
            let head_ref = pr["head"]["ref"].as_str().unwrap_or_default();
            let head_sha = pr["head"]["sha"].as_str().unwrap_or_default();
            let pull = s.github.add_pull(repo, number, head_ref, head_sha);
            pull.title = pr["title"].as_str().unwrap_or_default().to_string();
        }
    });
}

/// The built binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_neon-promote"))
}

/// Parses a `$GITHUB_OUTPUT` file as the runner does: `name=value` lines and
/// `name<<DELIM` heredocs; a heredoc whose delimiter never comes fails, as it fails the step.
pub fn parse_outputs(text: &str) -> HashMap<String, String> {
    let mut outputs = HashMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let (name, value) = match (line.find("<<"), line.find('=')) {
            (Some(h), eq) if eq.is_none_or(|e| h < e) => {
                let delimiter = &line[h + 2..];
                let mut value = Vec::new();
                loop {
                    match lines.next() {
                        Some(l) if l == delimiter => break,
                        Some(l) => value.push(l),
                        None => panic!("heredoc for {} never closed by {delimiter}", &line[..h]),
                    }
                }
                (&line[..h], value.join("\n"))
            }
            (_, Some(e)) => (&line[..e], line[e + 1..].to_string()),
            _ => panic!("invalid GITHUB_OUTPUT line: {line}"),
        };
        outputs.insert(name.to_string(), value);
    }
    outputs
}

/// The outputs create-branch-action v6.4 documents, and the two that are set only when asked for
/// and enabled.
pub const CBA_OUTPUTS: &[&str] = &[
    "db_url",
    "db_url_pooled",
    "db_host",
    "db_host_pooled",
    "password",
    "branch_id",
    "created",
];
pub const CBA_OPTIONAL_OUTPUTS: &[&str] = &["auth_url", "data_api_url"];
