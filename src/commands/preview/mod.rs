//! `preview`: get or create the pull request's preview branch (a child of the dev root with a
//! read-write compute and an expiry), wait until it is usable, and return its connection
//! strings. create-branch-action's options shape the creation (`branch_type: schema-only`, a
//! root with dev's schema and no rows; `masking_rules`, an anonymized branch; `suspend_timeout`)
//! or add reads after it (`extras`).
//!
//! Requests (SPEC §5): reuse, the path every push takes, is 2 round trips and 3 requests: find
//! the preview by name; then refresh its expiry while reading its connection string. Create is
//! 2 round trips and 3 requests besides polls: find the preview and dev at once (on `opened`
//! and `reopened`, where a new branch is likely; otherwise dev is looked up only when the
//! preview is missing); then create it with its compute, whose answer carries the connection
//! details. A 409 on create means another job just made it: reuse it. The pooled host is
//! derived by Neon's `-pooler` convention rather than fetched.

mod extras;

use anyhow::anyhow;

use super::connection::{self, missing_db_or_role};
use super::roots::require_dev;
use super::{
    Done, PROD_UNTOUCHED, expires_at, failure, may_be_preview, preview_name_input, pull_ref,
};
use crate::config::BranchType;
use crate::ctx::{Cancelled, Ctx};
use crate::event::PullRequestInfo;
use crate::neon::{
    Branch, CreateBranch, CreatedBranch, EndpointType, NeonError, SCHEMA_ONLY, UpdateBranch,
};
use crate::outcome::{BranchRef, ConnectionInfo, Failure, Masking, Outcome, Preview};
use crate::plan::{Call, Sent};
use extras::Unmasked;

const RERUN: &str = "re-run the job";

pub async fn preview(ctx: &Ctx, pr: Option<&PullRequestInfo>) -> Result<Done, Failure> {
    let name = super::preview_name(ctx, pr);
    let wanted = expires_at(&ctx.config.preview_ttl, ctx.now());
    let (existing, dev) = if expect_new(ctx) {
        let (existing, dev) = tokio::join!(find_preview(ctx, &name), lookup_dev(ctx));
        (existing?, Some(dev?))
    } else {
        (find_preview(ctx, &name).await?, None)
    };
    let ready = match existing {
        Some(branch) => reuse(ctx, branch, wanted).await?,
        None => {
            let dev = match dev {
                Some(dev) => dev,
                None => lookup_dev(ctx).await?,
            };
            create(ctx, &name, &dev, wanted).await?
        }
    };
    let links = if ctx.dry_run() {
        extras::Links::default()
    } else {
        extras::links(ctx, &ready.branch)
            .await
            .map_err(|e| read_failed(&ready.branch, &e))?
    };
    Ok(Done {
        outcome: Outcome::Preview(Preview {
            pr: pr.map(pull_ref),
            schema_only: ready.branch.is_schema_only(),
            branch: BranchRef {
                id: ready.branch.id,
                name: ready.branch.name,
            },
            created: ready.created,
            expires_at: ready.expires_at,
            connection: ready.conn,
            masking: ready.masking,
            auth_url: links.auth_url,
            data_api_url: links.data_api_url,
        }),
        tidy: Vec::new(),
    })
}

/// A usable preview branch and how to connect to it (`None` in a dry run).
struct Ready {
    branch: Branch,
    created: bool,
    expires_at: Option<String>,
    conn: Option<ConnectionInfo>,
    masking: Option<Masking>,
}

/// `opened` and `reopened` almost always need a new branch, so dev is looked up alongside.
fn expect_new(ctx: &Ctx) -> bool {
    ctx.github_run.as_ref().is_some_and(|gh| {
        gh.event_name.starts_with("pull_request")
            && matches!(gh.payload["action"].as_str(), Some("opened" | "reopened"))
    })
}

async fn find_preview(ctx: &Ctx, name: &str) -> Result<Option<Branch>, Failure> {
    let found = ctx
        .step("Find preview branch", ctx.neon.find_branch(name))
        .await
        .map_err(|e| {
            failure(
                format!("could not look up preview branch `{name}`"),
                &e,
                PROD_UNTOUCHED,
                RERUN,
            )
        })?;
    // `find_branch` also matches ids: only a branch of exactly this name is ours.
    Ok(found.filter(|b| b.name == name))
}

async fn lookup_dev(ctx: &Ctx) -> Result<Branch, Failure> {
    require_dev(ctx).await.map_err(|e| {
        if e.is::<Cancelled>() || crate::ctx::neon_error(&e).is_some() {
            failure("could not look up the dev root", &e, PROD_UNTOUCHED, RERUN)
        } else {
            // The dev root is missing: the message says how to create or name it.
            Failure::from_message(format!("{e:#}; {PROD_UNTOUCHED}"))
        }
    })
}

async fn create(
    ctx: &Ctx,
    name: &str,
    dev: &Branch,
    expires_at: Option<String>,
) -> Result<Ready, Failure> {
    let config = &ctx.config;
    let req = CreateBranch {
        name: name.to_string(),
        parent_id: dev.id.clone(),
        expires_at,
        read_write_endpoint: true,
        schema_only: config.branch_type == BranchType::SchemaOnly,
        suspend_timeout_seconds: config.suspend_timeout,
        masking_rules: config.masking_rules.clone(),
    };
    let fail = |e: &anyhow::Error| {
        failure(
            format!("could not create preview branch `{name}`"),
            e,
            PROD_UNTOUCHED,
            "re-run the job once the cause is fixed",
        )
    };
    let label = match req.masking_rules {
        Some(_) => "Create anonymized preview branch",
        None => "Create preview branch",
    };
    let created = ctx
        .apply_started(label, Call::CreateBranch(req.clone()))
        .await;
    let created = match created {
        Ok(Some(sent)) => match sent.value {
            Sent::Created(created) => CreatedBranch {
                operations: sent.operations,
                ..*created
            },
            other => return Err(fail(&anyhow!("unexpected answer {other:?}"))),
        },
        Ok(None) => {
            return Ok(Ready {
                branch: placeholder(&req, dev),
                created: true,
                expires_at: req.expires_at,
                conn: None,
                masking: masking(ctx, Masking::Applied),
            });
        }
        Err(e) if matches!(crate::ctx::neon_error(&e), Some(NeonError::Conflict(_))) => {
            // 409: the name is taken (an earlier run, or one running right now): reuse it.
            let branch = find_preview(ctx, name).await?.ok_or_else(|| {
                Failure::from_message(format!(
                    "Neon says preview branch `{name}` exists, but no branch has that name; {PROD_UNTOUCHED}; {RERUN}"
                ))
            })?;
            return reuse(ctx, branch, req.expires_at).await;
        }
        Err(e) => return Err(fail(&e)),
    };
    finish_create(ctx, created).await
}

/// Waits for the new branch and its compute while, if the create answer lacked them, the
/// connection details are read alongside; an anonymized branch is then waited for until its
/// data is masked.
async fn finish_create(ctx: &Ctx, created: CreatedBranch) -> Result<Ready, Failure> {
    let CreatedBranch {
        branch,
        operations,
        connection_uris,
        ..
    } = created;
    let known = connection::from_details(ctx, &connection_uris);
    let wait = ctx.step(
        "Wait for the branch and its compute",
        ctx.neon.wait(&operations),
    );
    let conn = async {
        match known {
            Some(conn) => Ok(Some(conn)),
            None => connection::read(ctx, &branch).await,
        }
    };
    let (waited, conn) = tokio::join!(wait, conn);
    if let Err(e) = waited {
        return Err(creation_failed(ctx, &branch, e).await);
    }
    let masking = masking(ctx, Masking::Applied);
    if masking.is_some()
        && let Err(e) = extras::wait_anonymized(ctx, &branch).await
    {
        return Err(creation_failed(ctx, &branch, e).await);
    }
    let conn = conn.map_err(|e| read_failed(&branch, &e))?.ok_or_else(|| {
        Failure::from_message(format!(
            "{:#}; {PROD_UNTOUCHED}",
            missing_db_or_role(ctx, &branch)
        ))
    })?;
    Ok(Ready {
        expires_at: branch.expires_at.clone(),
        branch,
        created: true,
        conn: Some(conn),
        masking,
    })
}

/// What `masking_rules` did, when they were given.
fn masking(ctx: &Ctx, what: Masking) -> Option<Masking> {
    ctx.config.masking_rules.as_ref().map(|_| what)
}

/// The error for a branch whose creation did not finish. A branch whose operation failed, or
/// whose data could not be masked, is deleted, so that a re-run starts clean instead of
/// reusing a broken (or unmasked) branch.
async fn creation_failed(ctx: &Ctx, branch: &Branch, cause: anyhow::Error) -> Failure {
    let what = format!("preview branch `{}` could not be created", branch.name);
    let failed_op = matches!(
        crate::ctx::neon_error(&cause),
        Some(NeonError::OperationFailed { .. })
    ) || cause.is::<Unmasked>();
    if !failed_op {
        let next = "the branch may still be starting: re-run the job to reuse it";
        return failure(what, &cause, PROD_UNTOUCHED, next);
    }
    let call = Call::DeleteBranch {
        branch_id: branch.id.clone(),
    };
    let next = match ctx.apply("Delete the half-created branch", call).await {
        Ok(_) => "the half-created branch was deleted; re-run the job".to_string(),
        Err(e) => format!(
            "the half-created branch ({}) could not be deleted ({e:#}): delete it in the Neon Console, then re-run the job",
            branch.id
        ),
    };
    failure(what, &cause, PROD_UNTOUCHED, &next)
}

/// Reuses an existing preview branch: one another job is still creating is waited for, an
/// anonymized one until its data is masked; its expiry is refreshed while the connection
/// string is read; a branch whose read-write compute is gone gets a new one.
async fn reuse(ctx: &Ctx, branch: Branch, wanted: Option<String>) -> Result<Ready, Failure> {
    if !may_be_preview(ctx, &branch) {
        return Err(Failure::from_message(format!(
            "branch `{}` already exists and is the default, prod or dev branch or a root, not a preview branch, so it is left alone; {PROD_UNTOUCHED}; set {} to a name that is not taken",
            branch.name,
            ctx.config.input(preview_name_input(ctx))
        )));
    }
    if branch.current_state != "ready" && !ctx.dry_run() {
        let running = async {
            let mut ops = ctx.neon.running_operations().await?;
            ops.retain(|op| op.branch_id.as_deref() == Some(branch.id.as_str()));
            ctx.neon.wait(&ops).await
        };
        ctx.step("Wait for the branch another job is creating", running)
            .await
            .map_err(|e| read_failed(&branch, &e))?;
    }
    let masking = masking(ctx, Masking::Kept);
    if masking.is_some() && !ctx.dry_run() {
        extras::wait_anonymized(ctx, &branch).await.map_err(|e| {
            let next = if e.is::<Unmasked>() {
                format!(
                    "nothing was changed; delete the branch (or set {} to a new name) and re-run the job to create it anonymized",
                    ctx.config.input(preview_name_input(ctx))
                )
            } else {
                RERUN.to_string()
            };
            failure(
                format!("preview branch `{}` cannot be reused", branch.name),
                &e,
                PROD_UNTOUCHED,
                &next,
            )
        })?;
        // create-branch-action refuses to reuse a branch when given masking rules.
        ctx.runner.notice(&format!(
            "preview branch `{}` is reused as it was anonymized when it was created: masking_rules are applied only when a branch is created, so this run did not apply them again",
            branch.name
        ));
    }
    let update = expiry_update(&branch, wanted);
    let refresh = async {
        match update {
            Some(update) => {
                let call = Call::UpdateBranch {
                    branch_id: branch.id.clone(),
                    update,
                };
                ctx.apply("Refresh preview branch expiry", call)
                    .await
                    .map(|sent| sent.and_then(Sent::branch))
            }
            None => Ok(None),
        }
    };
    let read = async {
        if ctx.dry_run() {
            return Ok(None);
        }
        connection::read(ctx, &branch).await
    };
    let (refreshed, conn) = tokio::join!(refresh, read);
    let expires_at = match refreshed {
        Ok(Some(updated)) => updated.expires_at,
        Ok(None) => branch.expires_at.clone(),
        Err(e) if e.is::<Cancelled>() => return Err(read_failed(&branch, &e)),
        // The branch still works: a stale expiry is worth a warning, not a failed run.
        Err(e) => {
            ctx.warn(format!(
                "the expiry of preview branch `{}` was not refreshed ({e:#}); it still expires at {}",
                branch.name,
                branch.expires_at.as_deref().unwrap_or("no set time")
            ));
            branch.expires_at.clone()
        }
    };
    let conn = match conn.map_err(|e| read_failed(&branch, &e))? {
        Some(conn) => Some(conn),
        None if ctx.dry_run() => None,
        None => Some(add_compute(ctx, &branch).await?),
    };
    Ok(Ready {
        branch,
        created: false,
        expires_at,
        conn,
        masking,
    })
}

/// The PATCH that gives a reused branch the wanted expiry, if it needs one. Neon refuses
/// `expires_at` on protected branches, so a protected preview keeps none.
fn expiry_update(branch: &Branch, wanted: Option<String>) -> Option<UpdateBranch> {
    if branch.protected || (wanted.is_none() && branch.expires_at.is_none()) {
        return None;
    }
    Some(UpdateBranch {
        expires_at: Some(wanted),
        ..UpdateBranch::default()
    })
}

/// A reused branch whose read-write compute was deleted gets a new one. If it has one, the
/// connection string was missing because the database or role does not exist.
async fn add_compute(ctx: &Ctx, branch: &Branch) -> Result<ConnectionInfo, Failure> {
    let what = format!(
        "could not give preview branch `{}` a read-write compute",
        branch.name
    );
    let fail = |e: anyhow::Error| failure(&what, &e, PROD_UNTOUCHED, RERUN);
    let endpoints = ctx
        .step("List computes", ctx.neon.list_endpoints(&branch.id))
        .await
        .map_err(fail)?;
    let missing = || {
        Failure::from_message(format!(
            "{:#}; {PROD_UNTOUCHED}",
            missing_db_or_role(ctx, branch)
        ))
    };
    if endpoints.iter().any(|e| e.kind == EndpointType::ReadWrite) {
        return Err(missing());
    }
    let call = Call::CreateEndpoint {
        branch_id: branch.id.clone(),
        kind: EndpointType::ReadWrite,
    };
    ctx.apply("Create read-write compute", call)
        .await
        .map_err(fail)?;
    connection::read(ctx, branch)
        .await
        .map_err(|e| read_failed(branch, &e))?
        .ok_or_else(missing)
}

fn read_failed(branch: &Branch, e: &anyhow::Error) -> Failure {
    failure(
        format!(
            "could not read the connection string of preview branch `{}`",
            branch.name
        ),
        e,
        PROD_UNTOUCHED,
        RERUN,
    )
}

/// The branch a dry run would create.
fn placeholder(req: &CreateBranch, dev: &Branch) -> Branch {
    Branch {
        id: "{preview branch}".into(),
        name: req.name.clone(),
        parent_id: (!req.schema_only).then(|| dev.id.clone()),
        init_source: req.schema_only.then(|| SCHEMA_ONLY.to_string()),
        ..dev.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn branch(protected: bool, expires_at: Option<&str>) -> Branch {
        serde_json::from_value(serde_json::json!({
            "id": "br-1", "name": "preview/pr-1", "parent_id": "br-dev",
            "protected": protected, "expires_at": expires_at,
        }))
        .unwrap()
    }

    #[test]
    fn expiry_is_refreshed_cleared_or_left_alone() {
        let t = Some("2026-11-30T10:00:00Z".to_string());
        let set = expiry_update(&branch(false, None), t.clone()).unwrap();
        assert_eq!(set.expires_at, Some(t.clone()));
        let cleared = expiry_update(&branch(false, Some("2026-11-24T00:00:00Z")), None).unwrap();
        assert_eq!(cleared.expires_at, Some(None));
        assert!(expiry_update(&branch(false, None), None).is_none());
        // Neon refuses expires_at on protected branches.
        assert!(expiry_update(&branch(true, None), t).is_none());
    }
}
