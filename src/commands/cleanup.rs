//! `cleanup`: delete the pull request's preview branch when the PR closes, and wait until it is
//! gone. A branch that is already gone (expired, deleted by hand) is success; a branch with
//! children is kept. Only a branch of exactly the derived name that is neither a root nor the
//! configured prod or dev branch is ever deleted.

use anyhow::anyhow;

use crate::ctx::Ctx;
use crate::event::PullRequestInfo;
use crate::naming;
use crate::neon::{Branch, NeonError};
use crate::outcome::{Cleanup, CleanupResult, Outcome, Plan};

use super::{PROD_UNTOUCHED, failure, pull_ref};

pub async fn cleanup(ctx: &Ctx, pr: &PullRequestInfo) -> anyhow::Result<Outcome> {
    let name = naming::preview_branch_name(
        &ctx.config.preview_branch_name,
        pr.number,
        &pr.head_ref,
        &pr.head_sha,
    );
    let fail = |what: &str, e: anyhow::Error| {
        failure(
            format!("could not {what} preview branch `{name}`"),
            &e,
            PROD_UNTOUCHED,
            "re-run the job, or delete the branch in the Neon Console",
        )
    };
    let outcome = |branch_id: Option<String>, result| {
        Ok(Outcome::Cleanup(Cleanup {
            pr: Some(pull_ref(pr)),
            branch_name: name.clone(),
            branch_id,
            result,
        }))
    };

    let found = ctx
        .step("Find preview branch", ctx.neon.find_branch(&name))
        .await
        .map_err(|e| fail("look up", e))?;
    // `find_branch` also matches ids: only a branch of exactly this name is ours.
    let Some(branch) = found.filter(|b| b.name == name) else {
        return outcome(None, CleanupResult::AlreadyGone);
    };
    refuse_if_not_a_preview(ctx, &branch)?;
    let children = ctx
        .step("Check for child branches", ctx.neon.children(&branch.id))
        .await
        .map_err(|e| fail("check the children of", e))?;
    if !children.is_empty() {
        let names: Vec<String> = children.into_iter().map(|c| c.name).collect();
        ctx.warn(format!(
            "preview branch `{name}` was not deleted: branches were made from it ({}); delete \
             them first, then re-run the job",
            names.join(", ")
        ));
        return outcome(Some(branch.id), CleanupResult::KeptWithChildren(names));
    }
    if ctx.dry_run() {
        return Ok(Outcome::DryRun(Plan {
            command: "cleanup",
            calls: vec![format!("DELETE branch `{name}` ({})", branch.id)],
        }));
    }
    let deleted = ctx
        .step("Delete preview branch", async {
            match ctx.neon.delete_branch(&branch.id).await {
                Ok(ops) => ctx.neon.wait(&ops).await.map(|()| true),
                Err(NeonError::NotFound(_)) => Ok(false),
                Err(e) => Err(e),
            }
        })
        .await
        .map_err(|e| fail("delete", e))?;
    let result = if deleted {
        CleanupResult::Deleted
    } else {
        CleanupResult::AlreadyGone
    };
    outcome(Some(branch.id), result)
}

/// A name collision (a template that yields `main`, say) must never delete prod or dev.
fn refuse_if_not_a_preview(ctx: &Ctx, branch: &Branch) -> anyhow::Result<()> {
    let configured = [
        ctx.config.prod_branch.as_deref(),
        Some(&ctx.config.dev_branch),
    ];
    let is_configured = configured
        .into_iter()
        .flatten()
        .any(|b| b == branch.name || b == branch.id);
    if branch.default || branch.is_root() || is_configured {
        return Err(anyhow!(
            "refusing to delete branch `{}` ({}): it is a root, default, prod or dev branch, not \
             a preview branch; nothing was deleted and {PROD_UNTOUCHED}; set \
             `preview_branch_name` to a template that cannot produce this name",
            branch.name,
            branch.id
        ));
    }
    Ok(())
}
