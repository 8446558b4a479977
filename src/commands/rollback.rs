//! rollback: put production back as a snapshot holds it. Snapshot prod first (so the rollback
//! itself can be undone), restore the chosen snapshot onto prod with finalize, verify, retire
//! `<prod> (old)`. The snapshot is an id, a name, or `latest`: the newest pre-promotion
//! snapshot this action took (pre-rollback snapshots are not candidates).

use jiff::Timestamp;

use super::expires_at;
use super::restore::{
    Call, Progress, branch_ref, find_prod, finish_old, list_snapshots, newest, not_before,
    plan_lines, prod_label, replace_calls, snapshot_ref, take_snapshot,
};
use crate::ctx::Ctx;
use crate::naming::{SnapshotKind, SnapshotName};
use crate::neon::{Branch, Snapshot};
use crate::outcome::{Outcome, Plan, PullRef, Rollback};

pub async fn rollback(ctx: &Ctx, snapshot: &str) -> anyhow::Result<Outcome> {
    let preflight = Progress::new(ctx, "rollback", prod_label(ctx), true);
    let (prod, snapshots) = tokio::join!(find_prod(ctx), list_snapshots(ctx));
    let (prod, snapshots) = preflight
        .check("Preflight", prod.and_then(|p| Ok((p, snapshots?))))
        .await?;
    let chosen = preflight
        .check("Choosing the snapshot", choose(&snapshots, snapshot))
        .await?;
    let pr = snapshot_pull(ctx, chosen).await;
    if prod.restored_from.as_deref() == Some(chosen.id.as_str()) {
        return finish_rerun(ctx, pr, &prod, chosen, &snapshots).await;
    }
    // An earlier try that stopped before its restore already took prod's snapshot.
    let earlier = newest(&snapshots, |n, s| {
        n.kind == SnapshotKind::PreRollback
            && s.source_branch_id.as_deref() == Some(prod.id.as_str())
    });
    let name =
        SnapshotName::new(SnapshotKind::PreRollback, Timestamp::now(), None, None).to_string();

    if ctx.dry_run() {
        let mut calls = Vec::new();
        if earlier.is_none() {
            calls.push(Call::Snapshot {
                branch_id: prod.id.clone(),
                name,
                expires_at: expires_at(&ctx.config.rollback_snapshot_ttl),
            });
        }
        calls.extend(replace_calls(ctx, &chosen.id, &prod));
        return Ok(Outcome::DryRun(Plan {
            command: "rollback",
            calls: plan_lines(ctx, &calls),
        }));
    }

    let mut progress = Progress::new(ctx, "rollback", &prod.name, true);
    let undo = match earlier {
        Some(s) => snapshot_ref(s),
        None => {
            let step = "Snapshot of production (before the rollback)";
            let taken =
                take_snapshot(ctx, step, &prod, &name, &ctx.config.rollback_snapshot_ttl).await;
            progress.check(step, taken).await?
        }
    };
    progress.undo_with(&undo);
    let target = snapshot_ref(chosen);
    let label = format!("Restore {} onto production", target.name);
    let (new_prod, old_branch) = progress
        .replace(
            "Restore of the snapshot onto production",
            &label,
            &target,
            &prod,
        )
        .await?;
    Ok(Outcome::Rollback(Rollback {
        pr,
        restored_snapshot: target,
        rollback_snapshot: undo,
        prod: branch_ref(&new_prod),
        previous_prod_id: prod.id.clone(),
        old_branch,
    }))
}

/// The snapshot a `snapshot_id` input names: an exact id, an exact name, or `latest`.
fn choose<'a>(snapshots: &'a [Snapshot], wanted: &str) -> anyhow::Result<&'a Snapshot> {
    let wanted = wanted.trim();
    if wanted.eq_ignore_ascii_case("latest") {
        return newest(snapshots, |n, _| n.kind == SnapshotKind::PrePromotion).ok_or_else(|| {
            anyhow::anyhow!(
                "`latest` found no pre-promotion snapshot (named like prod_snap_…_pre-promotion…) among the project's {} snapshots; give a snapshot id or name instead",
                snapshots.len()
            )
        });
    }
    if let Some(s) = snapshots.iter().find(|s| s.id == wanted) {
        return Ok(s);
    }
    let named: Vec<&Snapshot> = snapshots.iter().filter(|s| s.name == wanted).collect();
    match named.as_slice() {
        [one] => Ok(one),
        [] => anyhow::bail!(
            "no snapshot has the id or name `{wanted}` (the project has {}); it may have expired",
            snapshots.len()
        ),
        many => anyhow::bail!(
            "{} snapshots are named `{wanted}` ({}); give the id of the one to restore",
            many.len(),
            many.iter()
                .map(|s| s.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The PR whose promotion took the snapshot, when its name carries one; a GitHub failure is a
/// warning.
async fn snapshot_pull(ctx: &Ctx, snapshot: &Snapshot) -> Option<PullRef> {
    let number = SnapshotName::parse(&snapshot.name)?.pr?;
    let github = ctx.github.as_ref()?;
    match github.pull(number).await {
        Ok(p) => Some(PullRef {
            number: p.number,
            title: p.title,
        }),
        Err(e) => {
            ctx.warn(format!(
                "could not read pull request #{number}: {e}; no comment is posted"
            ));
            None
        }
    }
}

/// A re-run of a rollback that already restored prod: nothing is restored again (that would
/// throw away what was written since); the clean-up of the earlier try is finished.
async fn finish_rerun(
    ctx: &Ctx,
    pr: Option<PullRef>,
    prod: &Branch,
    chosen: &Snapshot,
    snapshots: &[Snapshot],
) -> anyhow::Result<Outcome> {
    let reason = format!(
        "production `{}` ({}) is already restored from {} ({}); nothing was restored again",
        prod.name, prod.id, chosen.id, chosen.name
    );
    if ctx.dry_run() {
        return Ok(Outcome::DryRun(Plan {
            command: "rollback",
            calls: Vec::new(),
        }));
    }
    // The snapshot the earlier try took of prod just before its restore.
    let taken = newest(snapshots, |n, s| {
        n.kind == SnapshotKind::PreRollback
            && s.source_branch_id.as_deref() != Some(prod.id.as_str())
            && not_before(&prod.created_at, &s.created_at)
    });
    let Some(taken) = taken else {
        return Ok(Outcome::Skipped { reason });
    };
    ctx.runner.notice(&reason);
    let undo = snapshot_ref(taken);
    let mut progress = Progress::new(ctx, "rollback", &prod.name, true);
    progress.undo_with(&undo);
    progress.restored(prod);
    let previous = taken.source_branch_id.clone().unwrap_or_default();
    let old = progress
        .check(
            "Clean-up of the replaced production branch",
            finish_old(ctx, prod, Some(&previous)).await,
        )
        .await?;
    Ok(Outcome::Rollback(Rollback {
        pr,
        restored_snapshot: snapshot_ref(chosen),
        rollback_snapshot: undo,
        prod: branch_ref(prod),
        previous_prod_id: previous.clone(),
        old_branch: old.unwrap_or(crate::outcome::OldBranch::Deleted { id: previous }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: &str, name: &str) -> Snapshot {
        Snapshot {
            id: id.into(),
            name: name.into(),
            source_branch_id: Some("br-prod".into()),
            created_at: "2026-11-23T10:00:00Z".into(),
            expires_at: None,
            manual: Some(true),
        }
    }

    fn list() -> Vec<Snapshot> {
        vec![
            snap(
                "s1",
                "prod_snap_2026-11-20_10-00-00_pre-promotion_pr-1_abcdef0",
            ),
            snap(
                "s2",
                "prod_snap_2026-11-22_10-00-00_pre-promotion_pr-2_abcdef1",
            ),
            snap("s3", "prod_snap_2026-11-23_10-00-00_pre-rollback"),
            snap("s4", "nightly"),
            snap("s5", "twin"),
            snap("s6", "twin"),
        ]
    }

    #[test]
    fn latest_is_the_newest_pre_promotion_snapshot() {
        assert_eq!(choose(&list(), "latest").unwrap().id, "s2");
        assert_eq!(choose(&list(), " LATEST ").unwrap().id, "s2");
        assert!(choose(&list()[2..], "latest").is_err());
    }

    #[test]
    fn ids_and_names_are_exact_and_ambiguity_is_an_error() {
        assert_eq!(choose(&list(), "s3").unwrap().id, "s3");
        assert_eq!(choose(&list(), "nightly").unwrap().id, "s4");
        let twins = choose(&list(), "twin").unwrap_err().to_string();
        assert!(twins.contains("s5, s6"), "{twins}");
        assert!(choose(&list(), "night").is_err());
    }
}
