//! The scheduled sweep end to end: the built binary, run on the `schedule` event the way
//! GitHub's runner runs the action, against the emulator. It deletes what earlier runs left
//! behind (closed PRs' previews, `(old)` branches, candidates past their TTL) and nothing else.

mod support;

use neon_emulator::Emulator;
use serde_json::json;
use support::Action;
use support::lifecycle::{SHA, emulator, id_of, ok, push, repo};

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
        // Both were replaced by restores: the live branches say so (`restored_as`).
        s.branch_mut(&dev).unwrap().restored_as = Some(old_dev.clone());
        let prod = s.branch_by_name("production").unwrap().id.clone();
        s.branch_mut(&prod).unwrap().restored_as = Some(old_prod.clone());
        // A root whose name looks replaced, but that no restore replaced, is not ours.
        s.insert_branch("staging (old)", None, "staging-v0", false);
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
        assert!(
            s.branch_by_name("staging (old)").is_some(),
            "never replaced: kept"
        );
        assert!(s.branch_by_name("dev").is_some());
        assert!(
            s.snapshot(&stale).is_none(),
            "candidate past its TTL deleted"
        );
        assert!(s.snapshot(&rollback_point).is_some(), "rollback point kept");
        assert!(s.snapshots.iter().any(|s| s.name == "production-seed"));
    });
}
