//! `preview`: get or create the pull request's preview branch (a child of the dev root with a
//! read-write compute and an expiry), wait until it is usable, and return its connection strings.
//!
//! Requests (SPEC §5 asks ≤ 3 besides polls): the event predicts whether the branch exists.
//! On `opened`/`reopened` it almost never does: find dev, create (2; a 409 falls back to reuse).
//! Otherwise find the preview branch first (1); found: refresh its expiry and read one connection
//! string side by side (2 more, one round trip); missing: find dev, create (2 more). The create
//! answer carries the connection details when they match `database`/`role`; the pooled host is
//! the direct one with `-pooler` after the endpoint id (Neon's convention), so it is derived
//! rather than fetched.

use anyhow::anyhow;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::config::{Config, SslMode};
use crate::ctx::{Cancelled, Ctx};
use crate::event::PullRequestInfo;
use crate::naming;
use crate::neon::{
    Branch, ConnectionDetails, CreateBranch, CreatedBranch, EndpointType, NeonError, UpdateBranch,
};
use crate::outcome::{BranchRef, Outcome, Plan, Preview};

use super::{PROD_UNTOUCHED, expires_at, failure, pull_ref};

const RERUN: &str = "re-run the job";

/// Everything of a URL component that is not unreserved (RFC 3986) is percent-encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub async fn preview(ctx: &Ctx, pr: &PullRequestInfo) -> anyhow::Result<Outcome> {
    let name = naming::preview_branch_name(
        &ctx.config.preview_branch_name,
        pr.number,
        &pr.head_ref,
        &pr.head_sha,
    );
    let wanted_expiry = expires_at(&ctx.config.preview_ttl);
    let existing = if expect_new(ctx) && !ctx.dry_run() {
        None
    } else {
        find_preview(ctx, &name).await?
    };
    if ctx.dry_run() {
        return plan(ctx, &name, existing, wanted_expiry).await;
    }
    let ready = match existing {
        Some(branch) => reuse(ctx, branch, wanted_expiry).await?,
        None => create(ctx, &name, wanted_expiry).await?,
    };
    let Ready {
        branch,
        created,
        expires_at,
        conn,
    } = ready;
    Ok(Outcome::Preview(Preview {
        pr: Some(pull_ref(pr)),
        branch: BranchRef {
            id: branch.id,
            name: branch.name,
        },
        created,
        expires_at,
        db_url: conn.url,
        db_url_pooled: conn.pooled_url,
        db_host: conn.host,
        db_host_pooled: conn.pooler_host,
        password: conn.password,
    }))
}

/// A usable preview branch and how to connect to it.
struct Ready {
    branch: Branch,
    created: bool,
    expires_at: Option<String>,
    conn: Connection,
}

/// `opened` and `reopened` almost always need a new branch, so the lookup is skipped (a 409 on
/// create still finds an existing one): one request less on the common path.
fn expect_new(ctx: &Ctx) -> bool {
    ctx.github_ctx.as_ref().is_some_and(|gh| {
        gh.event_name.starts_with("pull_request")
            && matches!(gh.payload["action"].as_str(), Some("opened" | "reopened"))
    })
}

async fn find_preview(ctx: &Ctx, name: &str) -> anyhow::Result<Option<Branch>> {
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

async fn find_dev(ctx: &Ctx) -> anyhow::Result<Branch> {
    let dev = &ctx.config.dev_branch;
    let found = ctx
        .step("Find dev branch", ctx.neon.find_branch(dev))
        .await
        .map_err(|e| {
            failure(
                format!("could not look up the dev branch `{dev}`"),
                &e,
                PROD_UNTOUCHED,
                RERUN,
            )
        })?;
    found.ok_or_else(|| {
        anyhow!(
            "the dev branch `{dev}` does not exist in Neon project `{}`; {PROD_UNTOUCHED}; run the \
             action once with `command: setup` to create it, or set `dev_branch` to an existing \
             branch name or id",
            ctx.config.project_id
        )
    })
}

async fn create(ctx: &Ctx, name: &str, expires_at: Option<String>) -> anyhow::Result<Ready> {
    let dev = find_dev(ctx).await?;
    let req = CreateBranch {
        name: name.to_string(),
        parent_id: dev.id,
        expires_at,
        read_write_endpoint: true,
    };
    let created = ctx
        .step("Create preview branch", async {
            match ctx.neon.create_branch(&req).await {
                Ok(created) => Ok(Some(created)),
                Err(NeonError::Conflict(_)) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
        .map_err(|e| {
            failure(
                format!("could not create preview branch `{name}`"),
                &e,
                PROD_UNTOUCHED,
                "re-run the job once the cause is fixed",
            )
        })?;
    match created {
        Some(created) => finish_create(ctx, created).await,
        // 409: the name is taken (an earlier run, or one running right now): reuse it.
        None => {
            let branch = find_preview(ctx, name).await?.ok_or_else(|| {
                anyhow!(
                    "Neon says preview branch `{name}` exists, but no branch has that name; \
                     {PROD_UNTOUCHED}; {RERUN}"
                )
            })?;
            reuse(ctx, branch, req.expires_at).await
        }
    }
}

/// Waits for the new branch and its compute while, if the create answer lacked them, the
/// connection details are read alongside.
async fn finish_create(ctx: &Ctx, created: CreatedBranch) -> anyhow::Result<Ready> {
    let CreatedBranch {
        branch,
        operations,
        connection_uris,
        ..
    } = created;
    let known = Connection::from_details(ctx, &connection_uris);
    let wait = ctx.step(
        "Wait for the branch and its compute",
        ctx.neon.wait(&operations),
    );
    let conn = async {
        match known {
            Some(conn) => Ok(Some(conn)),
            None => direct_connection(ctx, &branch).await,
        }
    };
    let (waited, conn) = tokio::join!(wait, conn);
    if let Err(e) = waited {
        return Err(creation_failed(ctx, &branch, e).await);
    }
    let conn = conn?.ok_or_else(|| missing_db_or_role(ctx, &branch))?;
    Ok(Ready {
        expires_at: branch.expires_at.clone(),
        branch,
        created: true,
        conn,
    })
}

/// The error for a branch whose creation did not finish. A branch whose operation failed is
/// deleted, so that a re-run starts clean instead of reusing a broken branch.
async fn creation_failed(ctx: &Ctx, branch: &Branch, cause: anyhow::Error) -> anyhow::Error {
    let what = format!("preview branch `{}` could not be created", branch.name);
    let failed_op = matches!(
        cause.downcast_ref::<NeonError>(),
        Some(NeonError::OperationFailed { .. })
    );
    if !failed_op {
        let next = "the branch may still be starting: re-run the job to reuse it";
        return failure(what, &cause, PROD_UNTOUCHED, next);
    }
    let discard = async {
        match ctx.neon.delete_branch(&branch.id).await {
            Ok(ops) => ctx.neon.wait(&ops).await,
            Err(NeonError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    };
    let next = match ctx.step("Delete the half-created branch", discard).await {
        Ok(()) => "the half-created branch was deleted; re-run the job".to_string(),
        Err(e) => format!(
            "the half-created branch ({}) could not be deleted ({e:#}): delete it in the Neon \
             Console, then re-run the job",
            branch.id
        ),
    };
    failure(what, &cause, PROD_UNTOUCHED, &next)
}

/// Reuses an existing preview branch: its expiry is refreshed while the connection string is
/// read; a branch whose read-write compute is gone gets a new one.
async fn reuse(ctx: &Ctx, branch: Branch, wanted: Option<String>) -> anyhow::Result<Ready> {
    if branch.default || branch.is_root() {
        return Err(anyhow!(
            "branch `{}` already exists and is a root branch, not a preview branch, so it is left \
             alone; {PROD_UNTOUCHED}; set `preview_branch_name` to a template that cannot produce \
             this name",
            branch.name
        ));
    }
    let update = expiry_update(&branch, wanted);
    let refresh = async {
        match &update {
            Some(req) => ctx
                .step(
                    "Refresh preview branch expiry",
                    ctx.neon.update_branch(&branch.id, req),
                )
                .await
                .map(|updated| Some(updated.value)),
            None => Ok(None),
        }
    };
    let (refreshed, conn) = tokio::join!(refresh, direct_connection(ctx, &branch));
    let expires_at = match refreshed {
        Ok(Some(updated)) => updated.expires_at,
        Ok(None) => branch.expires_at.clone(),
        Err(e) if e.is::<Cancelled>() => return Err(e),
        // The branch still works: a stale expiry is worth a warning, not a failed run.
        Err(e) => {
            ctx.warn(format!(
                "the expiry of preview branch `{}` was not refreshed ({e:#}); it still expires \
                 at {}",
                branch.name,
                branch.expires_at.as_deref().unwrap_or("no set time")
            ));
            branch.expires_at.clone()
        }
    };
    let conn = match conn? {
        Some(conn) => conn,
        None => add_compute(ctx, &branch).await?,
    };
    Ok(Ready {
        branch,
        created: false,
        expires_at,
        conn,
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
async fn add_compute(ctx: &Ctx, branch: &Branch) -> anyhow::Result<Connection> {
    let what = format!(
        "could not give preview branch `{}` a read-write compute",
        branch.name
    );
    let fail = |e: anyhow::Error| failure(&what, &e, PROD_UNTOUCHED, RERUN);
    let endpoints = ctx
        .step("List computes", ctx.neon.list_endpoints(&branch.id))
        .await
        .map_err(fail)?;
    if endpoints.iter().any(|e| e.kind == EndpointType::ReadWrite) {
        return Err(missing_db_or_role(ctx, branch));
    }
    let created = ctx
        .step(
            "Create read-write compute",
            ctx.neon
                .create_endpoint(&branch.id, EndpointType::ReadWrite),
        )
        .await
        .map_err(fail)?;
    ctx.step("Wait for the compute", ctx.neon.wait(&created.operations))
        .await
        .map_err(fail)?;
    direct_connection(ctx, branch)
        .await?
        .ok_or_else(|| missing_db_or_role(ctx, branch))
}

fn missing_db_or_role(ctx: &Ctx, branch: &Branch) -> anyhow::Error {
    anyhow!(
        "database `{}` or role `{}` does not exist on preview branch `{}`; {PROD_UNTOUCHED}; set \
         the `database` and `role` inputs to ones that exist on the dev branch",
        ctx.config.database,
        ctx.config.role,
        branch.name
    )
}

/// The direct connection string for `database`/`role`, masked; `None` when Neon has none (no
/// read-write compute, or no such database or role).
async fn direct_connection(ctx: &Ctx, branch: &Branch) -> anyhow::Result<Option<Connection>> {
    let (database, role) = (&ctx.config.database, &ctx.config.role);
    let uri = ctx
        .step("Read connection string", async {
            match ctx
                .neon
                .connection_uri(&branch.id, database, role, false)
                .await
            {
                Ok(uri) => Ok(Some(uri)),
                Err(NeonError::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
        .map_err(|e| {
            failure(
                format!(
                    "could not read the connection string of preview branch `{}`",
                    branch.name
                ),
                &e,
                PROD_UNTOUCHED,
                RERUN,
            )
        })?;
    uri.map(|uri| Connection::from_uri(ctx, &uri)).transpose()
}

async fn plan(
    ctx: &Ctx,
    name: &str,
    existing: Option<Branch>,
    expires_at: Option<String>,
) -> anyhow::Result<Outcome> {
    let calls = match existing {
        Some(branch) => expiry_update(&branch, expires_at)
            .map(|req| {
                let at = req.expires_at.flatten();
                format!(
                    "PATCH branch `{name}` ({}): expires_at = {}",
                    branch.id,
                    at.as_deref().unwrap_or("none")
                )
            })
            .into_iter()
            .collect(),
        None => {
            let dev = find_dev(ctx).await?;
            vec![format!(
                "POST branch `{name}`: child of `{}` ({}), read-write compute, expires_at = {}",
                dev.name,
                dev.id,
                expires_at.as_deref().unwrap_or("none")
            )]
        }
    };
    Ok(Outcome::DryRun(Plan {
        command: "preview",
        calls,
    }))
}

/// How to reach the preview branch. Every secret in it was masked when it was made.
struct Connection {
    password: String,
    host: String,
    pooler_host: String,
    url: String,
    pooled_url: String,
}

impl Connection {
    /// Masks the password (and its encoded form) and both URLs first, before anything else.
    fn new(ctx: &Ctx, password: String, host: String, pooler_host: String) -> Self {
        ctx.runner.add_mask(&password);
        let encoded = utf8_percent_encode(&password, COMPONENT).to_string();
        if encoded != password {
            ctx.runner.add_mask(&encoded);
        }
        let url = url(&ctx.config, &encoded, &host);
        let pooled_url = url_for_host(&url, &host, &pooler_host);
        ctx.runner.add_mask(&url);
        ctx.runner.add_mask(&pooled_url);
        Self {
            password,
            host,
            pooler_host,
            url,
            pooled_url,
        }
    }

    /// From a create answer: the entry for our database and role, if there is one.
    fn from_details(ctx: &Ctx, details: &[ConnectionDetails]) -> Option<Self> {
        let p = details
            .iter()
            .map(|d| &d.connection_parameters)
            .find(|p| p.database == ctx.config.database && p.role == ctx.config.role)?;
        Some(Self::new(
            ctx,
            p.password.clone(),
            p.host.clone(),
            p.pooler_host.clone(),
        ))
    }

    /// From `GET connection_uri`'s `postgresql://role:password@host/db?…`.
    fn from_uri(ctx: &Ctx, uri: &str) -> anyhow::Result<Self> {
        let Some((password, host)) = parse_uri(uri) else {
            // Never print it: it holds the password.
            ctx.runner.add_mask(uri);
            return Err(anyhow!(
                "Neon answered a connection string that could not be read; {PROD_UNTOUCHED}; \
                 {RERUN}, and report this if it persists"
            ));
        };
        let pooler_host = pooler_host(&host);
        Ok(Self::new(ctx, password, host, pooler_host))
    }
}

/// The password (decoded) and host of `postgresql://role:password@host/db?…`.
fn parse_uri(uri: &str) -> Option<(String, String)> {
    let rest = uri.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let (userinfo, host) = authority.rsplit_once('@')?;
    let password = userinfo.split_once(':')?.1;
    let password = percent_decode_str(password).decode_utf8().ok()?;
    (!password.is_empty() && !host.is_empty()).then(|| (password.into_owned(), host.to_string()))
}

/// Neon's pooler host: `-pooler` right after the endpoint id (`ep-x-1.region…` →
/// `ep-x-1-pooler.region…`).
fn pooler_host(host: &str) -> String {
    match host.split_once('.') {
        Some((endpoint, _)) if endpoint.ends_with("-pooler") => host.to_string(),
        Some((endpoint, rest)) => format!("{endpoint}-pooler.{rest}"),
        None => format!("{host}-pooler"),
    }
}

/// `postgresql://role:password@host/database`, with `sslmode` unless `ssl: omit`.
fn url(config: &Config, encoded_password: &str, host: &str) -> String {
    let sslmode = match config.ssl {
        SslMode::Require => "?sslmode=require",
        SslMode::VerifyCa => "?sslmode=verify-ca",
        SslMode::VerifyFull => "?sslmode=verify-full",
        SslMode::Omit => "",
    };
    format!(
        "postgresql://{}:{encoded_password}@{host}/{}{sslmode}",
        utf8_percent_encode(&config.role, COMPONENT),
        utf8_percent_encode(&config.database, COMPONENT),
    )
}

/// The same URL with another host (the pooler's).
fn url_for_host(url: &str, host: &str, other: &str) -> String {
    url.replacen(&format!("@{host}/"), &format!("@{other}/"), 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_give_password_and_host() {
        let uri = "postgresql://neondb_owner:p%40ss@ep-cool-1.us-east-2.aws.neon.tech/neondb?sslmode=require&channel_binding=require";
        assert_eq!(
            parse_uri(uri),
            Some(("p@ss".into(), "ep-cool-1.us-east-2.aws.neon.tech".into()))
        );
        for bad in [
            "",
            "nonsense",
            "postgresql://host/db",
            "postgresql://role@host/db",
        ] {
            assert_eq!(parse_uri(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_pooler_host_follows_the_endpoint_id() {
        assert_eq!(
            pooler_host("ep-cool-1.us-east-2.aws.neon.tech"),
            "ep-cool-1-pooler.us-east-2.aws.neon.tech"
        );
        assert_eq!(
            pooler_host("ep-cool-1-pooler.us-east-2.aws.neon.tech"),
            "ep-cool-1-pooler.us-east-2.aws.neon.tech"
        );
        assert_eq!(pooler_host("localhost"), "localhost-pooler");
    }

    #[test]
    fn the_pooled_url_differs_only_by_host() {
        let url = "postgresql://r:pw@ep-a.x.neon.tech/db?sslmode=require";
        assert_eq!(
            url_for_host(url, "ep-a.x.neon.tech", "ep-a-pooler.x.neon.tech"),
            "postgresql://r:pw@ep-a-pooler.x.neon.tech/db?sslmode=require"
        );
    }

    fn branch(protected: bool, expires_at: Option<&str>) -> Branch {
        Branch {
            id: "br-1".into(),
            name: "preview/pr-1".into(),
            parent_id: Some("br-dev".into()),
            default: false,
            protected,
            current_state: "ready".into(),
            expires_at: expires_at.map(str::to_string),
            restored_from: None,
            created_at: String::new(),
        }
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
