//! Promotion, rollback, refresh-dev, setup and sweep end to end: the built binary, run the way
//! GitHub's runner runs the action (real `push` / `workflow_dispatch` payloads, `INPUT_*`,
//! output and summary files), against the emulator, whose branches carry a data tag so every
//! test can check what production actually holds afterwards.

mod support;

use std::time::Duration;

use neon_emulator::state::EndpointType;
use neon_emulator::{Api, Emulator, Fault, LoggedRequest, Options, Seed};
use serde_json::{Value, json};
use support::{Action, Run};

const SHA: &str = "ab12cd34ef567890ab12cd34ef567890ab12cd34";
const SHA2: &str = "cd34ef567890ab12cd34ef567890ab12cd34ef56";
const PR: u64 = 42;

fn options() -> Options {
    Options {
        seed: Seed::Demo,
        op_duration: Duration::from_millis(30),
        ..Options::default()
    }
}

async fn emulator() -> Emulator {
    Emulator::start(options()).await
}

fn push(sha: &str) -> Value {
    support::push("main", "main", sha)
}

fn repo() -> String {
    push(SHA)["repository"]["full_name"]
        .as_str()
        .expect("repository.full_name")
        .to_string()
}

/// PR `number` merged by `sha`, as GitHub has it when the push event fires.
fn merge(emu: &Emulator, number: u64, sha: &str) {
    emu.with_state(|s| {
        s.github
            .add_pull(&repo(), number, "feature/x", "0123456789abcdef");
        s.github.merge_pull(&repo(), number, sha);
    });
}

async fn promote(emu: &Emulator, sha: &str) -> Run {
    Action::new("push", push(sha)).run(emu).await
}

/// A `workflow_dispatch` of the same repository, with `snapshot_id` among its inputs.
fn dispatch(snapshot: &str) -> Value {
    let mut p = support::webhook("workflow_dispatch", None);
    p["repository"] = push(SHA)["repository"].clone();
    p["inputs"] = json!({ "snapshot_id": snapshot });
    p
}

async fn rollback(emu: &Emulator, snapshot: &str) -> Run {
    Action::new("workflow_dispatch", dispatch(snapshot))
        .input("snapshot_id", snapshot)
        .run(emu)
        .await
}

async fn command(emu: &Emulator, name: &str) -> Run {
    Action::new("workflow_dispatch", dispatch(""))
        .input("command", name)
        .run(emu)
        .await
}

fn ok(run: &Run) {
    assert_eq!(run.status, 0, "{}", run.log());
    assert!(run.errors().is_empty(), "{}", run.log());
}

/// The one `::error::` line of a run that failed at run time.
fn failed(run: &Run) -> String {
    assert_eq!(run.status, 1, "{}", run.log());
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{}", run.log());
    errors[0].to_string()
}

fn data(emu: &Emulator, branch: &str) -> String {
    emu.with_state(|s| s.data_of(branch))
        .unwrap_or_else(|| panic!("no branch {branch}"))
}

fn id_of(emu: &Emulator, branch: &str) -> String {
    emu.with_state(|s| s.branch_by_name(branch).map(|b| b.id.clone()))
        .unwrap_or_else(|| panic!("no branch {branch}"))
}

fn exists(emu: &Emulator, branch: &str) -> bool {
    emu.with_state(|s| s.branch_by_name(branch).is_some())
}

/// The id of the pre-promotion (rollback) snapshot a promotion took.
fn rollback_point(emu: &Emulator) -> String {
    emu.with_state(|s| {
        s.snapshots
            .iter()
            .find(|s| s.name.contains("pre-promotion"))
            .map(|s| s.id.clone())
    })
    .expect("the rollback point")
}

fn snapshot_names(emu: &Emulator) -> Vec<String> {
    emu.with_state(|s| s.snapshots.iter().map(|s| s.name.clone()).collect())
}

/// The Neon requests that change something, from the `from`-th request of the log on.
fn mutations(emu: &Emulator, from: usize) -> Vec<LoggedRequest> {
    emu.requests()
        .into_iter()
        .skip(from)
        .filter(|r| r.api == Api::Neon && r.is_mutation())
        .collect()
}

fn shape(calls: &[LoggedRequest]) -> Vec<(String, String)> {
    calls
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect()
}

fn call(method: &str, path: String) -> (String, String) {
    (method.to_string(), path)
}

fn project(emu: &Emulator) -> String {
    format!("/api/v2/projects/{}", emu.project_id())
}

fn pr_comments(emu: &Emulator, number: u64) -> Vec<String> {
    emu.with_state(|s| {
        s.github
            .comments
            .iter()
            .filter(|c| c.issue == number)
            .map(|c| c.body.clone())
            .collect()
    })
}

/// dev holds `dev-v2` and PR 42 was merged by `SHA`: what a promotion starts from.
async fn ready_to_promote() -> Emulator {
    let emu = emulator().await;
    emu.with_state(|s| s.set_data("dev", "dev-v2"));
    merge(&emu, PR, SHA);
    emu
}

#[tokio::test]
async fn promote_makes_the_calls_in_order_and_prod_holds_dev_s_data() {
    let emu = ready_to_promote().await;
    let prod = id_of(&emu, "production");
    let dev = id_of(&emu, "dev");

    let run = promote(&emu, SHA).await;
    ok(&run);
    assert_eq!(run.output("command"), "promote");
    let rollback = run.output("rollback_snapshot_id");
    let candidate = run.output("candidate_snapshot_id");
    let new_prod = run.output("prod_branch_id");
    let p = project(&emu);
    let calls = mutations(&emu, 0);
    assert_eq!(
        shape(&calls),
        vec![
            call("POST", format!("{p}/branches/{prod}/snapshot")),
            call("POST", format!("{p}/branches/{dev}/snapshot")),
            call("POST", format!("{p}/snapshots/{candidate}/restore")),
            call("DELETE", format!("{p}/branches/{prod}")),
            call("DELETE", format!("{p}/snapshots/{candidate}")),
        ]
    );
    let rollback_name = calls[0].query_param("name").expect("name");
    assert!(
        rollback_name.starts_with("prod_snap_")
            && rollback_name.ends_with("_pre-promotion_pr-42_ab12cd3"),
        "{rollback_name}"
    );
    assert!(calls[0].query_param("expires_at").is_some());
    let candidate_name = calls[1].query_param("name").expect("name");
    assert!(
        candidate_name.starts_with("dev_snap_")
            && candidate_name.ends_with("_candidate_pr-42_ab12cd3"),
        "{candidate_name}"
    );
    assert_eq!(
        calls[2].body,
        Some(json!({"target_branch_id": prod, "finalize_restore": true}))
    );

    // Prod has a new id, dev's data and the protection it had; the old branch and the
    // candidate are gone, the rollback point stays.
    assert_eq!(data(&emu, "production"), "dev-v2");
    assert_eq!(id_of(&emu, "production"), new_prod);
    assert_ne!(new_prod, prod);
    assert!(!exists(&emu, "production (old)"));
    emu.with_state(|s| {
        assert_eq!(
            s.snapshot(rollback).map(|s| s.data.as_str()),
            Some("production-v1")
        );
        assert!(s.snapshot(candidate).is_none());
        assert!(s.branch(new_prod).is_some_and(|b| b.default));
    });
    // The merged PR learns the rollback snapshot id.
    assert!(
        pr_comments(&emu, PR).iter().any(|c| c.contains(rollback)),
        "{:?}",
        pr_comments(&emu, PR)
    );
}

#[tokio::test]
async fn rollback_by_id_brings_the_old_data_back_and_can_itself_be_undone() {
    let emu = ready_to_promote().await;
    let promoted = promote(&emu, SHA).await;
    ok(&promoted);
    let rollback_id = promoted.output("rollback_snapshot_id").to_string();
    let prod = id_of(&emu, "production");
    let start = emu.requests().len();

    let run = rollback(&emu, &rollback_id).await;
    ok(&run);
    assert_eq!(run.output("command"), "rollback");
    assert_eq!(data(&emu, "production"), "production-v1");
    assert_eq!(run.output("restored_snapshot_id"), rollback_id);
    let undo = run.output("rollback_snapshot_id");
    let p = project(&emu);
    let calls = mutations(&emu, start);
    assert_eq!(
        shape(&calls),
        vec![
            call("POST", format!("{p}/branches/{prod}/snapshot")),
            call("POST", format!("{p}/snapshots/{rollback_id}/restore")),
            call("DELETE", format!("{p}/branches/{prod}")),
        ]
    );
    assert!(
        calls[0]
            .query_param("name")
            .is_some_and(|n| n.contains("_pre-rollback")),
        "{:?}",
        calls[0].query
    );
    emu.with_state(|s| assert_eq!(s.snapshot(undo).map(|s| s.data.as_str()), Some("dev-v2")));

    // The rollback is reversible with the id it printed.
    ok(&rollback(&emu, undo).await);
    assert_eq!(data(&emu, "production"), "dev-v2");
}

#[tokio::test]
async fn rollback_by_name_and_latest() {
    let emu = ready_to_promote().await;
    let first = promote(&emu, SHA).await;
    ok(&first);
    emu.with_state(|s| s.set_data("dev", "dev-v3"));
    merge(&emu, 43, SHA2);
    let second = promote(&emu, SHA2).await;
    ok(&second);
    assert_eq!(data(&emu, "production"), "dev-v3");

    // `latest`: the newest pre-promotion snapshot, the one before the second promotion.
    let run = rollback(&emu, "latest").await;
    ok(&run);
    assert_eq!(
        run.output("restored_snapshot_id"),
        second.output("rollback_snapshot_id")
    );
    assert_eq!(data(&emu, "production"), "dev-v2");

    // By name: the pre-rollback snapshot just taken does not count as `latest`, and a name works.
    let first_id = first.output("rollback_snapshot_id");
    let first_name = emu.with_state(|s| s.snapshot(first_id).map(|s| s.name.clone()).unwrap());
    let run = rollback(&emu, &first_name).await;
    ok(&run);
    assert_eq!(run.output("restored_snapshot_id"), first_id);
    assert_eq!(data(&emu, "production"), "production-v1");
}

#[tokio::test]
async fn a_rollback_run_again_does_not_restore_twice() {
    let emu = ready_to_promote().await;
    let promoted = promote(&emu, SHA).await;
    ok(&promoted);
    let id = promoted.output("rollback_snapshot_id").to_string();
    let first = rollback(&emu, &id).await;
    ok(&first);
    let start = emu.requests().len();

    let again = rollback(&emu, &id).await;
    ok(&again);
    assert!(
        mutations(&emu, start).is_empty(),
        "{:?}",
        mutations(&emu, start)
    );
    assert!(again.stdout.contains("already restored"), "{}", again.log());
    assert_eq!(data(&emu, "production"), "production-v1");
}

#[tokio::test]
async fn a_promotion_run_again_says_so_and_changes_nothing() {
    let emu = ready_to_promote().await;
    let first = promote(&emu, SHA).await;
    ok(&first);
    emu.with_state(|s| s.set_data("dev", "dev-v3"));
    let start = emu.requests().len();

    let again = promote(&emu, SHA).await;
    ok(&again);
    assert!(
        mutations(&emu, start).is_empty(),
        "{:?}",
        mutations(&emu, start)
    );
    assert!(
        again
            .lines()
            .any(|l| l.starts_with("::notice") && l.contains("already promoted")),
        "{}",
        again.log()
    );
    assert_eq!(
        again.output("rollback_snapshot_id"),
        first.output("rollback_snapshot_id")
    );
    assert_eq!(data(&emu, "production"), "dev-v2");
}

#[tokio::test]
async fn refresh_dev_without_children_replaces_dev_and_deletes_the_old_one() {
    let emu = emulator().await;
    emu.with_state(|s| s.set_data("production", "prod-v5"));
    let dev = id_of(&emu, "dev");

    let run = command(&emu, "refresh-dev").await;
    ok(&run);
    assert_eq!(data(&emu, "dev"), "prod-v5");
    assert_ne!(id_of(&emu, "dev"), dev);
    assert!(!exists(&emu, "dev (old)"));
    assert!(
        !snapshot_names(&emu)
            .iter()
            .any(|n| n.contains("dev-refresh")),
        "{:?}",
        snapshot_names(&emu)
    );
    assert_eq!(data(&emu, "production"), "prod-v5");
}

#[tokio::test]
async fn refresh_dev_keeps_the_old_dev_while_previews_hang_off_it() {
    let emu = emulator().await;
    emu.with_state(|s| s.set_data("production", "prod-v5"));
    let dev = id_of(&emu, "dev");
    let preview =
        emu.with_state(|s| s.insert_branch("preview/pr-7-x", Some(&dev), "dev-v1", false));

    let run = command(&emu, "refresh-dev").await;
    ok(&run);
    assert_eq!(data(&emu, "dev"), "prod-v5");
    assert_eq!(id_of(&emu, "dev (old)"), dev);
    emu.with_state(|s| {
        assert_eq!(
            s.branch(&preview).and_then(|b| b.parent_id.clone()),
            Some(dev.clone())
        )
    });
}

#[tokio::test]
async fn setup_creates_dev_once_and_then_changes_nothing() {
    let emu = Emulator::start(Options {
        seed: Seed::Empty,
        ..options()
    })
    .await;
    emu.with_state(|s| s.set_data("production", "prod-v1"));

    let run = command(&emu, "setup").await;
    ok(&run);
    assert_eq!(run.output("command"), "setup");
    let dev = id_of(&emu, "dev");
    assert_eq!(run.output("dev_branch_id"), dev);
    emu.with_state(|s| {
        let b = s.branch(&dev).unwrap();
        assert!(b.parent_id.is_none(), "dev is a root");
        assert_eq!(b.data, "prod-v1");
        assert!(
            s.endpoints_of(&dev)
                .iter()
                .any(|e| e.kind == EndpointType::ReadWrite)
        );
        assert!(s.branch_by_name("production").unwrap().protected);
        assert!(s.snapshots.is_empty(), "the baseline snapshot is deleted");
    });

    let start = emu.requests().len();
    let again = command(&emu, "setup").await;
    ok(&again);
    assert!(
        mutations(&emu, start).is_empty(),
        "{:?}",
        mutations(&emu, start)
    );
    assert_eq!(id_of(&emu, "dev"), dev);
}

#[tokio::test]
async fn a_failed_prod_snapshot_leaves_prod_untouched() {
    let emu = ready_to_promote().await;
    let prod = id_of(&emu, "production");
    emu.inject(Fault::fail_operation("create_snapshot", "failed", 1));

    let run = promote(&emu, SHA).await;
    let error = failed(&run);
    assert!(
        error.contains("emulated failure of create_snapshot"),
        "{error}"
    );
    assert!(error.contains("untouched"), "{error}");
    assert_eq!(id_of(&emu, "production"), prod);
    assert_eq!(data(&emu, "production"), "production-v1");
    // The broken snapshot was deleted again, so a re-run cannot reuse it.
    assert_eq!(snapshot_names(&emu), vec!["production-seed".to_string()]);

    ok(&promote(&emu, SHA).await);
    assert_eq!(data(&emu, "production"), "dev-v2");
}

#[tokio::test]
async fn a_failed_restore_names_the_rollback_point_and_a_re_run_finishes_with_it() {
    let emu = ready_to_promote().await;
    let prod = id_of(&emu, "production");
    emu.inject(Fault::fail_operation("restore_snapshot", "failed", 1));

    let run = promote(&emu, SHA).await;
    let error = failed(&run);
    let rollback = rollback_point(&emu);
    assert!(error.contains("emulated failure"), "{error}");
    assert!(error.contains("untouched"), "{error}");
    assert!(error.contains(&rollback), "{error}");
    assert_eq!(id_of(&emu, "production"), prod);
    assert_eq!(data(&emu, "production"), "production-v1");

    // The re-run reuses both snapshots: it goes straight to the restore.
    let start = emu.requests().len();
    let again = promote(&emu, SHA).await;
    ok(&again);
    assert_eq!(again.output("rollback_snapshot_id"), rollback);
    let calls = mutations(&emu, start);
    assert!(calls[0].path.ends_with("/restore"), "{:?}", shape(&calls));
    assert_eq!(data(&emu, "production"), "dev-v2");
}

#[tokio::test]
async fn a_poll_that_fails_stops_before_the_restore_and_a_re_run_reuses_the_snapshot() {
    let emu = ready_to_promote().await;
    // The first operation poll is refused for good (a 4xx is not retried).
    emu.inject(Fault::status("GET", "/operations/", 400, 1));

    let run = promote(&emu, SHA).await;
    let error = failed(&run);
    assert!(error.contains("untouched"), "{error}");
    assert_eq!(data(&emu, "production"), "production-v1");
    let taken: Vec<String> = snapshot_names(&emu)
        .into_iter()
        .filter(|n| n.contains("pre-promotion"))
        .collect();
    assert_eq!(taken.len(), 1, "{taken:?}");

    let start = emu.requests().len();
    let again = promote(&emu, SHA).await;
    ok(&again);
    let prod_snapshots = mutations(&emu, start)
        .iter()
        .filter(|r| r.path.ends_with("/snapshot") && r.query.contains("pre-promotion"))
        .count();
    assert_eq!(prod_snapshots, 0, "the rollback point is reused");
    assert_eq!(data(&emu, "production"), "dev-v2");
}

#[tokio::test]
async fn polls_survive_reset_connections() {
    let emu = ready_to_promote().await;
    emu.inject(Fault::reset("GET", "/operations/", 2));
    ok(&promote(&emu, SHA).await);
    assert_eq!(data(&emu, "production"), "dev-v2");
}

#[tokio::test]
async fn a_failed_old_branch_delete_keeps_the_promotion_and_a_re_run_cleans_up() {
    let emu = ready_to_promote().await;
    let prod = id_of(&emu, "production");
    emu.inject(Fault::status("DELETE", "/branches/", 400, 1));

    let run = promote(&emu, SHA).await;
    let error = failed(&run);
    let rollback = rollback_point(&emu);
    assert!(error.contains("succeeded"), "{error}");
    assert!(
        error.contains(&format!("-f snapshot_id={rollback}")),
        "{error}"
    );
    assert_eq!(data(&emu, "production"), "dev-v2");
    assert_eq!(id_of(&emu, "production (old)"), prod);

    let start = emu.requests().len();
    let again = promote(&emu, SHA).await;
    ok(&again);
    let calls = mutations(&emu, start);
    assert_eq!(
        shape(&calls[..1]),
        vec![call("DELETE", format!("{}/branches/{prod}", project(&emu)))]
    );
    assert!(
        calls[1..]
            .iter()
            .all(|r| r.method == "DELETE" && r.path.contains("/snapshots/")),
        "only the candidate snapshot is left to delete: {:?}",
        shape(&calls)
    );
    assert!(!exists(&emu, "production (old)"));
    assert_eq!(data(&emu, "production"), "dev-v2");
}

#[tokio::test]
async fn a_full_snapshot_quota_stops_before_the_restore_and_lists_what_holds_it() {
    // The seed's own snapshot plus our rollback point fill a quota of two.
    let emu = Emulator::start(Options {
        snapshot_quota: 2,
        ..options()
    })
    .await;
    emu.with_state(|s| s.set_data("dev", "dev-v2"));
    let prod = id_of(&emu, "production");

    let run = promote(&emu, SHA).await;
    let error = failed(&run);
    assert!(error.contains("quota"), "{error}");
    assert!(error.contains("production-seed"), "{error}");
    assert!(error.contains("untouched"), "{error}");
    assert_eq!(id_of(&emu, "production"), prod);
    assert_eq!(data(&emu, "production"), "production-v1");
    // The unused rollback point gave its slot back; nobody else's snapshot was touched.
    assert_eq!(snapshot_names(&emu), vec!["production-seed".to_string()]);
    assert!(
        !mutations(&emu, 0)
            .iter()
            .any(|r| r.path.ends_with("/restore"))
    );
}

#[tokio::test]
async fn dry_run_reads_everything_and_changes_nothing() {
    let emu = ready_to_promote().await;
    let run = Action::new("push", push(SHA))
        .input("dry_run", "true")
        .run(&emu)
        .await;
    ok(&run);
    assert_eq!(run.output("command"), "promote");
    assert!(mutations(&emu, 0).is_empty(), "{:?}", mutations(&emu, 0));
    let prod = id_of(&emu, "production");
    assert!(
        run.summary.contains(&format!("branches/{prod}/snapshot")),
        "{}",
        run.summary
    );
    assert_eq!(data(&emu, "production"), "production-v1");
}

/// One of our snapshots as an earlier run would have left it, taken `days_ago`.
fn leftover_snapshot(emu: &Emulator, tag: &str, days_ago: i64, expires_in_days: i64) -> String {
    emu.with_state(|s| {
        let now = s.now();
        let taken = now - jiff::SignedDuration::from_hours(24 * days_ago);
        let source = s.branch_by_name("production").unwrap().id.clone();
        let id = neon_emulator::state::random_id("snap");
        s.snapshots.push(neon_emulator::state::Snapshot {
            id: id.clone(),
            name: format!("{}_{tag}", taken.strftime("prod_snap_%Y-%m-%d_%H-%M-%S")),
            lsn: neon_emulator::state::Lsn(1),
            timestamp: taken.to_string(),
            source_branch_id: source,
            created_at: taken,
            expires_at: Some(now + jiff::SignedDuration::from_hours(24 * expires_in_days)),
            manual: true,
            data: "production-v0".into(),
            ..Default::default()
        });
        id
    })
}

#[tokio::test]
async fn sweep_deletes_what_runs_left_behind_and_nothing_else() {
    let emu = emulator().await;
    let dev = id_of(&emu, "dev");
    let (closed, open, old_prod, old_dev) = emu.with_state(|s| {
        s.github.add_pull(&repo(), 1, "a", "1111111");
        s.github.merge_pull(&repo(), 1, "2222222");
        s.github.add_pull(&repo(), 2, "b", "3333333");
        let old_dev = s.insert_branch("dev (old)", None, "dev-v0", false);
        // A closed PR's preview that hangs off the old dev: both go in one sweep.
        let closed = s.insert_branch("preview/pr-1-a", Some(&old_dev), "dev-v0", false);
        let open = s.insert_branch("preview/pr-2-b", Some(&dev), "dev-v1", false);
        let old_prod = s.insert_branch("production (old) 2", None, "production-v0", false);
        (closed, open, old_prod, old_dev)
    });
    let stale = leftover_snapshot(&emu, "dev-refresh", 3, 1);
    let rollback_point = leftover_snapshot(&emu, "pre-promotion_pr-1_2222222", 3, 27);
    // GitHub sends no webhook for `schedule`: the runner writes `{schedule, repository, …}`.
    let payload = json!({"schedule": "0 3 * * *", "repository": push(SHA)["repository"]});
    let run = Action::new("schedule", payload).run(&emu).await;
    ok(&run);
    assert_eq!(run.output("command"), "sweep");
    emu.with_state(|s| {
        assert!(s.branch(&closed).is_none(), "closed PR's preview deleted");
        assert!(s.branch(&open).is_some(), "open PR's preview kept");
        assert!(
            s.branch(&old_dev).is_none(),
            "(old) emptied by the sweep deleted"
        );
        assert!(
            s.branch(&old_prod).is_none(),
            "(old) without children deleted"
        );
        assert!(s.branch_by_name("production").is_some());
        assert!(s.branch_by_name("dev").is_some());
        assert!(
            s.snapshot(&stale).is_none(),
            "candidate past its TTL deleted"
        );
        assert!(s.snapshot(&rollback_point).is_some(), "rollback point kept");
        assert!(s.snapshots.iter().any(|s| s.name == "production-seed"));
    });
}

#[tokio::test]
async fn protection_stays_on_prod_when_the_restore_does_not_move_it() {
    let emu = Emulator::start(Options {
        restore_moves_protection: false,
        ..options()
    })
    .await;
    emu.with_state(|s| {
        s.set_data("dev", "dev-v2");
        let prod = s.branch_by_name("production").unwrap().id.clone();
        s.branch_mut(&prod).unwrap().protected = true;
    });
    let prod = id_of(&emu, "production");

    let run = promote(&emu, SHA).await;
    ok(&run);
    let new_prod = run.output("prod_branch_id");
    let p = project(&emu);
    let calls = mutations(&emu, 0);
    // Protect the new prod first, unprotect the old one just before deleting it.
    assert_eq!(
        shape(&calls[3..6]),
        vec![
            call("PATCH", format!("{p}/branches/{new_prod}")),
            call("PATCH", format!("{p}/branches/{prod}")),
            call("DELETE", format!("{p}/branches/{prod}")),
        ]
    );
    emu.with_state(|s| assert!(s.branch(new_prod).unwrap().protected));
    assert!(!exists(&emu, "production (old)"));
    assert_eq!(data(&emu, "production"), "dev-v2");
}

/// The binary as a CLI outside Actions (no `GITHUB_*`), promoting `SHA`.
fn cli_promote(emu: &Emulator) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(support::binary());
    cmd.env_clear()
        .env("INPUT_API_KEY", support::API_KEY)
        .env("INPUT_PROJECT_ID", emu.project_id())
        .env("INPUT_API_HOST", emu.neon_api())
        .args(["promote", "--sha", SHA])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd
}

#[tokio::test]
async fn a_promotion_cancelled_during_the_restore_says_so_and_a_re_run_finishes_it() {
    let emu = Emulator::start(Options {
        op_duration: Duration::from_millis(1500),
        ..options()
    })
    .await;
    emu.with_state(|s| s.set_data("dev", "dev-v2"));
    let child = cli_promote(&emu).spawn().expect("spawn neon-promote");
    while !emu.requests().iter().any(|r| r.path.ends_with("/restore")) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = child.id().expect("running") as libc::pid_t;
    // SAFETY: a plain signal to the child this test spawned and still owns.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let out = tokio::time::timeout(Duration::from_secs(7), child.wait_with_output())
        .await
        .expect("stops within the runner's grace period")
        .expect("wait");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{log}");
    let rollback = rollback_point(&emu);
    assert!(log.contains("cancelled"), "{log}");
    assert!(
        log.contains(&format!("neon-promote rollback {rollback}")),
        "{log}"
    );

    // Neon finishes the restore on its own; the re-run sees it done and only cleans up.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let again = cli_promote(&emu).output().await.expect("re-run");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&again.stdout),
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(again.status.code(), Some(0), "{log}");
    assert!(log.contains("already promoted"), "{log}");
    assert_eq!(data(&emu, "production"), "dev-v2");
    assert!(!exists(&emu, "production (old)"), "{log}");
    assert!(
        !snapshot_names(&emu).iter().any(|n| n.contains("candidate")),
        "{:?}",
        snapshot_names(&emu)
    );
}

#[tokio::test]
async fn dry_runs_of_rollback_refresh_dev_and_setup_change_nothing() {
    let emu = ready_to_promote().await;
    ok(&promote(&emu, SHA).await);
    let start = emu.requests().len();
    let prod = id_of(&emu, "production");
    let dev = id_of(&emu, "dev");
    for (name, extra) in [("rollback", "latest"), ("refresh-dev", ""), ("setup", "")] {
        let run = Action::new("workflow_dispatch", dispatch(extra))
            .input("command", name)
            .input("snapshot_id", extra)
            .input("dry_run", "true")
            .run(&emu)
            .await;
        ok(&run);
        assert_eq!(run.output("command"), name);
    }
    assert!(
        mutations(&emu, start).is_empty(),
        "{:?}",
        mutations(&emu, start)
    );
    assert_eq!((id_of(&emu, "production"), id_of(&emu, "dev")), (prod, dev));
    assert_eq!(data(&emu, "production"), "dev-v2");
}

#[tokio::test]
async fn keep_old_branch_keeps_the_replaced_prod() {
    let emu = ready_to_promote().await;
    let prod = id_of(&emu, "production");
    let run = Action::new("push", push(SHA))
        .input("keep_old_branch", "true")
        .run(&emu)
        .await;
    ok(&run);
    assert_eq!(id_of(&emu, "production (old)"), prod);
    assert_eq!(data(&emu, "production (old)"), "production-v1");
    assert_eq!(data(&emu, "production"), "dev-v2");
}
