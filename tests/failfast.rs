//! Failing fast and saying why, through the built binary run as the runner runs it: a Neon API
//! that cannot be reached fails in seconds naming `api_host`; a wrong key and a wrong project
//! each name the setting to check, with Neon's request id, and never advise a re-run that would
//! fail the same way; a long operation wait prints how it is doing while it waits.

mod support;

use std::time::{Duration, Instant};

use neon_emulator::{Emulator, Options};
use support::Action;
use support::lifecycle::{SHA, emulator, failed, id_of, ok, options, push};

fn opened() -> Action {
    let payload = support::pull_request("opened", 7, "feature/fail-fast", "abc1234def");
    Action::new("pull_request", payload)
}

/// A preview against `api_host`, which nothing answers at.
async fn fails_fast_naming_api_host(api_host: &str) {
    let emu = emulator().await;
    let start = Instant::now();
    let run = opened().input("api_host", api_host).run(&emu).await;
    let took = start.elapsed();
    let error = failed(&run);
    assert!(took < Duration::from_secs(10), "took {took:?}: {error}");
    assert!(
        error.contains(&format!("check `api_host:` (`{api_host}`)")),
        "{error}"
    );
    assert!(!error.contains("re-run"), "{error}");
}

#[tokio::test]
async fn a_refused_port_fails_in_seconds_naming_api_host() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    fails_fast_naming_api_host(&format!("http://127.0.0.1:{port}/api/v2")).await;
}

#[tokio::test]
async fn an_unresolvable_host_fails_in_seconds_naming_api_host() {
    fails_fast_naming_api_host("http://neon-promote.invalid/api/v2").await;
}

/// A preview and a promotion: the commands of every pull request and every merge.
fn preview_and_promotion() -> [Action; 2] {
    [opened(), Action::new("push", push(SHA))]
}

#[tokio::test]
async fn a_wrong_api_key_says_to_check_it_and_not_to_re_run() {
    let emu = Emulator::start(Options {
        api_key: Some("napi_the_key_neon_knows".into()),
        ..options()
    })
    .await;
    for action in preview_and_promotion() {
        let error = failed(&action.run(&emu).await);
        assert!(error.contains("unauthorized (HTTP 401)"), "{error}");
        assert!(error.contains("(Neon request_id "), "{error}");
        assert!(
            error.contains(
                "check `api_key:`: it must be a Neon API key of the organisation that owns project"
            ),
            "{error}"
        );
        assert!(!error.contains("re-run"), "{error}");
    }
}

#[tokio::test]
async fn a_wrong_project_says_to_check_project_id_and_api_host_and_not_to_re_run() {
    let emu = emulator().await;
    for action in preview_and_promotion() {
        let run = action.input("project_id", "proj-wrong").run(&emu).await;
        let error = failed(&run);
        assert!(error.contains("project not found"), "{error}");
        assert!(error.contains("(Neon request_id "), "{error}");
        let check = format!(
            "check `project_id:` (`proj-wrong`) and `api_host:` (`{}`)",
            emu.neon_api()
        );
        assert!(error.contains(&check), "{error}");
        assert!(!error.contains("re-run"), "{error}");
    }
}

/// The only slow test here: a checkpoint whose snapshot takes 25 s of real time.
#[tokio::test]
async fn a_long_operation_wait_says_every_ten_seconds_how_it_is_doing() {
    let emu = emulator().await;
    emu.with_state(|s| s.limits.op_duration = Duration::from_secs(25));
    let prod = id_of(&emu, "production");
    let dispatch = support::webhook("workflow_dispatch", None);
    let run = Action::new("workflow_dispatch", dispatch)
        .input("command", "checkpoint")
        .run(&emu)
        .await;
    ok(&run);
    let progress: Vec<&str> = run
        .lines()
        .filter(|l| l.starts_with("still waiting for operation(s) "))
        .collect();
    assert!(progress.len() >= 2, "{}", run.log());
    assert!(
        progress[0].contains(&format!(" on {prod}, ")),
        "{progress:?}"
    );
    assert!(
        progress[0].ends_with(": 10s so far, 9m 50s left of the 10m timeout"),
        "{progress:?}"
    );
    assert!(
        progress[1].ends_with(": 20s so far, 9m 40s left of the 10m timeout"),
        "{progress:?}"
    );
}
