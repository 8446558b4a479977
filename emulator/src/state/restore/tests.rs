use std::time::Duration;

use crate::state::test_support::*;
use crate::state::*;

/// A demo project with operations of one second, the variants given, and a dev snapshot.
fn slow(variants: Variants) -> (State, String, String) {
    let mut s = State::new(
        "p",
        Limits {
            variants,
            ..limits(1_000, 10)
        },
    );
    let (prod, dev) = s.seed_demo();
    let (snap, _) = s.create_snapshot(&dev, SnapshotReq::default()).unwrap();
    s.advance(Duration::from_secs(2));
    (s, prod, snap.id)
}

fn fail_restore(s: &mut State, status: &str) {
    s.op_failures.push(OpFailure {
        action: "restore_snapshot".into(),
        status: status.into(),
        error: "boom".into(),
        times: 1,
    });
}

#[test]
fn when_finished_the_swap_waits_for_the_operations() {
    let (mut s, prod, snap) = slow(Variants {
        restore_rename: RestoreRename::WhenFinished,
        ..Variants::default()
    });
    s.set_data("dev", "dev-v2");
    let (new, eps, ops) = s.restore_snapshot(&snap, finalize(&prod)).unwrap();
    assert_eq!(
        ops.len(),
        2,
        "create_timeline and apply_config for the moving compute"
    );
    assert!(eps.is_empty(), "the compute has not moved yet");
    assert_ne!(new.name, "production");
    assert_eq!(s.branch(&prod).unwrap().name, "production");
    assert_eq!(s.ensure_unlocked(&[]).unwrap_err().status, 423);
    s.advance(Duration::from_millis(500));
    assert_eq!(s.branch(&prod).unwrap().name, "production", "still running");
    s.advance(Duration::from_millis(600));
    let swapped = s.branch(&new.id).unwrap();
    assert_eq!(swapped.name, "production");
    assert_eq!(swapped.restored_as.as_deref(), Some(prod.as_str()));
    assert_eq!(swapped.current_state, "ready");
    assert_eq!(s.branch(&prod).unwrap().name, "production (old)");
    assert_eq!(s.endpoints_of(&new.id).len(), 1);
    assert!(s.pending_swaps.is_empty());
}

#[test]
fn a_failed_restore_leaves_the_target_untouched_by_default() {
    for rename in [RestoreRename::AtRequest, RestoreRename::WhenFinished] {
        let (mut s, prod, snap) = slow(Variants {
            restore_rename: rename,
            ..Variants::default()
        });
        fail_restore(&mut s, "cancelled");
        let (new, _, ops) = s.restore_snapshot(&snap, finalize(&prod)).unwrap();
        s.advance(Duration::from_millis(900));
        assert_eq!(ops[0].status(s.now()), "cancelling", "{rename:?}");
        s.advance(Duration::from_secs(2));
        assert_eq!(ops[0].status(s.now()), "cancelled");
        assert_eq!(s.branch(&prod).unwrap().name, "production", "{rename:?}");
        let new = s.branch(&new.id).unwrap();
        assert_eq!(
            (new.current_state.as_str(), new.data.as_str()),
            ("init", "")
        );
        assert!(new.restored_as.is_none());
        assert_eq!(new.restore_status.as_deref(), Some("restored"));
    }
}

#[test]
fn a_failed_restore_can_leave_the_target_renamed() {
    for rename in [RestoreRename::AtRequest, RestoreRename::WhenFinished] {
        let (mut s, prod, snap) = slow(Variants {
            restore_rename: rename,
            failed_restore: FailedRestore::Renamed,
            ..Variants::default()
        });
        fail_restore(&mut s, "failed");
        let (new, _, ops) = s.restore_snapshot(&snap, finalize(&prod)).unwrap();
        s.advance(Duration::from_secs(3));
        assert_eq!(ops[0].status(s.now()), "failed");
        let broken = s.branch(&new.id).unwrap();
        assert_eq!(broken.name, "production", "{rename:?}");
        assert!(broken.default);
        assert_eq!(broken.restored_as.as_deref(), Some(prod.as_str()));
        assert_eq!(broken.restored_from.as_deref(), Some(snap.as_str()));
        assert_eq!(broken.current_state, "init", "never ready");
        assert_eq!(broken.data, "");
        assert_eq!(s.branch(&prod).unwrap().name, "production (old)");
        assert_eq!(s.endpoints_of(&new.id).len(), 1, "the computes moved to it");
    }
}

#[test]
fn finalize_restore_swaps_identity() {
    let (mut s, prod, dev) = demo();
    protect(&mut s, &prod, true);
    let prod_child = child(&mut s, "analytics", &prod);
    let prod_ep = s.endpoints_of(&prod)[0].id.clone();
    let (snap, _) = s.create_snapshot(&dev, SnapshotReq::default()).unwrap();
    let (new, eps, ops) = s.restore_snapshot(&snap.id, finalize(&prod)).unwrap();
    assert_ne!(new.id, prod);
    assert_eq!(new.name, "production");
    assert!(new.default && new.protected && new.parent_id.is_none());
    assert_eq!(new.restored_from.as_deref(), Some(snap.id.as_str()));
    assert_eq!(
        new.restored_as.as_deref(),
        Some(prod.as_str()),
        "the replaced id"
    );
    assert_eq!(eps.len(), 1);
    assert_eq!(
        eps[0].id, prod_ep,
        "the compute moves, so the connection string stays"
    );
    assert!(ops.iter().all(|o| o.is_terminal(s.now())));
    let old = s.branch(&prod).unwrap();
    assert_eq!(old.name, "production (old)");
    assert!(!old.default && !old.protected);
    assert!(s.endpoints_of(&prod).is_empty());
    assert_eq!(
        s.branch(&prod_child).unwrap().parent_id.as_deref(),
        Some(prod.as_str()),
        "children stay with the old id"
    );
    assert_eq!(s.default_branch().unwrap().id, new.id);
    // The old branch keeps its child: it cannot be deleted yet.
    assert_eq!(s.delete_branch(&prod).unwrap_err().status, 422);
    s.delete_branch(&prod_child).unwrap().unwrap();
    s.delete_branch(&prod).unwrap().unwrap();
    // A second promotion names the next old branch the same way.
    let (snap2, _) = s.create_snapshot(&dev, SnapshotReq::default()).unwrap();
    let (newer, _, _) = s.restore_snapshot(&snap2.id, finalize(&new.id)).unwrap();
    assert_eq!(s.branch(&new.id).unwrap().name, "production (old)");
    assert_eq!(newer.name, "production");
}

#[test]
fn protection_can_stay_behind() {
    let mut s = State::new(
        "p",
        Limits {
            restore_moves_protection: false,
            ..limits(0, 10)
        },
    );
    let (prod, dev) = s.seed_demo();
    protect(&mut s, &prod, true);
    let (snap, _) = s.create_snapshot(&dev, SnapshotReq::default()).unwrap();
    let (new, _, _) = s.restore_snapshot(&snap.id, finalize(&prod)).unwrap();
    assert!(!new.protected);
    assert!(s.branch(&prod).unwrap().protected);
    assert_eq!(s.delete_branch(&prod).unwrap_err().status, 422);
}

#[test]
fn restore_without_finalize_makes_a_new_root_without_computes() {
    let (mut s, prod, _dev) = demo();
    s.set_data("production", "prod-v7");
    let (snap, _) = s.create_snapshot(&prod, SnapshotReq::default()).unwrap();
    let (b, eps, _) = s
        .restore_snapshot(
            &snap.id,
            RestoreReq {
                name: Some("dev2".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(b.name, "dev2");
    assert!(b.parent_id.is_none() && !b.default);
    assert!(eps.is_empty() && s.endpoints_of(&b.id).is_empty());
    assert_eq!(b.data, "prod-v7");
    assert_eq!(s.branch(&prod).unwrap().name, "production");
    // Its name must be free.
    let err = s
        .restore_snapshot(
            &snap.id,
            RestoreReq {
                name: Some("dev".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.status, 409);
    // finalize_restore later swaps it in.
    s.finalize_restore(&b.id, None).unwrap();
    assert_eq!(s.branch(&b.id).unwrap().name, "production");
    assert_eq!(s.branch(&prod).unwrap().name, "production (old)");
}

#[test]
fn restores_need_room_for_a_root_branch() {
    let mut s = State::new(
        "p",
        Limits {
            root_branch_quota: 3,
            ..Limits::default()
        },
    );
    let (prod, dev) = s.seed_demo();
    let (snap, _) = s.create_snapshot(&dev, SnapshotReq::default()).unwrap();
    // prod, dev → prod, dev, production (old): the third root fits.
    s.restore_snapshot(&snap.id, finalize(&prod)).unwrap();
    let new_prod = s.branch_by_name("production").unwrap().id.clone();
    let err = s
        .restore_snapshot(&snap.id, finalize(&new_prod))
        .unwrap_err();
    assert_eq!(err.status, 422);
    assert!(err.message.contains("limit"));
    s.delete_branch(&prod).unwrap().unwrap();
    s.restore_snapshot(&snap.id, finalize(&new_prod)).unwrap();
}

#[test]
fn failed_operations_and_failed_restores_leave_the_target_alone() {
    let (mut s, prod, dev) = demo();
    s.op_failures.push(OpFailure {
        action: "restore_snapshot".into(),
        status: "failed".into(),
        error: "boom".into(),
        times: 1,
    });
    let (snap, _) = s.create_snapshot(&dev, SnapshotReq::default()).unwrap();
    let (b, _, ops) = s.restore_snapshot(&snap.id, finalize(&prod)).unwrap();
    let now = s.now();
    assert_eq!(ops[0].status(now), "failed");
    assert_eq!(ops[0].to_json(now)["error"], "boom");
    assert_eq!(s.branch(&prod).unwrap().name, "production");
    assert!(s.branch(&prod).unwrap().default);
    assert_ne!(s.branch(&b.id).unwrap().name, "production");
    assert!(s.op_failures.is_empty());
}
