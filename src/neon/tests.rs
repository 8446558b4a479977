//! Tests of the client's endpoints: one request of one call over mockito (asserting the mock
//! was hit), re-reads after ambiguous failures, and real sockets for faults that do not heal.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mockito::{Matcher, Server, ServerGuard};
use serde_json::{Value, json};

use super::fake::{self, Fake, answer, http, ok};
use super::*;

const KEY: &str = "napi_secret_key_123";

fn client(url: &str) -> NeonClient {
    let settings = NeonSettings {
        api_host: format!("{url}/"),
        api_key: KEY.into(),
        project_id: "p1".into(),
        timeout: Duration::from_secs(20),
        clock: Clock::system(),
        on_progress: None,
    };
    NeonClient::new(http(), settings)
}

async fn server() -> (ServerGuard, NeonClient) {
    let server = Server::new_async().await;
    let neon = client(&server.url());
    (server, neon)
}

fn branch(id: &str, name: &str) -> Value {
    json!({ "id": id, "name": name, "parent_id": "br-dev", "created_at": "2026-11-01T00:00:00Z" })
}

fn snapshot(id: &str, name: &str) -> Value {
    json!({ "id": id, "name": name, "created_at": jiff::Timestamp::now().to_string() })
}

fn op(id: &str, status: &str) -> Value {
    json!({ "id": id, "action": "create_branch", "status": status, "branch_id": "br-prod" })
}

#[tokio::test]
async fn create_snapshot_sends_name_and_expiry_as_query_parameters() {
    let (mut server, neon) = server().await;
    let mock = server
        .mock("POST", "/projects/p1/branches/br-prod/snapshot")
        .match_header("authorization", format!("Bearer {KEY}").as_str())
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("name".into(), "rollback 1".into()),
            Matcher::UrlEncoded("expires_at".into(), "2026-12-01T00:00:00Z".into()),
        ]))
        .match_body(Matcher::Exact(String::new()))
        .with_status(201)
        .with_body(json!({ "snapshot": snapshot("snap-1", "rollback 1"), "operations": [op("op-1", "running")] }).to_string())
        .create_async()
        .await;
    let made = neon
        .create_snapshot("br-prod", "rollback 1", Some("2026-12-01T00:00:00Z"))
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(made.value.id, "snap-1");
    assert_eq!(made.operations[0].id, "op-1");
}

#[tokio::test]
async fn restore_sends_the_target_and_finalizes() {
    let (mut server, neon) = server().await;
    let mock = server
        .mock("POST", "/projects/p1/snapshots/snap-1/restore")
        .match_body(Matcher::Json(
            json!({ "target_branch_id": "br-prod", "finalize_restore": true }),
        ))
        .with_body(json!({ "branch": branch("br-new", "prod"), "operations": [] }).to_string())
        .create_async()
        .await;
    let req = RestoreSnapshot {
        target_branch_id: Some("br-prod".into()),
        finalize_restore: true,
        ..RestoreSnapshot::default()
    };
    let restored = neon.restore_snapshot("snap-1", &req).await.unwrap();
    mock.assert_async().await;
    assert_eq!(restored.value.id, "br-new");
}

#[tokio::test]
async fn update_branch_patches_only_the_given_fields() {
    let (mut server, neon) = server().await;
    let mock = server
        .mock("PATCH", "/projects/p1/branches/br-1")
        .match_body(Matcher::Json(
            json!({ "branch": { "protected": true, "expires_at": null } }),
        ))
        .with_body(json!({ "branch": branch("br-1", "prod"), "operations": [] }).to_string())
        .create_async()
        .await;
    let req = UpdateBranch {
        protected: Some(true),
        expires_at: Some(None),
        ..UpdateBranch::default()
    };
    neon.update_branch("br-1", &req).await.unwrap();
    mock.assert_async().await;
}

#[tokio::test]
async fn create_endpoint_names_branch_and_type() {
    let (mut server, neon) = server().await;
    let mock = server
        .mock("POST", "/projects/p1/endpoints")
        .match_body(Matcher::Json(
            json!({ "endpoint": { "branch_id": "br-1", "type": "read_write" } }),
        ))
        .with_status(201)
        .with_body(
            json!({
                "endpoint": { "id": "ep-1", "branch_id": "br-1", "host": "ep-1.example", "type": "read_write" },
                "operations": [op("op-1", "running")],
            })
            .to_string(),
        )
        .create_async()
        .await;
    let made = neon
        .create_endpoint("br-1", EndpointType::ReadWrite)
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(
        (made.value.host.as_str(), made.operations.len()),
        ("ep-1.example", 1)
    );
}

#[tokio::test]
async fn find_branch_follows_the_cursor_to_the_exact_name() {
    let (mut server, neon) = server().await;
    let page1: Vec<Value> = (0..10_000)
        .map(|i| branch(&format!("br-{i}"), &format!("dev_feature_{i}")))
        .collect();
    let first = server
        .mock("GET", "/projects/p1/branches")
        .match_query(Matcher::Regex(
            "^search=dev&sort_by=name&sort_order=asc&limit=10000$".into(),
        ))
        .with_body(json!({ "branches": page1, "pagination": { "next": "c+/2=" } }).to_string())
        .create_async()
        .await;
    let second = server
        .mock("GET", "/projects/p1/branches")
        .match_query(Matcher::UrlEncoded("cursor".into(), "c+/2=".into()))
        .with_body(
            json!({ "branches": [branch("br-x", "dev")], "pagination": { "next": "c3" } })
                .to_string(),
        )
        .create_async()
        .await;
    let found = neon.find_branch("dev").await.unwrap().unwrap();
    first.assert_async().await;
    second.assert_async().await;
    assert_eq!(found.id, "br-x");
}

#[tokio::test]
async fn find_branch_ignores_substring_matches() {
    let (mut server, neon) = server().await;
    let mock = server
        .mock("GET", "/projects/p1/branches")
        .match_query(Matcher::Any)
        .with_body(
            json!({ "branches": [branch("br-1", "dev2")], "pagination": { "next": "c" } })
                .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    assert_eq!(neon.find_branch("dev").await.unwrap(), None);
    mock.assert_async().await;
}

#[tokio::test]
async fn not_found_keeps_neons_words() {
    let (mut server, neon) = server().await;
    let mock = server
        .mock("GET", "/projects/p1/branches/br%2Fx")
        .with_status(404)
        .with_body(r#"{"code":"","message":"branch not found","request_id":"req-9"}"#)
        .create_async()
        .await;
    let err = neon.get_branch("br/x").await.unwrap_err();
    mock.assert_async().await;
    match err {
        NeonError::NotFound(api) => {
            assert_eq!(api.message, "branch not found");
            assert_eq!(api.request_id.as_deref(), Some("req-9"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn create_branch_conflict_is_conflict() {
    let (mut server, neon) = server().await;
    let mock = server
        .mock("POST", "/projects/p1/branches")
        .match_body(Matcher::Json(json!({
            "branch": { "name": "preview/pr-1", "parent_id": "br-dev", "expires_at": "2026-12-01T00:00:00Z" },
            "endpoints": [{ "type": "read_write" }],
        })))
        .with_status(409)
        .with_body(r#"{"code":"","message":"branch already exists"}"#)
        .expect(1)
        .create_async()
        .await;
    let req = CreateBranch {
        name: "preview/pr-1".into(),
        parent_id: "br-dev".into(),
        expires_at: Some("2026-12-01T00:00:00Z".into()),
        read_write_endpoint: true,
        ..Default::default()
    };
    let err = neon.create_branch(&req).await.unwrap_err();
    mock.assert_async().await;
    assert!(matches!(err, NeonError::Conflict(api) if api.message == "branch already exists"));
}

#[tokio::test]
async fn rate_limit_honours_retry_after() {
    let (mut server, neon) = server().await;
    let limited = server
        .mock("GET", "/projects/p1/snapshots")
        .with_status(429)
        .with_header("retry-after", "1")
        .with_body(r#"{"message":"too many requests"}"#)
        .expect(1)
        .create_async()
        .await;
    let ok = server
        .mock("GET", "/projects/p1/snapshots")
        .with_body(json!({ "snapshots": [snapshot("s1", "a")] }).to_string())
        .create_async()
        .await;
    let start = std::time::Instant::now();
    let snapshots = neon.list_snapshots().await.unwrap();
    limited.assert_async().await;
    ok.assert_async().await;
    assert_eq!(snapshots.len(), 1);
    assert!(start.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn locked_is_retried_even_for_a_post() {
    let (mut server, neon) = server().await;
    let locked = server
        .mock("POST", "/projects/p1/branches/br-prod/snapshot")
        .match_query(Matcher::Any)
        .with_status(423)
        .with_body(r#"{"message":"project already has running conflicting operations"}"#)
        .expect(1)
        .create_async()
        .await;
    let ok = server
        .mock("POST", "/projects/p1/branches/br-prod/snapshot")
        .match_query(Matcher::Any)
        .with_status(201)
        .with_body(json!({ "snapshot": snapshot("s1", "n"), "operations": [] }).to_string())
        .create_async()
        .await;
    neon.create_snapshot("br-prod", "n", None).await.unwrap();
    locked.assert_async().await;
    ok.assert_async().await;
}

#[tokio::test]
async fn a_500_on_a_post_rereads_state_instead_of_posting_again() {
    let (mut server, neon) = server().await;
    let post = server
        .mock("POST", "/projects/p1/branches/br-prod/snapshot")
        .match_query(Matcher::Any)
        .with_status(500)
        .with_body(r#"{"message":"internal error"}"#)
        .expect(1)
        .create_async()
        .await;
    let list = server
        .mock("GET", "/projects/p1/snapshots")
        .with_body(
            json!({ "snapshots": [snapshot("s1", "other"), snapshot("s2", "n")] }).to_string(),
        )
        .expect(2) // a list may lag the snapshot by one read
        .create_async()
        .await;
    let ops = server
        .mock("GET", "/projects/p1/operations")
        .match_query(Matcher::UrlEncoded("limit".into(), "100".into()))
        .with_body(
            json!({ "operations": [op("op-1", "running"), op("op-0", "finished")] }).to_string(),
        )
        .create_async()
        .await;
    let made = neon.create_snapshot("br-prod", "n", None).await.unwrap();
    post.assert_async().await;
    list.assert_async().await;
    ops.assert_async().await;
    assert_eq!(made.value.id, "s2");
    assert_eq!(made.operations.len(), 1);
}

/// A one-thread HTTP server that resets every POST and answers GETs with `get_body`.
fn resetting_server(get_body: String) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if header.trim().is_empty() {
                    break;
                }
            }
            reader.take(length).read_to_end(&mut Vec::new()).unwrap();
            log.lock().unwrap().push(line.trim().to_string());
            if line.starts_with("GET") {
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{get_body}",
                    get_body.len()
                );
                stream.write_all(answer.as_bytes()).unwrap();
            }
            // A POST: the stream is dropped unanswered (connection closed mid-request).
        }
    });
    (url, seen)
}

#[tokio::test]
async fn a_reset_post_rereads_state_instead_of_posting_again() {
    let body = json!({ "branches": [branch("br-9", "preview/pr-1")] }).to_string();
    let (url, seen) = resetting_server(body);
    let req = CreateBranch {
        name: "preview/pr-1".into(),
        parent_id: "br-dev".into(),
        ..Default::default()
    };
    let err = client(&url).create_branch(&req).await.unwrap_err();
    assert!(
        matches!(&err, NeonError::Conflict(api) if api.message.contains("br-9")),
        "{err:?}"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter().filter(|l| l.starts_with("POST")).count(),
        1,
        "{seen:?}"
    );
    assert!(
        seen[1].starts_with("GET /projects/p1/branches?search=preview%2Fpr-1&sort_by=name"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn delete_after_an_ambiguous_failure_is_done_when_the_branch_is_gone() {
    let (mut server, neon) = server().await;
    let delete = server
        .mock("DELETE", "/projects/p1/branches/br-old")
        .with_status(502)
        .expect(1)
        .create_async()
        .await;
    let get = server
        .mock("GET", "/projects/p1/branches/br-old")
        .with_status(404)
        .with_body(r#"{"message":"branch not found"}"#)
        .create_async()
        .await;
    // Read twice: an operations list may lag the mutation by one read.
    let ops = server
        .mock("GET", "/projects/p1/operations")
        .match_query(Matcher::Any)
        .with_body(r#"{"operations":[]}"#)
        .expect(2)
        .create_async()
        .await;
    assert!(neon.delete_branch("br-old").await.unwrap().is_empty());
    delete.assert_async().await;
    get.assert_async().await;
    ops.assert_async().await;
}

#[tokio::test]
async fn connection_uri_asks_for_branch_database_role_and_pooling() {
    let (mut server, neon) = server().await;
    let mock = server
        .mock("GET", "/projects/p1/connection_uri")
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("branch_id".into(), "br-1".into()),
            Matcher::UrlEncoded("database_name".into(), "neondb".into()),
            Matcher::UrlEncoded("role_name".into(), "neondb_owner".into()),
            Matcher::UrlEncoded("pooled".into(), "true".into()),
        ]))
        .with_body(r#"{"uri":"postgresql://u:p@h/neondb"}"#)
        .create_async()
        .await;
    let uri = neon
        .connection_uri("br-1", "neondb", "neondb_owner", true)
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(uri, "postgresql://u:p@h/neondb");
}

#[tokio::test]
async fn snapshot_quota_is_quota_exceeded() {
    let (mut server, neon) = server().await;
    let mock = server
        .mock("POST", "/projects/p1/branches/br-prod/snapshot")
        .match_query(Matcher::Any)
        .with_status(422)
        .with_body(r#"{"code":"","message":"snapshot limit reached: 1 of 1"}"#)
        .create_async()
        .await;
    let err = neon
        .create_snapshot("br-prod", "n", None)
        .await
        .unwrap_err();
    mock.assert_async().await;
    assert!(matches!(err, NeonError::QuotaExceeded(api) if api.message.contains("limit")));
}

#[tokio::test(start_paused = true)]
async fn the_operations_scan_stops_at_operations_older_than_the_request() {
    let fake = Fake::new(Duration::ZERO, |req, _| {
        match (req.method, req.path.as_str()) {
            (Method::Post, _) => Ok(answer(500, None, json!({ "message": "internal error" }))),
            (Method::Get, "/projects/p1/snapshots") => {
                let at = "2026-11-30T12:00:00Z";
                ok(json!({ "snapshots": [{ "id": "s1", "name": "n", "created_at": at }] }))
            }
            (Method::Get, "/projects/p1/operations") => {
                let stamped = |id: &str, status: &str, at: &str| {
                    let mut op = op(id, status);
                    op["created_at"] = json!(at);
                    op
                };
                let mut ops = vec![stamped("op-new", "running", "2026-11-30T12:00:00Z")];
                ops.extend(
                    (0..99).map(|i| stamped(&format!("op-{i}"), "running", "2026-11-30T11:00:00Z")),
                );
                ok(json!({ "operations": ops, "pagination": { "cursor": "c1" } }))
            }
            other => panic!("{other:?}"),
        }
    });
    let neon = fake::client(fake.clone(), Duration::from_secs(20));
    let made = neon.create_snapshot("br-prod", "n", None).await.unwrap();
    assert_eq!(made.value.id, "s1");
    let ids: Vec<&str> = made.operations.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["op-new"]);
    assert_eq!(fake.count("GET /projects/p1/operations?limit=100"), 1);
    assert_eq!(fake.count("POST"), 1);
}

#[test]
fn client_futures_are_send() {
    fn send<T: Send>(_: T) {}
    let neon = fake::client(
        Fake::new(Duration::ZERO, |_, _| ok(json!({}))),
        Duration::ZERO,
    );
    send(neon.create_branch(&CreateBranch::default()));
    send(neon.restore_snapshot("s", &RestoreSnapshot::default()));
    send(neon.delete_branch("b"));
    send(neon.find_branch("dev"));
    send(neon.wait(&[]));
}

#[test]
fn debug_never_shows_the_key() {
    let neon = client("http://127.0.0.1:1");
    let text = format!("{neon:?}");
    assert!(!text.contains(KEY) && text.contains("<redacted>"), "{text}");
    assert!(text.contains(r#"api_host: "http://127.0.0.1:1""#), "{text}");
}
