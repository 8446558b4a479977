//! refresh-dev end to end: the built binary, run on a real `workflow_dispatch` payload the way
//! GitHub's runner runs the action, against the emulator. dev is replaced by a copy of
//! production; the old dev is deleted, or kept while previews still hang off it.

mod support;

use support::lifecycle::{command, data, emulator, exists, id_of, ok, snapshot_names};

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
