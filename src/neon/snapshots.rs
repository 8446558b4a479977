//! The snapshot endpoints: take, list, rename, restore and delete, each with what to do after
//! an ambiguous mutation (re-read state, never blindly re-send); and a branch's schema, read
//! and compared, for the promotion's guards.

use serde::Deserialize;
use serde_json::json;

use super::client::{CLOCK_SKEW, OpsOnly};
use super::transport::Method;
use super::{
    Branch, NeonClient, NeonError, Operation, RestoreSnapshot, SchemaTable, Snapshot, WithOps,
};

impl NeonClient {
    pub async fn list_snapshots(&self) -> Result<Vec<Snapshot>, NeonError> {
        #[derive(Deserialize)]
        struct List {
            snapshots: Vec<Snapshot>,
        }
        let list: List = self
            .get("list snapshots", &["snapshots"], Vec::new())
            .await?;
        Ok(list.snapshots)
    }

    /// Snapshots a root branch. `name` and `expires_at` go in the QUERY (the spec), not in a
    /// JSON body as the docs' curl examples have it. After an ambiguous failure, the newest
    /// snapshot of that branch with that name made since the request, in either of two reads
    /// of the list, is the one we asked for: a concurrent run may have taken one of the same
    /// name a moment before (a checkpoint's name has no run in it), and a list that lags one
    /// read would show only that one (simulation seed 26601 adopted, then deleted it).
    pub async fn create_snapshot(
        &self,
        branch_id: &str,
        name: &str,
        expires_at: Option<&str>,
    ) -> Result<WithOps<Snapshot>, NeonError> {
        let mut query = vec![("name", name.to_string())];
        query.extend(expires_at.map(|at| ("expires_at", at.to_string())));
        let post = self.request(
            Method::Post,
            &["branches", branch_id, "snapshot"],
            query,
            None,
        );
        self.post_once("create snapshot", &post, move |since| async move {
            let floor = since.checked_sub(CLOCK_SKEW).unwrap_or(since);
            let made = |s: &Snapshot| s.created_at.parse::<jiff::Timestamp>().ok();
            let mut seen = self.list_snapshots().await?;
            seen.extend(self.list_snapshots().await?);
            let found = seen
                .into_iter()
                .filter(|s| {
                    s.name == name
                        && s.source_branch_id.as_deref().is_none_or(|b| b == branch_id)
                        && made(s).is_none_or(|t| t >= floor)
                })
                .max_by_key(made);
            let made_at = found.as_ref().map(|s| s.created_at.clone());
            self.applied(found, &[branch_id], since, made_at.as_deref())
                .await
        })
        .await
    }

    /// Restores a snapshot (onto `target_branch_id`, or as a new branch `name`). After an
    /// ambiguous failure, a branch restored from this snapshot since the request means the
    /// restore was applied: the one with the target's name, or one a restore whose operation
    /// failed left under another name (its failure is then the answer, never a second try).
    pub async fn restore_snapshot(
        &self,
        snapshot_id: &str,
        req: &RestoreSnapshot,
    ) -> Result<WithOps<Branch>, NeonError> {
        let segments = ["snapshots", snapshot_id, "restore"];
        let post = self.request(Method::Post, &segments, Vec::new(), Some(json!(req)));
        self.post_once("restore snapshot", &post, move |since| async move {
            let name = match (&req.target_branch_id, &req.name) {
                // A finalized restore renames the old target `<name> (old)`.
                (Some(target), _) => base_name(&self.get_branch(target).await?.name).to_string(),
                (None, Some(name)) => name.clone(),
                (None, None) => return Ok(None),
            };
            let floor = since.checked_sub(CLOCK_SKEW).unwrap_or(since);
            let made: Vec<Branch> = self
                .list_branches()
                .await?
                .into_iter()
                .filter(|b| {
                    b.restored_from.as_deref() == Some(snapshot_id)
                        && Some(&b.id) != req.target_branch_id.as_ref()
                        && b.created_at
                            .parse::<jiff::Timestamp>()
                            .is_ok_and(|t| t >= floor)
                })
                .collect();
            let found = made.iter().find(|b| b.name == name).or(made.first());
            let Some(branch) = found.cloned() else {
                return Ok(None);
            };
            let new_id = branch.id.clone();
            let ids = [Some(new_id.as_str()), req.target_branch_id.as_deref()];
            let ids: Vec<&str> = ids.into_iter().flatten().collect();
            let made_at = branch.created_at.clone();
            self.applied(Some(branch), &ids, since, Some(&made_at))
                .await
        })
        .await
    }

    /// Deletes a snapshot; after an ambiguous failure a snapshot that two reads find gone
    /// counts as deleted.
    pub async fn delete_snapshot(&self, id: &str) -> Result<Vec<Operation>, NeonError> {
        let delete = self.request(Method::Delete, &["snapshots", id], Vec::new(), None);
        let answer: OpsOnly = self
            .post_once("delete snapshot", &delete, move |_| async move {
                // Gone only when two reads agree: a list that lags one read may still answer
                // as before the snapshot was made, and calling it deleted then would be wrong.
                for _ in 0..2 {
                    if self.list_snapshots().await?.iter().any(|s| s.id == id) {
                        return Ok(None);
                    }
                }
                Ok(Some(OpsOnly {
                    value: None,
                    operations: Vec::new(),
                }))
            })
            .await?;
        Ok(answer.operations)
    }

    /// Renames a snapshot (`PATCH /snapshots/{s}`); repeating it is harmless.
    pub async fn rename_snapshot(&self, id: &str, name: &str) -> Result<Snapshot, NeonError> {
        #[derive(Deserialize)]
        struct One {
            snapshot: Snapshot,
        }
        let body = json!({ "snapshot": { "name": name } });
        let patch = self.request(Method::Patch, &["snapshots", id], Vec::new(), Some(body));
        let what = "update snapshot";
        let one: One =
            super::calls::parse(what, &self.fetch(&patch, self.idempotent(what)).await?)?;
        Ok(one.snapshot)
    }

    /// A branch's structured schema for one database (`GET …/schema?format=json`).
    pub async fn branch_schema(
        &self,
        branch_id: &str,
        database: &str,
    ) -> Result<Vec<SchemaTable>, NeonError> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            json: Option<Json>,
        }
        #[derive(Deserialize)]
        struct Json {
            #[serde(default)]
            tables: Vec<SchemaTable>,
        }
        let query = vec![
            ("db_name", database.to_string()),
            ("format", "json".to_string()),
        ];
        let answer: Answer = self
            .get(
                "get branch schema",
                &["branches", branch_id, "schema"],
                query,
            )
            .await?;
        Ok(answer.json.map(|j| j.tables).unwrap_or_default())
    }

    /// The unified diff of the SQL schemas from `base_branch_id` to `branch_id`
    /// (`GET …/compare_schema`).
    pub async fn compare_schema(
        &self,
        branch_id: &str,
        base_branch_id: &str,
        database: &str,
    ) -> Result<String, NeonError> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            diff: Option<String>,
        }
        let query = vec![
            ("base_branch_id", base_branch_id.to_string()),
            ("db_name", database.to_string()),
        ];
        let segments = ["branches", branch_id, "compare_schema"];
        let answer: Answer = self.get("compare schemas", &segments, query).await?;
        Ok(answer.diff.unwrap_or_default())
    }
}

/// `prod (old)` or `prod (old) 2` → `prod`: the name a finalized restore gave away.
fn base_name(name: &str) -> &str {
    match name.rfind(" (old)") {
        Some(at) if name[at + 6..].trim().chars().all(|c| c.is_ascii_digit()) => &name[..at],
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_name_strips_the_old_suffix() {
        assert_eq!(base_name("prod (old)"), "prod");
        assert_eq!(base_name("prod (old) 2"), "prod");
        assert_eq!(base_name("prod"), "prod");
        assert_eq!(base_name("prod (old) copy"), "prod (old) copy");
    }
}
