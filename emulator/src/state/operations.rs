//! Operations: their clock-derived status, scripted failures, the project lock (423) while one
//! runs, and the newest-first operations list.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::ids::uuid;
use super::variants::LockScope;
use super::{ApiError, ApiResult, State};
use crate::time::fmt_ts;

/// `GET /operations` accepts 1..=1000.
pub const MAX_OPERATIONS_LIMIT: usize = 1_000;

/// How an operation ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpOutcome {
    Finished,
    /// `failed`, `error` or `cancelled`, with the `error` text: the operation did not do its
    /// work (Neon's SDK treats all three as failures).
    Failed {
        status: String,
        error: String,
    },
}

impl OpOutcome {
    pub fn is_failure(&self) -> bool {
        matches!(self, OpOutcome::Failed { .. })
    }
}

/// An operation. Its status is derived from the clock: `scheduling` while it waits for an
/// earlier operation of the same call (`queued`) and for the first fifth of `duration`, then
/// `running` (an operation that ends `cancelled` is `cancelling` for the last fifth), then the
/// outcome.
#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    pub project_id: String,
    pub branch_id: Option<String>,
    pub endpoint_id: Option<String>,
    pub action: String,
    pub created_at: Timestamp,
    /// Waiting time before it starts (a compute starts once its timeline exists).
    pub queued: Duration,
    pub duration: Duration,
    pub outcome: OpOutcome,
}

impl Operation {
    pub fn status(&self, now: Timestamp) -> &str {
        // Zero-length operations are born finished, whatever the caller's idea of "now".
        let elapsed = if self.duration.is_zero() {
            SignedDuration::MAX
        } else {
            now.duration_since(self.created_at)
        };
        let queued = SignedDuration::try_from(self.queued).unwrap_or(SignedDuration::MAX);
        let run = SignedDuration::try_from(self.duration).unwrap_or(SignedDuration::MAX);
        if elapsed >= queued.saturating_add(run) {
            match &self.outcome {
                OpOutcome::Finished => "finished",
                OpOutcome::Failed { status, .. } => status,
            }
        } else if elapsed < queued.saturating_add(run / 5) {
            "scheduling"
        } else if elapsed >= queued.saturating_add(run * 4 / 5)
            && matches!(&self.outcome, OpOutcome::Failed { status, .. } if status == "cancelled")
        {
            "cancelling"
        } else {
            "running"
        }
    }
    pub fn is_terminal(&self, now: Timestamp) -> bool {
        matches!(
            self.status(now),
            "finished" | "failed" | "error" | "cancelled" | "skipped"
        )
    }
    /// The JSON the API returns, as seen at `now`.
    pub fn to_json(&self, now: Timestamp) -> Value {
        let status = self.status(now);
        let terminal = self.is_terminal(now);
        let updated = if terminal {
            self.created_at
                + SignedDuration::try_from(self.queued + self.duration).unwrap_or_default()
        } else {
            now
        };
        let mut v = json!({
            "id": self.id,
            "project_id": self.project_id,
            "action": self.action,
            "status": status,
            "failures_count": if terminal && matches!(self.outcome, OpOutcome::Failed{..}) { 1 } else { 0 },
            "created_at": fmt_ts(self.created_at),
            "updated_at": fmt_ts(updated),
            "total_duration_ms": if terminal { self.duration.as_millis() as i64 } else { now.duration_since(self.created_at).as_millis() as i64 },
        });
        if let Some(b) = &self.branch_id {
            v["branch_id"] = json!(b);
        }
        if let Some(e) = &self.endpoint_id {
            v["endpoint_id"] = json!(e);
        }
        if terminal && let OpOutcome::Failed { error, .. } = &self.outcome {
            v["error"] = json!(error);
        }
        v
    }
}

/// A scripted operation failure (see `Fault::FailOperation`): the next `times` operations whose
/// action, or whose API call (`create_branch`, `create_snapshot`, `restore_snapshot`,
/// `delete_branch`, `create_endpoint`, `finalize_restore`), equals `action` end with `status`.
#[derive(Debug, Clone)]
pub struct OpFailure {
    pub action: String,
    pub status: String,
    pub error: String,
    pub times: usize,
}

impl State {
    /// 423 for a mutation that touches the branches `touched` while an operation blocks it:
    /// any running operation of the project, or (with [`LockScope::PerBranch`]) one on a
    /// touched branch or a pending swap of one.
    pub fn ensure_unlocked(&self, touched: &[&str]) -> ApiResult<()> {
        let now = self.now();
        let per_branch = self.limits.variants.lock_scope == LockScope::PerBranch;
        let blocks =
            |branch: Option<&str>| !per_branch || branch.is_some_and(|b| touched.contains(&b));
        // Operations are appended in time order: only the tail can still be running.
        let running = self
            .operations
            .iter()
            .rev()
            .take(64)
            .any(|o| !o.is_terminal(now) && blocks(o.branch_id.as_deref()));
        let swapping = self
            .pending_swaps
            .iter()
            .any(|p| blocks(Some(&p.new_id)) || blocks(Some(&p.target_id)));
        if running || swapping {
            return Err(ApiError::locked());
        }
        Ok(())
    }

    /// Operations that have not ended yet.
    pub fn running_operations(&self) -> Vec<&Operation> {
        let now = self.now();
        self.operations
            .iter()
            .filter(|o| !o.is_terminal(now))
            .collect()
    }

    pub(super) fn new_op(
        &mut self,
        call: &str,
        action: &str,
        branch_id: Option<&str>,
        endpoint_id: Option<&str>,
        at: Timestamp,
    ) -> Operation {
        self.new_op_queued(call, action, branch_id, endpoint_id, at, Duration::ZERO)
    }

    /// An operation that starts `queued` after `at` (it waits for an earlier one).
    pub(super) fn new_op_queued(
        &mut self,
        call: &str,
        action: &str,
        branch_id: Option<&str>,
        endpoint_id: Option<&str>,
        at: Timestamp,
        queued: Duration,
    ) -> Operation {
        let mut outcome = OpOutcome::Finished;
        if let Some(pos) = self
            .op_failures
            .iter()
            .position(|f| f.times > 0 && (f.action == call || f.action == action))
        {
            let f = &mut self.op_failures[pos];
            f.times -= 1;
            outcome = OpOutcome::Failed {
                status: f.status.clone(),
                error: f.error.clone(),
            };
            if f.times == 0 {
                self.op_failures.remove(pos);
            }
        }
        // Strictly increasing creation times, in whole microseconds (the cursor's precision),
        // keep the operations cursor exact.
        let at = Timestamp::from_microsecond(at.as_microsecond()).unwrap_or(at);
        let at = match self.operations.last() {
            Some(last) if last.created_at >= at => last.created_at + SignedDuration::from_micros(1),
            _ => at,
        };
        let op = Operation {
            id: uuid(),
            project_id: self.project.id.clone(),
            branch_id: branch_id.map(str::to_string),
            endpoint_id: endpoint_id.map(str::to_string),
            action: action.to_string(),
            created_at: at,
            queued: if self.limits.op_duration.is_zero() {
                Duration::ZERO
            } else {
                queued
            },
            duration: self.limits.op_duration,
            outcome,
        };
        self.operations.push(op.clone());
        op
    }

    /// When operations started now are done.
    pub(super) fn ready_time(&self, start: Timestamp) -> Timestamp {
        start + SignedDuration::try_from(self.limits.op_duration).unwrap_or_default()
    }

    /// `GET /projects/{p}/operations`: newest first. Without `limit` every operation is listed
    /// (Neon's pagination docs); `pagination.cursor` is the `created_at` (microseconds) of the
    /// last item, as Neon's is, and the next page holds older operations. Absent on an empty page.
    pub fn list_operations(
        &self,
        limit: Option<&str>,
        cursor: Option<&str>,
    ) -> ApiResult<(Vec<&Operation>, Option<String>)> {
        list_operations_in(&self.operations, limit, cursor)
    }
}

/// [`State::list_operations`] over `operations` (the current ones, or a stale copy).
pub fn list_operations_in<'a>(
    operations: &'a [Operation],
    limit: Option<&str>,
    cursor: Option<&str>,
) -> ApiResult<(Vec<&'a Operation>, Option<String>)> {
    let limit = match limit {
        None | Some("") => usize::MAX,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_OPERATIONS_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::new(
                    400,
                    format!("limit: must be an integer from 1 to {MAX_OPERATIONS_LIMIT}"),
                ));
            }
        },
    };
    // Operations are appended in strictly increasing `created_at` order (see `new_op`).
    let end = match cursor.filter(|c| !c.is_empty()) {
        Some(c) => {
            let before = c
                .parse::<Timestamp>()
                .map_err(|_| ApiError::new(400, "invalid cursor"))?;
            operations.partition_point(|o| o.created_at < before)
        }
        None => operations.len(),
    };
    let start = end.saturating_sub(limit);
    let page: Vec<&Operation> = operations[start..end].iter().rev().collect();
    let next = page
        .last()
        .map(|o| o.created_at.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string());
    Ok((page, next))
}

#[cfg(test)]
mod tests;
