//! Snapshots: the quota, only roots can be snapshotted, renaming, expiry and deletion.
//! Restoring one is in `restore`.

use super::expiry::parse_rfc3339;
use super::ids::random_id;
use super::lsn::Lsn;
use super::model::Snapshot;
use super::operations::Operation;
use super::variants::SnapshotSlug;
use super::{ApiError, ApiResult, State};
use crate::time::fmt_ts;

/// Query of `POST /projects/{p}/branches/{b}/snapshot` (the spec puts every parameter in the
/// query string).
#[derive(Debug, Clone, Default)]
pub struct SnapshotReq {
    pub name: Option<String>,
    pub expires_at: Option<String>,
    pub lsn: Option<String>,
    pub timestamp: Option<String>,
    /// `@neon/sdk` 6.1.2 (not in the 2.7.3 spec): see [`SnapshotSlug`].
    pub slug: Option<String>,
}

impl SnapshotReq {
    pub fn named(name: &str) -> SnapshotReq {
        SnapshotReq {
            name: Some(name.to_string()),
            ..SnapshotReq::default()
        }
    }
}

/// A slug as the SDK documents it: a lowercase letter first, then lowercase letters, digits
/// and hyphens, ending with a letter or digit (at most 63 characters, like a DNS label).
fn valid_slug(slug: &str) -> bool {
    let b = slug.as_bytes();
    (1..=63).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && !slug.ends_with('-')
}

impl State {
    /// `POST /projects/{p}/branches/{b}/snapshot`. An explicit `lsn` must parse and not be
    /// ahead of the branch; the snapshot records it but captures the branch's current data and
    /// schema (the emulator keeps no history).
    pub fn create_snapshot(
        &mut self,
        branch_id: &str,
        req: SnapshotReq,
    ) -> ApiResult<(Snapshot, Vec<Operation>)> {
        self.refresh();
        let given = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
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
        if req.lsn.is_some() && req.timestamp.is_some() {
            return Err(ApiError::new(
                400,
                "lsn and timestamp cannot be used together",
            ));
        }
        let at_lsn = match given(&req.lsn) {
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
        let expires = given(&req.expires_at)
            .map(|raw| self.future("expires_at", &raw))
            .transpose()?;
        let slug = match (self.limits.variants.snapshot_slug, given(&req.slug)) {
            (SnapshotSlug::Honoured, Some(slug)) => {
                if !valid_slug(&slug) {
                    return Err(ApiError::new(
                        400,
                        format!(
                            "slug: {slug:?} must start with a lowercase letter, contain only lowercase letters, numbers and hyphens, and end with a letter or number"
                        ),
                    ));
                }
                if self.snapshots.iter().any(|s| s.slug == slug) {
                    return Err(ApiError::new(
                        409,
                        format!("snapshot already exists; slug:{slug:?}"),
                    ));
                }
                Some(slug)
            }
            _ => None,
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
        let now = self.now();
        let from = b.contents();
        let id = loop {
            let id = random_id("snap");
            if self.snapshot(&id).is_none() && !self.snapshots.iter().any(|s| s.slug == id) {
                break id;
            }
        };
        let snap = Snapshot {
            slug: slug.unwrap_or_else(|| id.clone()),
            id,
            name: given(&req.name).unwrap_or_else(|| format!("{} {}", b.name, fmt_ts(now))),
            lsn: at_lsn,
            timestamp: req.timestamp.unwrap_or_else(|| fmt_ts(now)),
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

    /// A snapshot expiry: RFC 3339 and in the future (no upper bound is documented).
    fn future(&self, field: &str, raw: &str) -> ApiResult<jiff::Timestamp> {
        let t = parse_rfc3339(field, raw)?;
        if t <= self.now() {
            return Err(ApiError::new(400, format!("{field} must be in the future")));
        }
        Ok(t)
    }

    /// `PATCH /projects/{p}/snapshots/{s}`: `name` (both specs) and `expires_at` (`@neon/sdk`
    /// 6.1.2 and neonctl 5; `null` clears it). The slug cannot change.
    pub fn update_snapshot(
        &mut self,
        id: &str,
        name: Option<&str>,
        expires_at: Option<Option<&str>>,
    ) -> ApiResult<Snapshot> {
        self.refresh();
        let expiry = match expires_at {
            Some(Some(raw)) => Some(Some(self.future("expires_at", raw)?)),
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
