//! What a verified restore leaves to do, done after the result is reported: retire the branch
//! the restore replaced (by the id it had, never by name), make the new baseline, delete the
//! snapshots that served their purpose, and keep `rollback_snapshots_kept` rollback points.
//! None of it changes production's data, so a failure here is a warning (a re-run or the next
//! sweep finishes it); a cancel stops it.

use super::snapshots::{self, delete, prune};
use crate::ctx::{Cancelled, Ctx};
use crate::naming::{SnapshotKind, SnapshotName};
use crate::neon::Snapshot;
use crate::neon::{Branch, NeonError, UpdateBranch};
use crate::outcome::{OldBranch, SnapshotRef, Tidied};
use crate::plan::Call;

/// One piece of clean-up.
#[derive(Debug, Clone)]
pub enum Tidy {
    /// The branch a verified restore replaced, and the branch that replaced it.
    RetireOld { old_id: String, new: Branch },
    /// `snapshot` becomes dev's baseline (renamed `name`); every other baseline is deleted.
    Baseline { snapshot: SnapshotRef, name: String },
    /// A snapshot of ours that served its purpose.
    Delete { snapshot: SnapshotRef, why: String },
    /// Retention: our rollback points beyond `rollback_snapshots_kept`, never `keep` and never
    /// one of `prod` (the production branch now).
    Prune { keep: SnapshotRef, prod: String },
}

/// Does every piece, in order. Failures become warnings; only a cancel stops it.
pub async fn run(ctx: &Ctx, tasks: &[Tidy]) -> Result<Tidied, Cancelled> {
    let mut out = Tidied::default();
    // Read once, when a piece needs it (not the preflight's list: other runs may have added
    // snapshots since).
    let mut listed: Option<Vec<Snapshot>> = None;
    for task in tasks {
        let what = match task {
            Tidy::RetireOld { old_id, new } => format!("retiring `{} (old)` ({old_id})", new.name),
            Tidy::Baseline { snapshot, .. } => format!("making {} dev's baseline", snapshot.name),
            Tidy::Delete { snapshot, why } => format!("deleting {} ({why})", snapshot.name),
            Tidy::Prune { .. } => "deleting rollback points beyond rollback_snapshots_kept".into(),
        };
        let done = match task {
            Tidy::RetireOld { old_id, new } => retire(ctx, old_id, new)
                .await
                .map(|old| out.old_branch = Some(old)),
            Tidy::Baseline { snapshot, name } => match list(ctx, &mut listed).await {
                Ok(all) => make_baseline(ctx, snapshot, name, &all, &mut out).await,
                Err(e) => Err(e),
            },
            Tidy::Delete { snapshot, why } => {
                let label = format!("Delete {} ({why})", snapshot.name);
                delete(ctx, &label, snapshot)
                    .await
                    .map(|()| out.deleted_snapshots.push(snapshot.clone()))
            }
            Tidy::Prune { keep, prod } => match list(ctx, &mut listed).await {
                Ok(all) => {
                    let gone = prune(ctx, &all, keep, prod).await;
                    out.deleted_snapshots.extend(gone);
                    Ok(())
                }
                Err(e) => Err(e),
            },
        };
        if let Err(e) = done {
            if let Some(c) = e.downcast_ref::<Cancelled>() {
                return Err(Cancelled(c.0.clone()));
            }
            let message =
                format!("clean-up: {what} failed: {e:#} (a re-run or the next sweep finishes it)");
            ctx.warn(message.clone());
            out.failed.push(message);
        }
    }
    Ok(out)
}

/// The project's snapshots, listed once for the whole clean-up.
async fn list(ctx: &Ctx, listed: &mut Option<Vec<Snapshot>>) -> anyhow::Result<Vec<Snapshot>> {
    if let Some(all) = listed {
        return Ok(all.clone());
    }
    let all = ctx
        .step("List snapshots", ctx.neon.list_snapshots())
        .await?;
    *listed = Some(all.clone());
    Ok(all)
}

async fn make_baseline(
    ctx: &Ctx,
    snapshot: &SnapshotRef,
    name: &str,
    all: &[Snapshot],
    out: &mut Tidied,
) -> anyhow::Result<()> {
    let previous: Vec<SnapshotRef> = snapshots::ours(all)
        .into_iter()
        .filter(|o| o.name.kind == SnapshotKind::Baseline)
        .map(|o| snapshots::snapshot_ref(o.snapshot))
        .collect();
    if snapshot.name != name {
        let call = Call::RenameSnapshot {
            snapshot_id: snapshot.id.clone(),
            name: name.to_string(),
        };
        ctx.apply(format!("Make {} dev's baseline", snapshot.name), call)
            .await?;
    }
    out.baseline = Some(SnapshotRef {
        id: snapshot.id.clone(),
        name: name.to_string(),
    });
    for old in previous.iter().filter(|p| p.id != snapshot.id) {
        let label = format!("Delete the previous baseline {}", old.name);
        delete(ctx, &label, old).await?;
        out.deleted_snapshots.push(old.clone());
    }
    Ok(())
}

/// Retires `<name> (old)`, by the id it had before the restore: keeps the target protected
/// (protect the new branch first, unprotect the old one just before its deletion), keeps it
/// when `keep_old_branch` is set or when it has children, else deletes it.
async fn retire(ctx: &Ctx, old_id: &str, new: &Branch) -> anyhow::Result<OldBranch> {
    let dry = ctx.dry_run();
    if old_id == new.id && !dry {
        anyhow::bail!("refusing to delete `{}`: it is the live branch", new.name);
    }
    if ctx.config.keep_old_branch {
        return Ok(OldBranch::Kept { id: old_id.into() });
    }
    let old_label = format!("{} (old)", new.name);
    // A GET of one branch is current: a 404 means an earlier try already deleted it.
    let read = async {
        match ctx.neon.get_branch(old_id).await {
            Ok(old) => Ok(Some(old)),
            Err(NeonError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    };
    let Some(old) = ctx.step(format!("Read {old_label}"), read).await? else {
        return Ok(OldBranch::Gone { id: old_id.into() });
    };
    if old.protected && !new.protected && !dry {
        protect(ctx, &format!("Protect {}", new.name), &new.id, true).await?;
    }
    let children = ctx
        .step(
            format!("Check children of {old_label}"),
            ctx.neon.children(old_id),
        )
        .await?;
    if !children.is_empty() {
        return Ok(OldBranch::KeptWithChildren {
            id: old_id.into(),
            children: children.into_iter().map(|b| b.name).collect(),
        });
    }
    if old.protected && !dry {
        protect(ctx, &format!("Unprotect {old_label}"), old_id, false).await?;
    }
    let call = Call::DeleteBranch {
        branch_id: old_id.into(),
    };
    ctx.apply(format!("Delete {old_label}"), call).await?;
    Ok(OldBranch::Deleted { id: old_id.into() })
}

/// Sets or clears a branch's protection and waits.
pub async fn protect(
    ctx: &Ctx,
    label: &str,
    branch_id: &str,
    protected: bool,
) -> anyhow::Result<()> {
    let call = Call::UpdateBranch {
        branch_id: branch_id.into(),
        update: UpdateBranch {
            protected: Some(protected),
            ..UpdateBranch::default()
        },
    };
    ctx.apply(label, call).await.map(drop)
}

/// The baseline piece for a snapshot of ours that dev now matches: rename it, delete the
/// others.
pub fn baseline(snapshot: &SnapshotRef) -> Option<Tidy> {
    let name = SnapshotName::parse(&snapshot.name)?;
    Some(Tidy::Baseline {
        snapshot: snapshot.clone(),
        name: name.as_baseline().to_string(),
    })
}
