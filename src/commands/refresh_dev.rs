//! refresh-dev (the guide's Phase 4): dev starts over from production's current data.
//! Snapshot prod, restore it onto dev (finalized), verify; after the report, retire
//! `dev (old)` (kept while preview branches still hang off it) and make the snapshot dev's
//! baseline. Production is only read.

use super::replace::Progress;
use super::roots::{current_dev, find_prod, settle};
use super::snapshots::{self, Spare, delete, snapshot_ref, take};
use super::tidy::{self, Tidy};
use super::{Done, branch_ref};
use crate::ctx::Ctx;
use crate::naming::{SnapshotKind, SnapshotName};
use crate::neon::Snapshot;
use crate::outcome::{Failure, Outcome, RefreshDev};

pub async fn refresh_dev(ctx: &Ctx) -> Result<Done, Failure> {
    let preflight = Progress::new(ctx, "refresh of dev", &ctx.config.dev_branch, false);
    let read = async {
        settle(ctx).await?;
        let (prod, dev, all) = tokio::join!(
            find_prod(ctx),
            current_dev(ctx),
            ctx.step("List snapshots", ctx.neon.list_snapshots())
        );
        anyhow::Ok((prod?, dev?, all?))
    };
    let (prod, dev, all) = preflight.check("Preflight", read.await).await?;
    if prod.id == dev.id {
        let same = anyhow::anyhow!("prod_branch and dev_branch are both `{}`", prod.name);
        return Err(preflight.fail("Preflight", same).await);
    }
    discard_leftovers(ctx, &all).await;

    let mut progress = Progress::new(ctx, "refresh of dev", &dev.name, false);
    let step = "Snapshot of production";
    let name = SnapshotName::new(SnapshotKind::DevRefresh, ctx.now(), None, None)
        .with_run(ctx.workflow_run())
        .to_string();
    // It becomes dev's baseline, so it lives as long as a rollback point.
    let ttl = &ctx.config.rollback_snapshot_ttl;
    let taken = take(ctx, step, &prod, &name, ttl, Spare::new(ctx, &[], &prod.id)).await;
    let snapshot = snapshot_ref(&progress.check(step, taken).await?);
    let label = format!("Restore production onto {}", dev.name);
    let new_dev = progress
        .restore("Restore of production onto dev", &label, &snapshot, &dev)
        .await?;
    let mut tidy = vec![Tidy::RetireOld {
        old_id: dev.id.clone(),
        new: new_dev.clone(),
    }];
    tidy.extend(tidy::baseline(&snapshot));
    Ok(Done {
        outcome: Outcome::RefreshDev(RefreshDev {
            prod_snapshot: snapshot,
            dev: branch_ref(&new_dev),
            previous_dev_id: dev.id.clone(),
        }),
        tidy,
    })
}

/// Dev-refresh snapshots of ours that never became a baseline are what an earlier try left
/// behind: they hold nothing anybody needs, and on a small quota they would block this run.
pub async fn discard_leftovers(ctx: &Ctx, all: &[Snapshot]) {
    for o in snapshots::ours(all)
        .into_iter()
        .filter(|o| o.name.kind == SnapshotKind::DevRefresh)
    {
        let label = format!("Delete an earlier try's snapshot {}", o.snapshot.name);
        if let Err(e) = delete(ctx, &label, &snapshot_ref(o.snapshot)).await {
            ctx.warn(format!("could not delete {}: {e:#}", o.snapshot.id));
        }
    }
}
