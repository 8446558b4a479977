//! sweep (on `schedule`), the backstop for what `closed` events and failed runs left behind:
//! preview branches of our template whose PR is closed or gone; `(old)` branches that a
//! verified restore replaced (a live, ready branch has `restored_as` equal to their id) and
//! that have no children; our candidate and dev-refresh snapshots past `candidate_snapshot_ttl`
//! and rollback points past their expiry; a baseline older than dev's (two runs made one at
//! once). Never production, the dev root, the default branch, a protected branch, any other
//! root, an `(old)` branch when `keep_old_branch` is set, dev's baseline, or anybody else's
//! snapshot. A deletion that fails is a warning: the next sweep
//! tries again.

use std::collections::HashSet;

use jiff::Timestamp;

use super::replace::restore_finished;
use super::roots::find_prod;
use super::snapshots::{self, Ours, snapshot_ref};
use super::{Done, PROD_UNTOUCHED, branch_ref, failure};
use crate::config::Expiry;
use crate::ctx::Ctx;
use crate::github::GitHubError;
use crate::naming::{SnapshotKind, preview_pr_number};
use crate::neon::{Branch, Snapshot};
use crate::outcome::{Outcome, Sweep};
use crate::plan::Call;

pub async fn sweep(ctx: &Ctx) -> anyhow::Result<Done> {
    let (prod, branches, snapshots) = tokio::join!(
        find_prod(ctx),
        ctx.step("List branches", ctx.neon.list_branches()),
        ctx.step("List snapshots", ctx.neon.list_snapshots())
    );
    let read = prod.and_then(|p| Ok((p, branches?, snapshots?)));
    let (prod, branches, snapshots) = read.map_err(|e| {
        failure(
            "the sweep could not read the project",
            &e,
            &format!("nothing was deleted and {PROD_UNTOUCHED}"),
            "fix the cause and re-run",
        )
    })?;
    let dev = &ctx.config.dev_branch;
    // Never touched, whatever their names say.
    let untouchable: HashSet<&str> = branches
        .iter()
        .filter(|b| b.id == prod.id || b.name == *dev || b.id == *dev || b.default || b.protected)
        .map(|b| b.id.as_str())
        .collect();
    let mut out = Sweep::default();
    let mut doomed: Vec<&Branch> = previews(ctx, &branches, &untouchable, &mut out).await;
    let doomed_ids: HashSet<String> = doomed.iter().map(|b| b.id.clone()).collect();
    for old in replaced(ctx, &branches, &untouchable, &mut out).await {
        // Children that this sweep deletes first do not count.
        let children: Vec<&str> = branches
            .iter()
            .filter(|c| {
                c.parent_id.as_deref() == Some(old.id.as_str()) && !doomed_ids.contains(&c.id)
            })
            .map(|c| c.name.as_str())
            .collect();
        if children.is_empty() {
            doomed.push(old);
        } else {
            out.kept.push((
                old.name.clone(),
                format!("it still has children: {}", children.join(", ")),
            ));
        }
    }
    for branch in doomed {
        let call = Call::DeleteBranch {
            branch_id: branch.id.clone(),
        };
        match ctx.apply(format!("Delete {}", branch.name), call).await {
            Ok(_) => out.deleted_branches.push(branch_ref(branch)),
            Err(e) => {
                ctx.warn(format!("could not delete `{}`: {e:#}", branch.name));
                out.kept
                    .push((branch.name.clone(), format!("deleting it failed: {e:#}")));
            }
        }
    }
    let now = ctx.now();
    for o in stale_snapshots(&snapshots, &ctx.config.candidate_snapshot_ttl, now) {
        let s = snapshot_ref(o.snapshot);
        let call = Call::DeleteSnapshot {
            snapshot_id: s.id.clone(),
        };
        match ctx.apply(format!("Delete snapshot {}", s.name), call).await {
            Ok(_) => out.deleted_snapshots.push(s),
            Err(e) => {
                ctx.warn(format!("could not delete snapshot {}: {e:#}", s.name));
                out.kept
                    .push((s.name, format!("deleting it failed: {e:#}")));
            }
        }
    }
    Ok(Done {
        outcome: Outcome::Sweep(out),
        tidy: Vec::new(),
    })
}

/// Preview branches of our template (children, never roots) whose PR is closed or gone.
async fn previews<'a>(
    ctx: &Ctx,
    branches: &'a [Branch],
    untouchable: &HashSet<&str>,
    out: &mut Sweep,
) -> Vec<&'a Branch> {
    let template = &ctx.config.preview_branch_name;
    let found: Vec<(&Branch, u64)> = branches
        .iter()
        .filter(|b| !untouchable.contains(b.id.as_str()) && !b.is_root())
        .filter_map(|b| Some((b, preview_pr_number(template, &b.name)?)))
        .collect();
    let Some(github) = &ctx.github else {
        if !found.is_empty() {
            ctx.warn(format!(
                "no GitHub access (github_token and a repository): {} preview branches were not checked against their pull requests",
                found.len()
            ));
        }
        return Vec::new();
    };
    let mut doomed = Vec::new();
    for (branch, pr) in found {
        match github.pull(pr).await {
            Ok(p) if p.state != "closed" => {}
            Ok(_) | Err(GitHubError::NotFound) => doomed.push(branch),
            Err(e) => out.kept.push((
                branch.name.clone(),
                format!("could not read pull request #{pr}: {e}"),
            )),
        }
    }
    doomed
}

/// Branches a verified restore replaced: a live branch that is ready, and whose restore
/// finished, has `restored_as` equal to their id. Kept when `keep_old_branch` is set.
async fn replaced<'a>(
    ctx: &Ctx,
    branches: &'a [Branch],
    untouchable: &HashSet<&str>,
    out: &mut Sweep,
) -> Vec<&'a Branch> {
    let mut found = Vec::new();
    // Oldest first: in a chain (X replaced by Y, Y by prod) X goes while Y, which verifies
    // it, still exists.
    let mut candidates: Vec<&Branch> = branches
        .iter()
        .filter(|b| b.is_root() && !untouchable.contains(b.id.as_str()))
        .collect();
    candidates.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    for old in candidates {
        let Some(new) = branches
            .iter()
            .find(|b| b.restored_as.as_deref() == Some(old.id.as_str()))
        else {
            continue;
        };
        if ctx.config.keep_old_branch {
            out.kept
                .push((old.name.clone(), "keep_old_branch is set".into()));
            continue;
        }
        let finished = new.current_state == "ready"
            && ctx
                .step(
                    format!("Check the restore of {}", new.name),
                    restore_finished(ctx, &new.id),
                )
                .await
                .unwrap_or(false);
        if finished {
            found.push(old);
        } else {
            ctx.warn(format!(
                "`{}` ({}) replaced `{}` by a restore that did not finish: `{}` is kept; check `{}` in the Neon Console",
                new.name, new.id, old.name, old.name, new.name
            ));
            out.kept.push((
                old.name.clone(),
                format!("the restore that replaced it ({}) did not finish", new.id),
            ));
        }
    }
    found
}

/// Ours and done with: unpromoted candidates and dev-refresh leftovers past
/// `candidate_snapshot_ttl`, and rollback points past their own expiry (Neon normally removes
/// them itself). Never dev's baseline.
fn stale_snapshots<'a>(
    all: &'a [Snapshot],
    candidate_ttl: &Expiry,
    now: Timestamp,
) -> Vec<Ours<'a>> {
    // Dev's baseline is the newest one; an older one (two runs made one at once) is stale.
    let baseline = snapshots::baseline(all).map(|b| b.id.as_str());
    snapshots::ours(all)
        .into_iter()
        .filter(|o| {
            let expired = o
                .snapshot
                .expires_at
                .as_deref()
                .and_then(|e| e.parse::<Timestamp>().ok())
                .is_some_and(|e| e <= now);
            match o.name.kind {
                SnapshotKind::Baseline => Some(o.snapshot.id.as_str()) != baseline,
                k if k.is_rollback_point() => expired,
                _ => {
                    expired
                        || match candidate_ttl {
                            Expiry::Never => false,
                            Expiry::At(at) => *at <= now,
                            Expiry::After(ttl) => o
                                .name
                                .taken_at
                                .checked_add(*ttl)
                                .is_ok_and(|end| end <= now),
                        }
                }
            }
        })
        .collect()
}
