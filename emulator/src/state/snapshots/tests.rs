use crate::state::test_support::*;
use crate::state::*;

#[test]
fn children_copy_data_and_snapshots_capture_it() {
    let (mut s, prod, dev) = demo();
    s.set_data("dev", "dev-v2");
    let preview = child(&mut s, "preview/pr-1", &dev);
    assert_eq!(s.data_of(&preview).unwrap(), "dev-v2");
    let (snap, _) = s
        .create_snapshot(&dev, Some("candidate"), None, None, None)
        .unwrap();
    s.set_data("dev", "dev-v3");
    let (restored, _, _) = s.restore_snapshot(&snap.id, finalize(&prod)).unwrap();
    assert_eq!(s.data_of("production").unwrap(), "dev-v2");
    assert_eq!(restored.restored_from.as_deref(), Some(snap.id.as_str()));
}

#[test]
fn snapshot_rules() {
    let mut s = State::new("p", limits(0, 2));
    let (prod, dev) = s.seed_demo(); // the seed holds one snapshot
    let preview = child(&mut s, "preview", &dev);
    assert_eq!(
        s.create_snapshot(&preview, None, None, None, None)
            .unwrap_err()
            .status,
        422,
        "only roots"
    );
    s.create_snapshot(&prod, Some("a"), None, None, None)
        .unwrap();
    let err = s
        .create_snapshot(&prod, Some("b"), None, None, None)
        .unwrap_err();
    assert_eq!(err.status, 422);
    assert!(err.message.contains("limit"), "{}", err.message);
    let victim = s.snapshots[0].id.clone();
    s.delete_snapshot(&victim).unwrap();
    s.create_snapshot(&prod, Some("b"), None, None, None)
        .unwrap();
    assert_eq!(s.delete_snapshot("snap-nope").unwrap_err().status, 404);
}
