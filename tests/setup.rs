//! setup end to end: the built binary, run on a real `workflow_dispatch` payload the way
//! GitHub's runner runs the action, against an emulator that holds only production. setup
//! creates dev (a root with a read-write compute), keeps the snapshot it made dev from as dev's
//! baseline and protects production once; a second run changes nothing.

mod support;

use neon_emulator::state::EndpointType;
use neon_emulator::{Emulator, Options, Seed};
use support::lifecycle::{command, id_of, mutations, ok, options};

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
        // The prod snapshot dev was made from stays, as dev's baseline.
        let names: Vec<&str> = s.snapshots.iter().map(|s| s.name.as_str()).collect();
        assert!(
            matches!(names.as_slice(), [one] if one.starts_with("prod_snap_") && one.ends_with("_baseline")),
            "{names:?}"
        );
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
