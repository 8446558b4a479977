//! The endpoints: one typed method per Neon API call neon-promote makes, reading like the API
//! reference, each with what to do after an ambiguous mutation (re-read state, never blindly
//! re-send). How a call is made is `calls`'s, sending the governor's, the retry schedule
//! `retry`'s, the operation wait `poll`'s; it knows nothing of GitHub or of our commands.

use std::time::Duration;

use jiff::Timestamp;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::json;
use tokio::time::Instant;

use super::calls::{Call, parse, poll_call, unreadable};
use super::pages::{Pages, Pagination};
use super::transport::Method;
use super::{
    ApiError, Branch, CreateBranch, CreatedBranch, Endpoint, EndpointType, NeonClient, NeonError,
    Operation, UpdateBranch, WithOps, poll, search,
};

/// The spec's `LimitParam` maximum for listing branches.
const BRANCH_PAGE: usize = 10_000;
/// Operations per page when scanning for the ones a request started (newest first).
const OPERATION_PAGE: usize = 100;
/// How much earlier than our clock Neon may stamp an operation we started.
pub(super) const CLOCK_SKEW: Duration = Duration::from_secs(60);
/// How much earlier than a resource's own `created_at` the operation that made it may be
/// stamped (both on Neon's clock).
const MADE_SLACK: Duration = Duration::from_secs(1);

#[derive(Deserialize)]
struct BranchPage {
    branches: Vec<Branch>,
    #[serde(default)]
    pagination: Option<Pagination>,
}

#[derive(Deserialize)]
struct OperationPage {
    #[serde(default)]
    operations: Vec<Operation>,
    #[serde(default)]
    pagination: Option<Pagination>,
}

/// A delete's answer: only its operations matter.
pub(super) type OpsOnly = WithOps<Option<IgnoredAny>>;

impl NeonClient {
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
        let base = [
            ("search", name_or_id.to_string()),
            ("sort_by", "name".to_string()),
            ("sort_order", "asc".to_string()),
        ];
        let mut pages = Pages::new(BRANCH_PAGE);
        while let Some(query) = pages.next_query(&base) {
            let what = "search branches";
            let req = self.request(Method::Get, &["branches"], query, None);
            let bytes = self.fetch(&req, self.idempotent(what)).await?;
            let page = search::read_page(name_or_id, &bytes).map_err(|e| unreadable(what, e))?;
            if page.hit.is_some() {
                return Ok(page.hit);
            }
            pages.turn(page.count, page.pagination);
        }
        Ok(None)
    }

    pub async fn get_branch(&self, id: &str) -> Result<Branch, NeonError> {
        #[derive(Deserialize)]
        struct One {
            branch: Branch,
        }
        let one: One = self
            .get("get branch", &["branches", id], Vec::new())
            .await?;
        Ok(one.branch)
    }

    /// Every branch of the project, all pages.
    pub async fn list_branches(&self) -> Result<Vec<Branch>, NeonError> {
        let mut all = Vec::new();
        let mut pages = Pages::new(BRANCH_PAGE);
        while let Some(query) = pages.next_query(&[]) {
            let page: BranchPage = self.get("list branches", &["branches"], query).await?;
            pages.turn(page.branches.len(), page.pagination);
            all.extend(page.branches);
        }
        Ok(all)
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
        let segments = ["branches", branch_id, "endpoints"];
        let list: List = self.get("list endpoints", &segments, Vec::new()).await?;
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
        let query = vec![
            ("branch_id", branch_id.to_string()),
            ("database_name", database.to_string()),
            ("role_name", role.to_string()),
            ("pooled", pooled.to_string()),
        ];
        let uri: Uri = self
            .get("get connection URI", &["connection_uri"], query)
            .await?;
        Ok(uri.uri)
    }

    /// Creates a branch (and a read-write compute when asked; anonymized when it has masking
    /// rules). A 409 (name taken) is `Err(Conflict)`; so is a branch found by name after an
    /// ambiguous failure.
    pub async fn create_branch(&self, req: &CreateBranch) -> Result<CreatedBranch, NeonError> {
        let (what, post) = self.create_request(req);
        self.post_once(what, &post, move |_| async move {
            match self.find_branch(&req.name).await? {
                Some(b) => Err(NeonError::Conflict(api_message(&format!(
                    "branch {:?} already exists (id {}; created by an earlier try)",
                    b.name, b.id
                )))),
                None => Ok(None),
            }
        })
        .await
    }

    /// `PATCH` a branch: name, protection, expiry. Repeating it is harmless.
    pub async fn update_branch(
        &self,
        id: &str,
        req: &UpdateBranch,
    ) -> Result<WithOps<Branch>, NeonError> {
        let body = json!({ "branch": req });
        let patch = self.request(Method::Patch, &["branches", id], Vec::new(), Some(body));
        let what = "update branch";
        parse(what, &self.fetch(&patch, self.idempotent(what)).await?)
    }

    /// Deletes a branch; a 404 is `Err(NotFound)`. After an ambiguous failure a branch that is
    /// gone counts as deleted.
    pub async fn delete_branch(&self, id: &str) -> Result<Vec<Operation>, NeonError> {
        let delete = self.request(Method::Delete, &["branches", id], Vec::new(), None);
        let answer: OpsOnly = self
            .post_once("delete branch", &delete, move |since| async move {
                match self.get_branch(id).await {
                    Err(NeonError::NotFound(_)) => {
                        self.applied(Some(None), &[id], since, None).await
                    }
                    Err(e) => Err(e),
                    Ok(_) => Ok(None),
                }
            })
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
        let post = self.request(Method::Post, &["endpoints"], Vec::new(), Some(body));
        self.post_once("create endpoint", &post, move |since| async move {
            let endpoints = self.list_endpoints(branch_id).await?;
            let found = endpoints.into_iter().find(|e| e.kind == kind);
            self.applied(found, &[branch_id], since, None).await
        })
        .await
    }

    /// Operations of the project that have not ended (a re-run waits for what a cancelled run
    /// left running). Newest first; the scan stops at the first operation older than a day.
    pub async fn running_operations(&self) -> Result<Vec<Operation>, NeonError> {
        let floor = self.clock().now() - jiff::SignedDuration::from_hours(24);
        let mut running = Vec::new();
        let mut pages = Pages::new(OPERATION_PAGE);
        while let Some(query) = pages.next_query(&[]) {
            let page: OperationPage = self.get("list operations", &["operations"], query).await?;
            pages.turn(page.operations.len(), page.pagination);
            for op in page.operations {
                if op
                    .created_at
                    .parse::<Timestamp>()
                    .is_ok_and(|at| at < floor)
                {
                    pages.end();
                    break;
                }
                if op.status.is_running() {
                    running.push(op);
                }
            }
        }
        Ok(running)
    }

    /// The project's recent operations on one branch, whatever their status, newest first
    /// (one page: a restore's operations are recent).
    pub async fn branch_operations(&self, branch_id: &str) -> Result<Vec<Operation>, NeonError> {
        let query = vec![("limit", OPERATION_PAGE.to_string())];
        let page: OperationPage = self.get("list operations", &["operations"], query).await?;
        Ok(page
            .operations
            .into_iter()
            .filter(|op| op.branch_id.as_deref() == Some(branch_id))
            .collect())
    }

    /// Waits for operations to end, bounded by the `timeout` setting (`poll`).
    pub async fn wait(&self, ops: &[Operation]) -> Result<(), NeonError> {
        poll::wait_for(self, ops).await
    }

    /// One operation, unwrapped from `{"operation": {...}}`, as a poll of a wait ending at
    /// `deadline`.
    pub(super) async fn poll_operation(
        &self,
        id: &str,
        deadline: Instant,
    ) -> Result<Operation, NeonError> {
        #[derive(Deserialize)]
        struct One {
            operation: Operation,
        }
        let req = self.request(Method::Get, &["operations", id], Vec::new(), None);
        let one: One = parse(
            "get operation",
            &self.fetch(&req, poll_call(deadline)).await?,
        )?;
        Ok(one.operation)
    }

    /// The project's newest `limit` operations, newest first: one poll for several.
    pub(super) async fn poll_operations(
        &self,
        limit: usize,
        deadline: Instant,
    ) -> Result<Vec<Operation>, NeonError> {
        let query = vec![("limit", limit.to_string())];
        let req = self.request(Method::Get, &["operations"], query, None);
        let call = Call {
            what: "list operations",
            ..poll_call(deadline)
        };
        let page: OperationPage = parse(call.what, &self.fetch(&req, call).await?)?;
        Ok(page.operations)
    }

    /// What a re-read `found` of an ambiguous mutation, with the operations it started on
    /// `branch_ids`; `None` when it was not applied. `made_at` is Neon's `created_at` of what
    /// was found: on Neon's own clock, it bounds the operations far tighter than our `since`
    /// less the clock skew, which could take another run's operation on the same branch a
    /// moment earlier for this one's (simulation seed 26601: a foreign failed snapshot
    /// operation made a good checkpoint look failed, and it was deleted).
    pub(super) async fn applied<T>(
        &self,
        found: Option<T>,
        branch_ids: &[&str],
        since: Timestamp,
        made_at: Option<&str>,
    ) -> Result<Option<WithOps<T>>, NeonError> {
        let Some(value) = found else {
            return Ok(None);
        };
        let floor = match made_at.and_then(|t| t.parse::<Timestamp>().ok()) {
            Some(made) => made.checked_sub(MADE_SLACK).unwrap_or(made),
            None => since.checked_sub(CLOCK_SKEW).unwrap_or(since),
        };
        // Twice: the operations list may lag the mutation by one read, and missing the
        // operation it started would let the caller go on before it ends.
        let mut operations = self.operations_of(branch_ids, floor).await?;
        if operations.is_empty() {
            operations = self.operations_of(branch_ids, floor).await?;
        }
        Ok(Some(WithOps { value, operations }))
    }

    /// Operations on any of these branches that have not succeeded, after a re-read found the
    /// mutation applied: running ones to wait for, and failed ones, so that a mutation whose
    /// operation already failed (a snapshot that never completed, say) is never taken for
    /// done. Operations come newest first, so the scan stops at the first one older than
    /// `floor`.
    async fn operations_of(
        &self,
        branch_ids: &[&str],
        floor: Timestamp,
    ) -> Result<Vec<Operation>, NeonError> {
        let mut running = Vec::new();
        let mut pages = Pages::new(OPERATION_PAGE);
        while let Some(query) = pages.next_query(&[]) {
            let page: OperationPage = self.get("list operations", &["operations"], query).await?;
            pages.turn(page.operations.len(), page.pagination);
            for op in page.operations {
                if op
                    .created_at
                    .parse::<Timestamp>()
                    .is_ok_and(|at| at < floor)
                {
                    pages.end();
                    break;
                }
                let ours = op
                    .branch_id
                    .as_deref()
                    .is_some_and(|b| branch_ids.contains(&b));
                if ours && !op.status.is_success() {
                    running.push(op);
                }
            }
        }
        Ok(running)
    }
}

fn api_message(message: &str) -> ApiError {
    ApiError {
        message: message.to_string(),
        ..ApiError::default()
    }
}
