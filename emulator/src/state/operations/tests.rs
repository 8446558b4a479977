use std::time::Duration;

use crate::state::test_support::*;
use crate::state::*;

#[test]
fn running_operations_lock_the_project() {
    let mut s = State::new("p", limits(1_000, 10));
    let (prod, dev) = s.seed_demo();
    let created = s
        .create_branch(CreateBranchReq {
            name: Some("x".into()),
            parent_id: Some(dev.clone()),
            endpoints: vec![EndpointType::ReadWrite.into()],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(created.operations.len(), 2);
    assert_eq!(created.operations[0].status(s.now()), "scheduling");
    assert_eq!(s.branch(&created.branch.id).unwrap().current_state, "init");
    let err = s
        .create_snapshot(&prod, SnapshotReq::default())
        .unwrap_err();
    assert_eq!(
        (err.status, err.message.as_str()),
        (423, ApiError::locked().message.as_str())
    );
    assert_eq!(s.delete_branch(&created.branch.id).unwrap_err().status, 423);
    // Reads and metadata updates still work.
    assert!(s.list_branches(&ListBranchesQuery::default()).is_ok());
    s.advance(Duration::from_millis(500));
    assert_eq!(created.operations[0].status(s.now()), "running");
    assert_eq!(
        created.operations[1].status(s.now()),
        "scheduling",
        "queued behind the timeline"
    );
    s.advance(Duration::from_millis(600));
    assert_eq!(created.operations[0].status(s.now()), "finished");
    assert!(!created.operations[1].is_terminal(s.now()));
    assert_eq!(s.branch(&created.branch.id).unwrap().current_state, "ready");
    assert_eq!(s.endpoints_of(&created.branch.id)[0].current_state, "init");
    assert_eq!(
        s.create_snapshot(&prod, SnapshotReq::default())
            .unwrap_err()
            .status,
        423
    );
    s.advance(Duration::from_millis(1_000));
    assert_eq!(created.operations[1].status(s.now()), "finished");
    assert_eq!(
        s.endpoints_of(&created.branch.id)[0].current_state,
        "active"
    );
    s.create_snapshot(&prod, SnapshotReq::default()).unwrap();
}

#[test]
fn operations_paginate_newest_first() {
    let mut s = State::new("p", limits(0, 100));
    let (prod, _) = s.seed_demo();
    for _ in 0..25 {
        s.create_snapshot(&prod, SnapshotReq::default()).unwrap();
    }
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let (ops, next) = s.list_operations(Some("10"), cursor.as_deref()).unwrap();
        if ops.is_empty() {
            break;
        }
        all.extend(ops.iter().map(|o| o.id.clone()));
        cursor = next;
    }
    assert_eq!(all.len(), 25);
    assert_eq!(all[0], s.operations.last().unwrap().id);
}

#[test]
fn per_branch_locks_only_block_the_busy_branch() {
    let mut s = State::new(
        "p",
        Limits {
            variants: Variants {
                lock_scope: LockScope::PerBranch,
                ..Variants::default()
            },
            ..limits(1_000, 10)
        },
    );
    let (prod, dev) = s.seed_demo();
    let busy = s
        .create_branch(CreateBranchReq {
            name: Some("busy".into()),
            parent_id: Some(dev.clone()),
            ..Default::default()
        })
        .unwrap()
        .branch
        .id;
    // The creation's operation runs on `busy`: other branches are free.
    s.create_snapshot(&prod, SnapshotReq::default()).unwrap();
    assert_eq!(s.delete_branch(&busy).unwrap_err().status, 423);
    assert_eq!(
        s.create_endpoint(&busy, EndpointType::ReadWrite.into())
            .unwrap_err()
            .status,
        423
    );
    // The snapshot of prod now runs on prod: a snapshot of prod waits, one of dev does not.
    assert_eq!(
        s.create_snapshot(&prod, SnapshotReq::default())
            .unwrap_err()
            .status,
        423
    );
    s.create_snapshot(&dev, SnapshotReq::default()).unwrap();
    s.advance(Duration::from_secs(2));
    s.delete_branch(&busy).unwrap().unwrap();
}

#[test]
fn a_cancelled_operation_is_cancelling_before_it_ends() {
    let mut s = State::new("p", limits(1_000, 10));
    let (prod, _) = s.seed_demo();
    s.op_failures.push(OpFailure {
        action: "create_snapshot".into(),
        status: "cancelled".into(),
        error: "cancelled by the user".into(),
        times: 1,
    });
    let (_, ops) = s.create_snapshot(&prod, SnapshotReq::default()).unwrap();
    let at = |ms: u64| {
        let now = s.now() + jiff::SignedDuration::from_millis(ms as i64);
        ops[0].status(now).to_string()
    };
    assert_eq!(at(0), "scheduling");
    assert_eq!(at(500), "running");
    assert_eq!(at(850), "cancelling");
    assert_eq!(at(1_000), "cancelled");
    assert!(!ops[0].is_terminal(s.now() + jiff::SignedDuration::from_millis(850)));
    assert!(ops[0].outcome.is_failure());
}
