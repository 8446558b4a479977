//! The command line, for use outside GitHub (any CI, a laptop): `neon-promote <command>
//! [--flags]`. Each subcommand takes only the flags it uses; they become the same raw settings
//! as the Action's `INPUT_*` variables, and win over `NEON_*` variables, which win over
//! `INPUT_*`. Without a subcommand the binary is the GitHub Action, and only inputs count.
//! Validation is `Config::from_raw`'s job.

use clap::{Parser, Subcommand};

mod flags;

use flags::{
    Api, Conn, Dev, GitHubFlags, Guards, KeepOld, Pr, PreviewFlags, PreviewNames, Prod, Retention,
    roots,
};

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
        retention: Retention,
        #[command(flatten)]
        old: KeepOld,
        #[command(flatten)]
        guards: Guards,
        /// Commit sha being promoted (names the snapshots; a re-run for it promotes nothing)
        #[arg(long)]
        sha: Option<String>,
        /// Database whose schema is compared [default: neondb]
        #[arg(long)]
        database: Option<String>,
        /// What migrated dev before this promotion, stated in the comment and the summary
        #[arg(long)]
        migrations: Option<String>,
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
        retention: Retention,
        #[command(flatten)]
        old: KeepOld,
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
        retention: Retention,
        #[command(flatten)]
        old: KeepOld,
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
        retention: Retention,
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
        old: KeepOld,
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
        retention: Retention,
        /// Snapshot name; {date} and {sha} are filled in [default: prod_snap_{date}_checkpoint]
        #[arg(long)]
        checkpoint_name: Option<String>,
        /// Commit sha, for the {sha} placeholder
        #[arg(long)]
        sha: Option<String>,
    },
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
            retention,
            old,
            guards,
            sha,
            database,
            migrations,
        } => {
            api.fill(&mut raw);
            github.fill(&mut raw);
            raw.prod_branch = prod.prod_branch;
            raw.dev_branch = dev.dev_branch;
            retention.fill(&mut raw);
            raw.keep_old_branch = old.keep_old_branch;
            raw.migrations = migrations;
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
            retention,
            old,
        } => {
            api.fill(&mut raw);
            github.fill(&mut raw);
            raw.prod_branch = prod.prod_branch;
            retention.fill(&mut raw);
            raw.keep_old_branch = old.keep_old_branch;
            raw.snapshot_id = Some(snapshot);
            "rollback"
        }
        Command::RefreshDev {
            api,
            prod,
            dev,
            retention,
            old,
        } => {
            roots(&mut raw, api, prod, dev, retention);
            raw.keep_old_branch = old.keep_old_branch;
            "refresh-dev"
        }
        Command::Setup {
            api,
            prod,
            dev,
            retention,
        } => {
            roots(&mut raw, api, prod, dev, retention);
            "setup"
        }
        Command::Sweep {
            api,
            github,
            prod,
            dev,
            old,
            names,
            candidate_snapshot_ttl,
        } => {
            api.fill(&mut raw);
            github.fill(&mut raw);
            raw.prod_branch = prod.prod_branch;
            raw.dev_branch = dev.dev_branch;
            raw.keep_old_branch = old.keep_old_branch;
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
            retention,
            checkpoint_name,
            sha,
        } => {
            api.fill(&mut raw);
            raw.prod_branch = prod.prod_branch;
            retention.fill(&mut raw);
            raw.checkpoint_name = checkpoint_name;
            raw.sha = sha;
            "checkpoint"
        }
    };
    raw.command = Some(name.into());
    raw
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

    use proptest::prelude::Strategy;

    proptest::proptest! {
        /// Any command line parses or is refused by clap (exit 2); what parses becomes
        /// settings that validate or name what they refuse, never a panic.
        #[test]
        fn any_command_line_parses_or_is_refused(args in proptest::collection::vec(
            proptest::prop_oneof![
                4 => proptest::sample::select(vec![
                    "preview", "cleanup", "promote", "rollback", "refresh-dev", "setup",
                    "sweep", "diff", "connect", "checkpoint", "latest", "--pr", "--ref", "--sha",
                    "--dry-run", "--api-key", "--project-id", "--timeout", "--preview-ttl",
                    "--branch-name", "--parent-branch", "--dev-branch", "--expires-at",
                    "--rollback-snapshots-kept", "--on-prod-changed", "--repo",
                    "--github-token", "--branch", "--masking-rules", "--suspend-timeout", "7d",
                    "0", "-1", "42", "x",
                ]).prop_map(str::to_string),
                1 => proptest::arbitrary::any::<String>(),
            ],
            0..8,
        )) {
            let argv = std::iter::once("neon-promote".to_string()).chain(args);
            if let Ok(Cli { command: Some(command) }) = Cli::try_parse_from(argv) {
                let raw = from_command(command);
                let _ = crate::config::Config::from_raw(raw, Mode::Cli);
            }
        }
    }
}
