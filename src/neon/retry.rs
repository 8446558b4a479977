//! The one retry policy for Neon API calls. It decides which failures are repeated, how long
//! to wait between tries and when to give up; it does not know what a request does (the client
//! re-reads state after an ambiguous mutation), how long Neon asked us to hold (the governor
//! holds every request until a `Retry-After`), and it does not poll operations (`poll`).
//
// Why this policy (SPEC §3):
// - 423 (another operation holds the project), 429 and 503 mean the request was not applied:
//   always safe to repeat, for any method. The governor adds Neon's `Retry-After` on top of the
//   backoff here, so a `Retry-After` of 0 or in the past still waits the backoff: no hot loop.
// - A connection error, a timeout or another 5xx is ambiguous: the request may have been
//   applied. Only idempotent requests (GET, PATCH) are repeated here; for a POST or DELETE the
//   error goes back to the client, which re-reads state before deciding to repeat it.
// - A refused connection, a name that does not resolve or a TLS failure reached no server, so
//   any method may be repeated; but waiting does not heal them, so three tries (about a second)
//   are enough before the run fails naming `api_host`.
// - Waits grow exponentially (200 ms doubling to a 5 s cap) with equal jitter (half fixed, half
//   random), so parallel jobs hitting the same lock or limit spread out, and no wait is near
//   zero. They never run past the `timeout` input: when the next wait would pass it, the call
//   ends with `NeonError::Deadline` naming what it was waiting for and the last error.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::error::NeonError;

/// First backoff step; each further try doubles it.
const BASE: Duration = Duration::from_millis(200);
/// Longest single backoff wait (a `Retry-After` may ask for longer).
const CAP: Duration = Duration::from_secs(5);
/// Tries of a fault that waiting does not heal (`NeonError::Unreachable`).
const UNREACHABLE_TRIES: u32 = 3;

/// What one try needs to know: where the call's `timeout` ends, and whether it is a repeat.
#[derive(Debug, Clone, Copy)]
pub(super) struct Attempt {
    pub deadline: Instant,
    pub retry: bool,
}

/// Backoff waits of one call, bounded by its deadline.
pub(super) struct Backoff {
    timeout: Duration,
    deadline: Instant,
    attempt: u32,
}

impl Backoff {
    pub(super) fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            deadline: Instant::now() + timeout,
            attempt: 0,
        }
    }

    pub(super) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Sleeps before the next try, or ends the call with `Deadline` (carrying `last`) when the
    /// wait would pass it.
    pub(super) async fn pause(&mut self, what: &str, last: NeonError) -> Result<(), NeonError> {
        let wait = backoff(self.attempt);
        if Instant::now() + wait > self.deadline {
            return Err(NeonError::Deadline {
                timeout: self.timeout,
                waiting_for: what.to_string(),
                last: Some(Box::new(last)),
            });
        }
        tokio::time::sleep(wait).await;
        self.attempt += 1;
        Ok(())
    }
}

/// Calls `f` until it succeeds, fails for good, or the deadline would be passed.
pub(super) async fn retry<T, F, Fut>(
    timeout: Duration,
    idempotent: bool,
    what: &str,
    mut f: F,
) -> Result<T, NeonError>
where
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<T, NeonError>>,
{
    let mut backoff = Backoff::new(timeout);
    let mut unreachable = 0;
    let mut retry = false;
    loop {
        let attempt = Attempt {
            deadline: backoff.deadline(),
            retry,
        };
        let err = match f(attempt).await {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        if let NeonError::Unreachable { .. } = err {
            unreachable += 1;
            if unreachable >= UNREACHABLE_TRIES {
                return Err(err);
            }
        } else if !retryable(&err, idempotent) {
            return Err(err);
        }
        backoff
            .pause(what, err)
            .await
            .map_err(|deadline| match deadline {
                // An unreachable host stays the error when the deadline comes first.
                NeonError::Deadline {
                    last: Some(last), ..
                } if matches!(*last, NeonError::Unreachable { .. }) => *last,
                other => other,
            })?;
        retry = true;
    }
}

/// 423, 429 and 503 were not applied; anything ambiguous is repeated only when idempotent.
fn retryable(err: &NeonError, idempotent: bool) -> bool {
    match err {
        NeonError::Locked(_) | NeonError::RateLimited(_) => true,
        NeonError::Server { status: 503, .. } => true,
        _ => idempotent && is_ambiguous(err),
    }
}

/// The request may or may not have been applied: a passing transport fault or a 5xx other
/// than 503.
pub(super) fn is_ambiguous(err: &NeonError) -> bool {
    match err {
        NeonError::Transport(_) => true,
        NeonError::Server { status, .. } => *status != 503,
        _ => false,
    }
}

/// Equal jitter: uniform between half and all of `min(CAP, BASE * 2^attempt)`.
pub(super) fn backoff(attempt: u32) -> Duration {
    let ceiling = BASE.saturating_mul(1 << attempt.min(16)).min(CAP);
    ceiling / 2 + (ceiling / 2).mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::neon::ApiError;

    /// Runs `retry` over a script of answers, returning the result and the number of calls.
    async fn run(
        idempotent: bool,
        deadline: u64,
        script: Vec<Result<u32, NeonError>>,
    ) -> (Result<u32, NeonError>, usize) {
        let calls = Cell::new(0);
        let script = std::cell::RefCell::new(script.into_iter());
        let timeout = Duration::from_secs(deadline);
        let result = retry(timeout, idempotent, "the test call", |attempt| {
            assert_eq!(attempt.retry, calls.get() > 0);
            calls.set(calls.get() + 1);
            let next = script.borrow_mut().next().unwrap_or(Ok(0));
            async move { next }
        })
        .await;
        (result, calls.get())
    }

    fn server(status: u16) -> NeonError {
        NeonError::Server {
            status,
            api: ApiError::default(),
        }
    }

    fn unreachable() -> NeonError {
        NeonError::Unreachable {
            host: "https://neon.invalid".into(),
            reason: "connection refused".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn locked_and_503_are_retried_for_posts() {
        let script = vec![
            Err(NeonError::Locked(ApiError::default())),
            Err(server(503)),
            Err(NeonError::RateLimited(ApiError::default())),
            Ok(7),
        ];
        let (result, calls) = run(false, 60, script).await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls, 4);
    }

    #[tokio::test(start_paused = true)]
    async fn ambiguous_failures_are_retried_only_when_idempotent() {
        let t = || NeonError::Transport("connection reset".into());
        let (result, calls) = run(true, 60, vec![Err(t()), Err(server(502)), Ok(1)]).await;
        assert_eq!((result.unwrap(), calls), (1, 3));
        let (result, calls) = run(false, 60, vec![Err(t()), Ok(1)]).await;
        assert!(matches!(result, Err(NeonError::Transport(_))));
        assert_eq!(calls, 1);
        let (result, calls) = run(false, 60, vec![Err(server(500)), Ok(1)]).await;
        assert!(matches!(result, Err(NeonError::Server { status: 500, .. })));
        assert_eq!(calls, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn client_errors_are_not_retried() {
        let err = NeonError::Conflict(ApiError::default());
        let (result, calls) = run(true, 60, vec![Err(err), Ok(1)]).await;
        assert!(matches!(result, Err(NeonError::Conflict(_))));
        assert_eq!(calls, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unreachable_host_gets_three_tries_in_about_a_second() {
        let start = Instant::now();
        let script = (0..10).map(|_| Err(unreachable())).collect();
        let (result, calls) = run(false, 600, script).await;
        assert!(matches!(result, Err(NeonError::Unreachable { .. })));
        assert_eq!(calls, 3);
        assert!(
            start.elapsed() <= Duration::from_millis(600),
            "{:?}",
            start.elapsed()
        );
        let (result, calls) = run(false, 600, vec![Err(unreachable()), Ok(2)]).await;
        assert_eq!((result.unwrap(), calls), (2, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_names_the_wait_and_the_last_error() {
        let start = Instant::now();
        let locked = || {
            Err(NeonError::Locked(ApiError {
                message: "project is busy".into(),
                ..Default::default()
            }))
        };
        let (result, calls) = run(false, 10, (0..1000).map(|_| locked()).collect()).await;
        let err = result.unwrap_err();
        assert!(
            matches!(&err, NeonError::Deadline { timeout, .. } if *timeout == Duration::from_secs(10))
        );
        let text = err.to_string();
        assert!(
            text.contains("the test call") && text.contains("project is busy"),
            "{text}"
        );
        assert!(start.elapsed() <= Duration::from_secs(10));
        assert!(calls > 2);
    }

    #[test]
    fn backoff_is_jittered_capped_and_never_near_zero() {
        for attempt in 0..40 {
            let ceiling = BASE.saturating_mul(1 << attempt.min(16)).min(CAP);
            let wait = backoff(attempt);
            assert!(wait <= ceiling && wait >= ceiling / 2, "{wait:?}");
        }
        assert!(backoff(30) <= CAP);
    }
}
