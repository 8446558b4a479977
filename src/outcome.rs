//! What a command did, as data. Commands return an `Outcome` (or a `Failure`); `app` turns it
//! into outputs, the job summary and the PR comment (`crate::render`). Nothing here prints.

use crate::config::CommandName;
use crate::schema::SchemaDiff;

/// A branch as reports name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchRef {
    pub id: String,
    pub name: String,
}

/// A snapshot as reports name it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapshotRef {
    pub id: String,
    pub name: String,
}

/// The pull request a run reports to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRef {
    pub number: u64,
    pub title: String,
}

/// What became of `<branch> (old)` after a finalized restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OldBranch {
    Deleted {
        id: String,
    },
    /// Already deleted, by an earlier try of this run's event.
    Gone {
        id: String,
    },
    /// `keep_old_branch: true`.
    Kept {
        id: String,
    },
    /// It still has children (preview branches of the old dev, say): kept for a later sweep.
    KeptWithChildren {
        id: String,
        children: Vec<String>,
    },
}

/// How to reach a branch. The password and both URLs were masked when this was made.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub password: String,
    pub host: String,
    pub pooler_host: String,
    pub url: String,
    pub pooled_url: String,
}

// By hand, so the password never reaches a log.
impl std::fmt::Debug for ConnectionInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionInfo")
            .field("host", &self.host)
            .field("pooler_host", &self.pooler_host)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl ConnectionInfo {
    fn outputs(&self) -> [(&'static str, String); 5] {
        [
            ("db_url", self.url.clone()),
            ("db_url_pooled", self.pooled_url.clone()),
            ("db_host", self.host.clone()),
            ("db_host_pooled", self.pooler_host.clone()),
            ("password", self.password.clone()),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub pr: Option<PullRef>,
    pub branch: BranchRef,
    pub created: bool,
    pub expires_at: Option<String>,
    /// `None` only in a dry run.
    pub connection: Option<ConnectionInfo>,
    /// The branch holds dev's schema and no rows (`branch_type: schema-only`).
    pub schema_only: bool,
    /// What `masking_rules` did, when given.
    pub masking: Option<Masking>,
    /// `get_auth_url`: Neon Auth's URL; `None` when not asked for or not enabled.
    pub auth_url: Option<String>,
    /// `get_data_api_url`: the Data API's URL; `None` when not asked for or not enabled.
    pub data_api_url: Option<String>,
}

/// `masking_rules` on a preview: Neon applies them only when it creates a branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Masking {
    /// This run created the branch anonymized with them.
    Applied,
    /// The branch existed, anonymized when it was created; the rules were not applied again.
    Kept,
}

/// `connect`: the connection strings of a branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    pub branch: BranchRef,
    pub connection: ConnectionInfo,
}

/// `checkpoint`: a named rollback point of production.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub snapshot: SnapshotRef,
    pub prod: BranchRef,
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CleanupResult {
    Deleted,
    /// Expired or deleted by hand before we came: success.
    AlreadyGone,
    /// Not deleted: it has children.
    KeptWithChildren(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleanup {
    pub pr: Option<PullRef>,
    pub branch_name: String,
    pub branch_id: Option<String>,
    pub result: CleanupResult,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promotion {
    pub pr: Option<PullRef>,
    pub sha: String,
    /// prod after the restore (same name, new id).
    pub prod: BranchRef,
    /// prod's id before the restore, now `<prod> (old)`.
    pub previous_prod_id: String,
    /// `None` only for a re-run that cannot find it any more.
    pub rollback_snapshot: Option<SnapshotRef>,
    /// Becomes dev's baseline once the promotion is verified.
    pub candidate_snapshot: SnapshotRef,
    /// This sha had already been promoted: nothing was promoted again.
    pub already_promoted: bool,
    /// What the promotion changes in production's schema (prod → dev).
    pub schema: Option<SchemaDiff>,
    /// Whether production was written since dev's baseline.
    pub prod_changed: Option<ProdChange>,
}

/// The prod-divergence guard's finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProdChange {
    /// Written since the baseline, replaced since, or not known (treated as changed).
    pub changed: bool,
    pub baseline: Option<SnapshotRef>,
    pub baseline_taken: Option<jiff::Timestamp>,
    /// WAL production took since the baseline, when both LSNs are known.
    pub wal_bytes: Option<u64>,
    /// In words, for the warning, the comment and the summary.
    pub why: String,
}

/// `diff`: a preview branch's schema compared with dev's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    pub pr: Option<PullRef>,
    pub branch: BranchRef,
    pub dev: BranchRef,
    pub expires_at: Option<String>,
    pub schema: SchemaDiff,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    pub pr: Option<PullRef>,
    pub restored_snapshot: SnapshotRef,
    /// Taken of prod just before the rollback, so the rollback can be undone.
    pub rollback_snapshot: Option<SnapshotRef>,
    pub prod: BranchRef,
    pub previous_prod_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshDev {
    pub prod_snapshot: SnapshotRef,
    pub dev: BranchRef,
    pub previous_dev_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    pub prod: BranchRef,
    pub dev: BranchRef,
    /// false: dev already existed and nothing was changed.
    pub created: bool,
    pub prod_protected: bool,
    /// Why prod could not be protected (a plan without protected branches), if so.
    pub protect_skipped: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sweep {
    pub deleted_branches: Vec<BranchRef>,
    pub deleted_snapshots: Vec<SnapshotRef>,
    /// Things that matched but were kept, with why.
    pub kept: Vec<(String, String)>,
}

/// A dry run: every call that would have been made, in order, after every read was done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub command: CommandName,
    pub calls: Vec<String>,
}

/// What the clean-up after a verified restore did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tidied {
    pub old_branch: Option<OldBranch>,
    /// The snapshot that is now dev's baseline.
    pub baseline: Option<SnapshotRef>,
    pub deleted_snapshots: Vec<SnapshotRef>,
    /// Pieces that failed (each also a warning); a re-run or the next sweep finishes them.
    pub failed: Vec<String>,
}

/// A failed command: its one-line message (what failed, the state production is in, the next
/// step) and the rollback point the run took, when it still exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub message: String,
    pub rollback_snapshot: Option<SnapshotRef>,
    /// Set when only a setting fixes the cause: it stands in for the next step, which `app`
    /// words for the mode the run is in and adds to `message`.
    pub fix: Option<Fix>,
}

impl Failure {
    pub fn from_message(message: String) -> Self {
        Self {
            message,
            rollback_snapshot: None,
            fix: None,
        }
    }
}

/// A cause that a setting fixes and re-running as it is cannot (SPEC §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// 401/403: the API key is wrong or of another organisation.
    ApiKey,
    /// A 404 about the project itself: its id, or the host, is wrong.
    Project,
    /// `api_host` refused, did not resolve, or failed TLS.
    Host,
    /// Neon refuses requests until then, later than `timeout` allows.
    WaitUntil(jiff::Timestamp),
    /// The branch or snapshot (`kind`) that `input` names does not exist.
    Named {
        input: &'static str,
        kind: &'static str,
    },
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast::<Failure>() {
            Ok(f) => f,
            Err(e) => Self::from_message(format!("{e:#}")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Deliberately nothing to do (exit 0, a notice).
    Skipped {
        reason: String,
    },
    Preview(Preview),
    Cleanup(Cleanup),
    Promote(Promotion),
    Rollback(Rollback),
    RefreshDev(RefreshDev),
    Setup(Setup),
    Sweep(Sweep),
    Connect(Connect),
    Checkpoint(Checkpoint),
    Diff(Diff),
    DryRun(Plan),
}

impl Outcome {
    /// The `command` output: what actually ran.
    pub fn command(&self) -> &'static str {
        let name = match self {
            Self::Skipped { .. } => return "skipped",
            Self::Preview(_) => CommandName::Preview,
            Self::Cleanup(_) => CommandName::Cleanup,
            Self::Promote(_) => CommandName::Promote,
            Self::Rollback(_) => CommandName::Rollback,
            Self::RefreshDev(_) => CommandName::RefreshDev,
            Self::Setup(_) => CommandName::Setup,
            Self::Sweep(_) => CommandName::Sweep,
            Self::Connect(_) => CommandName::Connect,
            Self::Checkpoint(_) => CommandName::Checkpoint,
            Self::Diff(_) => CommandName::Diff,
            Self::DryRun(plan) => plan.command,
        };
        name.as_str()
    }

    /// Step outputs (SPEC §2), in a stable order. Secrets among them are masked by the command
    /// the moment it learns them, long before this is called.
    pub fn outputs(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("command", self.command().to_string())];
        match self {
            Self::Preview(p) => {
                out.extend([
                    ("branch_id", p.branch.id.clone()),
                    ("branch_name", p.branch.name.clone()),
                    ("created", p.created.to_string()),
                    ("expires_at", p.expires_at.clone().unwrap_or_default()),
                ]);
                out.extend(p.connection.iter().flat_map(ConnectionInfo::outputs));
                out.extend(p.auth_url.iter().map(|u| ("auth_url", u.clone())));
                out.extend(p.data_api_url.iter().map(|u| ("data_api_url", u.clone())));
            }
            Self::Connect(c) => {
                out.extend([
                    ("branch_id", c.branch.id.clone()),
                    ("branch_name", c.branch.name.clone()),
                ]);
                out.extend(c.connection.outputs());
            }
            // A checkpoint is a rollback point: under that name too, so a step that reads
            // `rollback_snapshot_id` after any command that took one finds it.
            Self::Checkpoint(c) => {
                out.push(("snapshot_id", c.snapshot.id.clone()));
                out.push(("rollback_snapshot_id", c.snapshot.id.clone()));
            }
            Self::Diff(d) => out.extend(schema_outputs(&d.schema)),
            Self::Cleanup(c) => {
                out.push(("branch_name", c.branch_name.clone()));
                if let Some(id) = &c.branch_id {
                    out.push(("branch_id", id.clone()));
                }
            }
            Self::Promote(p) => {
                out.extend(
                    p.rollback_snapshot
                        .iter()
                        .map(|r| ("rollback_snapshot_id", r.id.clone())),
                );
                out.extend([
                    ("candidate_snapshot_id", p.candidate_snapshot.id.clone()),
                    ("prod_branch_id", p.prod.id.clone()),
                ]);
                out.extend(p.schema.iter().flat_map(schema_outputs));
            }
            Self::Rollback(r) => {
                out.push(("restored_snapshot_id", r.restored_snapshot.id.clone()));
                out.extend(
                    r.rollback_snapshot
                        .iter()
                        .map(|s| ("rollback_snapshot_id", s.id.clone())),
                );
                out.push(("prod_branch_id", r.prod.id.clone()));
            }
            Self::RefreshDev(r) => out.push(("dev_branch_id", r.dev.id.clone())),
            Self::Setup(s) => out.extend([
                ("dev_branch_id", s.dev.id.clone()),
                ("prod_branch_id", s.prod.id.clone()),
            ]),
            Self::Skipped { .. } | Self::Sweep(_) | Self::DryRun(_) => {}
        }
        out
    }

    /// The pull request to comment on, if the outcome belongs to one.
    pub fn pull_request(&self) -> Option<&PullRef> {
        match self {
            Self::Preview(p) => p.pr.as_ref(),
            Self::Cleanup(c) => c.pr.as_ref(),
            Self::Promote(p) => p.pr.as_ref(),
            Self::Rollback(r) => r.pr.as_ref(),
            Self::Diff(d) => d.pr.as_ref(),
            _ => None,
        }
    }
}

/// `schema_changed` and `destructive_changes`.
fn schema_outputs(diff: &SchemaDiff) -> [(&'static str, String); 2] {
    [
        ("schema_changed", diff.changed().to_string()),
        ("destructive_changes", diff.destructive().len().to_string()),
    ]
}

/// One timed step, for the log and the job summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    pub label: String,
    pub duration: std::time::Duration,
    pub ok: bool,
}
