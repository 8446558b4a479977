//! The emulator over real HTTP: routing, shapes, auth, faults, the request log and the GitHub fake.

use std::time::Duration;

use neon_emulator::{Api, Emulator, Fault, Options, Seed};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 client (one request per connection), enough to test the server.
async fn call(
    emu: &Emulator,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> std::io::Result<Answer> {
    let mut stream = TcpStream::connect(("127.0.0.1", emu.port())).await?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\nconnection: close\r\ncontent-length: {}\r\n",
        emu.port(),
        body.len()
    );
    if let Some(a) = auth {
        req.push_str(&format!("authorization: {a}\r\n"));
    }
    if !body.is_empty() {
        req.push_str("content-type: application/json\r\n");
    }
    req.push_str("\r\n");
    req.push_str(&body);
    stream.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    if raw.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "no answer",
        ));
    }
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap()
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

const KEY: Option<&str> = Some("Bearer napi_test");

#[tokio::test]
async fn neon_routes_and_the_request_log() {
    let emu = Emulator::start(Options {
        seed: Seed::Demo,
        ..Default::default()
    })
    .await;
    let p = format!("/api/v2/projects/{}", emu.project_id());

    let unauth = call(&emu, "GET", &format!("{p}/branches"), None, None)
        .await
        .unwrap();
    assert_eq!(unauth.status, 401);
    assert!(unauth.body["request_id"].is_string() && unauth.body["code"].is_string());

    let list = call(&emu, "GET", &format!("{p}/branches?search=dev"), KEY, None)
        .await
        .unwrap();
    assert_eq!(list.status, 200);
    let dev = list.body["branches"][0].clone();
    assert_eq!(dev["name"], "dev");
    for field in [
        "id",
        "project_id",
        "name",
        "current_state",
        "state_changed_at",
        "creation_source",
        "created_at",
        "updated_at",
        "default",
        "protected",
        "cpu_used_sec",
        "active_time_seconds",
        "compute_time_seconds",
        "written_data_bytes",
        "data_transfer_bytes",
    ] {
        assert!(dev.get(field).is_some(), "branch lacks {field}");
    }
    assert_eq!(list.body["pagination"]["sort_by"], "updated_at");

    let created = call(
        &emu,
        "POST",
        &format!("{p}/branches"),
        KEY,
        Some(json!({"branch": {"name": "preview/pr-1", "parent_id": dev["id"]}, "endpoints": [{"type": "read_write"}]})),
    )
    .await
    .unwrap();
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["operations"].as_array().unwrap().len(), 2);
    assert_eq!(created.body["operations"][0]["status"], "finished");
    let uri = created.body["connection_uris"][0]["connection_uri"]
        .as_str()
        .unwrap();
    assert!(uri.starts_with("postgresql://neondb_owner:"));
    let again = call(
        &emu,
        "POST",
        &format!("{p}/branches"),
        KEY,
        Some(json!({"branch": {"name": "preview/pr-1", "parent_id": dev["id"]}})),
    )
    .await
    .unwrap();
    assert_eq!(again.status, 409);

    // Snapshot parameters travel in the query; a JSON body is ignored.
    let prod_id = emu.with_state(|s| s.branch_by_name("production").unwrap().id.clone());
    let snap = call(&emu, "POST", &format!("{p}/branches/{prod_id}/snapshot?name=rollback%20point&expires_at=2099-01-01T00%3A00%3A00Z"), KEY, None).await.unwrap();
    assert_eq!(snap.status, 200, "{}", snap.body);
    assert_eq!(snap.body["snapshot"]["name"], "rollback point");
    let body_only = call(
        &emu,
        "POST",
        &format!("{p}/branches/{prod_id}/snapshot"),
        KEY,
        Some(json!({"name": "in the body"})),
    )
    .await
    .unwrap();
    assert_ne!(body_only.body["snapshot"]["name"], "in the body");

    // Restore dev's data onto production.
    emu.with_state(|s| s.set_data("dev", "dev-v2"));
    let dev_id = dev["id"].as_str().unwrap();
    let cand = call(
        &emu,
        "POST",
        &format!("{p}/branches/{dev_id}/snapshot?name=candidate"),
        KEY,
        None,
    )
    .await
    .unwrap();
    let sid = cand.body["snapshot"]["id"].as_str().unwrap().to_string();
    let restored = call(
        &emu,
        "POST",
        &format!("{p}/snapshots/{sid}/restore"),
        KEY,
        Some(json!({"target_branch_id": prod_id, "finalize_restore": true})),
    )
    .await
    .unwrap();
    assert_eq!(restored.status, 200, "{}", restored.body);
    assert_eq!(restored.body["branch"]["name"], "production");
    assert_eq!(restored.body["branch"]["restored_from"], sid.as_str());
    assert_eq!(
        emu.with_state(|s| s.data_of("production")).unwrap(),
        "dev-v2"
    );
    let op_id = restored.body["operations"][0]["id"].as_str().unwrap();
    let op = call(&emu, "GET", &format!("{p}/operations/{op_id}"), KEY, None)
        .await
        .unwrap();
    assert_eq!(op.body["operation"]["status"], "finished");

    let gone = call(
        &emu,
        "DELETE",
        &format!("{p}/branches/br-does-not-exist"),
        KEY,
        None,
    )
    .await
    .unwrap();
    assert_eq!(gone.status, 204);

    let log = emu.requests();
    assert!(log.iter().all(|r| r.api == Api::Neon));
    let snap_req = log.iter().find(|r| r.path.ends_with("/snapshot")).unwrap();
    assert_eq!(
        snap_req.query_param("name").as_deref(),
        Some("rollback point")
    );
    assert_eq!(snap_req.status, 200);
    emu.clear_requests();
    assert!(emu.requests().is_empty());
}

#[tokio::test]
async fn operations_take_time_and_lock_the_project() {
    let emu = Emulator::start(Options {
        op_duration: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let p = format!("/api/v2/projects/{}", emu.project_id());
    let prod = emu.with_state(|s| s.default_branch().unwrap().id.clone());
    let snap = call(
        &emu,
        "POST",
        &format!("{p}/branches/{prod}/snapshot?name=a"),
        KEY,
        None,
    )
    .await
    .unwrap();
    assert_eq!(snap.body["operations"][0]["status"], "scheduling");
    let locked = call(
        &emu,
        "POST",
        &format!("{p}/branches/{prod}/snapshot?name=b"),
        KEY,
        None,
    )
    .await
    .unwrap();
    assert_eq!(locked.status, 423);
    assert_eq!(
        locked.body["message"],
        "project already has running conflicting operations, scheduling of new ones is prohibited"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let op = snap.body["operations"][0]["id"].as_str().unwrap();
    let op = call(&emu, "GET", &format!("{p}/operations/{op}"), KEY, None)
        .await
        .unwrap();
    assert_eq!(op.body["operation"]["status"], "finished");
    assert_eq!(
        call(
            &emu,
            "POST",
            &format!("{p}/branches/{prod}/snapshot?name=b"),
            KEY,
            None
        )
        .await
        .unwrap()
        .status,
        200
    );
}

#[tokio::test]
async fn injected_faults() {
    let emu = Emulator::start(Options::default()).await;
    let p = format!("/api/v2/projects/{}", emu.project_id());
    emu.inject(Fault::rate_limited("GET", "/branches", 2, 1));
    let limited = call(&emu, "GET", &format!("{p}/branches"), KEY, None)
        .await
        .unwrap();
    assert_eq!(
        (limited.status, limited.header("retry-after")),
        (429, Some("2"))
    );
    assert_eq!(
        call(&emu, "GET", &format!("{p}/branches"), KEY, None)
            .await
            .unwrap()
            .status,
        200
    );

    emu.inject(Fault::drop_connection("GET", "/branches", 1));
    assert!(
        call(&emu, "GET", &format!("{p}/branches"), KEY, None)
            .await
            .is_err()
    );
    assert_eq!(emu.requests().last().unwrap().status, 0);

    emu.inject(Fault::reset("GET", "/branches", 1));
    let reset = call(&emu, "GET", &format!("{p}/branches"), KEY, None)
        .await
        .err()
        .unwrap();
    assert_eq!(reset.kind(), std::io::ErrorKind::ConnectionReset, "{reset}");

    // Applied, then the answer is lost: the branch exists although the client saw nothing.
    emu.inject(Fault::drop_after_apply("POST", "/branches", 1));
    assert!(
        call(
            &emu,
            "POST",
            &format!("{p}/branches"),
            KEY,
            Some(json!({"branch": {"name": "x"}}))
        )
        .await
        .is_err()
    );
    assert!(emu.with_state(|s| s.branch_by_name("x").is_some()));

    // Applied, but the answer comes too late for the client.
    emu.inject(Fault::Delay {
        method: Some("POST".into()),
        path_contains: "/branches".into(),
        delay: Duration::from_millis(300),
        after_apply: true,
        times: 1,
    });
    let branches_path = format!("{p}/branches");
    let slow = call(
        &emu,
        "POST",
        &branches_path,
        KEY,
        Some(json!({"branch": {"name": "slow"}})),
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(100), slow)
            .await
            .is_err()
    );
    assert!(emu.with_state(|s| s.branch_by_name("slow").is_some()));

    emu.inject(Fault::fail_operation("create_branch", "failed", 1));
    let created = call(
        &emu,
        "POST",
        &format!("{p}/branches"),
        KEY,
        Some(json!({"branch": {"name": "y"}})),
    )
    .await
    .unwrap();
    assert_eq!(created.body["operations"][0]["status"], "failed");
    assert!(created.body["operations"][0]["error"].is_string());
}

#[tokio::test]
async fn github_comments_paginate_and_tokens_have_rights() {
    let emu = Emulator::start(Options::default()).await;
    emu.with_state(|s| {
        s.github.add_pull("acme/app", 7, "feature", "abc123");
        for i in 0..150 {
            s.github.add_comment(
                "acme/app",
                7,
                neon_emulator::github::GhUser::user("alice"),
                &format!("comment {i}"),
            );
        }
    });
    let path = "/github/repos/acme/app/issues/7/comments";
    let page1 = call(
        &emu,
        "GET",
        &format!("{path}?per_page=100"),
        Some("token ghs_x"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(page1.body.as_array().unwrap().len(), 100);
    assert_eq!(page1.body[0]["body"], "comment 0");
    let link = page1.header("link").unwrap();
    assert!(
        link.contains("page=2>; rel=\"next\"") && link.contains("rel=\"last\""),
        "{link}"
    );
    let page2 = call(
        &emu,
        "GET",
        &format!("{path}?per_page=100&page=2"),
        Some("token ghs_x"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(page2.body.as_array().unwrap().len(), 50);
    assert!(!page2.header("link").unwrap().contains("rel=\"next\""));

    let posted = call(
        &emu,
        "POST",
        path,
        Some("token ghs_x"),
        Some(json!({"body": "hello"})),
    )
    .await
    .unwrap();
    assert_eq!(posted.status, 201);
    assert_eq!(posted.body["user"]["login"], "github-actions[bot]");
    assert_eq!(posted.body["user"]["type"], "Bot");
    let id = posted.body["id"].as_u64().unwrap();
    let patched = call(
        &emu,
        "PATCH",
        &format!("/github/repos/acme/app/issues/comments/{id}"),
        Some("token ghs_x"),
        Some(json!({"body": "bye"})),
    )
    .await
    .unwrap();
    assert_eq!(
        (patched.status, patched.body["body"].as_str()),
        (200, Some("bye"))
    );

    let ro = call(
        &emu,
        "POST",
        path,
        Some("token ro-fork"),
        Some(json!({"body": "x"})),
    )
    .await
    .unwrap();
    assert_eq!(
        (ro.status, ro.body["message"].as_str()),
        (403, Some("Resource not accessible by integration"))
    );
    assert_eq!(
        call(&emu, "GET", "/github/user", Some("token ghs_x"), None)
            .await
            .unwrap()
            .status,
        403
    );

    emu.with_state(|s| s.github.merge_pull("acme/app", 7, "mergesha"));
    let pulls = call(
        &emu,
        "GET",
        "/github/repos/acme/app/commits/mergesha/pulls",
        Some("token ghs_x"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(pulls.body[0]["number"], 7);
    assert!(pulls.body[0]["merged_at"].is_string());
    assert_eq!(pulls.body[0]["base"]["ref"], "main");
    // Owner and name are case-insensitive, as on GitHub.
    let upper = call(
        &emu,
        "GET",
        "/github/repos/ACME/App/issues/7/comments?per_page=1",
        Some("token ghs_x"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(upper.status, 200);
    let unknown = call(
        &emu,
        "GET",
        "/github/repos/acme/app/commits/nope/pulls",
        Some("token ghs_x"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(unknown.status, 422);
    assert_eq!(emu.requests_to(Api::GitHub).len(), emu.requests().len());
}

fn encode_query_value(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn branch_listing_follows_the_cursor_and_defaults_to_100() {
    let emu = Emulator::start(Options {
        seed: Seed::Demo,
        ..Default::default()
    })
    .await;
    let p = format!("/api/v2/projects/{}", emu.project_id());
    emu.with_state(|s| {
        let dev = s.branch_by_name("dev").unwrap().id.clone();
        s.insert_many_branches("dev_feature_", 250, &dev);
    });
    let first = call(&emu, "GET", &format!("{p}/branches"), KEY, None)
        .await
        .unwrap();
    assert_eq!(
        first.body["branches"].as_array().unwrap().len(),
        100,
        "no limit: pages of 100"
    );
    let mut ids = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("{p}/branches?limit=100&search=dev");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", encode_query_value(c)));
        }
        let page = call(&emu, "GET", &path, KEY, None).await.unwrap();
        assert_eq!(page.status, 200, "{}", page.body);
        let branches = page.body["branches"].as_array().unwrap();
        if branches.is_empty() {
            break;
        }
        ids.extend(
            branches
                .iter()
                .map(|b| b["id"].as_str().unwrap().to_string()),
        );
        cursor = page.body["pagination"]["next"].as_str().map(str::to_string);
    }
    assert_eq!(ids.len(), 251);
}

#[tokio::test]
async fn control_api_for_the_standalone_binary() {
    let emu = Emulator::start(Options {
        seed: Seed::Demo,
        ..Default::default()
    })
    .await;
    let put = call(
        &emu,
        "PUT",
        "/_emulator/data",
        None,
        Some(json!({"branch": "dev", "data": "dev-v9"})),
    )
    .await
    .unwrap();
    assert_eq!(put.status, 204);
    let state = call(&emu, "GET", "/_emulator/state", None, None)
        .await
        .unwrap();
    let dev = state.body["branches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "dev")
        .unwrap()
        .clone();
    assert_eq!(dev["data"], "dev-v9");
    assert_eq!(dev["endpoints"].as_array().unwrap().len(), 1);
    let fault = json!({"kind": "status", "method": "GET", "path_contains": "/branches", "status": 503, "times": 1});
    assert_eq!(
        call(&emu, "POST", "/_emulator/faults", None, Some(fault))
            .await
            .unwrap()
            .status,
        204
    );
    let p = format!("/api/v2/projects/{}/branches", emu.project_id());
    assert_eq!(call(&emu, "GET", &p, KEY, None).await.unwrap().status, 503);
    assert_eq!(call(&emu, "GET", &p, KEY, None).await.unwrap().status, 200);
    let pull =
        json!({"repo": "o/r", "number": 3, "head_ref": "f", "head_sha": "s1", "merge_sha": "m1"});
    assert_eq!(
        call(&emu, "POST", "/_emulator/github/pulls", None, Some(pull))
            .await
            .unwrap()
            .status,
        204
    );
    let log = call(&emu, "GET", "/_emulator/requests", None, None)
        .await
        .unwrap();
    assert_eq!(
        log.body.as_array().unwrap().len(),
        2,
        "control calls are not logged"
    );
    assert_eq!(
        emu.requests()[1].header("authorization"),
        Some("Bearer napi_test")
    );
}

#[test]
fn background_emulator_serves_blocking_callers() {
    use std::io::{Read, Write};
    let emu = Emulator::start_background(Options::default());
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", emu.port())).unwrap();
    let req = format!(
        "GET /api/v2/projects/{}/branches HTTP/1.1\r\nhost: x\r\nauthorization: Bearer k\r\nconnection: close\r\n\r\n",
        emu.project_id()
    );
    stream.write_all(req.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(emu.requests().len(), 1);
    let port = emu.port();
    drop(emu);
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "stopped on drop"
    );
}

/// Polls every operation of an answer until it is terminal; returns the final statuses.
async fn wait_ops(emu: &Emulator, p: &str, answer: &Value) -> Vec<String> {
    let mut statuses = Vec::new();
    for op in answer["operations"].as_array().cloned().unwrap_or_default() {
        let id = op["id"].as_str().unwrap().to_string();
        loop {
            let got = call(emu, "GET", &format!("{p}/operations/{id}"), KEY, None)
                .await
                .unwrap();
            let status = got.body["operation"]["status"]
                .as_str()
                .unwrap()
                .to_string();
            if ["finished", "failed", "error", "cancelled", "skipped"].contains(&status.as_str()) {
                statuses.push(status);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    statuses
}

async fn branch_named(emu: &Emulator, p: &str, name: &str) -> Value {
    let list = call(
        emu,
        "GET",
        &format!("{p}/branches?search={}", encode_query_value(name)),
        KEY,
        None,
    )
    .await
    .unwrap();
    list.body["branches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == name)
        .cloned()
        .unwrap()
}

/// The whole promotion and rollback of SPEC §1 through HTTP, as a careful client does it.
#[tokio::test]
async fn promotion_and_rollback_as_the_spec_describes() {
    let emu = Emulator::start(Options {
        seed: Seed::Demo,
        op_duration: Duration::from_millis(60),
        ..Default::default()
    })
    .await;
    let p = format!("/api/v2/projects/{}", emu.project_id());
    emu.with_state(|s| {
        s.set_data("production", "prod-v1");
        s.set_data("dev", "dev-v2");
    });
    let prod = branch_named(&emu, &p, "production").await;
    let prod_id = prod["id"].as_str().unwrap().to_string();
    let dev_id = branch_named(&emu, &p, "dev").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let patched = call(
        &emu,
        "PATCH",
        &format!("{p}/branches/{prod_id}"),
        KEY,
        Some(json!({"branch": {"protected": true}})),
    )
    .await
    .unwrap();
    assert_eq!(patched.status, 200);
    let endpoint_before = call(
        &emu,
        "GET",
        &format!("{p}/branches/{prod_id}/endpoints"),
        KEY,
        None,
    )
    .await
    .unwrap()
    .body["endpoints"][0]["host"]
        .clone();

    // 1. Rollback point.
    let rollback = call(
        &emu,
        "POST",
        &format!("{p}/branches/{prod_id}/snapshot?name=rollback"),
        KEY,
        None,
    )
    .await
    .unwrap();
    assert_eq!(rollback.status, 200);
    // Anything else mutating waits for it.
    let early = call(
        &emu,
        "POST",
        &format!("{p}/branches/{dev_id}/snapshot?name=candidate"),
        KEY,
        None,
    )
    .await
    .unwrap();
    assert_eq!(early.status, 423);
    assert_eq!(wait_ops(&emu, &p, &rollback.body).await, ["finished"]);
    // 2. Candidate.
    let candidate = call(
        &emu,
        "POST",
        &format!("{p}/branches/{dev_id}/snapshot?name=candidate"),
        KEY,
        None,
    )
    .await
    .unwrap();
    wait_ops(&emu, &p, &candidate.body).await;
    let candidate_id = candidate.body["snapshot"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // 3. Restore onto prod, finalized.
    let restored = call(
        &emu,
        "POST",
        &format!("{p}/snapshots/{candidate_id}/restore"),
        KEY,
        Some(json!({"target_branch_id": prod_id, "finalize_restore": true})),
    )
    .await
    .unwrap();
    assert_eq!(restored.status, 200, "{}", restored.body);
    assert!(
        wait_ops(&emu, &p, &restored.body)
            .await
            .iter()
            .all(|s| s == "finished")
    );
    // 4. Re-resolve by name and verify.
    let new_prod = branch_named(&emu, &p, "production").await;
    assert_ne!(new_prod["id"], prod_id.as_str());
    assert_eq!(new_prod["restored_from"], candidate_id.as_str());
    assert_eq!(new_prod["default"], true);
    let new_id = new_prod["id"].as_str().unwrap().to_string();
    let endpoint_after = call(
        &emu,
        "GET",
        &format!("{p}/branches/{new_id}/endpoints"),
        KEY,
        None,
    )
    .await
    .unwrap()
    .body["endpoints"][0]["host"]
        .clone();
    assert_eq!(
        endpoint_before, endpoint_after,
        "the connection string stays"
    );
    assert_eq!(
        emu.with_state(|s| s.data_of("production")).unwrap(),
        "dev-v2"
    );
    // 5. Delete the replaced branch by the id prod had.
    let old = call(&emu, "GET", &format!("{p}/branches/{prod_id}"), KEY, None)
        .await
        .unwrap();
    assert_eq!(old.body["branch"]["name"], "production (old)");
    let deleted = call(
        &emu,
        "DELETE",
        &format!("{p}/branches/{prod_id}"),
        KEY,
        None,
    )
    .await
    .unwrap();
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    wait_ops(&emu, &p, &deleted.body).await;

    // Rollback: restore the rollback snapshot onto the current prod.
    let rollback_id = rollback.body["snapshot"]["id"].as_str().unwrap();
    let back = call(
        &emu,
        "POST",
        &format!("{p}/snapshots/{rollback_id}/restore"),
        KEY,
        Some(json!({"target_branch_id": new_id, "finalize_restore": true})),
    )
    .await
    .unwrap();
    wait_ops(&emu, &p, &back.body).await;
    assert_eq!(
        emu.with_state(|s| s.data_of("production")).unwrap(),
        "prod-v1"
    );
    assert_eq!(
        branch_named(&emu, &p, "production").await["restored_from"],
        rollback_id
    );
}

/// The in-process entry point routes exactly as the server does: the same script, from the
/// same fastrand seed and start time, gets the same answers both ways.
#[tokio::test]
async fn handle_neon_answers_as_the_server_does() {
    let opts = || Options {
        seed: Seed::Demo,
        start_time: Some("2026-03-01T12:00:00Z".parse().unwrap()),
        ..Options::default()
    };
    let p = "/api/v2/projects/proj-emulated";
    let create = json!({"branch": {"name": "preview/pr-9"}, "endpoints": [{"type": "read_write"}]});
    let script: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", p.to_string(), None),
        ("GET", format!("{p}/branches?search=dev&limit=1"), None),
        ("POST", format!("{p}/branches"), Some(create.clone())),
        ("POST", format!("{p}/branches"), Some(create)),
        ("GET", format!("{p}/branches/br-missing-1"), None),
        ("GET", format!("{p}/operations"), None),
    ];
    fastrand::seed(11);
    let served = Emulator::start(opts()).await;
    let mut over_http = Vec::new();
    for (method, path, body) in &script {
        let a = call(&served, method, path, Some("Bearer k"), body.clone())
            .await
            .unwrap();
        over_http.push((a.status, a.body));
    }
    fastrand::seed(11);
    let detached = Emulator::detached(opts());
    let mut in_process = Vec::new();
    for (method, path, body) in &script {
        let body = body.as_ref().map(Value::to_string).unwrap_or_default();
        let r = detached.handle_neon(
            method,
            path,
            &[("authorization", "Bearer k")],
            body.as_bytes(),
        );
        in_process.push((r.status, r.json()));
    }
    assert_eq!(over_http, in_process);
    let statuses: Vec<u16> = in_process.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [200, 200, 201, 409, 404, 200]);
    let strip = |r: neon_emulator::LoggedRequest| (r.method, r.path, r.query, r.status, r.at);
    assert_eq!(
        served.requests().into_iter().map(strip).collect::<Vec<_>>(),
        detached
            .requests()
            .into_iter()
            .map(strip)
            .collect::<Vec<_>>()
    );
}
