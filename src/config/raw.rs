//! Every setting as text, before validation, from wherever it came: the Action's `INPUT_*`
//! variables, the CLI's flags and `NEON_*` variables. Which source wins depends on the mode.

use serde::Deserialize;

use crate::secret::Secret;

/// Every setting as text; `None` and blank both mean "not given". Secrets redact themselves.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawInputs {
    pub api_key: Option<Secret>,
    pub project_id: Option<String>,
    pub api_host: Option<String>,
    pub github_token: Option<Secret>,
    /// CLI only: `owner/name`, for comments and sweep outside Actions.
    pub repo: Option<String>,
    pub command: Option<String>,
    pub prod_branch: Option<String>,
    pub dev_branch: Option<String>,
    pub promotion_branch: Option<String>,
    pub preview_branch_name: Option<String>,
    pub preview_ttl: Option<String>,
    pub database: Option<String>,
    pub role: Option<String>,
    pub ssl: Option<String>,
    pub snapshot_id: Option<String>,
    pub rollback_snapshot_ttl: Option<String>,
    pub candidate_snapshot_ttl: Option<String>,
    pub keep_old_branch: Option<String>,
    pub rollback_snapshots_kept: Option<String>,
    pub on_destructive_change: Option<String>,
    pub on_prod_changed: Option<String>,
    pub branch: Option<String>,
    pub checkpoint_name: Option<String>,
    pub migrations: Option<String>,
    pub comment: Option<String>,
    pub dry_run: Option<String>,
    pub timeout: Option<String>,
    // create-branch-action 6.4's inputs, under their own names.
    pub branch_name: Option<String>,
    pub parent_branch: Option<String>,
    pub expires_at: Option<String>,
    pub branch_type: Option<String>,
    pub masking_rules: Option<String>,
    pub suspend_timeout: Option<String>,
    pub prisma: Option<String>,
    pub get_auth_url: Option<String>,
    pub get_data_api_url: Option<String>,
    // Outside GitHub: the pull request and commit a command is about.
    pub pr: Option<String>,
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    pub sha: Option<String>,
}

impl RawInputs {
    /// The Action's `INPUT_*` variables. A job-level `NEON_*` variable never overrides an
    /// input the workflow gave (it only fills what the inputs leave out).
    pub fn for_action() -> RawInputs {
        let inputs: RawInputs = envy::prefixed("INPUT_").from_env().unwrap_or_default();
        inputs.or(Self::neon_env())
    }

    /// The CLI's environment: `NEON_*` variables, then `INPUT_*` ones.
    pub fn for_cli() -> RawInputs {
        let inputs: RawInputs = envy::prefixed("INPUT_").from_env().unwrap_or_default();
        Self::neon_env().or(inputs)
    }

    fn neon_env() -> RawInputs {
        envy::prefixed("NEON_").from_env().unwrap_or_default()
    }

    /// Each setting from `self` where given, else from `other`.
    pub fn or(self, other: RawInputs) -> RawInputs {
        macro_rules! pick {
            (secrets: $($s:ident),*; text: $($f:ident),*) => {
                RawInputs {
                    $($s: given_secret(self.$s).or(given_secret(other.$s)),)*
                    $($f: given(self.$f).or(given(other.$f)),)*
                }
            };
        }
        pick!(
            secrets: api_key, github_token;
            text: project_id,
            api_host,
            repo,
            command,
            prod_branch,
            dev_branch,
            promotion_branch,
            preview_branch_name,
            preview_ttl,
            database,
            role,
            ssl,
            snapshot_id,
            rollback_snapshot_ttl,
            candidate_snapshot_ttl,
            keep_old_branch,
            rollback_snapshots_kept,
            on_destructive_change,
            on_prod_changed,
            branch,
            checkpoint_name,
            migrations,
            comment,
            dry_run,
            timeout,
            branch_name,
            parent_branch,
            expires_at,
            branch_type,
            masking_rules,
            suspend_timeout,
            prisma,
            get_auth_url,
            get_data_api_url,
            pr,
            git_ref,
            sha
        )
    }
}

/// Trimmed, and `None` when blank: the runner passes an empty string for an empty input.
fn given(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn given_secret(value: Option<Secret>) -> Option<Secret> {
    given(value.map(|s| s.expose().to_string())).map(Secret::new)
}
