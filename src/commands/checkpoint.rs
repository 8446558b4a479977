//! checkpoint: a named snapshot of production with the `rollback_snapshot_ttl` expiry, taken
//! before a risky step the user runs by hand; its id is the `snapshot_id` output and rollback
//! accepts it by id or name. It counts as one of our rollback points, so retention applies
//! after it, as after a promotion.

use super::Done;
use super::replace::Progress;
use super::roots::{find_prod, prod_label};
use super::snapshots::{Spare, snapshot_ref, take};
use super::tidy::Tidy;
use crate::ctx::Ctx;
use crate::naming::checkpoint_name;
use crate::outcome::{Checkpoint, Failure, Outcome};

pub async fn checkpoint(ctx: &Ctx, sha: Option<&str>) -> Result<Done, Failure> {
    let mut progress = Progress::new(ctx, "checkpoint", prod_label(ctx), true);
    let prod = progress.check("Preflight", find_prod(ctx).await).await?;
    let name = checkpoint_name(&ctx.config.checkpoint_name, ctx.now(), sha);
    let step = "Snapshot of production (the checkpoint)";
    let ttl = &ctx.config.rollback_snapshot_ttl;
    let taken = take(ctx, step, &prod, &name, ttl, Spare::new(ctx, &[], &prod.id)).await;
    let snapshot = snapshot_ref(&progress.took(step, taken).await?);
    Ok(Done {
        outcome: Outcome::Checkpoint(Checkpoint {
            snapshot: snapshot.clone(),
            prod: super::branch_ref(&prod),
            expires_at: super::expires_at(ttl, ctx.now()),
        }),
        tidy: vec![Tidy::Prune {
            keep: snapshot,
            prod: prod.id.clone(),
        }],
    })
}
