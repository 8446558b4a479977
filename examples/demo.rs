//! `cargo run --example demo`: the whole lifecycle against the built-in emulator, with no Neon
//! account and no network. It runs the real `neon-promote` binary the way GitHub's runner runs
//! the action, event by event — setup, a pull request opened, pushed to and merged, the
//! promotion on the push to main, and a rollback — and shows what a user would see: the log,
//! the outputs, the PR comment and the job summary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use neon_emulator::{Emulator, Options, Seed};
use serde_json::{Value, json};

const REPO: &str = "acme/shop";
const PR: u64 = 42;
const HEAD_SHA: &str = "9f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6";
const MERGE_SHA: &str = "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let binary = build_binary()?;
    let emu = Emulator::start(Options {
        op_duration: Duration::from_millis(300),
        seed: Seed::Empty,
        ..Options::default()
    })
    .await;
    emu.with_state(|s| {
        s.set_data("production", "prod data (v1)");
        s.github
            .add_pull(REPO, PR, "feature/checkout-v2", HEAD_SHA)
            .title = "Checkout v2: add the `orders.coupon` column".into();
    });
    let demo = Demo { emu, binary };

    demo.step(
        "1. One-time setup: create the `dev` root from production",
        "workflow_dispatch",
        json!({"inputs": {}}),
        &[("command", "setup")],
    )
    .await?;
    demo.emu
        .with_state(|s| s.set_data("dev", "dev data (v2: orders.coupon)"));
    demo.step(
        "2. Pull request #42 opened: a preview branch is created",
        "pull_request",
        pull_request("opened"),
        &[],
    )
    .await?;
    demo.step(
        "3. A push to #42 (synchronize): the preview branch is reused",
        "pull_request",
        pull_request("synchronize"),
        &[],
    )
    .await?;
    demo.emu
        .with_state(|s| s.github.merge_pull(REPO, PR, MERGE_SHA));
    demo.step(
        "4. #42 merged and closed: the preview branch is deleted",
        "pull_request",
        pull_request("closed"),
        &[],
    )
    .await?;
    demo.show_data("before the promotion");
    demo.step(
        "5. The merge commit lands on main: dev is promoted to production",
        "push",
        push(),
        &[],
    )
    .await?;
    demo.show_data("after the promotion");
    demo.step(
        "6. Roll back from the Actions tab (workflow_dispatch, snapshot_id: latest)",
        "workflow_dispatch",
        json!({"inputs": {"snapshot_id": "latest"}}),
        &[],
    )
    .await?;
    demo.show_data("after the rollback");
    Ok(())
}

struct Demo {
    emu: Emulator,
    binary: PathBuf,
}

impl Demo {
    /// Runs one event through the binary and prints what the runner and the PR would show.
    async fn step(
        &self,
        title: &str,
        event: &str,
        mut payload: Value,
        inputs: &[(&str, &str)],
    ) -> anyhow::Result<()> {
        println!("\n\x1b[1m━━ {title}\x1b[0m  ({event})");
        payload["repository"] = json!({"full_name": REPO, "default_branch": "main", "name": "shop", "owner": {"login": "acme"}});
        let dir = tempfile::tempdir()?;
        let (event_path, output, summary) = (
            dir.path().join("event.json"),
            dir.path().join("output"),
            dir.path().join("summary"),
        );
        std::fs::write(&event_path, payload.to_string())?;
        std::fs::write(&output, "")?;
        std::fs::write(&summary, "")?;
        let mut cmd = tokio::process::Command::new(&self.binary);
        cmd.env_clear()
            .current_dir(dir.path())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", event)
            .env("GITHUB_EVENT_PATH", &event_path)
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_API_URL", self.emu.github_api())
            .env("GITHUB_WORKFLOW", "neon.yml")
            .env("INPUT_API_KEY", "napi_demo_key")
            .env("INPUT_PROJECT_ID", self.emu.project_id())
            .env("INPUT_API_HOST", self.emu.neon_api())
            .env("INPUT_GITHUB_TOKEN", "ghs_demo_token");
        for (name, value) in inputs {
            cmd.env(format!("INPUT_{}", name.to_uppercase()), value);
        }
        let out = cmd.output().await?;
        section("log");
        let log = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        for line in log.lines().filter(|l| !l.starts_with("::add-mask::")) {
            println!("  {line}");
        }
        section(&format!(
            "exit status {}; outputs",
            out.status.code().unwrap_or(-1)
        ));
        for (name, value) in outputs(&std::fs::read_to_string(&output)?) {
            let secret = matches!(name.as_str(), "password" | "db_url" | "db_url_pooled");
            println!(
                "  {name} = {}",
                if secret {
                    "*** (masked in the log)"
                } else {
                    value.as_str()
                }
            );
        }
        let comment = self.emu.with_state(|s| {
            s.github
                .comments_on(REPO, PR)
                .last()
                .map(|c| c.body.clone())
        });
        if let Some(body) = comment.filter(|_| event != "workflow_dispatch" || inputs.is_empty()) {
            section("sticky comment on #42");
            indent(&body);
        }
        section("job summary");
        indent(&std::fs::read_to_string(&summary)?);
        anyhow::ensure!(
            out.status.success(),
            "{title}: neon-promote exited with {}",
            out.status
        );
        Ok(())
    }

    fn show_data(&self, when: &str) {
        let data = self
            .emu
            .with_state(|s| s.data_of("production"))
            .unwrap_or_default();
        println!("\n  \x1b[1mproduction holds: {data}\x1b[0m ({when})");
    }
}

fn section(name: &str) {
    println!("\x1b[2m── {name}\x1b[0m");
}

fn indent(text: &str) {
    for line in text.lines() {
        println!("  │ {line}");
    }
}

/// `name=value` and `name<<DELIM … DELIM` lines of a `$GITHUB_OUTPUT` file.
fn outputs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delimiter).collect();
            out.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            out.insert(name.to_string(), value.to_string());
        }
    }
    out
}

fn pull_request(action: &str) -> Value {
    let merged = action == "closed";
    json!({
        "action": action,
        "number": PR,
        "pull_request": {
            "number": PR,
            "title": "Checkout v2: add the `orders.coupon` column",
            "merged": merged,
            "head": {"ref": "feature/checkout-v2", "sha": HEAD_SHA, "repo": {"full_name": REPO}},
            "base": {"ref": "main", "repo": {"full_name": REPO}},
            "user": {"login": "octocat"}
        },
        "sender": {"login": "octocat"}
    })
}

fn push() -> Value {
    json!({"ref": "refs/heads/main", "after": MERGE_SHA, "deleted": false, "sender": {"login": "octocat"}})
}

/// Builds the `neon-promote` binary (the demo runs the real thing) and returns its path.
fn build_binary() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--quiet", "--bin", "neon-promote"])
        .status()?;
    anyhow::ensure!(status.success(), "cargo build --bin neon-promote failed");
    // target/<profile>/examples/demo → target/<profile>/neon-promote
    let exe = std::env::current_exe()?;
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    Ok(dir.join("neon-promote"))
}
