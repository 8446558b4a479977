//! create-branch-action 6.4's inputs on `command: preview` (and the cleanup of what they make),
//! one behaviour each, end to end: the built binary run as the runner runs it, against the
//! emulator. Every run also checks that the password and the API key show up nowhere but
//! `::add-mask::` lines, and that every request it sent is one the pinned spec allows.

mod support;

use std::time::Duration;

use neon_emulator::state::{CreateBranchReq, EndpointType, Features, MaskingRule, NewEndpoint};
use neon_emulator::{Api, Emulator, Fault, LoggedRequest, Options, Seed};
use serde_json::{Value, json};
use support::lifecycle::{failed, id_of, ok};
use support::{API_KEY, Action, Run};

const SHA: &str = "9f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6";
const EMAIL_RULE: &str = r#"[{"database_name":"neondb","schema_name":"public","table_name":"users","column_name":"email","masking_function":"anon.dummy_free_email()"}]"#;

/// The demo seed (production and dev) with operations that take 30 ms.
fn options() -> Options {
    Options {
        seed: Seed::Demo,
        op_duration: Duration::from_millis(30),
        ..Options::default()
    }
}

async fn emulator(options: Options) -> Emulator {
    Emulator::start(options).await
}

fn pull_request(action: &str, number: u64) -> Action {
    let payload = support::pull_request(action, number, "feature/login", SHA);
    Action::new("pull_request", payload).input("comment", "false")
}

/// `command: preview` with a literal `branch_name` on a push to a feature branch.
fn on_push(branch_name: &str) -> Action {
    Action::new("push", support::push("feature", "main", SHA))
        .input("command", "preview")
        .input("branch_name", branch_name)
}

/// Runs the binary and checks that no secret leaked into the log or the summary.
async fn run(emu: &Emulator, action: Action) -> Run {
    let run = action.run(emu).await;
    let password = emu
        .with_state(|s| s.role_password("neondb_owner").map(str::to_string))
        .expect("the seeded role has a password");
    run.assert_secret_hidden(&password);
    run.assert_secret_hidden(API_KEY);
    run
}

/// The Neon requests to `path_end` (below the project), in order.
fn sent(emu: &Emulator, method: &str, path_end: &str) -> Vec<LoggedRequest> {
    emu.requests_to(Api::Neon)
        .into_iter()
        .filter(|r| r.method == method && r.path.ends_with(path_end))
        .collect()
}

fn body(r: &LoggedRequest) -> Value {
    r.body.clone().expect("a JSON body")
}

#[tokio::test]
async fn schema_only_previews_are_roots_with_devs_schema_that_cleanup_deletes() {
    let emu = emulator(options()).await;
    let opened = run(
        &emu,
        pull_request("opened", 31).input("branch_type", "schema-only"),
    )
    .await;
    ok(&opened);
    assert_eq!(opened.output("created"), "true");
    let posts = sent(&emu, "POST", "/branches");
    assert_eq!(body(&posts[0])["branch"]["init_source"], "schema-only");
    let name = opened.output("branch_name").to_string();
    let (parent, init_source, data, same_schema) = emu.with_state(|s| {
        let b = s.branch_by_name(&name).unwrap();
        let same = s.schema_of(&b.id, "neondb") == s.schema_of("dev", "neondb");
        (
            b.parent_id.clone(),
            b.init_source.clone(),
            b.data.clone(),
            same,
        )
    });
    assert_eq!((parent, init_source.as_str()), (None, "schema-only"));
    assert!(data.is_empty() && same_schema, "data {data:?}");
    assert!(
        opened.summary.contains("dev's schema, no rows"),
        "{}",
        opened.summary
    );

    let pushed = run(&emu, pull_request("synchronize", 31)).await;
    ok(&pushed);
    assert_eq!(pushed.output("created"), "false");
    assert_eq!(pushed.output("branch_id"), opened.output("branch_id"));

    ok(&run(&emu, pull_request("closed", 31)).await);
    assert!(emu.with_state(|s| s.branch_by_name(&name).is_none()));
}

/// The schema-only exception is that narrow: a root of the preview's name that Neon did not
/// make schema-only, or one that is the configured dev root, is never touched.
#[tokio::test]
async fn cleanup_never_deletes_another_root_of_the_previews_name() {
    let emu = emulator(options()).await;
    let name = "preview/pr-32-feature/login";
    emu.with_state(|s| s.insert_branch(name, None, "someone's data", false));
    let run1 = run(&emu, pull_request("closed", 32)).await;
    assert!(
        failed(&run1).contains("not a preview branch"),
        "{}",
        run1.log()
    );
    assert!(emu.with_state(|s| s.branch_by_name(name).is_some()));

    let dev = id_of(&emu, "dev");
    emu.with_state(|s| s.branch_mut(&dev).unwrap().init_source = "schema-only".into());
    let closed = support::pull_request("closed", 33, "feature/login", SHA);
    let action = Action::new("pull_request", closed)
        .input("comment", "false")
        .input("branch_name", "dev");
    let run2 = run(&emu, action).await;
    assert!(
        failed(&run2).contains("not a preview branch"),
        "{}",
        run2.log()
    );
    assert!(emu.with_state(|s| s.branch(&dev).is_some()));
    assert!(emu.requests_to(Api::Neon).iter().all(|r| !r.is_mutation()));
}

#[tokio::test]
async fn masking_rules_make_an_anonymized_preview_output_once_masked() {
    let emu = emulator(options()).await;
    let action = pull_request("opened", 34).input("masking_rules", EMAIL_RULE);
    let opened = run(&emu, action).await;
    ok(&opened);
    let posts = sent(&emu, "POST", "/branch_anonymized");
    assert_eq!(posts.len(), 1);
    let sent_body = body(&posts[0]);
    assert_eq!(sent_body["start_anonymization"], true);
    assert_eq!(
        sent_body["masking_rules"],
        serde_json::from_str::<Value>(EMAIL_RULE).unwrap()
    );
    assert_eq!(
        sent_body["branch_create"]["branch"]["parent_id"],
        id_of(&emu, "dev")
    );
    // The run ended only once the data was masked.
    let name = opened.output("branch_name");
    let data = emu.with_state(|s| s.data_of(name)).unwrap();
    assert!(data.starts_with("anonymized("), "{data}");
    assert!(!sent(&emu, "GET", "/anonymized_status").is_empty());
    assert!(opened.output("db_url").starts_with("postgresql://"));
    assert!(
        opened.summary.contains("masked with `masking_rules`"),
        "{}",
        opened.summary
    );
}

/// create-branch-action refuses to reuse a branch when given masking rules; ours reuses one
/// that Neon anonymized, waits while it is still anonymizing, and says the rules were not
/// applied again.
#[tokio::test]
async fn a_reused_anonymized_preview_is_waited_for_and_said_to_be_kept() {
    let emu = emulator(Options {
        op_duration: Duration::from_millis(400),
        ..options()
    })
    .await;
    let name = "preview/pr-35-feature/login";
    let rules: Vec<MaskingRule> = serde_json::from_str(EMAIL_RULE).unwrap();
    emu.with_state(|s| {
        let dev = s.branch_by_name("dev").unwrap().id.clone();
        let req = CreateBranchReq {
            name: Some(name.into()),
            parent_id: Some(dev),
            endpoints: vec![NewEndpoint::from(EndpointType::ReadWrite)],
            ..CreateBranchReq::default()
        };
        s.create_branch_anonymized(req, rules, true).unwrap();
    });
    let action = pull_request("synchronize", 35).input("masking_rules", EMAIL_RULE);
    let reused = run(&emu, action).await;
    ok(&reused);
    assert_eq!(reused.output("created"), "false");
    let data = emu.with_state(|s| s.data_of(name)).unwrap();
    assert!(data.starts_with("anonymized("), "not waited for: {data}");
    assert!(
        reused
            .lines()
            .any(|l| l.starts_with("::notice::") && l.contains("did not apply them again")),
        "{}",
        reused.log()
    );
    assert!(
        reused.summary.contains("did not apply them again"),
        "{}",
        reused.summary
    );
    assert!(sent(&emu, "POST", "/branch_anonymized").is_empty());
}

#[tokio::test]
async fn masking_rules_refuse_a_branch_that_is_not_anonymized() {
    let emu = emulator(options()).await;
    ok(&run(&emu, pull_request("opened", 36)).await);
    emu.clear_requests();
    let action = pull_request("synchronize", 36).input("masking_rules", EMAIL_RULE);
    let refused = run(&emu, action).await;
    let error = failed(&refused);
    assert!(
        error.contains("is not masked") && error.contains("nothing was changed"),
        "{error}"
    );
    assert!(!refused.outputs.contains_key("db_url"));
    assert!(emu.requests_to(Api::Neon).iter().all(|r| !r.is_mutation()));
}

#[tokio::test]
async fn a_failed_anonymization_deletes_the_branch_and_outputs_no_url() {
    let emu = emulator(options()).await;
    emu.inject(Fault::fail_operation("anonymize", "failed", 1));
    let action = pull_request("opened", 37).input("masking_rules", EMAIL_RULE);
    let run = run(&emu, action).await;
    let error = failed(&run);
    assert!(error.contains("half-created branch was deleted"), "{error}");
    assert!(!run.outputs.contains_key("db_url"));
    assert!(emu.with_state(|s| s.branch_by_name("preview/pr-37-feature/login").is_none()));
}

#[tokio::test]
async fn suspend_timeout_is_the_computes_and_0_leaves_neons_default() {
    let emu = emulator(options()).await;
    let created = run(
        &emu,
        pull_request("opened", 38).input("suspend_timeout", "600"),
    )
    .await;
    ok(&created);
    let id = created.output("branch_id").to_string();
    let seconds = emu.with_state(|s| s.endpoints_of(&id)[0].suspend_timeout_seconds);
    assert_eq!(seconds, 600);
    let post = &sent(&emu, "POST", "/branches")[0];
    assert_eq!(body(post)["endpoints"][0]["suspend_timeout_seconds"], 600);

    emu.clear_requests();
    ok(&run(
        &emu,
        pull_request("opened", 39).input("suspend_timeout", "0"),
    )
    .await);
    let post = &sent(&emu, "POST", "/branches")[0];
    assert_eq!(body(post)["endpoints"], json!([{ "type": "read_write" }]));
}

#[tokio::test]
async fn prisma_urls_carry_create_branch_actions_parameters() {
    let emu = emulator(options()).await;
    let run = run(&emu, pull_request("opened", 40).input("prisma", "true")).await;
    ok(&run);
    let (password, host, pooler) = (
        run.output("password"),
        run.output("db_host"),
        run.output("db_host_pooled"),
    );
    assert_eq!(
        run.output("db_url"),
        format!(
            "postgresql://neondb_owner:{password}@{host}/neondb?connect_timeout=30&sslmode=require"
        )
    );
    assert_eq!(
        run.output("db_url_pooled"),
        format!(
            "postgresql://neondb_owner:{password}@{pooler}/neondb?connect_timeout=30&pool_timeout=30&pgbouncer=true&sslmode=require"
        )
    );
}

#[tokio::test]
async fn auth_and_data_api_urls_are_output_when_on_and_left_out_when_off() {
    let emu = emulator(options()).await;
    let asked = |number| {
        pull_request("opened", number)
            .input("get_auth_url", "true")
            .input("get_data_api_url", "true")
    };
    let off = run(&emu, asked(41)).await;
    ok(&off);
    assert!(!off.outputs.contains_key("auth_url") && !off.outputs.contains_key("data_api_url"));
    assert!(
        off.lines().any(|l| l.contains("auth_url is left empty")),
        "{}",
        off.log()
    );

    emu.with_state(|s| {
        s.limits.features = Features {
            neon_auth: true,
            data_api: true,
        }
    });
    let on = run(&emu, asked(41)).await;
    ok(&on);
    let endpoint = emu.with_state(|s| s.endpoints_of(on.output("branch_id"))[0].id.clone());
    assert!(
        on.output("auth_url")
            .starts_with(&format!("https://{endpoint}.neonauth."))
            && on.output("auth_url").ends_with("/neondb/auth"),
        "{}",
        on.output("auth_url")
    );
    assert!(on.output("data_api_url").ends_with("/neondb/rest/v1"));
    assert_eq!(sent(&emu, "GET", "/data-api/neondb").len(), 2);

    // Not asked for: not read.
    emu.clear_requests();
    ok(&run(&emu, pull_request("synchronize", 41)).await);
    assert!(sent(&emu, "GET", "/auth").is_empty());
}

#[tokio::test]
async fn branch_name_runs_preview_on_a_push_with_the_name_sanitised() {
    let emu = emulator(options()).await;
    let run = run(&emu, on_push("ci nightly/#1")).await;
    ok(&run);
    assert_eq!(run.output("command"), "preview");
    assert_eq!(run.output("branch_name"), "ci-nightly/1");
    assert_eq!(run.output("created"), "true");
    let parent = emu.with_state(|s| s.branch_by_name("ci-nightly/1").unwrap().parent_id.clone());
    assert_eq!(parent, Some(id_of(&emu, "dev")));
    // No pull request: no comment, and no GitHub call for one.
    assert!(
        emu.requests_to(Api::GitHub)
            .iter()
            .all(|r| r.method == "GET")
    );
}

#[tokio::test]
async fn a_reused_branch_still_being_created_is_waited_for() {
    let emu = emulator(Options {
        op_duration: Duration::from_millis(500),
        ..options()
    })
    .await;
    emu.with_state(|s| {
        let dev = s.branch_by_name("dev").unwrap().id.clone();
        s.create_branch(CreateBranchReq {
            name: Some("ci".into()),
            parent_id: Some(dev),
            endpoints: vec![NewEndpoint::from(EndpointType::ReadWrite)],
            ..CreateBranchReq::default()
        })
        .unwrap();
    });
    let run = run(&emu, on_push("ci")).await;
    ok(&run);
    assert_eq!(run.output("created"), "false");
    assert!(
        run.lines()
            .any(|l| l.contains("Wait for the branch another job is creating")),
        "{}",
        run.log()
    );
    let (state, all_ended) = emu.with_state(|s| {
        let now = s.now();
        let b = s.branch_by_name("ci").unwrap();
        (
            b.current_state.clone(),
            s.operations.iter().all(|o| o.is_terminal(now)),
        )
    });
    assert_eq!(state, "ready");
    assert!(
        all_ended,
        "operations still running when the URLs were output"
    );
}

#[tokio::test]
async fn without_dev_the_error_gives_both_fixes_in_the_modes_words() {
    let emu = emulator(Options {
        seed: Seed::Empty,
        ..options()
    })
    .await;
    let action = run(&emu, on_push("ci")).await;
    let error = failed(&action);
    for words in [
        "neither `dev_branch:` nor `parent_branch:` was given",
        "`command: setup`",
        "`parent_branch: <name>`",
    ] {
        assert!(error.contains(words), "{words}: {error}");
    }

    let cli = tokio::process::Command::new(support::binary())
        .args(["preview", "--branch-name", "ci", "--project-id"])
        .arg(emu.project_id())
        .args(["--api-host", &emu.neon_api(), "--comment", "false"])
        .env_clear()
        .env("NEON_API_KEY", API_KEY)
        .output()
        .await
        .expect("run the CLI");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&cli.stdout),
        String::from_utf8_lossy(&cli.stderr)
    );
    assert_eq!(cli.status.code(), Some(1), "{printed}");
    for words in [
        "`--dev-branch` was not given",
        "`neon-promote setup`",
        "`--dev-branch <name>`",
    ] {
        assert!(printed.contains(words), "{words}: {printed}");
    }
    assert!(!printed.contains("parent_branch:"), "{printed}");
}
