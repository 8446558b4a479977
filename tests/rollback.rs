//! Rollback end to end: the built binary, run on a real `workflow_dispatch` payload the way
//! GitHub's runner runs the action, against the emulator, after a promotion. Covers rolling back
//! by id, by name and to `latest`, undoing a rollback with the id it printed, and a re-run that
//! must not restore twice; every test checks what production holds afterwards.

mod support;

use support::lifecycle::{
    SHA, call, data, id_of, merge, mutations, ok, project, promote, ready_to_promote, rollback,
    shape,
};

const SHA2: &str = "cd34ef567890ab12cd34ef567890ab12cd34ef56";

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
