//! create-branch-action's preview options that need more than the branch creation: an
//! anonymized preview is output only once Neon says its data is masked, and `get_auth_url` /
//! `get_data_api_url` read the branch's Neon Auth and Data API URLs (none when the feature is
//! off, as create-branch-action leaves them unset).

use crate::ctx::Ctx;
use crate::neon::{Branch, NeonError};

/// A preview that was asked to be anonymized whose data Neon does not report as masked.
#[derive(Debug, thiserror::Error)]
#[error("the data of preview branch `{branch}` is not masked: {why}")]
pub struct Unmasked {
    pub branch: String,
    pub why: String,
}

/// Waits until the anonymization of `branch` has finished, so that no connection string to
/// unmasked data is output; any other end is [`Unmasked`].
pub async fn wait_anonymized(ctx: &Ctx, branch: &Branch) -> anyhow::Result<()> {
    let status = ctx
        .step(
            "Wait for the anonymization",
            ctx.neon.wait_anonymized(&branch.id),
        )
        .await?;
    let why = match status {
        Some(s) if s.is_anonymized() => return Ok(()),
        Some(s) => format!(
            "its anonymization ended `{}` ({})",
            s.state,
            s.status_message.as_deref().unwrap_or("Neon gave no message")
        ),
        None => "Neon does not know it as an anonymized branch (masking rules are applied only when a branch is created)".into(),
    };
    Err(Unmasked {
        branch: branch.name.clone(),
        why,
    }
    .into())
}

/// The URLs `get_auth_url` and `get_data_api_url` ask for.
#[derive(Debug, Default)]
pub struct Links {
    pub auth_url: Option<String>,
    pub data_api_url: Option<String>,
}

/// Reads the URLs that were asked for, both at once; a feature that is off gives none, and
/// says so in the log.
pub async fn links(ctx: &Ctx, branch: &Branch) -> anyhow::Result<Links> {
    let config = &ctx.config;
    let auth = read_if(
        ctx,
        config.get_auth_url,
        "Read the Neon Auth URL",
        ctx.neon.neon_auth_url(&branch.id),
        || {
            format!(
                "Neon Auth is not enabled on branch `{}`: auth_url is left empty",
                branch.name
            )
        },
    );
    let data_api = read_if(
        ctx,
        config.get_data_api_url,
        "Read the Data API URL",
        ctx.neon.data_api_url(&branch.id, &config.database),
        || {
            format!(
                "the Data API is not enabled for database `{}` on branch `{}`: data_api_url is left empty",
                config.database, branch.name
            )
        },
    );
    let (auth_url, data_api_url) = tokio::join!(auth, data_api);
    Ok(Links {
        auth_url: auth_url?,
        data_api_url: data_api_url?,
    })
}

/// One URL read when `asked`; `off` is logged when Neon has none.
async fn read_if(
    ctx: &Ctx,
    asked: bool,
    label: &str,
    read: impl Future<Output = Result<Option<String>, NeonError>>,
    off: impl FnOnce() -> String,
) -> anyhow::Result<Option<String>> {
    if !asked {
        return Ok(None);
    }
    let url = ctx.step(label, read).await?;
    if url.is_none() {
        ctx.runner.info(&off());
    }
    Ok(url)
}
