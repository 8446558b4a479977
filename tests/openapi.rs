//! Fidelity: every answer the emulator gives on the routes neon-promote uses (and the error
//! answers it can get there) must validate against the pinned Neon OpenAPI spec, so a client
//! tested against the emulator is tested against the API's real shapes. The spec is fetched by
//! `npm pack` and checksum-verified (see `support/npm.rs`), never committed.
//!
//! The first tests pin down the validator itself on hand-written samples, so a green run of
//! the emulator tests means "conforms", not "the checker checks nothing". The route tests then
//! walk every route we use, one named part per resource or concern (each part runs on what the
//! earlier ones left, and its test checks its own exchanges); one test walks all the parts on
//! one emulator and checks every exchange together, with a success for each operation we call.
//! Last, the emulator must refuse what the spec forbids, our models must parse what it allows,
//! and the binary must send only what it allows.

mod support;

use support::spec;

use std::time::Duration;

use neon_emulator::{Emulator, Fault, Options};
use serde_json::{Value, json};

const KEY: &str = "napi_openapi_test";

fn spec() -> &'static spec::Spec {
    spec::pinned()
}

/// A branch as the spec's own example has it: every required field.
fn sample_branch() -> Value {
    json!({
        "id": "br-aged-salad-637688",
        "project_id": "shiny-wind-028834",
        "name": "main",
        "current_state": "ready",
        "state_changed_at": "2022-11-30T20:09:48Z",
        "logical_size": 28,
        "creation_source": "console",
        "created_at": "2022-11-23T17:42:25Z",
        "updated_at": "2022-11-23T17:42:26Z",
        "default": true,
        "protected": false,
        "cpu_used_sec": 100,
        "active_time_seconds": 100,
        "compute_time_seconds": 100,
        "written_data_bytes": 100800,
        "data_transfer_bytes": 1000000
    })
}

#[test]
fn the_pinned_spec_is_the_expected_one() {
    let s = spec();
    assert!(
        s.operation("POST", "/projects/p/branches/br-x/snapshot")
            .is_some_and(|o| o.operation_id == "createSnapshot"),
        "spec {} has no createSnapshot",
        s.version()
    );
}

#[test]
fn literal_segments_win_over_parameters() {
    let s = spec();
    let count = s
        .operation("GET", "/api/v2/projects/p/branches/count")
        .unwrap();
    assert_eq!(count.operation_id, "countProjectBranches");
    let get = s
        .operation("GET", "/api/v2/projects/p/branches/br-x")
        .unwrap();
    assert_eq!(get.operation_id, "getProjectBranch");
    assert_eq!(
        get.path_params,
        vec![("project_id", "p".into()), ("branch_id", "br-x".into())]
    );
    assert!(s.operation("PUT", "/projects/p/branches").is_none());
}

#[test]
fn a_branch_missing_a_required_field_fails() {
    let s = spec();
    assert_eq!(
        s.validate_component("Branch", &sample_branch()),
        Vec::<String>::new()
    );
    let mut b = sample_branch();
    b.as_object_mut().unwrap().remove("name");
    let errors = s.validate_component("Branch", &b);
    assert!(errors.iter().any(|e| e.contains("\"name\"")), "{errors:?}");
    let mut b = sample_branch();
    b["protected"] = json!("no");
    assert!(!s.validate_component("Branch", &b).is_empty());
    // A wrong enum value deep inside a response fails through the `$ref`s.
    let op = json!({"operation": {
        "id": "d8ac46eb-a757-42b1-9907-f78322ee394e", "project_id": "p", "action": "create_timeline",
        "status": "done", "failures_count": 0, "created_at": "2022-11-08T23:33:23Z",
        "updated_at": "2022-11-08T23:33:23Z", "total_duration_ms": 1
    }});
    let errors = s.check_response("GET", "/projects/p/operations/x", 200, Some(&op));
    assert!(
        errors.iter().any(|e| e.contains("/operation/status")),
        "{errors:?}"
    );
    let mut fine = op.clone();
    fine["operation"]["status"] = json!("finished");
    assert_eq!(
        s.check_response("GET", "/projects/p/operations/x", 200, Some(&fine)),
        Vec::<String>::new()
    );
    // `date-time` is enforced: a bare date is not a timestamp.
    fine["operation"]["created_at"] = json!("2022-11-08");
    assert!(
        !s.check_response("GET", "/projects/p/operations/x", 200, Some(&fine))
            .is_empty()
    );
}

#[test]
fn undeclared_fields_are_found() {
    let s = spec();
    let mut b = sample_branch();
    b["invented"] = json!(1);
    let body = json!({"branch": b, "annotation": {"value": {}}, "extra": true});
    let found = s.undeclared_in_response("GET", "/projects/p/branches/br-x", 200, &body);
    assert_eq!(found, vec!["/branch/invented", "/extra"]);
}

#[test]
fn nullable_becomes_or_null() {
    let converted = spec::convert(&json!({"type": "string", "nullable": true}));
    let v = jsonschema::validator_for(&converted).unwrap();
    assert!(v.is_valid(&json!(null)) && v.is_valid(&json!("x")) && !v.is_valid(&json!(1)));
    let plain = jsonschema::validator_for(&spec::convert(&json!({"type": "string"}))).unwrap();
    assert!(!plain.is_valid(&json!(null)));
}

#[test]
fn statuses_and_bodies_must_be_documented() {
    let s = spec();
    // Errors fall to `default`: the GeneralError shape, `code` and `message` required.
    let path = "/projects/p/branches/br-x";
    let err = json!({"code": "", "message": "not found", "request_id": "r"});
    assert!(s.check_response("GET", path, 404, Some(&err)).is_empty());
    assert!(
        !s.check_response("GET", path, 404, Some(&json!({"error": "x"})))
            .is_empty()
    );
    assert!(!s.check_response("GET", path, 404, None).is_empty());
    // A success the operation does not list is a finding, not swallowed by `default`.
    assert!(
        !s.check_response("GET", path, 201, Some(&json!({})))
            .is_empty()
    );
    // 204 on delete has no body.
    assert!(s.check_response("DELETE", path, 204, None).is_empty());
    assert!(
        !s.check_response("DELETE", path, 204, Some(&json!({})))
            .is_empty()
    );
}

#[test]
fn snapshot_parameters_go_in_the_query() {
    let s = spec();
    let path = "/api/v2/projects/p/branches/br-x/snapshot";
    let q = "name=pre-promote&expires_at=2030-01-01T00%3A00%3A00Z";
    assert_eq!(s.check_request("POST", path, q, None), Vec::<String>::new());
    // The docs' curl examples send a JSON body; the spec declares none.
    let body = json!({"name": "pre-promote"});
    assert!(!s.check_request("POST", path, "", Some(&body)).is_empty());
    assert!(!s.check_request("POST", path, "nme=x", None).is_empty());
    // Typed query parameters: limit is an integer of 1..=10000.
    let list = "/projects/p/branches";
    assert!(
        s.check_request("GET", list, "limit=100&search=dev", None)
            .is_empty()
    );
    assert!(!s.check_request("GET", list, "limit=0", None).is_empty());
    assert!(!s.check_request("GET", list, "limit=many", None).is_empty());
    // Path parameters follow their pattern.
    assert!(
        !s.check_request("GET", "/projects/P!/branches", "", None)
            .is_empty()
    );
}

#[test]
fn request_bodies_are_checked() {
    let s = spec();
    let path = "/projects/p/branches";
    let ok = json!({"branch": {"name": "preview/pr-1", "parent_id": "br-x",
        "expires_at": "2030-01-01T00:00:00Z"}, "endpoints": [{"type": "read_write"}]});
    assert_eq!(
        s.check_request("POST", path, "", Some(&ok)),
        Vec::<String>::new()
    );
    let bad = json!({"endpoints": [{"type": "read_write_please"}]});
    assert!(!s.check_request("POST", path, "", Some(&bad)).is_empty());
    let restore = "/projects/p/snapshots/snap-x/restore";
    let body = json!({"target_branch_id": "br-x", "finalize_restore": true});
    assert_eq!(
        s.check_request("POST", restore, "", Some(&body)),
        Vec::<String>::new()
    );
    let body = json!({"finalize_restore": "yes"});
    assert!(!s.check_request("POST", restore, "", Some(&body)).is_empty());
    // The restore's `name` query parameter is deprecated: the body carries it now.
    let errors = s.check_request("POST", restore, "name=dev", None);
    assert!(
        errors.iter().any(|e| e.contains("deprecated")),
        "{errors:?}"
    );
}

/// One request and its answer, as sent and received.
struct Exchange {
    method: String,
    path: String,
    query: String,
    body: Option<Value>,
    status: u16,
    answer: Option<Value>,
    retry_after: Option<String>,
}

/// The operations neon-promote may call: the route tests below must get a success from each,
/// so every answer our client parses has been validated. A command that starts using another
/// route fails `every_request_neon_promote_sends_is_one_the_spec_allows` until it is added
/// here and driven below.
const OUR_OPERATIONS: &[&str] = &[
    "listProjectBranches",
    "getProjectBranch",
    "createProjectBranch",
    "updateProjectBranch",
    "deleteProjectBranch",
    "listProjectBranchEndpoints",
    "createProjectEndpoint",
    "getConnectionURI",
    "createSnapshot",
    "listSnapshots",
    "updateSnapshot",
    "deleteSnapshot",
    "restoreSnapshot",
    "finalizeRestoreBranch",
    "getProjectOperation",
    "listProjectOperations",
    "getProjectBranchSchemaComparison",
    "getProjectBranchSchema",
    "createProjectBranchAnonymized",
    "getAnonymizedBranchStatus",
    "getNeonAuth",
    "getProjectBranchDataAPI",
];

/// An emulator driven by plain reqwest, remembering every exchange for the check, and the ids
/// each part of the walk below leaves for the later ones.
///
/// Operations take an hour of emulated time: the parts move the clock (`finish`), never sleep,
/// so "running" and 423 are seen deterministically.
struct World {
    emu: Emulator,
    op: Duration,
    http: reqwest::Client,
    base: String,
    project: String,
    log: Vec<Exchange>,
    /// An expiry twenty days out: far beyond the hours `finish` moves the clock, within the
    /// 30-day cap.
    expires: String,
    /// The default branch as the first read found it.
    prod: String,
    /// `preview/pr-1`, a child of `prod` with a compute and an expiry.
    preview: String,
    /// `bare`, a child of `prod` created without a compute (one is added).
    bare: String,
    /// The snapshots of `prod` named `rollback-1` and `candidate`.
    rollback: String,
    candidate: String,
    /// `dev`, restored from `rollback` without finalizing.
    dev: String,
    /// `prod` after `candidate` was restored onto it with finalize (a new id).
    new_prod: String,
}

impl World {
    async fn start() -> World {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let op = Duration::from_secs(3600);
        let emu = Emulator::start(Options {
            op_duration: op,
            snapshot_quota: 3,
            ..Options::default()
        })
        .await;
        let expires = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(20 * 24))
            .round(jiff::Unit::Second)
            .unwrap()
            .to_string();
        World {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            base: emu.neon_api(),
            project: emu.project_id(),
            emu,
            op,
            log: Vec::new(),
            expires,
            prod: String::new(),
            preview: String::new(),
            bare: String::new(),
            rollback: String::new(),
            candidate: String::new(),
            dev: String::new(),
            new_prod: String::new(),
        }
    }

    /// A world that every part before `part` has been through, as the whole walk has it when
    /// `part` starts.
    async fn ready_for(part: Part) -> World {
        let mut w = World::start().await;
        for earlier in Part::ALL.into_iter().take_while(|p| *p != part) {
            earlier.run(&mut w).await;
        }
        w
    }

    /// Moves the emulated clock past every running operation.
    fn finish(&self) {
        self.emu.with_state(|st| st.advance(self.op * 3));
    }

    async fn call(
        &mut self,
        method: &str,
        rel: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, Value) {
        let path = format!("/projects/{}{rel}", self.project);
        let url = format!("{}{path}", self.base);
        let mut req = self
            .http
            .request(method.parse().unwrap(), &url)
            .bearer_auth(KEY)
            .query(query);
        if let Some(b) = &body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = resp.text().await.unwrap();
        let answer = (!text.trim().is_empty()).then(|| {
            serde_json::from_str::<Value>(&text)
                .unwrap_or_else(|e| panic!("{method} {path}: answer is not JSON ({e}): {text}"))
        });
        let query = query
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.log.push(Exchange {
            method: method.into(),
            path,
            query,
            body,
            status,
            answer: answer.clone(),
            retry_after,
        });
        (status, answer.unwrap_or(Value::Null))
    }

    /// The call must answer `want`.
    async fn expect(
        &mut self,
        want: u16,
        method: &str,
        rel: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Value {
        let (status, answer) = self.call(method, rel, query, body).await;
        assert_eq!(status, want, "{method} {rel} {query:?}: {answer}");
        answer
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn id(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not an id: {v}"))
        .to_string()
}

/// The walk through every route neon-promote uses, in order: each part runs on what the
/// earlier ones left (branches, snapshots, the emulated clock).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Part {
    ProjectAndBranchReads,
    EndpointReads,
    ConnectionUris,
    RolesAndDatabases,
    NewBranchAndItsOperation,
    ConflictAndCompute,
    BranchUpdates,
    BranchPagination,
    Snapshots,
    Restores,
    Deletes,
    ProtectionAndFailedOperation,
    ErrorAnswers,
    CreateBranchActionRoutes,
}

impl Part {
    const ALL: [Part; 14] = [
        Part::ProjectAndBranchReads,
        Part::EndpointReads,
        Part::ConnectionUris,
        Part::RolesAndDatabases,
        Part::NewBranchAndItsOperation,
        Part::ConflictAndCompute,
        Part::BranchUpdates,
        Part::BranchPagination,
        Part::Snapshots,
        Part::Restores,
        Part::Deletes,
        Part::ProtectionAndFailedOperation,
        Part::ErrorAnswers,
        Part::CreateBranchActionRoutes,
    ];

    async fn run(self, w: &mut World) {
        match self {
            Part::ProjectAndBranchReads => project_and_branch_reads(w).await,
            Part::EndpointReads => endpoint_reads(w).await,
            Part::ConnectionUris => connection_uris(w).await,
            Part::RolesAndDatabases => roles_and_databases(w).await,
            Part::NewBranchAndItsOperation => new_branch_and_its_operation(w).await,
            Part::ConflictAndCompute => conflict_and_compute(w).await,
            Part::BranchUpdates => branch_updates(w).await,
            Part::BranchPagination => branch_pagination(w).await,
            Part::Snapshots => snapshots(w).await,
            Part::Restores => restores(w).await,
            Part::Deletes => deletes(w).await,
            Part::ProtectionAndFailedOperation => protection_and_failed_operation(w).await,
            Part::ErrorAnswers => error_answers(w).await,
            Part::CreateBranchActionRoutes => create_branch_action_routes(w).await,
        }
    }

    /// Runs this part on a world ready for it and validates its own exchanges against the
    /// spec (those of the earlier parts are their own tests' business).
    async fn check(self) {
        let mut w = World::ready_for(self).await;
        let from = w.log.len();
        self.run(&mut w).await;
        report(spec(), &w.log[from..], &[]);
    }
}

/// The whole walk on one emulator: every answer on our routes (and every request this test
/// sent) validated against the spec, with a success seen for each of `OUR_OPERATIONS`; all
/// failures are listed at once, and the (status, operation) pairs checked are printed.
#[tokio::test]
async fn every_emulator_answer_on_our_routes_matches_the_spec() {
    let mut w = World::start().await;
    for part in Part::ALL {
        part.run(&mut w).await;
    }
    assert_the_check_bites(&w);
    report(spec(), &w.log, OUR_OPERATIONS);
}

#[tokio::test]
async fn project_and_branch_reads_match_the_spec() {
    Part::ProjectAndBranchReads.check().await;
}

/// The project, the branch list (whole, searched), the count and one branch.
async fn project_and_branch_reads(w: &mut World) {
    w.expect(200, "GET", "", &[], None).await;
    let list = w.expect(200, "GET", "/branches", &[], None).await;
    w.prod = id(&list["branches"][0]["id"]);
    let prod = w.prod.clone();
    w.expect(
        200,
        "GET",
        "/branches",
        &[("search", "prod"), ("limit", "1")],
        None,
    )
    .await;
    w.expect(200, "GET", "/branches/count", &[], None).await;
    w.expect(200, "GET", &format!("/branches/{prod}"), &[], None)
        .await;
}

#[tokio::test]
async fn endpoint_reads_match_the_spec() {
    Part::EndpointReads.check().await;
}

/// The computes of one branch and of the whole project.
async fn endpoint_reads(w: &mut World) {
    let prod = w.prod.clone();
    w.expect(
        200,
        "GET",
        &format!("/branches/{prod}/endpoints"),
        &[],
        None,
    )
    .await;
    w.expect(200, "GET", "/endpoints", &[], None).await;
}

#[tokio::test]
async fn connection_uris_match_the_spec() {
    Part::ConnectionUris.check().await;
}

/// The connection string, pooled and direct.
async fn connection_uris(w: &mut World) {
    let prod = w.prod.clone();
    let cu = |pooled| {
        [
            ("branch_id", prod.clone()),
            ("database_name", "neondb".to_string()),
            ("role_name", "neondb_owner".to_string()),
            ("pooled", pooled),
        ]
    };
    for pooled in ["true", "false"] {
        let q = cu(pooled.to_string());
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        w.expect(200, "GET", "/connection_uri", &q, None).await;
    }
}

#[tokio::test]
async fn roles_and_databases_match_the_spec() {
    Part::RolesAndDatabases.check().await;
}

/// The roles, one role and its password, the databases and one database.
async fn roles_and_databases(w: &mut World) {
    let prod = w.prod.clone();
    w.expect(200, "GET", &format!("/branches/{prod}/roles"), &[], None)
        .await;
    w.expect(
        200,
        "GET",
        &format!("/branches/{prod}/roles/neondb_owner"),
        &[],
        None,
    )
    .await;
    let reveal = format!("/branches/{prod}/roles/neondb_owner/reveal_password");
    w.expect(200, "GET", &reveal, &[], None).await;
    w.expect(
        200,
        "GET",
        &format!("/branches/{prod}/databases"),
        &[],
        None,
    )
    .await;
    w.expect(
        200,
        "GET",
        &format!("/branches/{prod}/databases/neondb"),
        &[],
        None,
    )
    .await;
}

/// The body of a preview branch of `prod` with a compute and an expiry.
fn create(w: &World, name: &str) -> Value {
    json!({"branch": {"name": name, "parent_id": w.prod, "expires_at": w.expires},
           "endpoints": [{"type": "read_write"}]})
}

#[tokio::test]
async fn a_new_branch_and_its_operation_match_the_spec() {
    Part::NewBranchAndItsOperation.check().await;
}

/// A preview branch with a compute and an expiry: its operation starts out not finished, so
/// another mutation gets 423; the operation and the operation list (a page, the next page)
/// while it runs, the branch, and the operation once finished.
async fn new_branch_and_its_operation(w: &mut World) {
    let body = create(w, "preview/pr-1");
    let created = w.expect(201, "POST", "/branches", &[], Some(body)).await;
    w.preview = id(&created["branch"]["id"]);
    let preview = w.preview.clone();
    let op_id = id(&created["operations"][0]["id"]);
    // Another mutation while it runs: 423.
    let body = create(w, "preview/pr-2");
    w.expect(423, "POST", "/branches", &[], Some(body)).await;
    w.expect(200, "GET", &format!("/operations/{op_id}"), &[], None)
        .await;
    w.expect(200, "GET", "/operations", &[], None).await;
    let page = w
        .expect(200, "GET", "/operations", &[("limit", "1")], None)
        .await;
    if let Some(cursor) = page["pagination"]["cursor"].as_str() {
        let cursor = cursor.to_string();
        w.expect(
            200,
            "GET",
            "/operations",
            &[("limit", "1"), ("cursor", &cursor)],
            None,
        )
        .await;
    }
    w.expect(200, "GET", &format!("/branches/{preview}"), &[], None)
        .await;
    w.finish();
    w.expect(200, "GET", &format!("/operations/{op_id}"), &[], None)
        .await;
}

#[tokio::test]
async fn a_taken_name_and_a_compute_added_later_match_the_spec() {
    Part::ConflictAndCompute.check().await;
}

/// The name is taken: 409. A branch with no compute, then one added.
async fn conflict_and_compute(w: &mut World) {
    let prod = w.prod.clone();
    let body = create(w, "preview/pr-1");
    w.expect(409, "POST", "/branches", &[], Some(body)).await;
    let bare = json!({"branch": {"name": "bare", "parent_id": prod}});
    let bare = w.expect(201, "POST", "/branches", &[], Some(bare)).await;
    w.bare = id(&bare["branch"]["id"]);
    let bare = w.bare.clone();
    w.finish();
    let ep = json!({"endpoint": {"branch_id": bare, "type": "read_write"}});
    w.expect(201, "POST", "/endpoints", &[], Some(ep)).await;
    w.finish();
}

#[tokio::test]
async fn branch_updates_and_the_schema_comparison_match_the_spec() {
    Part::BranchUpdates.check().await;
}

/// A rename with an expiry, the expiry removed, and a schema comparison with `prod`.
async fn branch_updates(w: &mut World) {
    let (prod, preview, bare) = (w.prod.clone(), w.preview.clone(), w.bare.clone());
    let patch = json!({"branch": {"name": "bare-renamed", "expires_at": w.expires}});
    w.expect(200, "PATCH", &format!("/branches/{bare}"), &[], Some(patch))
        .await;
    let patch = json!({"branch": {"expires_at": null}});
    w.expect(200, "PATCH", &format!("/branches/{bare}"), &[], Some(patch))
        .await;
    let cmp = [("base_branch_id", prod.as_str()), ("db_name", "neondb")];
    w.expect(
        200,
        "GET",
        &format!("/branches/{preview}/compare_schema"),
        &cmp,
        None,
    )
    .await;
    for format in [&[][..], &[("format", "json")][..], &[("format", "sql")][..]] {
        let mut q = vec![("db_name", "neondb")];
        q.extend_from_slice(format);
        w.expect(200, "GET", &format!("/branches/{prod}/schema"), &q, None)
            .await;
    }
}

#[tokio::test]
async fn branch_pages_match_the_spec() {
    Part::BranchPagination.check().await;
}

/// Pagination: one branch a page, following `next` to the end.
async fn branch_pagination(w: &mut World) {
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut q = vec![("limit", "1")];
        if let Some(c) = &cursor {
            q.push(("cursor", c.as_str()));
        }
        let page = w.expect(200, "GET", "/branches", &q, None).await;
        match page["pagination"]["next"].as_str() {
            Some(next) if !page["branches"].as_array().unwrap().is_empty() => {
                cursor = Some(next.to_string())
            }
            _ => break,
        }
    }
}

#[tokio::test]
async fn snapshots_match_the_spec() {
    Part::Snapshots.check().await;
}

/// Snapshots: query parameters; a non-root branch is refused; the quota stops the fourth;
/// the list, and a rename.
async fn snapshots(w: &mut World) {
    let (prod, preview, expires) = (w.prod.clone(), w.preview.clone(), w.expires.clone());
    let snap_q = [("name", "rollback-1"), ("expires_at", expires.as_str())];
    let snap = w
        .expect(
            200,
            "POST",
            &format!("/branches/{prod}/snapshot"),
            &snap_q,
            None,
        )
        .await;
    w.rollback = id(&snap["snapshot"]["id"]);
    let rollback = w.rollback.clone();
    w.finish();
    let (status, _) = w
        .call(
            "POST",
            &format!("/branches/{preview}/snapshot"),
            &[("name", "x")],
            None,
        )
        .await;
    assert!(
        (400..500).contains(&status),
        "snapshot of a child: {status}"
    );
    let snap = w
        .expect(
            200,
            "POST",
            &format!("/branches/{prod}/snapshot"),
            &[("name", "candidate")],
            None,
        )
        .await;
    w.candidate = id(&snap["snapshot"]["id"]);
    w.finish();
    w.expect(
        200,
        "POST",
        &format!("/branches/{prod}/snapshot"),
        &[],
        None,
    )
    .await;
    w.finish();
    let (status, quota) = w
        .call(
            "POST",
            &format!("/branches/{prod}/snapshot"),
            &[("name", "over")],
            None,
        )
        .await;
    assert!((400..500).contains(&status), "over quota: {status} {quota}");
    w.expect(200, "GET", "/snapshots", &[], None).await;
    let rename = json!({"snapshot": {"name": "rollback-renamed"}});
    w.expect(
        200,
        "PATCH",
        &format!("/snapshots/{rollback}"),
        &[],
        Some(rename),
    )
    .await;
}

#[tokio::test]
async fn restores_match_the_spec() {
    Part::Restores.check().await;
}

/// Restore without finalizing (setup's `dev`), then with finalize onto prod (promote); a
/// restore kept for preview and finalized by its own route; a missing snapshot.
async fn restores(w: &mut World) {
    let (prod, rollback, candidate) = (w.prod.clone(), w.rollback.clone(), w.candidate.clone());
    let body = json!({"name": "dev"});
    let dev = w
        .expect(
            200,
            "POST",
            &format!("/snapshots/{rollback}/restore"),
            &[],
            Some(body),
        )
        .await;
    w.dev = id(&dev["branch"]["id"]);
    w.finish();
    let body = json!({"target_branch_id": prod, "finalize_restore": true, "name": "production"});
    let restored = w
        .expect(
            200,
            "POST",
            &format!("/snapshots/{candidate}/restore"),
            &[],
            Some(body),
        )
        .await;
    w.new_prod = id(&restored["branch"]["id"]);
    assert_ne!(w.new_prod, prod, "finalize gives the target a new id");
    w.finish();
    // A restore kept for preview, finalized by its own route (neonctl `snapshots finalize`).
    let body = json!({"name": "staged"});
    let staged = w
        .expect(
            200,
            "POST",
            &format!("/snapshots/{rollback}/restore"),
            &[],
            Some(body),
        )
        .await;
    let staged = id(&staged["branch"]["id"]);
    w.finish();
    let (status, _) = w
        .call(
            "POST",
            &format!("/branches/{staged}/finalize_restore"),
            &[],
            Some(json!({})),
        )
        .await;
    assert!(status < 500, "finalize_restore: {status}");
    w.finish();
    w.expect(
        404,
        "POST",
        "/snapshots/snap-missing-0000/restore",
        &[],
        Some(json!({})),
    )
    .await;
}

#[tokio::test]
async fn deletes_and_missing_resources_match_the_spec() {
    Part::Deletes.check().await;
}

/// Deletes: a child branch, a missing branch (204), a parent and the default (refused); a
/// snapshot and a missing one; reads of a missing branch and a missing operation.
async fn deletes(w: &mut World) {
    let (preview, new_prod) = (w.preview.clone(), w.new_prod.clone());
    let (dev, rollback) = (w.dev.clone(), w.rollback.clone());
    w.expect(200, "DELETE", &format!("/branches/{preview}"), &[], None)
        .await;
    w.finish();
    w.expect(204, "DELETE", "/branches/br-missing-00000000", &[], None)
        .await;
    let (status, _) = w
        .call("DELETE", &format!("/branches/{new_prod}"), &[], None)
        .await;
    assert!(
        (400..500).contains(&status),
        "delete of the default branch: {status}"
    );
    let child = json!({"branch": {"name": "child-of-dev", "parent_id": dev}});
    w.expect(201, "POST", "/branches", &[], Some(child)).await;
    w.finish();
    let (status, _) = w
        .call("DELETE", &format!("/branches/{dev}"), &[], None)
        .await;
    assert!((400..500).contains(&status), "delete of a parent: {status}");
    w.expect(202, "DELETE", &format!("/snapshots/{rollback}"), &[], None)
        .await;
    w.finish();
    w.expect(404, "DELETE", "/snapshots/snap-missing-0000", &[], None)
        .await;
    w.expect(404, "GET", "/branches/br-missing-00000000", &[], None)
        .await;
    w.expect(
        404,
        "GET",
        "/operations/00000000-0000-0000-0000-000000000000",
        &[],
        None,
    )
    .await;
}

#[tokio::test]
async fn a_protected_branch_and_a_failed_operation_match_the_spec() {
    Part::ProtectionAndFailedOperation.check().await;
}

/// A protected branch cannot be deleted; a failed operation carries its error.
async fn protection_and_failed_operation(w: &mut World) {
    let (bare, new_prod) = (w.bare.clone(), w.new_prod.clone());
    let protect = json!({"branch": {"protected": true}});
    w.expect(
        200,
        "PATCH",
        &format!("/branches/{bare}"),
        &[],
        Some(protect),
    )
    .await;
    let (status, _) = w
        .call("DELETE", &format!("/branches/{bare}"), &[], None)
        .await;
    assert!(
        (400..500).contains(&status),
        "delete of a protected branch: {status}"
    );
    w.emu
        .inject(Fault::fail_operation("create_branch", "failed", 1));
    let doomed = json!({"branch": {"name": "doomed", "parent_id": new_prod}});
    let doomed = w.expect(201, "POST", "/branches", &[], Some(doomed)).await;
    let doomed_op = id(&doomed["operations"][0]["id"]);
    w.finish();
    let failed = w
        .expect(200, "GET", &format!("/operations/{doomed_op}"), &[], None)
        .await;
    assert_eq!(failed["operation"]["status"], "failed", "{failed}");
    w.expect(
        200,
        "GET",
        &format!("/branches/{}", id(&doomed["branch"]["id"])),
        &[],
        None,
    )
    .await;
    w.expect(200, "GET", "/operations", &[], None).await;
}

#[tokio::test]
async fn injected_faults_and_a_missing_key_answer_with_the_error_shape() {
    Part::ErrorAnswers.check().await;
}

/// Injected faults answer with the API's error shape; 429 carries Retry-After. Without a
/// key: 401, same shape.
async fn error_answers(w: &mut World) {
    let (new_prod, candidate) = (w.new_prod.clone(), w.candidate.clone());
    w.emu.inject(Fault::rate_limited("GET", "/branches", 2, 1));
    w.expect(429, "GET", "/branches", &[], None).await;
    w.emu.inject(Fault::status("POST", "/snapshot", 503, 1));
    w.expect(
        503,
        "POST",
        &format!("/branches/{new_prod}/snapshot"),
        &[],
        None,
    )
    .await;
    w.emu.inject(Fault::status("POST", "/restore", 423, 1));
    w.expect(
        423,
        "POST",
        &format!("/snapshots/{candidate}/restore"),
        &[],
        Some(json!({})),
    )
    .await;
    w.emu.inject(Fault::status("GET", "/operations", 500, 1));
    w.expect(500, "GET", "/operations", &[], None).await;
    let limited = w.log.iter().find(|e| e.status == 429).unwrap();
    assert_eq!(limited.retry_after.as_deref(), Some("2"));

    // Without a key: 401, same shape.
    let url = format!("{}/projects/{}/branches", w.base, w.project);
    let resp = w.http.get(&url).send().await.unwrap();
    let status = resp.status().as_u16();
    let answer: Value = resp.json().await.unwrap();
    w.log.push(Exchange {
        method: "GET".into(),
        path: format!("/projects/{}/branches", w.project),
        query: String::new(),
        body: None,
        status,
        answer: Some(answer),
        retry_after: None,
    });
    assert_eq!(status, 401);
}

#[tokio::test]
async fn create_branch_action_routes_match_the_spec() {
    Part::CreateBranchActionRoutes.check().await;
}

/// What create-branch-action's inputs make neon-promote call: a schema-only branch with a
/// suspend timeout, an anonymized branch and its status while it runs and once it ended, and
/// Neon Auth and the Data API off (404) and on.
async fn create_branch_action_routes(w: &mut World) {
    let prod = w.new_prod.clone();
    let endpoints = json!([{ "type": "read_write", "suspend_timeout_seconds": 300 }]);
    let branch = json!({ "name": "schema-copy", "parent_id": prod, "init_source": "schema-only" });
    let body = json!({ "branch": branch, "endpoints": endpoints });
    w.expect(201, "POST", "/branches", &[], Some(body)).await;
    w.finish();
    let rules = json!([{
        "database_name": "neondb", "schema_name": "public", "table_name": "users",
        "column_name": "email", "masking_function": "anon.dummy_free_email()",
    }]);
    let body = json!({
        "branch_create": { "branch": { "name": "masked", "parent_id": prod }, "endpoints": endpoints },
        "masking_rules": rules,
        "start_anonymization": true,
    });
    let created = w
        .expect(201, "POST", "/branch_anonymized", &[], Some(body))
        .await;
    let masked = id(&created["branch"]["id"]);
    let status = format!("/branches/{masked}/anonymized_status");
    let running = w.expect(200, "GET", &status, &[], None).await;
    assert_eq!(running["state"], "anonymizing");
    w.finish();
    let ended = w.expect(200, "GET", &status, &[], None).await;
    assert_eq!(ended["state"], "anonymized");
    let (auth, data_api) = (
        format!("/branches/{masked}/auth"),
        format!("/branches/{masked}/data-api/neondb"),
    );
    w.expect(404, "GET", &auth, &[], None).await;
    w.expect(404, "GET", &data_api, &[], None).await;
    w.emu.with_state(|st| {
        st.limits.features = neon_emulator::state::Features {
            neon_auth: true,
            data_api: true,
        }
    });
    w.expect(200, "GET", &auth, &[], None).await;
    w.expect(200, "GET", &data_api, &[], None).await;
}

/// The check must bite on the emulator's own answers, not only on hand-written samples.
#[tokio::test]
async fn the_check_bites_on_the_emulator_s_answers() {
    let mut w = World::ready_for(Part::NewBranchAndItsOperation).await;
    Part::NewBranchAndItsOperation.run(&mut w).await;
    assert_the_check_bites(&w);
}

/// Drops a required field from the first created branch the walk got: the check must fail.
fn assert_the_check_bites(w: &World) {
    let s = spec();
    let mut broken = w
        .log
        .iter()
        .find(|e| e.status == 201)
        .unwrap()
        .answer
        .clone()
        .unwrap();
    broken["branch"].as_object_mut().unwrap().remove("id");
    let path = format!("/projects/{}/branches", w.project);
    assert!(
        !s.check_response("POST", &path, 201, Some(&broken))
            .is_empty()
    );
}

/// Validates every exchange; prints the undeclared fields as notes and fails on any schema
/// violation, with all of them listed, and on any of `must_succeed` without a validated
/// success among the exchanges.
fn report(s: &spec::Spec, log: &[Exchange], must_succeed: &[&str]) {
    let mut failures = Vec::new();
    let mut notes = std::collections::BTreeSet::new();
    let mut routes = std::collections::BTreeSet::new();
    for e in log {
        let op = s
            .operation(&e.method, &e.path)
            .map(|o| o.operation_id.to_string())
            .unwrap_or_else(|| "?".into());
        routes.insert(format!("{} {op}", e.status));
        let head = format!("{} {}?{} → {} ({op})", e.method, e.path, e.query, e.status);
        for p in s.check_response(&e.method, &e.path, e.status, e.answer.as_ref()) {
            failures.push(format!("{head}: {p}"));
        }
        for p in s.check_request(&e.method, &e.path, &e.query, e.body.as_ref()) {
            failures.push(format!("{head}: (request) {p}"));
        }
        if let Some(answer) = &e.answer {
            for field in s.undeclared_in_response(&e.method, &e.path, e.status, answer) {
                notes.insert(format!("{op} {}: {field}", e.status));
            }
        }
    }
    let missing: Vec<&&str> = must_succeed
        .iter()
        .filter(|op| {
            !routes
                .iter()
                .any(|r| r.starts_with('2') && r.ends_with(&format!(" {op}")))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "no success was validated for {missing:?}"
    );
    eprintln!(
        "checked {} exchanges over {} (status, operation) pairs",
        log.len(),
        routes.len()
    );
    for r in &routes {
        eprintln!("  {r}");
    }
    if !notes.is_empty() {
        eprintln!("fields the spec does not declare (allowed, but check the real API sends them):");
        for n in &notes {
            eprintln!("  {n}");
        }
    }
    assert!(
        failures.is_empty(),
        "{} answer(s) break the pinned OpenAPI spec:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// One request the spec forbids: method, path below the project, query, body.
type Forbidden = (&'static str, String, &'static str, Option<Value>);

/// The real API validates requests against its spec and answers 400; the emulator must refuse
/// the same requests, or a client bug that Neon would reject passes the tests. Each case, made
/// by `cases` from the id of a child of the default branch, is first confirmed invalid by the
/// validator, then sent; every one the emulator accepts is listed.
async fn assert_refused(cases: impl FnOnce(&str) -> Vec<Forbidden>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let s = spec();
    let emu = Emulator::start(Options::default()).await;
    let project = emu.project_id();
    let prod = emu.with_state(|st| st.default_branch().unwrap().id.clone());
    let child = emu
        .with_state(|st| {
            st.create_branch(neon_emulator::state::CreateBranchReq {
                name: Some("child".into()),
                parent_id: Some(prod.clone()),
                ..Default::default()
            })
        })
        .unwrap()
        .branch
        .id;
    let http = reqwest::Client::new();
    let mut accepted = Vec::new();
    for (method, rel, query, body) in cases(&child) {
        let path = format!("/projects/{project}{rel}");
        assert!(
            !s.check_request(method, &path, query, body.as_ref())
                .is_empty(),
            "the validator accepts {method} {rel}?{query} {body:?}"
        );
        let mut url = format!("{}{path}", emu.neon_api());
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
        let mut req = http.request(method.parse().unwrap(), &url).bearer_auth(KEY);
        if let Some(b) = &body {
            req = req.json(b);
        }
        let status = req.send().await.unwrap().status().as_u16();
        if !(400..500).contains(&status) {
            accepted.push(format!("{method} {rel}?{query} {body:?} → {status}"));
        }
    }
    assert!(
        accepted.is_empty(),
        "the emulator accepts requests the spec forbids:\n{}",
        accepted.join("\n")
    );
}

#[tokio::test]
async fn the_emulator_refuses_branch_creations_the_spec_forbids() {
    let long = "x".repeat(257);
    assert_refused(|_| {
        vec![
            (
                "POST",
                "/branches".into(),
                "",
                Some(json!({"branch": {"name": ""}})),
            ),
            (
                "POST",
                "/branches".into(),
                "",
                Some(json!({"branch": {"name": long}})),
            ),
            (
                "POST",
                "/branches".into(),
                "",
                Some(json!({"endpoints": [{"type": "bogus"}]})),
            ),
            (
                "POST",
                "/branches".into(),
                "",
                Some(json!({"branch": {"name": "t", "expires_at": "tomorrow"}})),
            ),
            (
                "POST",
                "/branches".into(),
                "",
                Some(json!({"branch": {"name": "t", "protected": "yes"}})),
            ),
            (
                "POST",
                "/branches".into(),
                "",
                Some(json!({"branch": {"name": "t"}, "annotation_value": {"a": 1}})),
            ),
        ]
    })
    .await;
}

#[tokio::test]
async fn the_emulator_refuses_list_queries_the_spec_forbids() {
    assert_refused(|_| {
        vec![
            ("GET", "/branches".into(), "limit=0", None),
            ("GET", "/branches".into(), "limit=10001", None),
            ("GET", "/branches".into(), "sort_order=sideways", None),
            ("GET", "/branches".into(), "sort_by=size", None),
            ("GET", "/operations".into(), "limit=1001", None),
        ]
    })
    .await;
}

#[tokio::test]
async fn the_emulator_refuses_connection_uri_queries_the_spec_forbids() {
    assert_refused(|_| {
        vec![
            (
                "GET",
                "/connection_uri".into(),
                "database_name=neondb",
                None,
            ),
            (
                "GET",
                "/connection_uri".into(),
                "database_name=neondb&role_name=neondb_owner&pooled=maybe",
                None,
            ),
        ]
    })
    .await;
}

#[tokio::test]
async fn the_emulator_refuses_branch_updates_the_spec_forbids() {
    assert_refused(|child| {
        vec![
            (
                "PATCH",
                format!("/branches/{child}"),
                "",
                Some(json!({"branch": {"name": ""}})),
            ),
            (
                "PATCH",
                format!("/branches/{child}"),
                "",
                Some(json!({"branch": {"expires_at": "2030-13-01"}})),
            ),
            ("PATCH", format!("/branches/{child}"), "", Some(json!({}))),
        ]
    })
    .await;
}

#[tokio::test]
async fn the_emulator_refuses_restores_and_computes_the_spec_forbids() {
    assert_refused(|child| {
        vec![
            (
                "POST",
                "/snapshots/snap-x/restore".into(),
                "",
                Some(json!({"finalize_restore": "yes"})),
            ),
            (
                "POST",
                "/endpoints".into(),
                "",
                Some(json!({"endpoint": {"branch_id": child, "type": "bogus"}})),
            ),
        ]
    })
    .await;
}

/// Our typed models must parse every answer the spec allows: the smallest (required fields
/// only, `null` where nullable) and the fullest (every declared field), so no real answer can
/// fail to parse for a field we marked required or typed differently.
#[test]
fn our_models_parse_every_answer_the_spec_allows() {
    use neon_promote::neon::{
        Branch, ConnectionDetails, CreatedBranch, Endpoint, Operation, Snapshot,
    };
    use serde::de::DeserializeOwned;

    fn parse<T: DeserializeOwned>(what: &str, v: &Value, failures: &mut Vec<String>) {
        if let Err(e) = serde_json::from_value::<T>(v.clone()) {
            failures.push(format!("{what}: {e} in {v}"));
        }
    }
    fn each<T: DeserializeOwned>(what: &str, v: &Value, failures: &mut Vec<String>) {
        let items = v
            .as_array()
            .unwrap_or_else(|| panic!("{what}: not an array: {v}"));
        for item in items {
            parse::<T>(what, item, failures);
        }
    }
    let s = spec();
    let p = "/projects/p";
    let mut failures = Vec::new();
    for (kind, full) in [("minimal", false), ("full", true)] {
        let answer = |method: &str, path: &str, status: u16| {
            let path = format!("{p}{path}");
            if full {
                s.full_response(method, &path, status)
            } else {
                s.minimal_response(method, &path, status)
            }
        };
        let f = &mut failures;
        let created = answer("POST", "/branches", 201);
        parse::<CreatedBranch>(&format!("{kind} createProjectBranch"), &created, f);
        for (method, path, status, pointer) in [
            ("GET", "/branches", 200, "/branches"),
            ("GET", "/branches/br-x/endpoints", 200, "/endpoints"),
            ("GET", "/snapshots", 200, "/snapshots"),
            ("GET", "/operations", 200, "/operations"),
            ("POST", "/branches/br-x/snapshot", 200, "/operations"),
            ("POST", "/snapshots/s/restore", 200, "/operations"),
            ("DELETE", "/branches/br-x", 200, "/operations"),
            ("DELETE", "/snapshots/s", 202, "/operations"),
            ("PATCH", "/branches/br-x", 200, "/operations"),
            ("POST", "/endpoints", 201, "/operations"),
        ] {
            let v = answer(method, path, status);
            let what = format!("{kind} {method} {path} {pointer}");
            let list = &v[pointer.trim_start_matches('/')];
            match pointer {
                "/branches" => each::<Branch>(&what, list, f),
                "/endpoints" => each::<Endpoint>(&what, list, f),
                "/snapshots" => each::<Snapshot>(&what, list, f),
                _ => each::<Operation>(&what, list, f),
            }
        }
        for (method, path, status, pointer) in [
            ("GET", "/branches/br-x", 200, "branch"),
            ("PATCH", "/branches/br-x", 200, "branch"),
            ("DELETE", "/branches/br-x", 200, "branch"),
            ("POST", "/snapshots/s/restore", 200, "branch"),
            ("POST", "/branches/br-x/snapshot", 200, "snapshot"),
            ("PATCH", "/snapshots/s", 200, "snapshot"),
            ("GET", "/operations/o", 200, "operation"),
            ("POST", "/endpoints", 201, "endpoint"),
        ] {
            let v = &answer(method, path, status)[pointer];
            let what = format!("{kind} {method} {path} .{pointer}");
            match pointer {
                "branch" => parse::<Branch>(&what, v, f),
                "snapshot" => parse::<Snapshot>(&what, v, f),
                "operation" => parse::<Operation>(&what, v, f),
                _ => parse::<Endpoint>(&what, v, f),
            }
        }
        let uris = &created["connection_uris"];
        if full {
            each::<ConnectionDetails>(&format!("{kind} connection_uris"), uris, f);
        }
    }
    assert!(
        failures.is_empty(),
        "answers the spec allows that our models cannot parse:\n{}",
        failures.join("\n")
    );
}

/// The built binary, through the whole lifecycle (preview, promote, rollback, refresh-dev,
/// setup, sweep, cleanup) against the emulator: every Neon request it sends must be one the
/// spec allows (query parameters, bodies, no deprecated parameters), on a route whose answers
/// the route tests above validate. Whether each run succeeds is the end-to-end tests' business;
/// this one only looks at what went over the wire.
#[tokio::test]
async fn every_request_neon_promote_sends_is_one_the_spec_allows() {
    use neon_emulator::{Api, Seed};
    use support::Action;
    use support::lifecycle::{SHA, dispatch, push, repo};

    let s = spec();
    let emu = Emulator::start(Options {
        seed: Seed::Demo,
        op_duration: Duration::from_millis(20),
        ..Options::default()
    })
    .await;
    let opened = support::pull_request("opened", 7, "feature/fidelity", SHA);
    let repo = repo();
    let mut logs = Vec::new();
    let mut run = async |action: Action| {
        let run = action.input("comment", "false").run(&emu).await;
        logs.push(format!("exit {}\n{}", run.status, run.log()));
        run
    };
    run(Action::new("pull_request", opened.clone())).await;
    emu.with_state(|st| {
        st.github
            .add_pull(&repo, 8, "feature/merged", "0123456789abcdef");
        st.github.merge_pull(&repo, 8, SHA);
    });
    let promoted = run(Action::new("push", push(SHA))).await;
    if let Some(id) = promoted.outputs.get("rollback_snapshot_id") {
        run(Action::new("workflow_dispatch", dispatch(id)).input("snapshot_id", id)).await;
    }
    for command in ["refresh-dev", "setup", "sweep"] {
        run(Action::new("workflow_dispatch", dispatch("")).input("command", command)).await;
    }
    let mut closed = opened.clone();
    closed["action"] = "closed".into();
    closed["pull_request"]["state"] = "closed".into();
    run(Action::new("pull_request", closed)).await;

    let requests = emu.requests_to(Api::Neon);
    let mutations = requests.iter().filter(|r| r.is_mutation()).count();
    assert!(
        mutations > 0,
        "the binary sent no Neon mutation at all:\n{}",
        logs.join("\n")
    );
    let mut used = std::collections::BTreeMap::new();
    for r in &requests {
        let op = s
            .operation(&r.method, &r.path)
            .map_or("?", |o| o.operation_id);
        *used.entry(format!("{} {op}", r.method)).or_insert(0) += 1;
    }
    let exits: Vec<&str> = logs
        .iter()
        .map(|l| l.lines().next().unwrap_or(""))
        .collect();
    eprintln!("runs: {exits:?}\nNeon requests by operation: {used:#?}");
    let mut unchecked = std::collections::BTreeSet::new();
    for r in &requests {
        match s.operation(&r.method, &r.path) {
            Some(op) if OUR_OPERATIONS.contains(&op.operation_id) => {}
            Some(op) => {
                unchecked.insert(format!("{} ({} {})", op.operation_id, r.method, r.path));
            }
            None => {
                unchecked.insert(format!("no such route: {} {}", r.method, r.path));
            }
        }
    }
    assert!(
        unchecked.is_empty(),
        "neon-promote calls routes whose answers no test validates (add them to \
         OUR_OPERATIONS and drive them): {unchecked:?}"
    );
    s.assert_requests_conform(&requests);
}
