//! Promotion end to end: the built binary, run on a real `push` payload the way GitHub's
//! runner runs the action (`INPUT_*`, output and summary files), against the emulator, whose
//! branches carry a data tag so every test can check what production actually holds
//! afterwards. Covers the calls and their order, re-runs, every failure on the way (snapshot,
//! poll, restore, old-branch delete, quota, cancellation), protection, `keep_old_branch`, the
//! dry run, and the CLI outside Actions.

mod support;

use std::time::Duration;

use neon_emulator::{Emulator, Fault, Options};
use serde_json::json;
use support::Action;
use support::lifecycle::{
    PR, SHA, call, data, exists, failed, id_of, mutations, ok, options, project, promote, push,
    ready_to_promote, rollback_point, shape, snapshot_names,
};

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
            call("PATCH", format!("{p}/snapshots/{candidate}")),
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
    assert_eq!(
        calls[4].body,
        Some(json!({"snapshot": {"name": candidate_name.replace("_candidate_", "_baseline_")}}))
    );

    // Prod has a new id, dev's data and the protection it had; the old branch is gone, the
    // rollback point stays and the candidate is dev's baseline now.
    assert_eq!(data(&emu, "production"), "dev-v2");
    assert_eq!(id_of(&emu, "production"), new_prod);
    assert_ne!(new_prod, prod);
    assert!(!exists(&emu, "production (old)"));
    emu.with_state(|s| {
        assert_eq!(
            s.snapshot(rollback).map(|s| s.data.as_str()),
            Some("production-v1")
        );
        let baseline = s.snapshot(candidate).expect("the candidate stays");
        assert!(
            baseline.name.contains("_baseline_pr-42_"),
            "{}",
            baseline.name
        );
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
async fn a_promotion_run_again_says_so_and_changes_nothing() {
    let emu = ready_to_promote().await;
    let first = promote(&emu, SHA).await;
    ok(&first);
    emu.with_state(|s| s.set_data("dev", "dev-v3"));
    let start = emu.requests().len();

    let again = promote(&emu, SHA).await;
    ok(&again);
    assert!(!again.log().contains('✗'), "{}", again.log());
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

/// SPEC §2/§3: a restore whose operation failed is never "done" and never repeated: the run
/// and any re-run stop, change nothing, and say to check prod and roll back if needed.
#[tokio::test]
async fn a_failed_restore_is_never_re_run() {
    let emu = ready_to_promote().await;
    let prod = id_of(&emu, "production");
    emu.inject(Fault::fail_operation("restore_snapshot", "failed", 1));

    let run = promote(&emu, SHA).await;
    let error = failed(&run);
    let point = rollback_point(&emu);
    assert!(error.contains("emulated failure"), "{error}");
    assert!(
        error.contains("untouched") && error.contains("check"),
        "{error}"
    );
    assert!(error.contains(&point), "{error}");
    assert!(!error.contains("fix the cause and re-run"), "{error}");
    // A failed run still outputs the rollback point it took.
    assert_eq!(run.output("rollback_snapshot_id"), point);
    assert_eq!(id_of(&emu, "production"), prod);
    assert_eq!(data(&emu, "production"), "production-v1");

    let start = emu.requests().len();
    let again = failed(&promote(&emu, SHA).await);
    assert!(
        again.contains("did not complete") && again.contains("changed nothing"),
        "{again}"
    );
    assert!(
        mutations(&emu, start).is_empty(),
        "{:?}",
        shape(&mutations(&emu, start))
    );
    assert_eq!(data(&emu, "production"), "production-v1");
}

#[tokio::test]
async fn a_poll_that_fails_stops_before_the_restore_and_a_re_run_takes_fresh_snapshots() {
    let emu = ready_to_promote().await;
    // The first operation poll is refused for good (a 4xx is not retried).
    emu.inject(Fault::status("GET", "/operations/", 400, 1));

    let run = promote(&emu, SHA).await;
    let error = failed(&run);
    assert!(error.contains("untouched"), "{error}");
    assert_eq!(data(&emu, "production"), "production-v1");
    let taken = |emu: &Emulator| -> Vec<String> {
        snapshot_names(emu)
            .into_iter()
            .filter(|n| n.contains("pre-promotion"))
            .collect()
    };
    assert_eq!(taken(&emu).len(), 1, "{:?}", taken(&emu));

    // Days later prod was written: the re-run must not restore with the stale point (issue
    // "Production is never lost", defect 1).
    emu.with_state(|s| s.set_data("production", "production-v1b"));
    let start = emu.requests().len();
    let again = promote(&emu, SHA).await;
    ok(&again);
    assert!(!again.log().contains('✗'), "{}", again.log());
    let fresh = again.output("rollback_snapshot_id");
    emu.with_state(|s| {
        assert_eq!(
            s.snapshot(fresh).map(|s| s.data.as_str()),
            Some("production-v1b")
        );
    });
    let prod_snapshots = mutations(&emu, start)
        .iter()
        .filter(|r| r.path.ends_with("/snapshot") && r.query.contains("pre-promotion"))
        .count();
    assert_eq!(prod_snapshots, 1, "a fresh rollback point");
    assert_eq!(
        taken(&emu).len(),
        1,
        "the stale one is gone: {:?}",
        taken(&emu)
    );
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
async fn a_failed_old_branch_delete_is_a_warning_and_a_re_run_cleans_up() {
    let emu = ready_to_promote().await;
    let prod = id_of(&emu, "production");
    emu.inject(Fault::status("DELETE", "/branches/", 400, 1));

    // The promotion is verified and reported; its clean-up failing is a warning.
    let run = promote(&emu, SHA).await;
    ok(&run);
    assert!(
        run.lines()
            .any(|l| l.starts_with("::warning::clean-up") && l.contains("(old)")),
        "{}",
        run.log()
    );
    assert!(!run.output("rollback_snapshot_id").is_empty());
    assert_eq!(data(&emu, "production"), "dev-v2");
    assert_eq!(id_of(&emu, "production (old)"), prod);

    let start = emu.requests().len();
    let again = promote(&emu, SHA).await;
    ok(&again);
    assert!(!again.log().contains('✗'), "{}", again.log());
    let calls = mutations(&emu, start);
    assert_eq!(
        shape(&calls[..1]),
        vec![call("DELETE", format!("{}/branches/{prod}", project(&emu)))]
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
    assert!(
        !log.contains('✗'),
        "a run that succeeds marks no step failed: {log}"
    );
    assert_eq!(data(&emu, "production"), "dev-v2");
    assert!(!exists(&emu, "production (old)"), "{log}");
    assert!(
        !snapshot_names(&emu).iter().any(|n| n.contains("candidate")),
        "{:?}",
        snapshot_names(&emu)
    );
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
