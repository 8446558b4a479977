//! Regression tests for the defects of the issue "Production is never lost", one or more per
//! defect, each failing on the code before its fix: stale rollback points, `latest`, branches
//! given by id, cancelled operations, sweep's reach, leftovers that blocked re-runs, and input
//! precedence. The built binary runs the way the runner runs it, against the emulator.

mod support;

use neon_emulator::{Emulator, Fault, Options};
use support::Action;
use support::lifecycle::{
    PR, SHA, command, data, dispatch, emulator, exists, failed, id_of, merge, mutations, ok,
    options, promote, push, ready_to_promote, repo, rollback, snapshot_names,
};

const SHA2: &str = "cd34ef567890ab12cd34ef567890ab12cd34ef56";

/// Defect 1, for rollbacks: an attempt that stopped before its restore leaves a pre-rollback
/// snapshot; the re-run of that run, after prod was written, must not restore with it.
#[tokio::test]
async fn a_rollback_re_run_takes_a_fresh_pre_rollback_snapshot() {
    let emu = ready_to_promote().await;
    ok(&promote(&emu, SHA).await);
    let target = rollback_point_of_sha(&emu, SHA);
    // The wait for the pre-rollback snapshot fails for good (a 4xx is not retried).
    emu.inject(Fault::status("GET", "/operations/", 400, 1));
    let attempt = || {
        Action::new("workflow_dispatch", dispatch(&target))
            .input("snapshot_id", &target)
            .env("GITHUB_RUN_ID", "7001")
    };
    let first = attempt().run(&emu).await;
    failed(&first);
    let stale = first.output("rollback_snapshot_id").to_string();
    emu.with_state(|s| s.set_data("production", "written-after"));

    let again = attempt().run(&emu).await;
    ok(&again);
    let fresh = again.output("rollback_snapshot_id");
    assert_ne!(fresh, stale);
    emu.with_state(|s| {
        assert_eq!(
            s.snapshot(fresh).map(|s| s.data.as_str()),
            Some("written-after")
        );
        assert!(s.snapshot(&stale).is_none(), "the stale point is deleted");
    });
    assert_eq!(data(&emu, "production"), "production-v1");
}

/// Defect 4, for rollbacks: an attempt whose restore operation failed is never re-run.
#[tokio::test]
async fn a_failed_rollback_restore_is_never_re_run() {
    let emu = ready_to_promote().await;
    ok(&promote(&emu, SHA).await);
    let target = rollback_point_of_sha(&emu, SHA);
    emu.inject(Fault::fail_operation("restore_snapshot", "cancelled", 1));
    let attempt = || {
        Action::new("workflow_dispatch", dispatch(&target))
            .input("snapshot_id", &target)
            .env("GITHUB_RUN_ID", "7002")
    };
    let first = failed(&attempt().run(&emu).await);
    assert!(
        first.contains("cancelled") && first.contains("check"),
        "{first}"
    );
    let start = emu.requests().len();
    let again = failed(&attempt().run(&emu).await);
    assert!(
        again.contains("did not complete") && again.contains("changed nothing"),
        "{again}"
    );
    assert!(mutations(&emu, start).is_empty());
    assert_eq!(data(&emu, "production"), "dev-v2");
}

/// Defect 2: promotion A succeeds, promotion B stops before its restore; `latest` must undo A,
/// not pick B's rollback point (which is of the current prod and would undo nothing).
#[tokio::test]
async fn latest_never_picks_a_rollback_point_of_the_current_prod() {
    let emu = ready_to_promote().await;
    ok(&promote(&emu, SHA).await);
    let a = rollback_point_of_sha(&emu, SHA);
    emu.with_state(|s| s.set_data("dev", "dev-v3"));
    merge(&emu, 43, SHA2);
    // B's wait for its rollback point fails for good: it stops before its restore.
    emu.inject(Fault::status("GET", "/operations/", 400, 1));
    failed(&promote(&emu, SHA2).await);
    assert!(
        snapshot_names(&emu)
            .iter()
            .any(|n| n.ends_with("_pr-43_cd34ef5"))
    );

    let run = rollback(&emu, "latest").await;
    ok(&run);
    assert_eq!(run.output("restored_snapshot_id"), a);
    assert_eq!(data(&emu, "production"), "production-v1");
}

/// Defect 3: after refresh-dev, a `dev_branch` given by id names `dev (old)`; promoting it
/// would promote stale data. Refused, naming the branch and saying to use its name.
#[tokio::test]
async fn a_dev_branch_given_by_an_id_that_a_refresh_replaced_is_refused() {
    let emu = ready_to_promote().await;
    let dev_id = id_of(&emu, "dev");
    // A preview keeps `dev (old)` alive after the refresh.
    emu.with_state(|s| s.insert_branch("preview/pr-7-x", Some(&dev_id), "dev-v2", false));
    ok(&command(&emu, "refresh-dev").await);
    assert_eq!(id_of(&emu, "dev (old)"), dev_id);
    let start = emu.requests().len();

    let run = Action::new("push", push(SHA))
        .input("dev_branch", &dev_id)
        .run(&emu)
        .await;
    let error = failed(&run);
    assert!(
        error.contains(&dev_id) && error.contains("by its name"),
        "{error}"
    );
    assert!(
        mutations(&emu, start).is_empty(),
        "{:?}",
        mutations(&emu, start)
    );
}

/// Defect 3: with `keep_old_branch`, a `prod_branch` given by id names `production (old)`
/// after the first promotion; the second must not "succeed" onto it.
#[tokio::test]
async fn a_prod_branch_given_by_an_id_kept_as_old_is_refused() {
    let emu = ready_to_promote().await;
    let prod_id = id_of(&emu, "production");
    let by_id = |sha: &str| {
        Action::new("push", push(sha))
            .input("prod_branch", &prod_id)
            .input("keep_old_branch", "true")
    };
    ok(&by_id(SHA).run(&emu).await);
    assert_eq!(id_of(&emu, "production (old)"), prod_id);
    merge(&emu, 43, SHA2);
    let start = emu.requests().len();
    let error = failed(&by_id(SHA2).run(&emu).await);
    assert!(
        error.contains(&prod_id) && error.contains("replaced"),
        "{error}"
    );
    assert!(mutations(&emu, start).is_empty());
}

/// Defect 5: a cancelled operation did not do its work. A rollback point whose snapshot
/// operation was cancelled must stop the promotion before its restore.
#[tokio::test]
async fn a_cancelled_snapshot_operation_stops_the_promotion() {
    let emu = ready_to_promote().await;
    emu.inject(Fault::fail_operation("create_branch", "cancelled", 1));
    let error = failed(&promote(&emu, SHA).await);
    assert!(error.contains("cancelled"), "{error}");
    assert!(error.contains("untouched"), "{error}");
    assert_eq!(data(&emu, "production"), "production-v1");
    assert!(
        emu.requests().iter().all(|r| !r.path.ends_with("/restore")),
        "no restore"
    );
}

/// Defect 6: sweep keeps `(old)` branches under `keep_old_branch`, and never deletes a root
/// branch whose name happens to fit the preview template.
#[tokio::test]
async fn sweep_keeps_what_it_must() {
    let emu = ready_to_promote().await;
    ok(&Action::new("push", push(SHA))
        .input("keep_old_branch", "true")
        .run(&emu)
        .await);
    let old = id_of(&emu, "production (old)");
    let root = emu.with_state(|s| {
        s.github.add_pull(&repo(), 5, "x", "5555555");
        s.github.merge_pull(&repo(), 5, "6666666");
        s.insert_branch("preview/pr-5-x", None, "someone-else", false)
    });
    let payload =
        serde_json::json!({"schedule": "0 3 * * *", "repository": push(SHA)["repository"]});
    let run = Action::new("schedule", payload)
        .input("keep_old_branch", "true")
        .run(&emu)
        .await;
    ok(&run);
    emu.with_state(|s| {
        assert!(s.branch(&old).is_some(), "kept by keep_old_branch");
        assert!(s.branch(&root).is_some(), "a root is never a preview");
    });
}

/// Defect 7: refresh-dev always took a new snapshot, so what a cancelled try left filled a
/// quota of one. The leftover is deleted first.
#[tokio::test]
async fn refresh_dev_after_a_leftover_fits_a_quota_of_two() {
    let emu = Emulator::start(Options {
        snapshot_quota: 2,
        ..options()
    })
    .await;
    // The seed's own snapshot holds one slot; a leftover of a cancelled refresh the other.
    let prod = id_of(&emu, "production");
    emu.with_state(|s| {
        let now = s.now();
        let name = now
            .strftime("prod_snap_%Y-%m-%d_%H-%M-%S_dev-refresh")
            .to_string();
        s.create_snapshot(&prod, neon_emulator::state::SnapshotReq::named(&name))
            .unwrap();
    });
    ok(&command(&emu, "refresh-dev").await);
    assert_eq!(data(&emu, "dev"), "production-v1");
}

/// Defect 7: setup's re-run protects prod when the first try failed at that step.
#[tokio::test]
async fn a_setup_re_run_protects_prod() {
    let emu = Emulator::start(Options {
        seed: neon_emulator::Seed::Empty,
        ..options()
    })
    .await;
    emu.inject(Fault::status("PATCH", "/branches/", 503, 1000));
    let first = Action::new("workflow_dispatch", dispatch(""))
        .input("command", "setup")
        .input("timeout", "3s")
        .run(&emu)
        .await;
    failed(&first);
    assert!(exists(&emu, "dev"));
    emu.clear_faults();
    ok(&command(&emu, "setup").await);
    emu.with_state(|s| assert!(s.branch_by_name("production").unwrap().protected));
}

/// Defect 8: under Actions, a job-level `NEON_PROJECT_ID` never beats the `project_id:` input.
#[tokio::test]
async fn an_input_beats_a_job_level_neon_variable() {
    let emu = emulator().await;
    let run = Action::new(
        "pull_request",
        support::pull_request("opened", PR, "feature/x", SHA),
    )
    .env("NEON_PROJECT_ID", "some-other-project")
    .run(&emu)
    .await;
    ok(&run);
    assert!(
        emu.requests()
            .iter()
            .all(|r| !r.path.contains("some-other-project")),
        "the job-level variable was used"
    );
}

/// The pre-promotion snapshot the promotion of `sha` took.
fn rollback_point_of_sha(emu: &Emulator, sha: &str) -> String {
    let short = &sha[..7];
    emu.with_state(|s| {
        s.snapshots
            .iter()
            .find(|s| s.name.contains("pre-promotion") && s.name.ends_with(short))
            .map(|s| s.id.clone())
    })
    .expect("the rollback point")
}
