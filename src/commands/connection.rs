//! How to reach a branch: its connection strings for the `database` and `role` inputs, built
//! and masked in one place for preview and connect. Every secret (the password, its
//! percent-encoded form, both URLs) is masked the moment it is known, before anything else.

use anyhow::anyhow;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::config::{Config, SslMode};
use crate::ctx::Ctx;
use crate::neon::{Branch, ConnectionDetails, NeonError};
use crate::outcome::ConnectionInfo;

/// Everything of a URL component that is not unreserved (RFC 3986) is percent-encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Masks the password (and its encoded form) and both URLs first, then builds the outputs.
fn masked(ctx: &Ctx, password: String, host: String, pooler_host: String) -> ConnectionInfo {
    ctx.runner.add_mask(&password);
    let encoded = utf8_percent_encode(&password, COMPONENT).to_string();
    if encoded != password {
        ctx.runner.add_mask(&encoded);
    }
    let pooled_url = url(&ctx.config, &encoded, &pooler_host, true);
    let url = url(&ctx.config, &encoded, &host, false);
    ctx.runner.add_mask(&url);
    ctx.runner.add_mask(&pooled_url);
    ConnectionInfo {
        password,
        host,
        pooler_host,
        url,
        pooled_url,
    }
}

/// From a create answer: the entry for our database and role, if there is one.
pub fn from_details(ctx: &Ctx, details: &[ConnectionDetails]) -> Option<ConnectionInfo> {
    let p = details
        .iter()
        .map(|d| &d.connection_parameters)
        .find(|p| p.database == ctx.config.database && p.role == ctx.config.role)?;
    Some(masked(
        ctx,
        p.password.clone(),
        p.host.clone(),
        p.pooler_host.clone(),
    ))
}

/// The connection strings for `database`/`role` through `GET connection_uri`, masked; `None`
/// when Neon has none (no read-write compute, or no such database or role).
pub async fn read(ctx: &Ctx, branch: &Branch) -> anyhow::Result<Option<ConnectionInfo>> {
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
        .await?;
    let Some(uri) = uri else { return Ok(None) };
    let Some((password, host)) = parse_uri(&uri) else {
        // Never print it: it holds the password.
        ctx.runner.add_mask(&uri);
        return Err(anyhow!(
            "Neon answered a connection string for `{}` that could not be read",
            branch.name
        ));
    };
    let pooler = pooler_host(&host);
    Ok(Some(masked(ctx, password, host, pooler)))
}

/// The error for a branch that has a compute but no connection string: the database or role
/// the inputs name does not exist there.
pub fn missing_db_or_role(ctx: &Ctx, branch: &Branch) -> anyhow::Error {
    anyhow!(
        "database `{}` or role `{}` does not exist on branch `{}`; set {} and {} to ones that exist on it",
        ctx.config.database,
        ctx.config.role,
        branch.name,
        ctx.config.input("database"),
        ctx.config.input("role"),
    )
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
/// `ep-x-1-pooler.region…`). Derived, which saves a request.
fn pooler_host(host: &str) -> String {
    match host.split_once('.') {
        Some((endpoint, _)) if endpoint.ends_with("-pooler") => host.to_string(),
        Some((endpoint, rest)) => format!("{endpoint}-pooler.{rest}"),
        None => format!("{host}-pooler"),
    }
}

/// `postgresql://role:password@host/database`, then, as create-branch-action writes them and
/// in its order: with `prisma`, `connect_timeout=30` (the pooled URL also `pool_timeout=30` and
/// `pgbouncer=true`, which Prisma needs behind PgBouncer); then `sslmode` unless `ssl: omit`.
fn url(config: &Config, encoded_password: &str, host: &str, pooled: bool) -> String {
    let mut params = Vec::new();
    if config.prisma {
        params.push("connect_timeout=30");
        if pooled {
            params.extend(["pool_timeout=30", "pgbouncer=true"]);
        }
    }
    params.extend(match config.ssl {
        SslMode::Require => Some("sslmode=require"),
        SslMode::VerifyCa => Some("sslmode=verify-ca"),
        SslMode::VerifyFull => Some("sslmode=verify-full"),
        SslMode::Omit => None,
    });
    let query = if params.is_empty() {
        String::new()
    } else {
        format!("?{}", params.join("&"))
    };
    format!(
        "postgresql://{}:{encoded_password}@{host}/{}{query}",
        utf8_percent_encode(&config.role, COMPONENT),
        utf8_percent_encode(&config.database, COMPONENT),
    )
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

    fn config(prisma: bool, ssl: SslMode) -> Config {
        let mut config = Config::from_raw(
            crate::config::RawInputs::default(),
            crate::config::Mode::Cli,
        )
        .expect("the defaults are valid");
        config.prisma = prisma;
        config.ssl = ssl;
        config
    }

    #[test]
    fn urls_carry_sslmode_and_prisma_parameters_in_create_branch_actions_order() {
        let url = |prisma, ssl, host, pooled| url(&config(prisma, ssl), "pw", host, pooled);
        assert_eq!(
            url(false, SslMode::Require, "ep-a.x", false),
            "postgresql://neondb_owner:pw@ep-a.x/neondb?sslmode=require"
        );
        assert_eq!(
            url(false, SslMode::Omit, "ep-a-pooler.x", true),
            "postgresql://neondb_owner:pw@ep-a-pooler.x/neondb"
        );
        assert_eq!(
            url(true, SslMode::Require, "ep-a.x", false),
            "postgresql://neondb_owner:pw@ep-a.x/neondb?connect_timeout=30&sslmode=require"
        );
        assert_eq!(
            url(true, SslMode::VerifyFull, "ep-a-pooler.x", true),
            "postgresql://neondb_owner:pw@ep-a-pooler.x/neondb?connect_timeout=30&pool_timeout=30&pgbouncer=true&sslmode=verify-full"
        );
        assert_eq!(
            url(true, SslMode::Omit, "ep-a-pooler.x", true),
            "postgresql://neondb_owner:pw@ep-a-pooler.x/neondb?connect_timeout=30&pool_timeout=30&pgbouncer=true"
        );
    }
}
