//! The standard `::error::` lines, as golden files: the one line a failed run prints is the
//! product (what failed, what state production is in, what to do next), so each common
//! failure's whole line is checked in under `tests/golden/errors/` and reviewed as text.
//! Ids, times and ports are replaced by placeholders first.

mod support;

use neon_emulator::{Emulator, Fault, Options, Seed};
use support::Action;
use support::golden;
use support::lifecycle::{PR, SHA, merge, options, promote, push, rollback};

/// The run's exit status and its one error line, with what changes between runs replaced.
fn line(run: &support::Run) -> String {
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{}", run.log());
    format!("exit {}\n{}\n", run.status, normalise(errors[0]))
}

/// Branch, snapshot and operation ids, snapshot-name times, RFC 3339 times, the emulator's
/// port.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let word_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == ':'))
            .unwrap_or(rest.len())
            .max(1);
        let (word, tail) = rest.split_at(word_end);
        out.push_str(&placeholder(word));
        rest = tail;
    }
    match out.split_once("127.0.0.1:") {
        Some((head, tail)) => {
            let port = tail
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(tail.len());
            format!("{head}127.0.0.1:<port>{}", &tail[port..])
        }
        None => out,
    }
}

fn placeholder(word: &str) -> String {
    let generated = |prefix: &str| {
        word.strip_prefix(prefix)
            .is_some_and(|r| r.split('-').count() == 3 && r.len() > 10)
    };
    if generated("br-") {
        return "br-<id>".into();
    }
    if generated("snap-") {
        return "snap-<id>".into();
    }
    let uuid = word.len() == 36
        && word.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    if uuid {
        return "<operation>".into();
    }
    // 2026-11-30_12-00-00 inside snapshot names; 2026-11-30T12:00:00Z anywhere.
    let mut w = word.to_string();
    for (i, _) in word.match_indices("20") {
        let tail = &word[i..];
        if tail.len() >= 19 && tail.as_bytes()[4] == b'-' && tail.as_bytes()[7] == b'-' {
            let time = &tail[..if tail[19..].starts_with('Z') { 20 } else { 19 }];
            w = w.replace(time, "<time>");
        }
    }
    w
}

async fn emulator() -> Emulator {
    Emulator::start(options()).await
}

#[tokio::test]
async fn missing_and_malformed_inputs() {
    let emu = emulator().await;
    let run = Action::new("push", push(SHA))
        .input("api_key", "")
        .input("preview_ttl", "31d")
        .input("rollback_snapshots_kept", "0")
        .run(&emu)
        .await;
    golden::check("errors/invalid-inputs.txt", &line(&run));
}

#[tokio::test]
async fn workflow_dispatch_without_a_snapshot() {
    let emu = emulator().await;
    let run = rollback(&emu, "").await;
    golden::check("errors/dispatch-without-snapshot.txt", &line(&run));
}

#[tokio::test]
async fn an_unsupported_event() {
    let emu = emulator().await;
    let run = Action::new("issues", support::webhook("issues", Some("opened")))
        .run(&emu)
        .await;
    golden::check("errors/unsupported-event.txt", &line(&run));
}

#[tokio::test]
async fn a_preview_without_a_dev_root() {
    let emu = Emulator::start(Options {
        seed: Seed::Empty,
        ..options()
    })
    .await;
    let payload = support::pull_request("opened", PR, "feature/login", SHA);
    let run = Action::new("pull_request", payload).run(&emu).await;
    golden::check("errors/missing-dev.txt", &line(&run));
}

#[tokio::test]
async fn a_promotion_on_a_full_snapshot_quota() {
    let emu = Emulator::start(Options {
        snapshot_quota: 2,
        ..options()
    })
    .await;
    merge(&emu, PR, SHA);
    let run = promote(&emu, SHA).await;
    golden::check("errors/quota-full.txt", &line(&run));
}

#[tokio::test]
async fn a_restore_whose_operation_failed() {
    let emu = emulator().await;
    merge(&emu, PR, SHA);
    emu.inject(Fault::fail_operation("restore_snapshot", "failed", 1));
    let run = promote(&emu, SHA).await;
    golden::check("errors/restore-failed.txt", &line(&run));
    // Its re-run stops too, and says so.
    let again = promote(&emu, SHA).await;
    golden::check("errors/restore-failed-rerun.txt", &line(&again));
}

#[tokio::test]
async fn latest_with_nothing_to_undo() {
    let emu = emulator().await;
    let run = rollback(&emu, "latest").await;
    golden::check("errors/latest-nothing-to-undo.txt", &line(&run));
}

#[tokio::test]
async fn a_wrong_api_key() {
    let emu = Emulator::start(Options {
        api_key: Some(support::API_KEY.into()),
        ..options()
    })
    .await;
    let run = Action::new("push", push(SHA))
        .input("api_key", "napi_not_the_key")
        .run(&emu)
        .await;
    golden::check("errors/unauthorized.txt", &line(&run));
}

#[tokio::test]
async fn a_project_that_does_not_exist() {
    let emu = emulator().await;
    let run = Action::new("push", push(SHA))
        .input("project_id", "no-such-project-000000")
        .run(&emu)
        .await;
    golden::check("errors/project-not-found.txt", &line(&run));
}

#[test]
fn normalise_replaces_what_changes_between_runs() {
    assert_eq!(
        normalise(
            "snap-cool-tree-5ck99uuf (prod_snap_2026-11-30_12-00-11_pre-promotion_ab12cd3) of br-twilight-voice-e8o1jp0v at 2026-12-30T12:00:05Z via http://127.0.0.1:41234/api, operation 258fb702-062e-4b2f-b89b-5ca9f7b5f941"
        ),
        "snap-<id> (prod_snap_<time>_pre-promotion_ab12cd3) of br-<id> at <time> via http://127.0.0.1:<port>/api, operation <operation>"
    );
}
