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
    let (restored, _, _) = s
        .restore_snapshot(
            &snap.id,
            RestoreReq {
                target_branch_id: Some(prod.clone()),
                finalize_restore: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(s.data_of("production").unwrap(), "dev-v2");
    assert_eq!(restored.restored_from.as_deref(), Some(snap.id.as_str()));
}

#[test]
fn finalize_restore_swaps_identity() {
    let (mut s, prod, dev) = demo();
    s.update_branch(
        &prod,
        UpdateBranchReq {
            protected: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    let prod_child = child(&mut s, "analytics", &prod);
    let prod_ep = s.endpoints_of(&prod)[0].id.clone();
    let (snap, _) = s.create_snapshot(&dev, None, None, None, None).unwrap();
    let (new, eps, ops) = s
        .restore_snapshot(
            &snap.id,
            RestoreReq {
                target_branch_id: Some(prod.clone()),
                finalize_restore: true,
                name: None,
            },
        )
        .unwrap();
    assert_ne!(new.id, prod);
    assert_eq!(new.name, "production");
    assert!(new.default && new.protected && new.parent_id.is_none());
    assert_eq!(new.restored_from.as_deref(), Some(snap.id.as_str()));
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
    let (snap2, _) = s.create_snapshot(&dev, None, None, None, None).unwrap();
    let (newer, _, _) = s
        .restore_snapshot(
            &snap2.id,
            RestoreReq {
                target_branch_id: Some(new.id.clone()),
                finalize_restore: true,
                name: None,
            },
        )
        .unwrap();
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
    s.update_branch(
        &prod,
        UpdateBranchReq {
            protected: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    let (snap, _) = s.create_snapshot(&dev, None, None, None, None).unwrap();
    let (new, _, _) = s
        .restore_snapshot(
            &snap.id,
            RestoreReq {
                target_branch_id: Some(prod.clone()),
                finalize_restore: true,
                name: None,
            },
        )
        .unwrap();
    assert!(!new.protected);
    assert!(s.branch(&prod).unwrap().protected);
    assert_eq!(s.delete_branch(&prod).unwrap_err().status, 422);
}

#[test]
fn restore_without_finalize_makes_a_new_root_without_computes() {
    let (mut s, prod, _dev) = demo();
    s.set_data("production", "prod-v7");
    let (snap, _) = s.create_snapshot(&prod, None, None, None, None).unwrap();
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
    let (snap, _) = s.create_snapshot(&dev, None, None, None, None).unwrap();
    let finalize = |target: &str| RestoreReq {
        target_branch_id: Some(target.to_string()),
        finalize_restore: true,
        name: None,
    };
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

#[test]
fn failed_operations_and_failed_restores_leave_the_target_alone() {
    let (mut s, prod, dev) = demo();
    s.op_failures.push(OpFailure {
        action: "restore_snapshot".into(),
        status: "failed".into(),
        error: "boom".into(),
        times: 1,
    });
    let (snap, _) = s.create_snapshot(&dev, None, None, None, None).unwrap();
    let (b, _, ops) = s
        .restore_snapshot(
            &snap.id,
            RestoreReq {
                target_branch_id: Some(prod.clone()),
                finalize_restore: true,
                name: None,
            },
        )
        .unwrap();
    let now = s.now();
    assert_eq!(ops[0].status(now), "failed");
    assert_eq!(ops[0].to_json(now)["error"], "boom");
    assert_eq!(s.branch(&prod).unwrap().name, "production");
    assert!(s.branch(&prod).unwrap().default);
    assert_ne!(s.branch(&b.id).unwrap().name, "production");
    assert!(s.op_failures.is_empty());
}
