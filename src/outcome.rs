//! What a command did, as data. Commands return an `Outcome`; `main` turns it into outputs, the
//! job summary and the PR comment (`crate::render`). Nothing here prints.

/// A branch as reports name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchRef {
    pub id: String,
    pub name: String,
}

/// A snapshot as reports name it.
#[derive(Debug, Clone, PartialEq, Eq)]
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub pr: Option<PullRef>,
    pub branch: BranchRef,
    pub created: bool,
    pub expires_at: Option<String>,
    pub db_url: String,
    pub db_url_pooled: String,
    pub db_host: String,
    pub db_host_pooled: String,
    pub password: String,
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
    pub rollback_snapshot: SnapshotRef,
    pub candidate_snapshot: SnapshotRef,
    pub old_branch: OldBranch,
    /// The candidate snapshot was deleted after verification.
    pub candidate_deleted: bool,
    /// This sha had already been promoted: nothing was done.
    pub already_promoted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    pub pr: Option<PullRef>,
    pub restored_snapshot: SnapshotRef,
    /// Taken of prod just before the rollback, so the rollback can be undone.
    pub rollback_snapshot: SnapshotRef,
    pub prod: BranchRef,
    pub previous_prod_id: String,
    pub old_branch: OldBranch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshDev {
    pub prod_snapshot: SnapshotRef,
    pub dev: BranchRef,
    pub previous_dev_id: String,
    pub old_branch: OldBranch,
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
    pub command: &'static str,
    pub calls: Vec<String>,
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
    DryRun(Plan),
}

impl Outcome {
    /// The `command` output: what actually ran.
    pub fn command(&self) -> &'static str {
        match self {
            Self::Skipped { .. } => "skipped",
            Self::Preview(_) => "preview",
            Self::Cleanup(_) => "cleanup",
            Self::Promote(_) => "promote",
            Self::Rollback(_) => "rollback",
            Self::RefreshDev(_) => "refresh-dev",
            Self::Setup(_) => "setup",
            Self::Sweep(_) => "sweep",
            Self::DryRun(plan) => plan.command,
        }
    }

    /// Step outputs (SPEC §2), in a stable order. Secrets among them are masked by the command
    /// the moment it learns them, long before this is called.
    pub fn outputs(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("command", self.command().to_string())];
        match self {
            Self::Preview(p) => out.extend([
                ("branch_id", p.branch.id.clone()),
                ("branch_name", p.branch.name.clone()),
                ("created", p.created.to_string()),
                ("expires_at", p.expires_at.clone().unwrap_or_default()),
                ("db_url", p.db_url.clone()),
                ("db_url_pooled", p.db_url_pooled.clone()),
                ("db_host", p.db_host.clone()),
                ("db_host_pooled", p.db_host_pooled.clone()),
                ("password", p.password.clone()),
            ]),
            Self::Cleanup(c) => {
                out.push(("branch_name", c.branch_name.clone()));
                if let Some(id) = &c.branch_id {
                    out.push(("branch_id", id.clone()));
                }
            }
            Self::Promote(p) => out.extend([
                ("rollback_snapshot_id", p.rollback_snapshot.id.clone()),
                ("candidate_snapshot_id", p.candidate_snapshot.id.clone()),
                ("prod_branch_id", p.prod.id.clone()),
            ]),
            Self::Rollback(r) => out.extend([
                ("restored_snapshot_id", r.restored_snapshot.id.clone()),
                ("rollback_snapshot_id", r.rollback_snapshot.id.clone()),
                ("prod_branch_id", r.prod.id.clone()),
            ]),
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
            _ => None,
        }
    }
}
