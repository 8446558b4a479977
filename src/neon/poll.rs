//! The one operation wait: polls Neon operations until every one has ended, on a fixed schedule
//! within one overall deadline, reporting progress on long waits. It owns the schedule and how
//! several operations share a request; the run-wide poll budget is the governor's, retrying a
//! failed GET is `retry`'s (through the client), and it never starts or repeats an operation.
//
// Read `.operation.status` from `GET /projects/{p}/operations/{op}`, never a top-level
// `.status`: the answer is `{"operation": {...}}`, so the guide's bash loop, which reads
// `.status`, sees `null` forever and never ends. (`NeonClient::poll_operation` unwraps it.)
//
// Schedule (offsets from the start of a wait). The budget is 4 polls in any second and 120 in
// any minute per run (SPEC §5); the goal is to notice an end within ~10% of the wait, which
// fits the budget only from 2.5 s on (a tenth of 2.5 s is 250 ms = 4 a second), so:
// - for the first 3 s, three polls a second at the same offsets in each second, 0.300, 0.548
//   and 1.000 s (log-spaced: 0.3 × (10/3)^(k/2)), so poll k+3 is exactly 1 s after poll k. An
//   end at 0.3, 1 or 2 s is seen by the poll sent at that moment; the worst cases are +83%
//   just after 0.3 s, +30% just after 1 s, +18% just after 2.55 s.
// - from 3 s on, a tenth of the time waited, at most 5 s: ≤ 10% late, ≥ 300 ms apart.
// Three a second, not four: an operation of about a second (most of Neon's) costs three polls
// rather than four, a quarter of what a promotion's four operations cost in polls; ends at
// 0.3 s and on whole seconds are seen as early; the budget's fourth slot is left to a
// concurrent wait; and a poll that arrives at Neon a millisecond later than the one three
// before it never shows it five in a second.
// Requests: 9 polls in the first 3 s, then 1 + ln(t/3 s)/ln(1.1) more up to t, so ≈ 40 in the
// first minute (10.5 × ln 20 = 31.4 after the 9); past 50 s the 5 s cap gives 12 a minute, so
// a 5-minute wait costs ≈ 87 polls. Several operations are polled with one request
// (`GET /projects/{p}/operations`, newest first), so a round is one request, not one per
// operation; concurrent waits share the governor's budget, which delays a poll rather than
// let a run pass 4 a second or 120 a minute.

use std::time::Duration;

use tokio::time::Instant;

use super::{NeonClient, NeonError, Operation};

/// Where the polls of each of the first `EARLY_SECONDS` seconds fall, in ms.
const EARLY_OFFSETS_MS: [u64; 3] = [300, 548, 1000];
const EARLY_SECONDS: usize = 3;
/// Longest gap between two polls of a long wait.
const MAX_INTERVAL: Duration = Duration::from_secs(5);
/// Operations one list request reads: ours are the newest unless others started since.
const LIST_LIMIT: usize = 20;
/// How often a long wait says what it is waiting for.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Waits until every operation has ended: failed, error or cancelled → `OperationFailed`,
/// longer than `timeout` → `Deadline` naming what was still running. Operations already ended
/// (e.g. in a POST answer) are not polled.
pub(super) async fn wait_for(client: &NeonClient, ops: &[Operation]) -> Result<(), NeonError> {
    let timeout = client.timeout();
    let start = Instant::now();
    let deadline = start + timeout;
    let mut pending = Vec::new();
    for op in ops {
        check_failed(op)?;
        if op.status.is_running() {
            pending.push(Pending {
                op: op.clone(),
                by_id: false,
            });
        }
    }
    let mut schedule = Schedule::default();
    let mut next_report = start + PROGRESS_EVERY;
    while !pending.is_empty() {
        let at = (start + schedule.next_after(start.elapsed())).min(deadline);
        while next_report < at {
            tokio::time::sleep_until(next_report).await;
            let so_far = next_report - start;
            client.report(&progress(&pending, so_far, timeout));
            next_report += PROGRESS_EVERY;
        }
        tokio::time::sleep_until(at).await;
        if at == deadline {
            return Err(timed_out(timeout, &pending));
        }
        let round = tokio::time::timeout_at(deadline, poll_round(client, &mut pending, deadline));
        match round.await {
            Ok(result) => result?,
            Err(_) => return Err(timed_out(timeout, &pending)),
        }
    }
    Ok(())
}

/// An operation still running, and whether it must be read by id (it was not on the first
/// page of the operations list).
struct Pending {
    op: Operation,
    by_id: bool,
}

/// Poll offsets from the start of a wait; see the arithmetic at the top of this file.
#[derive(Default)]
pub(super) struct Schedule {
    polls: usize,
    last: Duration,
}

impl Schedule {
    /// The first poll offset at or after `elapsed`: a round that overran skips polls.
    pub(super) fn next_after(&mut self, elapsed: Duration) -> Duration {
        loop {
            let at = self.step();
            if at >= elapsed {
                return at;
            }
        }
    }

    fn step(&mut self) -> Duration {
        let per_second = EARLY_OFFSETS_MS.len();
        let at = if self.polls < per_second * EARLY_SECONDS {
            let second = (self.polls / per_second) as u64 * 1000;
            Duration::from_millis(second + EARLY_OFFSETS_MS[self.polls % per_second])
        } else {
            self.last + (self.last / 10).min(MAX_INTERVAL)
        };
        self.polls += 1;
        self.last = at;
        at
    }
}

/// One round: one list request for two or more operations, a GET for a single one or one
/// missing from the list. Ended operations leave `pending`; a failed one ends the wait.
async fn poll_round(
    client: &NeonClient,
    pending: &mut Vec<Pending>,
    deadline: Instant,
) -> Result<(), NeonError> {
    let listed = pending.iter().filter(|p| !p.by_id).count();
    let mut fresh = Vec::new();
    if listed >= 2 {
        let page = client.poll_operations(LIST_LIMIT, deadline).await?;
        for p in pending.iter_mut().filter(|p| !p.by_id) {
            match page.iter().find(|op| op.id == p.op.id) {
                Some(op) => fresh.push(op.clone()),
                None => p.by_id = true,
            }
        }
    }
    for p in pending.iter().filter(|p| p.by_id || listed < 2) {
        fresh.push(client.poll_operation(&p.op.id, deadline).await?);
    }
    for op in fresh {
        check_failed(&op)?;
        if op.status.is_success() {
            pending.retain(|p| p.op.id != op.id);
        } else if let Some(p) = pending.iter_mut().find(|p| p.op.id == op.id) {
            p.op = op;
        }
    }
    Ok(())
}

fn check_failed(op: &Operation) -> Result<(), NeonError> {
    if !op.status.is_failure() {
        return Ok(());
    }
    Err(NeonError::OperationFailed {
        id: op.id.clone(),
        action: op.action.clone(),
        status: op.status.to_string(),
        error: op
            .error
            .clone()
            .unwrap_or_else(|| "Neon gave no error text".into()),
    })
}

/// `op-1 (create_timeline on br-x, running), …`: what a wait is still waiting for.
fn describe(pending: &[Pending]) -> String {
    let ops: Vec<String> = pending
        .iter()
        .map(|Pending { op, .. }| match &op.branch_id {
            Some(branch) => format!("{} ({} on {branch}, {})", op.id, op.action, op.status),
            None => format!("{} ({}, {})", op.id, op.action, op.status),
        })
        .collect();
    format!("operation(s) {}", ops.join(", "))
}

fn progress(pending: &[Pending], so_far: Duration, timeout: Duration) -> String {
    format!(
        "still waiting for {}: {} so far, {} left of the {} timeout",
        describe(pending),
        friendly(so_far),
        friendly(timeout.saturating_sub(so_far)),
        friendly(timeout)
    )
}

/// Whole seconds, as `9m 40s`.
fn friendly(d: Duration) -> String {
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    format!("{:#}", jiff::SignedDuration::from_secs(secs))
}

fn timed_out(timeout: Duration, pending: &[Pending]) -> NeonError {
    NeonError::Deadline {
        timeout,
        waiting_for: describe(pending),
        last: None,
    }
}

#[cfg(test)]
#[path = "poll_tests.rs"]
mod tests;
