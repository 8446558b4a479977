//! The flag groups subcommands are made of, each filling its part of the raw settings, so a
//! subcommand takes only the flags it uses and each flag is declared once.

use clap::Args;

use crate::config::RawInputs;
use crate::secret::Secret;

/// Where and as whom to call Neon, and how the run behaves.
#[derive(Debug, Args)]
pub struct Api {
    /// Neon API key [env: NEON_API_KEY]
    #[arg(long, hide_env_values = true)]
    pub api_key: Option<String>,
    /// Neon project id [env: NEON_PROJECT_ID]
    #[arg(long)]
    pub project_id: Option<String>,
    /// Neon API base URL [default: https://console.neon.tech/api/v2]
    #[arg(long)]
    pub api_host: Option<String>,
    /// Upper bound for waiting on operations and locks [default: 10m]
    #[arg(long)]
    pub timeout: Option<String>,
    /// Print every call it would make; change nothing
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub dry_run: Option<String>,
}

/// The pull request a preview command is about.
#[derive(Debug, Args)]
pub struct Pr {
    /// Pull request number
    #[arg(long)]
    pub pr: Option<String>,
    /// Head branch of the pull request, for the {ref} placeholder
    #[arg(long = "ref")]
    pub git_ref: Option<String>,
    /// Head commit sha, for the {sha} placeholder
    #[arg(long)]
    pub sha: Option<String>,
}

/// GitHub access for pull request comments and checks.
#[derive(Debug, Args)]
pub struct GitHubFlags {
    /// Token for pull request comments and checks [env: GITHUB_TOKEN]
    #[arg(long, hide_env_values = true)]
    pub github_token: Option<String>,
    /// Repository (OWNER/NAME) the pull requests belong to
    #[arg(long)]
    pub repo: Option<String>,
    /// Post and update the sticky pull request comment [default: true]
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub comment: Option<String>,
}

#[derive(Debug, Args)]
pub struct Prod {
    /// Production branch, name or id [default: the project's default branch]
    #[arg(long)]
    pub prod_branch: Option<String>,
}

#[derive(Debug, Args)]
pub struct Dev {
    /// Dev root branch, name or id [default: dev]
    #[arg(long)]
    pub dev_branch: Option<String>,
}

/// Rollback points: how long they live and how many are kept.
#[derive(Debug, Args)]
pub struct Retention {
    /// Expiry of rollback points and dev's baseline snapshot [default: 30d]
    #[arg(long)]
    pub rollback_snapshot_ttl: Option<String>,
    /// How many of its own rollback points to keep [default: 3]
    #[arg(long)]
    pub rollback_snapshots_kept: Option<String>,
}

/// The branch a restore replaces.
#[derive(Debug, Args)]
pub struct KeepOld {
    /// Keep `<branch> (old)` after a verified restore
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub keep_old_branch: Option<String>,
}

/// The promotion's guards.
#[derive(Debug, Args)]
pub struct Guards {
    /// When the promotion drops a table or column or changes a type: warn, fail or ignore [default: warn]
    #[arg(long)]
    pub on_destructive_change: Option<String>,
    /// When prod was written since dev's baseline: warn, fail or ignore [default: warn]
    #[arg(long)]
    pub on_prod_changed: Option<String>,
}

/// How preview branches are named.
#[derive(Debug, Args)]
pub struct PreviewNames {
    /// Name template with {pr}, {ref}, {sha} [default: preview/pr-{pr}-{ref}]
    #[arg(long)]
    pub preview_branch_name: Option<String>,
    /// A literal branch name, instead of the template
    #[arg(long)]
    pub branch_name: Option<String>,
}

#[derive(Debug, Args)]
pub struct PreviewFlags {
    #[command(flatten)]
    pub names: PreviewNames,
    /// Expiry: 30m, 12h, 7d, an RFC 3339 time, or none (at most 30 days) [default: 7d]
    #[arg(long)]
    pub preview_ttl: Option<String>,
    /// default, or schema-only (dev's schema without its data)
    #[arg(long)]
    pub branch_type: Option<String>,
    /// JSON array of masking rules: an anonymized preview
    #[arg(long)]
    pub masking_rules: Option<String>,
    /// Seconds of inactivity before the compute suspends (0: Neon's default)
    #[arg(long)]
    pub suspend_timeout: Option<String>,
    /// Add Prisma's connection parameters to the URLs
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub prisma: Option<String>,
    /// Also output the branch's Neon Auth URL
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub get_auth_url: Option<String>,
    /// Also output the branch's Data API URL
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub get_data_api_url: Option<String>,
}

/// Which connection strings to build.
#[derive(Debug, Args)]
pub struct Conn {
    /// Database of the connection strings [default: neondb]
    #[arg(long)]
    pub database: Option<String>,
    /// Role of the connection strings [default: neondb_owner]
    #[arg(long)]
    pub role: Option<String>,
    /// sslmode: require, verify-ca, verify-full or omit [default: require]
    #[arg(long)]
    pub ssl: Option<String>,
}

/// What refresh-dev and setup take.
pub fn roots(raw: &mut RawInputs, api: Api, prod: Prod, dev: Dev, retention: Retention) {
    api.fill(raw);
    raw.prod_branch = prod.prod_branch;
    raw.dev_branch = dev.dev_branch;
    retention.fill(raw);
}

impl Api {
    pub fn fill(self, raw: &mut RawInputs) {
        raw.api_key = self.api_key.map(Secret::new);
        raw.project_id = self.project_id;
        raw.api_host = self.api_host;
        raw.timeout = self.timeout;
        raw.dry_run = self.dry_run;
    }
}

impl Pr {
    pub fn fill(self, raw: &mut RawInputs) {
        raw.pr = self.pr;
        raw.git_ref = self.git_ref;
        raw.sha = self.sha;
    }
}

impl GitHubFlags {
    pub fn fill(self, raw: &mut RawInputs) {
        raw.github_token = self.github_token.map(Secret::new);
        raw.repo = self.repo;
        raw.comment = self.comment;
    }
}

impl Retention {
    pub fn fill(self, raw: &mut RawInputs) {
        raw.rollback_snapshot_ttl = self.rollback_snapshot_ttl;
        raw.rollback_snapshots_kept = self.rollback_snapshots_kept;
    }
}

impl PreviewNames {
    pub fn fill(self, raw: &mut RawInputs) {
        raw.preview_branch_name = self.preview_branch_name;
        raw.branch_name = self.branch_name;
    }
}

impl PreviewFlags {
    pub fn fill(self, raw: &mut RawInputs) {
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
    pub fn fill(self, raw: &mut RawInputs) {
        raw.database = self.database;
        raw.role = self.role;
        raw.ssl = self.ssl;
    }
}
