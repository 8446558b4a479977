//! Snapshots and restores: the quota, only roots can be snapshotted, restore into a new root
//! branch, and finalize-restore handing the target's name and computes to it.

use jiff::Timestamp;

use super::expiry::parse_rfc3339;
use super::ids::{random_id, random_lsn};
use super::model::{Branch, Endpoint, Snapshot};
use super::operations::{OpOutcome, Operation};
use super::{ApiError, ApiResult, State};
use crate::time::fmt_ts;

#[derive(Debug, Clone, Default)]
pub struct RestoreReq {
    pub name: Option<String>,
    pub target_branch_id: Option<String>,
    pub finalize_restore: bool,
}

impl State {
    /// `POST /projects/{p}/branches/{b}/snapshot` (parameters come from the query string).
    pub fn create_snapshot(
        &mut self,
        branch_id: &str,
        name: Option<&str>,
        expires_at: Option<&str>,
        lsn: Option<&str>,
        timestamp: Option<&str>,
    ) -> ApiResult<(Snapshot, Vec<Operation>)> {
        self.refresh();
        let b = self
            .branches
            .get(branch_id)
            .ok_or_else(|| ApiError::not_found("branch"))?;
        if b.parent_id.is_some() {
            return Err(ApiError::new(
                422,
                "snapshots can only be created from root branches",
            ));
        }
        if lsn.is_some() && timestamp.is_some() {
            return Err(ApiError::new(
                400,
                "lsn and timestamp cannot be used together",
            ));
        }
        let now = self.now();
        let expires = match expires_at.filter(|s| !s.is_empty()) {
            Some(raw) => {
                let t = parse_rfc3339("expires_at", raw)?;
                if t <= now {
                    return Err(ApiError::new(400, "expires_at must be in the future"));
                }
                Some(t)
            }
            None => None,
        };
        if self.snapshots.len() >= self.limits.snapshot_quota {
            return Err(ApiError::new(
                422,
                format!(
                    "snapshot limit reached: the project already has {} snapshots (limit {}); delete a snapshot to create a new one",
                    self.snapshots.len(),
                    self.limits.snapshot_quota
                ),
            ));
        }
        self.ensure_unlocked()?;
        let data = b.data.clone();
        let snap = Snapshot {
            id: loop {
                let id = random_id("snap");
                if self.snapshot(&id).is_none() {
                    break id;
                }
            },
            name: name
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| format!("{} {}", b.name, fmt_ts(now))),
            lsn: lsn.map(str::to_string).unwrap_or_else(random_lsn),
            timestamp: timestamp.map(str::to_string).unwrap_or_else(|| fmt_ts(now)),
            source_branch_id: branch_id.to_string(),
            created_at: now,
            expires_at: expires,
            manual: true,
            data,
        };
        self.snapshots.push(snap.clone());
        let op = self.new_op(
            "create_snapshot",
            "create_branch",
            Some(branch_id),
            None,
            now,
        );
        Ok((snap, vec![op]))
    }

    /// `PATCH /projects/{p}/snapshots/{s}` (name only, as the spec allows).
    /// The pinned spec only lists `name`; neonctl 5 also sends `expires_at` (null clears it),
    /// so the emulator accepts both.
    pub fn update_snapshot(
        &mut self,
        id: &str,
        name: Option<&str>,
        expires_at: Option<Option<&str>>,
    ) -> ApiResult<Snapshot> {
        self.refresh();
        let now = self.now();
        let expiry = match expires_at {
            Some(Some(raw)) => {
                let t = parse_rfc3339("expires_at", raw)?;
                if t <= now {
                    return Err(ApiError::new(400, "expires_at must be in the future"));
                }
                Some(Some(t))
            }
            Some(None) => Some(None),
            None => None,
        };
        let s = self
            .snapshots
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or_else(|| ApiError::not_found("snapshot"))?;
        if let Some(n) = name {
            s.name = n.to_string();
        }
        if let Some(e) = expiry {
            s.expires_at = e;
        }
        Ok(s.clone())
    }

    /// `DELETE /projects/{p}/snapshots/{s}`.
    pub fn delete_snapshot(&mut self, id: &str) -> ApiResult<Vec<Operation>> {
        self.refresh();
        let pos = self
            .snapshots
            .iter()
            .position(|s| s.id == id)
            .ok_or_else(|| ApiError::not_found("snapshot"))?;
        self.ensure_unlocked()?;
        self.snapshots.remove(pos);
        Ok(Vec::new())
    }

    /// `POST /projects/{p}/snapshots/{s}/restore`.
    ///
    /// Always creates a new root branch holding the snapshot's data. With `finalize_restore`
    /// the new branch takes the target's place: its name, parent, computes, default and
    /// protected flags; the target is renamed `<name> (old)` (or `name`… see below), loses
    /// default, keeps its children. Without it, the new branch is named `name` (or generated)
    /// and has no computes until `finalize_restore` is called on it.
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
        if let Some(name) = req.name.as_deref().filter(|s| !s.is_empty()) {
            let clashes = self
                .branch_by_name(name)
                .is_some_and(|b| !(req.finalize_restore && b.id == target_id));
            if clashes {
                return Err(ApiError::new(
                    409,
                    format!("branch already exists; branch_name:{name:?}"),
                ));
            }
        }
        let roots = self
            .branches
            .values()
            .filter(|b| b.parent_id.is_none())
            .count();
        if roots >= self.limits.root_branch_quota {
            return Err(ApiError::new(
                422,
                format!(
                    "root branches limit reached: the project already has {roots} root branches (limit {}); delete one to restore a snapshot",
                    self.limits.root_branch_quota
                ),
            ));
        }
        self.ensure_unlocked()?;
        let now = self.now();
        let id = self.fresh_branch_id();
        let name = req
            .name
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("{} (restored {})", snap.name, fmt_ts(now)));
        let mut branch = self.new_branch(
            id.clone(),
            name,
            None,
            snap.data.clone(),
            now,
            self.ready_time(now),
        );
        if branch.ready_at <= now {
            branch.current_state = "ready".into();
        }
        branch.restored_from = Some(snap.id.clone());
        branch.restore_status = Some("restored".into());
        branch.init_source = "parent-data".into();
        self.put_branch(branch);
        let mut ops =
            vec![self.new_op("restore_snapshot", "create_timeline", Some(&id), None, now)];
        let failed = matches!(ops[0].outcome, OpOutcome::Failed { .. });
        let mut endpoints = Vec::new();
        if req.finalize_restore && !failed {
            let (eps, more) = self.finalize_into(&id, &target_id, None, "restore_snapshot", now)?;
            endpoints = eps;
            ops.extend(more);
        } else {
            // Not finalized (asked for, or the restore failed: the target is untouched and the
            // new branch stays around, unfinalized).
            self.branches.get_mut(&id).unwrap().restore_target = Some(target_id);
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
        self.ensure_unlocked()?;
        let now = self.now();
        let (_, ops) = self.finalize_into(branch_id, &target, old_name, "finalize_restore", now)?;
        Ok(ops)
    }

    /// The swap: `new_id` takes `target_id`'s name, parent, computes and flags.
    fn finalize_into(
        &mut self,
        new_id: &str,
        target_id: &str,
        old_name: Option<&str>,
        call: &str,
        now: Timestamp,
    ) -> ApiResult<(Vec<Endpoint>, Vec<Operation>)> {
        let target = self
            .branches
            .get(target_id)
            .ok_or_else(|| ApiError::not_found("target branch"))?
            .clone();
        let old_name = old_name.map(str::to_string).unwrap_or_else(|| {
            let base = format!("{} (old)", target.name);
            let mut candidate = base.clone();
            let mut n = 1;
            while self
                .branches
                .values()
                .any(|b| b.name == candidate && b.id != target_id)
            {
                n += 1;
                candidate = format!("{base} {n}");
            }
            candidate
        });
        {
            let old = self.branches.get_mut(target_id).unwrap();
            old.name = old_name;
            old.default = false;
            old.primary = false;
            if self.limits.restore_moves_protection {
                old.protected = false;
            }
            old.updated_at = now;
        }
        let moves_protection = self.limits.restore_moves_protection;
        let new = self.branches.get_mut(new_id).unwrap();
        new.name = target.name.clone();
        new.parent_id = target.parent_id.clone();
        new.parent_lsn = target.parent_lsn.clone();
        new.parent_timestamp = target.parent_timestamp;
        new.default = target.default;
        new.primary = target.default;
        new.protected = moves_protection && target.protected;
        new.restored_as = Some(target_id.to_string());
        new.restore_target = None;
        new.restore_status = Some("finalized".into());
        new.updated_at = now;
        let mut moved = Vec::new();
        for e in self
            .endpoints
            .iter_mut()
            .filter(|e| e.branch_id == target_id)
        {
            e.branch_id = new_id.to_string();
            e.updated_at = now;
            moved.push(e.id.clone());
        }
        let mut ops = Vec::new();
        for ep in &moved {
            ops.push(self.new_op(call, "apply_config", Some(new_id), Some(ep), now));
        }
        let endpoints = self
            .endpoints
            .iter()
            .filter(|e| e.branch_id == new_id)
            .cloned()
            .collect();
        Ok((endpoints, ops))
    }
}

#[cfg(test)]
mod tests;
