//! One file per command, each an `async fn(&Ctx, …) -> anyhow::Result<Outcome>`: it makes its
//! Neon calls through `ctx.step`, returns what it did as an `Outcome`, and never prints outputs,
//! Markdown or comments (`main` renders the outcome). This file holds what several commands
//! share: expiry times, the PR a run reports to, and the shape of a failure message.

mod cleanup;
mod preview;
mod promote;
mod refresh_dev;
mod restore;
mod rollback;
mod setup;
mod sweep;

pub use cleanup::cleanup;
pub use preview::preview;
pub use promote::promote;
pub use refresh_dev::refresh_dev;
pub use rollback::rollback;
pub use setup::setup;
pub use sweep::sweep;

use std::fmt::Display;

use jiff::Timestamp;

use crate::config::Expiry;
use crate::event::PullRequestInfo;
use crate::outcome::PullRef;

/// What a failed preview or cleanup leaves production in.
pub(crate) const PROD_UNTOUCHED: &str = "production is not affected";

/// The `expires_at` to send for a TTL input, counted from now: RFC 3339 in UTC with whole
/// seconds (Neon's documented form); `None` for `none`.
pub(crate) fn expires_at(ttl: &Expiry) -> Option<String> {
    expires_at_from(ttl, Timestamp::now())
}

fn expires_at_from(ttl: &Expiry, now: Timestamp) -> Option<String> {
    let at = match ttl {
        Expiry::After(duration) => now.checked_add(*duration).ok()?,
        Expiry::At(at) => *at,
        Expiry::Never => return None,
    };
    // Truncated, not rounded: rounding up could land a 30-day TTL past Neon's 30-day limit.
    Some(at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// The pull request a preview or cleanup reports to.
pub(crate) fn pull_ref(pr: &PullRequestInfo) -> PullRef {
    PullRef {
        number: pr.number,
        title: pr.title.clone(),
    }
}

/// The one-line error of a failed command: what failed (with the server's words), the state
/// production is in, and what to do next.
pub(crate) fn failure(
    what: impl Display,
    cause: &anyhow::Error,
    state: &str,
    next: &str,
) -> anyhow::Error {
    anyhow::anyhow!("{what}: {cause:#}; {state}; {next}")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn expiry_is_rfc3339_with_whole_seconds() {
        let now: Timestamp = "2026-11-23T10:15:00.900Z".parse().unwrap();
        let week = Expiry::After(Duration::from_secs(7 * 86_400));
        assert_eq!(
            expires_at_from(&week, now).as_deref(),
            Some("2026-11-30T10:15:00Z")
        );
        let at = Expiry::At("2026-12-01T08:00:00.5+02:00".parse().unwrap());
        assert_eq!(
            expires_at_from(&at, now).as_deref(),
            Some("2026-12-01T06:00:00Z")
        );
        assert_eq!(expires_at_from(&Expiry::Never, now), None);
    }

    #[test]
    fn failures_read_as_one_line() {
        let cause = anyhow::anyhow!("conflict: branch exists").context("Create preview branch");
        let error = failure(
            "could not create `x`",
            &cause,
            PROD_UNTOUCHED,
            "re-run the job",
        );
        assert_eq!(
            error.to_string(),
            "could not create `x`: Create preview branch: conflict: branch exists; production is not affected; re-run the job"
        );
    }
}
