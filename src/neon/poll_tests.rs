//! Tests of the operation wait, over the in-process fake transport in paused time.

use std::sync::{Arc, Mutex};

use serde_json::json;

use super::*;
use crate::neon::fake::{self, Fake, answer, ok};

const MINUTE: Duration = Duration::from_secs(60);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn op(id: &str, status: &str) -> Operation {
    serde_json::from_value(fake::op(id, status)).unwrap()
}

/// A project whose operations end at the given times (ms after the fake was made), answering
/// both the list (newest first) and the single-operation route.
fn world(ends: &[(&'static str, u64)], latency: Duration) -> Arc<Fake> {
    let ends = ends.to_vec();
    Fake::new(latency, move |req, now| {
        let status = |end: u64| {
            if now >= ms(end) {
                "finished"
            } else {
                "running"
            }
        };
        if req.path == "/projects/p1/operations" {
            let listed: Vec<_> = ends
                .iter()
                .rev()
                .map(|(id, end)| fake::op(id, status(*end)))
                .collect();
            return ok(json!({ "operations": listed }));
        }
        let id = req.path.rsplit('/').next().unwrap();
        let (_, end) = ends.iter().find(|(known, _)| *known == id).unwrap();
        ok(json!({ "operation": fake::op(id, status(*end)) }))
    })
}

/// Waits for `ops` (all running) in `world`; returns the result and how long it took.
async fn run(
    world: &Arc<Fake>,
    ids: &[&str],
    timeout: Duration,
) -> (Result<(), NeonError>, Duration) {
    let neon = fake::client(world.clone(), timeout);
    let ops: Vec<Operation> = ids.iter().map(|id| op(id, "running")).collect();
    let start = Instant::now();
    let result = neon.wait(&ops).await;
    (result, start.elapsed())
}

#[test]
fn the_schedule_keeps_the_budget_and_notices_ends_within_ten_percent() {
    let mut schedule = Schedule::default();
    let polls: Vec<Duration> = std::iter::repeat_with(|| schedule.step())
        .take_while(|at| *at <= 10 * MINUTE)
        .collect();
    assert!(
        polls
            .windows(5)
            .all(|w| w[4] - w[0] >= Duration::from_secs(1))
    );
    assert!(polls.windows(121).all(|w| w[120] - w[0] >= MINUTE));
    // Three a second while they come fastest: a fourth is a whole second after the first.
    let early: Vec<&Duration> = polls.iter().take_while(|at| **at <= ms(3000)).collect();
    assert_eq!(early.len(), 9);
    assert!(
        early
            .windows(4)
            .all(|w| *w[3] - *w[0] >= Duration::from_secs(1))
    );
    let first_minute = polls.iter().filter(|at| **at < MINUTE).count();
    assert!((40..=46).contains(&first_minute), "{first_minute}");
    let noticed = |end: Duration| *polls.iter().find(|at| **at >= end).unwrap();
    for end in [ms(300), ms(1000), ms(2000), ms(3000)] {
        assert_eq!(noticed(end), end);
    }
    for end in (3_000..540_000).step_by(7).map(ms) {
        assert!(
            noticed(end) <= end.mul_f64(1.1),
            "{end:?} noticed at {:?}",
            noticed(end)
        );
    }
}

#[tokio::test(start_paused = true)]
async fn ended_operations_are_not_polled_and_cancelled_is_a_failure() {
    let world = world(&[], Duration::ZERO);
    let neon = fake::client(world.clone(), MINUTE);
    neon.wait(&[op("a", "finished"), op("b", "skipped")])
        .await
        .unwrap();
    let err = neon.wait(&[op("c", "cancelled")]).await.unwrap_err();
    assert!(
        matches!(&err, NeonError::OperationFailed { id, status, .. } if id == "c" && status == "cancelled"),
        "{err}"
    );
    assert!(world.requests().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_failed_or_cancelled_poll_ends_the_wait_with_its_error_text() {
    for status in ["failed", "error", "cancelled"] {
        let fake = Fake::new(Duration::ZERO, move |_, _| {
            let mut op = fake::op("a", status);
            op["error"] = json!("disk full");
            ok(json!({ "operation": op }))
        });
        let (result, _) = run(&fake, &["a"], MINUTE).await;
        match result.unwrap_err() {
            NeonError::OperationFailed {
                id,
                status: s,
                error,
                ..
            } => {
                assert_eq!(
                    (id.as_str(), s.as_str(), error.as_str()),
                    ("a", status, "disk full")
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn short_operations_are_noticed_fast() {
    // 300 ms without latency: seen by the poll at 300 ms.
    let (result, took) = run(&world(&[("a", 300)], Duration::ZERO), &["a"], MINUTE).await;
    result.unwrap();
    assert!(took <= ms(330), "{took:?}");
    // 1 s with 50 ms each way: the poll sent at 1 s arrives after the end.
    let (result, took) = run(&world(&[("a", 1000)], ms(50)), &["a"], MINUTE).await;
    result.unwrap();
    assert!(took <= ms(1100), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn three_operations_cost_one_list_request_per_round() {
    let world = world(&[("a", 2000), ("b", 2000), ("c", 1500)], Duration::ZERO);
    let (result, took) = run(&world, &["a", "b", "c"], MINUTE).await;
    result.unwrap();
    assert_eq!(took, ms(2000));
    let requests = world.requests();
    // Polls at 0.3, 0.548, 1, 1.3, 1.548 and 2 s: one list request each.
    assert_eq!(requests.len(), 6, "{requests:?}");
    assert_eq!(world.count("GET /projects/p1/operations?limit=20"), 6);
}

#[tokio::test(start_paused = true)]
async fn an_operation_missing_from_the_list_is_read_by_id() {
    let fake = Fake::new(Duration::ZERO, |req, now| {
        let b = if now >= ms(1000) {
            "finished"
        } else {
            "running"
        };
        match req.path.as_str() {
            "/projects/p1/operations" => ok(json!({ "operations": [fake::op("a", "finished")] })),
            "/projects/p1/operations/b" => ok(json!({ "operation": fake::op("b", b) })),
            other => panic!("{other}"),
        }
    });
    let (result, _) = run(&fake, &["a", "b"], MINUTE).await;
    result.unwrap();
    assert_eq!(fake.count("GET /projects/p1/operations?"), 1);
    assert_eq!(fake.count("GET /projects/p1/operations/b"), 3);
}

#[tokio::test(start_paused = true)]
async fn an_unknown_status_runs_to_the_deadline_which_names_it() {
    let fake = Fake::new(Duration::ZERO, |_, _| {
        ok(json!({ "operation": fake::op("a", "paused") }))
    });
    let (result, took) = run(&fake, &["a"], Duration::from_secs(20)).await;
    let err = result.unwrap_err();
    assert!(matches!(err, NeonError::Deadline { .. }));
    assert!(
        err.to_string()
            .contains("a (create_timeline on br-1, paused)"),
        "{err}"
    );
    assert_eq!(took, Duration::from_secs(20));
}

#[tokio::test(start_paused = true)]
async fn transient_errors_are_retried_and_the_deadline_holds() {
    let calls = Mutex::new(0);
    let fake = Fake::new(Duration::ZERO, move |_, _| {
        let mut calls = calls.lock().unwrap();
        *calls += 1;
        if *calls == 1 {
            return Ok(answer(503, None, json!({ "message": "busy" })));
        }
        ok(json!({ "operation": fake::op("a", "running") }))
    });
    let (result, took) = run(&fake, &["a"], ms(800)).await;
    let err = result.unwrap_err();
    assert!(err.to_string().contains("operation(s) a"), "{err}");
    assert!(fake.requests().len() >= 3, "{:?}", fake.requests());
    assert!(took <= ms(800), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn a_five_minute_operation_keeps_the_poll_budget() {
    let world = world(&[("a", 300_000)], ms(50));
    let neon = fake::client(world.clone(), 10 * MINUTE);
    let start = Instant::now();
    neon.wait(&[op("a", "running")]).await.unwrap();
    let took = start.elapsed();
    assert!(took <= Duration::from_secs(305), "{took:?}");
    let stats = neon.stats();
    assert_eq!(stats.polls(), stats.total());
    assert!(
        stats.peak(MINUTE, true) <= 120,
        "{}",
        stats.peak(MINUTE, true)
    );
    assert!(stats.peak(Duration::from_secs(1), true) <= 4);
    assert!(stats.total() < 100, "{}", stats.total());
}

#[tokio::test(start_paused = true)]
async fn concurrent_waits_share_the_budget() {
    let world = world(&[("a", 5000), ("b", 5000)], Duration::ZERO);
    let neon = fake::client(world.clone(), MINUTE);
    let other = neon.clone();
    let (a, b) = ([op("a", "running")], [op("b", "running")]);
    let (a, b) = tokio::join!(neon.wait(&a), other.wait(&b));
    a.unwrap();
    b.unwrap();
    let stats = neon.stats();
    assert_eq!(stats.polls(), world.requests().len());
    assert!(stats.peak(Duration::from_secs(1), true) <= 4);
}

#[tokio::test(start_paused = true)]
async fn long_waits_report_progress_every_ten_seconds() {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let mut settings = fake::settings(10 * MINUTE);
    settings.on_progress = Some(Arc::new(move |line: &str| {
        sink.lock().unwrap().push(line.to_string())
    }));
    let neon = NeonClient::with_transport(world(&[("a", 35_000)], Duration::ZERO), settings);
    neon.wait(&[op("a", "running")]).await.unwrap();
    let lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(
        lines[0],
        "still waiting for operation(s) a (create_timeline on br-1, running): 10s so far, 9m 50s left of the 10m timeout"
    );
    assert!(lines[2].contains("30s so far"), "{lines:?}");
}
