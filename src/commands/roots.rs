//! Finding the two root branches everything revolves around: production and the dev root.
//! A branch input is a name or an id. An id goes stale after a finalized restore (the id stays
//! with the replaced branch, now `<name> (old)`), so a branch given by id that a restore
//! replaced is refused rather than promoted onto, snapshotted or branched from.

use anyhow::{anyhow, bail};

use super::Unknown;
use crate::config::Mode;
use crate::ctx::Ctx;
use crate::ctx::neon_error;
use crate::neon::{Branch, NeonError};

/// How production is named in messages before it is found.
pub fn prod_label(ctx: &Ctx) -> &str {
    ctx.config.prod_branch.as_deref().unwrap_or("production")
}

/// Production: the `prod_branch` input (name or id), else the project's default branch.
pub async fn find_prod(ctx: &Ctx) -> anyhow::Result<Branch> {
    let prod = match &ctx.config.prod_branch {
        None => default_branch(ctx).await?,
        Some(name) => resolve(ctx, "Find production", name, Fresh::Read)
            .await?
            .ok_or_else(|| Unknown {
                input: "prod_branch",
                kind: "branch",
                message: format!(
                    "production branch `{name}` ({}) does not exist",
                    ctx.config.input("prod_branch")
                ),
            })?,
    };
    ensure_root(&prod, "production", &ctx.config.input("prod_branch"))?;
    Ok(prod)
}

/// The dev root (`dev_branch`) as it is now, or `None` when it does not exist yet.
pub async fn find_dev(ctx: &Ctx) -> anyhow::Result<Option<Branch>> {
    dev(ctx, Fresh::Read).await
}

/// The dev root as it is now, which a promotion snapshots and refresh-dev restores onto.
pub async fn current_dev(ctx: &Ctx) -> anyhow::Result<Branch> {
    find_dev(ctx).await?.ok_or_else(|| missing_dev(ctx))
}

/// The dev root as the parent of a preview (or the base of its diff): the search's exact match
/// by name is taken without reading it again, so a new preview costs 3 requests besides polls
/// (SPEC §5). A search that lags a refresh of dev by a read makes the preview from dev as it
/// was, which production never sees; a dev given by id is read again all the same, so a
/// replaced one is still refused.
pub async fn require_dev(ctx: &Ctx) -> anyhow::Result<Branch> {
    dev(ctx, Fresh::Listed)
        .await?
        .ok_or_else(|| missing_dev(ctx))
}

async fn dev(ctx: &Ctx, fresh: Fresh) -> anyhow::Result<Option<Branch>> {
    let name = &ctx.config.dev_branch;
    let dev = resolve(ctx, &format!("Find {name}"), name, fresh).await?;
    if let Some(dev) = &dev {
        ensure_root(dev, "the dev root", &ctx.config.input("dev_branch"))?;
    }
    Ok(dev)
}

/// Says both fixes: create dev, or name the branch to use instead (create-branch-action's
/// users expect the project's default branch as the parent when they leave it out; ours is
/// `dev`).
pub fn missing_dev(ctx: &Ctx) -> anyhow::Error {
    let config = &ctx.config;
    let (dev, project) = (&config.dev_branch, &config.project_id);
    let setup = config.command_hint("setup");
    if config.dev_branch_given {
        return anyhow!(
            "the dev root `{dev}` that was given does not exist in Neon project `{project}`; create it once with {setup}, or give an existing branch's name instead"
        );
    }
    let left_out = match config.mode {
        Mode::Action => format!(
            "neither {} nor {} was given",
            config.input("dev_branch"),
            config.input("parent_branch")
        ),
        Mode::Cli => format!("{} was not given", config.input("dev_branch")),
    };
    anyhow!(
        "{left_out}, so the dev root is `{dev}`, which does not exist in Neon project `{project}`; create it once with {setup}, or set {} to branch from an existing branch (create-branch-action used the project's default branch)",
        config.input_value("parent_branch", "<name>"),
    )
}

/// The project's default branch, confirmed by a read of it.
async fn default_branch(ctx: &Ctx) -> anyhow::Result<Branch> {
    for _ in 0..CONFIRMATIONS {
        let listed = ctx
            .step("Find production", ctx.neon.default_branch())
            .await?;
        let fresh = confirm(ctx, &listed).await?;
        if let Some(fresh) = fresh.filter(|b| b.default) {
            return Ok(fresh);
        }
    }
    bail!("the project's default branch kept changing while it was being read; re-run")
}

/// How many times a lookup through a list is tried before a branch that keeps changing
/// under it is an error.
const CONFIRMATIONS: usize = 3;

/// The branch as it is now (a GET of one branch is current, a list may lag a mutation by a
/// read); `None` when it is gone.
async fn confirm(ctx: &Ctx, listed: &Branch) -> anyhow::Result<Option<Branch>> {
    let label = format!("Read {}", listed.name);
    match ctx.step(label, ctx.neon.get_branch(&listed.id)).await {
        Ok(b) => Ok(Some(b)),
        Err(e) if matches!(neon_error(&e), Some(NeonError::NotFound(_))) => Ok(None),
        Err(e) => Err(e),
    }
}

/// How current a branch found through a list must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fresh {
    /// Read again by its id: a list may lag a mutation by a read.
    Read,
    /// The list's exact match by name will do; one matched by id is read again.
    Listed,
}

/// The branch whose name or id is `name_or_id` (as it is now, unless `fresh` lets a match by
/// name stand as listed). One given by id that a finalized restore replaced is refused: it
/// holds the data from before that restore.
async fn resolve(
    ctx: &Ctx,
    label: &str,
    name_or_id: &str,
    fresh: Fresh,
) -> anyhow::Result<Option<Branch>> {
    let mut found = None;
    for _ in 0..CONFIRMATIONS {
        let Some(listed) = ctx
            .step(label.to_string(), ctx.neon.find_branch(name_or_id))
            .await?
        else {
            return Ok(None);
        };
        if fresh == Fresh::Listed && listed.name == name_or_id {
            return Ok(Some(listed));
        }
        // Still the branch the list named, under the same name or id?
        found = confirm(ctx, &listed)
            .await?
            .filter(|b| b.name == name_or_id || b.id == name_or_id);
        if found.is_some() {
            break;
        }
    }
    let Some(found) = found else {
        bail!("branch `{name_or_id}` kept changing while it was being read; re-run");
    };
    if found.name == name_or_id || found.id != name_or_id {
        return Ok(Some(found));
    }
    let replacement = if is_replaced_name(&found.name) {
        None
    } else {
        let branches = ctx.step("List branches", ctx.neon.list_branches()).await?;
        match branches
            .into_iter()
            .find(|b| b.restored_as.as_deref() == Some(found.id.as_str()))
        {
            Some(b) => Some(b),
            None => return Ok(Some(found)),
        }
    };
    let now = replacement.map_or_else(
        || format!("`{}`", found.name),
        |b| format!("`{}` (the branch that replaced it is {})", found.name, b.id),
    );
    bail!(
        "branch id `{name_or_id}` names a branch that a restore replaced, now {now}: it holds the data from before that restore; give the branch by its name instead"
    )
}

/// `<name> (old)` or `<name> (old) 2`, … as Neon renames the branch a restore replaced.
pub fn is_replaced_name(name: &str) -> bool {
    match name.rfind(" (old)") {
        Some(at) => {
            let rest = &name[at + " (old)".len()..];
            rest.is_empty()
                || rest
                    .strip_prefix(' ')
                    .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        }
        None => false,
    }
}

/// Snapshots can only be taken of root branches, and a restore only replaces roots we expect.
fn ensure_root(branch: &Branch, role: &str, input: &str) -> anyhow::Result<()> {
    if !branch.is_root() {
        bail!(
            "`{}` ({}) is {role} ({input}) but not a root branch (its parent is {}); Neon snapshots only root branches",
            branch.name,
            branch.id,
            branch.parent_id.as_deref().unwrap_or("?")
        );
    }
    Ok(())
}

/// Waits until no operation of the project runs: a re-run started right after a cancelled run
/// must not judge prod while that run's restore is still under way.
pub async fn settle(ctx: &Ctx) -> anyhow::Result<()> {
    let running = ctx
        .step(
            "Check for running operations",
            ctx.neon.running_operations(),
        )
        .await?;
    if running.is_empty() {
        return Ok(());
    }
    let label = format!("Wait for {} running operation(s)", running.len());
    ctx.step(label, ctx.neon.wait(&running)).await.or_else(|e| {
        // Another run's failure is not ours; what it left is judged from the state.
        match crate::ctx::neon_error(&e) {
            Some(crate::neon::NeonError::OperationFailed { .. }) => Ok(()),
            _ => Err(e),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaced_branches_are_recognised_by_neons_naming() {
        assert!(is_replaced_name("production (old)"));
        assert!(is_replaced_name("production (old) 2"));
        assert!(!is_replaced_name("production (old) x"));
        assert!(!is_replaced_name("production (old)2"));
        assert!(!is_replaced_name("production"));
        assert!(!is_replaced_name("production-old"));
    }
}
