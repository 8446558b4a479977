//! The steps that promote, rollback, refresh-dev and setup share: find a root branch, snapshot
//! it, restore a snapshot onto a branch with finalize and verify it, retire the `<name> (old)`
//! branch the restore leaves behind, and say in one line how far a failed run got.
//!
//! It does not decide *what* to restore or when: the commands do. Every Neon call goes through
//! `ctx.step`, so each one is timed, logged and stops on cancel.

use std::fmt;

use anyhow::{anyhow, bail};

use super::{expires_at, failure};
use crate::config::Expiry;
use crate::ctx::{Cancelled, Ctx};
use crate::naming::SnapshotName;
use crate::neon::{Branch, NeonError, RestoreSnapshot, Snapshot, UpdateBranch};
use crate::outcome::{BranchRef, OldBranch, SnapshotRef};

/// One mutating call, as a dry run lists it and as failure messages name it.
#[derive(Debug, Clone)]
pub(crate) enum Call {
    Snapshot {
        branch_id: String,
        name: String,
        expires_at: Option<String>,
    },
    Restore {
        snapshot: String,
        target_branch_id: Option<String>,
        name: Option<String>,
        finalize: bool,
    },
    Protect {
        branch_id: String,
        protected: bool,
    },
    CreateEndpoint {
        branch_id: String,
    },
    DeleteBranch {
        branch_id: String,
    },
    DeleteSnapshot {
        snapshot: String,
    },
}

/// A `Call` rendered against one project: `POST /projects/{p}/branches/{b}/snapshot name=…`.
pub(crate) struct Planned<'a>(pub &'a str, pub &'a Call);

impl fmt::Display for Planned<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.0;
        match self.1 {
            Call::Snapshot {
                branch_id,
                name,
                expires_at,
            } => {
                write!(
                    f,
                    "POST /projects/{p}/branches/{branch_id}/snapshot name={name}"
                )?;
                match expires_at {
                    Some(at) => write!(f, " expires_at={at}"),
                    None => Ok(()),
                }
            }
            Call::Restore {
                snapshot,
                target_branch_id,
                name,
                finalize,
            } => {
                write!(f, "POST /projects/{p}/snapshots/{snapshot}/restore")?;
                if let Some(name) = name {
                    write!(f, " name={name}")?;
                }
                if let Some(target) = target_branch_id {
                    write!(f, " target_branch_id={target}")?;
                }
                write!(f, " finalize_restore={finalize}")
            }
            Call::Protect {
                branch_id,
                protected,
            } => {
                write!(
                    f,
                    "PATCH /projects/{p}/branches/{branch_id} protected={protected}"
                )
            }
            Call::CreateEndpoint { branch_id } => {
                write!(
                    f,
                    "POST /projects/{p}/endpoints branch_id={branch_id} type=read_write"
                )
            }
            Call::DeleteBranch { branch_id } => {
                write!(f, "DELETE /projects/{p}/branches/{branch_id}")
            }
            Call::DeleteSnapshot { snapshot } => {
                write!(f, "DELETE /projects/{p}/snapshots/{snapshot}")
            }
        }
    }
}

/// The dry-run plan of a command: each call rendered against the project, in order.
pub(crate) fn plan_lines(ctx: &Ctx, calls: &[Call]) -> Vec<String> {
    let project = ctx.neon.project_id();
    calls
        .iter()
        .map(|c| Planned(project, c).to_string())
        .collect()
}

/// How production is named in messages before it is found.
pub(crate) fn prod_label(ctx: &Ctx) -> &str {
    ctx.config.prod_branch.as_deref().unwrap_or("production")
}

pub(crate) fn branch_ref(b: &Branch) -> BranchRef {
    BranchRef {
        id: b.id.clone(),
        name: b.name.clone(),
    }
}

pub(crate) fn snapshot_ref(s: &Snapshot) -> SnapshotRef {
    SnapshotRef {
        id: s.id.clone(),
        name: s.name.clone(),
    }
}

/// Production: the `prod_branch` input (name or id), else the project's default branch.
pub(crate) async fn find_prod(ctx: &Ctx) -> anyhow::Result<Branch> {
    let prod = match &ctx.config.prod_branch {
        None => {
            ctx.step("Find production", ctx.neon.default_branch())
                .await?
        }
        Some(name) => ctx
            .step(
                format!("Find production {name}"),
                ctx.neon.find_branch(name),
            )
            .await?
            .ok_or_else(|| {
                anyhow!("production branch `{name}` (input prod_branch) does not exist")
            })?,
    };
    ensure_root(&prod, "production (input prod_branch)")?;
    Ok(prod)
}

/// The dev root (`dev_branch`), or `None` when it does not exist yet.
pub(crate) async fn find_dev(ctx: &Ctx) -> anyhow::Result<Option<Branch>> {
    let name = &ctx.config.dev_branch;
    let dev = ctx
        .step(format!("Find {name}"), ctx.neon.find_branch(name))
        .await?;
    if let Some(dev) = &dev {
        ensure_root(dev, "the dev root (input dev_branch)")?;
    }
    Ok(dev)
}

/// The dev root, which promote and refresh-dev cannot do without.
pub(crate) async fn require_dev(ctx: &Ctx) -> anyhow::Result<Branch> {
    find_dev(ctx).await?.ok_or_else(|| {
        anyhow!(
            "the dev root `{}` (input dev_branch) does not exist; create it with `command: setup`",
            ctx.config.dev_branch
        )
    })
}

/// Snapshots can only be taken of root branches, and a restore only replaces roots we expect.
fn ensure_root(branch: &Branch, role: &str) -> anyhow::Result<()> {
    if !branch.is_root() {
        bail!(
            "`{}` ({}) is {role} but not a root branch (its parent is {}); Neon snapshots only root branches",
            branch.name,
            branch.id,
            branch.parent_id.as_deref().unwrap_or("?")
        );
    }
    Ok(())
}

pub(crate) async fn list_snapshots(ctx: &Ctx) -> anyhow::Result<Vec<Snapshot>> {
    ctx.step("List snapshots", ctx.neon.list_snapshots()).await
}

/// The newest of our snapshots (by name) that `keep` accepts.
pub(crate) fn newest(
    snapshots: &[Snapshot],
    keep: impl Fn(&SnapshotName, &Snapshot) -> bool,
) -> Option<&Snapshot> {
    snapshots
        .iter()
        .filter_map(|s| {
            SnapshotName::parse(&s.name)
                .filter(|n| keep(n, s))
                .map(|n| (n.taken_at, s))
        })
        .max_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| a.1.created_at.cmp(&b.1.created_at))
        })
        .map(|(_, s)| s)
}

/// `a` at or after `b` (the API gives whole seconds, so a fast run shares one); unreadable
/// times never count.
pub(crate) fn not_before(a: &str, b: &str) -> bool {
    match (a.parse::<jiff::Timestamp>(), b.parse::<jiff::Timestamp>()) {
        (Ok(a), Ok(b)) => a >= b,
        _ => false,
    }
}

/// Takes a snapshot of a root branch and waits for it; a full quota becomes an error that lists
/// the snapshots holding it, so the user knows what to delete.
pub(crate) async fn take_snapshot(
    ctx: &Ctx,
    label: &str,
    branch: &Branch,
    name: &str,
    ttl: &Expiry,
) -> anyhow::Result<SnapshotRef> {
    match try_snapshot(ctx, label, branch, name, ttl).await {
        Err(e) => Err(explain_quota(ctx, e).await),
        taken => taken,
    }
}

/// [`take_snapshot`] without the quota explanation, for a caller that frees a slot first. A
/// snapshot whose operation failed is deleted again, so a re-run never reuses it.
pub(crate) async fn try_snapshot(
    ctx: &Ctx,
    label: &str,
    branch: &Branch,
    name: &str,
    ttl: &Expiry,
) -> anyhow::Result<SnapshotRef> {
    let expires = expires_at(ttl);
    let taken = ctx
        .step(label, async {
            let made = ctx
                .neon
                .create_snapshot(&branch.id, name, expires.as_deref())
                .await?;
            match ctx.neon.wait(&made.operations).await {
                Ok(()) => Ok(snapshot_ref(&made.value)),
                Err(cause @ NeonError::OperationFailed { .. }) => Err(anyhow::Error::new(Broken {
                    snapshot: snapshot_ref(&made.value),
                    cause,
                })),
                Err(e) => Err(e.into()),
            }
        })
        .await;
    if let Err(e) = &taken
        && let Some(broken) = e.downcast_ref::<Broken>()
    {
        let label = format!("Delete the failed snapshot {}", broken.snapshot.name);
        if let Err(d) = delete_snapshot(ctx, &label, &broken.snapshot).await {
            ctx.warn(format!(
                "could not delete the failed snapshot {}: {d:#}",
                broken.snapshot.id
            ));
        }
    }
    taken
}

/// A refused snapshot for quota, with the snapshots that hold it; any other error unchanged.
pub(crate) async fn explain_quota(ctx: &Ctx, e: anyhow::Error) -> anyhow::Error {
    if !is_quota(&e) {
        return e;
    }
    let holders = match ctx.step("List snapshots", ctx.neon.list_snapshots()).await {
        Ok(list) => describe_snapshots(&list),
        Err(list_err) => format!("(could not list them: {list_err:#})"),
    };
    e.context(format!(
        "the snapshot quota is full, held by: {holders}; delete one of them (or wait for it to expire) and re-run"
    ))
}

/// A snapshot that exists but whose creating operation failed.
#[derive(Debug, thiserror::Error)]
#[error("{cause}")]
struct Broken {
    snapshot: SnapshotRef,
    cause: NeonError,
}

pub(crate) fn is_quota(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<NeonError>(),
        Some(NeonError::QuotaExceeded(_))
    )
}

fn is_not_found(e: &anyhow::Error) -> bool {
    matches!(e.downcast_ref::<NeonError>(), Some(NeonError::NotFound(_)))
}

/// `name (id, created …, expires …)`, comma-separated.
fn describe_snapshots(list: &[Snapshot]) -> String {
    if list.is_empty() {
        return "no snapshot the API lists".into();
    }
    list.iter()
        .map(|s| {
            let expiry = s
                .expires_at
                .as_deref()
                .map_or("never expires".into(), |e| format!("expires {e}"));
            format!("{} ({}, created {}, {expiry})", s.name, s.id, s.created_at)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Deletes a snapshot; one already gone is fine.
pub(crate) async fn delete_snapshot(
    ctx: &Ctx,
    label: &str,
    snapshot: &SnapshotRef,
) -> anyhow::Result<()> {
    let deleted = ctx
        .step(label, async {
            let ops = ctx.neon.delete_snapshot(&snapshot.id).await?;
            ctx.neon.wait(&ops).await
        })
        .await;
    match deleted {
        Err(e) if !is_not_found(&e) => Err(e),
        _ => Ok(()),
    }
}

/// Restores `snapshot` onto `target` with finalize (the target's name and computes move to a
/// new branch id), waits for every operation, re-resolves the target by name and checks that
/// it was restored from `snapshot`. Returns the new branch.
pub(crate) async fn restore_onto(
    ctx: &Ctx,
    label: &str,
    snapshot: &SnapshotRef,
    target: &Branch,
) -> anyhow::Result<Branch> {
    let req = RestoreSnapshot {
        name: None,
        target_branch_id: Some(target.id.clone()),
        finalize_restore: true,
    };
    ctx.step(label, async {
        let restored = ctx.neon.restore_snapshot(&snapshot.id, &req).await?;
        ctx.neon.wait(&restored.operations).await
    })
    .await?;
    verify(ctx, snapshot, target).await
}

/// After a finalized restore the target's id changes: find it again by name and check it.
async fn verify(ctx: &Ctx, snapshot: &SnapshotRef, target: &Branch) -> anyhow::Result<Branch> {
    let now = ctx
        .step(
            format!("Verify {}", target.name),
            ctx.neon.find_branch(&target.name),
        )
        .await?
        .ok_or_else(|| anyhow!("`{}` no longer exists after the restore", target.name))?;
    if now.restored_from.as_deref() != Some(snapshot.id.as_str()) || now.id == target.id {
        bail!(
            "verification failed: `{}` is now {} restored from {}, expected a new branch restored from {} ({})",
            target.name,
            now.id,
            now.restored_from.as_deref().unwrap_or("nothing"),
            snapshot.id,
            snapshot.name
        );
    }
    Ok(now)
}

/// The branch a finalized restore replaced (`<name> (old)`), as far as retiring it needs.
#[derive(Debug, Clone)]
pub(crate) struct Replaced {
    pub id: String,
    /// Still protected: the restore did not move protection to the new branch.
    pub protected: bool,
}

impl Replaced {
    /// What a restore of `before` left behind, judged from the branch that replaced it: Neon
    /// moves protection to the new branch, or leaves it on the old one.
    pub(crate) fn after_restore(before: &Branch, new: &Branch) -> Replaced {
        Replaced {
            id: before.id.clone(),
            protected: before.protected && !new.protected,
        }
    }
}

/// Retires `<name> (old)`, always by the id it had before the restore, never by name: keeps
/// the target protected (protect the new branch first, unprotect the old one just before its
/// deletion), keeps it when `keep_old_branch` is set or when it has children, else deletes it.
pub(crate) async fn retire_old(
    ctx: &Ctx,
    old: &Replaced,
    new: &Branch,
) -> anyhow::Result<OldBranch> {
    let old_label = format!("{} (old)", new.name);
    if old.id == new.id {
        bail!("refusing to delete `{}`: it is the live branch", new.name);
    }
    if old.protected && !new.protected {
        set_protected(ctx, &format!("Protect {}", new.name), &new.id, true).await?;
    }
    if ctx.config.keep_old_branch {
        return Ok(OldBranch::Kept { id: old.id.clone() });
    }
    let children = ctx
        .step(
            format!("Check children of {old_label}"),
            ctx.neon.children(&old.id),
        )
        .await?;
    if !children.is_empty() {
        return Ok(OldBranch::KeptWithChildren {
            id: old.id.clone(),
            children: children.into_iter().map(|b| b.name).collect(),
        });
    }
    if old.protected {
        set_protected(ctx, &format!("Unprotect {old_label}"), &old.id, false).await?;
    }
    let deleted = ctx
        .step(format!("Delete {old_label}"), async {
            let ops = ctx.neon.delete_branch(&old.id).await?;
            ctx.neon.wait(&ops).await
        })
        .await;
    match deleted {
        Err(e) if !is_not_found(&e) => Err(e),
        _ => Ok(OldBranch::Deleted { id: old.id.clone() }),
    }
}

pub(crate) async fn set_protected(
    ctx: &Ctx,
    label: &str,
    branch_id: &str,
    protected: bool,
) -> anyhow::Result<()> {
    let req = UpdateBranch {
        protected: Some(protected),
        ..UpdateBranch::default()
    };
    ctx.step(label, async {
        let updated = ctx.neon.update_branch(branch_id, &req).await?;
        ctx.neon.wait(&updated.operations).await
    })
    .await
}

/// A re-run that finds the restore already done finishes the clean-up of the earlier try: the
/// branch the restore replaced, found by the id it had then (the source of the snapshot taken
/// of it just before), if it is still there and still looks like ours.
pub(crate) async fn finish_old(
    ctx: &Ctx,
    target: &Branch,
    old_id: Option<&str>,
) -> anyhow::Result<Option<OldBranch>> {
    let Some(old_id) = old_id.filter(|id| *id != target.id) else {
        return Ok(None);
    };
    let old = match ctx
        .step("Find the replaced branch", ctx.neon.get_branch(old_id))
        .await
    {
        Ok(old) => old,
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    // Only what a finalized restore of this target leaves behind: `<name> (old)`, `(old) 2`, ….
    if old.default || !old.name.starts_with(&format!("{} (old)", target.name)) {
        return Ok(None);
    }
    let replaced = Replaced {
        id: old.id,
        protected: old.protected,
    };
    retire_old(ctx, &replaced, target).await.map(Some)
}

/// The command that restores what a snapshot holds onto production, as the user would type it.
pub(crate) fn rollback_command(ctx: &Ctx, snapshot_id: &str) -> String {
    let gh = ctx.github_ctx.as_ref();
    crate::render::rollback_command(
        gh.map(|g| g.workflow.as_deref().unwrap_or("<workflow>")),
        gh.map(|g| g.repository.as_str()),
        snapshot_id,
    )
}

/// What `Progress::replace` sends, for a dry run: the finalized restore onto `target`, then
/// the deletion of the replaced branch (by the id it has now) unless it is kept.
pub(crate) fn replace_calls(ctx: &Ctx, snapshot: &str, target: &Branch) -> Vec<Call> {
    let mut calls = vec![Call::Restore {
        snapshot: snapshot.to_string(),
        target_branch_id: Some(target.id.clone()),
        name: None,
        finalize: true,
    }];
    if !ctx.config.keep_old_branch {
        calls.push(Call::DeleteBranch {
            branch_id: target.id.clone(),
        });
    }
    calls
}

/// How far a run that replaces a branch got, for its one-line error: what failed, the state
/// the branches are in now, and what to do next.
pub(crate) struct Progress<'a> {
    ctx: &'a Ctx,
    /// "promotion", "rollback", "refresh of dev".
    what: &'static str,
    /// The branch being replaced: production, or dev for refresh-dev.
    target: String,
    target_is_prod: bool,
    /// A snapshot that holds the target's state before the run, and restores it.
    undo: Option<SnapshotRef>,
    stage: Stage,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// Nothing that matters changed yet.
    Before,
    /// The restore was asked for; the target had this id before it.
    Restoring { old_id: String, snapshot: String },
    /// The target was restored and verified: only the clean-up is left.
    Restored { new_id: String },
}

/// What an interrupted restore did to its target, read back from the API.
enum Fate {
    Untouched,
    Replaced,
    Unknown,
}

impl<'a> Progress<'a> {
    pub(crate) fn new(
        ctx: &'a Ctx,
        what: &'static str,
        target: &str,
        target_is_prod: bool,
    ) -> Self {
        Self {
            ctx,
            what,
            target: target.to_string(),
            target_is_prod,
            undo: None,
            stage: Stage::Before,
        }
    }

    /// From now on, failures name this snapshot and the command that restores it.
    pub(crate) fn undo_with(&mut self, snapshot: &SnapshotRef) {
        self.undo = Some(snapshot.clone());
    }

    pub(crate) fn restored(&mut self, new: &Branch) {
        self.stage = Stage::Restored {
            new_id: new.id.clone(),
        };
    }

    /// Restores `snapshot` onto `target` (finalized, verified), then retires the replaced
    /// branch: the core that promote, rollback and refresh-dev share. `step` names the restore
    /// in a failure, `label` in the log.
    pub(crate) async fn replace(
        &mut self,
        step: &str,
        label: &str,
        snapshot: &SnapshotRef,
        target: &Branch,
    ) -> anyhow::Result<(Branch, OldBranch)> {
        self.stage = Stage::Restoring {
            old_id: target.id.clone(),
            snapshot: snapshot.id.clone(),
        };
        let ctx = self.ctx;
        let new = self
            .check(step, restore_onto(ctx, label, snapshot, target).await)
            .await?;
        self.restored(&new);
        let replaced = Replaced::after_restore(target, &new);
        let old = self
            .check(
                &format!("Clean-up of the replaced {} branch", self.target),
                retire_old(ctx, &replaced, &new).await,
            )
            .await?;
        Ok((new, old))
    }

    /// Passes `result` through, or turns its error into the run's one line.
    pub(crate) async fn check<T>(
        &self,
        step: &str,
        result: anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        match result {
            Ok(v) => Ok(v),
            Err(e) => Err(self.fail(step, e).await),
        }
    }

    /// The run's one-line error. When a restore was under way its fate is read back first.
    pub(crate) async fn fail(&self, step: &str, error: anyhow::Error) -> anyhow::Error {
        let target = &self.target;
        let what = self.what;
        let (state, next) = match &self.stage {
            Stage::Before => (
                format!("the {what} stopped before any restore: `{target}` is untouched"),
                self.retry_hint(),
            ),
            Stage::Restoring { old_id, snapshot } => match self.fate(old_id, snapshot).await {
                Fate::Untouched => (
                    format!("the restore did not happen: `{target}` is untouched (still {old_id})"),
                    self.retry_hint(),
                ),
                Fate::Replaced => (
                    format!(
                        "`{target}` was restored from {snapshot}, but the run stopped before it finished"
                    ),
                    format!("re-run to finish{}", self.undo_hint()),
                ),
                Fate::Unknown => (
                    format!(
                        "the run stopped during the restore of `{target}`, which may or may not have happened (in the Neon Console, `restored_from` = {snapshot} means it did)"
                    ),
                    format!("re-run to finish{}", self.undo_hint()),
                ),
            },
            Stage::Restored { new_id } => (
                format!(
                    "the {what} itself succeeded (`{target}` is now {new_id}) but its clean-up did not"
                ),
                format!("re-run to finish the clean-up{}", self.undo_hint()),
            ),
        };
        let prod = if self.target_is_prod {
            ""
        } else {
            "; production is untouched"
        };
        let state = format!("{state}{prod}");
        if error.downcast_ref::<Cancelled>().is_some() {
            return anyhow!("{step} was cancelled (the run was stopped); {state}; {next}");
        }
        failure(format!("{step} failed"), &error, &state, &next)
    }

    /// What to do when the target is untouched: re-run, reusing the snapshot already taken.
    fn retry_hint(&self) -> String {
        match &self.undo {
            Some(s) => format!(
                "fix the cause and re-run, which reuses the snapshot {} ({}) already taken (it restores `{}` as it was before this run: {})",
                s.id,
                s.name,
                self.target,
                rollback_command(self.ctx, &s.id)
            ),
            None => "fix the cause and re-run".into(),
        }
    }

    fn undo_hint(&self) -> String {
        match &self.undo {
            Some(s) => format!(
                "; to put `{}` back as it was before this run: {}",
                self.target,
                rollback_command(self.ctx, &s.id)
            ),
            None => String::new(),
        }
    }

    /// Cannot be read when the run is cancelled (no new step starts) or the API fails.
    async fn fate(&self, old_id: &str, snapshot: &str) -> Fate {
        let read = self
            .ctx
            .step(
                format!("Check {}", self.target),
                self.ctx.neon.find_branch(&self.target),
            )
            .await;
        match read {
            Ok(Some(now)) if now.id == old_id => Fate::Untouched,
            Ok(Some(now)) if now.restored_from.as_deref() == Some(snapshot) => Fate::Replaced,
            _ => Fate::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_name_each_call_and_its_target() {
        let calls = [
            Call::Snapshot {
                branch_id: "br-p".into(),
                name: "prod_snap_x".into(),
                expires_at: Some("2026-12-01T00:00:00Z".into()),
            },
            Call::Restore {
                snapshot: "snap-c".into(),
                target_branch_id: Some("br-p".into()),
                name: None,
                finalize: true,
            },
            Call::Protect {
                branch_id: "br-p".into(),
                protected: true,
            },
            Call::DeleteBranch {
                branch_id: "br-p".into(),
            },
        ];
        let lines: Vec<String> = calls.iter().map(|c| Planned("p1", c).to_string()).collect();
        assert_eq!(
            lines,
            [
                "POST /projects/p1/branches/br-p/snapshot name=prod_snap_x expires_at=2026-12-01T00:00:00Z",
                "POST /projects/p1/snapshots/snap-c/restore target_branch_id=br-p finalize_restore=true",
                "PATCH /projects/p1/branches/br-p protected=true",
                "DELETE /projects/p1/branches/br-p",
            ]
        );
    }

    #[test]
    fn not_before_never_guesses() {
        assert!(not_before("2026-11-23T10:00:01Z", "2026-11-23T10:00:00Z"));
        assert!(not_before("2026-11-23T10:00:00Z", "2026-11-23T10:00:00Z"));
        assert!(!not_before("2026-11-23T09:59:59Z", "2026-11-23T10:00:00Z"));
        assert!(!not_before("garbage", "2026-11-23T10:00:00Z"));
    }
}
