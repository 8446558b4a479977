//! What the promotion-lifecycle tests share (`promote.rs`, `rollback.rs`, `refresh_dev.rs`,
//! `setup.rs`, `sweep.rs`, `dry_run.rs`): the emulator they start, the events GitHub sends
//! (`push`, `workflow_dispatch`), running one command, and reading back what the emulator's
//! branches and snapshots hold afterwards (every branch carries a data tag, so a test can check
//! what production actually holds).

use std::time::Duration;

use neon_emulator::{Api, Emulator, LoggedRequest, Options, Seed};
use serde_json::{Value, json};

use super::{Action, Run};

pub const SHA: &str = "ab12cd34ef567890ab12cd34ef567890ab12cd34";
pub const PR: u64 = 42;

/// The demo seed (production and dev) with operations that take 30 ms.
pub fn options() -> Options {
    Options {
        seed: Seed::Demo,
        op_duration: Duration::from_millis(30),
        ..Options::default()
    }
}

pub async fn emulator() -> Emulator {
    Emulator::start(options()).await
}

pub fn push(sha: &str) -> Value {
    super::push("main", "main", sha)
}

pub fn repo() -> String {
    push(SHA)["repository"]["full_name"]
        .as_str()
        .expect("repository.full_name")
        .to_string()
}

/// PR `number` merged by `sha`, as GitHub has it when the push event fires.
pub fn merge(emu: &Emulator, number: u64, sha: &str) {
    emu.with_state(|s| {
        s.github
            .add_pull(&repo(), number, "feature/x", "0123456789abcdef");
        s.github.merge_pull(&repo(), number, sha);
    });
}

pub async fn promote(emu: &Emulator, sha: &str) -> Run {
    Action::new("push", push(sha)).run(emu).await
}

/// A `workflow_dispatch` of the same repository, with `snapshot_id` among its inputs.
pub fn dispatch(snapshot: &str) -> Value {
    let mut p = super::webhook("workflow_dispatch", None);
    p["repository"] = push(SHA)["repository"].clone();
    p["inputs"] = json!({ "snapshot_id": snapshot });
    p
}

pub async fn rollback(emu: &Emulator, snapshot: &str) -> Run {
    Action::new("workflow_dispatch", dispatch(snapshot))
        .input("snapshot_id", snapshot)
        .run(emu)
        .await
}

pub async fn command(emu: &Emulator, name: &str) -> Run {
    Action::new("workflow_dispatch", dispatch(""))
        .input("command", name)
        .run(emu)
        .await
}

pub fn ok(run: &Run) {
    assert_eq!(run.status, 0, "{}", run.log());
    assert!(run.errors().is_empty(), "{}", run.log());
}

/// The one `::error::` line of a run that failed at run time.
pub fn failed(run: &Run) -> String {
    assert_eq!(run.status, 1, "{}", run.log());
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{}", run.log());
    errors[0].to_string()
}

pub fn data(emu: &Emulator, branch: &str) -> String {
    emu.with_state(|s| s.data_of(branch))
        .unwrap_or_else(|| panic!("no branch {branch}"))
}

pub fn id_of(emu: &Emulator, branch: &str) -> String {
    emu.with_state(|s| s.branch_by_name(branch).map(|b| b.id.clone()))
        .unwrap_or_else(|| panic!("no branch {branch}"))
}

pub fn exists(emu: &Emulator, branch: &str) -> bool {
    emu.with_state(|s| s.branch_by_name(branch).is_some())
}

/// The id of the pre-promotion (rollback) snapshot a promotion took.
pub fn rollback_point(emu: &Emulator) -> String {
    emu.with_state(|s| {
        s.snapshots
            .iter()
            .find(|s| s.name.contains("pre-promotion"))
            .map(|s| s.id.clone())
    })
    .expect("the rollback point")
}

pub fn snapshot_names(emu: &Emulator) -> Vec<String> {
    emu.with_state(|s| s.snapshots.iter().map(|s| s.name.clone()).collect())
}

/// The Neon requests that change something, from the `from`-th request of the log on.
pub fn mutations(emu: &Emulator, from: usize) -> Vec<LoggedRequest> {
    emu.requests()
        .into_iter()
        .skip(from)
        .filter(|r| r.api == Api::Neon && r.is_mutation())
        .collect()
}

/// The requests as (method, path) pairs, to compare with [`call`]s.
pub fn shape(calls: &[LoggedRequest]) -> Vec<(String, String)> {
    calls
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect()
}

pub fn call(method: &str, path: String) -> (String, String) {
    (method.to_string(), path)
}

/// The project's path in the Neon API, which every call's path starts with.
pub fn project(emu: &Emulator) -> String {
    format!("/api/v2/projects/{}", emu.project_id())
}

/// dev holds `dev-v2` and PR 42 was merged by `SHA`: what a promotion starts from.
pub async fn ready_to_promote() -> Emulator {
    let emu = emulator().await;
    emu.with_state(|s| s.set_data("dev", "dev-v2"));
    merge(&emu, PR, SHA);
    emu
}
