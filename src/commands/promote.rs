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
use super::replace::{Progress, verify};
use super::roots::{find_prod, prod_label, require_dev, settle};
use super::snapshots::{self, Ours, delete, snapshot_ref, take};
use super::tidy::{self, Tidy};
use super::{Done, merged_pull};
use crate::config::Policy;
use crate::ctx::Ctx;
use crate::event::PushInfo;
use crate::naming::{Of, SnapshotKind, SnapshotName};
use crate::neon::{Branch, Snapshot};
use crate::outcome::{Failure, Outcome, ProdChange, Promotion, PullRef, SnapshotRef};
use crate::schema::SchemaDiff;

pub async fn promote(ctx: &Ctx, push: Option<&PushInfo>) -> Result<Done, Failure> {
    let sha = push.map(|p| p.sha.as_str());
    let preflight = Progress::new(ctx, "promotion", prod_label(ctx), true);
    let (read, pr) = tokio::join!(read(ctx), merged_pull(ctx, push));
    let (prod, dev, all, schema) = preflight.check("Preflight", read).await?;
    let earlier = Earlier::find(&all, sha);
    if let Some(done) = rerun(ctx, &prod, &earlier, &all, push, pr.clone()).await? {
        return Ok(done);
    }
    let schema = match schema {
        Ok(schema) => Some(schema),
        // Without the comparison the destructive-change guard cannot pass a `fail` policy.
        Err(e) if ctx.config.on_destructive_change == Policy::Fail => {
            let why = e.context("the schemas could not be compared, so the destructive-change guard cannot tell; nothing was snapshotted");
            return Err(preflight.fail("The destructive-change guard", why).await);
        }
        Err(e) => {
            ctx.warn(format!(
                "the schemas of production and dev could not be compared ({e:#}); the promotion goes on without the destructive-change check"
            ));
            None
        }
    };
    if let Some(Err(why)) = schema.as_ref().map(|s| guards::destructive(ctx, s)) {
        let why = anyhow::anyhow!("{why}; nothing was snapshotted");
        return Err(preflight.fail("The destructive-change guard", why).await);
    }

    let now = ctx.now();
    let number = pr.as_ref().map(|p| p.number);
    let name = |kind| SnapshotName::new(kind, now, number, sha).to_string();
    let ttl = &ctx.config.rollback_snapshot_ttl;
    let mut progress = Progress::new(ctx, "promotion", &prod.name, true);

    let step = "Snapshot of production (the rollback point)";
    let rollback_name = name(SnapshotKind::PrePromotion);
    let taken = take(ctx, step, &prod, &rollback_name, ttl, &[]).await;
    let point = progress.check(step, taken).await?;
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
    let candidate_name = name(SnapshotKind::Candidate);
    let taken = take(ctx, step, &dev, &candidate_name, ttl, &[&rollback]).await;
    let candidate = match taken {
        Ok(taken) => snapshot_ref(&taken),
        Err(e) if snapshots::is_quota(&e) => {
            // Prod is untouched, so the rollback point is worth nothing: give its slot back.
            let why = match delete(ctx, "Delete the unused rollback point", &rollback).await {
                Ok(()) => {
                    progress.forget_undo();
                    "a promotion needs two snapshots at once; the rollback point this run had taken was deleted again".to_string()
                }
                Err(d) => format!(
                    "a promotion needs two snapshots at once; the unused rollback point {} could not be deleted: {d:#}",
                    rollback.id
                ),
            };
            return Err(progress.fail(step, e.context(why)).await);
        }
        Err(e) => return Err(progress.fail(step, e).await),
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
    tidy.extend(tidy::baseline(&all, &candidate));
    tidy.push(Tidy::Prune {
        keep: rollback.clone(),
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
    let text = guards::describe(&change, &point.id, ctx.now());
    if policy == Policy::Warn {
        ctx.warn(text);
        if change.baseline.is_none() {
            ctx.runner.notice(&format!(
                "dev's baseline is made by {} or {}",
                ctx.config.command_hint("refresh-dev"),
                ctx.config.command_hint("setup")
            ));
        }
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
        "{text}, and {} is `fail`; {what}; to promote anyway, bring dev up to date ({}, then apply dev's changes again) or set it to warn",
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
        let (prod, dev) = tokio::join!(find_prod(ctx), require_dev(ctx));
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
    let (prod, dev) = tokio::join!(find_prod(ctx), require_dev(ctx));
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

/// What earlier tries for this commit left: its rollback points and candidates.
struct Earlier {
    rollback_points: Vec<SnapshotRef>,
    candidates: Vec<SnapshotRef>,
    /// Candidates and the baseline made from one, for recognising a completed promotion.
    promoted_or_not: Vec<Snapshot>,
    points: Vec<Snapshot>,
}

impl Earlier {
    fn find(all: &[Snapshot], sha: Option<&str>) -> Self {
        let mine: Vec<Ours<'_>> = match sha {
            Some(sha) => snapshots::ours(all)
                .into_iter()
                .filter(|o| o.name.is_for_commit(sha))
                .collect(),
            None => Vec::new(),
        };
        let of = |pick: &dyn Fn(&SnapshotName) -> bool| -> Vec<Snapshot> {
            mine.iter()
                .filter(|o| pick(&o.name))
                .map(|o| o.snapshot.clone())
                .collect()
        };
        let points = of(&|n| n.kind == SnapshotKind::PrePromotion);
        let promoted_or_not = of(&|n| {
            n.of == Of::Dev && matches!(n.kind, SnapshotKind::Candidate | SnapshotKind::Baseline)
        });
        Self {
            rollback_points: points.iter().map(snapshot_ref).collect(),
            candidates: promoted_or_not
                .iter()
                .filter(|s| {
                    SnapshotName::parse(&s.name).is_some_and(|n| n.kind == SnapshotKind::Candidate)
                })
                .map(snapshot_ref)
                .collect(),
            promoted_or_not,
            points,
        }
    }
}

/// A re-run, or a run that came too late: `Some` when nothing is to be promoted.
async fn rerun(
    ctx: &Ctx,
    prod: &Branch,
    earlier: &Earlier,
    all: &[Snapshot],
    push: Option<&PushInfo>,
    pr: Option<PullRef>,
) -> Result<Option<Done>, Failure> {
    let sha = push.map(|p| p.sha.as_str()).unwrap_or_default();
    let from = prod.restored_from.as_deref();
    if let Some(candidate) = earlier
        .promoted_or_not
        .iter()
        .find(|c| Some(c.id.as_str()) == from)
    {
        // Prod came from this commit's candidate: an earlier try restored it. Did it finish?
        let candidate = snapshot_ref(candidate);
        let replaced = prod.restored_as.clone().unwrap_or_default();
        let rollback = earlier
            .points
            .iter()
            .find(|p| p.source_branch_id.as_deref() == Some(replaced.as_str()))
            .map(snapshot_ref);
        if !ctx.dry_run() {
            let check = verify(ctx, &candidate, &prod.name, &replaced, None, false);
            let checked = ctx.step(format!("Verify {}", prod.name), check).await;
            if let Err(e) = checked {
                return Err(unfinished(ctx, prod, &candidate, rollback, &e));
            }
            ctx.runner.notice(&format!(
                "commit {sha} was already promoted: production `{}` ({}) was restored from {}; nothing was promoted again",
                prod.name, prod.id, candidate.name
            ));
        }
        return Ok(Some(already(
            prod, sha, pr, rollback, candidate, all, earlier,
        )));
    }
    // This commit's earlier try took a rollback point of a prod branch that has been replaced
    // since: by that try (then the candidate check above found it), or by a later promotion or
    // rollback, which promoting now would undo.
    let replaced_since = earlier.points.iter().find(|p| {
        p.source_branch_id.as_deref() != Some(prod.id.as_str())
            && replaced_after(prod, &p.created_at)
    });
    if let Some(point) = replaced_since {
        return Ok(Some(Done::skipped(format!(
            "commit {sha} was already handled: production `{}` was replaced ({}, restored from {}) after this commit's earlier try took its rollback point {}; promoting it again would undo that later change, so nothing was promoted",
            prod.name,
            prod.created_at,
            from.unwrap_or("nothing"),
            point.name
        ))));
    }
    Ok(None)
}

/// Whether prod was made (by a restore) at or after `time`; unreadable times never count.
fn replaced_after(prod: &Branch, time: &str) -> bool {
    match (
        prod.created_at.parse::<jiff::Timestamp>(),
        time.parse::<jiff::Timestamp>(),
    ) {
        (Ok(made), Ok(time)) => prod.restored_from.is_some() && made >= time,
        _ => false,
    }
}

/// An earlier try's restore of this commit's candidate did not finish (or cannot be verified):
/// nothing is deleted or repeated; the user checks prod and rolls back if needed.
fn unfinished(
    ctx: &Ctx,
    prod: &Branch,
    candidate: &SnapshotRef,
    rollback: Option<SnapshotRef>,
    cause: &anyhow::Error,
) -> Failure {
    let back = match &rollback {
        Some(r) => format!(
            "put it back as it was before that promotion: {}",
            super::rollback_command(ctx, &r.id)
        ),
        None => "restore it from a snapshot of yours".into(),
    };
    Failure {
        message: format!(
            "An earlier try's restore of {} onto production did not complete: {cause:#}; production `{}` is now {}, restored from that candidate, and may not hold complete data; this run changed nothing; check `{}` in the Neon Console and, if it is not right, {back}",
            candidate.name, prod.name, prod.id, prod.name
        ),
        rollback_snapshot: rollback,
    }
}

/// The outcome of a re-run of a completed promotion, and what its clean-up left to do.
fn already(
    prod: &Branch,
    sha: &str,
    pr: Option<PullRef>,
    rollback: Option<SnapshotRef>,
    candidate: SnapshotRef,
    all: &[Snapshot],
    earlier: &Earlier,
) -> Done {
    let replaced = prod.restored_as.clone().unwrap_or_default();
    let mut tidy = vec![Tidy::RetireOld {
        old_id: replaced.clone(),
        new: prod.clone(),
    }];
    tidy.extend(tidy::baseline(all, &candidate));
    for stale in earlier.candidates.iter().filter(|c| c.id != candidate.id) {
        tidy.push(Tidy::Delete {
            snapshot: stale.clone(),
            why: "an earlier try's candidate".into(),
        });
    }
    if let Some(r) = &rollback {
        for stale in earlier.rollback_points.iter().filter(|p| p.id != r.id) {
            tidy.push(Tidy::Delete {
                snapshot: stale.clone(),
                why: "an earlier try's rollback point".into(),
            });
        }
        tidy.push(Tidy::Prune { keep: r.clone() });
    }
    Done {
        outcome: Outcome::Promote(Promotion {
            pr,
            sha: sha.to_string(),
            prod: super::branch_ref(prod),
            previous_prod_id: replaced,
            rollback_snapshot: rollback,
            candidate_snapshot: candidate,
            already_promoted: true,
            schema: None,
            prod_changed: None,
        }),
        tidy,
    }
}
