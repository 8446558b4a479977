//! setup (the guide's Phase 1), idempotent: create the dev root from a production snapshot (a
//! restore without finalize, named `dev_branch`), give it a read-write compute, protect
//! production where the plan allows, and keep the snapshot as dev's baseline. A re-run
//! finishes whatever an earlier try left undone (dev's compute, prod's protection, the
//! baseline) and otherwise changes nothing.

use super::refresh_dev::discard_leftovers;
use super::replace::Progress;
use super::roots::{find_dev, find_prod, prod_label, settle};
use super::snapshots::{Spare, snapshot_ref, take};
use super::tidy::{self, Tidy, protect};
use super::{Done, branch_ref};
use crate::ctx::Ctx;
use crate::naming::{SnapshotKind, SnapshotName};
use crate::neon::{Branch, EndpointType, NeonError, RestoreSnapshot};
use crate::outcome::{Failure, Outcome, Setup};
use crate::plan::Call;

pub async fn setup(ctx: &Ctx) -> Result<Done, Failure> {
    let progress = Progress::new(ctx, "setup", prod_label(ctx), true);
    let read = async {
        settle(ctx).await?;
        let (prod, dev, all) = tokio::join!(
            find_prod(ctx),
            find_dev(ctx),
            ctx.step("List snapshots", ctx.neon.list_snapshots())
        );
        anyhow::Ok((prod?, dev?, all?))
    };
    let (prod, dev, all) = progress.check("Preflight", read.await).await?;
    if dev.as_ref().is_some_and(|d| d.id == prod.id) {
        let same = anyhow::anyhow!("prod_branch and dev_branch are both `{}`", prod.name);
        return Err(progress.fail("Preflight", same).await);
    }
    let (dev, created, snapshot) = match dev {
        Some(dev) => {
            let made_from = dev
                .restored_from
                .as_deref()
                .and_then(|id| all.iter().find(|s| s.id == id))
                .map(snapshot_ref);
            (dev, false, made_from)
        }
        None => {
            discard_leftovers(ctx, &all).await;
            let (dev, snapshot) = progress
                .check("Creation of the dev root", create_dev(ctx, &prod).await)
                .await?;
            (dev, true, Some(snapshot))
        }
    };
    let compute = ensure_compute(ctx, &dev, created).await;
    let added_compute = progress.check("Creation of dev's compute", compute).await?;
    let protect_skipped = protect_prod(ctx, &prod)
        .await
        .map_err(|e| Failure::from_message(format!("{e:#}")))?;
    if !created && !added_compute && prod.protected {
        ctx.runner.notice(&format!(
            "the dev root `{}` ({}) already exists: nothing was changed",
            dev.name, dev.id
        ));
    }
    // Dev was made from this prod snapshot and is still that branch: it is dev's baseline
    // (unless an earlier try already made it one).
    let tidy: Vec<Tidy> = snapshot
        .filter(|s| {
            SnapshotName::parse(&s.name).is_some_and(|n| n.kind == SnapshotKind::DevRefresh)
        })
        .and_then(|s| tidy::baseline(&s))
        .into_iter()
        .collect();
    Ok(Done {
        outcome: Outcome::Setup(Setup {
            prod: branch_ref(&prod),
            dev: branch_ref(&dev),
            created,
            prod_protected: protect_skipped.is_none(),
            protect_skipped,
        }),
        tidy,
    })
}

/// Snapshot prod (kept afterwards as dev's baseline, so it lives as long as a rollback point)
/// and restore it, without finalize, as a new root branch named `dev_branch`.
async fn create_dev(
    ctx: &Ctx,
    prod: &Branch,
) -> anyhow::Result<(Branch, crate::outcome::SnapshotRef)> {
    let name = SnapshotName::new(SnapshotKind::DevRefresh, ctx.now(), None, None)
        .with_run(ctx.workflow_run())
        .to_string();
    let ttl = &ctx.config.rollback_snapshot_ttl;
    let spare = Spare::new(ctx, &[], &prod.id);
    let taken = take(ctx, "Snapshot of production", prod, &name, ttl, spare).await?;
    let snapshot = snapshot_ref(&taken);
    let dev_name = &ctx.config.dev_branch;
    let call = Call::Restore {
        snapshot_id: snapshot.id.clone(),
        request: RestoreSnapshot {
            name: Some(dev_name.clone()),
            target_branch_id: None,
            finalize_restore: false,
        },
    };
    let made = ctx
        .apply(format!("Create {dev_name} from the snapshot"), call)
        .await?;
    let dev = made.and_then(|s| s.branch()).unwrap_or_else(|| Branch {
        id: "{dev}".into(),
        name: dev_name.clone(),
        ..prod.clone()
    });
    Ok((dev, snapshot))
}

/// Gives dev a read-write compute unless it has one (a branch just made has none). Returns
/// whether one was added.
async fn ensure_compute(ctx: &Ctx, dev: &Branch, just_made: bool) -> anyhow::Result<bool> {
    if !just_made {
        let label = format!("Find the computes of {}", dev.name);
        let endpoints = ctx.step(label, ctx.neon.list_endpoints(&dev.id)).await?;
        if endpoints.iter().any(|e| e.kind == EndpointType::ReadWrite) {
            return Ok(false);
        }
    }
    let call = Call::CreateEndpoint {
        branch_id: dev.id.clone(),
        kind: EndpointType::ReadWrite,
    };
    ctx.apply(format!("Start a read-write compute on {}", dev.name), call)
        .await?;
    Ok(true)
}

/// Protects prod unless it is; a plan without protected branches is a warning, not a failure.
/// Returns why it was skipped, if it was.
async fn protect_prod(ctx: &Ctx, prod: &Branch) -> anyhow::Result<Option<String>> {
    if prod.protected {
        return Ok(None);
    }
    match protect(ctx, &format!("Protect {}", prod.name), &prod.id, true).await {
        Ok(()) => Ok(None),
        Err(e) if matches!(crate::ctx::neon_error(&e), Some(NeonError::Client { .. })) => {
            let why = format!("{e:#}");
            ctx.warn(format!(
                "production `{}` was not protected (the plan may not allow protected branches): {why}",
                prod.name
            ));
            Ok(Some(why))
        }
        Err(e) => Err(e.context(format!(
            "protecting production `{}` failed; dev is ready; production is untouched; re-run to protect it",
            prod.name
        ))),
    }
}
