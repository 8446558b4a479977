use std::time::Duration;

use jiff::Timestamp;
use serde_json::json;

use crate::{Api, Emulator, Fault, Options, Seed};

const AUTH: &[(&str, &str)] = &[("Authorization", "Bearer k")];

fn start() -> Timestamp {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

fn options() -> Options {
    Options {
        seed: Seed::Demo,
        op_duration: Duration::from_secs(10),
        start_time: Some(start()),
        ..Options::default()
    }
}

/// A promotion-like script with an error, a 423 and a clock move; returns every reply.
fn script(emu: &Emulator) -> Vec<crate::Reply> {
    let p = format!("/api/v2/projects/{}", emu.project_id());
    let prod = emu.with_state(|s| s.branch_by_name("production").unwrap().id.clone());
    let dev = emu.with_state(|s| s.branch_by_name("dev").unwrap().id.clone());
    let create = json!({"branch": {"name": "preview/pr-1", "parent_id": dev},
                        "endpoints": [{"type": "read_write"}]})
    .to_string();
    let mut replies = vec![
        emu.handle_neon("GET", &format!("{p}/branches?search=dev"), AUTH, b""),
        emu.handle_neon("POST", &format!("{p}/branches"), AUTH, create.as_bytes()),
        emu.handle_neon(
            "POST",
            &format!("{p}/branches/{dev}/snapshot?name=c"),
            AUTH,
            b"",
        ),
    ];
    emu.with_state(|s| s.advance(Duration::from_secs(60)));
    let snap = emu.handle_neon(
        "POST",
        &format!("{p}/branches/{dev}/snapshot?name=c"),
        AUTH,
        b"",
    );
    let snap_id = snap.json()["snapshot"]["id"].as_str().unwrap().to_string();
    replies.push(snap);
    emu.with_state(|s| s.advance(Duration::from_secs(60)));
    let restore = json!({"target_branch_id": prod, "finalize_restore": true}).to_string();
    replies.push(emu.handle_neon(
        "POST",
        &format!("{p}/snapshots/{snap_id}/restore"),
        AUTH,
        restore.as_bytes(),
    ));
    replies.push(emu.handle_neon("GET", &format!("{p}/operations"), AUTH, b""));
    replies.push(emu.handle_neon("GET", &format!("{p}/branches/br-missing-1"), AUTH, b""));
    replies.push(emu.handle_neon("GET", &format!("{p}/branches"), &[], b""));
    replies
}

#[test]
fn same_seed_and_start_time_give_the_same_run() {
    let run = || {
        fastrand::seed(7);
        let emu = Emulator::detached(options());
        let replies = script(&emu);
        let state = emu.with_state(|s| format!("{s:?}"));
        (replies, emu.requests(), state)
    };
    let (a, b) = (run(), run());
    assert_eq!(a.0, b.0, "replies");
    assert_eq!(a.1, b.1, "request logs");
    assert_eq!(a.2, b.2, "state");
    let statuses: Vec<u16> = a.0.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 201, 423, 200, 200, 200, 404, 401]);
    assert!(
        a.1.iter()
            .all(|r| r.api == Api::Neon && r.elapsed.is_zero())
    );
    assert_eq!(a.1[0].at, start(), "the log reads the emulated clock");
    assert_eq!(a.1[0].header("authorization"), Some("Bearer k"));
}

#[test]
fn the_clock_starts_where_told_and_never_goes_back() {
    let emu = Emulator::detached(options());
    emu.with_state(|s| {
        assert_eq!(s.now(), start());
        assert_eq!(s.project.created_at, start());
        assert_eq!(s.branch_by_name("production").unwrap().created_at, start());
        let later = start() + jiff::SignedDuration::from_hours(1);
        s.set_now(later).unwrap();
        assert_eq!(s.now(), later);
        assert!(s.set_now(start()).is_err());
        s.github.add_pull("o/r", 1, "feature", "abc");
        assert_eq!(s.github.pull("o/r", 1).unwrap().created_at, later);
    });
}

#[test]
fn operation_failures_apply_but_http_faults_do_not() {
    let emu = Emulator::detached(options());
    let p = format!("/api/v2/projects/{}", emu.project_id());
    let dev = emu.with_state(|s| s.branch_by_name("dev").unwrap().id.clone());
    emu.inject(Fault::status("POST", "/snapshot", 503, 1));
    emu.inject(Fault::fail_operation("create_snapshot", "failed", 1));
    let snap = emu.handle_neon("POST", &format!("{p}/branches/{dev}/snapshot"), AUTH, b"");
    assert_eq!(snap.status, 200, "no scripted HTTP fault in-process");
    emu.with_state(|s| s.advance(Duration::from_secs(60)));
    let op = snap.json()["operations"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let op = emu.handle_neon("GET", &format!("{p}/operations/{op}"), AUTH, b"");
    assert_eq!(op.json()["operation"]["status"], "failed");
    assert_eq!(op.header("Content-Type"), Some("application/json"));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn works_in_a_paused_current_thread_runtime() {
    let emu = Emulator::detached(options());
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let p = format!("/api/v2/projects/{}", emu.project_id());
    let reply = emu.handle_neon("GET", &p, AUTH, b"");
    assert_eq!(reply.status, 200);
    assert_eq!(
        emu.with_state(|s| s.now()),
        start(),
        "tokio's time is not ours"
    );
}

#[test]
fn lists_can_lag_a_mutation_by_one_read() {
    let emu = Emulator::detached(Options {
        variants: crate::state::Variants {
            list_lag: true,
            ..Default::default()
        },
        ..options()
    });
    let p = format!("/api/v2/projects/{}", emu.project_id());
    let names = |r: crate::Reply| -> Vec<String> {
        r.json()["branches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_string())
            .collect()
    };
    let body = json!({"branch": {"name": "preview/pr-2"}}).to_string();
    let created = emu.handle_neon("POST", &format!("{p}/branches"), AUTH, body.as_bytes());
    let id = created.json()["branch"]["id"].as_str().unwrap().to_string();
    let list = format!("{p}/branches?search=preview");
    assert!(
        names(emu.handle_neon("GET", &list, AUTH, b"")).is_empty(),
        "one read late"
    );
    assert_eq!(
        names(emu.handle_neon("GET", &list, AUTH, b"")),
        ["preview/pr-2"]
    );
    let one = emu.handle_neon("GET", &format!("{p}/branches/{id}"), AUTH, b"");
    assert_eq!(one.status, 200, "a GET of one object is current");
    let ops = emu.handle_neon("GET", &format!("{p}/operations"), AUTH, b"");
    assert!(ops.json()["operations"].as_array().unwrap().is_empty());
}

#[test]
fn schema_routes_answer_sql_json_and_diffs() {
    let emu = Emulator::detached(options());
    let p = format!("/api/v2/projects/{}", emu.project_id());
    let (prod, dev) = emu.with_state(|s| {
        let mut tables = crate::state::demo_tables();
        tables[1].columns.remove(1); // dev drops users.email
        s.set_schema("dev", "neondb", tables);
        (
            s.branch_by_name("production").unwrap().id.clone(),
            s.branch_by_name("dev").unwrap().id.clone(),
        )
    });
    let get = |path: String| emu.handle_neon("GET", &path, AUTH, b"");
    let sql = get(format!("{p}/branches/{prod}/schema?db_name=neondb"));
    assert!(
        sql.json()["sql"]
            .as_str()
            .unwrap()
            .contains("CREATE TABLE public.users")
    );
    let structured = get(format!(
        "{p}/branches/{prod}/schema?db_name=neondb&format=json"
    ));
    let users = &structured.json()["json"]["tables"][1];
    assert_eq!(users["name"], "users");
    assert_eq!(
        users["columns"][1],
        json!({"name": "email", "type": "text", "nullable": false})
    );
    let diff = get(format!(
        "{p}/branches/{dev}/compare_schema?base_branch_id={prod}&db_name=neondb"
    ));
    let diff = diff.json()["diff"].as_str().unwrap().to_string();
    assert!(
        diff.contains(&format!("--- {prod}/neondb\n+++ {dev}/neondb\n")),
        "{diff}"
    );
    assert!(diff.contains("\n-    email text NOT NULL,\n"), "{diff}");
    let same = get(format!("{p}/branches/{prod}/compare_schema?db_name=neondb"));
    assert_eq!(same.json()["diff"], "", "a root compares with itself");
    let statuses: Vec<u16> = [
        format!("{p}/branches/{prod}/schema"),
        format!("{p}/branches/{prod}/schema?db_name=nope"),
        format!("{p}/branches/{prod}/schema?db_name=neondb&format=yaml"),
        format!("{p}/branches/{prod}/schema?db_name=neondb&lsn=0/1&timestamp=2026-01-01T00:00:00Z"),
    ]
    .into_iter()
    .map(|path| get(path).status)
    .collect();
    assert_eq!(statuses, [400, 404, 400, 400]);
}

#[test]
fn the_restore_name_query_parameter_counts_until_its_removal() {
    for (start, want) in [
        ("2025-11-28T00:00:00Z", true),
        ("2025-11-29T00:00:00Z", false),
    ] {
        let emu = Emulator::detached(Options {
            start_time: Some(start.parse().unwrap()),
            ..options()
        });
        let p = format!("/api/v2/projects/{}", emu.project_id());
        let snap = emu.with_state(|s| s.snapshots[0].id.clone());
        let path = format!("{p}/snapshots/{snap}/restore?name=from-query");
        let reply = emu.handle_neon("POST", &path, AUTH, b"");
        let named = reply.json()["branch"]["name"] == "from-query";
        assert_eq!(named, want, "{start}: {}", reply.json());
    }
}

/// What create-branch-action 6.4 sends and reads: an anonymized branch with a compute that
/// suspends, then the Neon Auth and Data API routes (404 until the features are on).
#[test]
fn create_branch_action_routes() {
    let emu = Emulator::detached(options());
    let p = format!("/api/v2/projects/{}", emu.project_id());
    let body = json!({
        "branch_create": {
            "branch": {"name": "preview/pr-3", "init_source": "schema-only"},
            "endpoints": [{"type": "read_write", "suspend_timeout_seconds": 300}]
        },
        "masking_rules": [{"database_name": "neondb", "schema_name": "public",
                           "table_name": "users", "column_name": "email",
                           "masking_function": "anon.fake_email()"}],
        "start_anonymization": true,
        "annotation_value": {"github-repo": "o/r"}
    })
    .to_string();
    let created = emu.handle_neon(
        "POST",
        &format!("{p}/branch_anonymized"),
        AUTH,
        body.as_bytes(),
    );
    assert_eq!(created.status, 201, "{}", created.json());
    let b = created.json()["branch"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        created.json()["endpoints"][0]["suspend_timeout_seconds"],
        300
    );
    assert_eq!(created.json()["branch"]["init_source"], "schema-only");
    let get = |path: String| emu.handle_neon("GET", &path, AUTH, b"");
    let rules = get(format!("{p}/branches/{b}/masking_rules"));
    assert_eq!(rules.json()["masking_rules"][0]["column_name"], "email");
    let status = get(format!("{p}/branches/{b}/anonymized_status"));
    assert_eq!(status.json()["state"], "anonymizing");
    emu.with_state(|s| s.advance(Duration::from_secs(60)));
    assert_eq!(
        get(format!("{p}/branches/{b}/anonymized_status")).json()["state"],
        "anonymized"
    );
    let auth = format!("{p}/branches/{b}/auth");
    let data_api = format!("{p}/branches/{b}/data-api/neondb");
    assert_eq!(
        (get(auth.clone()).status, get(data_api.clone()).status),
        (404, 404)
    );
    emu.with_state(|s| {
        s.limits.features.neon_auth = true;
        s.limits.features.data_api = true;
    });
    let auth = get(auth).json();
    assert!(
        auth["base_url"].as_str().unwrap().ends_with("/neondb/auth"),
        "{auth}"
    );
    let url = get(data_api).json()["url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with("https://ep-") && url.ends_with("/neondb/rest/v1"),
        "{url}"
    );
    assert_eq!(get(format!("{p}/branches/{b}/data-api/nope")).status, 404);
}
