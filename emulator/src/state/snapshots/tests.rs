use crate::state::test_support::*;
use crate::state::*;

#[test]
fn children_copy_data_and_snapshots_capture_it() {
    let (mut s, prod, dev) = demo();
    s.set_data("dev", "dev-v2");
    let preview = child(&mut s, "preview/pr-1", &dev);
    assert_eq!(s.data_of(&preview).unwrap(), "dev-v2");
    let (snap, _) = s
        .create_snapshot(&dev, SnapshotReq::named("candidate"))
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
        s.create_snapshot(&preview, SnapshotReq::default())
            .unwrap_err()
            .status,
        422,
        "only roots"
    );
    s.create_snapshot(&prod, SnapshotReq::named("a")).unwrap();
    let err = s
        .create_snapshot(&prod, SnapshotReq::named("b"))
        .unwrap_err();
    assert_eq!(err.status, 422);
    assert!(err.message.contains("limit"), "{}", err.message);
    let victim = s.snapshots[0].id.clone();
    s.delete_snapshot(&victim).unwrap();
    s.create_snapshot(&prod, SnapshotReq::named("b")).unwrap();
    assert_eq!(s.delete_snapshot("snap-nope").unwrap_err().status, 404);
}

#[test]
fn slugs_are_unique_valid_and_default_to_the_id() {
    let (mut s, prod, _) = demo();
    let slugged = |slug: &str| SnapshotReq {
        slug: Some(slug.into()),
        ..SnapshotReq::default()
    };
    let (a, _) = s.create_snapshot(&prod, slugged("pre-promote-1")).unwrap();
    assert_eq!(a.slug, "pre-promote-1");
    let err = s
        .create_snapshot(&prod, slugged("pre-promote-1"))
        .unwrap_err();
    assert_eq!(err.status, 409, "{}", err.message);
    for bad in ["Upper", "1st", "ends-", "under_score", ""] {
        let status = s
            .create_snapshot(&prod, slugged(bad))
            .err()
            .map(|e| e.status);
        assert_eq!(status, (!bad.is_empty()).then_some(400), "{bad:?}");
    }
    let (plain, _) = s.create_snapshot(&prod, SnapshotReq::default()).unwrap();
    assert_eq!(plain.slug, plain.id);
    s.delete_snapshot(&a.id).unwrap();
    s.create_snapshot(&prod, slugged("pre-promote-1")).unwrap();
    // An API that ignores slugs makes a second snapshot.
    s.limits.variants.snapshot_slug = SnapshotSlug::Ignored;
    let (ignored, _) = s.create_snapshot(&prod, slugged("pre-promote-1")).unwrap();
    assert_eq!(ignored.slug, ignored.id);
}

#[test]
fn snapshot_expiry_can_be_set_and_cleared() {
    let (mut s, prod, _) = demo();
    let (snap, _) = s.create_snapshot(&prod, SnapshotReq::default()).unwrap();
    let later = crate::time::fmt_ts(s.now() + jiff::SignedDuration::from_hours(2));
    let updated = s
        .update_snapshot(&snap.id, None, Some(Some(&later)))
        .unwrap();
    assert!(updated.expires_at.is_some());
    let past = crate::time::fmt_ts(s.now() - jiff::SignedDuration::from_hours(2));
    assert_eq!(
        s.update_snapshot(&snap.id, None, Some(Some(&past)))
            .unwrap_err()
            .status,
        400
    );
    let cleared = s
        .update_snapshot(&snap.id, Some("kept"), Some(None))
        .unwrap();
    assert_eq!((cleared.expires_at, cleared.name.as_str()), (None, "kept"));
}

#[test]
fn the_seed_snapshot_has_a_slug() {
    let (s, _, _) = demo();
    assert_eq!(s.snapshots[0].slug, s.snapshots[0].id);
}
