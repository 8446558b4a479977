//! promote: dev becomes production on a push to the promotion branch. Snapshot prod (the
//! rollback point), snapshot dev (the candidate), restore the candidate onto prod with
//! finalize, verify, retire `<prod> (old)` and delete the candidate.
//!
//! A re-run for the same commit never promotes twice: the snapshot names carry the commit sha,
//! so a completed promotion is recognised (and what its clean-up left undone is finished), and
//! a failed one is resumed with the snapshots it already took.

use jiff::Timestamp;

use super::expires_at;
use super::restore::{
    Call, Progress, branch_ref, delete_snapshot, explain_quota, find_prod, finish_old, is_quota,
    list_snapshots, newest, not_before, plan_lines, prod_label, replace_calls, require_dev,
    snapshot_ref, take_snapshot, try_snapshot,
};
use crate::ctx::Ctx;
use crate::event::PushInfo;
use crate::naming::{SnapshotKind, SnapshotName};
use crate::neon::{Branch, Snapshot};
use crate::outcome::{OldBranch, Outcome, Plan, Promotion, PullRef};

pub async fn promote(ctx: &Ctx, push: Option<&PushInfo>) -> anyhow::Result<Outcome> {
    let sha = push.map(|p| p.sha.as_str());
    let preflight = Progress::new(ctx, "promotion", prod_label(ctx), true);
    // Every read at once: the PR is needed for the snapshot names.
    let (prod, dev, snapshots, pr) = tokio::join!(
        find_prod(ctx),
        require_dev(ctx),
        list_snapshots(ctx),
        merged_pull(ctx, push)
    );
    let (prod, dev, snapshots) = preflight
        .check("Preflight", prod.and_then(|p| Ok((p, dev?, snapshots?))))
        .await?;
    if prod.id == dev.id {
        let same = anyhow::anyhow!("prod_branch and dev_branch are both `{}`", prod.name);
        return Err(preflight.fail("Preflight", same).await);
    }

    let earlier = Earlier::find(&snapshots, sha, &prod, &dev);
    if let Some(sha) = sha
        && earlier.completed(&prod, &snapshots, sha)
    {
        return finish_rerun(ctx, pr, sha, &prod, earlier).await;
    }

    let now = Timestamp::now();
    let name = |kind| SnapshotName::new(kind, now, pr.as_ref().map(|p| p.number), sha).to_string();
    if ctx.dry_run() {
        let mut calls = Vec::new();
        if earlier.rollback.is_none() {
            calls.push(Call::Snapshot {
                branch_id: prod.id.clone(),
                name: name(SnapshotKind::PrePromotion),
                expires_at: expires_at(&ctx.config.rollback_snapshot_ttl),
            });
        }
        let candidate = match &earlier.candidate {
            Some(c) => c.id.clone(),
            None => {
                calls.push(Call::Snapshot {
                    branch_id: dev.id.clone(),
                    name: name(SnapshotKind::Candidate),
                    expires_at: expires_at(&ctx.config.candidate_snapshot_ttl),
                });
                "{candidate}".into()
            }
        };
        calls.extend(restore_calls(ctx, &candidate, &prod));
        return Ok(Outcome::DryRun(Plan {
            command: "promote",
            calls: plan_lines(ctx, &calls),
        }));
    }

    let mut progress = Progress::new(ctx, "promotion", &prod.name, true);
    let rollback = match &earlier.rollback {
        Some(s) => snapshot_ref(s),
        None => {
            let step = "Snapshot of production (the rollback point)";
            let taken = take_snapshot(
                ctx,
                step,
                &prod,
                &name(SnapshotKind::PrePromotion),
                &ctx.config.rollback_snapshot_ttl,
            )
            .await;
            progress.check(step, taken).await?
        }
    };
    progress.undo_with(&rollback);
    let candidate = match &earlier.candidate {
        Some(s) => snapshot_ref(s),
        None => {
            let step = "Snapshot of dev (the candidate)";
            let taken = try_snapshot(
                ctx,
                step,
                &dev,
                &name(SnapshotKind::Candidate),
                &ctx.config.candidate_snapshot_ttl,
            )
            .await;
            match taken {
                Err(e) if is_quota(&e) => {
                    // Prod is untouched, so the rollback point is worth nothing: give its slot
                    // back before listing what holds the quota.
                    let freed =
                        delete_snapshot(ctx, "Delete the unused rollback snapshot", &rollback)
                            .await;
                    let why = match freed {
                        Ok(()) => {
                            progress = Progress::new(ctx, "promotion", &prod.name, true);
                            format!(
                                "a promotion needs two snapshots at once (the rollback point this run had taken, {}, was deleted again)",
                                rollback.id
                            )
                        }
                        Err(d) => format!(
                            "a promotion needs two snapshots at once (the unused rollback point {} could not be deleted: {d:#})",
                            rollback.id
                        ),
                    };
                    let e = explain_quota(ctx, e).await.context(why);
                    return Err(progress.fail(step, e).await);
                }
                taken => progress.check(step, taken).await?,
            }
        }
    };

    let (new_prod, old_branch) = progress
        .replace(
            "Restore of the candidate onto production",
            "Restore the candidate onto production",
            &candidate,
            &prod,
        )
        .await?;

    let step = "Deletion of the candidate snapshot";
    progress
        .check(
            step,
            delete_snapshot(ctx, "Delete the candidate snapshot", &candidate).await,
        )
        .await?;

    Ok(Outcome::Promote(Promotion {
        pr,
        sha: sha.unwrap_or_default().to_string(),
        prod: branch_ref(&new_prod),
        previous_prod_id: prod.id.clone(),
        rollback_snapshot: rollback,
        candidate_snapshot: candidate,
        old_branch,
        candidate_deleted: true,
        already_promoted: false,
    }))
}

/// What the restore, verification and clean-up send, for a dry run.
fn restore_calls(ctx: &Ctx, candidate: &str, prod: &Branch) -> Vec<Call> {
    let mut calls = replace_calls(ctx, candidate, prod);
    calls.push(Call::DeleteSnapshot {
        snapshot: candidate.to_string(),
    });
    calls
}

/// The PR the pushed commit was merged by, for the snapshot names and the comment. None found
/// is no comment; a GitHub failure is a warning, never a failed promotion.
async fn merged_pull(ctx: &Ctx, push: Option<&PushInfo>) -> Option<PullRef> {
    let (Some(push), Some(github)) = (push, &ctx.github) else {
        return None;
    };
    match github.merged_pull_for_commit(&push.sha, &push.branch).await {
        Ok(pr) => pr.map(|p| PullRef {
            number: p.number,
            title: p.title,
        }),
        Err(e) => {
            ctx.warn(format!(
                "could not find the pull request of {}: {e}; the promotion goes on without a comment",
                push.sha
            ));
            None
        }
    }
}

/// Snapshots an earlier try for the same commit took.
struct Earlier<'a> {
    /// Of the current prod: a re-run restores prod's state from then, rather than taking one more.
    rollback: Option<&'a Snapshot>,
    /// Of the current dev.
    candidate: Option<&'a Snapshot>,
    /// The pre-promotion snapshot for this commit, of whichever prod it was taken.
    any_rollback: Option<&'a Snapshot>,
}

impl<'a> Earlier<'a> {
    fn find(snapshots: &'a [Snapshot], sha: Option<&str>, prod: &Branch, dev: &Branch) -> Self {
        let newest = |kind: SnapshotKind| {
            let sha = sha?;
            newest(snapshots, |n, _| n.kind == kind && n.is_for_commit(sha))
        };
        let of = |s: Option<&'a Snapshot>, branch: &Branch| {
            s.filter(|s| s.source_branch_id.as_deref() == Some(branch.id.as_str()))
        };
        let any_rollback = newest(SnapshotKind::PrePromotion);
        Self {
            rollback: of(any_rollback, prod),
            candidate: of(newest(SnapshotKind::Candidate), dev),
            any_rollback,
        }
    }

    /// Whether this commit's promotion already happened: prod was restored from this commit's
    /// candidate, or prod is no longer the branch this commit's rollback point was taken of and
    /// was made since (by this promotion, or by a later promotion or rollback that a re-run
    /// must not undo).
    fn completed(&self, prod: &Branch, snapshots: &[Snapshot], sha: &str) -> bool {
        let Some(from) = prod.restored_from.as_deref() else {
            return false;
        };
        let from_candidate = snapshots
            .iter()
            .find(|s| s.id == from)
            .and_then(|s| SnapshotName::parse(&s.name))
            .is_some_and(|n| n.kind == SnapshotKind::Candidate && n.is_for_commit(sha));
        let replaced_since = self.any_rollback.is_some_and(|r| {
            r.source_branch_id.as_deref() != Some(prod.id.as_str())
                && not_before(&prod.created_at, &r.created_at)
        });
        from_candidate || replaced_since
    }
}

/// A re-run of a completed promotion: nothing is promoted again; what the earlier try's
/// clean-up left (the candidate snapshot, `<prod> (old)`) is finished.
async fn finish_rerun(
    ctx: &Ctx,
    pr: Option<PullRef>,
    sha: &str,
    prod: &Branch,
    earlier: Earlier<'_>,
) -> anyhow::Result<Outcome> {
    let reason = format!(
        "commit {sha} was already promoted: production `{}` ({}) was restored from {} after its rollback point; nothing was promoted again",
        prod.name,
        prod.id,
        prod.restored_from.as_deref().unwrap_or("?")
    );
    let leftover = earlier.candidate.map(snapshot_ref);
    if ctx.dry_run() {
        let calls: Vec<Call> = leftover
            .iter()
            .map(|c| Call::DeleteSnapshot {
                snapshot: c.id.clone(),
            })
            .collect();
        return Ok(Outcome::DryRun(Plan {
            command: "promote",
            calls: plan_lines(ctx, &calls),
        }));
    }
    let Some(rollback) = earlier.any_rollback.map(snapshot_ref) else {
        return Ok(Outcome::Skipped { reason });
    };
    ctx.runner.notice(&reason);
    let mut progress = Progress::new(ctx, "promotion", &prod.name, true);
    progress.undo_with(&rollback);
    progress.restored(prod);
    let step = "Clean-up of the replaced production branch";
    let previous = earlier
        .any_rollback
        .and_then(|s| s.source_branch_id.clone())
        .unwrap_or_default();
    let old = progress
        .check(step, finish_old(ctx, prod, Some(&previous)).await)
        .await?;
    if let Some(candidate) = &leftover {
        let step = "Deletion of the candidate snapshot";
        progress
            .check(
                step,
                delete_snapshot(ctx, "Delete the candidate snapshot", candidate).await,
            )
            .await?;
    }
    Ok(Outcome::Promote(Promotion {
        pr,
        sha: sha.to_string(),
        prod: branch_ref(prod),
        previous_prod_id: previous.clone(),
        rollback_snapshot: rollback,
        candidate_snapshot: leftover.unwrap_or_else(|| crate::outcome::SnapshotRef {
            id: prod.restored_from.clone().unwrap_or_default(),
            name: String::new(),
        }),
        old_branch: old.unwrap_or(OldBranch::Deleted { id: previous }),
        candidate_deleted: true,
        already_promoted: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn branch(id: &str, created_at: &str, restored_from: Option<&str>) -> Branch {
        Branch {
            id: id.into(),
            name: id.into(),
            parent_id: None,
            default: false,
            protected: false,
            current_state: "ready".into(),
            expires_at: None,
            restored_from: restored_from.map(str::to_string),
            created_at: created_at.into(),
        }
    }

    fn snap(id: &str, name: &str, source: &str, created_at: &str) -> Snapshot {
        Snapshot {
            id: id.into(),
            name: name.into(),
            source_branch_id: Some(source.into()),
            created_at: created_at.into(),
            expires_at: None,
            manual: Some(true),
        }
    }

    const SHA: &str = "ab12cd34ef567890";

    fn snapshots() -> Vec<Snapshot> {
        vec![
            snap(
                "rb",
                "prod_snap_2026-11-23_10-00-00_pre-promotion_pr-4_ab12cd3",
                "prod-1",
                "2026-11-23T10:00:00Z",
            ),
            snap(
                "cand",
                "dev_snap_2026-11-23_10-00-01_candidate_pr-4_ab12cd3",
                "dev",
                "2026-11-23T10:00:01Z",
            ),
        ]
    }

    #[test]
    fn a_try_that_stopped_before_its_restore_is_resumed_with_its_snapshots() {
        let list = snapshots();
        let prod = branch("prod-1", "2026-11-01T00:00:00Z", None);
        let dev = branch("dev", "2026-11-01T00:00:00Z", None);
        let earlier = Earlier::find(&list, Some(SHA), &prod, &dev);
        assert!(!earlier.completed(&prod, &list, SHA));
        assert_eq!(earlier.rollback.map(|s| s.id.as_str()), Some("rb"));
        assert_eq!(earlier.candidate.map(|s| s.id.as_str()), Some("cand"));
        // Another commit finds nothing of its own.
        let other = Earlier::find(&list, Some("0000000"), &prod, &dev);
        assert!(other.rollback.is_none() && other.candidate.is_none());
    }

    #[test]
    fn a_completed_promotion_is_recognised_even_after_its_candidate_is_gone() {
        let list = snapshots();
        let dev = branch("dev", "2026-11-01T00:00:00Z", None);
        let restored = branch("prod-2", "2026-11-23T10:00:05Z", Some("cand"));
        let earlier = Earlier::find(&list, Some(SHA), &restored, &dev);
        assert!(earlier.completed(&restored, &list, SHA));
        let without_candidate = &list[..1];
        let earlier = Earlier::find(without_candidate, Some(SHA), &restored, &dev);
        assert!(earlier.completed(&restored, without_candidate, SHA));
        // Restored from something else before this commit's rollback point: not ours.
        let older = branch("prod-0", "2026-11-22T00:00:00Z", Some("elsewhere"));
        let earlier = Earlier::find(&list, Some(SHA), &older, &dev);
        assert!(!earlier.completed(&older, &list, SHA));
    }
}
