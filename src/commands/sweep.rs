//! sweep (on `schedule`), the backstop for what `closed` events and failed runs left behind:
//! preview branches of our template whose PR is closed or gone, `<prod> (old)` and
//! `<dev> (old)` branches without children, and our candidate and dev-refresh snapshots past
//! their TTL. Never production, the dev root, a protected branch, or a rollback snapshot before
//! its expiry. A deletion that fails is a warning: the next sweep tries again.

use std::collections::HashSet;

use jiff::Timestamp;

use super::failure;
use super::restore::{Call, branch_ref, find_prod, list_snapshots, plan_lines, snapshot_ref};
use crate::config::Expiry;
use crate::ctx::Ctx;
use crate::naming::{SnapshotKind, SnapshotName, preview_pr_number};
use crate::neon::{Branch, Snapshot};
use crate::outcome::{Outcome, Plan, Sweep};

pub async fn sweep(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let (prod, branches, snapshots) = tokio::join!(
        find_prod(ctx),
        ctx.step("List branches", ctx.neon.list_branches()),
        list_snapshots(ctx)
    );
    let read = prod.and_then(|p| Ok((p, branches?, snapshots?)));
    let (prod, branches, snapshots) = read.map_err(|e| {
        failure(
            "the sweep could not read the project",
            &e,
            "nothing was deleted and production is untouched",
            "fix the cause and re-run",
        )
    })?;
    let dev_name = ctx.config.dev_branch.as_str();
    let dev = branches
        .iter()
        .find(|b| b.name == dev_name || b.id == dev_name);
    // Never touched, whatever their names say.
    let keep: HashSet<&str> = [Some(prod.id.as_str()), dev.map(|d| d.id.as_str())]
        .into_iter()
        .flatten()
        .collect();
    let dev_name = dev.map_or(dev_name, |d| d.name.as_str());
    let mut out = Sweep::default();
    let mut doomed: Vec<&Branch> = Vec::new();

    let previews: Vec<(&Branch, u64)> = branches
        .iter()
        .filter(|b| !keep.contains(b.id.as_str()) && !b.default)
        .filter_map(|b| {
            Some((
                b,
                preview_pr_number(&ctx.config.preview_branch_name, &b.name)?,
            ))
        })
        .collect();
    match (&ctx.github, previews.is_empty()) {
        (_, true) => {}
        (None, false) => ctx.warn(format!(
            "no GitHub access (github_token): {} preview branches were not checked against their pull requests",
            previews.len()
        )),
        (Some(github), false) => {
            for (branch, pr) in previews {
                match github.pull(pr).await {
                    Ok(p) if p.state != "closed" => {}
                    Ok(_) => doomed.push(branch),
                    Err(e) if is_gone(&e) => doomed.push(branch),
                    Err(e) => out.kept.push((branch.name.clone(), format!("could not read pull request #{pr}: {e}"))),
                }
            }
        }
    }
    let doomed_ids: HashSet<&str> = doomed.iter().map(|b| b.id.as_str()).collect();
    for old in branches.iter().filter(|b| {
        !keep.contains(b.id.as_str())
            && !b.default
            && (is_old_of(&b.name, &prod.name) || is_old_of(&b.name, dev_name))
    }) {
        // Children that this sweep deletes first do not count.
        let children: Vec<&str> = branches
            .iter()
            .filter(|c| {
                c.parent_id.as_deref() == Some(old.id.as_str())
                    && !doomed_ids.contains(c.id.as_str())
            })
            .map(|c| c.name.as_str())
            .collect();
        if !children.is_empty() {
            out.kept.push((
                old.name.clone(),
                format!("it still has children: {}", children.join(", ")),
            ));
        } else if old.protected {
            out.kept.push((old.name.clone(), "it is protected".into()));
        } else {
            doomed.push(old);
        }
    }
    doomed.retain(|b| {
        let protected = b.protected;
        if protected {
            out.kept.push((b.name.clone(), "it is protected".into()));
        }
        !protected
    });
    let now = Timestamp::now();
    let stale: Vec<&Snapshot> = snapshots
        .iter()
        .filter(|s| past_ttl(s, &ctx.config.candidate_snapshot_ttl, now))
        .collect();

    if ctx.dry_run() {
        let calls: Vec<Call> = doomed
            .iter()
            .map(|b| Call::DeleteBranch {
                branch_id: b.id.clone(),
            })
            .chain(stale.iter().map(|s| Call::DeleteSnapshot {
                snapshot: s.id.clone(),
            }))
            .collect();
        return Ok(Outcome::DryRun(Plan {
            command: "sweep",
            calls: plan_lines(ctx, &calls),
        }));
    }
    for branch in doomed {
        let deleted = ctx
            .step(format!("Delete {}", branch.name), async {
                let ops = ctx.neon.delete_branch(&branch.id).await?;
                ctx.neon.wait(&ops).await
            })
            .await;
        match deleted {
            Ok(()) => out.deleted_branches.push(branch_ref(branch)),
            Err(e) => {
                ctx.warn(format!("could not delete `{}`: {e:#}", branch.name));
                out.kept
                    .push((branch.name.clone(), format!("deleting it failed: {e:#}")));
            }
        }
    }
    for snapshot in stale {
        let deleted = ctx
            .step(format!("Delete snapshot {}", snapshot.name), async {
                let ops = ctx.neon.delete_snapshot(&snapshot.id).await?;
                ctx.neon.wait(&ops).await
            })
            .await;
        match deleted {
            Ok(()) => out.deleted_snapshots.push(snapshot_ref(snapshot)),
            Err(e) => {
                ctx.warn(format!(
                    "could not delete snapshot {}: {e:#}",
                    snapshot.name
                ));
                out.kept
                    .push((snapshot.name.clone(), format!("deleting it failed: {e:#}")));
            }
        }
    }
    Ok(Outcome::Sweep(out))
}

/// `<base> (old)`, or `<base> (old) 2`, … as Neon names a second one.
fn is_old_of(name: &str, base: &str) -> bool {
    name.strip_prefix(base)
        .and_then(|rest| rest.strip_prefix(" (old)"))
        .is_some_and(|n| {
            n.is_empty()
                || n.strip_prefix(' ')
                    .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// Ours and past its TTL: candidate and dev-refresh snapshots after `candidate_snapshot_ttl`;
/// rollback points only once their own expiry has passed (Neon normally removes them itself).
fn past_ttl(snapshot: &Snapshot, candidate_ttl: &Expiry, now: Timestamp) -> bool {
    let Some(name) = SnapshotName::parse(&snapshot.name) else {
        return false;
    };
    let expired = snapshot
        .expires_at
        .as_deref()
        .and_then(|e| e.parse::<Timestamp>().ok())
        .is_some_and(|e| e <= now);
    match name.kind {
        SnapshotKind::PrePromotion | SnapshotKind::PreRollback => expired,
        SnapshotKind::Candidate | SnapshotKind::DevRefresh => {
            expired
                || match candidate_ttl {
                    Expiry::Never => false,
                    Expiry::At(at) => *at <= now,
                    Expiry::After(ttl) => {
                        name.taken_at.checked_add(*ttl).is_ok_and(|end| end <= now)
                    }
                }
        }
    }
}

/// A pull request that no longer exists counts as closed.
fn is_gone(e: &crate::github::GitHubError) -> bool {
    matches!(e, crate::github::GitHubError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_branches_are_recognised_by_neons_naming() {
        assert!(is_old_of("production (old)", "production"));
        assert!(is_old_of("production (old) 2", "production"));
        assert!(!is_old_of("production (old) x", "production"));
        assert!(!is_old_of("production (old)2", "production"));
        assert!(!is_old_of("production", "production"));
        assert!(!is_old_of("production-old", "production"));
        assert!(!is_old_of("dev (old)", "production"));
    }
}
