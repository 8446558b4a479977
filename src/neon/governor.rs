//! The request governor: every Neon request of a run passes through it, and all clones of a
//! client share it. It holds every request while Neon has asked us to wait (`Retry-After` on a
//! 429 or 503), keeps operation polls within the run's poll budget, turns transport faults into
//! typed errors, and counts what was sent. It does not decide whether to retry (`retry`) or
//! what a request means (`client`).
//
// Why one governor for the run (SPEC §3): Neon's limit is 700 requests a minute for the whole
// organisation, so a `Retry-After` is about us, not about one request: a second task that keeps
// sending while the first waits would only earn more 429s. A wait that outlasts what `timeout`
// leaves fails at once, naming the moment Neon accepts requests again, instead of sleeping into
// a deadline error that hides it. Requests already in flight are left to finish.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::error::{ApiError, NeonError, from_status};
use super::transport::{Request, Transport};

/// Poll budget of a run (SPEC §5): at most this many polls in any second…
const POLLS_PER_SECOND: usize = 4;
/// …and in any minute (a sixth of the organisation's 700).
const POLLS_PER_MINUTE: usize = 120;

/// Wall-clock time, for what needs a date (an HTTP-date `Retry-After`, operation ages). Waits
/// use `tokio::time::Instant`, so tests and the simulation can pause and drive time.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Option<(jiff::Timestamp, Instant)>,
}

impl Clock {
    pub fn system() -> Self {
        Self { origin: None }
    }

    /// A clock that reads `start` now and advances with tokio's (possibly paused) time.
    pub fn starting_at(start: jiff::Timestamp) -> Self {
        Self {
            origin: Some((start, Instant::now())),
        }
    }

    pub fn now(&self) -> jiff::Timestamp {
        match self.origin {
            None => jiff::Timestamp::now(),
            Some((start, at)) => start.checked_add(at.elapsed()).unwrap_or(start),
        }
    }
}

/// One request as the governor let it go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// Since the client was made.
    pub at: Duration,
    /// An operation poll.
    pub poll: bool,
    /// A repeat of a request that failed.
    pub retry: bool,
}

/// What a run sent, for the log and the benchmark (shared by all clones of a client).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestStats {
    pub sent: Vec<Sent>,
}

impl RequestStats {
    pub fn total(&self) -> usize {
        self.sent.len()
    }

    pub fn polls(&self) -> usize {
        self.sent.iter().filter(|s| s.poll).count()
    }

    pub fn retries(&self) -> usize {
        self.sent.iter().filter(|s| s.retry).count()
    }

    /// The most requests (only polls if `polls_only`) sent within any `window`.
    pub fn peak(&self, window: Duration, polls_only: bool) -> usize {
        let times: Vec<Duration> = self
            .sent
            .iter()
            .filter(|s| s.poll || !polls_only)
            .map(|s| s.at)
            .collect();
        let mut first = 0;
        let mut peak = 0;
        for (last, at) in times.iter().enumerate() {
            while *at - times[first] >= window {
                first += 1;
            }
            peak = peak.max(last + 1 - first);
        }
        peak
    }
}

/// How the governor treats one request.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pass {
    pub poll: bool,
    pub retry: bool,
    /// Where the caller's `timeout` ends: a hold past it fails at once.
    pub deadline: Instant,
}

pub(super) struct Governor {
    transport: Arc<dyn Transport>,
    clock: Clock,
    /// `api_host`, named when it cannot be reached.
    host: String,
    started: Instant,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    hold: Option<Hold>,
    /// Send times of recent polls (reserved slots, so concurrent waits share the budget).
    polls: VecDeque<Instant>,
    sent: Vec<Sent>,
}

/// Neon asked for no request before `until`.
#[derive(Clone)]
struct Hold {
    until: Instant,
    status: u16,
    api: ApiError,
}

impl Governor {
    pub(super) fn new(transport: Arc<dyn Transport>, clock: Clock, host: String) -> Self {
        Self {
            transport,
            clock,
            host,
            started: Instant::now(),
            state: Mutex::default(),
        }
    }

    pub(super) fn clock(&self) -> Clock {
        self.clock
    }

    pub(super) fn stats(&self) -> RequestStats {
        RequestStats {
            sent: self.state().sent.clone(),
        }
    }

    /// Sends `req` once, when the hold and the poll budget allow: the body of a 2xx, or the
    /// typed error.
    pub(super) async fn send(&self, req: &Request, pass: Pass) -> Result<Vec<u8>, NeonError> {
        if pass.poll {
            let slot = self.state().reserve_poll(Instant::now());
            tokio::time::sleep_until(slot).await;
        }
        self.wait_for_hold(pass.deadline).await?;
        self.state().sent.push(Sent {
            at: self.started.elapsed(),
            poll: pass.poll,
            retry: pass.retry,
        });
        let response = match self.transport.send(req).await {
            Ok(response) => response,
            Err(e) if e.fault.heals() => return Err(NeonError::Transport(e.to_string())),
            Err(e) => {
                return Err(NeonError::Unreachable {
                    host: self.host.clone(),
                    reason: e.to_string(),
                });
            }
        };
        if (200..300).contains(&response.status) {
            return Ok(response.body);
        }
        let err = from_status(response.status, &req.path, &response.body);
        let after = match (response.status, &response.retry_after) {
            (429 | 503, Some(value)) => parse_retry_after(value, self.clock.now()),
            _ => None,
        };
        if let Some(after) = after {
            let hold = Hold {
                until: Instant::now() + after,
                status: response.status,
                api: err.api().cloned().unwrap_or_default(),
            };
            self.state().extend_hold(&hold);
            if hold.until > pass.deadline {
                return Err(self.past_timeout(hold));
            }
        }
        Err(err)
    }

    /// Sleeps until no hold is in force; a hold that outlasts `deadline` fails at once.
    async fn wait_for_hold(&self, deadline: Instant) -> Result<(), NeonError> {
        loop {
            let hold = self.state().hold.clone();
            match hold {
                Some(hold) if hold.until > Instant::now() => {
                    if hold.until > deadline {
                        return Err(self.past_timeout(hold));
                    }
                    tokio::time::sleep_until(hold.until).await;
                }
                _ => return Ok(()),
            }
        }
    }

    fn past_timeout(&self, hold: Hold) -> NeonError {
        let wait = hold.until.saturating_duration_since(Instant::now());
        let now = self.clock.now();
        NeonError::RateLimitedPastTimeout {
            until: now.checked_add(wait).unwrap_or(now),
            status: hold.status,
            api: hold.api,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    fn extend_hold(&mut self, hold: &Hold) {
        if self.hold.as_ref().is_none_or(|h| h.until < hold.until) {
            self.hold = Some(hold.clone());
        }
    }

    /// The earliest moment a poll may leave without a fifth poll in a second or a 121st in a
    /// minute; the slot is taken at once, so concurrent waits queue behind each other.
    fn reserve_poll(&mut self, now: Instant) -> Instant {
        let minute = Duration::from_secs(60);
        while self.polls.front().is_some_and(|t| *t + minute <= now) {
            self.polls.pop_front();
        }
        let mut slot = now.max(self.polls.back().copied().unwrap_or(now));
        let len = self.polls.len();
        if len >= POLLS_PER_SECOND {
            slot = slot.max(self.polls[len - POLLS_PER_SECOND] + Duration::from_secs(1));
        }
        if len >= POLLS_PER_MINUTE {
            slot = slot.max(self.polls[len - POLLS_PER_MINUTE] + minute);
        }
        self.polls.push_back(slot);
        slot
    }
}

/// `Retry-After`: delay-seconds or an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`); a date in
/// the past is zero, and anything past a year is a year (as good as never, and no overflow).
pub(super) fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    const YEAR: u64 = 366 * 24 * 3600;
    let value = value.trim();
    let secs = match value.parse::<u64>() {
        Ok(secs) => secs,
        Err(_) => {
            let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
            at.as_second().saturating_sub(now.as_second()).max(0) as u64
        }
    };
    Some(Duration::from_secs(secs.min(YEAR)))
}

#[cfg(test)]
#[path = "governor_tests.rs"]
mod tests;
