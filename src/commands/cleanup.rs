//! `cleanup`: delete the pull request's preview branch when the PR closes, and wait until it is
//! gone. A branch that is already gone (expired, deleted by hand) is success; a branch with
//! children is kept. Only an unprotected branch of exactly the derived name that is neither the
//! default nor the configured prod or dev branch, and not a root unless Neon made it
//! schema-only (as it makes `branch_type: schema-only` previews), is ever deleted.

use super::{Done, PROD_UNTOUCHED, failure, may_be_preview, preview_name_input, pull_ref};
use crate::ctx::Ctx;
use crate::event::PullRequestInfo;
use crate::neon::Branch;
use crate::outcome::{Cleanup, CleanupResult, Failure, Outcome};
use crate::plan::Call;

pub async fn cleanup(ctx: &Ctx, pr: Option<&PullRequestInfo>) -> Result<Done, Failure> {
    let name = super::preview_name(ctx, pr);
    let fail = |what: &str, e: anyhow::Error| {
        failure(
            format!("could not {what} preview branch `{name}`"),
            &e,
            PROD_UNTOUCHED,
            "re-run the job, or delete the branch in the Neon Console",
        )
    };
    let outcome = |branch_id: Option<String>, result| {
        Ok(Done {
            outcome: Outcome::Cleanup(Cleanup {
                pr: pr.map(pull_ref),
                branch_name: name.clone(),
                branch_id,
                result,
            }),
            tidy: Vec::new(),
        })
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
    let call = Call::DeleteBranch {
        branch_id: branch.id.clone(),
    };
    ctx.apply("Delete preview branch", call)
        .await
        .map_err(|e| fail("delete", e))?;
    outcome(Some(branch.id), CleanupResult::Deleted)
}

/// A name collision (a template that yields `main`, say) must never delete prod or dev.
fn refuse_if_not_a_preview(ctx: &Ctx, branch: &Branch) -> Result<(), Failure> {
    if branch.protected || !may_be_preview(ctx, branch) {
        return Err(Failure::from_message(format!(
            "refusing to delete branch `{}` ({}): it is a root, default, protected, prod or dev branch, not \
             a preview branch; nothing was deleted and {PROD_UNTOUCHED}; set {} so that it \
             cannot produce this name",
            branch.name,
            branch.id,
            ctx.config.input(preview_name_input(ctx))
        )));
    }
    Ok(())
}
