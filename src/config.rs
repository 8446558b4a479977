//! Inputs → a typed, validated `Config`, in two steps (raw strings, then one function that owns
//! every usage error). Everything here is checked before the first network call; a problem is a
//! `UsageError` (exit 2) that names the input and what it accepts.

use std::time::Duration;

/// Which command to run (`command` input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandName {
    Auto,
    Preview,
    Cleanup,
    Promote,
    Rollback,
    RefreshDev,
    Setup,
    Sweep,
}

/// `ssl` input: the `sslmode` of the connection strings, or none (`omit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Require,
    VerifyCa,
    VerifyFull,
    Omit,
}

/// A TTL input: a duration from now, a fixed time, or no expiry (`none`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expiry {
    After(Duration),
    At(jiff::Timestamp),
    Never,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Empty only where a fork PR is skipped (decided by event routing).
    pub api_key: String,
    pub project_id: String,
    /// Base URL without a trailing slash.
    pub api_host: String,
    pub github_token: Option<String>,
    pub command: CommandName,
    /// `None`: the project's default branch.
    pub prod_branch: Option<String>,
    pub dev_branch: String,
    /// `None`: the repository's default branch (from the event).
    pub promotion_branch: Option<String>,
    pub preview_branch_name: String,
    pub preview_ttl: Expiry,
    pub database: String,
    pub role: String,
    pub ssl: SslMode,
    pub snapshot_id: Option<String>,
    pub rollback_snapshot_ttl: Expiry,
    pub candidate_snapshot_ttl: Expiry,
    pub keep_old_branch: bool,
    pub comment: bool,
    pub dry_run: bool,
    pub timeout: Duration,
}

/// An invalid input or workflow configuration, found before any Neon call: exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    /// The input (or event) at fault, e.g. `preview_ttl`.
    pub input: String,
    pub message: String,
}
