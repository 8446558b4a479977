//! The command line, for use outside GitHub (any CI, a laptop): `neon-promote <command>
//! [--flags]`. Flags become the same raw settings as the Action's `INPUT_*` variables, and win
//! over `NEON_*` variables, which win over `INPUT_*`. Validation is `Config::from_raw`'s job.

use clap::{Args, Parser, Subcommand};

use crate::config::RawInputs;

/// Neon preview branches per pull request, dev → production promotion through snapshots, and
/// one-command rollback. Without a command it runs as the GitHub Action: the `command` input,
/// or the event, decides.
#[derive(Debug, Parser)]
#[command(name = "neon-promote", version, about, long_about = None)]
#[command(
    after_help = "Every flag can also be set as NEON_<NAME> (NEON_API_KEY, NEON_PROJECT_ID, …) or, as in the Action, INPUT_<NAME>."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    flags: Flags,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or reuse the preview branch of a pull request (needs --pr)
    Preview,
    /// Delete the preview branch of a pull request (needs --pr)
    Cleanup,
    /// Promote dev to production through snapshots, after a rollback snapshot of production
    Promote,
    /// Restore production from a snapshot (an id, a name, or `latest`)
    Rollback {
        /// Snapshot id, name, or `latest` (the newest pre-promotion snapshot)
        snapshot: Option<String>,
    },
    /// Restore a fresh production snapshot onto the dev root
    RefreshDev,
    /// Create the dev root from a production snapshot and protect production (idempotent)
    Setup,
    /// Delete preview branches of closed pull requests, leftover `(old)` branches and expired candidate snapshots
    Sweep,
}

#[derive(Debug, Args)]
struct Flags {
    /// Neon API key [env: NEON_API_KEY]
    #[arg(long, global = true, hide_env_values = true)]
    api_key: Option<String>,
    /// Neon project id [env: NEON_PROJECT_ID]
    #[arg(long, global = true)]
    project_id: Option<String>,
    /// Neon API base URL [default: https://console.neon.tech/api/v2]
    #[arg(long, global = true)]
    api_host: Option<String>,
    /// Token for pull request comments [env: GITHUB_TOKEN, with a command]
    #[arg(long, global = true, hide_env_values = true)]
    github_token: Option<String>,
    /// Production branch, name or id [default: the project's default branch]
    #[arg(long, global = true)]
    prod_branch: Option<String>,
    /// Dev root branch, name or id [default: dev]
    #[arg(long, global = true)]
    dev_branch: Option<String>,
    /// Git branch whose pushes promote [default: the repository's default branch]
    #[arg(long, global = true)]
    promotion_branch: Option<String>,
    /// Preview branch name template with {pr}, {ref}, {sha} [default: preview/pr-{pr}-{ref}]
    #[arg(long, global = true)]
    preview_branch_name: Option<String>,
    /// Preview branch expiry: 30m, 12h, 7d, an RFC 3339 time, or none (at most 30 days) [default: 7d]
    #[arg(long, global = true)]
    preview_ttl: Option<String>,
    /// Database of the connection strings [default: neondb]
    #[arg(long, global = true)]
    database: Option<String>,
    /// Role of the connection strings [default: neondb_owner]
    #[arg(long, global = true)]
    role: Option<String>,
    /// sslmode: require, verify-ca, verify-full or omit [default: require]
    #[arg(long, global = true)]
    ssl: Option<String>,
    /// Rollback target: snapshot id, name, or latest
    #[arg(long, global = true)]
    snapshot_id: Option<String>,
    /// Expiry of the rollback snapshot taken before a promotion or rollback [default: 30d]
    #[arg(long, global = true)]
    rollback_snapshot_ttl: Option<String>,
    /// Expiry of the dev candidate snapshot [default: 1d]
    #[arg(long, global = true)]
    candidate_snapshot_ttl: Option<String>,
    /// Keep `<prod> (old)` after a verified restore
    #[arg(long, global = true, num_args = 0..=1, default_missing_value = "true")]
    keep_old_branch: Option<String>,
    /// Post and update the sticky pull request comment [default: true]
    #[arg(long, global = true, num_args = 0..=1, default_missing_value = "true")]
    comment: Option<String>,
    /// Print every call it would make; change nothing
    #[arg(long, global = true, num_args = 0..=1, default_missing_value = "true")]
    dry_run: Option<String>,
    /// Upper bound for waiting on operations and locks [default: 10m]
    #[arg(long, global = true)]
    timeout: Option<String>,
    /// Pull request number (preview, cleanup outside GitHub)
    #[arg(long, global = true)]
    pr: Option<String>,
    /// Head branch of the pull request, for the {ref} placeholder
    #[arg(long = "ref", global = true)]
    git_ref: Option<String>,
    /// Commit sha (names snapshots; {sha} placeholder)
    #[arg(long, global = true)]
    sha: Option<String>,
}

/// The settings from the command line and the environment, not yet validated.
pub fn parse() -> RawInputs {
    let cli = Cli::parse();
    let command_line = cli.command.is_some();
    let mut raw = from_cli(cli).or(RawInputs::from_env());
    // The Action takes its token only from the `github_token` input; a CLI run may use the
    // usual variable.
    if command_line && raw.github_token.is_none() {
        raw.github_token = std::env::var("GITHUB_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty());
    }
    raw
}

fn from_cli(cli: Cli) -> RawInputs {
    let f = cli.flags;
    let (command, snapshot) = match cli.command {
        None => (None, None),
        Some(Command::Preview) => (Some("preview"), None),
        Some(Command::Cleanup) => (Some("cleanup"), None),
        Some(Command::Promote) => (Some("promote"), None),
        Some(Command::Rollback { snapshot }) => (Some("rollback"), snapshot),
        Some(Command::RefreshDev) => (Some("refresh-dev"), None),
        Some(Command::Setup) => (Some("setup"), None),
        Some(Command::Sweep) => (Some("sweep"), None),
    };
    RawInputs {
        api_key: f.api_key,
        project_id: f.project_id,
        api_host: f.api_host,
        github_token: f.github_token,
        command: command.map(str::to_string),
        prod_branch: f.prod_branch,
        dev_branch: f.dev_branch,
        promotion_branch: f.promotion_branch,
        preview_branch_name: f.preview_branch_name,
        preview_ttl: f.preview_ttl,
        database: f.database,
        role: f.role,
        ssl: f.ssl,
        snapshot_id: snapshot.or(f.snapshot_id),
        rollback_snapshot_ttl: f.rollback_snapshot_ttl,
        candidate_snapshot_ttl: f.candidate_snapshot_ttl,
        keep_old_branch: f.keep_old_branch,
        comment: f.comment,
        dry_run: f.dry_run,
        timeout: f.timeout,
        pr: f.pr,
        git_ref: f.git_ref,
        sha: f.sha,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(args: &[&str]) -> RawInputs {
        from_cli(
            Cli::try_parse_from(std::iter::once("neon-promote").chain(args.iter().copied()))
                .unwrap(),
        )
    }

    #[test]
    fn subcommand_and_flags_become_raw_settings() {
        let r = raw(&["rollback", "snap-1", "--project-id", "p-1", "--dry-run"]);
        assert_eq!(r.command.as_deref(), Some("rollback"));
        assert_eq!(r.snapshot_id.as_deref(), Some("snap-1"));
        assert_eq!(r.project_id.as_deref(), Some("p-1"));
        assert_eq!(r.dry_run.as_deref(), Some("true"));
    }

    #[test]
    fn no_subcommand_is_the_action() {
        let r = raw(&[]);
        assert!(r.command.is_none() && r.api_key.is_none());
    }

    #[test]
    fn preview_takes_the_pull_request_from_flags() {
        let r = raw(&[
            "preview",
            "--pr",
            "42",
            "--ref",
            "feature/x",
            "--sha",
            "abc",
        ]);
        assert_eq!(
            (r.pr.as_deref(), r.git_ref.as_deref()),
            (Some("42"), Some("feature/x"))
        );
    }
}
