//! `cargo run --example demo`: the whole lifecycle against the built-in emulator, with no Neon
//! account and no network. Event by event — setup, a pull request whose migration drops a
//! column (`diff` shows it), the merge (dev migrated through `connect`, then promoted, with the
//! destructive change listed), production written by the application, a second promotion (the
//! guard warns that those writes are left in the rollback snapshot), and a rollback — it runs
//! neon-promote's commands in this process on the inputs and payload GitHub's runner would
//! give the action, and shows what a user would see: the log, the outputs, the PR comment and
//! the job summary.
//!
//! The commands run in process, not as the built binary, so a run never waits for a second
//! `cargo build` (which, nested in `cargo run`, rebuilds `ring` and everything above it).

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use neon_emulator::state::{Column, Table};
use neon_emulator::{Emulator, Options, Seed};
use neon_promote::app;
use neon_promote::config::{Config, Mode, RawInputs};
use neon_promote::ctx::Ctx;
use neon_promote::event::{self, GitHubContext};
use neon_promote::render::CommentInfo;
use neon_promote::runner::Runner;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const REPO: &str = "acme/shop";
const HEAD_SHA: &str = "9f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6";
const MERGE_SHA: &str = "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12";
const MERGE_SHA2: &str = "cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let style = Style::detect();
    println!(
        "{}",
        style.bold("neon-promote demo: every command runs against the built-in Neon emulator")
    );
    println!("(a stand-in for Neon's API and GitHub's, in this process: no account, no network)");
    let emu = Emulator::start(Options {
        op_duration: Duration::from_millis(200),
        seed: Seed::Empty,
        ..Options::default()
    })
    .await;
    emu.with_state(|s| {
        s.set_data("production", "prod data (v1)");
        s.github
            .add_pull(REPO, 42, "feature/coupons", HEAD_SHA)
            .title = "Coupons: replace `orders.note` with `orders.coupon`".into();
    });
    let demo = Demo {
        emu,
        http: neon_promote::http::client()?,
        style,
    };

    demo.step(
        "1. One-time setup: create the `dev` root from production",
        "workflow_dispatch",
        json!({"inputs": {}}),
        &[("command", "setup")],
    )
    .await?;
    let preview = demo
        .step(
            "2. Pull request #42 opened: a preview branch is created",
            "pull_request",
            pull_request("opened"),
            &[],
        )
        .await?;
    demo.migrate(
        &preview["branch_name"],
        "the PR's migration, on its preview branch",
        coupons,
    )?;
    demo.step(
        "3. The preview's schema compared with dev's (`command: diff`)",
        "pull_request",
        pull_request("synchronize"),
        &[("command", "diff")],
    )
    .await?;
    demo.emu
        .with_state(|s| s.github.merge_pull(REPO, 42, MERGE_SHA));
    demo.step(
        "4. #42 merged and closed: the preview branch is deleted",
        "pull_request",
        pull_request("closed"),
        &[],
    )
    .await?;
    demo.promote(5, MERGE_SHA, "the merged migration, on dev", coupons)
        .await?;
    demo.show_data("after the promotion");

    println!(
        "\n{}",
        style.bold("━━ 6. The application writes to production; pull request #43 is merged")
    );
    demo.emu.with_state(|s| {
        s.set_data(
            "production",
            "prod data (v1) + orders placed after the promotion",
        );
        s.github
            .add_pull(REPO, 43, "feature/coupon-codes", HEAD_SHA)
            .title = "Coupon codes table".into();
        s.github.merge_pull(REPO, 43, MERGE_SHA2);
    });
    demo.show_data("written since dev's baseline");
    demo.promote(7, MERGE_SHA2, "#43's migration, on dev", coupon_codes)
        .await?;
    demo.show_data("after the second promotion");
    demo.step(
        "8. Roll back from the Actions tab (workflow_dispatch, snapshot_id: latest)",
        "workflow_dispatch",
        json!({"inputs": {"snapshot_id": "latest"}}),
        &[("snapshot_id", "latest")],
    )
    .await?;
    demo.show_data("after the rollback: the orders are back, #43's table is not");
    Ok(())
}

/// Bold and dim, or plain text when stdout is not a terminal or `NO_COLOR` is set.
#[derive(Clone, Copy)]
struct Style {
    color: bool,
}

impl Style {
    fn detect() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            color: std::io::stdout().is_terminal() && !no_color,
        }
    }

    fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

struct Demo {
    emu: Emulator,
    http: reqwest::Client,
    style: Style,
}

impl Demo {
    /// Runs one event through neon-promote, prints what the runner and the PR would show, and
    /// returns the step's outputs.
    async fn step(
        &self,
        title: &str,
        event: &str,
        mut payload: Value,
        inputs: &[(&str, &str)],
    ) -> anyhow::Result<BTreeMap<String, String>> {
        println!("\n{}  ({event})", self.style.bold(&format!("━━ {title}")));
        payload["repository"] = json!({"full_name": REPO, "default_branch": "main", "name": "shop", "owner": {"login": "acme"}});
        let mut given = json!({
            "api_key": "napi_demo_key",
            "project_id": self.emu.project_id(),
            "api_host": self.emu.neon_api(),
            "github_token": "ghs_demo_token",
        });
        for (name, value) in inputs {
            given[*name] = (*value).into();
        }
        let config = Config::from_raw(serde_json::from_value::<RawInputs>(given)?, Mode::Action)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let gh = GitHubContext {
            event_name: event.into(),
            repository: REPO.into(),
            api_url: self.emu.github_api(),
            server_url: "https://github.com".into(),
            workflow: Some("neon.yml".into()),
            run_id: None,
            run_attempt: None,
            payload,
        };
        let route = event::route(&config, Some(&gh)).map_err(|e| anyhow::anyhow!("{e}"))?;
        let info = CommentInfo::new(&config, Some(&gh));
        let dir = tempfile::tempdir()?;
        let (output, summary) = (dir.path().join("output"), dir.path().join("summary"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let runner = Runner::for_test(log.clone(), Some(output), Some(summary.clone()));
        let ctx = Ctx::real_world(
            self.http.clone(),
            config,
            Some(gh),
            runner,
            CancellationToken::new(),
        );
        let comments_before = self.comments();
        let code = app::run(&ctx, &route, &info).await;

        self.section("log");
        let log = String::from_utf8_lossy(&log.lock().expect("log")).into_owned();
        // The runner shows neither masks nor, without step debug logging, debug lines.
        for line in log
            .lines()
            .filter(|l| !l.starts_with("::add-mask::") && !l.starts_with("::debug::"))
        {
            println!("  {line}");
        }
        self.section(&format!("exit status {code}; outputs"));
        let outputs: BTreeMap<String, String> = ctx.runner.outputs().into_iter().collect();
        for (name, value) in &outputs {
            let secret = matches!(name.as_str(), "password" | "db_url" | "db_url_pooled");
            let shown = if secret {
                "*** (masked in the log)"
            } else {
                value
            };
            println!("  {name} = {shown}");
        }
        for (pr, body) in self.comments() {
            if comments_before.get(&pr) != Some(&body) {
                self.section(&format!("sticky comment on #{pr}"));
                indent(&body);
            }
        }
        self.section("job summary");
        indent(&std::fs::read_to_string(&summary).unwrap_or_default());
        anyhow::ensure!(code == 0, "{title}: neon-promote exited with {code}");
        Ok(outputs)
    }

    /// Step `n`, the merge commit landing on main: dev is migrated (its connection strings
    /// from `connect`), then promoted.
    async fn promote(
        &self,
        n: u8,
        sha: &str,
        migration: &str,
        change: fn(Vec<Table>) -> Vec<Table>,
    ) -> anyhow::Result<()> {
        let push = json!({"ref": "refs/heads/main", "after": sha, "deleted": false, "sender": {"login": "octocat"}});
        self.step(
            &format!(
                "{n}. The merge lands on main; first, dev's connection strings (`command: connect`)"
            ),
            "push",
            push.clone(),
            &[("command", "connect")],
        )
        .await?;
        self.migrate("dev", migration, change)?;
        self.step(
            &format!("{n}. Then dev is promoted to production (`command: promote`)"),
            "push",
            push,
            &[("command", "promote")],
        )
        .await
        .map(drop)
    }

    /// Your migration step, played by the emulator: `change` applied to `branch`'s tables.
    fn migrate(
        &self,
        branch: &str,
        what: &str,
        change: fn(Vec<Table>) -> Vec<Table>,
    ) -> anyhow::Result<()> {
        println!(
            "\n{}",
            self.style.bold(&format!(
                "━━ Your migration step: {what} (DATABASE_URL from the outputs)"
            ))
        );
        let migrated = self.emu.with_state(|s| {
            let tables = s.schema_of(branch, "neondb").unwrap_or_default().to_vec();
            s.set_schema(branch, "neondb", change(tables))
        });
        anyhow::ensure!(migrated, "no branch {branch} to migrate");
        Ok(())
    }

    /// Every sticky comment, by pull request.
    fn comments(&self) -> BTreeMap<u64, String> {
        self.emu.with_state(|s| {
            s.github
                .comments
                .iter()
                .map(|c| (c.issue, c.body.clone()))
                .collect()
        })
    }

    fn section(&self, name: &str) {
        println!("{}", self.style.dim(&format!("── {name}")));
    }

    /// What production holds: its data and its tables.
    fn show_data(&self, when: &str) {
        let (data, tables) = self.emu.with_state(|s| {
            let tables: Vec<String> = s
                .schema_of("production", "neondb")
                .unwrap_or_default()
                .iter()
                .map(|t| {
                    let columns: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
                    format!("{}({})", t.name, columns.join(", "))
                })
                .collect();
            (
                s.data_of("production").unwrap_or_default(),
                tables.join(" "),
            )
        });
        println!(
            "\n  {} ({when})\n  tables: {tables}",
            self.style.bold(&format!("production holds: {data}"))
        );
    }
}

/// #42's migration: `orders.note` dropped (destructive), `orders.coupon` added.
fn coupons(mut tables: Vec<Table>) -> Vec<Table> {
    if let Some(orders) = tables.iter_mut().find(|t| t.name == "orders") {
        orders.columns.retain(|c| c.name != "note");
        orders.columns.push(Column {
            name: "coupon".into(),
            kind: "text".into(),
            nullable: true,
            generated: false,
        });
    }
    tables
}

/// #43's migration: a new table.
fn coupon_codes(mut tables: Vec<Table>) -> Vec<Table> {
    tables.push(Table::new(
        "public",
        "coupon_codes",
        &[("code", "text", false), ("percent_off", "integer", false)],
    ));
    tables
}

fn indent(text: &str) {
    for line in text.lines() {
        println!("  │ {line}");
    }
}

/// A `pull_request` event of #42.
fn pull_request(action: &str) -> Value {
    json!({
        "action": action,
        "number": 42,
        "pull_request": {
            "number": 42,
            "title": "Coupons: replace `orders.note` with `orders.coupon`",
            "merged": action == "closed",
            "head": {"ref": "feature/coupons", "sha": HEAD_SHA, "repo": {"full_name": REPO}},
            "base": {"ref": "main", "repo": {"full_name": REPO}},
            "user": {"login": "octocat"}
        },
        "sender": {"login": "octocat"}
    })
}
