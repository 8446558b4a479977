//! Dry runs of rollback, refresh-dev and setup end to end, on a real `workflow_dispatch`
//! payload against the emulator after a promotion: each reads what it needs, reports its plan
//! and changes nothing. (The promotion's own dry run is in `promote.rs`, the preview's in
//! `preview_e2e.rs`.)

mod support;

use support::Action;
use support::lifecycle::{SHA, data, dispatch, id_of, mutations, ok, promote, ready_to_promote};

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
