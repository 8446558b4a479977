//! promote (the guide's Phase 3): dev becomes production on a push to the promotion branch.
//!
//! 1. Read everything at once: prod, dev, snapshots, running operations, the merged PR, and
//!    prod's and dev's schemas.
//! 2. A re-run for a commit already promoted finishes its clean-up and promotes nothing; a
//!    push older than the restore prod came from promotes nothing either.
//! 3. Destructive schema changes → `on_destructive_change`, before any snapshot.
//! 4. Snapshot prod: the rollback point, always fresh, taken right before the restore; prod
//!    written since dev's baseline → `on_prod_changed`.
//! 5. Snapshot dev: the candidate.
//! 6. Restore the candidate onto prod (finalized), wait for every operation, verify.
//! 7. Left for after the report: retire `<prod> (old)` by its old id, make the candidate dev's
//!    baseline, keep `rollback_snapshots_kept` rollback points.

use super::guards;
mod rerun;

use super::replace::Progress;
use super::roots::{current_dev, find_prod, prod_label, settle};
use super::snapshots::{self, Spare, delete, snapshot_ref, take};
use super::tidy::{self, Tidy};
use super::{Done, merged_pull};
use crate::config::Policy;
use crate::ctx::Ctx;
use crate::event::PushInfo;
use crate::naming::{SnapshotKind, SnapshotName};
use crate::neon::{Branch, Snapshot};
use crate::outcome::{Failure, Outcome, ProdChange, Promotion, SnapshotRef};
use crate::schema::SchemaDiff;

pub async fn promote(ctx: &Ctx, push: Option<&PushInfo>) -> Result<Done, Failure> {
    let sha = push.map(|p| p.sha.as_str());
    let started = ctx.now();
    let preflight = Progress::new(ctx, "promotion", prod_label(ctx), true);
    let (read, pr) = tokio::join!(read(ctx), merged_pull(ctx, push));
    let (prod, dev, all, schema) = preflight.check("Preflight", read).await?;
    let earlier = rerun::Earlier::find(&all, sha, started);
    if let Some(done) = rerun::rerun(ctx, &prod, &earlier, &all, push, pr.clone()).await? {
        return Ok(done);
    }
    let gate = guards::destructive(ctx, schema);
    let schema = preflight
        .check("The destructive-change guard", gate)
        .await?;

    let now = ctx.now();
    let number = pr.as_ref().map(|p| p.number);
    let run = ctx.workflow_run();
    let name = |kind| {
        SnapshotName::new(kind, now, number, sha)
            .with_run(run)
            .to_string()
    };
    let ttl = &ctx.config.rollback_snapshot_ttl;
    let mut progress = Progress::new(ctx, "promotion", &prod.name, true);

    let step = "Snapshot of production (the rollback point)";
    let rollback_name = name(SnapshotKind::PrePromotion);
    let spare = Spare::new(ctx, &[], &prod.id);
    let taken = take(ctx, step, &prod, &rollback_name, ttl, spare).await;
    let point = progress.took(step, taken).await?;
    let rollback = snapshot_ref(&point);
    progress.undo_with(Some(&rollback));
    discard(
        ctx,
        &earlier.rollback_points,
        "an earlier try's rollback point",
    )
    .await;
    let prod_changed = guard_prod_changed(ctx, &mut progress, &all, &prod, &point).await?;

    let step = "Snapshot of dev (the candidate)";
    let keep = [rollback.id.as_str()];
    let spare = Spare::new(ctx, &keep, &prod.id);
    let taken = take(ctx, step, &dev, &name(SnapshotKind::Candidate), ttl, spare).await;
    let candidate = match taken {
        Ok(taken) => snapshot_ref(&taken),
        Err(e) => return Err(give_back(ctx, &mut progress, step, e, &rollback).await),
    };
    discard(ctx, &earlier.candidates, "an earlier try's candidate").await;

    let new_prod = progress
        .restore(
            "Restore of the candidate onto production",
            "Restore the candidate onto production",
            &candidate,
            &prod,
        )
        .await?;
    let mut tidy = vec![Tidy::RetireOld {
        old_id: prod.id.clone(),
        new: new_prod.clone(),
    }];
    tidy.extend(tidy::baseline(&candidate));
    tidy.push(Tidy::Prune {
        keep: rollback.clone(),
        prod: new_prod.id.clone(),
    });
    Ok(Done {
        outcome: Outcome::Promote(Promotion {
            pr,
            sha: sha.unwrap_or_default().to_string(),
            prod: super::branch_ref(&new_prod),
            previous_prod_id: prod.id.clone(),
            rollback_snapshot: Some(rollback),
            candidate_snapshot: candidate,
            already_promoted: false,
            schema,
            prod_changed,
        }),
        tidy,
    })
}

/// The candidate could not be taken: prod is untouched, so on a full quota the rollback point
/// is worth nothing and its slot is given back before the quota is explained.
async fn give_back(
    ctx: &Ctx,
    progress: &mut Progress<'_>,
    step: &str,
    e: anyhow::Error,
    rollback: &SnapshotRef,
) -> Failure {
    if !snapshots::is_quota(&e) {
        return progress.fail(step, e).await;
    }
    let why = match delete(ctx, "Delete the unused rollback point", rollback).await {
        Ok(()) => {
            progress.forget_undo();
            "a promotion needs two snapshots at once; the rollback point this run had taken was deleted again".to_string()
        }
        Err(d) => format!(
            "a promotion needs two snapshots at once; the unused rollback point {} could not be deleted: {d:#}",
            rollback.id
        ),
    };
    progress.fail(step, e.context(why)).await
}

/// `on_prod_changed`, judged from the fresh rollback point: a warning, nothing, or a stop
/// before the restore with the rollback point deleted again (prod untouched).
async fn guard_prod_changed(
    ctx: &Ctx,
    progress: &mut Progress<'_>,
    all: &[Snapshot],
    prod: &Branch,
    point: &Snapshot,
) -> Result<Option<ProdChange>, Failure> {
    let policy = ctx.config.on_prod_changed;
    if policy == Policy::Ignore || ctx.dry_run() {
        return Ok(None);
    }
    let change = guards::prod_changed(all, prod, point);
    if !change.changed {
        return Ok(Some(change));
    }
    let finding = guards::finding(&change, ctx.now());
    let since = guards::since(&change);
    if policy == Policy::Warn {
        // Without a baseline, the one warning also names what makes one.
        let made_by = if change.baseline.is_some() {
            String::new()
        } else {
            format!(
                "; {} and {} make dev's baseline, and so does every promotion",
                ctx.config.command_hint("setup"),
                ctx.config.command_hint("refresh-dev")
            )
        };
        ctx.warn(format!(
            "{finding}; writes made to production since {since} will not be in production after this promotion (they stay in the rollback snapshot {}){made_by}",
            point.id
        ));
        return Ok(Some(change));
    }
    let deleted = delete(
        ctx,
        "Delete the unused rollback point",
        &snapshot_ref(point),
    )
    .await;
    let what = match deleted {
        Ok(()) => {
            progress.forget_undo();
            "the rollback point this run took was deleted again".to_string()
        }
        Err(e) => format!(
            "the rollback point {} could not be deleted: {e:#}",
            point.id
        ),
    };
    let why = anyhow::anyhow!(
        "{finding}; a promotion would drop from production what was written since {since}, and {} is `fail`; {what}; to promote anyway, bring dev up to date ({}, then apply dev's changes again) or set it to warn",
        ctx.config.input("on_prod_changed"),
        ctx.config.command_hint("refresh-dev")
    );
    Err(progress.fail("The production-changed guard", why).await)
}

/// What the preflight reads: prod, dev, the snapshot list, and the schema change (whose
/// failure is the guard's to judge).
type Read = (Branch, Branch, Vec<Snapshot>, anyhow::Result<SchemaDiff>);

/// Prod, dev, the snapshot list and the schema change, read at once; when an earlier run's
/// operations were still running, they are waited for and everything is read again.
async fn read(ctx: &Ctx) -> anyhow::Result<Read> {
    let roots = async {
        let (prod, dev) = tokio::join!(find_prod(ctx), current_dev(ctx));
        let (prod, dev) = (prod?, dev?);
        if prod.id == dev.id {
            anyhow::bail!("prod_branch and dev_branch are both `{}`", prod.name);
        }
        let schema = guards::compare(ctx, &prod, &dev).await;
        Ok((prod, dev, schema))
    };
    let (running, roots, all) = tokio::join!(
        ctx.step(
            "Check for running operations",
            ctx.neon.running_operations()
        ),
        roots,
        ctx.step("List snapshots", ctx.neon.list_snapshots()),
    );
    if running?.is_empty() {
        let (prod, dev, schema) = roots?;
        return Ok((prod, dev, all?, schema));
    }
    settle(ctx).await?;
    let (prod, dev) = tokio::join!(find_prod(ctx), current_dev(ctx));
    let (prod, dev) = (prod?, dev?);
    let (schema, all) = tokio::join!(
        guards::compare(ctx, &prod, &dev),
        ctx.step("List snapshots", ctx.neon.list_snapshots()),
    );
    Ok((prod, dev, all?, schema))
}

/// Deletes snapshots an earlier try of this commit took, now that fresh ones exist.
async fn discard(ctx: &Ctx, stale: &[SnapshotRef], what: &str) {
    for s in stale {
        if let Err(e) = delete(ctx, &format!("Delete {what} {}", s.name), s).await {
            ctx.warn(format!("could not delete {what} {}: {e:#}", s.id));
        }
    }
}
