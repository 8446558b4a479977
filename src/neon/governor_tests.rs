//! Tests of the governor through the whole client: the shared `Retry-After` hold in paused time
//! over the fake transport, typed error classes over mockito, and faults that do not heal over
//! real sockets.

use std::sync::Mutex;

use mockito::Server;
use serde_json::json;

use super::*;
use crate::neon::fake::{self, Fake, answer, http, ok};
use crate::neon::{NeonClient, NeonError, NeonSettings};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
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
    let never = parse_retry_after("99999999999999", now).unwrap();
    assert_eq!(never, Duration::from_secs(366 * 24 * 3600));
}

#[tokio::test(start_paused = true)]
async fn the_poll_budget_allows_four_a_second_and_120_a_minute() {
    let mut state = State::default();
    let start = Instant::now();
    let slots: Vec<Duration> = (0..200)
        .map(|_| state.reserve_poll(start) - start)
        .collect();
    assert_eq!(slots[3], Duration::ZERO);
    assert_eq!(slots[4], Duration::from_secs(1));
    let stats = RequestStats {
        sent: slots
            .iter()
            .map(|&at| Sent {
                at,
                poll: true,
                retry: false,
            })
            .collect(),
    };
    assert_eq!(stats.peak(Duration::from_secs(1), true), 4);
    assert_eq!(stats.peak(Duration::from_secs(60), true), 120);
    assert_eq!(stats.polls(), 200);
}

#[tokio::test(start_paused = true)]
async fn a_simulated_clock_follows_tokio_time() {
    let start: jiff::Timestamp = "2026-11-30T12:00:00Z".parse().unwrap();
    let clock = Clock::starting_at(start);
    tokio::time::sleep(Duration::from_secs(90)).await;
    assert_eq!(clock.now(), "2026-11-30T12:01:30Z".parse().unwrap());
}

/// Answers the first request with `status` and `retry_after`, every later one with an empty
/// snapshot list.
fn refuse_once(status: u16, retry_after: &'static str) -> Arc<Fake> {
    let first = Mutex::new(true);
    Fake::new(Duration::ZERO, move |_, _| {
        if std::mem::take(&mut *first.lock().unwrap()) {
            return Ok(answer(
                status,
                Some(retry_after),
                json!({ "message": "slow down", "request_id": "req-7" }),
            ));
        }
        ok(json!({ "snapshots": [], "branch": { "id": "b", "name": "b" } }))
    })
}

/// When each request left, in whole milliseconds.
fn sent_at(fake: &Fake) -> Vec<u128> {
    fake.requests()
        .iter()
        .map(|(at, _)| at.as_millis())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_holds_every_clone_of_the_client() {
    let fake = refuse_once(429, "2");
    let neon = fake::client(fake.clone(), secs(60));
    let other = neon.clone();
    let limited = tokio::spawn(async move { neon.list_snapshots().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    other.get_branch("b").await.unwrap();
    limited.await.unwrap().unwrap();
    let at = sent_at(&fake);
    assert_eq!(at.len(), 3, "{:?}", fake.requests());
    assert_eq!(at[0], 0);
    assert!(at[1] >= 2000 && at[2] >= 2000, "{at:?}");
    let stats = other.stats();
    assert_eq!((stats.total(), stats.retries(), stats.polls()), (3, 1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_503_and_an_http_date_retry_after_hold_too() {
    // The fake clock reads 2026-11-30T12:00:00Z at the start.
    for (status, value, until) in [
        (503, "2", 2000),
        (429, "Mon, 30 Nov 2026 12:00:03 GMT", 3000),
    ] {
        let fake = refuse_once(status, value);
        fake::client(fake.clone(), secs(60))
            .list_snapshots()
            .await
            .unwrap();
        assert!(sent_at(&fake)[1] >= until, "{value}: {:?}", fake.requests());
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_of_zero_or_in_the_past_still_backs_off() {
    for value in ["0", "Mon, 30 Nov 2026 11:00:00 GMT"] {
        let fake = Fake::new(Duration::ZERO, move |_, _| {
            Ok(answer(429, Some(value), json!({ "message": "slow down" })))
        });
        let err = fake::client(fake.clone(), secs(10))
            .list_snapshots()
            .await
            .unwrap_err();
        assert!(matches!(err, NeonError::Deadline { .. }), "{err}");
        let at = sent_at(&fake);
        assert!(at[1] >= 100, "{at:?}");
        assert!(at.len() <= 10, "{value}: {} requests in 10 s", at.len());
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_past_the_timeout_fails_at_once_saying_until_when() {
    let fake = Fake::new(Duration::ZERO, |_, _| {
        Ok(answer(
            429,
            Some("120"),
            json!({ "message": "slow down", "request_id": "req-7" }),
        ))
    });
    let neon = fake::client(fake.clone(), secs(60));
    let start = Instant::now();
    let err = neon.list_snapshots().await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO);
    match &err {
        NeonError::RateLimitedPastTimeout { until, status, .. } => {
            assert_eq!(
                (until.to_string().as_str(), *status),
                ("2026-11-30T12:02:00Z", 429)
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("until 2026-11-30T12:02:00Z"),
        "{err}"
    );
    assert_eq!(err.request_id(), Some("req-7"));
    // Another request of the run fails at once too, without being sent.
    let again = neon.get_branch("b").await.unwrap_err();
    assert!(
        matches!(again, NeonError::RateLimitedPastTimeout { .. }),
        "{again}"
    );
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_wrong_key_and_a_wrong_project_are_typed() {
    let mut server = Server::new_async().await;
    let neon = NeonClient::new(http(), settings(&server.url()));
    let unauthorized = server
        .mock("GET", "/projects/p1/snapshots")
        .with_status(401)
        .with_body(r#"{"code":"","message":"authorization failed","request_id":"req-1"}"#)
        .expect(1)
        .create_async()
        .await;
    let err = neon.list_snapshots().await.unwrap_err();
    unauthorized.assert_async().await;
    assert!(
        matches!(err, NeonError::Unauthorized { status: 401, .. }),
        "{err}"
    );
    assert_eq!(err.request_id(), Some("req-1"));
    let missing = server
        .mock("GET", "/projects/p1/branches/br-1")
        .with_status(404)
        .with_body(r#"{"code":"","message":"project not found","request_id":"req-2"}"#)
        .expect(1)
        .create_async()
        .await;
    let err = neon.get_branch("br-1").await.unwrap_err();
    missing.assert_async().await;
    assert!(matches!(err, NeonError::ProjectNotFound(_)), "{err}");
}

fn settings(api_host: &str) -> NeonSettings {
    NeonSettings {
        api_host: api_host.to_string(),
        ..fake::settings(secs(600))
    }
}

/// Three tries, under ~5 s, then `Unreachable` naming `api_host`.
async fn assert_unreachable(api_host: &str, reason: &str) {
    let neon = NeonClient::new(http(), settings(api_host));
    let start = std::time::Instant::now();
    let err = neon.list_snapshots().await.unwrap_err();
    assert!(start.elapsed() < secs(5), "{:?}", start.elapsed());
    match &err {
        NeonError::Unreachable { host, reason: why } => {
            assert_eq!(host, api_host);
            assert!(why.starts_with(reason), "{why}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(neon.stats().total(), 3);
}

#[tokio::test]
async fn a_refused_port_fails_fast_naming_the_host() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    assert_unreachable(&url, "connection refused").await;
}

#[tokio::test]
async fn a_host_that_does_not_resolve_fails_fast_naming_it() {
    assert_unreachable(
        "https://neon-promote.invalid/api/v2",
        "the host name does not resolve",
    )
    .await;
}

#[tokio::test]
async fn a_tls_failure_fails_fast_naming_the_host() {
    // Speaks plain HTTP where TLS is expected.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            use std::io::Write;
            let _ = stream
                .unwrap()
                .write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        }
    });
    assert_unreachable(&url, "TLS failed").await;
}
