//! The guards and the commands around them end to end: the built binary, run on real `push`,
//! `pull_request` and `workflow_dispatch` payloads the way GitHub's runner runs the action,
//! against the emulator, whose branches carry schemas and LSNs. Covers the destructive-change
//! guard (`warn`, `fail`), the production-changed guard (`warn`, `fail`, dev-only writes, no
//! baseline), `diff` on a pull request, `connect` and `checkpoint`. Each compares the sticky
//! comment and the job summary whole with `tests/golden/guards/<case>/`, with what changes
//! from run to run (ids, times, durations) normalised.

mod support;

use std::collections::HashMap;

use neon_emulator::state::{Column, Table};
use neon_emulator::{Emulator, Options, Seed};
use regex::{Captures, Regex};
use support::lifecycle::{
    PR, SHA, command, data, failed, id_of, merge, mutations, ok, options, project, push, repo,
    rollback, snapshot_names,
};
use support::{Action, Run, golden};

const SHA2: &str = "cd34ef567890ab12cd34ef567890ab12cd34ef56";
const HEAD_SHA: &str = "9f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6";

/// A project as `setup` leaves it: production, and dev made from a production snapshot that
/// is dev's baseline.
async fn set_up() -> Emulator {
    let emu = Emulator::start(Options {
        seed: Seed::Empty,
        ..options()
    })
    .await;
    ok(&command(&emu, "setup").await);
    emu
}

/// A migration of `branch`'s `neondb`: its tables, changed by `change` (a write: the LSN moves).
fn migrate(emu: &Emulator, branch: &str, change: fn(Vec<Table>) -> Vec<Table>) {
    emu.with_state(|s| {
        let tables = s.schema_of(branch, "neondb").expect("the branch").to_vec();
        assert!(s.set_schema(branch, "neondb", change(tables)));
    });
}

fn orders(tables: &mut [Table]) -> &mut Table {
    tables
        .iter_mut()
        .find(|t| t.name == "orders")
        .expect("the demo tables hold orders")
}

/// Additive: a nullable column.
fn add_coupon(mut tables: Vec<Table>) -> Vec<Table> {
    orders(&mut tables).columns.push(Column {
        name: "coupon".into(),
        kind: "text".into(),
        nullable: true,
        generated: false,
    });
    tables
}

/// Destructive: a dropped column.
fn drop_note(mut tables: Vec<Table>) -> Vec<Table> {
    orders(&mut tables).columns.retain(|c| c.name != "note");
    tables
}

/// Production is written by the application (its LSN moves past dev's baseline).
fn write_prod(emu: &Emulator) {
    emu.with_state(|s| assert!(s.set_data("production", "production-v2 (orders placed)")));
}

/// Promotes the merge of PR `number` by `sha`, with extra inputs.
async fn promote_with(emu: &Emulator, number: u64, sha: &str, inputs: &[(&str, &str)]) -> Run {
    merge(emu, number, sha);
    let mut action = Action::new("push", push(sha));
    for (name, value) in inputs {
        action = action.input(name, value);
    }
    action.run(emu).await
}

/// The sticky comments on a pull request, oldest first.
fn comments(emu: &Emulator, repo: &str, number: u64) -> Vec<String> {
    emu.with_state(|s| {
        s.github
            .comments_on(repo, number)
            .iter()
            .map(|c| c.body.clone())
            .collect()
    })
}

fn warnings(run: &Run) -> Vec<&str> {
    run.lines().filter(|l| l.starts_with("::warning")).collect()
}

/// Compares the run's job summary, and the PR's one sticky comment when there is one, with
/// `tests/golden/guards/<case>/`.
fn check(case: &str, run: &Run, comment: Option<&str>) {
    let mut text = Normalised::new(run);
    if let Some(body) = comment {
        golden::check(&format!("guards/{case}/comment.md"), &text.of(body));
    }
    golden::check(&format!("guards/{case}/summary.md"), &text.of(&run.summary));
}

/// Golden text without what changes from run to run: ids the run output are named by their
/// output, every other branch, snapshot or endpoint id by its order of first appearance;
/// times, durations and ages become placeholders; reads made at once (they finish in any
/// order) are listed sorted.
struct Normalised {
    names: HashMap<String, String>,
    counts: HashMap<String, usize>,
}

impl Normalised {
    fn new(run: &Run) -> Self {
        // Outputs in name order: an id two outputs share is named by the first.
        let mut outputs: Vec<_> = run.outputs.iter().collect();
        outputs.sort();
        let mut names = HashMap::new();
        for (name, id) in outputs
            .into_iter()
            .filter(|(name, _)| name.ends_with("_id"))
        {
            names.entry(id.clone()).or_insert(format!("<{name}>"));
        }
        Self {
            names,
            counts: HashMap::new(),
        }
    }

    fn of(&mut self, text: &str) -> String {
        let text = sort_reads(text);
        let id = Regex::new(r"\b(br|snap|ep)-[a-z]+-[a-z]+-[a-z0-9]{8}\b").unwrap();
        let text = id.replace_all(&text, |c: &Captures| {
            let (id, kind) = (&c[0], &c[1]);
            if let Some(name) = self.names.get(id) {
                return name.clone();
            }
            let n = self.counts.entry(kind.to_string()).or_default();
            *n += 1;
            let name = format!("<{kind}-{n}>");
            self.names.insert(id.to_string(), name.clone());
            name
        });
        [
            (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<time>"),
            // Our snapshot names' time; `_` is escaped in Markdown.
            (r"\d{4}-\d\d-\d\d\\?_\d\d-\d\d-\d\d", "<date>"),
            (r"\d+\.\d\d s\b", "<t> s"),
            (r"made \d+ (s|min|h|days) ago", "made <age> ago"),
        ]
        .iter()
        .fold(text.into_owned(), |text, (pattern, with)| {
            Regex::new(pattern)
                .unwrap()
                .replace_all(&text, *with)
                .into_owned()
        })
    }
}

/// Each run of consecutive read rows of an operations table, sorted.
fn sort_reads(text: &str) -> String {
    const READS: [&str; 6] = ["Find ", "Read ", "List ", "Check ", "Compare ", "Verify "];
    let is_read = |line: &str| {
        line.strip_prefix("| ")
            .is_some_and(|label| READS.iter().any(|r| label.starts_with(r)))
    };
    let (mut out, mut reads) = (String::new(), Vec::new());
    for line in text.split_inclusive('\n') {
        if is_read(line) {
            reads.push(line);
            continue;
        }
        reads.sort_unstable();
        out.extend(reads.drain(..));
        out.push_str(line);
    }
    reads.sort_unstable();
    out.extend(reads);
    out
}

/// The schema outputs of a diff or a promotion.
fn schema_outputs(run: &Run) -> (&str, &str) {
    (
        run.output("schema_changed"),
        run.output("destructive_changes"),
    )
}

#[tokio::test]
async fn an_additive_change_is_promoted_with_its_diff_and_no_warning() {
    let emu = set_up().await;
    migrate(&emu, "dev", add_coupon);

    let run = promote_with(&emu, PR, SHA, &[]).await;
    ok(&run);
    assert_eq!(schema_outputs(&run), ("true", "0"));
    assert!(warnings(&run).is_empty(), "{}", run.log());
    emu.with_state(|s| {
        let orders = &s.schema_of("production", "neondb").unwrap()[0];
        assert!(orders.columns.iter().any(|c| c.name == "coupon"));
    });
    let comments = comments(&emu, &repo(), PR);
    assert_eq!(comments.len(), 1, "{comments:?}");
    check("additive", &run, Some(&comments[0]));
}

#[tokio::test]
async fn a_destructive_change_under_warn_is_promoted_with_a_warning() {
    let emu = set_up().await;
    migrate(&emu, "dev", drop_note);

    let run = promote_with(&emu, PR, SHA, &[]).await;
    ok(&run);
    assert_eq!(schema_outputs(&run), ("true", "1"));
    assert_eq!(
        warnings(&run),
        vec![
            "::warning::destructive schema change: the promotion drops column public.orders.note (database `neondb`)"
        ],
        "{}",
        run.log()
    );
    let comments = comments(&emu, &repo(), PR);
    assert_eq!(comments.len(), 1, "{comments:?}");
    check("destructive-warn", &run, Some(&comments[0]));
}

#[tokio::test]
async fn a_destructive_change_under_fail_stops_before_any_snapshot() {
    let emu = set_up().await;
    migrate(&emu, "dev", drop_note);
    let prod = id_of(&emu, "production");
    let snapshots = snapshot_names(&emu);
    let start = emu.requests().len();

    let run = promote_with(&emu, PR, SHA, &[("on_destructive_change", "fail")]).await;
    let error = failed(&run);
    assert!(
        error.contains("drops column public.orders.note")
            && error.contains("set to `warn`")
            && error.contains("untouched"),
        "{error}"
    );
    assert!(
        mutations(&emu, start).is_empty(),
        "{:?}",
        mutations(&emu, start)
    );
    assert_eq!(snapshot_names(&emu), snapshots);
    assert_eq!(id_of(&emu, "production"), prod);
    assert!(!run.outputs.contains_key("rollback_snapshot_id"));
    assert!(comments(&emu, &repo(), PR).is_empty());
    check("destructive-fail", &run, None);
}

/// Promotes once (so dev's baseline is that promotion's candidate), has the application write
/// production, and changes dev again: what a second promotion starts from.
async fn prod_written_after_a_promotion() -> Emulator {
    let emu = set_up().await;
    migrate(&emu, "dev", add_coupon);
    ok(&promote_with(&emu, PR, SHA, &[]).await);
    write_prod(&emu);
    migrate(&emu, "dev", drop_note);
    emu
}

#[tokio::test]
async fn prod_written_since_the_baseline_under_warn_is_promoted_with_a_warning() {
    let emu = prod_written_after_a_promotion().await;

    let run = promote_with(&emu, 43, SHA2, &[("on_destructive_change", "ignore")]).await;
    ok(&run);
    let warned = warnings(&run);
    assert_eq!(warned.len(), 1, "{}", run.log());
    assert!(
        warned[0].contains("production took 128.0 KiB of WAL since dev's baseline"),
        "{}",
        warned[0]
    );
    // The writes are gone from production and kept in the rollback point.
    let point = run.output("rollback_snapshot_id");
    emu.with_state(|s| {
        assert_eq!(
            s.snapshot(point).map(|s| s.data.as_str()),
            Some("production-v2 (orders placed)")
        );
    });
    assert_ne!(data(&emu, "production"), "production-v2 (orders placed)");
    let comments = comments(&emu, &repo(), 43);
    assert_eq!(comments.len(), 1, "{comments:?}");
    check("prod-changed-warn", &run, Some(&comments[0]));
}

#[tokio::test]
async fn prod_written_since_the_baseline_under_fail_stops_before_the_restore() {
    let emu = prod_written_after_a_promotion().await;
    let prod = id_of(&emu, "production");
    let snapshots = snapshot_names(&emu);
    let start = emu.requests().len();

    let run = promote_with(&emu, 43, SHA2, &[("on_prod_changed", "fail")]).await;
    let error = failed(&run);
    assert!(
        error.contains("128.0 KiB of WAL")
            && error.contains("`on_prod_changed:` is `fail`")
            && error.contains("deleted again")
            && !error.contains("they stay in the rollback snapshot"),
        "{error}"
    );
    // The one snapshot taken (the rollback point) was deleted again; nothing was restored.
    let calls = mutations(&emu, start);
    let p = project(&emu);
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(
        (calls[0].method.as_str(), calls[0].path.as_str()),
        ("POST", format!("{p}/branches/{prod}/snapshot").as_str())
    );
    assert!(
        calls[1].method == "DELETE" && calls[1].path.starts_with(&format!("{p}/snapshots/")),
        "{calls:?}"
    );
    assert_eq!(snapshot_names(&emu), snapshots);
    assert_eq!(id_of(&emu, "production"), prod);
    assert_eq!(data(&emu, "production"), "production-v2 (orders placed)");
    assert!(!run.outputs.contains_key("rollback_snapshot_id"));
    check("prod-changed-fail", &run, None);
}

#[tokio::test]
async fn promotions_after_dev_only_writes_do_not_warn_twice_in_a_row() {
    let emu = set_up().await;
    migrate(&emu, "dev", add_coupon);
    let first = promote_with(&emu, PR, SHA, &[]).await;
    ok(&first);
    assert!(warnings(&first).is_empty(), "{}", first.log());

    emu.with_state(|s| assert!(s.set_data("dev", "dev-v3")));
    let second = promote_with(&emu, 43, SHA2, &[]).await;
    ok(&second);
    assert!(warnings(&second).is_empty(), "{}", second.log());
    assert_eq!(schema_outputs(&second), ("false", "0"));
    assert_eq!(data(&emu, "production"), "dev-v3");
    assert!(
        second
            .summary
            .contains("\nProduction was not written since dev's baseline dev\\_snap"),
        "{}",
        second.summary
    );
    let comments = comments(&emu, &repo(), 43);
    assert_eq!(comments.len(), 1, "{comments:?}");
    check("dev-only-written", &second, Some(&comments[0]));
}

#[tokio::test]
async fn a_project_without_a_baseline_says_so_once_and_names_the_commands_that_make_one() {
    // The demo seed: dev was made from production by hand, not by setup or refresh-dev.
    let emu = Emulator::start(options()).await;

    let run = promote_with(&emu, PR, SHA, &[]).await;
    ok(&run);
    let about_baseline: Vec<&str> = run
        .lines()
        .filter(|l| l.starts_with("::") && l.contains("baseline"))
        .collect();
    assert_eq!(about_baseline.len(), 1, "{}", run.log());
    assert!(
        about_baseline[0].starts_with("::warning::no baseline of dev is known")
            && about_baseline[0]
                .contains("`command: setup` and `command: refresh-dev` make dev's baseline"),
        "{about_baseline:?}"
    );
    let comments = comments(&emu, &repo(), PR);
    assert_eq!(comments.len(), 1, "{comments:?}");
    check("no-baseline", &run, Some(&comments[0]));
}

#[tokio::test]
async fn diff_run_twice_updates_one_comment() {
    let emu = set_up().await;
    let event = |action| support::pull_request(action, PR, "feature/coupons", HEAD_SHA);
    let repo = event("opened")["repository"]["full_name"]
        .as_str()
        .expect("repository.full_name")
        .to_string();
    let preview = Action::new("pull_request", event("opened")).run(&emu).await;
    ok(&preview);
    let branch = preview.output("branch_name").to_string();
    let diff = || {
        Action::new("pull_request", event("synchronize"))
            .input("command", "diff")
            .run(&emu)
    };

    // The PR's migration, run on its preview branch, then diff; then a second migration.
    migrate(&emu, &branch, add_coupon);
    let first = diff().await;
    ok(&first);
    assert_eq!(first.output("command"), "diff");
    assert_eq!(schema_outputs(&first), ("true", "0"));
    migrate(&emu, &branch, drop_note);
    let second = diff().await;
    ok(&second);
    assert_eq!(schema_outputs(&second), ("true", "1"));
    assert_eq!(warnings(&second).len(), 1, "{}", second.log());

    let comments = comments(&emu, &repo, PR);
    assert_eq!(comments.len(), 1, "one sticky comment: {comments:?}");
    assert_eq!(first.output("comment_url"), second.output("comment_url"));
    check("diff", &second, Some(&comments[0]));
}

/// Runs `connect` (for `branch`, when given) and checks its outputs and their masks.
async fn connect(emu: &Emulator, branch: Option<&str>) -> Run {
    let mut action = Action::new("workflow_dispatch", support::lifecycle::dispatch(""))
        .input("command", "connect");
    if let Some(branch) = branch {
        action = action.input("branch", branch);
    }
    let run = action.run(emu).await;
    ok(&run);
    let name = branch.unwrap_or("dev");
    assert_eq!(run.output("branch_name"), name);
    assert_eq!(run.output("branch_id"), id_of(emu, name));
    let host = run.output("db_host");
    assert!(run.output("db_host_pooled").contains("-pooler"));
    for secret in ["password", "db_url", "db_url_pooled"] {
        let value = run.output(secret);
        assert!(!value.is_empty(), "{secret}");
        // On stdout, where everything later is printed.
        assert!(
            run.stdout
                .lines()
                .any(|l| l == format!("::add-mask::{value}").as_str()),
            "{secret} is not masked:\n{}",
            run.log()
        );
        run.assert_secret_hidden(value);
    }
    assert!(run.output("db_url").contains(host));
    run
}

#[tokio::test]
async fn connect_outputs_masked_connection_strings_of_dev_or_a_named_branch() {
    let emu = set_up().await;
    let dev = connect(&emu, None).await;
    check("connect-dev", &dev, None);
    let prod = connect(&emu, Some("production")).await;
    check("connect-branch", &prod, None);
}

#[tokio::test]
async fn a_checkpoint_can_be_rolled_back_to_by_id_and_by_name() {
    let emu = set_up().await;
    let checkpoint = |name: &'static str| {
        Action::new("workflow_dispatch", support::lifecycle::dispatch(""))
            .input("command", "checkpoint")
            .input("checkpoint_name", name)
            .run(&emu)
    };
    let before = data(&emu, "production");

    // The default name, rolled back to by id.
    let first = checkpoint("").await;
    ok(&first);
    let id = first.output("snapshot_id").to_string();
    emu.with_state(|s| {
        let snap = s.snapshot(&id).expect("the checkpoint");
        assert!(
            snap.name.starts_with("prod_snap_") && snap.name.ends_with("_checkpoint"),
            "{}",
            snap.name
        );
        assert!(snap.expires_at.is_some());
        assert_eq!(snap.data, before);
    });
    check("checkpoint", &first, None);
    write_prod(&emu);
    let back = rollback(&emu, &id).await;
    ok(&back);
    assert_eq!(back.output("restored_snapshot_id"), id);
    assert_eq!(data(&emu, "production"), before);
    check("rollback-to-checkpoint", &back, None);

    // A name of the user's, rolled back to by that name.
    write_prod(&emu);
    let named = checkpoint("before-backfill").await;
    ok(&named);
    let id = named.output("snapshot_id").to_string();
    emu.with_state(|s| assert_eq!(s.snapshot(&id).unwrap().name, "before-backfill"));
    emu.with_state(|s| assert!(s.set_data("production", "production-v3 (backfilled)")));
    let back = rollback(&emu, "before-backfill").await;
    ok(&back);
    assert_eq!(back.output("restored_snapshot_id"), id);
    assert_eq!(data(&emu, "production"), "production-v2 (orders placed)");
}
