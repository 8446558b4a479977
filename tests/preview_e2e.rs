//! The preview lifecycle end to end: the built binary, run the way GitHub's runner runs the
//! action (`INPUT_*`, a real `pull_request` payload, `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY`
//! files), against the emulator. Every run also checks that neither the database password nor
//! the API key shows up in the log (other than `::add-mask::`), the summary or any comment.

mod support;

use jiff::{SignedDuration, Timestamp};
use neon_emulator::github::GhUser;
use neon_emulator::{Api, Emulator, Fault, Options, Seed};
use serde_json::Value;
use support::lifecycle::{failed, id_of, ok, options};
use support::{API_KEY, Action, Run};

const SHA: &str = "9f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6";
const REF: &str = "feature/login";

async fn emulator(seed: Seed) -> Emulator {
    Emulator::start(Options { seed, ..options() }).await
}

fn pull_request(action: &str, number: u64) -> Value {
    support::pull_request(action, number, REF, SHA)
}

fn closed(number: u64, merged: bool) -> Value {
    let mut p = pull_request("closed", number);
    p["pull_request"]["merged"] = merged.into();
    p["pull_request"]["state"] = "closed".into();
    p
}

fn repo(payload: &Value) -> String {
    payload["repository"]["full_name"]
        .as_str()
        .expect("repository.full_name")
        .to_string()
}

/// Runs one `pull_request` event and checks that no secret leaked anywhere.
async fn run(emu: &Emulator, payload: Value) -> Run {
    run_action(emu, Action::new("pull_request", payload)).await
}

async fn run_action(emu: &Emulator, action: Action) -> Run {
    let run = action.run(emu).await;
    let password = emu
        .with_state(|s| s.role_password("neondb_owner").map(str::to_string))
        .expect("the seeded role has a password");
    for secret in [password.as_str(), API_KEY] {
        run.assert_secret_hidden(secret);
        for comment in all_comments(emu) {
            assert!(!comment.contains(secret), "secret in a comment: {comment}");
        }
    }
    for comment in all_comments(emu) {
        assert!(
            !comment.contains("postgresql://"),
            "URL in a comment: {comment}"
        );
    }
    run
}

fn all_comments(emu: &Emulator) -> Vec<String> {
    emu.with_state(|s| s.github.comments.iter().map(|c| c.body.clone()).collect())
}

/// Bodies of our bot's comments on one PR.
fn bot_comments(emu: &Emulator, payload: &Value) -> Vec<String> {
    let number = payload["pull_request"]["number"].as_u64().expect("number");
    emu.with_state(|s| {
        s.github
            .comments_on(&repo(payload), number)
            .into_iter()
            .filter(|c| c.user == GhUser::actions_bot())
            .map(|c| c.body.clone())
            .collect()
    })
}

/// The branch of that name: (id, parent id, expiry).
fn branch(emu: &Emulator, name: &str) -> Option<(String, Option<String>, Option<Timestamp>)> {
    emu.with_state(|s| {
        s.branch_by_name(name)
            .map(|b| (b.id.clone(), b.parent_id.clone(), b.expires_at))
    })
}

/// Neon requests other than operation polls since the log was last cleared.
fn neon_requests(emu: &Emulator) -> Vec<String> {
    emu.requests_to(Api::Neon)
        .into_iter()
        .filter(|r| !(r.method == "GET" && r.path.contains("/operations")))
        .map(|r| format!("{} {} {}", r.status, r.method, r.path))
        .collect()
}

/// About `days` from now, give or take a minute.
fn assert_expires_in(at: Option<Timestamp>, days: i64) {
    let at = at.expect("an expiry");
    let want = Timestamp::now() + SignedDuration::from_hours(24 * days);
    assert!(
        at.duration_since(want).abs() < SignedDuration::from_mins(1),
        "expires at {at}, want about {want}"
    );
}

#[tokio::test]
async fn opened_creates_a_preview_branch_under_dev() {
    let emu = emulator(Seed::Demo).await;
    let payload = pull_request("opened", 7);
    let run = run(&emu, payload.clone()).await;
    ok(&run);

    let name = "preview/pr-7-feature/login";
    assert_eq!(run.output("command"), "preview");
    assert_eq!(run.output("branch_name"), name);
    assert_eq!(run.output("created"), "true");
    let (id, parent, expires_at) = branch(&emu, name).expect("the preview branch exists");
    assert_eq!(run.output("branch_id"), id);
    assert_eq!(parent, Some(id_of(&emu, "dev")));
    assert_expires_in(expires_at, 7);
    assert!(!run.output("expires_at").is_empty());

    let (host, pooler, password) = emu.with_state(|s| {
        let ep = s.endpoints_of(&id)[0].clone();
        let password = s.role_password("neondb_owner").unwrap().to_string();
        (ep.host.clone(), ep.pooler_host(), password)
    });
    assert_eq!(run.output("db_host"), host);
    assert_eq!(run.output("db_host_pooled"), pooler);
    assert_eq!(run.output("password"), password);
    assert_eq!(
        run.output("db_url"),
        format!("postgresql://neondb_owner:{password}@{host}/neondb?sslmode=require")
    );
    assert_eq!(
        run.output("db_url_pooled"),
        format!("postgresql://neondb_owner:{password}@{pooler}/neondb?sslmode=require")
    );
    // Masked before anything that could carry them is printed.
    let first_mask = run
        .lines()
        .position(|l| l == format!("::add-mask::{password}"));
    assert!(
        first_mask.is_some(),
        "password never masked:\n{}",
        run.log()
    );
    assert!(run.summary.contains(name), "summary: {}", run.summary);
    assert_eq!(bot_comments(&emu, &payload).len(), 1);
}

/// SPEC §5: create ≤ 3 requests besides polls (look up the preview and dev at once, then
/// create); reuse, the path every push takes, ≤ 3 (look up, then refresh the expiry while
/// reading the connection string). Even on `opened`, an existing branch is found, not 409'd.
#[tokio::test]
async fn creating_and_reusing_take_three_requests_each() {
    let emu = emulator(Seed::Demo).await;
    let a = |payload| Action::new("pull_request", payload).input("comment", "false");
    emu.clear_requests();
    ok(&run_action(&emu, a(pull_request("opened", 8))).await);
    let create = neon_requests(&emu);
    assert_eq!(create.len(), 3, "{create:#?}");
    assert!(
        create[2].ends_with("POST /api/v2/projects/proj-emulated/branches"),
        "{create:#?}"
    );
    emu.clear_requests();
    ok(&run_action(&emu, a(pull_request("synchronize", 8))).await);
    let reuse = neon_requests(&emu);
    assert_eq!(reuse.len(), 3, "{reuse:#?}");
    emu.clear_requests();
    ok(&run_action(&emu, a(pull_request("reopened", 8))).await);
    let reopened = neon_requests(&emu);
    assert!(
        reopened.iter().all(|r| !r.starts_with("409")),
        "{reopened:#?}"
    );
}

#[tokio::test]
async fn synchronize_reuses_the_branch_and_refreshes_its_expiry() {
    let emu = emulator(Seed::Demo).await;
    let first = run(&emu, pull_request("opened", 9)).await;
    ok(&first);
    let name = first.output("branch_name").to_string();
    let (id, _, _) = branch(&emu, &name).unwrap();
    // Close to expiring: the push must push the expiry back out to the full TTL.
    emu.with_state(|s| {
        s.branch_mut(&id).unwrap().expires_at = Some(s.now() + SignedDuration::from_hours(1));
    });

    let payload = pull_request("synchronize", 9);
    let run = run(&emu, payload.clone()).await;
    ok(&run);
    assert_eq!(run.output("created"), "false");
    assert_eq!(run.output("branch_id"), id);
    assert_expires_in(branch(&emu, &name).unwrap().2, 7);
    assert_eq!(first.output("db_url"), run.output("db_url"));
    assert_eq!(first.output("db_url_pooled"), run.output("db_url_pooled"));
    assert_eq!(bot_comments(&emu, &payload).len(), 1, "one sticky comment");
}

#[tokio::test]
async fn a_reused_branch_without_a_compute_gets_one() {
    let emu = emulator(Seed::Demo).await;
    let first = run(&emu, pull_request("opened", 10)).await;
    ok(&first);
    let id = first.output("branch_id").to_string();
    emu.with_state(|s| s.endpoints.retain(|e| e.branch_id != id));

    let run = run(&emu, pull_request("synchronize", 10)).await;
    ok(&run);
    assert_eq!(run.output("created"), "false");
    let hosts = emu.with_state(|s| {
        s.endpoints_of(&id)
            .iter()
            .map(|e| e.host.clone())
            .collect::<Vec<_>>()
    });
    assert_eq!(hosts, [run.output("db_host").to_string()]);
}

#[tokio::test]
async fn a_ttl_of_none_and_another_ssl_mode() {
    let emu = emulator(Seed::Demo).await;
    let action = Action::new("pull_request", pull_request("opened", 11))
        .input("preview_ttl", "none")
        .input("ssl", "omit");
    let run = run_action(&emu, action).await;
    ok(&run);
    assert_eq!(run.output("expires_at"), "");
    assert!(branch(&emu, run.output("branch_name")).unwrap().2.is_none());
    assert!(
        run.output("db_url").ends_with("/neondb"),
        "{}",
        run.output("db_url")
    );
}

#[tokio::test]
async fn closing_deletes_the_branch_merged_or_not() {
    for (number, merged) in [(12, true), (13, false)] {
        let emu = emulator(Seed::Demo).await;
        let created = run(&emu, pull_request("opened", number)).await;
        ok(&created);
        let name = created.output("branch_name").to_string();

        let payload = closed(number, merged);
        let run = run(&emu, payload.clone()).await;
        ok(&run);
        assert_eq!(run.output("command"), "cleanup");
        assert_eq!(run.output("branch_name"), name);
        assert!(
            branch(&emu, &name).is_none(),
            "merged={merged}: branch not deleted"
        );
        assert_eq!(
            bot_comments(&emu, &payload).len(),
            1,
            "the same sticky comment"
        );
    }
}

#[tokio::test]
async fn closing_with_the_branch_already_gone_succeeds() {
    let emu = emulator(Seed::Demo).await;
    let run = run(&emu, closed(14, false)).await;
    ok(&run);
    assert_eq!(run.output("command"), "cleanup");
    assert!(
        neon_requests(&emu).iter().all(|r| !r.contains("DELETE")),
        "nothing to delete"
    );
}

#[tokio::test]
async fn a_preview_with_children_is_kept() {
    let emu = emulator(Seed::Demo).await;
    let created = run(&emu, pull_request("opened", 15)).await;
    ok(&created);
    let id = created.output("branch_id").to_string();
    emu.with_state(|s| {
        s.insert_branch("experiment", Some(&id), "", false);
    });
    let run = run(&emu, closed(15, true)).await;
    ok(&run);
    assert!(branch(&emu, created.output("branch_name")).is_some());
    assert!(
        run.lines()
            .any(|l| l.starts_with("::warning") && l.contains("experiment")),
        "{}",
        run.log()
    );
}

#[tokio::test]
async fn reopened_after_cleanup_creates_the_branch_again() {
    let emu = emulator(Seed::Demo).await;
    let first = run(&emu, pull_request("opened", 16)).await;
    ok(&first);
    ok(&run(&emu, closed(16, false)).await);
    let again = run(&emu, pull_request("reopened", 16)).await;
    ok(&again);
    assert_eq!(again.output("created"), "true");
    assert_eq!(again.output("branch_name"), first.output("branch_name"));
    assert_ne!(again.output("branch_id"), first.output("branch_id"));
}

#[tokio::test]
async fn a_pr_with_150_comments_gets_exactly_one_of_ours() {
    let emu = emulator(Seed::Demo).await;
    let payload = pull_request("opened", 17);
    support::seed_pull(&emu, &payload);
    emu.with_state(|s| {
        for i in 0..150 {
            let body = format!("review note {i}");
            s.github
                .add_comment(&repo(&payload), 17, GhUser::user("alice"), &body);
        }
    });
    ok(&run(&emu, payload.clone()).await);
    ok(&run(&emu, pull_request("synchronize", 17)).await);
    assert_eq!(bot_comments(&emu, &payload).len(), 1);
}

#[tokio::test]
async fn a_fork_pr_without_secrets_is_skipped_without_calling_neon() {
    let emu = emulator(Seed::Demo).await;
    let mut payload = pull_request("opened", 18);
    payload["pull_request"]["head"]["repo"]["full_name"] = "someone/fork".into();
    let action = Action::new("pull_request", payload).input("api_key", "");
    let run = run_action(&emu, action).await;
    ok(&run);
    assert_eq!(run.output("command"), "skipped");
    assert!(
        run.lines().any(|l| l.starts_with("::notice")),
        "{}",
        run.log()
    );
    assert!(emu.requests_to(Api::Neon).is_empty());
}

#[tokio::test]
async fn a_locked_project_and_a_rate_limit_on_the_way_are_waited_out() {
    let emu = emulator(Seed::Demo).await;
    emu.inject(Fault::rate_limited("GET", "/branches", 1, 1));
    emu.inject(Fault::status("POST", "/branches", 423, 2));
    let run = run(&emu, pull_request("opened", 19)).await;
    ok(&run);
    assert_eq!(run.output("created"), "true");
    let statuses: Vec<u16> = emu
        .requests_to(Api::Neon)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 1);
    assert_eq!(statuses.iter().filter(|s| **s == 423).count(), 2);
}

#[tokio::test]
async fn a_failed_create_operation_fails_the_run_clearly() {
    let emu = emulator(Seed::Demo).await;
    emu.inject(Fault::fail_operation("create_timeline", "failed", 1));
    let run = run(&emu, pull_request("opened", 20)).await;
    let error = failed(&run);
    for part in [
        "preview/pr-20-feature/login",
        "emulated failure of create_timeline",
        "production is not affected",
        "re-run",
    ] {
        assert!(error.contains(part), "{part:?} missing from {error}");
    }
    // Deleted, so the re-run starts clean.
    assert!(branch(&emu, "preview/pr-20-feature/login").is_none());
    ok(&run_action(
        &emu,
        Action::new("pull_request", pull_request("opened", 20)),
    )
    .await);
}

#[tokio::test]
async fn without_a_dev_branch_the_error_says_to_run_setup() {
    let emu = emulator(Seed::Empty).await;
    let run = run(&emu, pull_request("opened", 21)).await;
    let error = failed(&run);
    assert!(error.contains("command: setup"), "{error}");
    assert!(error.contains("production is not affected"), "{error}");
}

#[tokio::test]
async fn any_ref_gives_a_valid_stable_name() {
    let emu = emulator(Seed::Demo).await;
    let weird = format!("feat/ünïcødé#42 🎉{}", "x".repeat(300));
    let payload = support::pull_request("opened", 22, &weird, SHA);
    let run = run(&emu, payload).await;
    ok(&run);
    let name = run.output("branch_name").to_string();
    assert!(
        name.starts_with("preview/pr-22-feat/n-c-d-42-xxx"),
        "{name}"
    );
    assert!(name.len() <= 256);
    let again = support::pull_request("synchronize", 22, &weird, SHA);
    let reused = run_action(&emu, Action::new("pull_request", again)).await;
    assert_eq!(reused.output("branch_name"), name);
    assert_eq!(reused.output("created"), "false");
}

#[tokio::test]
async fn a_protected_preview_keeps_no_expiry() {
    let emu = emulator(Seed::Demo).await;
    let first = run(&emu, pull_request("opened", 23)).await;
    ok(&first);
    let id = first.output("branch_id").to_string();
    emu.with_state(|s| {
        let b = s.branch_mut(&id).unwrap();
        b.protected = true;
        b.expires_at = None;
    });
    emu.clear_requests();
    let run = run(&emu, pull_request("synchronize", 23)).await;
    ok(&run);
    assert_eq!(run.output("expires_at"), "");
    let requests = neon_requests(&emu);
    assert!(
        requests.iter().all(|r| !r.contains("PATCH")),
        "{requests:#?}"
    );
}

#[tokio::test]
async fn a_dry_run_reads_but_changes_nothing() {
    let emu = emulator(Seed::Demo).await;
    let action = Action::new("pull_request", pull_request("opened", 24)).input("dry_run", "true");
    let run = run_action(&emu, action).await;
    ok(&run);
    assert!(emu.requests_to(Api::Neon).iter().all(|r| !r.is_mutation()));
    assert!(branch(&emu, "preview/pr-24-feature/login").is_none());
}

#[tokio::test]
async fn a_template_that_names_prod_or_dev_never_touches_them() {
    let emu = emulator(Seed::Demo).await;
    for head_ref in ["production", "dev"] {
        for payload in [
            support::pull_request("synchronize", 25, head_ref, SHA),
            support::pull_request("closed", 25, head_ref, SHA),
        ] {
            let action = Action::new("pull_request", payload).input("preview_branch_name", "{ref}");
            let run = run_action(&emu, action).await;
            assert_eq!(run.status, 1, "{}", run.log());
            assert!(
                run.errors()[0].contains("not a preview branch"),
                "{}",
                run.log()
            );
            assert!(branch(&emu, head_ref).is_some());
            assert!(emu.requests_to(Api::Neon).iter().all(|r| !r.is_mutation()));
        }
    }
}
