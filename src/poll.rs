//! The one operation wait: polls Neon operations until every one has ended, with an adaptive
//! interval and one overall deadline. It owns the polling schedule; retrying a failed GET is
//! `crate::retry`'s job (through the client) and it never starts or repeats an operation.
//
// Read `.operation.status` from `GET /projects/{p}/operations/{op}`, never a top-level
// `.status`: the answer is `{"operation": {...}}`, so the guide's bash loop, which reads
// `.status`, sees `null` forever and never ends. (`NeonClient::get_operation` unwraps it.)
//
// Schedule: the first check comes 100 ms after the start, then the interval is a twentieth of
// the time waited so far (at least 50 ms, or 30 ms per operation still polled, at most 2 s).
// So a finished operation is noticed within ~5% of the wait (a 300 ms operation within ~50 ms,
// a 2 s one within ~100 ms plus one request), and the number of polls grows only with the
// logarithm of the wait. Rate-limit arithmetic, 3 operations in flight (Neon: 700 requests a
// minute for the organisation, bursts of 40/s): the 90 ms floor keeps bursts at ≤ 33/s; the
// first minute makes about 11 (first second) + 20·ln(40/1.8) ≈ 62 (to 40 s, where the 2 s cap
// starts) + 10 rounds ≈ 85 rounds = ~255 requests; after that 3 × 30 = 90 a minute, so ten
// minutes cost ~1,100 requests, ~110 a minute on average, a sixth of the limit.

use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::neon::{NeonClient, NeonError, Operation};

const FIRST_CHECK: Duration = Duration::from_millis(100);
const MIN_INTERVAL: Duration = Duration::from_millis(50);
const PER_OP_INTERVAL: Duration = Duration::from_millis(30);
const MAX_INTERVAL: Duration = Duration::from_secs(2);

/// Waits until every operation has ended; `failed`/`error` → `OperationFailed`, too long →
/// `Deadline`. Operations already terminal (e.g. in a POST answer) are not polled.
pub async fn wait_for(
    client: &NeonClient,
    ops: &[Operation],
    deadline: Duration,
) -> Result<(), NeonError> {
    let start = Instant::now();
    let mut pending = Vec::new();
    for op in ops {
        check_failed(op)?;
        if !op.status.is_terminal() {
            pending.push(op.id.clone());
        }
    }
    let mut wait = FIRST_CHECK;
    while !pending.is_empty() {
        if start.elapsed() + wait > deadline {
            return Err(timed_out(deadline, &pending));
        }
        tokio::time::sleep(wait).await;
        let round = poll_round(client, &pending);
        let done = tokio::time::timeout_at(start + deadline, round)
            .await
            .map_err(|_| timed_out(deadline, &pending))??;
        pending.retain(|id| !done.contains(id));
        wait = next_interval(start.elapsed(), pending.len());
    }
    Ok(())
}

/// Polls every pending operation concurrently; returns the ids that have ended.
async fn poll_round(client: &NeonClient, pending: &[String]) -> Result<Vec<String>, NeonError> {
    let mut set = JoinSet::new();
    for id in pending {
        let (client, id) = (client.clone(), id.clone());
        set.spawn(async move { client.get_operation(&id).await });
    }
    let mut done = Vec::new();
    while let Some(joined) = set.join_next().await {
        let op =
            joined.map_err(|e| NeonError::Transport(format!("operation poll task: {e}")))??;
        check_failed(&op)?;
        if op.status.is_terminal() {
            done.push(op.id);
        }
    }
    Ok(done)
}

/// A twentieth of the time waited, floored per polled operation, capped at 2 s.
fn next_interval(elapsed: Duration, polled: usize) -> Duration {
    let floor = MIN_INTERVAL.max(PER_OP_INTERVAL * polled as u32);
    (elapsed / 20).clamp(floor, MAX_INTERVAL.max(floor))
}

fn check_failed(op: &Operation) -> Result<(), NeonError> {
    if !op.status.is_failure() {
        return Ok(());
    }
    Err(NeonError::OperationFailed {
        id: op.id.clone(),
        action: op.action.clone(),
        status: format!("{:?}", op.status).to_lowercase(),
        error: op
            .error
            .clone()
            .unwrap_or_else(|| "Neon gave no error text".into()),
    })
}

fn timed_out(deadline: Duration, pending: &[String]) -> NeonError {
    NeonError::Deadline(
        deadline,
        format!("waiting for operation(s) {}", pending.join(", ")),
    )
}

#[cfg(test)]
mod tests {
    use mockito::{Matcher, Server, ServerGuard};
    use serde_json::json;

    use super::*;
    use crate::neon::NeonSettings;

    async fn server() -> (ServerGuard, NeonClient) {
        let server = Server::new_async().await;
        let settings = NeonSettings {
            api_host: server.url(),
            api_key: "k".into(),
            project_id: "p1".into(),
            timeout: Duration::from_secs(20),
        };
        (
            server,
            NeonClient::new(crate::http::client().unwrap(), settings),
        )
    }

    fn op(id: &str, status: &str) -> Operation {
        serde_json::from_value(json!({ "id": id, "action": "create_timeline", "status": status }))
            .unwrap()
    }

    fn answer(id: &str, status: &str) -> String {
        let error = (status == "failed").then_some("disk full");
        json!({ "operation": { "id": id, "action": "create_timeline", "status": status, "error": error } })
            .to_string()
    }

    #[tokio::test]
    async fn terminal_operations_are_not_polled() {
        let (mut server, neon) = server().await;
        let mock = server
            .mock("GET", Matcher::Any)
            .expect(0)
            .create_async()
            .await;
        let ops = [op("a", "finished"), op("b", "skipped"), op("c", "skipped")];
        wait_for(&neon, &ops, Duration::from_secs(5)).await.unwrap();
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn waits_for_every_operation_reading_operation_status() {
        let (mut server, neon) = server().await;
        let a = server
            .mock("GET", "/projects/p1/operations/a")
            .with_body(answer("a", "finished"))
            .expect(1)
            .create_async()
            .await;
        let b_running = server
            .mock("GET", "/projects/p1/operations/b")
            .with_body(answer("b", "running"))
            .expect(2)
            .create_async()
            .await;
        let b_done = server
            .mock("GET", "/projects/p1/operations/b")
            .with_body(answer("b", "finished"))
            .expect(1)
            .create_async()
            .await;
        let start = Instant::now();
        wait_for(
            &neon,
            &[op("a", "running"), op("b", "scheduling")],
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        a.assert_async().await;
        b_running.assert_async().await;
        b_done.assert_async().await;
        // Checks at ~100, ~160 and ~220 ms: noticed fast.
        assert!(
            start.elapsed() < Duration::from_millis(600),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn a_failed_operation_carries_its_error_text() {
        let (mut server, neon) = server().await;
        server
            .mock("GET", "/projects/p1/operations/a")
            .with_body(answer("a", "failed"))
            .create_async()
            .await;
        let err = wait_for(&neon, &[op("a", "running")], Duration::from_secs(5))
            .await
            .unwrap_err();
        match err {
            NeonError::OperationFailed {
                id, status, error, ..
            } => {
                assert_eq!(
                    (id.as_str(), status.as_str(), error.as_str()),
                    ("a", "failed", "disk full")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn transient_errors_are_retried_and_the_deadline_holds() {
        let (mut server, neon) = server().await;
        let unavailable = server
            .mock("GET", "/projects/p1/operations/a")
            .with_status(503)
            .expect(1)
            .create_async()
            .await;
        server
            .mock("GET", "/projects/p1/operations/a")
            .with_body(answer("a", "running"))
            .create_async()
            .await;
        let start = Instant::now();
        let err = wait_for(&neon, &[op("a", "running")], Duration::from_millis(800))
            .await
            .unwrap_err();
        unavailable.assert_async().await;
        assert!(
            matches!(&err, NeonError::Deadline(_, what) if what.contains("operation(s) a")),
            "{err}"
        );
        assert!(
            start.elapsed() <= Duration::from_millis(900),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn interval_grows_with_the_wait_and_is_capped() {
        assert_eq!(next_interval(Duration::from_millis(100), 1), MIN_INTERVAL);
        assert_eq!(
            next_interval(Duration::from_millis(300), 3),
            Duration::from_millis(90)
        );
        assert_eq!(
            next_interval(Duration::from_secs(2), 1),
            Duration::from_millis(100)
        );
        assert_eq!(next_interval(Duration::from_secs(600), 3), MAX_INTERVAL);
    }

    #[test]
    fn ten_minutes_with_three_operations_stay_well_under_the_rate_limit() {
        let (mut t, mut wait, mut requests, mut first_minute) = (Duration::ZERO, FIRST_CHECK, 0, 0);
        while t < Duration::from_secs(600) {
            t += wait;
            requests += 3;
            if t <= Duration::from_secs(60) {
                first_minute += 3;
            }
            wait = next_interval(t, 3);
        }
        assert!(
            first_minute < 350,
            "{first_minute} requests in the first minute"
        );
        assert!(requests / 10 < 150, "{requests} requests in ten minutes");
    }
}
