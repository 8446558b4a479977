//! Snapshots: the quota, only roots can be snapshotted, renaming, expiry and deletion.
//! Restoring one is in `restore`.

use super::expiry::parse_rfc3339;
use super::ids::random_id;
use super::lsn::Lsn;
use super::model::Snapshot;
use super::operations::Operation;
use super::{ApiError, ApiResult, State};
use crate::time::fmt_ts;

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
        let at_lsn = match lsn.filter(|s| !s.is_empty()) {
            None => b.lsn,
            Some(raw) => match raw.parse::<Lsn>() {
                Ok(l) if l <= b.lsn => l,
                Ok(_) => {
                    return Err(ApiError::new(
                        400,
                        format!("lsn {raw} is ahead of the branch"),
                    ));
                }
                Err(()) => return Err(ApiError::new(400, format!("invalid lsn {raw:?}"))),
            },
        };
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
        self.ensure_unlocked(&[branch_id])?;
        let from = b.contents();
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
            lsn: at_lsn,
            timestamp: timestamp.map(str::to_string).unwrap_or_else(|| fmt_ts(now)),
            source_branch_id: branch_id.to_string(),
            created_at: now,
            expires_at: expires,
            manual: true,
            data: from.data,
            schemas: from.schemas,
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
        self.ensure_unlocked(&[&self.snapshots[pos].source_branch_id])?;
        self.snapshots.remove(pos);
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests;
