//! A promotion run for a commit that an earlier try already handled: the restore happened (the
//! clean-up is finished, nothing is promoted again), the restore did not complete (nothing is
//! changed; the user checks prod), or prod was replaced since that try (promoting again would
//! undo the later change). Neon says which (`restored_from`, `restored_as`, the operations of
//! the restore), never a guess from names alone.

use super::super::Done;
use super::super::replace::{Leftover, abandoned, verify};
use super::super::snapshots::{self, Ours, snapshot_ref};
use super::super::tidy::{self, Tidy};
use crate::ctx::Ctx;
use crate::event::PushInfo;
use crate::naming::{Of, SnapshotKind, SnapshotName};
use crate::neon::{Branch, Snapshot};
use crate::outcome::{Failure, Outcome, Promotion, PullRef, SnapshotRef};

/// What earlier tries for this commit left: its rollback points and candidates.
pub struct Earlier {
    pub rollback_points: Vec<SnapshotRef>,
    pub candidates: Vec<SnapshotRef>,
    /// Candidates and the baseline made from one, for recognising a completed promotion.
    promoted_or_not: Vec<Snapshot>,
    points: Vec<Snapshot>,
    /// This run's start, by our clock.
    started: jiff::Timestamp,
}

impl Earlier {
    /// What `all` holds for commit `sha`. Only what was made before `started` (this run's
    /// start) is stale: a twin run of the same commit may have just taken the rest.
    pub fn find(all: &[Snapshot], sha: Option<&str>, started: jiff::Timestamp) -> Self {
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
        let stale = |s: &&Snapshot| {
            s.created_at
                .parse::<jiff::Timestamp>()
                .is_ok_and(|t| t < started)
        };
        Self {
            rollback_points: points.iter().filter(stale).map(snapshot_ref).collect(),
            candidates: promoted_or_not
                .iter()
                .filter(stale)
                .filter(|s| {
                    SnapshotName::parse(&s.name).is_some_and(|n| n.kind == SnapshotKind::Candidate)
                })
                .map(snapshot_ref)
                .collect(),
            promoted_or_not,
            points,
            started,
        }
    }
}

/// A re-run, or a run that came too late: `Some` when nothing is to be promoted.
pub async fn rerun(
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
                return Err(unfinished(ctx, prod, &candidate, rollback, &e, true));
            }
            ctx.runner.notice(&format!(
                "commit {sha} was already promoted: production `{}` ({}) was restored from {}; nothing was promoted again",
                prod.name, prod.id, candidate.name
            ));
        }
        return Ok(Some(already(prod, sha, pr, rollback, candidate, earlier)));
    }
    // Prod was replaced while this run was starting: a concurrent run (an older one too) or a
    // person changed it, and promoting now could undo that (simulation seed 81999: an older
    // run promoted over a newer one that had just finished, and retention then deleted every
    // trace of the newer one, whose re-run promoted its commit again). Neon's `created_at`
    // has whole seconds, which errs towards "before".
    if from.is_some()
        && prod
            .created_at
            .parse::<jiff::Timestamp>()
            .is_ok_and(|t| t > earlier.started)
    {
        return Ok(Some(Done::skipped(format!(
            "production `{}` was replaced ({}, restored from {}) after this run started ({}): another run or a person changed it meanwhile, and promoting now could undo that, so nothing was promoted; to promote commit {sha}, run the workflow again with `command: promote` (a new run)",
            prod.name,
            prod.created_at,
            from.unwrap_or("nothing"),
            earlier.started,
        ))));
    }
    // A later workflow run promoted, rolled back or refreshed dev since this one started.
    let run = ctx.github_run.as_ref().and_then(|g| g.run_id);
    if let Some(later) = snapshots::superseded_by(all, run, &prod.id) {
        return Ok(Some(Done::skipped(format!(
            "a later workflow run changed production or dev since this run started (its snapshot {}): running this older promotion of commit {sha} again would undo that, so nothing was promoted",
            later.name
        ))));
    }
    // Dev's baseline is this commit's candidate: it was promoted, and prod was replaced
    // since (a rollback, or a restore by hand), which promoting again would undo.
    if let Some(baseline) = snapshots::baseline(all).filter(|b| {
        SnapshotName::parse(&b.name).is_some_and(|n| n.of == Of::Dev && n.is_for_commit(sha))
    }) {
        return Ok(Some(Done::skipped(format!(
            "commit {sha} was already promoted (dev's baseline {} is its candidate) and production was replaced since: promoting it again would undo that, so nothing was promoted",
            baseline.name
        ))));
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
    // A re-run (attempt 2 or later) finds prod replaced after this commit was pushed, and not
    // by an older run's promotion (a rollback, a later run whose snapshots retention has since
    // deleted, a restore by hand): promoting now could undo that change, and nothing says the
    // first attempt did not promote. A first attempt is the user's request to promote now.
    let rerun_attempt = ctx.workflow_run().is_some_and(|r| r.attempt > 1);
    if let Some(pushed) = push.and_then(|p| p.pushed_at)
        && rerun_attempt
        && replaced_after_push(prod, pushed, all, run)
    {
        return Ok(Some(Done::skipped(format!(
            "production `{}` was replaced ({}, restored from {}) after commit {sha} was pushed ({pushed}), by a change this run cannot tell is older than it: promoting now could undo that change, so nothing was promoted; to promote this commit, run the workflow again with `command: promote` (a new run)",
            prod.name,
            prod.created_at,
            from.unwrap_or("nothing"),
        ))));
    }
    // An earlier try restored this commit's candidate but prod is not that branch: the
    // restore's operation failed or was cancelled and left prod as it was (SPEC §3: never
    // done, never repeated).
    if !earlier.promoted_or_not.is_empty() && !ctx.dry_run() {
        let ids: Vec<&str> = earlier
            .promoted_or_not
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        let left = abandoned(ctx, &ids, "", prod).await.map_err(|e| {
            Failure::from_message(format!(
                "{e:#}; production is untouched; fix the cause and re-run"
            ))
        })?;
        let branch = match left {
            Leftover::Nothing => None,
            // The earlier try's restore just finished: judge the production it made.
            Leftover::Finished(now) => {
                return Box::pin(rerun(ctx, &now, earlier, all, push, pr)).await;
            }
            Leftover::Abandoned(branch) => Some(branch),
        };
        if let Some(branch) = branch {
            let from = branch.restored_from.as_deref().unwrap_or_default();
            let candidate = earlier
                .promoted_or_not
                .iter()
                .find(|c| c.id == from)
                .expect("found by its id");
            let rollback = earlier.points.first().map(snapshot_ref);
            let cause = anyhow::anyhow!(
                "its restore left branch `{}` ({}) restored from {} without finishing",
                branch.name,
                branch.id,
                candidate.name
            );
            return Err(unfinished(
                ctx,
                prod,
                &snapshot_ref(candidate),
                rollback,
                &cause,
                false,
            ));
        }
    }
    Ok(None)
}

/// Whether prod was made by a restore after `pushed` that no promotion by this run or an
/// older one explains: its snapshot is not a candidate (or baseline) of ours whose run is
/// this one or older. Unreadable times never count.
fn replaced_after_push(
    prod: &Branch,
    pushed: jiff::Timestamp,
    all: &[Snapshot],
    run: Option<u64>,
) -> bool {
    let Some(from) = prod.restored_from.as_deref() else {
        return false;
    };
    let after = prod
        .created_at
        .parse::<jiff::Timestamp>()
        .is_ok_and(|made| made > pushed);
    let older_promotion = all
        .iter()
        .find(|s| s.id == from)
        .and_then(|s| SnapshotName::parse(&s.name))
        .is_some_and(|n| {
            n.of == Of::Dev
                && matches!(n.kind, SnapshotKind::Candidate | SnapshotKind::Baseline)
                && n.run.zip(run).is_some_and(|(theirs, ours)| theirs <= ours)
        });
    after && !older_promotion
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
/// nothing is deleted or repeated; the user checks prod and rolls back if needed. `renamed`:
/// prod carries the unfinished restore; else prod looks as it was.
fn unfinished(
    ctx: &Ctx,
    prod: &Branch,
    candidate: &SnapshotRef,
    rollback: Option<SnapshotRef>,
    cause: &anyhow::Error,
    renamed: bool,
) -> Failure {
    let back = match &rollback {
        Some(r) => format!(
            "put it back as it was before that promotion: {}",
            super::super::rollback_command(ctx, &r.id)
        ),
        None => "restore it from a snapshot of yours".into(),
    };
    let state = if renamed {
        format!(
            "production `{}` is now {}, restored from that candidate, and may not hold complete data",
            prod.name, prod.id
        )
    } else {
        format!(
            "production `{}` looks untouched (still {})",
            prod.name, prod.id
        )
    };
    Failure {
        message: format!(
            "An earlier try's restore of {} onto production did not complete: {cause:#}; {state}; this run changed nothing; check `{}` in the Neon Console and, if it is not right, {back}; a re-run of this event stops here too, so promote anew (a new push, or {}) once it is checked",
            candidate.name,
            prod.name,
            ctx.config.command_hint("promote")
        ),
        rollback_snapshot: rollback,
        fix: None,
    }
}

/// The outcome of a re-run of a completed promotion, and what its clean-up left to do.
fn already(
    prod: &Branch,
    sha: &str,
    pr: Option<PullRef>,
    rollback: Option<SnapshotRef>,
    candidate: SnapshotRef,
    earlier: &Earlier,
) -> Done {
    let replaced = prod.restored_as.clone().unwrap_or_default();
    let mut tidy = vec![Tidy::RetireOld {
        old_id: replaced.clone(),
        new: prod.clone(),
    }];
    tidy.extend(tidy::baseline(&candidate));
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
        tidy.push(Tidy::Prune {
            keep: r.clone(),
            prod: prod.id.clone(),
        });
    }
    Done {
        outcome: Outcome::Promote(Promotion {
            pr,
            sha: sha.to_string(),
            prod: super::super::branch_ref(prod),
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
