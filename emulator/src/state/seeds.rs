//! Seeding: the projects the emulator starts with, and direct inserts for tests (no rules, no
//! operations).

use std::time::Duration;

use jiff::SignedDuration;

use super::State;
use super::ids::random_id;
use super::model::{Branch, Contents, EndpointType, Snapshot};
use super::schema::{Schemas, demo_tables};
use crate::time::fmt_ts;

impl State {
    /// A project as Neon creates it: one root branch `production` (default) with a read-write
    /// compute, database `neondb` owned by `neondb_owner` holding [`demo_tables`]. Returns the
    /// branch id.
    pub fn seed_default(&mut self) -> String {
        let id = self.insert_branch("production", None, "production-v1", true);
        self.branches.get_mut(&id).unwrap().schemas =
            Schemas::from([("neondb".to_string(), demo_tables())]);
        self.insert_endpoint(&id, EndpointType::ReadWrite.into(), Duration::ZERO);
        id
    }

    /// The demo seed: `production` plus a `dev` root restored from a production snapshot
    /// (as the guide's Phase 1 leaves a project), with a read-write compute. Returns (prod, dev).
    pub fn seed_demo(&mut self) -> (String, String) {
        let prod = self.seed_default();
        let now = self.now();
        let from = self.branches[&prod].contents();
        let id = random_id("snap");
        let snap = Snapshot {
            slug: id.clone(),
            id,
            name: "production-seed".into(),
            lsn: from.lsn,
            timestamp: fmt_ts(now),
            source_branch_id: prod.clone(),
            created_at: now,
            manual: true,
            data: from.data.clone(),
            schemas: from.schemas.clone(),
            ..Snapshot::default()
        };
        let snap_id = snap.id.clone();
        self.snapshots.push(snap);
        let dev = self.fresh_branch_id();
        let mut branch = self.new_branch(dev.clone(), "dev".into(), None, from, now, now);
        branch.restored_from = Some(snap_id);
        self.put_branch(branch);
        self.insert_endpoint(&dev, EndpointType::ReadWrite.into(), Duration::ZERO);
        (prod, dev)
    }

    /// Inserts a ready branch directly (seeding; no rules, no operations).
    pub fn insert_branch(
        &mut self,
        name: &str,
        parent_id: Option<&str>,
        data: &str,
        default: bool,
    ) -> String {
        let now = self.now();
        let id = self.fresh_branch_id();
        let from = match parent_id.and_then(|p| self.branches.get(p)) {
            Some(parent) => parent.contents(),
            None => Contents {
                lsn: self.lsn_head,
                ..Contents::default()
            },
        };
        let mut branch = self.new_branch(
            id.clone(),
            name.to_string(),
            parent_id.map(str::to_string),
            Contents {
                data: data.to_string(),
                ..from
            },
            now,
            now,
        );
        branch.default = default;
        branch.primary = default;
        self.put_branch(branch);
        id
    }

    /// Bulk seeding for scale tests: `count` ready child branches of `parent_id` named
    /// `format!("{prefix}{i}")`. Fast (no operations, no rule checks).
    pub fn insert_many_branches(&mut self, prefix: &str, count: usize, parent_id: &str) {
        let now = self.now();
        let from = self
            .branches
            .get(parent_id)
            .map(Branch::contents)
            .unwrap_or_default();
        for i in 0..count {
            let id = self.fresh_branch_id();
            // Spread the timestamps so every sort order is exercised.
            let at = now - SignedDuration::from_secs((count - i) as i64);
            let b = self.new_branch(
                id,
                format!("{prefix}{i}"),
                Some(parent_id.to_string()),
                from.clone(),
                at,
                at,
            );
            self.put_branch(b);
        }
    }
}
