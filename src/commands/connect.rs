//! connect: the connection strings of the branch named by `branch` (default: the dev root),
//! masked like a preview's, so a later step can migrate dev before a promotion. Read only.

use super::connection::{self, missing_db_or_role};
use super::roots::{find_dev, missing_dev};
use super::{Done, PROD_UNTOUCHED, Unknown, branch_ref, failure};
use crate::ctx::Ctx;
use crate::outcome::{Connect, Failure, Outcome};

pub async fn connect(ctx: &Ctx) -> Result<Done, Failure> {
    let fail = |e: anyhow::Error| {
        failure(
            "connect failed",
            &e,
            PROD_UNTOUCHED,
            "fix the cause and re-run",
        )
    };
    let branch = match &ctx.config.branch {
        Some(name) => ctx
            .step(format!("Find {name}"), ctx.neon.find_branch(name))
            .await
            .map_err(fail)?
            .ok_or_else(|| {
                fail(
                    Unknown {
                        input: "branch",
                        kind: "branch",
                        message: format!(
                            "branch `{name}` ({}) does not exist",
                            ctx.config.input("branch")
                        ),
                    }
                    .into(),
                )
            })?,
        None => find_dev(ctx)
            .await
            .map_err(fail)?
            .ok_or_else(|| fail(missing_dev(ctx)))?,
    };
    let conn = connection::read(ctx, &branch)
        .await
        .map_err(fail)?
        .ok_or_else(|| {
            fail(missing_db_or_role(ctx, &branch).context("it has no read-write compute, or"))
        })?;
    Ok(Done {
        outcome: Outcome::Connect(Connect {
            branch: branch_ref(&branch),
            connection: conn,
        }),
        tidy: Vec::new(),
    })
}
