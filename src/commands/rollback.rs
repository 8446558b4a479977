//! rollback: put production back as a snapshot holds it.
//!
//! 1. Read prod and the snapshots; choose the snapshot: an id, a name, or `latest` (the newest
//!    pre-promotion snapshot of a prod branch that has since been replaced, so it undoes the
//!    last completed promotion).
//! 2. A re-run of a rollback that already restored prod, or whose prod was replaced since,
//!    restores nothing again.
//! 3. Snapshot prod first, always fresh (so the rollback itself can be undone).
//! 4. Restore the chosen snapshot onto prod (finalized), wait, verify.
//! 5. After the report: retire `<prod> (old)`, keep `rollback_snapshots_kept` rollback points.

use super::replace::{Leftover, Progress, abandoned, verify};
use super::roots::{find_prod, prod_label, settle};
use super::snapshots::{self, Spare, delete, snapshot_ref, take};
use super::tidy::Tidy;
use super::{Done, Unknown, branch_ref, snapshot_pull};
use crate::ctx::Ctx;
use crate::naming::{Of, SnapshotKind, SnapshotName};
use crate::neon::{Branch, Snapshot};
use crate::outcome::{Failure, Outcome, Rollback, SnapshotRef};

pub async fn rollback(ctx: &Ctx, wanted: &str) -> Result<Done, Failure> {
    let preflight = Progress::new(ctx, "rollback", prod_label(ctx), true);
    let (prod, all) = preflight.check("Preflight", read(ctx).await).await?;
    let chosen = preflight
        .check("Choosing the snapshot", choose(&all, wanted, &prod))
        .await?;
    let target = snapshot_ref(chosen);
    let pr = snapshot_pull(ctx, chosen).await;
    let run = ctx.github_run.as_ref().and_then(|g| g.run_id);
    let started = ctx.now();
    // This run's earlier attempts (a re-run keeps the run id): their rollback points.
    let earlier: Vec<&Snapshot> = snapshots::ours(&all)
        .into_iter()
        .filter(|o| o.name.kind == SnapshotKind::PreRollback && run.is_some() && o.name.run == run)
        .map(|o| o.snapshot)
        .collect();

    if prod.restored_from.as_deref() == Some(chosen.id.as_str()) {
        return finish(ctx, &prod, target, pr, &earlier).await;
    }
    if let Some(later) = snapshots::superseded_by(&all, run, &prod.id) {
        return Ok(Done::skipped(format!(
            "a later workflow run changed production or dev since this run started (its snapshot {}): rolling back again would undo that, so nothing was restored",
            later.name
        )));
    }
    if let Some(first) = earlier.last()
        && !ctx.dry_run()
    {
        let left = abandoned(ctx, &[chosen.id.as_str()], &first.created_at, &prod).await;
        match preflight.check("Check of an earlier attempt", left).await? {
            Leftover::Nothing => {}
            Leftover::Finished(now) => return finish(ctx, &now, target, pr, &earlier).await,
            Leftover::Abandoned(branch) => {
                return Err(unfinished(ctx, &prod, &target, &branch, first));
            }
        }
    }
    if let Some(moved) = earlier
        .iter()
        .find(|s| s.source_branch_id.as_deref() != Some(prod.id.as_str()))
    {
        return Ok(Done::skipped(format!(
            "production `{}` was replaced since this run first took its rollback point {} (of {}): rolling back again would undo that later change, so nothing was restored",
            prod.name,
            moved.name,
            moved.source_branch_id.as_deref().unwrap_or("?")
        )));
    }

    let mut progress = Progress::new(ctx, "rollback", &prod.name, true);
    let step = "Snapshot of production (before the rollback)";
    let name = SnapshotName::new(SnapshotKind::PreRollback, ctx.now(), None, None)
        .with_run(ctx.workflow_run())
        .to_string();
    let spare = Spare::new(ctx, &[], &prod.id);
    let taken = take(
        ctx,
        step,
        &prod,
        &name,
        &ctx.config.rollback_snapshot_ttl,
        spare,
    )
    .await;
    let undo = snapshot_ref(&progress.took(step, taken).await?);
    progress.undo_with(Some(&undo));
    // Only what was made before this attempt started: a twin attempt may have just taken
    // the rest.
    let before = |s: &&&Snapshot| {
        s.created_at
            .parse::<jiff::Timestamp>()
            .is_ok_and(|t| t < started)
    };
    for stale in earlier.iter().filter(before) {
        let label = format!("Delete an earlier attempt's rollback point {}", stale.name);
        if let Err(e) = delete(ctx, &label, &snapshot_ref(stale)).await {
            ctx.warn(format!("could not delete {}: {e:#}", stale.id));
        }
    }

    let label = format!("Restore {} onto production", target.name);
    let new_prod = progress
        .restore(
            "Restore of the snapshot onto production",
            &label,
            &target,
            &prod,
        )
        .await?;
    Ok(Done {
        outcome: Outcome::Rollback(Rollback {
            pr,
            restored_snapshot: target,
            rollback_snapshot: Some(undo.clone()),
            prod: branch_ref(&new_prod),
            previous_prod_id: prod.id.clone(),
        }),
        tidy: vec![
            Tidy::Prune {
                keep: undo,
                prod: new_prod.id.clone(),
            },
            Tidy::RetireOld {
                old_id: prod.id.clone(),
                new: new_prod,
            },
        ],
    })
}

/// An earlier attempt of this run restored the snapshot, but its restore did not finish: this
/// attempt changes nothing (SPEC §3).
fn unfinished(
    ctx: &Ctx,
    prod: &Branch,
    target: &SnapshotRef,
    left: &Branch,
    point: &Snapshot,
) -> Failure {
    Failure {
        message: format!(
            "An earlier attempt's restore of {} onto production did not complete: it left branch `{}` ({}) behind; production `{}` looks untouched (still {}); this run changed nothing; check `{}` in the Neon Console and, if it is not right, put it back as it was before the rollback: {}; a re-run of this event stops here too, so start the rollback anew once it is checked",
            target.name,
            left.name,
            left.id,
            prod.name,
            prod.id,
            prod.name,
            super::rollback_command(ctx, &point.id)
        ),
        rollback_snapshot: Some(snapshot_ref(point)),
        fix: None,
    }
}

/// Prod and the snapshot list, after any operation still running has ended.
async fn read(ctx: &Ctx) -> anyhow::Result<(Branch, Vec<Snapshot>)> {
    settle(ctx).await?;
    let (prod, all) = tokio::join!(
        find_prod(ctx),
        ctx.step("List snapshots", ctx.neon.list_snapshots())
    );
    Ok((prod?, all?))
}

/// Prod already comes from the chosen snapshot: restored by an earlier attempt of this run
/// (verify it and finish its clean-up), or already in that state (nothing to do).
async fn finish(
    ctx: &Ctx,
    prod: &Branch,
    target: SnapshotRef,
    pr: Option<crate::outcome::PullRef>,
    earlier: &[&Snapshot],
) -> Result<Done, Failure> {
    let replaced = prod.restored_as.clone().unwrap_or_default();
    let undo = earlier
        .iter()
        .find(|s| s.source_branch_id.as_deref() == Some(replaced.as_str()))
        .map(|s| snapshot_ref(s));
    let Some(undo) = undo else {
        return Ok(Done::skipped(format!(
            "production `{}` ({}) is already restored from {} ({}); nothing was restored again",
            prod.name, prod.id, target.id, target.name
        )));
    };
    if !ctx.dry_run() {
        let check = verify(ctx, &target, &prod.name, &replaced, None, false);
        if let Err(e) = ctx.step(format!("Verify {}", prod.name), check).await {
            return Err(Failure {
                message: format!(
                    "An earlier attempt's restore of {} onto production did not complete: {e:#}; production `{}` is now {} and may not hold complete data; this run changed nothing; check it in the Neon Console and, if it is not right, put it back as it was before the rollback: {}",
                    target.name,
                    prod.name,
                    prod.id,
                    super::rollback_command(ctx, &undo.id)
                ),
                rollback_snapshot: Some(undo),
                fix: None,
            });
        }
        ctx.runner.notice(&format!(
            "production `{}` ({}) was already restored from {} by an earlier attempt; nothing was restored again",
            prod.name, prod.id, target.name
        ));
    }
    let mut tidy = vec![Tidy::RetireOld {
        old_id: replaced.clone(),
        new: prod.clone(),
    }];
    tidy.extend(
        earlier
            .iter()
            .filter(|s| s.id != undo.id)
            .map(|s| Tidy::Delete {
                snapshot: snapshot_ref(s),
                why: "an earlier attempt's rollback point".into(),
            }),
    );
    tidy.push(Tidy::Prune {
        keep: undo.clone(),
        prod: prod.id.clone(),
    });
    Ok(Done {
        outcome: Outcome::Rollback(Rollback {
            pr,
            restored_snapshot: target,
            rollback_snapshot: Some(undo),
            prod: branch_ref(prod),
            previous_prod_id: replaced,
        }),
        tidy,
    })
}

/// The snapshot a `snapshot_id` input names: an exact id, an exact name, or `latest`.
fn choose<'a>(all: &'a [Snapshot], wanted: &str, prod: &Branch) -> anyhow::Result<&'a Snapshot> {
    let wanted = wanted.trim();
    if !wanted.eq_ignore_ascii_case("latest") {
        return snapshots::by_id_or_name(all, wanted);
    }
    let ours = snapshots::ours(all);
    let pre_promotion = |o: &&snapshots::Ours<'_>| {
        o.name.kind == SnapshotKind::PrePromotion
            && o.snapshot.source_branch_id.as_deref() != Some(prod.id.as_str())
    };
    // Prod made by a promotion (restored from a dev snapshot of ours): the pre-promotion
    // point of the branch it replaced undoes exactly that promotion.
    let promoted = ours.iter().any(|o| {
        Some(o.snapshot.id.as_str()) == prod.restored_from.as_deref() && o.name.of == Of::Dev
    });
    let replaced = prod.restored_as.as_deref().filter(|_| promoted);
    let undoes_prod = ours
        .iter()
        .filter(pre_promotion)
        .find(|o| replaced.is_some() && o.snapshot.source_branch_id.as_deref() == replaced);
    // Prod made by a rollback to a pre-promotion point: that point is still the state before
    // the last completed promotion (a newer point is of a promotion that never completed, or
    // prod would come from a dev snapshot), so `latest` again restores it again (simulation
    // seed 76056: a promotion failed while a rollback ran, and `latest` took its point).
    let again = ours.iter().find(|o| {
        o.name.kind == SnapshotKind::PrePromotion
            && Some(o.snapshot.id.as_str()) == prod.restored_from.as_deref()
    });
    // Otherwise the newest, leaving out a point of a branch that a later rollback went for
    // (a rollback takes a pre-rollback point of its target first): its promotion never
    // replaced that branch. Within a second, the run numbers say which came later.
    let rolled_back = |point: &snapshots::Ours<'_>| {
        ours.iter().any(|o| {
            o.name.kind == SnapshotKind::PreRollback
                && o.snapshot.source_branch_id == point.snapshot.source_branch_id
                && (o.name.taken_at, o.name.run) > (point.name.taken_at, point.name.run)
        })
    };
    // Prod made by another restore (a rollback): a point taken after that is of a promotion
    // that never replaced prod, so it undoes nothing that completed (simulation seed 84778).
    // Both times are Neon's, in whole seconds; within the same second the point stays.
    let made = |t: &str| t.parse::<jiff::Timestamp>().ok();
    let since_prod = |o: &snapshots::Ours<'_>| {
        !promoted
            && prod.restored_from.is_some()
            && made(&o.snapshot.created_at)
                .zip(made(&prod.created_at))
                .is_some_and(|(point, prod)| point > prod)
    };
    undoes_prod
        .or(again)
        .or_else(|| {
            ours.iter()
                .filter(pre_promotion)
                .find(|o| !rolled_back(o) && !since_prod(o))
        })
        .map(|o| o.snapshot)
        .ok_or_else(|| {
            Unknown {
                input: "snapshot_id",
                kind: "snapshot",
                message: format!(
                    "`latest` found no rollback point of a completed promotion (a pre-promotion snapshot of a production branch that has since been replaced) among the project's {} snapshots",
                    all.len()
                ),
            }
            .into()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: &str, name: &str, source: &str) -> Snapshot {
        Snapshot {
            id: id.into(),
            name: name.into(),
            source_branch_id: Some(source.into()),
            created_at: "2026-11-23T10:00:00Z".into(),
            expires_at: None,
            manual: Some(true),
            lsn: None,
        }
    }

    fn prod(id: &str) -> Branch {
        serde_json::from_value(serde_json::json!({ "id": id, "name": "production" })).unwrap()
    }

    #[test]
    fn latest_undoes_the_last_completed_promotion() {
        let all = vec![
            snap(
                "a",
                "prod_snap_2026-11-20_10-00-00_pre-promotion_pr-1_abcdef0",
                "br-1",
            ),
            snap(
                "b",
                "prod_snap_2026-11-22_10-00-00_pre-promotion_pr-2_abcdef1",
                "br-2",
            ),
            // Promotion C failed before its restore: its point is of the current prod.
            snap(
                "c",
                "prod_snap_2026-11-23_10-00-00_pre-promotion_pr-3_abcdef2",
                "br-3",
            ),
            snap("d", "prod_snap_2026-11-23_11-00-00_pre-rollback", "br-3"),
        ];
        assert_eq!(choose(&all, "latest", &prod("br-3")).unwrap().id, "b");
        assert_eq!(choose(&all, " LATEST ", &prod("br-3")).unwrap().id, "b");
        assert!(choose(&all[2..], "latest", &prod("br-3")).is_err());
        assert_eq!(choose(&all, "d", &prod("br-3")).unwrap().id, "d");
    }

    #[test]
    fn latest_skips_a_failed_promotions_point_of_a_branch_a_rollback_replaced() {
        let all = vec![
            snap(
                "a",
                "prod_snap_2026-11-20_10-00-00_pre-promotion_abcdef0",
                "br-1",
            ),
            // A promotion of br-2 failed before its restore; a rollback then replaced br-2.
            snap(
                "b",
                "prod_snap_2026-11-22_10-00-00_pre-promotion_abcdef1",
                "br-2",
            ),
            snap("r", "prod_snap_2026-11-22_11-00-00_pre-rollback", "br-2"),
        ];
        assert_eq!(choose(&all, "latest", &prod("br-3")).unwrap().id, "a");
    }

    #[test]
    fn latest_follows_what_prod_replaced_when_two_promotions_share_a_second() {
        let name = "prod_snap_2026-11-23_10-00-00_pre-promotion_abcdef0";
        let baseline = "dev_snap_2026-11-23_10-00-00_baseline_abcdef0";
        let all = vec![
            snap("a", name, "br-1"),
            snap("b", name, "br-2"),
            snap("c", baseline, "br-dev"),
        ];
        // Prod came from a promotion (a dev snapshot): the point of what it replaced.
        let mut now = prod("br-3");
        now.restored_from = Some("c".into());
        now.restored_as = Some("br-2".into());
        assert_eq!(choose(&all, "latest", &now).unwrap().id, "b");
        now.restored_as = Some("br-1".into());
        assert_eq!(choose(&all, "latest", &now).unwrap().id, "a");
    }

    #[test]
    fn latest_after_a_rollback_to_it_is_that_point_again() {
        let all = vec![
            snap(
                "a",
                "prod_snap_2026-11-20_10-00-00_pre-promotion_abcdef0",
                "br-1",
            ),
            // A promotion that failed while the rollback to `a` ran: its point is newer.
            snap(
                "b",
                "prod_snap_2026-11-20_10-00-05_pre-promotion_abcdef1",
                "br-2",
            ),
        ];
        let mut now = prod("br-3");
        now.restored_from = Some("a".into());
        now.restored_as = Some("br-2".into());
        assert_eq!(choose(&all, "latest", &now).unwrap().id, "a");
    }
}
