//! refresh-dev (the guide's phase 4): dev starts over from production's current data. Snapshot
//! prod, restore it onto dev with finalize, verify, retire `dev (old)` (kept while preview
//! branches still hang off it), delete the snapshot. Production is only read.

use jiff::Timestamp;

use super::expires_at;
use super::restore::{
    Call, Progress, branch_ref, delete_snapshot, find_prod, plan_lines, replace_calls, require_dev,
    take_snapshot,
};
use crate::ctx::Ctx;
use crate::naming::{SnapshotKind, SnapshotName};
use crate::outcome::{Outcome, Plan, RefreshDev};

pub async fn refresh_dev(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let preflight = Progress::new(ctx, "refresh of dev", &ctx.config.dev_branch, false);
    let (prod, dev) = tokio::join!(find_prod(ctx), require_dev(ctx));
    let (prod, dev) = preflight
        .check("Preflight", prod.and_then(|p| Ok((p, dev?))))
        .await?;
    if prod.id == dev.id {
        let same = anyhow::anyhow!("prod_branch and dev_branch are both `{}`", prod.name);
        return Err(preflight.fail("Preflight", same).await);
    }
    let name =
        SnapshotName::new(SnapshotKind::DevRefresh, Timestamp::now(), None, None).to_string();
    // Only the restore needs it: it expires like a candidate if a failed run leaves it behind.
    let ttl = &ctx.config.candidate_snapshot_ttl;

    if ctx.dry_run() {
        let mut calls = vec![Call::Snapshot {
            branch_id: prod.id.clone(),
            name,
            expires_at: expires_at(ttl),
        }];
        calls.extend(replace_calls(ctx, "{snapshot}", &dev));
        calls.push(Call::DeleteSnapshot {
            snapshot: "{snapshot}".into(),
        });
        return Ok(Outcome::DryRun(Plan {
            command: "refresh-dev",
            calls: plan_lines(ctx, &calls),
        }));
    }

    let mut progress = Progress::new(ctx, "refresh of dev", &dev.name, false);
    let step = "Snapshot of production";
    let snapshot = progress
        .check(step, take_snapshot(ctx, step, &prod, &name, ttl).await)
        .await?;
    let label = format!("Restore production onto {}", dev.name);
    let (new_dev, old_branch) = progress
        .replace("Restore of production onto dev", &label, &snapshot, &dev)
        .await?;
    let step = "Deletion of the snapshot";
    progress
        .check(
            step,
            delete_snapshot(ctx, "Delete the production snapshot", &snapshot).await,
        )
        .await?;
    Ok(Outcome::RefreshDev(RefreshDev {
        prod_snapshot: snapshot,
        dev: branch_ref(&new_dev),
        previous_dev_id: dev.id.clone(),
        old_branch,
    }))
}
