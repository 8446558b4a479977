//! diff: after the user's migration step on a pull request, compare the preview branch's schema
//! with dev's, so the sticky comment and the summary show what the PR will change (and any
//! destructive change) before it is merged and promoted. Read only.

use super::roots::require_dev;
use super::{Done, PROD_UNTOUCHED, branch_ref, failure, guards, pull_ref};
use crate::ctx::Ctx;
use crate::event::PullRequestInfo;
use crate::outcome::{Diff, Failure, Outcome};

pub async fn diff(ctx: &Ctx, pr: Option<&PullRequestInfo>) -> Result<Done, Failure> {
    let name = super::preview_name(ctx, pr);
    let fail = |e: anyhow::Error| {
        failure(
            format!("could not compare the schema of preview branch `{name}` with dev's"),
            &e,
            PROD_UNTOUCHED,
            "fix the cause and re-run",
        )
    };
    let (preview, dev) = tokio::join!(
        ctx.step("Find preview branch", ctx.neon.find_branch(&name)),
        require_dev(ctx)
    );
    let dev = dev.map_err(fail)?;
    let preview = preview
        .map_err(fail)?
        .filter(|b| b.name == name)
        .ok_or_else(|| {
            fail(anyhow::anyhow!(
                "preview branch `{name}` does not exist: run the preview step first"
            ))
        })?;
    let schema = guards::compare(ctx, &dev, &preview).await.map_err(fail)?;
    for change in schema.destructive() {
        ctx.warn(format!(
            "destructive schema change: this pull request {change} (database `{}`)",
            schema.database
        ));
    }
    Ok(Done {
        outcome: Outcome::Diff(Diff {
            pr: pr.map(pull_ref),
            branch: branch_ref(&preview),
            dev: branch_ref(&dev),
            expires_at: preview.expires_at.clone(),
            schema,
        }),
        tidy: Vec::new(),
    })
}
