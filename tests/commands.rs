//! Commands in process, through the seam the design has: a `Ctx` over the emulator and
//! `Runner::for_test`, each command called as the plain async function it is, asserting the
//! exact `Outcome` it returns (ids read back from the emulator's state), then what its
//! clean-up did. The end-to-end tests run the same commands through the binary.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use neon_emulator::{Emulator, Options, Seed};
use neon_promote::commands::{self, Done};
use neon_promote::config::{Config, Mode, RawInputs};
use neon_promote::ctx::Ctx;
use neon_promote::event::{PushInfo, Route};
use neon_promote::neon::{Clock, NeonClient, NeonSettings};
use neon_promote::outcome::{
    BranchRef, Checkpoint, Connect, OldBranch, Outcome, Promotion, Rollback, Setup, SnapshotRef,
    Tidied,
};
use neon_promote::runner::Runner;
use neon_promote::secret::Secret;
use tokio_util::sync::CancellationToken;

const SHA: &str = "ab12cd34ef567890ab12cd34ef567890ab12cd34";

async fn emulator(seed: Seed) -> Emulator {
    Emulator::start(Options {
        seed,
        op_duration: Duration::from_millis(20),
        ..Options::default()
    })
    .await
}

/// A context as `main` builds one, outside GitHub (no comment), with `inputs` on top.
fn ctx(emu: &Emulator, inputs: &[(&str, &str)]) -> Ctx {
    let mut raw = RawInputs {
        api_key: Some(Secret::new("napi_in_process")),
        project_id: Some(emu.project_id()),
        api_host: Some(emu.neon_api()),
        ..RawInputs::default()
    };
    for (name, value) in inputs {
        let value = Some(value.to_string());
        match *name {
            "snapshot_id" => raw.snapshot_id = value,
            "checkpoint_name" => raw.checkpoint_name = value,
            "branch" => raw.branch = value,
            "dry_run" => raw.dry_run = value,
            "keep_old_branch" => raw.keep_old_branch = value,
            other => panic!("no such input in this test: {other}"),
        }
    }
    let config = Config::from_raw(raw, Mode::Cli).expect("valid inputs");
    let neon = NeonClient::new(
        neon_promote::http::client().expect("http client"),
        NeonSettings {
            api_host: config.api_host.clone(),
            api_key: config.api_key.expose().to_string(),
            project_id: config.project_id.clone(),
            timeout: config.timeout,
            clock: Clock::system(),
            on_progress: None,
        },
    );
    let runner = Runner::for_test(Arc::new(Mutex::new(Vec::new())), None, None);
    Ctx::new(config, None, neon, None, runner, CancellationToken::new())
}

fn branch(emu: &Emulator, name: &str) -> BranchRef {
    emu.with_state(|s| {
        let b = s.branch_by_name(name).expect("branch");
        BranchRef {
            id: b.id.clone(),
            name: b.name.clone(),
        }
    })
}

/// The one snapshot whose name contains `part`.
fn snapshot(emu: &Emulator, part: &str) -> SnapshotRef {
    emu.with_state(|s| {
        let found: Vec<_> = s
            .snapshots
            .iter()
            .filter(|x| x.name.contains(part))
            .collect();
        assert_eq!(found.len(), 1, "snapshots named like {part}: {found:?}");
        SnapshotRef {
            id: found[0].id.clone(),
            name: found[0].name.clone(),
        }
    })
}

async fn run(ctx: &Ctx, route: Route) -> (Outcome, Tidied) {
    let Done { outcome, tidy } = commands::dispatch(ctx, &route)
        .await
        .unwrap_or_else(|f| panic!("{route:?} failed: {}", f.message));
    let tidied = commands::tidy(ctx, &tidy).await.expect("not cancelled");
    (outcome, tidied)
}

fn promote_route() -> Route {
    Route::Promote(Some(PushInfo {
        sha: SHA.into(),
        branch: "main".into(),
        pushed_at: None,
    }))
}

#[tokio::test]
async fn setup_makes_dev_keeps_its_baseline_and_protects_prod() {
    let emu = emulator(Seed::Empty).await;
    let ctx = ctx(&emu, &[]);
    let (outcome, tidied) = run(&ctx, Route::Setup).await;
    assert_eq!(
        outcome,
        Outcome::Setup(Setup {
            prod: branch(&emu, "production"),
            dev: branch(&emu, "dev"),
            created: true,
            prod_protected: true,
            protect_skipped: None,
        })
    );
    // Set-up's snapshot of production became dev's baseline.
    assert_eq!(tidied.baseline, Some(snapshot(&emu, "_baseline")));
    assert!(tidied.failed.is_empty(), "{tidied:?}");
}

#[tokio::test]
async fn a_promotion_returns_what_it_did_and_its_clean_up_retires_the_old_prod() {
    let emu = emulator(Seed::Demo).await;
    emu.with_state(|s| s.set_data("dev", "dev-v2"));
    let old_prod = branch(&emu, "production");
    let ctx = ctx(&emu, &[]);
    let (outcome, tidied) = run(&ctx, promote_route()).await;
    let Outcome::Promote(promotion) = outcome else {
        panic!("not a promotion: {outcome:?}");
    };
    let rollback = snapshot(&emu, "pre-promotion");
    let baseline = snapshot(&emu, "_baseline_");
    assert_eq!(
        Promotion {
            schema: None,
            prod_changed: None,
            ..promotion.clone()
        },
        Promotion {
            pr: None,
            sha: SHA.into(),
            prod: branch(&emu, "production"),
            previous_prod_id: old_prod.id.clone(),
            rollback_snapshot: Some(rollback),
            // Renamed to dev's baseline by the clean-up; the id stays.
            candidate_snapshot: SnapshotRef {
                id: baseline.id.clone(),
                name: promotion.candidate_snapshot.name.clone(),
            },
            already_promoted: false,
            schema: None,
            prod_changed: None,
        }
    );
    assert!(promotion.candidate_snapshot.name.contains("_candidate_"));
    assert!(promotion.schema.is_some_and(|d| d.destructive().is_empty()));
    assert_eq!(
        tidied.old_branch,
        Some(OldBranch::Deleted { id: old_prod.id })
    );
    assert_eq!(tidied.baseline.map(|b| b.id), Some(baseline.id));
    assert!(tidied.failed.is_empty(), "{:?}", tidied.failed);
    assert_eq!(
        emu.with_state(|s| s.data_of("production")).as_deref(),
        Some("dev-v2")
    );

    // The same commit again: nothing is promoted a second time.
    let (again, _) = run(&ctx, promote_route()).await;
    assert!(
        matches!(&again, Outcome::Promote(p) if p.already_promoted),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_checkpoint_is_a_rollback_point_that_rollback_takes_by_name() {
    let emu = emulator(Seed::Demo).await;
    emu.with_state(|s| s.set_data("production", "before-the-risky-step"));
    let ctx_checkpoint = ctx(&emu, &[("checkpoint_name", "before-migration-{date}")]);
    let (outcome, _) = run(&ctx_checkpoint, Route::Checkpoint { sha: None }).await;
    let point = snapshot(&emu, "before-migration-");
    let Outcome::Checkpoint(checkpoint) = outcome else {
        panic!("not a checkpoint: {outcome:?}");
    };
    assert_eq!(
        checkpoint,
        Checkpoint {
            snapshot: point.clone(),
            prod: branch(&emu, "production"),
            expires_at: checkpoint.expires_at.clone(),
        }
    );
    assert!(checkpoint.expires_at.is_some());

    emu.with_state(|s| s.set_data("production", "after-a-bad-step"));
    let before = branch(&emu, "production");
    let rollback_ctx = ctx(&emu, &[("snapshot_id", &point.name)]);
    let (outcome, tidied) = run(
        &rollback_ctx,
        Route::Rollback {
            snapshot_id: point.name.clone(),
        },
    )
    .await;
    assert_eq!(
        outcome,
        Outcome::Rollback(Rollback {
            pr: None,
            restored_snapshot: point,
            rollback_snapshot: Some(snapshot(&emu, "pre-rollback")),
            prod: branch(&emu, "production"),
            previous_prod_id: before.id.clone(),
        })
    );
    assert_eq!(
        tidied.old_branch,
        Some(OldBranch::Deleted { id: before.id })
    );
    assert_eq!(
        emu.with_state(|s| s.data_of("production")).as_deref(),
        Some("before-the-risky-step")
    );
}

#[tokio::test]
async fn connect_returns_the_named_branch_and_its_connection() {
    let emu = emulator(Seed::Demo).await;
    let (outcome, _) = run(&ctx(&emu, &[]), Route::Connect).await;
    let Outcome::Connect(Connect {
        branch: got,
        connection,
    }) = outcome
    else {
        panic!("not connect: {outcome:?}");
    };
    assert_eq!(got, branch(&emu, "dev"));
    assert!(connection.url.starts_with("postgresql://neondb_owner:"));
    assert!(connection.url.contains(&connection.host));
    assert!(connection.pooled_url.contains(&connection.pooler_host));
    assert!(!format!("{connection:?}").contains(&connection.password));

    let (outcome, _) = run(&ctx(&emu, &[("branch", "production")]), Route::Connect).await;
    assert!(
        matches!(&outcome, Outcome::Connect(c) if c.branch == branch(&emu, "production")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_dry_run_returns_the_plan_and_changes_nothing() {
    let emu = emulator(Seed::Demo).await;
    emu.with_state(|s| s.set_data("dev", "dev-v2"));
    let prod = branch(&emu, "production");
    let dev = branch(&emu, "dev");
    let ctx = ctx(&emu, &[("dry_run", "true")]);
    let (outcome, _) = run(&ctx, promote_route()).await;
    // The command ran every read with placeholders for what it would have made…
    assert!(
        matches!(&outcome, Outcome::Promote(p) if p.prod == prod && p.previous_prod_id == prod.id),
        "{outcome:?}"
    );
    // …and recorded every call it would have made.
    let calls = ctx.planned();
    // The names carry the run's time; everything else is fixed.
    let first = calls.first().expect("a plan");
    let at = &first[first.find("prod_snap_").expect("named") + 10..][..19];
    let expiry = first.rsplit("expires_at=").next().expect("an expiry");
    let (p, prod_id, dev_id) = (emu.project_id(), &prod.id, &dev.id);
    let candidate = format!("dev_snap_{at}_candidate_ab12cd3");
    assert_eq!(
        calls,
        [
            format!(
                "POST /projects/{p}/branches/{prod_id}/snapshot name=prod_snap_{at}_pre-promotion_ab12cd3 expires_at={expiry}"
            ),
            format!(
                "POST /projects/{p}/branches/{dev_id}/snapshot name={candidate} expires_at={expiry}"
            ),
            format!(
                "POST /projects/{p}/snapshots/{{{candidate}}}/restore target_branch_id={prod_id} finalize_restore=true"
            ),
            format!("DELETE /projects/{p}/branches/{prod_id}"),
            format!(
                "PATCH /projects/{p}/snapshots/{{{candidate}}} name=dev_snap_{at}_baseline_ab12cd3"
            ),
        ]
    );
    assert_eq!(branch(&emu, "production"), prod);
    assert!(
        emu.requests().iter().all(|r| !r.is_mutation()),
        "a dry run sent a mutation"
    );
}
