//! The pure state model of one emulated Neon project (and the GitHub fake's data): no HTTP here.
//!
//! Every rule the real API enforces and neon-promote depends on lives below this module, so
//! that it can be unit-tested without a server: finalize-restore semantics, the snapshot quota,
//! the project lock while an operation runs (423), expiry validation, delete refusals and
//! cursor pagination. This file owns [`State`] itself, its clock, the seeds and the lookups;
//! each concept has its own file. Time is read through [`State::now`], which tests can move
//! forward with [`State::advance`]; operation progress and expiry are evaluated lazily from it.

mod anonymize;
mod branches;
mod connection;
mod endpoints;
mod error;
mod expiry;
pub mod ids;
mod lag;
mod lsn;
mod model;
mod operations;
mod pagination;
mod restore;
mod schema;
mod seeds;
mod snapshots;
#[cfg(test)]
pub(crate) mod test_support;
mod variants;

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::clock::{Clock, ClockWentBack};
use crate::github::GitHubState;
use ids::random_password;
use lsn::FIRST_LSN;

pub use anonymize::{Anonymization, Anonymizations, MaskingRule};
pub use branches::{CreateBranchReq, CreatedBranch, UpdateBranchReq};
pub use endpoints::NewEndpoint;
pub use error::{ApiError, ApiResult};
pub use expiry::MAX_EXPIRY;
pub use ids::{random_id, uuid};
pub use lag::StaleLists;
pub use lsn::Lsn;
pub use model::{Branch, Contents, Database, Endpoint, EndpointType, Project, Role, Snapshot};
pub use operations::{MAX_OPERATIONS_LIMIT, OpFailure, OpOutcome, Operation, list_operations_in};
pub use pagination::{
    BranchPage, DEFAULT_BRANCH_LIMIT, ListBranchesQuery, MAX_BRANCH_LIMIT, SortBy,
    list_branches_in, matches_search,
};
pub use restore::{PendingSwap, RestoreReq};
pub use schema::{
    Column, Constraint, ReferencedTable, Schemas, Table, demo_tables, sql, unified_diff,
};
pub use snapshots::SnapshotReq;
pub use variants::{FailedRestore, Features, LockScope, RestoreRename, SnapshotSlug, Variants};

/// Tunables that shape the state machine.
#[derive(Debug, Clone)]
pub struct Limits {
    pub op_duration: Duration,
    pub snapshot_quota: usize,
    /// See `Options::restore_moves_protection`.
    pub restore_moves_protection: bool,
    /// See `Options::root_branch_quota`.
    pub root_branch_quota: usize,
    /// See [`Variants`].
    pub variants: Variants,
    /// See [`Features`].
    pub features: Features,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            op_duration: Duration::ZERO,
            snapshot_quota: 10,
            restore_moves_protection: true,
            root_branch_quota: 25,
            variants: Variants::default(),
            features: Features::default(),
        }
    }
}

/// The whole emulated world. Public so tests can inspect and seed it through
/// `Emulator::with_state`; mutate through the methods to keep the invariants.
#[derive(Debug)]
pub struct State {
    pub project: Project,
    pub branches: BTreeMap<String, Branch>,
    pub endpoints: Vec<Endpoint>,
    /// Oldest first.
    pub snapshots: Vec<Snapshot>,
    /// Oldest first.
    pub operations: Vec<Operation>,
    pub roles: Vec<Role>,
    pub databases: Vec<Database>,
    pub limits: Limits,
    pub op_failures: Vec<OpFailure>,
    pub github: GitHubState,
    /// Branch annotations (`annotation_value` of a branch creation), by branch id.
    pub annotations: BTreeMap<String, Value>,
    /// Read through [`State::now`]; moved by [`State::advance`] and [`State::set_now`] (which
    /// keep the GitHub fake's copy in step).
    clock: Clock,
    /// The project's newest LSN: the next write goes past it.
    lsn_head: Lsn,
    /// Finalized restores waiting for their operations ([`RestoreRename::WhenFinished`]).
    pub pending_swaps: Vec<PendingSwap>,
    /// Anonymized branches, by id.
    pub anonymized: Anonymizations,
    /// [`Variants::list_lag`]: what the next list reads answer.
    stale: StaleLists,
}

impl State {
    /// An empty project (no branches) on the wall clock: see [`State::seed_default`].
    pub fn new(project_id: &str, limits: Limits) -> State {
        State::with_clock(project_id, limits, Clock::default())
    }

    /// An empty project whose clock is `clock` (e.g. [`Clock::starting_at`] a fixed time, for
    /// a reproducible run).
    pub fn with_clock(project_id: &str, limits: Limits, clock: Clock) -> State {
        let now = clock.now();
        let period_start = now - SignedDuration::from_hours(24 * 10);
        State {
            project: Project {
                id: project_id.to_string(),
                name: project_id.to_string(),
                platform_id: "aws".into(),
                region_id: "aws-us-east-2".into(),
                provisioner: "k8s-neonvm".into(),
                pg_version: 17,
                proxy_host: "us-east-2.aws.neon.tech".into(),
                branch_logical_size_limit: 0,
                branch_logical_size_limit_bytes: 0,
                store_passwords: true,
                creation_source: "console".into(),
                history_retention_seconds: 86_400,
                created_at: now,
                updated_at: now,
                owner_id: "emulated-owner".into(),
                cpu_used_sec: 0,
                compute_time_seconds: 0,
                active_time_seconds: 0,
                written_data_bytes: 0,
                data_transfer_bytes: 0,
                data_storage_bytes_hour: 0,
                consumption_period_start: period_start,
                consumption_period_end: period_start + SignedDuration::from_hours(24 * 30),
            },
            branches: BTreeMap::new(),
            endpoints: Vec::new(),
            snapshots: Vec::new(),
            operations: Vec::new(),
            roles: vec![Role {
                name: "neondb_owner".into(),
                password: random_password(),
            }],
            databases: vec![Database {
                id: fastrand::i64(100_000..999_999),
                name: "neondb".into(),
                owner_name: "neondb_owner".into(),
            }],
            limits,
            op_failures: Vec::new(),
            github: GitHubState::with_clock(clock),
            annotations: BTreeMap::new(),
            clock,
            lsn_head: FIRST_LSN,
            pending_swaps: Vec::new(),
            anonymized: Anonymizations::new(),
            stale: StaleLists::default(),
        }
    }

    /// The emulated clock: the wall clock plus what tests added, or exactly the start time
    /// plus what tests added when one was given.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The clock itself (to start another state on the same time).
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Moves the emulated clock forward (operations finish, expiries pass).
    pub fn advance(&mut self, by: Duration) {
        self.clock.advance(by);
        self.github.set_clock(self.clock);
        self.refresh();
    }

    /// Moves the emulated clock to `ts`; refuses to go back.
    pub fn set_now(&mut self, ts: Timestamp) -> Result<(), ClockWentBack> {
        self.clock.set_now(ts)?;
        self.github.set_clock(self.clock);
        self.refresh();
        Ok(())
    }

    pub(super) fn fresh_branch_id(&self) -> String {
        loop {
            let id = random_id("br");
            if !self.branches.contains_key(&id) {
                return id;
            }
        }
    }

    pub(super) fn new_branch(
        &self,
        id: String,
        name: String,
        parent_id: Option<String>,
        from: Contents,
        created: Timestamp,
        ready_at: Timestamp,
    ) -> Branch {
        let has_parent = parent_id.is_some();
        Branch {
            id,
            project_id: self.project.id.clone(),
            parent_id,
            parent_lsn: has_parent.then_some(from.lsn),
            parent_timestamp: if has_parent { Some(created) } else { None },
            name,
            current_state: if ready_at <= created {
                "ready".into()
            } else {
                "init".into()
            },
            state_changed_at: created,
            logical_size: 30_000_000,
            creation_source: "console".into(),
            primary: false,
            default: false,
            protected: false,
            cpu_used_sec: 0,
            compute_time_seconds: 0,
            active_time_seconds: 0,
            written_data_bytes: 0,
            data_transfer_bytes: 0,
            created_at: created,
            updated_at: created,
            ttl_interval_seconds: None,
            expires_at: None,
            init_source: "parent-data".into(),
            restore_status: None,
            restored_from: None,
            restored_as: None,
            data: from.data,
            schemas: from.schemas,
            lsn: from.lsn,
            ready_at,
            restore_target: None,
        }
    }

    /// Removes a branch and what hangs off it (computes, annotation, anonymization).
    pub(super) fn forget_branch(&mut self, id: &str) -> Option<Branch> {
        self.endpoints.retain(|e| e.branch_id != id);
        self.annotations.remove(id);
        self.anonymized.remove(id);
        self.branches.remove(id)
    }

    pub(super) fn put_branch(&mut self, b: Branch) {
        self.branches.insert(b.id.clone(), b);
    }

    // ----- lookups -----

    pub fn branch(&self, id: &str) -> Option<&Branch> {
        self.branches.get(id)
    }
    pub fn branch_mut(&mut self, id: &str) -> Option<&mut Branch> {
        self.branches.get_mut(id)
    }
    /// The branch with this exact name (names are unique within a project).
    pub fn branch_by_name(&self, name: &str) -> Option<&Branch> {
        self.branches.values().find(|b| b.name == name)
    }
    /// By exact id, else exact name.
    pub fn find_branch(&self, name_or_id: &str) -> Option<&Branch> {
        self.branches
            .get(name_or_id)
            .or_else(|| self.branch_by_name(name_or_id))
    }
    pub fn default_branch(&self) -> Option<&Branch> {
        self.branches.values().find(|b| b.default)
    }
    pub fn children(&self, id: &str) -> Vec<&Branch> {
        self.branches
            .values()
            .filter(|b| b.parent_id.as_deref() == Some(id))
            .collect()
    }
    pub fn endpoints_of(&self, branch_id: &str) -> Vec<&Endpoint> {
        self.endpoints
            .iter()
            .filter(|e| e.branch_id == branch_id)
            .collect()
    }
    pub fn snapshot(&self, id: &str) -> Option<&Snapshot> {
        self.snapshots.iter().find(|s| s.id == id)
    }
    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|o| o.id == id)
    }
    /// The data tag of a branch (by id or name).
    pub fn data_of(&self, name_or_id: &str) -> Option<String> {
        self.find_branch(name_or_id).map(|b| b.data.clone())
    }
    /// Sets the data tag of a branch (by id or name): "writes to the database", so its LSN
    /// advances too.
    pub fn set_data(&mut self, name_or_id: &str, data: &str) -> bool {
        let Some(id) = self.find_branch(name_or_id).map(|b| b.id.clone()) else {
            return false;
        };
        self.write_branch(&id, |b| b.data = data.to_string());
        true
    }
    /// The branch's annotation as the API returns it (`value` empty when none was given).
    pub fn annotation(&self, branch_id: &str) -> Value {
        self.annotations.get(branch_id).cloned().unwrap_or_else(
            || json!({"object": {"type": "console/branch", "id": branch_id}, "value": {}}),
        )
    }
    pub fn role_password(&self, role: &str) -> Option<&str> {
        self.roles
            .iter()
            .find(|r| r.name == role)
            .map(|r| r.password.as_str())
    }

    // ----- time-driven changes -----

    /// Applies what time has done since the last look: branches and computes whose operations
    /// finished turn ready/active; expired branches and snapshots disappear (Neon deletes them
    /// in the background "not exactly at the specified time"; the emulator does it on the next
    /// request after expiry).
    pub fn refresh(&mut self) {
        let now = self.now();
        let expired: Vec<String> = self
            .branches
            .values()
            .filter(|b| b.expires_at.is_some_and(|t| t <= now))
            .filter(|b| {
                !self
                    .branches
                    .values()
                    .any(|c| c.parent_id.as_deref() == Some(&b.id))
            })
            .map(|b| b.id.clone())
            .collect();
        for id in expired {
            self.forget_branch(&id);
        }
        self.snapshots
            .retain(|s| s.expires_at.is_none_or(|t| t > now));
        self.settle_swaps(now);
        self.settle_anonymizations(now);
        for b in self.branches.values_mut() {
            if b.current_state == "init" && b.ready_at <= now {
                b.current_state = "ready".into();
                b.state_changed_at = b.ready_at;
            }
        }
        for e in &mut self.endpoints {
            if e.current_state == "init" && e.ready_at <= now {
                e.current_state = "active".into();
            }
        }
    }
}
