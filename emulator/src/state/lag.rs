//! [`Variants::list_lag`](super::Variants): lists that answer one mutation late. Before a
//! mutation the API layer takes [`State::lists_now`]; after it succeeds, [`State::lag_lists`]
//! keeps that copy, and the first read of each list takes it instead of the current state.

use std::collections::BTreeMap;

use super::State;
use super::model::{Branch, Snapshot};
use super::operations::Operation;

/// The three lists as they were before the last mutation; each is consumed by its first read.
#[derive(Debug, Clone, Default)]
pub struct StaleLists {
    branches: Option<BTreeMap<String, Branch>>,
    snapshots: Option<Vec<Snapshot>>,
    operations: Option<Vec<Operation>>,
}

impl State {
    /// A copy of the lists to lag behind the mutation about to run (`None` unless
    /// `list_lag` is on: copying costs).
    pub fn lists_now(&self) -> Option<StaleLists> {
        self.limits.variants.list_lag.then(|| StaleLists {
            branches: Some(self.branches.clone()),
            snapshots: Some(self.snapshots.clone()),
            operations: Some(self.operations.clone()),
        })
    }

    /// After a successful mutation: the next read of each list answers from `before`.
    pub fn lag_lists(&mut self, before: StaleLists) {
        self.stale = before;
    }

    /// The branches the next branch list shows: a stale copy once after a mutation, else
    /// `None` (the current ones).
    pub fn take_stale_branches(&mut self) -> Option<BTreeMap<String, Branch>> {
        self.stale.branches.take()
    }

    /// Like [`State::take_stale_branches`], for the snapshot list.
    pub fn take_stale_snapshots(&mut self) -> Option<Vec<Snapshot>> {
        self.stale.snapshots.take()
    }

    /// Like [`State::take_stale_branches`], for the operation list.
    pub fn take_stale_operations(&mut self) -> Option<Vec<Operation>> {
        self.stale.operations.take()
    }
}

#[cfg(test)]
mod tests {
    use crate::state::test_support::*;

    #[test]
    fn each_list_answers_once_from_before_the_mutation() {
        let (mut s, _prod, dev) = demo();
        assert!(s.lists_now().is_none(), "off by default");
        s.limits.variants.list_lag = true;
        let before = s.lists_now().unwrap();
        let preview = child(&mut s, "preview", &dev);
        s.lag_lists(before);
        let stale = s.take_stale_branches().unwrap();
        assert!(!stale.contains_key(&preview), "the first read lags");
        assert!(s.take_stale_branches().is_none(), "the second is current");
        assert!(s.branch(&preview).is_some(), "one object is current");
        assert!(s.take_stale_operations().is_some());
        assert!(s.take_stale_operations().is_none());
        assert!(s.take_stale_snapshots().is_some());
    }
}
