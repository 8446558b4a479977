//! The names neon-promote gives things, and how it recognises them again later: preview branch
//! names (from the `preview_branch_name` template) and snapshot names (which carry the UTC time,
//! the PR number, the run and the short commit sha, so `latest`, retention, sweep and the
//! re-run checks can find our snapshots among everybody else's). Pure functions only: no I/O.

mod preview;
mod snapshot;

pub use preview::{MAX_BRANCH_NAME, literal_branch_name, preview_branch_name, preview_pr_number};
pub use snapshot::{Of, SnapshotKind, SnapshotName, WorkflowRun, checkpoint_name};

/// How many characters of a commit sha names carry (`git log --oneline`).
pub const SHORT_SHA: usize = 7;

/// The short form of a commit sha: its first 7 characters, lowercased.
pub fn short_sha(sha: &str) -> String {
    sha.trim()
        .chars()
        .take(SHORT_SHA)
        .collect::<String>()
        .to_ascii_lowercase()
}
