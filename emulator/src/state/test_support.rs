//! Helpers shared by the state model's unit tests.

use std::time::Duration;

use super::*;

pub(crate) fn limits(op_ms: u64, quota: usize) -> Limits {
    Limits {
        op_duration: Duration::from_millis(op_ms),
        snapshot_quota: quota,
        ..Limits::default()
    }
}

pub(crate) fn demo() -> (State, String, String) {
    let mut s = State::new("proj-test", limits(0, 10));
    let (prod, dev) = s.seed_demo();
    (s, prod, dev)
}

pub(crate) fn child(s: &mut State, name: &str, parent: &str) -> String {
    s.create_branch(CreateBranchReq {
        name: Some(name.into()),
        parent_id: Some(parent.into()),
        ..Default::default()
    })
    .unwrap()
    .branch
    .id
}

/// A restore onto `target` that finalizes.
pub(crate) fn finalize(target: &str) -> RestoreReq {
    RestoreReq {
        target_branch_id: Some(target.to_string()),
        finalize_restore: true,
        name: None,
    }
}

/// Sets or clears a branch's `protected` flag.
pub(crate) fn protect(s: &mut State, id: &str, on: bool) {
    s.update_branch(
        id,
        UpdateBranchReq {
            protected: Some(on),
            ..Default::default()
        },
    )
    .unwrap();
}
