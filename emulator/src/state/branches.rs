//! Branch creation, update and deletion, with the rules the API enforces on names, expiry,
//! protection and children.

use serde_json::{Map, Value, json};

use super::endpoints::NewEndpoint;
use super::model::{Branch, Endpoint, EndpointType};
use super::operations::Operation;
use super::{ApiError, ApiResult, State};
use crate::time::fmt_ts;

/// Body of a branch creation, already parsed.
#[derive(Debug, Clone, Default)]
pub struct CreateBranchReq {
    pub name: Option<String>,
    pub parent_id: Option<String>,
    pub expires_at: Option<String>,
    pub protected: Option<bool>,
    pub endpoints: Vec<NewEndpoint>,
    /// `parent-data` (default: schema and data), `parent-schema` (a child with the parent's
    /// schema and no data) or `schema-only` (a root branch with `parent_id`'s schema and no
    /// data: no parent relation, as the 2.7.3 spec says).
    pub init_source: Option<String>,
    /// `annotation_value`: string properties kept with the branch.
    pub annotation_value: Option<Map<String, Value>>,
}

/// What a branch creation returns.
#[derive(Debug, Clone)]
pub struct CreatedBranch {
    pub branch: Branch,
    pub endpoints: Vec<Endpoint>,
    pub operations: Vec<Operation>,
}

/// `PATCH` body; `expires_at: Some(None)` clears the expiry.
#[derive(Debug, Clone, Default)]
pub struct UpdateBranchReq {
    pub name: Option<String>,
    pub protected: Option<bool>,
    pub expires_at: Option<Option<String>>,
}

impl State {
    /// `POST /projects/{p}/branches`.
    pub fn create_branch(&mut self, req: CreateBranchReq) -> ApiResult<CreatedBranch> {
        self.refresh();
        let parent_id = match req.parent_id.as_deref().filter(|s| !s.is_empty()) {
            Some(p) => p.to_string(),
            None => self
                .default_branch()
                .map(|b| b.id.clone())
                .ok_or_else(|| ApiError::not_found("default branch"))?,
        };
        let parent = self
            .branches
            .get(&parent_id)
            .ok_or_else(|| ApiError::not_found("parent branch"))?;
        if let Some(name) = &req.name {
            if name.is_empty() || name.len() > 256 {
                return Err(ApiError::new(
                    400,
                    "branch name must be 1 to 256 characters long",
                ));
            }
        }
        if parent.expires_at.is_some() {
            return Err(ApiError::new(
                400,
                "cannot create a branch from a parent branch with an expiration time (expires_at)",
            ));
        }
        let rw = req
            .endpoints
            .iter()
            .filter(|e| e.kind == EndpointType::ReadWrite)
            .count();
        for e in &req.endpoints {
            e.validate()?;
        }
        let init_source = req.init_source.as_deref().unwrap_or("parent-data");
        let (keeps_data, is_root) = match init_source {
            "parent-data" => (true, false),
            "parent-schema" => (false, false),
            "schema-only" => (false, true),
            other => {
                return Err(ApiError::new(
                    400,
                    format!(
                        "init_source: {other:?} must be parent-data, parent-schema or schema-only"
                    ),
                ));
            }
        };
        if is_root {
            self.ensure_room_for_a_root("create a schema-only branch")?;
        }
        if rw > 1 {
            return Err(ApiError::new(
                400,
                "a branch can have only one read_write endpoint",
            ));
        }
        let expires_at = match &req.expires_at {
            Some(raw) => {
                if req.protected == Some(true) {
                    return Err(ApiError::new(
                        400,
                        "expires_at cannot be set on a protected branch",
                    ));
                }
                Some(self.validate_expiry(raw)?)
            }
            None => None,
        };
        if let Some(name) = &req.name {
            if self.branch_by_name(name).is_some() {
                return Err(ApiError::new(
                    409,
                    format!("branch already exists; branch_name:{name:?}"),
                ));
            }
        }
        self.ensure_unlocked(&[&parent_id])?;

        let now = self.now();
        let id = self.fresh_branch_id();
        let name = req.name.clone().unwrap_or_else(|| id.clone());
        let mut from = parent.contents();
        if !keeps_data {
            from.data.clear();
        }
        if is_root {
            // A new timeline: it starts at the project's head, not at the source's LSN.
            from.lsn = self.lsn_head;
        }
        let mut branch = self.new_branch(
            id.clone(),
            name,
            (!is_root).then_some(parent_id),
            from,
            now,
            self.ready_time(now),
        );
        if branch.ready_at <= now {
            branch.current_state = "ready".into();
        }
        branch.protected = req.protected.unwrap_or(false);
        branch.init_source = init_source.to_string();
        if let Some(t) = expires_at {
            branch.expires_at = Some(t);
            branch.ttl_interval_seconds = Some(t.duration_since(now).as_secs());
        }
        self.put_branch(branch);
        if let Some(value) = req.annotation_value {
            self.annotations.insert(
                id.clone(),
                json!({
                    "object": {"type": "console/branch", "id": id},
                    "value": value,
                    "created_at": fmt_ts(now),
                    "updated_at": fmt_ts(now),
                }),
            );
        }

        let mut operations =
            vec![self.new_op("create_branch", "create_timeline", Some(&id), None, now)];
        let mut endpoints = Vec::new();
        // Computes start once the timeline exists: their operations queue behind it (one
        // branch with a compute takes two operation lengths, as on Neon).
        for new in &req.endpoints {
            let d = self.limits.op_duration;
            let ep = self.insert_endpoint(&id, *new, d * 2);
            operations.push(self.new_op_queued(
                "create_branch",
                "start_compute",
                Some(&id),
                Some(&ep.id),
                now,
                d,
            ));
            endpoints.push(ep);
        }
        Ok(CreatedBranch {
            branch: self.branches[&id].clone(),
            endpoints,
            operations,
        })
    }

    /// `PATCH /projects/{p}/branches/{b}`.
    pub fn update_branch(
        &mut self,
        id: &str,
        req: UpdateBranchReq,
    ) -> ApiResult<(Branch, Vec<Operation>)> {
        self.refresh();
        let b = self
            .branches
            .get(id)
            .ok_or_else(|| ApiError::not_found("branch"))?;
        let will_be_protected = req.protected.unwrap_or(b.protected);
        let new_expiry = match &req.expires_at {
            Some(Some(raw)) => {
                if will_be_protected {
                    return Err(ApiError::new(
                        400,
                        "expires_at cannot be set on a protected branch",
                    ));
                }
                if b.default {
                    return Err(ApiError::new(
                        400,
                        "expires_at cannot be set on the default branch",
                    ));
                }
                if self
                    .branches
                    .values()
                    .any(|c| c.parent_id.as_deref() == Some(id))
                {
                    return Err(ApiError::new(
                        400,
                        "expires_at cannot be set on a branch that has child branches",
                    ));
                }
                Some(Some(self.validate_expiry(raw)?))
            }
            Some(None) => Some(None),
            None => None,
        };
        if req.protected == Some(true) && b.expires_at.is_some() && new_expiry.is_none() {
            return Err(ApiError::new(
                400,
                "a branch with an expiration time (expires_at) cannot be protected",
            ));
        }
        if let Some(name) = &req.name {
            if name.is_empty() || name.len() > 256 {
                return Err(ApiError::new(
                    400,
                    "branch name must be 1 to 256 characters long",
                ));
            }
            if self
                .branches
                .values()
                .any(|o| o.name == *name && o.id != id)
            {
                return Err(ApiError::new(
                    409,
                    format!("branch already exists; branch_name:{name:?}"),
                ));
            }
        }
        let now = self.now();
        let b = self.branches.get_mut(id).unwrap();
        if let Some(name) = req.name {
            b.name = name;
        }
        if let Some(p) = req.protected {
            b.protected = p;
        }
        match new_expiry {
            Some(Some(t)) => {
                b.expires_at = Some(t);
                b.ttl_interval_seconds = Some(t.duration_since(now).as_secs());
            }
            Some(None) => {
                b.expires_at = None;
                b.ttl_interval_seconds = None;
            }
            None => {}
        }
        b.updated_at = now;
        Ok((b.clone(), Vec::new()))
    }

    /// `DELETE /projects/{p}/branches/{b}`. `Ok(None)`: no such branch (the spec's 204).
    pub fn delete_branch(&mut self, id: &str) -> ApiResult<Option<(Branch, Vec<Operation>)>> {
        self.refresh();
        let Some(b) = self.branches.get(id) else {
            return Ok(None);
        };
        if b.default {
            return Err(ApiError::new(
                422,
                "cannot delete the project's default branch",
            ));
        }
        if b.protected {
            return Err(ApiError::new(422, "cannot delete a protected branch"));
        }
        if self
            .branches
            .values()
            .any(|c| c.parent_id.as_deref() == Some(id))
        {
            return Err(ApiError::new(
                422,
                "cannot delete a branch that has child branches; delete the child branches first",
            ));
        }
        self.ensure_unlocked(&[id])?;
        let now = self.now();
        let eps: Vec<String> = self.endpoints_of(id).iter().map(|e| e.id.clone()).collect();
        let mut ops = Vec::new();
        for ep in &eps {
            ops.push(self.new_op("delete_branch", "suspend_compute", Some(id), Some(ep), now));
        }
        ops.push(self.new_op("delete_branch", "delete_timeline", Some(id), None, now));
        let mut b = self.forget_branch(id).expect("checked above");
        b.updated_at = now;
        Ok(Some((b, ops)))
    }
}

#[cfg(test)]
mod tests;
