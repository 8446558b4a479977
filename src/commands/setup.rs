//! setup (the guide's phase 1), idempotent: create the dev root from a production snapshot
//! (a restore without finalize, named `dev_branch`), give it a read-write compute, delete the
//! snapshot, protect production where the plan allows. When dev exists it says so and changes
//! nothing, unless an earlier try stopped before dev got its compute: then it finishes.

use jiff::Timestamp;

use super::expires_at;
use super::restore::{
    Call, Progress, branch_ref, delete_snapshot, find_dev, find_prod, plan_lines, prod_label,
    set_protected, take_snapshot,
};
use crate::ctx::Ctx;
use crate::naming::{SnapshotKind, SnapshotName};
use crate::neon::{Branch, EndpointType, NeonError, RestoreSnapshot};
use crate::outcome::{Outcome, Plan, Setup};

pub async fn setup(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let progress = Progress::new(ctx, "setup", prod_label(ctx), true);
    let (prod, dev) = tokio::join!(find_prod(ctx), find_dev(ctx));
    let (prod, dev) = progress
        .check("Preflight", prod.and_then(|p| Ok((p, dev?))))
        .await?;
    let dev_name = &ctx.config.dev_branch;
    let dev = match dev {
        Some(dev) if dev.id == prod.id => {
            let same = anyhow::anyhow!("prod_branch and dev_branch are both `{}`", prod.name);
            return Err(progress.fail("Preflight", same).await);
        }
        Some(dev) => {
            let step = format!("Find the computes of {dev_name}");
            let endpoints = ctx.step(step, ctx.neon.list_endpoints(&dev.id)).await;
            let endpoints = progress.check("Preflight", endpoints).await?;
            if endpoints.iter().any(|e| e.kind == EndpointType::ReadWrite) {
                ctx.runner.notice(&format!(
                    "the dev root `{}` ({}) already exists: nothing was changed",
                    dev.name, dev.id
                ));
                return Ok(Outcome::Setup(Setup {
                    prod: branch_ref(&prod),
                    dev: branch_ref(&dev),
                    created: false,
                    prod_protected: prod.protected,
                    protect_skipped: None,
                }));
            }
            Some(dev)
        }
        None => None,
    };

    let name =
        SnapshotName::new(SnapshotKind::DevRefresh, Timestamp::now(), None, None).to_string();
    let ttl = &ctx.config.candidate_snapshot_ttl;
    if ctx.dry_run() {
        let dev_id = dev.as_ref().map_or("{dev}", |d| d.id.as_str()).to_string();
        let mut calls = Vec::new();
        if dev.is_none() {
            calls.extend([
                Call::Snapshot {
                    branch_id: prod.id.clone(),
                    name,
                    expires_at: expires_at(ttl),
                },
                Call::Restore {
                    snapshot: "{snapshot}".into(),
                    target_branch_id: None,
                    name: Some(dev_name.clone()),
                    finalize: false,
                },
            ]);
        }
        calls.push(Call::CreateEndpoint { branch_id: dev_id });
        if dev.is_none() {
            calls.push(Call::DeleteSnapshot {
                snapshot: "{snapshot}".into(),
            });
        }
        if !prod.protected {
            calls.push(Call::Protect {
                branch_id: prod.id.clone(),
                protected: true,
            });
        }
        return Ok(Outcome::DryRun(Plan {
            command: "setup",
            calls: plan_lines(ctx, &calls),
        }));
    }

    let dev = match dev {
        Some(dev) => dev,
        None => {
            let step = "Snapshot of production";
            let baseline = progress
                .check(step, take_snapshot(ctx, step, &prod, &name, ttl).await)
                .await?;
            let created = create_dev(ctx, &baseline.id).await;
            let dev = progress.check("Creation of the dev root", created).await?;
            let deleted = delete_snapshot(ctx, "Delete the production snapshot", &baseline).await;
            if let Err(e) = deleted {
                // dev is made; the snapshot expires by itself.
                ctx.warn(format!(
                    "could not delete the snapshot {}: {e:#}",
                    baseline.id
                ));
            }
            dev
        }
    };
    let compute = ctx
        .step(format!("Start a read-write compute on {dev_name}"), async {
            let made = ctx
                .neon
                .create_endpoint(&dev.id, EndpointType::ReadWrite)
                .await?;
            ctx.neon.wait(&made.operations).await
        })
        .await;
    progress.check("Creation of dev's compute", compute).await?;

    let (prod_protected, protect_skipped) = if prod.protected {
        (true, None)
    } else {
        match set_protected(ctx, &format!("Protect {}", prod.name), &prod.id, true).await {
            Ok(()) => (true, None),
            Err(e)
                if matches!(
                    e.downcast_ref::<NeonError>(),
                    Some(NeonError::Client { .. })
                ) =>
            {
                let why = format!("{e:#}");
                ctx.warn(format!(
                    "production `{}` was not protected (the plan may not allow protected branches): {why}",
                    prod.name
                ));
                (false, Some(why))
            }
            Err(e) => return Err(progress.fail("Protection of production", e).await),
        }
    };
    Ok(Outcome::Setup(Setup {
        prod: branch_ref(&prod),
        dev: branch_ref(&dev),
        created: true,
        prod_protected,
        protect_skipped,
    }))
}

/// The dev root: a new root branch restored from the snapshot under dev's name, not finalized
/// (there is no branch to replace).
async fn create_dev(ctx: &Ctx, snapshot_id: &str) -> anyhow::Result<Branch> {
    let req = RestoreSnapshot {
        name: Some(ctx.config.dev_branch.clone()),
        target_branch_id: None,
        finalize_restore: false,
    };
    let label = format!("Create {} from the snapshot", ctx.config.dev_branch);
    ctx.step(label, async {
        let restored = ctx.neon.restore_snapshot(snapshot_id, &req).await?;
        ctx.neon.wait(&restored.operations).await?;
        Ok::<_, NeonError>(restored.value)
    })
    .await
}
