//! The one retry policy for Neon API calls. It decides which failures are repeated, how long
//! to wait between tries and when to give up; it does not know what a request does (the client
//! re-reads state after an ambiguous mutation) and it does not poll operations (`crate::poll`).
//
// Why this policy (SPEC §3):
// - 423 (another operation holds the project) and 503 mean the request was not applied: always
//   safe to repeat, for any method.
// - 429: Neon allows 700 requests a minute for the whole organisation (bursts of 40/s), shared
//   with other jobs; we wait at least as long as `Retry-After` says (seconds or an HTTP date).
// - A connection error, a timeout or another 5xx is ambiguous: the request may have been
//   applied. Only idempotent requests (GET, DELETE, PATCH) are repeated here; for a POST the
//   error goes back to the client, which re-reads state before deciding to repeat it.
// - Waits grow exponentially (200 ms doubling to a 5 s cap) with full jitter, so parallel jobs
//   hitting the same lock or limit spread out, and never run past the `timeout` input: when
//   the next wait would pass it, the call ends with `NeonError::Deadline` naming what it was
//   waiting for and the last error.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::neon::NeonError;

/// First backoff step; each further try doubles it.
const BASE: Duration = Duration::from_millis(200);
/// Longest single backoff wait (a `Retry-After` may ask for longer).
const CAP: Duration = Duration::from_secs(5);

/// How long retries may go on: the `timeout` input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub deadline: Duration,
}

/// Calls `f` until it succeeds, fails for good, or the deadline would be passed.
pub async fn retry<T, F, Fut>(
    policy: &RetryPolicy,
    idempotent: bool,
    what: &str,
    mut f: F,
) -> Result<T, NeonError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, NeonError>>,
{
    let start = Instant::now();
    let mut attempt = 0;
    loop {
        let err = match f().await {
            Ok(value) => return Ok(value),
            Err(err) if retryable(&err, idempotent) => err,
            Err(err) => return Err(err),
        };
        let wait = match &err {
            NeonError::RateLimited {
                retry_after: Some(after),
                ..
            } => *after,
            _ => backoff(attempt),
        };
        if start.elapsed() + wait > policy.deadline {
            return Err(NeonError::Deadline(
                policy.deadline,
                format!("waiting for {what}; last error: {err}"),
            ));
        }
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// 423, 429 and 503 were not applied; anything ambiguous is repeated only when idempotent.
fn retryable(err: &NeonError, idempotent: bool) -> bool {
    match err {
        NeonError::Locked(_) | NeonError::RateLimited { .. } => true,
        NeonError::Server { status: 503, .. } => true,
        _ => idempotent && is_ambiguous(err),
    }
}

/// The request may or may not have been applied: a transport failure or a 5xx other than 503.
pub fn is_ambiguous(err: &NeonError) -> bool {
    match err {
        NeonError::Transport(_) => true,
        NeonError::Server { status, .. } => *status != 503,
        _ => false,
    }
}

/// Full jitter: a uniform wait between zero and `min(CAP, BASE * 2^attempt)`.
pub fn backoff(attempt: u32) -> Duration {
    let ceiling = BASE.saturating_mul(1 << attempt.min(16)).min(CAP);
    ceiling.mul_f64(fastrand::f64())
}

/// `Retry-After`: delay-seconds or an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let secs = at.as_second().saturating_sub(now.as_second());
    Some(Duration::from_secs(secs.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::neon::ApiError;

    fn policy(secs: u64) -> RetryPolicy {
        RetryPolicy {
            deadline: Duration::from_secs(secs),
        }
    }

    /// Runs `retry` over a script of answers, returning the result and the number of calls.
    async fn run(
        idempotent: bool,
        deadline: u64,
        script: Vec<Result<u32, NeonError>>,
    ) -> (Result<u32, NeonError>, usize) {
        let calls = Cell::new(0);
        let script = std::cell::RefCell::new(script.into_iter());
        let result = retry(&policy(deadline), idempotent, "the test call", || {
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

    #[tokio::test(start_paused = true)]
    async fn locked_and_503_are_retried_for_posts() {
        let script = vec![
            Err(NeonError::Locked(ApiError::default())),
            Err(server(503)),
            Ok(7),
        ];
        let (result, calls) = run(false, 60, script).await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls, 3);
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
    async fn rate_limit_waits_for_retry_after() {
        let start = Instant::now();
        let limited = NeonError::RateLimited {
            retry_after: Some(Duration::from_secs(3)),
            api: ApiError::default(),
        };
        let (result, calls) = run(false, 60, vec![Err(limited), Ok(1)]).await;
        assert_eq!((result.unwrap(), calls), (1, 2));
        assert_eq!(start.elapsed().as_secs(), 3);
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
        assert!(matches!(err, NeonError::Deadline(d, _) if d == Duration::from_secs(10)));
        let text = err.to_string();
        assert!(
            text.contains("the test call") && text.contains("project is busy"),
            "{text}"
        );
        assert!(start.elapsed() <= Duration::from_secs(10));
        assert!(calls > 2);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_past_the_deadline_gives_up_at_once() {
        let start = Instant::now();
        let limited = NeonError::RateLimited {
            retry_after: Some(Duration::from_secs(120)),
            api: ApiError::default(),
        };
        let (result, _) = run(true, 60, vec![Err(limited)]).await;
        assert!(matches!(result, Err(NeonError::Deadline(..))));
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        for attempt in 0..40 {
            let ceiling = BASE.saturating_mul(1 << attempt.min(16)).min(CAP);
            assert!(backoff(attempt) <= ceiling);
        }
        assert!(backoff(30) <= CAP);
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        let now: jiff::Timestamp = "1994-11-06T08:49:30Z".parse().unwrap();
        assert_eq!(
            parse_retry_after(" 12 ", now),
            Some(Duration::from_secs(12))
        );
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(parse_retry_after(date, now), Some(Duration::from_secs(7)));
        let past: jiff::Timestamp = "1994-11-07T00:00:00Z".parse().unwrap();
        assert_eq!(parse_retry_after(date, past), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
