//! Inputs → a typed, validated `Config`, in two steps: raw strings (`raw`), then one function
//! that owns every usage error (`Config::from_raw`). Everything here is checked before the
//! first network call; a problem is a `UsageError` (exit 2) that names the input and what it
//! accepts. The credentials are checked by `event::route`, because an empty `api_key` on a
//! fork's pull request is a skip, not an error.

mod raw;
mod values;

use std::time::Duration;

use jiff::Timestamp;

pub use raw::RawInputs;
pub use values::duration as parse_duration;

use crate::secret::Secret;

/// `dev_branch`'s and `preview_ttl`'s defaults, as action.yml declares them too.
const DEV_BRANCH: &str = "dev";
const PREVIEW_TTL: &str = "7d";

/// A command this binary runs: the one list every part of it names commands from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandName {
    Preview,
    Cleanup,
    Promote,
    Rollback,
    RefreshDev,
    Setup,
    Sweep,
    Diff,
    Connect,
    Checkpoint,
}

impl CommandName {
    pub const ALL: [Self; 10] = [
        Self::Preview,
        Self::Cleanup,
        Self::Promote,
        Self::Rollback,
        Self::RefreshDev,
        Self::Setup,
        Self::Sweep,
        Self::Diff,
        Self::Connect,
        Self::Checkpoint,
    ];

    /// As the `command` input, the `command` output and the CLI spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Preview => "preview",
            Self::Cleanup => "cleanup",
            Self::Promote => "promote",
            Self::Rollback => "rollback",
            Self::RefreshDev => "refresh-dev",
            Self::Setup => "setup",
            Self::Sweep => "sweep",
            Self::Diff => "diff",
            Self::Connect => "connect",
            Self::Checkpoint => "checkpoint",
        }
    }
}

/// How the binary was started: as the GitHub Action (inputs), or as a CLI (a subcommand and
/// flags). Messages name settings the way the user wrote them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Action,
    Cli,
}

/// `ssl` input: the `sslmode` of the connection strings, or none (`omit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Require,
    VerifyCa,
    VerifyFull,
    Omit,
}

/// `on_destructive_change`, `on_prod_changed`: what a guard does when it trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Warn,
    Fail,
    Ignore,
}

/// `branch_type` (create-branch-action): a preview with dev's data, or with its schema only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchType {
    Default,
    SchemaOnly,
}

/// A TTL input: a duration from now, a fixed time, or no expiry (`none`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expiry {
    After(Duration),
    At(Timestamp),
    Never,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    /// Empty only where a fork PR is skipped (decided by event routing).
    pub api_key: Secret,
    /// Empty only where a fork PR is skipped (decided by event routing).
    pub project_id: String,
    /// Base URL without a trailing slash.
    pub api_host: String,
    pub github_token: Option<Secret>,
    /// CLI: the repository (`owner/name`) to comment on and check pull requests in.
    pub repo: Option<String>,
    /// `None`: `auto`, the event decides.
    pub command: Option<CommandName>,
    /// `None`: the project's default branch.
    pub prod_branch: Option<String>,
    pub dev_branch: String,
    /// `dev_branch` (or `parent_branch`) names another branch than the default (the runner
    /// fills the default in, so it cannot tell "given" from "left out").
    pub dev_branch_given: bool,
    /// `None`: the repository's default branch (from the event).
    pub promotion_branch: Option<String>,
    pub preview_branch_name: String,
    /// create-branch-action's `branch_name`: a literal preview name, over the template.
    pub branch_name: Option<String>,
    pub preview_ttl: Expiry,
    pub database: String,
    pub role: String,
    pub ssl: SslMode,
    pub snapshot_id: Option<String>,
    pub rollback_snapshot_ttl: Expiry,
    pub candidate_snapshot_ttl: Expiry,
    pub keep_old_branch: bool,
    pub rollback_snapshots_kept: usize,
    pub on_destructive_change: Policy,
    pub on_prod_changed: Policy,
    /// `connect`: the branch (name or id); `None`: the dev root.
    pub branch: Option<String>,
    pub checkpoint_name: String,
    /// `promote`: what migrated dev before it, stated in the comment and the summary.
    pub migrations: Option<String>,
    pub branch_type: BranchType,
    pub masking_rules: Option<serde_json::Value>,
    pub suspend_timeout: Option<i64>,
    pub prisma: bool,
    pub get_auth_url: bool,
    pub get_data_api_url: bool,
    pub comment: bool,
    pub dry_run: bool,
    pub timeout: Duration,
    /// Outside GitHub: the pull request and commit a command is about (`--pr`, `--ref`, `--sha`).
    pub pr: Option<u64>,
    pub git_ref: Option<String>,
    pub sha: Option<String>,
}

/// An invalid input or workflow configuration, found before any Neon call: exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    /// The input (or event) at fault, e.g. `preview_ttl`.
    pub input: String,
    pub message: String,
}

/// Collects every problem, so one run reports them all.
struct Check {
    mode: Mode,
    errors: Vec<UsageError>,
}

impl Check {
    fn fail(&mut self, input: &str, message: String) {
        let name = input_name(self.mode, input);
        self.errors.push(UsageError {
            input: input.into(),
            message: format!("{name}: {message}"),
        });
    }

    fn parse<T: Clone>(
        &mut self,
        input: &str,
        value: Option<String>,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        match value {
            None => default,
            Some(v) => parse(&v).unwrap_or_else(|accepts| {
                self.fail(input, format!("`{v}` is not valid; {accepts}"));
                default
            }),
        }
    }

    /// An input and its create-branch-action alias: either, or both with one value; with the
    /// name of the input the value came from. Ours at its action.yml `default` yields to the
    /// alias: the runner passes that default for an input the workflow leaves out, so it says
    /// nothing about what the user chose (`parent_branch: main` arrives with `dev_branch: dev`).
    /// A command line fills nothing in: there both names given differently conflict.
    fn alias<'a>(
        &mut self,
        ours: (&'a str, Option<String>),
        default: &str,
        theirs: (&'a str, Option<String>),
    ) -> Option<(String, &'a str)> {
        let filled_in = |a: &str| self.mode == Mode::Action && a == default;
        match (ours.1, theirs.1) {
            (Some(a), Some(b)) if a != b && !filled_in(&a) => {
                let (a_name, b_name) = (
                    input_name(self.mode, ours.0),
                    input_name(self.mode, theirs.0),
                );
                self.fail(
                    ours.0,
                    format!("`{a}` differs from {b_name} `{b}`; {b_name} is create-branch-action's name for {a_name}: give one of them"),
                );
                None
            }
            (_, Some(b)) => Some((b, theirs.0)),
            (a, None) => a.map(|a| (a, ours.0)),
        }
    }
}

/// A setting as the user wrote it: `` `api_key:` `` in a workflow, `` `--api-key` `` on a
/// command line.
fn input_name(mode: Mode, input: &str) -> String {
    match mode {
        Mode::Action => format!("`{input}:`"),
        Mode::Cli => format!("`--{}`", input.replace('_', "-")),
    }
}

impl Config {
    /// Validates every setting; all problems are returned together.
    pub fn from_raw(raw: RawInputs, mode: Mode) -> Result<Config, Vec<UsageError>> {
        Config::from_raw_at(raw, mode, Timestamp::now())
    }

    pub(crate) fn from_raw_at(
        raw: RawInputs,
        mode: Mode,
        now: Timestamp,
    ) -> Result<Config, Vec<UsageError>> {
        use values as v;
        let raw = raw.or(RawInputs::default());
        let mut c = Check {
            mode,
            errors: Vec::new(),
        };
        let project_id = c.parse("project_id", raw.project_id, String::new(), v::project_id);
        let api_host = c.parse(
            "api_host",
            raw.api_host,
            "https://console.neon.tech/api/v2".into(),
            v::url,
        );
        let repo = c.parse("repo", raw.repo, None, |r| v::repo(r).map(Some));
        let command = c.parse("command", raw.command, None, v::command);
        let preview_branch_name = raw
            .preview_branch_name
            .unwrap_or_else(|| "preview/pr-{pr}-{ref}".into());
        if raw.branch_name.is_none()
            && !["{pr}", "{ref}", "{sha}"]
                .iter()
                .any(|p| preview_branch_name.contains(p))
        {
            c.fail(
                "preview_branch_name",
                format!("`{preview_branch_name}` has no placeholder, so every pull request would share one branch; include {{pr}} (and optionally {{ref}}, {{sha}}), or give a literal `branch_name`"),
            );
        }
        let dev = c.alias(
            ("dev_branch", raw.dev_branch),
            DEV_BRANCH,
            ("parent_branch", raw.parent_branch),
        );
        // `dev_branch: dev` is what the runner passes when the workflow names no dev root.
        let dev_branch_given = dev
            .as_ref()
            .is_some_and(|(d, from)| *from == "parent_branch" || d != DEV_BRANCH);
        let week = Expiry::After(Duration::from_secs(7 * 86400));
        let preview_ttl = match c.alias(
            ("preview_ttl", raw.preview_ttl),
            PREVIEW_TTL,
            ("expires_at", raw.expires_at),
        ) {
            Some((t, "expires_at")) => {
                c.parse("expires_at", Some(t), week, |t| v::rfc3339_expiry(t, now))
            }
            Some((t, _)) => c.parse("preview_ttl", Some(t), week, |t| v::branch_expiry(t, now)),
            None => week,
        };
        let expiry = |c: &mut Check, input: &str, value, days: u64| {
            c.parse(
                input,
                value,
                Expiry::After(Duration::from_secs(days * 86400)),
                |t| v::expiry(t, now),
            )
        };
        let rollback_snapshot_ttl = expiry(
            &mut c,
            "rollback_snapshot_ttl",
            raw.rollback_snapshot_ttl,
            30,
        );
        let candidate_snapshot_ttl = expiry(
            &mut c,
            "candidate_snapshot_ttl",
            raw.candidate_snapshot_ttl,
            1,
        );
        let config = Config {
            mode,
            api_key: raw.api_key.unwrap_or_default(),
            project_id,
            api_host,
            github_token: raw.github_token,
            repo,
            command,
            prod_branch: raw.prod_branch,
            dev_branch_given,
            dev_branch: dev.map_or_else(|| DEV_BRANCH.into(), |(d, _)| d),
            promotion_branch: raw.promotion_branch,
            preview_branch_name,
            branch_name: raw.branch_name,
            preview_ttl,
            database: raw.database.unwrap_or_else(|| "neondb".into()),
            role: raw.role.unwrap_or_else(|| "neondb_owner".into()),
            ssl: c.parse("ssl", raw.ssl, SslMode::Require, v::ssl),
            snapshot_id: raw.snapshot_id,
            rollback_snapshot_ttl,
            candidate_snapshot_ttl,
            keep_old_branch: c.parse("keep_old_branch", raw.keep_old_branch, false, v::boolean),
            rollback_snapshots_kept: c.parse(
                "rollback_snapshots_kept",
                raw.rollback_snapshots_kept,
                3,
                v::count,
            ),
            on_destructive_change: c.parse(
                "on_destructive_change",
                raw.on_destructive_change,
                Policy::Warn,
                v::policy,
            ),
            on_prod_changed: c.parse(
                "on_prod_changed",
                raw.on_prod_changed,
                Policy::Warn,
                v::policy,
            ),
            branch: raw.branch,
            checkpoint_name: raw
                .checkpoint_name
                .unwrap_or_else(|| "prod_snap_{date}_checkpoint".into()),
            migrations: raw.migrations.map(|m| m.trim().to_string()),
            branch_type: c.parse(
                "branch_type",
                raw.branch_type,
                BranchType::Default,
                v::branch_type,
            ),
            masking_rules: c.parse("masking_rules", raw.masking_rules, None, |m| {
                v::masking_rules(m).map(Some)
            }),
            suspend_timeout: c.parse(
                "suspend_timeout",
                raw.suspend_timeout,
                None,
                v::suspend_timeout,
            ),
            prisma: c.parse("prisma", raw.prisma, false, v::boolean),
            get_auth_url: c.parse("get_auth_url", raw.get_auth_url, false, v::boolean),
            get_data_api_url: c.parse("get_data_api_url", raw.get_data_api_url, false, v::boolean),
            comment: c.parse("comment", raw.comment, true, v::boolean),
            dry_run: c.parse("dry_run", raw.dry_run, false, v::boolean),
            timeout: c.parse("timeout", raw.timeout, Duration::from_secs(600), v::timeout),
            pr: c.parse("pr", raw.pr, None, v::pr),
            git_ref: raw.git_ref,
            sha: raw.sha,
        };
        if c.errors.is_empty() {
            Ok(config)
        } else {
            Err(c.errors)
        }
    }

    /// A setting as the user writes it in this mode (`` `api_key:` `` or `` `--api-key` ``).
    pub fn input(&self, name: &str) -> String {
        match (self.mode, name) {
            // The CLI has one flag for dev; create-branch-action's name is an Action input.
            (Mode::Cli, "parent_branch") => input_name(self.mode, "dev_branch"),
            (Mode::Cli, "snapshot_id") => "the `<SNAPSHOT>` argument".into(),
            _ => input_name(self.mode, name),
        }
    }

    /// A setting with a value, as the user writes it in this mode (`` `parent_branch: dev` ``
    /// or `` `--dev-branch dev` ``).
    pub fn input_value(&self, name: &str, value: &str) -> String {
        format!("{} {value}`", self.input(name).trim_end_matches('`'))
    }

    /// How to run a command in this mode (`` `command: setup` `` or `` `neon-promote setup` ``).
    pub fn command_hint(&self, command: &str) -> String {
        match self.mode {
            Mode::Action => format!("`command: {command}`"),
            Mode::Cli => format!("`neon-promote {command}`"),
        }
    }
}

#[cfg(test)]
mod tests;
