//! `NeonClient`: one typed method per Neon API call neon-promote makes. It owns URLs, bearer
//! auth, pagination, error mapping and what to do after an ambiguous mutation (re-read state,
//! never blindly re-POST). The retry schedule is `crate::retry`'s, the operation wait
//! `crate::poll`'s; it knows nothing of GitHub or of our commands.

use std::fmt;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::{
    DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{
    ApiError, Branch, CreateBranch, CreatedBranch, Endpoint, EndpointType, NeonError, Operation,
    RestoreSnapshot, SchemaTable, Snapshot, UpdateBranch, WithOps,
};
use crate::retry::{RetryPolicy, backoff, is_ambiguous, parse_retry_after, retry};

/// The spec's `LimitParam` maximum for listing branches.
const BRANCH_PAGE: usize = 10_000;
/// The spec's maximum `limit` for listing operations.
const OPERATION_PAGE: usize = 1_000;

/// Path segments keep only unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Where and as whom to call Neon, and the `timeout` input bounding retries and waits.
#[derive(Clone)]
pub struct NeonSettings {
    pub api_host: String,
    pub api_key: String,
    pub project_id: String,
    pub timeout: Duration,
}

/// The Neon API v2 client for one project. Cheap to clone.
#[derive(Clone)]
pub struct NeonClient {
    http: reqwest::Client,
    base: String,
    api_key: String,
    project_id: String,
    policy: RetryPolicy,
}

// By hand, so the API key never reaches a log.
impl fmt::Debug for NeonClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NeonClient")
            .field("base", &self.base)
            .field("project_id", &self.project_id)
            .field("timeout", &self.policy.deadline)
            .field("api_key", &"<redacted>")
            .finish()
    }
}

impl fmt::Debug for NeonSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NeonSettings")
            .field("api_host", &self.api_host)
            .field("project_id", &self.project_id)
            .field("timeout", &self.timeout)
            .field("api_key", &"<redacted>")
            .finish()
    }
}

#[derive(Deserialize)]
struct BranchPage {
    branches: Vec<Branch>,
    #[serde(default)]
    pagination: Option<Cursor>,
}

#[derive(Deserialize)]
struct Cursor {
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

#[derive(Deserialize)]
struct OperationPage {
    #[serde(default)]
    operations: Vec<Operation>,
    #[serde(default)]
    pagination: Option<Cursor>,
}

#[derive(Deserialize)]
struct BranchWithOps {
    branch: Branch,
    #[serde(default)]
    operations: Vec<Operation>,
}

#[derive(Deserialize)]
struct EndpointWithOps {
    endpoint: Endpoint,
    #[serde(default)]
    operations: Vec<Operation>,
}

#[derive(Deserialize)]
struct SnapshotWithOps {
    snapshot: Snapshot,
    #[serde(default)]
    operations: Vec<Operation>,
}

#[derive(Deserialize, Default)]
struct OpsOnly {
    #[serde(default)]
    operations: Vec<Operation>,
}

/// One page of a branch search, keeping only the exact match: a page can hold 10,000
/// branches, and holding them all would triple the binary's peak memory.
struct SearchPage {
    hit: Option<Branch>,
    count: usize,
    next: Option<String>,
}

/// Reads `{branches: [...], pagination: {next}}`, keeping the branch whose id or name is `.0`.
#[derive(Clone, Copy)]
struct SearchSeed<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for SearchSeed<'_> {
    type Value = SearchPage;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<SearchPage, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SearchSeed<'_> {
    type Value = SearchPage;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a page of branches")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SearchPage, A::Error> {
        let mut page = SearchPage {
            hit: None,
            count: 0,
            next: None,
        };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "branches" => (page.hit, page.count) = map.next_value_seed(Sieve(self.0))?,
                "pagination" => {
                    page.next = map.next_value::<Option<Cursor>>()?.and_then(|c| c.next)
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(page)
    }
}

/// The `branches` array: each branch is parsed and dropped unless it matches exactly.
struct Sieve<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for Sieve<'_> {
    type Value = (Option<Branch>, usize);
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Sieve<'_> {
    type Value = (Option<Branch>, usize);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of branches")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let (mut hit, mut count) = (None, 0);
        while let Some(branch) = seq.next_element::<Branch>()? {
            count += 1;
            if hit.is_none() && (branch.id == self.0 || branch.name == self.0) {
                hit = Some(branch);
            }
        }
        Ok((hit, count))
    }
}

type Query<'a> = [(&'a str, String)];

impl NeonClient {
    pub fn new(http: reqwest::Client, settings: NeonSettings) -> Self {
        Self {
            http,
            base: settings.api_host.trim().trim_end_matches('/').to_string(),
            api_key: settings.api_key,
            project_id: settings.project_id,
            policy: RetryPolicy {
                deadline: settings.timeout,
            },
        }
    }

    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// The project's default branch (`default: true`).
    pub async fn default_branch(&self) -> Result<Branch, NeonError> {
        self.list_branches()
            .await?
            .into_iter()
            .find(|b| b.default)
            .ok_or_else(|| NeonError::NotFound(api_message("the project has no default branch")))
    }

    /// The branch whose id or name is exactly `name_or_id`. Neon's `search` is a substring
    /// match, so pages are followed until the exact match appears or the list ends.
    pub async fn find_branch(&self, name_or_id: &str) -> Result<Option<Branch>, NeonError> {
        // Sorted by name, the exact name comes before every name that starts with it, so in
        // the common case (`dev` among `dev_feature_*`) it is on the first page.
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![
                ("search", name_or_id.to_string()),
                ("sort_by", "name".to_string()),
                ("sort_order", "asc".to_string()),
                ("limit", BRANCH_PAGE.to_string()),
            ];
            query.extend(cursor.take().map(|c| ("cursor", c)));
            let path = self.path(&["branches"]);
            let bytes = retry(&self.policy, true, "search branches", || {
                self.send(Method::GET, &path, &query, None)
            })
            .await?;
            let mut de = serde_json::Deserializer::from_slice(&bytes);
            let page = SearchSeed(name_or_id)
                .deserialize(&mut de)
                .and_then(|page| de.end().map(|()| page))
                .map_err(|e| {
                    NeonError::Transport(format!("unreadable answer to search branches: {e}"))
                })?;
            if page.hit.is_some() {
                return Ok(page.hit);
            }
            match page.next {
                Some(next) if page.count == BRANCH_PAGE && !next.is_empty() => cursor = Some(next),
                _ => return Ok(None),
            }
        }
    }

    pub async fn get_branch(&self, id: &str) -> Result<Branch, NeonError> {
        #[derive(Deserialize)]
        struct One {
            branch: Branch,
        }
        let one: One = self
            .get("get branch", &self.path(&["branches", id]), &[])
            .await?;
        Ok(one.branch)
    }

    /// Every branch of the project, all pages.
    pub async fn list_branches(&self) -> Result<Vec<Branch>, NeonError> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("limit", BRANCH_PAGE.to_string())];
            query.extend(cursor.take().map(|c| ("cursor", c)));
            let page: BranchPage = self
                .get("list branches", &self.path(&["branches"]), &query)
                .await?;
            let count = page.branches.len();
            all.extend(page.branches);
            match page.pagination.and_then(|p| p.next) {
                Some(next) if count == BRANCH_PAGE && !next.is_empty() => cursor = Some(next),
                _ => return Ok(all),
            }
        }
    }

    /// Branches whose parent is `branch_id`.
    pub async fn children(&self, branch_id: &str) -> Result<Vec<Branch>, NeonError> {
        let mut all = self.list_branches().await?;
        all.retain(|b| b.parent_id.as_deref() == Some(branch_id));
        Ok(all)
    }

    pub async fn list_endpoints(&self, branch_id: &str) -> Result<Vec<Endpoint>, NeonError> {
        #[derive(Deserialize)]
        struct List {
            endpoints: Vec<Endpoint>,
        }
        let path = self.path(&["branches", branch_id, "endpoints"]);
        let list: List = self.get("list endpoints", &path, &[]).await?;
        Ok(list.endpoints)
    }

    /// `GET /projects/{p}/connection_uri`: the URI for a branch, database and role.
    pub async fn connection_uri(
        &self,
        branch_id: &str,
        database: &str,
        role: &str,
        pooled: bool,
    ) -> Result<String, NeonError> {
        #[derive(Deserialize)]
        struct Uri {
            uri: String,
        }
        let query = [
            ("branch_id", branch_id.to_string()),
            ("database_name", database.to_string()),
            ("role_name", role.to_string()),
            ("pooled", pooled.to_string()),
        ];
        let uri: Uri = self
            .get(
                "get connection URI",
                &self.path(&["connection_uri"]),
                &query,
            )
            .await?;
        Ok(uri.uri)
    }

    pub async fn list_snapshots(&self) -> Result<Vec<Snapshot>, NeonError> {
        #[derive(Deserialize)]
        struct List {
            snapshots: Vec<Snapshot>,
        }
        let list: List = self
            .get("list snapshots", &self.path(&["snapshots"]), &[])
            .await?;
        Ok(list.snapshots)
    }

    /// One operation, unwrapped from `{"operation": {...}}`.
    pub async fn get_operation(&self, id: &str) -> Result<Operation, NeonError> {
        #[derive(Deserialize)]
        struct One {
            operation: Operation,
        }
        let one: One = self
            .get("get operation", &self.path(&["operations", id]), &[])
            .await?;
        Ok(one.operation)
    }

    /// Operations not yet terminal, from every page of the operations list.
    pub async fn running_operations(&self) -> Result<Vec<Operation>, NeonError> {
        let mut running = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("limit", OPERATION_PAGE.to_string())];
            query.extend(cursor.take().map(|c| ("cursor", c)));
            let page: OperationPage = self
                .get("list operations", &self.path(&["operations"]), &query)
                .await?;
            let count = page.operations.len();
            running.extend(
                page.operations
                    .into_iter()
                    .filter(|op| !op.status.is_terminal()),
            );
            match page.pagination.and_then(|p| p.cursor) {
                Some(next) if count == OPERATION_PAGE && !next.is_empty() => cursor = Some(next),
                _ => return Ok(running),
            }
        }
    }

    /// Creates a branch (and a read-write compute when asked). A 409 (name taken) is
    /// `Err(Conflict)`; so is a branch found by name after an ambiguous failure.
    pub async fn create_branch(&self, req: &CreateBranch) -> Result<CreatedBranch, NeonError> {
        let mut branch = json!({ "name": req.name, "parent_id": req.parent_id });
        if let Some(expires_at) = &req.expires_at {
            branch["expires_at"] = json!(expires_at);
        }
        let mut body = json!({ "branch": branch });
        if req.read_write_endpoint {
            body["endpoints"] = json!([{ "type": "read_write" }]);
        }
        let path = self.path(&["branches"]);
        self.post_once(
            "create branch",
            Method::POST,
            &path,
            &[],
            Some(&body),
            || async {
                match self.find_branch(&req.name).await? {
                    Some(b) => Err(NeonError::Conflict(api_message(&format!(
                        "branch {:?} already exists (id {}; created by an earlier try)",
                        b.name, b.id
                    )))),
                    None => Ok(None),
                }
            },
        )
        .await
    }

    /// `PATCH` a branch: name, protection, expiry. Repeating it is harmless.
    pub async fn update_branch(
        &self,
        id: &str,
        req: &UpdateBranch,
    ) -> Result<WithOps<Branch>, NeonError> {
        let body = json!({ "branch": req });
        let path = self.path(&["branches", id]);
        let answer: BranchWithOps = self
            .call(
                "update branch",
                true,
                Method::PATCH,
                &path,
                &[],
                Some(&body),
            )
            .await?;
        Ok(WithOps {
            value: answer.branch,
            operations: answer.operations,
        })
    }

    /// Deletes a branch; a 404 is `Err(NotFound)`. After an ambiguous failure a branch that is
    /// gone counts as deleted.
    pub async fn delete_branch(&self, id: &str) -> Result<Vec<Operation>, NeonError> {
        let path = self.path(&["branches", id]);
        let answer = self
            .post_once(
                "delete branch",
                Method::DELETE,
                &path,
                &[],
                None,
                || async {
                    match self.get_branch(id).await {
                        Err(NeonError::NotFound(_)) => Ok(Some(OpsOnly {
                            operations: self.operations_of(&[id]).await?,
                        })),
                        Err(e) => Err(e),
                        Ok(_) => Ok(None),
                    }
                },
            )
            .await?;
        Ok(answer.operations)
    }

    /// Adds a compute to a branch; after an ambiguous failure an existing one of that type is it.
    pub async fn create_endpoint(
        &self,
        branch_id: &str,
        kind: EndpointType,
    ) -> Result<WithOps<Endpoint>, NeonError> {
        let body = json!({ "endpoint": { "branch_id": branch_id, "type": kind } });
        let path = self.path(&["endpoints"]);
        let answer: EndpointWithOps = self
            .post_once(
                "create endpoint",
                Method::POST,
                &path,
                &[],
                Some(&body),
                || async {
                    let found = self
                        .list_endpoints(branch_id)
                        .await?
                        .into_iter()
                        .find(|e| e.kind == kind);
                    Ok(match found {
                        Some(endpoint) => Some(EndpointWithOps {
                            endpoint,
                            operations: self.operations_of(&[branch_id]).await?,
                        }),
                        None => None,
                    })
                },
            )
            .await?;
        Ok(WithOps {
            value: answer.endpoint,
            operations: answer.operations,
        })
    }

    /// Snapshots a root branch. `name` and `expires_at` go in the QUERY (the spec), not in a
    /// JSON body as the docs' curl examples have it. After an ambiguous failure, a snapshot
    /// with that name is the one we asked for.
    pub async fn create_snapshot(
        &self,
        branch_id: &str,
        name: &str,
        expires_at: Option<&str>,
    ) -> Result<WithOps<Snapshot>, NeonError> {
        let mut query = vec![("name", name.to_string())];
        query.extend(expires_at.map(|at| ("expires_at", at.to_string())));
        let path = self.path(&["branches", branch_id, "snapshot"]);
        let answer: SnapshotWithOps = self
            .post_once(
                "create snapshot",
                Method::POST,
                &path,
                &query,
                None,
                || async {
                    let found = self
                        .list_snapshots()
                        .await?
                        .into_iter()
                        .find(|s| s.name == name);
                    Ok(match found {
                        Some(snapshot) => Some(SnapshotWithOps {
                            snapshot,
                            operations: self.operations_of(&[branch_id]).await?,
                        }),
                        None => None,
                    })
                },
            )
            .await?;
        Ok(WithOps {
            value: answer.snapshot,
            operations: answer.operations,
        })
    }

    /// Restores a snapshot (onto `target_branch_id`, or as a new branch `name`). After an
    /// ambiguous failure, a branch of the target's name with `restored_from` = this snapshot
    /// means the restore was applied.
    pub async fn restore_snapshot(
        &self,
        snapshot_id: &str,
        req: &RestoreSnapshot,
    ) -> Result<WithOps<Branch>, NeonError> {
        let body = serde_json::to_value(req).map_err(|e| NeonError::Transport(e.to_string()))?;
        let path = self.path(&["snapshots", snapshot_id, "restore"]);
        let answer: BranchWithOps = self
            .post_once(
                "restore snapshot",
                Method::POST,
                &path,
                &[],
                Some(&body),
                || async {
                    let name = match (&req.target_branch_id, &req.name) {
                        // A finalized restore renames the old target `<name> (old)`.
                        (Some(target), _) => {
                            base_name(&self.get_branch(target).await?.name).to_string()
                        }
                        (None, Some(name)) => name.clone(),
                        (None, None) => return Ok(None),
                    };
                    let restored = self.find_branch(&name).await?.filter(|b| {
                        b.restored_from.as_deref() == Some(snapshot_id)
                            && Some(&b.id) != req.target_branch_id.as_ref()
                    });
                    Ok(match restored {
                        Some(branch) => {
                            let mut ids = vec![branch.id.as_str()];
                            ids.extend(req.target_branch_id.as_deref());
                            let operations = self.operations_of(&ids).await?;
                            Some(BranchWithOps { branch, operations })
                        }
                        None => None,
                    })
                },
            )
            .await?;
        Ok(WithOps {
            value: answer.branch,
            operations: answer.operations,
        })
    }

    /// Deletes a snapshot; after an ambiguous failure a snapshot that is gone counts as deleted.
    pub async fn delete_snapshot(&self, id: &str) -> Result<Vec<Operation>, NeonError> {
        let path = self.path(&["snapshots", id]);
        let answer = self
            .post_once(
                "delete snapshot",
                Method::DELETE,
                &path,
                &[],
                None,
                || async {
                    let present = self.list_snapshots().await?.iter().any(|s| s.id == id);
                    Ok((!present).then(OpsOnly::default))
                },
            )
            .await?;
        Ok(answer.operations)
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
        let query = [
            ("db_name", database.to_string()),
            ("format", "json".to_string()),
        ];
        let path = self.path(&["branches", branch_id, "schema"]);
        let answer: Answer = self.get("get branch schema", &path, &query).await?;
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
        let query = [
            ("base_branch_id", base_branch_id.to_string()),
            ("db_name", database.to_string()),
        ];
        let path = self.path(&["branches", branch_id, "compare_schema"]);
        let answer: Answer = self.get("compare schemas", &path, &query).await?;
        Ok(answer.diff.unwrap_or_default())
    }

    /// Renames a snapshot (`PATCH /snapshots/{s}`); repeating it is harmless.
    pub async fn rename_snapshot(&self, id: &str, name: &str) -> Result<Snapshot, NeonError> {
        #[derive(Deserialize)]
        struct One {
            snapshot: Snapshot,
        }
        let body = json!({ "snapshot": { "name": name } });
        let path = self.path(&["snapshots", id]);
        let one: One = self
            .call(
                "update snapshot",
                true,
                Method::PATCH,
                &path,
                &[],
                Some(&body),
            )
            .await?;
        Ok(one.snapshot)
    }

    /// The project's recent operations on one branch, whatever their status (newest first).
    pub async fn branch_operations(&self, branch_id: &str) -> Result<Vec<Operation>, NeonError> {
        let query = [("limit", OPERATION_PAGE.to_string())];
        let page: OperationPage = self
            .get("list operations", &self.path(&["operations"]), &query)
            .await?;
        Ok(page
            .operations
            .into_iter()
            .filter(|op| op.branch_id.as_deref() == Some(branch_id))
            .collect())
    }

    /// Waits for operations to end, bounded by the `timeout` setting (`crate::poll`).
    pub async fn wait(&self, ops: &[Operation]) -> Result<(), NeonError> {
        crate::poll::wait_for(self, ops, self.policy.deadline).await
    }

    /// Running operations on any of these branches (to wait for after a re-read).
    async fn operations_of(&self, branch_ids: &[&str]) -> Result<Vec<Operation>, NeonError> {
        let mut ops = self.running_operations().await?;
        ops.retain(|op| {
            op.branch_id
                .as_deref()
                .is_some_and(|b| branch_ids.contains(&b))
        });
        Ok(ops)
    }

    /// `/projects/{p}/<segments…>`, each segment percent-encoded.
    fn path(&self, segments: &[&str]) -> String {
        let mut path = format!(
            "/projects/{}",
            utf8_percent_encode(&self.project_id, SEGMENT)
        );
        for segment in segments {
            path.push('/');
            path.extend(utf8_percent_encode(segment, SEGMENT));
        }
        path
    }

    /// A retried, idempotent GET.
    async fn get<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &Query<'_>,
    ) -> Result<T, NeonError> {
        self.call(what, true, Method::GET, path, query, None).await
    }

    /// One call under the retry policy, its answer parsed.
    async fn call<T: DeserializeOwned>(
        &self,
        what: &str,
        idempotent: bool,
        method: Method,
        path: &str,
        query: &Query<'_>,
        body: Option<&Value>,
    ) -> Result<T, NeonError> {
        let bytes = retry(&self.policy, idempotent, what, || {
            self.send(method.clone(), path, query, body)
        })
        .await?;
        parse(what, &bytes)
    }

    /// A mutation that is never blindly repeated: 423/429/503 are retried (they were not
    /// applied); after an ambiguous failure `reread` says whether it took effect (`Some`), and
    /// only if it did not is the request sent again, until the deadline.
    async fn post_once<T, R, Fut>(
        &self,
        what: &str,
        method: Method,
        path: &str,
        query: &Query<'_>,
        body: Option<&Value>,
        reread: R,
    ) -> Result<T, NeonError>
    where
        T: DeserializeOwned,
        R: Fn() -> Fut,
        Fut: Future<Output = Result<Option<T>, NeonError>>,
    {
        let start = Instant::now();
        let mut attempt = 0;
        loop {
            let left = self.policy.deadline.saturating_sub(start.elapsed());
            let policy = RetryPolicy { deadline: left };
            let err = match retry(&policy, false, what, || {
                self.send(method.clone(), path, query, body)
            })
            .await
            {
                Ok(bytes) if bytes.is_empty() => return parse(what, b"{}"),
                Ok(bytes) => return parse(what, &bytes),
                Err(err) if is_ambiguous(&err) => err,
                Err(err) => return Err(err),
            };
            if let Some(applied) = reread().await? {
                return Ok(applied);
            }
            let wait = backoff(attempt);
            if start.elapsed() + wait > self.policy.deadline {
                return Err(NeonError::Deadline(
                    self.policy.deadline,
                    format!("waiting for {what}; last error: {err}"),
                ));
            }
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// One HTTP exchange: the body of a 2xx, or the typed error.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &Query<'_>,
        body: Option<&Value>,
    ) -> Result<Vec<u8>, NeonError> {
        let mut request = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(&self.api_key)
            .header(reqwest::header::ACCEPT, "application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, jiff::Timestamp::now()));
        let bytes = response.bytes().await.map_err(transport)?;
        if status.is_success() {
            return Ok(Vec::from(bytes));
        }
        Err(map_error(status, retry_after, &bytes))
    }
}

/// Neon's `{code, message, request_id}` into a typed error, keeping Neon's words.
fn map_error(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> NeonError {
    let mut api: ApiError = serde_json::from_slice(body).unwrap_or_default();
    if api.message.is_empty() {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        api.message = if text.is_empty() || text.starts_with('{') {
            status
                .canonical_reason()
                .unwrap_or("no message")
                .to_string()
        } else {
            text.chars().take(500).collect()
        };
    }
    match status.as_u16() {
        404 => NeonError::NotFound(api),
        409 => NeonError::Conflict(api),
        423 => NeonError::Locked(api),
        429 => NeonError::RateLimited { retry_after, api },
        s if is_quota(s, &api) => NeonError::QuotaExceeded(api),
        s @ 500.. => NeonError::Server { status: s, api },
        s => NeonError::Client { status: s, api },
    }
}

// Neon reports a full quota (snapshots, or the root branches every restore makes) as a 4xx
// with no documented code: `SNAPSHOTS_LIMIT_EXCEEDED`-style codes, or 403/422 with a message
// that says "limit" or "quota". Heuristic: a code naming a limit or quota, or a 403/422 whose
// message does. 400 is left out (a malformed `limit` parameter is a 400 that says "limit").
fn is_quota(status: u16, api: &ApiError) -> bool {
    let code = api.code.to_ascii_uppercase();
    let message = api.message.to_ascii_lowercase();
    let says = |text: &str, words: [&str; 2]| words.iter().any(|w| text.contains(w));
    (400..500).contains(&status)
        && (says(&code, ["LIMIT", "QUOTA"])
            || (matches!(status, 403 | 422) && says(&message, ["limit", "quota"])))
}

/// A client-side failure, without the URL's query (names) or any header.
fn transport(err: reqwest::Error) -> NeonError {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let err = err.without_url();
    let mut text = format!("{kind}: {err}");
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    NeonError::Transport(text)
}

fn parse<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, NeonError> {
    serde_json::from_slice(bytes)
        .map_err(|e| NeonError::Transport(format!("unreadable answer to {what}: {e}")))
}

fn api_message(message: &str) -> ApiError {
    ApiError {
        message: message.to_string(),
        ..ApiError::default()
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
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::{Arc, Mutex};

    use mockito::{Matcher, Server, ServerGuard};

    use super::*;

    const KEY: &str = "napi_secret_key_123";

    fn client(url: &str) -> NeonClient {
        let settings = NeonSettings {
            api_host: format!("{url}/"),
            api_key: KEY.into(),
            project_id: "p1".into(),
            timeout: Duration::from_secs(20),
        };
        NeonClient::new(crate::http::client().unwrap(), settings)
    }

    async fn server() -> (ServerGuard, NeonClient) {
        let server = Server::new_async().await;
        let neon = client(&server.url());
        (server, neon)
    }

    fn branch(id: &str, name: &str) -> Value {
        json!({ "id": id, "name": name, "parent_id": "br-dev", "created_at": "2026-11-01T00:00:00Z" })
    }

    fn snapshot(id: &str, name: &str) -> Value {
        json!({ "id": id, "name": name, "created_at": "2026-11-01T00:00:00Z" })
    }

    fn op(id: &str, status: &str) -> Value {
        json!({ "id": id, "action": "create_branch", "status": status, "branch_id": "br-prod" })
    }

    #[tokio::test]
    async fn create_snapshot_sends_name_and_expiry_as_query_parameters() {
        let (mut server, neon) = server().await;
        let mock = server
            .mock("POST", "/projects/p1/branches/br-prod/snapshot")
            .match_header("authorization", format!("Bearer {KEY}").as_str())
            .match_query(Matcher::AllOf(vec![
                Matcher::UrlEncoded("name".into(), "rollback 1".into()),
                Matcher::UrlEncoded("expires_at".into(), "2026-12-01T00:00:00Z".into()),
            ]))
            .match_body(Matcher::Exact(String::new()))
            .with_status(201)
            .with_body(json!({ "snapshot": snapshot("snap-1", "rollback 1"), "operations": [op("op-1", "running")] }).to_string())
            .create_async()
            .await;
        let made = neon
            .create_snapshot("br-prod", "rollback 1", Some("2026-12-01T00:00:00Z"))
            .await
            .unwrap();
        mock.assert_async().await;
        assert_eq!(made.value.id, "snap-1");
        assert_eq!(made.operations[0].id, "op-1");
    }

    #[tokio::test]
    async fn restore_sends_the_target_and_finalizes() {
        let (mut server, neon) = server().await;
        let mock = server
            .mock("POST", "/projects/p1/snapshots/snap-1/restore")
            .match_body(Matcher::Json(
                json!({ "target_branch_id": "br-prod", "finalize_restore": true }),
            ))
            .with_body(json!({ "branch": branch("br-new", "prod"), "operations": [] }).to_string())
            .create_async()
            .await;
        let req = RestoreSnapshot {
            target_branch_id: Some("br-prod".into()),
            finalize_restore: true,
            ..RestoreSnapshot::default()
        };
        let restored = neon.restore_snapshot("snap-1", &req).await.unwrap();
        mock.assert_async().await;
        assert_eq!(restored.value.id, "br-new");
    }

    #[tokio::test]
    async fn update_branch_patches_only_the_given_fields() {
        let (mut server, neon) = server().await;
        let mock = server
            .mock("PATCH", "/projects/p1/branches/br-1")
            .match_body(Matcher::Json(
                json!({ "branch": { "protected": true, "expires_at": null } }),
            ))
            .with_body(json!({ "branch": branch("br-1", "prod"), "operations": [] }).to_string())
            .create_async()
            .await;
        let req = UpdateBranch {
            protected: Some(true),
            expires_at: Some(None),
            ..UpdateBranch::default()
        };
        neon.update_branch("br-1", &req).await.unwrap();
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn create_endpoint_names_branch_and_type() {
        let (mut server, neon) = server().await;
        let mock = server
            .mock("POST", "/projects/p1/endpoints")
            .match_body(Matcher::Json(
                json!({ "endpoint": { "branch_id": "br-1", "type": "read_write" } }),
            ))
            .with_status(201)
            .with_body(
                json!({
                    "endpoint": { "id": "ep-1", "branch_id": "br-1", "host": "ep-1.example", "type": "read_write" },
                    "operations": [op("op-1", "running")],
                })
                .to_string(),
            )
            .create_async()
            .await;
        let made = neon
            .create_endpoint("br-1", EndpointType::ReadWrite)
            .await
            .unwrap();
        mock.assert_async().await;
        assert_eq!(
            (made.value.host.as_str(), made.operations.len()),
            ("ep-1.example", 1)
        );
    }

    #[tokio::test]
    async fn find_branch_follows_the_cursor_to_the_exact_name() {
        let (mut server, neon) = server().await;
        let page1: Vec<Value> = (0..BRANCH_PAGE)
            .map(|i| branch(&format!("br-{i}"), &format!("dev_feature_{i}")))
            .collect();
        let first = server
            .mock("GET", "/projects/p1/branches")
            .match_query(Matcher::Regex(
                "^search=dev&sort_by=name&sort_order=asc&limit=10000$".into(),
            ))
            .with_body(json!({ "branches": page1, "pagination": { "next": "c+/2=" } }).to_string())
            .create_async()
            .await;
        let second = server
            .mock("GET", "/projects/p1/branches")
            .match_query(Matcher::UrlEncoded("cursor".into(), "c+/2=".into()))
            .with_body(
                json!({ "branches": [branch("br-x", "dev")], "pagination": { "next": "c3" } })
                    .to_string(),
            )
            .create_async()
            .await;
        let found = neon.find_branch("dev").await.unwrap().unwrap();
        first.assert_async().await;
        second.assert_async().await;
        assert_eq!(found.id, "br-x");
    }

    #[tokio::test]
    async fn find_branch_ignores_substring_matches() {
        let (mut server, neon) = server().await;
        let mock = server
            .mock("GET", "/projects/p1/branches")
            .match_query(Matcher::Any)
            .with_body(
                json!({ "branches": [branch("br-1", "dev2")], "pagination": { "next": "c" } })
                    .to_string(),
            )
            .expect(1)
            .create_async()
            .await;
        assert_eq!(neon.find_branch("dev").await.unwrap(), None);
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn not_found_keeps_neons_words() {
        let (mut server, neon) = server().await;
        let mock = server
            .mock("GET", "/projects/p1/branches/br%2Fx")
            .with_status(404)
            .with_body(r#"{"code":"","message":"branch not found","request_id":"req-9"}"#)
            .create_async()
            .await;
        let err = neon.get_branch("br/x").await.unwrap_err();
        mock.assert_async().await;
        match err {
            NeonError::NotFound(api) => {
                assert_eq!(api.message, "branch not found");
                assert_eq!(api.request_id.as_deref(), Some("req-9"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn create_branch_conflict_is_conflict() {
        let (mut server, neon) = server().await;
        let mock = server
            .mock("POST", "/projects/p1/branches")
            .match_body(Matcher::Json(json!({
                "branch": { "name": "preview/pr-1", "parent_id": "br-dev", "expires_at": "2026-12-01T00:00:00Z" },
                "endpoints": [{ "type": "read_write" }],
            })))
            .with_status(409)
            .with_body(r#"{"code":"","message":"branch already exists"}"#)
            .expect(1)
            .create_async()
            .await;
        let req = CreateBranch {
            name: "preview/pr-1".into(),
            parent_id: "br-dev".into(),
            expires_at: Some("2026-12-01T00:00:00Z".into()),
            read_write_endpoint: true,
        };
        let err = neon.create_branch(&req).await.unwrap_err();
        mock.assert_async().await;
        assert!(matches!(err, NeonError::Conflict(api) if api.message == "branch already exists"));
    }

    #[tokio::test]
    async fn rate_limit_honours_retry_after() {
        let (mut server, neon) = server().await;
        let limited = server
            .mock("GET", "/projects/p1/snapshots")
            .with_status(429)
            .with_header("retry-after", "1")
            .with_body(r#"{"message":"too many requests"}"#)
            .expect(1)
            .create_async()
            .await;
        let ok = server
            .mock("GET", "/projects/p1/snapshots")
            .with_body(json!({ "snapshots": [snapshot("s1", "a")] }).to_string())
            .create_async()
            .await;
        let start = std::time::Instant::now();
        let snapshots = neon.list_snapshots().await.unwrap();
        limited.assert_async().await;
        ok.assert_async().await;
        assert_eq!(snapshots.len(), 1);
        assert!(start.elapsed() >= Duration::from_secs(1));
    }

    #[tokio::test]
    async fn locked_is_retried_even_for_a_post() {
        let (mut server, neon) = server().await;
        let locked = server
            .mock("POST", "/projects/p1/branches/br-prod/snapshot")
            .match_query(Matcher::Any)
            .with_status(423)
            .with_body(r#"{"message":"project already has running conflicting operations"}"#)
            .expect(1)
            .create_async()
            .await;
        let ok = server
            .mock("POST", "/projects/p1/branches/br-prod/snapshot")
            .match_query(Matcher::Any)
            .with_status(201)
            .with_body(json!({ "snapshot": snapshot("s1", "n"), "operations": [] }).to_string())
            .create_async()
            .await;
        neon.create_snapshot("br-prod", "n", None).await.unwrap();
        locked.assert_async().await;
        ok.assert_async().await;
    }

    #[tokio::test]
    async fn a_500_on_a_post_rereads_state_instead_of_posting_again() {
        let (mut server, neon) = server().await;
        let post = server
            .mock("POST", "/projects/p1/branches/br-prod/snapshot")
            .match_query(Matcher::Any)
            .with_status(500)
            .with_body(r#"{"message":"internal error"}"#)
            .expect(1)
            .create_async()
            .await;
        let list = server
            .mock("GET", "/projects/p1/snapshots")
            .with_body(
                json!({ "snapshots": [snapshot("s1", "other"), snapshot("s2", "n")] }).to_string(),
            )
            .create_async()
            .await;
        let ops = server
            .mock("GET", "/projects/p1/operations")
            .match_query(Matcher::UrlEncoded("limit".into(), "1000".into()))
            .with_body(
                json!({ "operations": [op("op-1", "running"), op("op-0", "finished")] })
                    .to_string(),
            )
            .create_async()
            .await;
        let made = neon.create_snapshot("br-prod", "n", None).await.unwrap();
        post.assert_async().await;
        list.assert_async().await;
        ops.assert_async().await;
        assert_eq!(made.value.id, "s2");
        assert_eq!(made.operations.len(), 1);
    }

    /// A one-thread HTTP server that resets every POST and answers GETs with `get_body`.
    fn resetting_server(get_body: String) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let mut length = 0;
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if header.trim().is_empty() {
                        break;
                    }
                }
                reader.take(length).read_to_end(&mut Vec::new()).unwrap();
                log.lock().unwrap().push(line.trim().to_string());
                if line.starts_with("GET") {
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{get_body}",
                        get_body.len()
                    );
                    stream.write_all(answer.as_bytes()).unwrap();
                }
                // A POST: the stream is dropped unanswered (connection closed mid-request).
            }
        });
        (url, seen)
    }

    #[tokio::test]
    async fn a_reset_post_rereads_state_instead_of_posting_again() {
        let body = json!({ "branches": [branch("br-9", "preview/pr-1")] }).to_string();
        let (url, seen) = resetting_server(body);
        let req = CreateBranch {
            name: "preview/pr-1".into(),
            parent_id: "br-dev".into(),
            ..Default::default()
        };
        let err = client(&url).create_branch(&req).await.unwrap_err();
        assert!(
            matches!(&err, NeonError::Conflict(api) if api.message.contains("br-9")),
            "{err:?}"
        );
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen.iter().filter(|l| l.starts_with("POST")).count(),
            1,
            "{seen:?}"
        );
        assert!(
            seen[1].starts_with("GET /projects/p1/branches?search=preview%2Fpr-1&sort_by=name"),
            "{seen:?}"
        );
    }

    #[tokio::test]
    async fn delete_after_an_ambiguous_failure_is_done_when_the_branch_is_gone() {
        let (mut server, neon) = server().await;
        let delete = server
            .mock("DELETE", "/projects/p1/branches/br-old")
            .with_status(502)
            .expect(1)
            .create_async()
            .await;
        let get = server
            .mock("GET", "/projects/p1/branches/br-old")
            .with_status(404)
            .with_body(r#"{"message":"branch not found"}"#)
            .create_async()
            .await;
        let ops = server
            .mock("GET", "/projects/p1/operations")
            .match_query(Matcher::Any)
            .with_body(r#"{"operations":[]}"#)
            .create_async()
            .await;
        assert!(neon.delete_branch("br-old").await.unwrap().is_empty());
        delete.assert_async().await;
        get.assert_async().await;
        ops.assert_async().await;
    }

    #[tokio::test]
    async fn connection_uri_asks_for_branch_database_role_and_pooling() {
        let (mut server, neon) = server().await;
        let mock = server
            .mock("GET", "/projects/p1/connection_uri")
            .match_query(Matcher::AllOf(vec![
                Matcher::UrlEncoded("branch_id".into(), "br-1".into()),
                Matcher::UrlEncoded("database_name".into(), "neondb".into()),
                Matcher::UrlEncoded("role_name".into(), "neondb_owner".into()),
                Matcher::UrlEncoded("pooled".into(), "true".into()),
            ]))
            .with_body(r#"{"uri":"postgresql://u:p@h/neondb"}"#)
            .create_async()
            .await;
        let uri = neon
            .connection_uri("br-1", "neondb", "neondb_owner", true)
            .await
            .unwrap();
        mock.assert_async().await;
        assert_eq!(uri, "postgresql://u:p@h/neondb");
    }

    #[tokio::test]
    async fn running_operations_follow_the_operations_cursor() {
        let (mut server, neon) = server().await;
        let page1: Vec<Value> = (0..OPERATION_PAGE)
            .map(|i| op(&format!("op-{i}"), "finished"))
            .collect();
        let first = server
            .mock("GET", "/projects/p1/operations")
            .match_query(Matcher::Regex("^limit=1000$".into()))
            .with_body(json!({ "operations": page1, "pagination": { "cursor": "t1" } }).to_string())
            .create_async()
            .await;
        let second = server
            .mock("GET", "/projects/p1/operations")
            .match_query(Matcher::UrlEncoded("cursor".into(), "t1".into()))
            .with_body(
                json!({ "operations": [op("op-r", "running")], "pagination": { "cursor": "t2" } })
                    .to_string(),
            )
            .create_async()
            .await;
        let running = neon.running_operations().await.unwrap();
        first.assert_async().await;
        second.assert_async().await;
        assert_eq!(
            running.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
            ["op-r"]
        );
    }

    #[tokio::test]
    async fn snapshot_quota_is_quota_exceeded() {
        let (mut server, neon) = server().await;
        let mock = server
            .mock("POST", "/projects/p1/branches/br-prod/snapshot")
            .match_query(Matcher::Any)
            .with_status(422)
            .with_body(r#"{"code":"","message":"snapshot limit reached: 1 of 1"}"#)
            .create_async()
            .await;
        let err = neon
            .create_snapshot("br-prod", "n", None)
            .await
            .unwrap_err();
        mock.assert_async().await;
        assert!(matches!(err, NeonError::QuotaExceeded(api) if api.message.contains("limit")));
    }

    #[test]
    fn quota_heuristic() {
        let api = |code: &str, message: &str| ApiError {
            code: code.into(),
            message: message.into(),
            request_id: None,
        };
        assert!(is_quota(422, &api("", "snapshots limit exceeded")));
        assert!(is_quota(403, &api("", "Project quota reached")));
        assert!(is_quota(400, &api("SNAPSHOTS_LIMIT_EXCEEDED", "")));
        assert!(!is_quota(400, &api("", "invalid limit parameter")));
        assert!(!is_quota(422, &api("", "branch is protected")));
        assert!(!is_quota(500, &api("", "limit")));
    }

    #[test]
    fn errors_map_by_status() {
        let body = br#"{"code":"X","message":"m"}"#;
        let map = |s: u16| map_error(StatusCode::from_u16(s).unwrap(), None, body);
        assert!(matches!(map(409), NeonError::Conflict(_)));
        assert!(matches!(map(423), NeonError::Locked(_)));
        assert!(matches!(map(429), NeonError::RateLimited { .. }));
        assert!(matches!(map(503), NeonError::Server { status: 503, .. }));
        assert!(matches!(map(400), NeonError::Client { status: 400, .. }));
        let plain = map_error(StatusCode::BAD_GATEWAY, None, b"upstream gone");
        assert!(matches!(plain, NeonError::Server { api, .. } if api.message == "upstream gone"));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let neon = client("http://127.0.0.1:1");
        let text = format!("{neon:?}");
        assert!(!text.contains(KEY) && text.contains("<redacted>"), "{text}");
        assert_eq!(neon.base, "http://127.0.0.1:1");
    }

    #[test]
    fn base_name_strips_the_old_suffix() {
        assert_eq!(base_name("prod (old)"), "prod");
        assert_eq!(base_name("prod (old) 2"), "prod");
        assert_eq!(base_name("prod"), "prod");
        assert_eq!(base_name("prod (old) copy"), "prod (old) copy");
    }
}
