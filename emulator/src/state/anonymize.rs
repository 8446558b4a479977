//! Anonymized branches (static masking with PostgreSQL Anonymizer): a branch created through
//! `POST /projects/{p}/branch_anonymized` with masking rules, whose anonymization runs as an
//! operation and then replaces its data with a masked copy.
//!
//! Choices where Neon's behaviour is not documented: rules must name a database of the project
//! and a column of the branch's schema (else 400, at the request); the anonymization is one
//! `apply_config` operation on the branch (the action enum has nothing more specific), queued
//! behind the branch's own operations; its end is a write that sets the data tag to
//! `anonymized(<data>)`. States (`AnonymizedBranchStatusResponse.state`): `created` until the
//! branch is ready, then `initialized`; `anonymizing` while the operation runs; `anonymized`,
//! or `error` (with the operation's error) when it ends.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::branches::{CreateBranchReq, CreatedBranch};
use super::operations::Operation;
use super::{ApiError, ApiResult, State};
use crate::time::fmt_ts;

/// One masking rule, as the API takes and returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskingRule {
    pub database_name: String,
    pub schema_name: String,
    pub table_name: String,
    pub column_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masking_function: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masking_value: Option<String>,
}

/// An anonymized branch's rules and its latest run.
#[derive(Debug, Clone)]
pub struct Anonymization {
    pub rules: Vec<MaskingRule>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The latest run's operation, when it started, and whether its result was written.
    pub run: Option<(String, Timestamp, bool)>,
}

/// Anonymizations by branch id.
pub type Anonymizations = BTreeMap<String, Anonymization>;

impl State {
    /// `POST /projects/{p}/branch_anonymized`: a branch like [`State::create_branch`] makes,
    /// with `rules`; `start` starts the anonymization at once.
    pub fn create_branch_anonymized(
        &mut self,
        req: CreateBranchReq,
        rules: Vec<MaskingRule>,
        start: bool,
    ) -> ApiResult<CreatedBranch> {
        let parent = match req.parent_id.as_deref().filter(|s| !s.is_empty()) {
            Some(p) => self.branch(p),
            None => self.default_branch(),
        }
        .ok_or_else(|| ApiError::not_found("parent branch"))?
        .id
        .clone();
        self.check_rules(&parent, &rules)?;
        let mut created = self.create_branch(req)?;
        let id = created.branch.id.clone();
        let now = self.now();
        self.anonymized.insert(
            id.clone(),
            Anonymization {
                rules,
                created_at: now,
                updated_at: now,
                run: None,
            },
        );
        if start {
            // Behind the branch's own operations (its timeline, then its computes).
            let d = self.limits.op_duration;
            let queued = if created.endpoints.is_empty() {
                d
            } else {
                d * 2
            };
            created.operations.push(self.start_run(&id, queued));
        }
        Ok(created)
    }

    /// `PATCH /projects/{p}/branches/{b}/masking_rules`: replaces the rules.
    pub fn set_masking_rules(&mut self, id: &str, rules: Vec<MaskingRule>) -> ApiResult<()> {
        self.refresh();
        self.anonymization(id)?;
        self.check_rules(id, &rules)?;
        self.ensure_unlocked(&[id])?;
        let now = self.now();
        let a = self.anonymized.get_mut(id).expect("checked above");
        a.rules = rules;
        a.updated_at = now;
        Ok(())
    }

    /// `POST /projects/{p}/branches/{b}/anonymize`: a new run (423 while one runs).
    pub fn start_anonymization(&mut self, id: &str) -> ApiResult<Value> {
        self.refresh();
        self.anonymization(id)?;
        self.ensure_unlocked(&[id])?;
        self.start_run(id, Duration::ZERO);
        self.anonymized_status(id)
    }

    /// The rules of an anonymized branch (404 for any other branch).
    pub fn anonymization(&self, id: &str) -> ApiResult<&Anonymization> {
        self.branch(id)
            .ok_or_else(|| ApiError::not_found("branch"))?;
        self.anonymized
            .get(id)
            .ok_or_else(|| ApiError::not_found("anonymized branch"))
    }

    /// `GET /projects/{p}/branches/{b}/anonymized_status`.
    pub fn anonymized_status(&self, id: &str) -> ApiResult<Value> {
        let a = self.anonymization(id)?;
        let now = self.now();
        let run = a
            .run
            .as_ref()
            .and_then(|(op, started, _)| Some((self.operation(op)?, *started)));
        let mut v = json!({
            "project_id": self.project.id,
            "branch_id": id,
            "created_at": fmt_ts(a.created_at),
            "updated_at": fmt_ts(a.updated_at),
        });
        let state = match run {
            None if self.branch(id).is_some_and(|b| b.current_state == "ready") => "initialized",
            None => "created",
            Some((op, started)) => {
                let ended = op.created_at
                    + SignedDuration::try_from(op.queued + op.duration).unwrap_or_default();
                let mut last_run = json!({"started_at": fmt_ts(started)});
                let state = if !op.is_terminal(now) {
                    "anonymizing"
                } else {
                    last_run["completed_at"] = json!(fmt_ts(ended));
                    v["updated_at"] = json!(fmt_ts(ended.max(a.updated_at)));
                    match &op.outcome {
                        super::OpOutcome::Finished => {
                            last_run["masked_columns"] = json!(a.rules.len());
                            "anonymized"
                        }
                        super::OpOutcome::Failed { error, .. } => {
                            v["failed_at"] = json!(fmt_ts(ended));
                            v["status_message"] = json!(error);
                            "error"
                        }
                    }
                };
                v["last_run"] = last_run;
                state
            }
        };
        v["state"] = json!(state);
        Ok(v)
    }

    fn start_run(&mut self, id: &str, queued: Duration) -> Operation {
        let now = self.now();
        let op = self.new_op_queued("anonymize", "apply_config", Some(id), None, now, queued);
        let a = self.anonymized.get_mut(id).expect("an anonymized branch");
        a.run = Some((op.id.clone(), now, false));
        a.updated_at = now;
        op
    }

    /// Runs that finished well write their result (the masked data). Called by `refresh`.
    pub(super) fn settle_anonymizations(&mut self, now: Timestamp) {
        let done: Vec<String> = self
            .anonymized
            .iter()
            .filter_map(|(id, a)| {
                let (op, _, written) = a.run.as_ref()?;
                let op = self.operation(op)?;
                (!written && op.is_terminal(now) && !op.outcome.is_failure()).then(|| id.clone())
            })
            .collect();
        for id in done {
            if let Some((_, _, written)) = self.anonymized.get_mut(&id).and_then(|a| a.run.as_mut())
            {
                *written = true;
            }
            if self.branches.contains_key(&id) {
                self.write_branch(&id, |b| b.data = format!("anonymized({})", b.data));
            }
        }
    }

    /// Every rule must name a database of the project and a column of branch `id`'s schema.
    fn check_rules(&self, id: &str, rules: &[MaskingRule]) -> ApiResult<()> {
        for r in rules {
            if !self.databases.iter().any(|d| d.name == r.database_name) {
                return Err(ApiError::new(
                    400,
                    format!(
                        "masking rule: database {:?} does not exist",
                        r.database_name
                    ),
                ));
            }
            let exists = self
                .schema_of(id, &r.database_name)
                .unwrap_or(&[])
                .iter()
                .filter(|t| t.schema == r.schema_name && t.name == r.table_name)
                .any(|t| t.columns.iter().any(|c| c.name == r.column_name));
            if !exists {
                return Err(ApiError::new(
                    400,
                    format!(
                        "masking rule: column {}.{}.{} does not exist in database {}",
                        r.schema_name, r.table_name, r.column_name, r.database_name
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
