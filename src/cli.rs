//! The command line, for use outside GitHub (any CI, a laptop): `neon-promote <command>
//! [--flags]`. Each subcommand takes only the flags it uses; they become the same raw settings
//! as the Action's `INPUT_*` variables, and win over `NEON_*` variables, which win over
//! `INPUT_*`. Without a subcommand the binary is the GitHub Action, and only inputs count.
//! Validation is `Config::from_raw`'s job.

use clap::{Args, Parser, Subcommand};

use crate::config::{Mode, RawInputs};
use crate::secret::Secret;

/// Neon preview branches per pull request, dev → production promotion through snapshots, and
/// one-command rollback. Without a command it runs as the GitHub Action: the `command` input,
/// or the event, decides.
#[derive(Debug, Parser)]
#[command(name = "neon-promote", version, about, long_about = None)]
#[command(
    after_help = "Every flag can also be set as NEON_<NAME> (NEON_API_KEY, NEON_PROJECT_ID, …). `neon-promote <command> --help` lists a command's flags."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or reuse the preview branch of a pull request (needs --pr, or --branch-name)
    Preview {
        #[command(flatten)]
        api: Api,
        #[command(flatten)]
        pr: Pr,
        #[command(flatten)]
        github: GitHubFlags,
        #[command(flatten)]
        dev: Dev,
        #[command(flatten)]
        preview: PreviewFlags,
        #[command(flatten)]
        conn: Conn,
    },
    /// Delete the preview branch of a pull request (needs --pr, or --branch-name)
    Cleanup {
        #[command(flatten)]
        api: Api,
        #[command(flatten)]
        pr: Pr,
        #[command(flatten)]
        github: GitHubFlags,
        #[command(flatten)]
        dev: Dev,
        #[command(flatten)]
        names: PreviewNames,
    },
    /// Compare a preview branch's schema with dev's and report the diff (needs --pr)
    Diff {
        #[command(flatten)]
        api: Api,
        #[command(flatten)]
        pr: Pr,
        #[command(flatten)]
        github: GitHubFlags,
        #[command(flatten)]
        dev: Dev,
        #[command(flatten)]
        names: PreviewNames,
        /// Database whose schema is compared [default: neondb]
        #[arg(long)]
        database: Option<String>,
    },
    /// Promote dev to production through snapshots, after a fresh rollback snapshot of production
    Promote {
        #[command(flatten)]
        api: Api,
        #[command(flatten)]
        github: GitHubFlags,
        #[command(flatten)]
        prod: Prod,
        #[command(flatten)]
        dev: Dev,
        #[command(flatten)]
        keep: Keep,
        #[command(flatten)]
        guards: Guards,
        /// Commit sha being promoted (names the snapshots; a re-run for it promotes nothing)
        #[arg(long)]
        sha: Option<String>,
        /// Database whose schema is compared [default: neondb]
        #[arg(long)]
        database: Option<String>,
    },
    /// Restore production from a snapshot (an id, a name, or `latest`), after a snapshot of it
    Rollback {
        /// Snapshot id, name, or `latest` (the state before the last completed promotion)
        snapshot: String,
        #[command(flatten)]
        api: Api,
        #[command(flatten)]
        github: GitHubFlags,
        #[command(flatten)]
        prod: Prod,
        #[command(flatten)]
        keep: Keep,
    },
    /// Restore a fresh production snapshot onto the dev root
    RefreshDev {
        #[command(flatten)]
        api: Api,
        #[command(flatten)]
        prod: Prod,
        #[command(flatten)]
        dev: Dev,
        #[command(flatten)]
        keep: Keep,
    },
    /// Create the dev root from a production snapshot and protect production (idempotent)
    Setup {
        #[command(flatten)]
        api: Api,
        #[command(flatten)]
        prod: Prod,
        #[command(flatten)]
        dev: Dev,
        #[command(flatten)]
        keep: Keep,
    },
    /// Delete preview branches of closed pull requests, replaced `(old)` branches and stale snapshots
    Sweep {
        #[command(flatten)]
        api: Api,
        #[command(flatten)]
        github: GitHubFlags,
        #[command(flatten)]
        prod: Prod,
        #[command(flatten)]
        dev: Dev,
        #[command(flatten)]
        keep: Keep,
        #[command(flatten)]
        names: PreviewNames,
        /// Age after which an unpromoted candidate snapshot is deleted [default: 1d]
        #[arg(long)]
        candidate_snapshot_ttl: Option<String>,
    },
    /// Print the connection strings of a branch (default: the dev root), e.g. to migrate dev
    Connect {
        #[command(flatten)]
        api: Api,
        #[command(flatten)]
        dev: Dev,
        #[command(flatten)]
        conn: Conn,
        /// Branch name or id [default: the dev root]
        #[arg(long)]
        branch: Option<String>,
    },
    /// Take a named snapshot of production to roll back to after a risky manual step
    Checkpoint {
        #[command(flatten)]
        api: Api,
        #[command(flatten)]
        prod: Prod,
        #[command(flatten)]
        keep: Keep,
        /// Snapshot name; {date} and {sha} are filled in [default: prod_snap_{date}_checkpoint]
        #[arg(long)]
        checkpoint_name: Option<String>,
        /// Commit sha, for the {sha} placeholder
        #[arg(long)]
        sha: Option<String>,
    },
}

/// Where and as whom to call Neon, and how the run behaves.
#[derive(Debug, Args)]
struct Api {
    /// Neon API key [env: NEON_API_KEY]
    #[arg(long, hide_env_values = true)]
    api_key: Option<String>,
    /// Neon project id [env: NEON_PROJECT_ID]
    #[arg(long)]
    project_id: Option<String>,
    /// Neon API base URL [default: https://console.neon.tech/api/v2]
    #[arg(long)]
    api_host: Option<String>,
    /// Upper bound for waiting on operations and locks [default: 10m]
    #[arg(long)]
    timeout: Option<String>,
    /// Print every call it would make; change nothing
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    dry_run: Option<String>,
}

/// The pull request a preview command is about.
#[derive(Debug, Args)]
struct Pr {
    /// Pull request number
    #[arg(long)]
    pr: Option<String>,
    /// Head branch of the pull request, for the {ref} placeholder
    #[arg(long = "ref")]
    git_ref: Option<String>,
    /// Head commit sha, for the {sha} placeholder
    #[arg(long)]
    sha: Option<String>,
}

/// GitHub access for pull request comments and checks.
#[derive(Debug, Args)]
struct GitHubFlags {
    /// Token for pull request comments and checks [env: GITHUB_TOKEN]
    #[arg(long, hide_env_values = true)]
    github_token: Option<String>,
    /// Repository (OWNER/NAME) the pull requests belong to
    #[arg(long)]
    repo: Option<String>,
    /// Post and update the sticky pull request comment [default: true]
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    comment: Option<String>,
}

#[derive(Debug, Args)]
struct Prod {
    /// Production branch, name or id [default: the project's default branch]
    #[arg(long)]
    prod_branch: Option<String>,
}

#[derive(Debug, Args)]
struct Dev {
    /// Dev root branch, name or id [default: dev]
    #[arg(long)]
    dev_branch: Option<String>,
}

/// Rollback points and the branch a restore replaces.
#[derive(Debug, Args)]
struct Keep {
    /// Expiry of rollback points and dev's baseline snapshot [default: 30d]
    #[arg(long)]
    rollback_snapshot_ttl: Option<String>,
    /// How many of its own rollback points to keep [default: 3]
    #[arg(long)]
    rollback_snapshots_kept: Option<String>,
    /// Keep `<branch> (old)` after a verified restore
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    keep_old_branch: Option<String>,
}

/// The promotion's guards.
#[derive(Debug, Args)]
struct Guards {
    /// When the promotion drops a table or column or changes a type: warn, fail or ignore [default: warn]
    #[arg(long)]
    on_destructive_change: Option<String>,
    /// When prod was written since dev's baseline: warn, fail or ignore [default: warn]
    #[arg(long)]
    on_prod_changed: Option<String>,
}

/// How preview branches are named.
#[derive(Debug, Args)]
struct PreviewNames {
    /// Name template with {pr}, {ref}, {sha} [default: preview/pr-{pr}-{ref}]
    #[arg(long)]
    preview_branch_name: Option<String>,
    /// A literal branch name, instead of the template
    #[arg(long)]
    branch_name: Option<String>,
}

#[derive(Debug, Args)]
struct PreviewFlags {
    #[command(flatten)]
    names: PreviewNames,
    /// Expiry: 30m, 12h, 7d, an RFC 3339 time, or none (at most 30 days) [default: 7d]
    #[arg(long)]
    preview_ttl: Option<String>,
    /// default, or schema-only (dev's schema without its data)
    #[arg(long)]
    branch_type: Option<String>,
    /// JSON array of masking rules: an anonymized preview
    #[arg(long)]
    masking_rules: Option<String>,
    /// Seconds of inactivity before the compute suspends (0: Neon's default)
    #[arg(long)]
    suspend_timeout: Option<String>,
    /// Add Prisma's connection parameters to the URLs
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    prisma: Option<String>,
    /// Also output the branch's Neon Auth URL
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    get_auth_url: Option<String>,
    /// Also output the branch's Data API URL
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    get_data_api_url: Option<String>,
}

/// Which connection strings to build.
#[derive(Debug, Args)]
struct Conn {
    /// Database of the connection strings [default: neondb]
    #[arg(long)]
    database: Option<String>,
    /// Role of the connection strings [default: neondb_owner]
    #[arg(long)]
    role: Option<String>,
    /// sslmode: require, verify-ca, verify-full or omit [default: require]
    #[arg(long)]
    ssl: Option<String>,
}

/// The settings from the command line and the environment, not yet validated, and the mode.
pub fn parse() -> (RawInputs, Mode) {
    match Cli::parse().command {
        None => (RawInputs::for_action(), Mode::Action),
        Some(command) => {
            let mut raw = from_command(command).or(RawInputs::for_cli());
            // The Action takes its token only from the `github_token` input; the CLI may use
            // the usual variable.
            if raw.github_token.is_none() {
                raw.github_token = std::env::var("GITHUB_TOKEN")
                    .ok()
                    .filter(|t| !t.trim().is_empty())
                    .map(Secret::new);
            }
            (raw, Mode::Cli)
        }
    }
}

fn from_command(command: Command) -> RawInputs {
    let mut raw = RawInputs::default();
    let name = match command {
        Command::Preview {
            api,
            pr,
            github,
            dev,
            preview,
            conn,
        } => {
            api.fill(&mut raw);
            pr.fill(&mut raw);
            github.fill(&mut raw);
            raw.dev_branch = dev.dev_branch;
            preview.fill(&mut raw);
            conn.fill(&mut raw);
            "preview"
        }
        Command::Cleanup {
            api,
            pr,
            github,
            dev,
            names,
        } => {
            api.fill(&mut raw);
            pr.fill(&mut raw);
            github.fill(&mut raw);
            raw.dev_branch = dev.dev_branch;
            names.fill(&mut raw);
            "cleanup"
        }
        Command::Diff {
            api,
            pr,
            github,
            dev,
            names,
            database,
        } => {
            api.fill(&mut raw);
            pr.fill(&mut raw);
            github.fill(&mut raw);
            raw.dev_branch = dev.dev_branch;
            names.fill(&mut raw);
            raw.database = database;
            "diff"
        }
        Command::Promote {
            api,
            github,
            prod,
            dev,
            keep,
            guards,
            sha,
            database,
        } => {
            api.fill(&mut raw);
            github.fill(&mut raw);
            raw.prod_branch = prod.prod_branch;
            raw.dev_branch = dev.dev_branch;
            keep.fill(&mut raw);
            raw.on_destructive_change = guards.on_destructive_change;
            raw.on_prod_changed = guards.on_prod_changed;
            raw.sha = sha;
            raw.database = database;
            "promote"
        }
        Command::Rollback {
            snapshot,
            api,
            github,
            prod,
            keep,
        } => {
            api.fill(&mut raw);
            github.fill(&mut raw);
            raw.prod_branch = prod.prod_branch;
            keep.fill(&mut raw);
            raw.snapshot_id = Some(snapshot);
            "rollback"
        }
        Command::RefreshDev {
            api,
            prod,
            dev,
            keep,
        } => {
            roots(&mut raw, api, prod, dev, keep);
            "refresh-dev"
        }
        Command::Setup {
            api,
            prod,
            dev,
            keep,
        } => {
            roots(&mut raw, api, prod, dev, keep);
            "setup"
        }
        Command::Sweep {
            api,
            github,
            prod,
            dev,
            keep,
            names,
            candidate_snapshot_ttl,
        } => {
            api.fill(&mut raw);
            github.fill(&mut raw);
            raw.prod_branch = prod.prod_branch;
            raw.dev_branch = dev.dev_branch;
            keep.fill(&mut raw);
            names.fill(&mut raw);
            raw.candidate_snapshot_ttl = candidate_snapshot_ttl;
            "sweep"
        }
        Command::Connect {
            api,
            dev,
            conn,
            branch,
        } => {
            api.fill(&mut raw);
            raw.dev_branch = dev.dev_branch;
            conn.fill(&mut raw);
            raw.branch = branch;
            "connect"
        }
        Command::Checkpoint {
            api,
            prod,
            keep,
            checkpoint_name,
            sha,
        } => {
            api.fill(&mut raw);
            raw.prod_branch = prod.prod_branch;
            keep.fill(&mut raw);
            raw.checkpoint_name = checkpoint_name;
            raw.sha = sha;
            "checkpoint"
        }
    };
    raw.command = Some(name.into());
    raw
}

/// What refresh-dev and setup take.
fn roots(raw: &mut RawInputs, api: Api, prod: Prod, dev: Dev, keep: Keep) {
    api.fill(raw);
    raw.prod_branch = prod.prod_branch;
    raw.dev_branch = dev.dev_branch;
    keep.fill(raw);
}

impl Api {
    fn fill(self, raw: &mut RawInputs) {
        raw.api_key = self.api_key.map(Secret::new);
        raw.project_id = self.project_id;
        raw.api_host = self.api_host;
        raw.timeout = self.timeout;
        raw.dry_run = self.dry_run;
    }
}

impl Pr {
    fn fill(self, raw: &mut RawInputs) {
        raw.pr = self.pr;
        raw.git_ref = self.git_ref;
        raw.sha = self.sha;
    }
}

impl GitHubFlags {
    fn fill(self, raw: &mut RawInputs) {
        raw.github_token = self.github_token.map(Secret::new);
        raw.repo = self.repo;
        raw.comment = self.comment;
    }
}

impl Keep {
    fn fill(self, raw: &mut RawInputs) {
        raw.rollback_snapshot_ttl = self.rollback_snapshot_ttl;
        raw.rollback_snapshots_kept = self.rollback_snapshots_kept;
        raw.keep_old_branch = self.keep_old_branch;
    }
}

impl PreviewNames {
    fn fill(self, raw: &mut RawInputs) {
        raw.preview_branch_name = self.preview_branch_name;
        raw.branch_name = self.branch_name;
    }
}

impl PreviewFlags {
    fn fill(self, raw: &mut RawInputs) {
        self.names.fill(raw);
        raw.preview_ttl = self.preview_ttl;
        raw.branch_type = self.branch_type;
        raw.masking_rules = self.masking_rules;
        raw.suspend_timeout = self.suspend_timeout;
        raw.prisma = self.prisma;
        raw.get_auth_url = self.get_auth_url;
        raw.get_data_api_url = self.get_data_api_url;
    }
}

impl Conn {
    fn fill(self, raw: &mut RawInputs) {
        raw.database = self.database;
        raw.role = self.role;
        raw.ssl = self.ssl;
    }
}

/// `--help` of the binary and of each subcommand, as a user sees it (golden-tested).
pub fn help_texts() -> Vec<(String, String)> {
    use clap::CommandFactory;
    let mut root = Cli::command();
    let mut out = vec![("neon-promote".to_string(), root.render_help().to_string())];
    for sub in root.get_subcommands_mut() {
        let name = format!("neon-promote {}", sub.get_name());
        out.push((name, sub.render_help().to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(args: &[&str]) -> RawInputs {
        let cli = Cli::try_parse_from(std::iter::once("neon-promote").chain(args.iter().copied()))
            .unwrap();
        from_command(cli.command.unwrap())
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
        let cli = Cli::try_parse_from(["neon-promote"]).unwrap();
        assert!(cli.command.is_none());
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

    #[test]
    fn each_subcommand_takes_only_its_flags() {
        let refuse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("neon-promote").chain(args.iter().copied()))
                .is_err()
        };
        assert!(refuse(&["setup", "--pr", "1"]));
        assert!(refuse(&["connect", "--prod-branch", "main"]));
        assert!(refuse(&["rollback", "x", "--preview-ttl", "7d"]));
        assert!(!refuse(&[
            "promote",
            "--sha",
            "abc",
            "--on-prod-changed",
            "fail"
        ]));
        let r = raw(&["connect", "--branch", "feature", "--database", "app"]);
        assert_eq!(
            (r.branch.as_deref(), r.database.as_deref()),
            (Some("feature"), Some("app"))
        );
    }

    #[test]
    fn every_subcommand_has_help() {
        let texts = help_texts();
        assert_eq!(texts.len(), 1 + crate::config::CommandName::ALL.len() + 1);
        assert!(texts.iter().all(|(_, t)| !t.is_empty()));
    }
}
