//! Restoring a snapshot into a new root branch, and finalize-restore: the new branch takes the
//! target's name, parent, computes and flags (the target's id does not move), the target is
//! renamed `<name> (old)`. When the swap happens and what a failed restore leaves are
//! [`RestoreRename`] and [`FailedRestore`].

use jiff::{SignedDuration, Timestamp};

use super::model::{Branch, Endpoint};
use super::operations::Operation;
use super::variants::{FailedRestore, RestoreRename};
use super::{ApiError, ApiResult, State};
use crate::time::fmt_ts;

#[derive(Debug, Clone, Default)]
pub struct RestoreReq {
    pub name: Option<String>,
    pub target_branch_id: Option<String>,
    pub finalize_restore: bool,
}

/// A swap waiting for its operations to end ([`RestoreRename::WhenFinished`]).
#[derive(Debug, Clone)]
pub struct PendingSwap {
    pub new_id: String,
    pub target_id: String,
    /// The name the target gets (`None`: `<name> (old)`).
    pub old_name: Option<String>,
    pub op_ids: Vec<String>,
}

impl State {
    /// `POST /projects/{p}/snapshots/{s}/restore`.
    ///
    /// Always creates a new root branch holding the snapshot's data (and schema, at the
    /// snapshot's LSN). With `finalize_restore` the new branch takes the target's place (see
    /// the module docs); without it, it is named `name` (or generated) and has no computes
    /// until `finalize_restore` is called on it. A restore whose `create_timeline` fails (or is
    /// cancelled) makes a branch that never becomes ready and holds no data.
    pub fn restore_snapshot(
        &mut self,
        snapshot_id: &str,
        req: RestoreReq,
    ) -> ApiResult<(Branch, Vec<Endpoint>, Vec<Operation>)> {
        self.refresh();
        let snap = self
            .snapshot(snapshot_id)
            .ok_or_else(|| ApiError::not_found("snapshot"))?
            .clone();
        let target_id = req
            .target_branch_id
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| snap.source_branch_id.clone());
        if req.finalize_restore && !self.branches.contains_key(&target_id) {
            return Err(ApiError::not_found("target branch"));
        }
        let asked = req.name.as_deref().filter(|s| !s.is_empty());
        let taken_by = asked
            .and_then(|n| self.branch_by_name(n))
            .map(|b| b.id.as_str());
        if taken_by.is_some_and(|id| !(req.finalize_restore && id == target_id)) {
            return Err(ApiError::new(
                409,
                format!(
                    "branch already exists; branch_name:{:?}",
                    asked.unwrap_or("")
                ),
            ));
        }
        self.ensure_room_for_a_root("restore a snapshot")?;
        self.ensure_unlocked(&[&target_id])?;
        let now = self.now();
        let id = self.fresh_branch_id();
        // The target's own name (finalize) is only free once the swap is done.
        let name = match (asked, taken_by) {
            (Some(n), None) => n.to_string(),
            _ => format!("{} (restored {})", snap.name, fmt_ts(now)),
        };
        let mut branch = self.new_branch(
            id.clone(),
            name,
            None,
            snap.contents(),
            now,
            self.ready_time(now),
        );
        branch.restored_from = Some(snap.id.clone());
        branch.restore_status = Some("restored".into());
        branch.init_source = "parent-data".into();
        branch.restore_target = Some(target_id.clone());
        self.put_branch(branch);
        let ops = vec![self.new_op("restore_snapshot", "create_timeline", Some(&id), None, now)];
        let failed = ops[0].outcome.is_failure();
        if failed {
            let b = self.branches.get_mut(&id).unwrap();
            b.ready_at = Timestamp::MAX;
            b.current_state = "init".into();
            b.data.clear();
        }
        let mut endpoints = Vec::new();
        let mut ops = ops;
        let rename_anyway = self.limits.variants.failed_restore == FailedRestore::Renamed;
        if req.finalize_restore && (!failed || rename_anyway || self.swaps_later()) {
            let (eps, more) = self.finalize(&id, None, "restore_snapshot", ops.clone(), now)?;
            endpoints = eps;
            ops.extend(more);
        }
        Ok((self.branches[&id].clone(), endpoints, ops))
    }

    /// `POST /projects/{p}/branches/{b}/finalize_restore`: `branch_id` (made by a restore
    /// without finalize) replaces the branch it was restored for.
    pub fn finalize_restore(
        &mut self,
        branch_id: &str,
        old_name: Option<&str>,
    ) -> ApiResult<Vec<Operation>> {
        self.refresh();
        let b = self
            .branches
            .get(branch_id)
            .ok_or_else(|| ApiError::not_found("branch"))?;
        let target = match (
            &b.restored_from,
            &b.restore_target,
            b.restore_status.as_deref(),
        ) {
            (Some(_), Some(t), Some("restored")) => t.clone(),
            _ => {
                return Err(ApiError::new(
                    400,
                    "branch was not created by a snapshot restore, or is already finalized",
                ));
            }
        };
        if !self.branches.contains_key(&target) {
            return Err(ApiError::not_found("target branch"));
        }
        if self.pending_swaps.iter().any(|p| p.new_id == branch_id) {
            return Err(ApiError::locked());
        }
        self.ensure_unlocked(&[branch_id, &target])?;
        let now = self.now();
        let (_, ops) = self.finalize(branch_id, old_name, "finalize_restore", Vec::new(), now)?;
        Ok(ops)
    }

    /// 422 when the project has `root_branch_quota` root branches already.
    pub(super) fn ensure_room_for_a_root(&self, to: &str) -> ApiResult<()> {
        let roots = self
            .branches
            .values()
            .filter(|b| b.parent_id.is_none())
            .count();
        if roots >= self.limits.root_branch_quota {
            return Err(ApiError::new(
                422,
                format!(
                    "root branches limit reached: the project already has {roots} root branches (limit {}); delete one to {to}",
                    self.limits.root_branch_quota
                ),
            ));
        }
        Ok(())
    }

    fn swaps_later(&self) -> bool {
        self.limits.variants.restore_rename == RestoreRename::WhenFinished
    }

    /// Starts the finalize of `new_id` into its `restore_target`: an `apply_config` operation
    /// per compute that moves, and the swap now or once those and `earlier` operations end.
    /// Returns the computes the new branch has now and the operations started.
    fn finalize(
        &mut self,
        new_id: &str,
        old_name: Option<&str>,
        call: &str,
        earlier: Vec<Operation>,
        now: Timestamp,
    ) -> ApiResult<(Vec<Endpoint>, Vec<Operation>)> {
        let target_id = self.branches[new_id]
            .restore_target
            .clone()
            .ok_or_else(|| ApiError::not_found("target branch"))?;
        let moving: Vec<String> = self
            .endpoints_of(&target_id)
            .iter()
            .map(|e| e.id.clone())
            .collect();
        let ops: Vec<Operation> = moving
            .iter()
            .map(|ep| self.new_op(call, "apply_config", Some(new_id), Some(ep), now))
            .collect();
        if self.swaps_later() {
            self.pending_swaps.push(PendingSwap {
                new_id: new_id.to_string(),
                target_id,
                old_name: old_name.map(str::to_string),
                op_ids: earlier.iter().chain(&ops).map(|o| o.id.clone()).collect(),
            });
        } else {
            self.swap(new_id, &target_id, old_name, now);
        }
        let endpoints = self.endpoints_of(new_id).into_iter().cloned().collect();
        Ok((endpoints, ops))
    }

    /// Pending swaps whose operations have all ended: swapped (or, when one failed and
    /// failed restores leave the target untouched, left unfinalized). Called by `refresh`.
    pub(super) fn settle_swaps(&mut self, now: Timestamp) {
        let pending = std::mem::take(&mut self.pending_swaps);
        for p in pending {
            let ops: Vec<&Operation> = p
                .op_ids
                .iter()
                .filter_map(|id| self.operation(id))
                .collect();
            if ops.iter().any(|o| !o.is_terminal(now)) {
                self.pending_swaps.push(p);
                continue;
            }
            let ended = ops
                .iter()
                .map(|o| {
                    o.created_at
                        + SignedDuration::try_from(o.queued + o.duration).unwrap_or_default()
                })
                .max()
                .unwrap_or(now);
            let failed = ops.iter().any(|o| o.outcome.is_failure());
            let both_exist =
                self.branches.contains_key(&p.new_id) && self.branches.contains_key(&p.target_id);
            let rename_anyway = self.limits.variants.failed_restore == FailedRestore::Renamed;
            if both_exist && (!failed || rename_anyway) {
                self.swap(&p.new_id, &p.target_id, p.old_name.as_deref(), ended);
            }
        }
    }

    /// The swap itself: `new_id` takes `target_id`'s name, parent, computes and flags.
    fn swap(&mut self, new_id: &str, target_id: &str, old_name: Option<&str>, at: Timestamp) {
        let target = self.branches[target_id].clone();
        let old_name = old_name
            .map(str::to_string)
            .unwrap_or_else(|| self.free_old_name(&target));
        let moves_protection = self.limits.restore_moves_protection;
        {
            let old = self.branches.get_mut(target_id).unwrap();
            old.name = old_name;
            old.default = false;
            old.primary = false;
            if moves_protection {
                old.protected = false;
            }
            old.updated_at = at;
        }
        let new = self.branches.get_mut(new_id).unwrap();
        new.name = target.name.clone();
        new.parent_id = target.parent_id.clone();
        new.parent_lsn = target.parent_lsn;
        new.parent_timestamp = target.parent_timestamp;
        new.default = target.default;
        new.primary = target.default;
        new.protected = moves_protection && target.protected;
        new.restored_as = Some(target_id.to_string());
        new.restore_target = None;
        new.restore_status = Some("finalized".into());
        new.updated_at = at;
        for e in self
            .endpoints
            .iter_mut()
            .filter(|e| e.branch_id == target_id)
        {
            e.branch_id = new_id.to_string();
            e.updated_at = at;
        }
    }

    /// `<name> (old)`, or `<name> (old) 2`, … when taken.
    fn free_old_name(&self, target: &Branch) -> String {
        let base = format!("{} (old)", target.name);
        let mut candidate = base.clone();
        let mut n = 1;
        while self
            .branches
            .values()
            .any(|b| b.name == candidate && b.id != target.id)
        {
            n += 1;
            candidate = format!("{base} {n}");
        }
        candidate
    }
}

#[cfg(test)]
mod tests;
