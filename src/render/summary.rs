//! The job summary (`$GITHUB_STEP_SUMMARY`): what ran, each Neon operation with its duration,
//! the resulting ids, and warnings. Lists are capped so it stays far below the runner's 1 MiB.

use std::fmt::Write as _;

use super::comment::old_branch;
use super::schema;
use super::{CommentInfo, cap, code, escape, preview_data};
use crate::outcome::StepRecord;
use crate::outcome::{CleanupResult, Outcome, SnapshotRef, Tidied};

const LIMIT: usize = 256 * 1024;
/// The whole schema diff goes in the summary, up to this much.
const SCHEMA_LIMIT: usize = 200 * 1024;
/// At most this many rows in any one list.
const MAX_ROWS: usize = 200;

pub fn summary(
    outcome: &Outcome,
    steps: &[StepRecord],
    warnings: &[String],
    info: &CommentInfo,
) -> String {
    let mut s = format!("## neon-promote: {}\n\n", outcome.command());
    let rows: Vec<(&str, String)> = match outcome {
        Outcome::Skipped { reason } => {
            let _ = writeln!(s, "Skipped: {}\n", escape(reason));
            vec![]
        }
        Outcome::Preview(p) => vec![
            (
                "Preview branch",
                format!(
                    "[{}]({})",
                    escape(&p.branch.name),
                    info.console(&p.branch.id)
                ),
            ),
            ("Branch id", code(&p.branch.id)),
            (
                "Created",
                if p.created {
                    "yes".into()
                } else {
                    "no, reused".into()
                },
            ),
            (
                "Expires",
                p.expires_at.as_deref().map_or("never".into(), code),
            ),
            (
                "Host",
                p.connection.as_ref().map_or("-".into(), |c| code(&c.host)),
            ),
            (
                "Pooled host",
                p.connection
                    .as_ref()
                    .map_or("-".into(), |c| code(&c.pooler_host)),
            ),
        ]
        .into_iter()
        .chain(preview_data(p).map(|d| ("Data", d)))
        .chain(p.auth_url.as_deref().map(|u| ("Neon Auth URL", code(u))))
        .chain(p.data_api_url.as_deref().map(|u| ("Data API URL", code(u))))
        .collect(),
        Outcome::Connect(c) => vec![
            (
                "Branch",
                format!(
                    "[{}]({})",
                    escape(&c.branch.name),
                    info.console(&c.branch.id)
                ),
            ),
            ("Branch id", code(&c.branch.id)),
            ("Host", code(&c.connection.host)),
            ("Pooled host", code(&c.connection.pooler_host)),
            (
                "Connection strings",
                "in this step's outputs `db_url` and `db_url_pooled` (masked in the log)".into(),
            ),
        ],
        Outcome::Checkpoint(c) => vec![
            (
                "Production",
                format!("[{}]({})", escape(&c.prod.name), info.console(&c.prod.id)),
            ),
            ("Checkpoint", snapshot(&c.snapshot)),
            (
                "Expires",
                c.expires_at.as_deref().map_or("never".into(), code),
            ),
            (
                "Roll back to it with",
                code(&info.rollback_command(&c.snapshot.id)),
            ),
        ],
        Outcome::Cleanup(c) => vec![
            ("Preview branch", escape(&c.branch_name)),
            (
                "Result",
                match &c.result {
                    CleanupResult::Deleted => "deleted".into(),
                    CleanupResult::AlreadyGone => "already gone".into(),
                    CleanupResult::KeptWithChildren(children) => format!(
                        "kept: it has children ({})",
                        children
                            .iter()
                            .map(|c| escape(c))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                },
            ),
        ],
        Outcome::Promote(p) => {
            let mut rows = vec![
                (
                    "Production",
                    format!("[{}]({})", escape(&p.prod.name), info.console(&p.prod.id)),
                ),
                (
                    "Already promoted",
                    if p.already_promoted {
                        "yes: nothing changed".into()
                    } else {
                        "no".into()
                    },
                ),
                (
                    "Rollback snapshot",
                    p.rollback_snapshot.as_ref().map_or("-".into(), snapshot),
                ),
                (
                    "Candidate snapshot",
                    format!("{}, now dev's baseline", snapshot(&p.candidate_snapshot)),
                ),
                ("Previous production id", code(&p.previous_prod_id)),
                (
                    "Roll back with",
                    p.rollback_snapshot
                        .as_ref()
                        .map_or("-".into(), |r| code(&info.rollback_command(&r.id))),
                ),
            ];
            if let Some(migrations) = &info.migrations {
                rows.insert(rows.len() - 1, ("Dev migrated by", code(migrations)));
            }
            rows
        }
        Outcome::Rollback(r) => vec![
            (
                "Production",
                format!("[{}]({})", escape(&r.prod.name), info.console(&r.prod.id)),
            ),
            (
                "Restored snapshot",
                format!(
                    "{} ({})",
                    code(&r.restored_snapshot.id),
                    escape(&r.restored_snapshot.name)
                ),
            ),
            (
                "Pre-rollback snapshot",
                r.rollback_snapshot.as_ref().map_or("-".into(), snapshot),
            ),
            ("Previous production id", code(&r.previous_prod_id)),
            (
                "Undo with",
                r.rollback_snapshot
                    .as_ref()
                    .map_or("-".into(), |u| code(&info.rollback_command(&u.id))),
            ),
        ],
        Outcome::RefreshDev(r) => vec![
            (
                "Dev",
                format!("[{}]({})", escape(&r.dev.name), info.console(&r.dev.id)),
            ),
            (
                "From snapshot",
                format!(
                    "{} ({})",
                    code(&r.prod_snapshot.id),
                    escape(&r.prod_snapshot.name)
                ),
            ),
            ("Previous dev id", code(&r.previous_dev_id)),
        ],
        Outcome::Setup(x) => vec![
            (
                "Production",
                format!("[{}]({})", escape(&x.prod.name), info.console(&x.prod.id)),
            ),
            (
                "Dev root",
                format!("[{}]({})", escape(&x.dev.name), info.console(&x.dev.id)),
            ),
            (
                "Created",
                if x.created {
                    "yes".into()
                } else {
                    "no: it already existed; nothing changed".into()
                },
            ),
            (
                "Production protected",
                match (&x.protect_skipped, x.prod_protected) {
                    (Some(why), _) => format!("no: {}", escape(why)),
                    (None, true) => "yes".into(),
                    (None, false) => "no".into(),
                },
            ),
        ],
        Outcome::Sweep(w) => {
            list(
                &mut s,
                "Deleted branches",
                w.deleted_branches
                    .iter()
                    .map(|b| format!("{} {}", escape(&b.name), code(&b.id))),
            );
            list(
                &mut s,
                "Deleted snapshots",
                w.deleted_snapshots
                    .iter()
                    .map(|b| format!("{} {}", escape(&b.name), code(&b.id))),
            );
            list(
                &mut s,
                "Kept",
                w.kept
                    .iter()
                    .map(|(what, why)| format!("{}: {}", escape(what), escape(why))),
            );
            if w.deleted_branches.is_empty() && w.deleted_snapshots.is_empty() {
                s.push_str("Nothing to delete.\n\n");
            }
            vec![]
        }
        Outcome::Diff(d) => {
            s.push_str(&format!(
                "| | |\n|---|---|\n| Preview branch | [{}]({}) |\n| Compared with | {} |\n\n",
                escape(&d.branch.name),
                info.console(&d.branch.id),
                escape(&d.dev.name)
            ));
            s.push_str(&schema::section(
                &d.schema,
                "dev → this pull request",
                SCHEMA_LIMIT,
            ));
            vec![]
        }
        Outcome::DryRun(plan) => {
            s.push_str("**Dry run**: every read was made; these calls would follow, in order, and none was sent.\n\n");
            for (i, call) in plan.calls.iter().take(MAX_ROWS).enumerate() {
                let _ = writeln!(s, "{}. {}", i + 1, code(call));
            }
            s.push('\n');
            vec![]
        }
    };
    if !rows.is_empty() {
        s.push_str("| | |\n|---|---|\n");
        for (k, v) in rows {
            let _ = writeln!(s, "| {k} | {v} |");
        }
        s.push('\n');
    }
    if let Outcome::Promote(p) = outcome {
        if let Some(change) = &p.prod_changed {
            s.push_str(&schema::prod_change(change));
        }
        if let Some(diff) = &p.schema {
            s.push_str(&schema::section(diff, "production → dev", SCHEMA_LIMIT));
        }
    }
    steps_and_warnings(&mut s, steps, warnings);
    cap(s, LIMIT)
}

/// What the clean-up after a verified restore did, appended to the summary once it ran.
pub fn tidied(t: &Tidied, steps: &[StepRecord], warnings: &[String]) -> String {
    let mut s = String::from(
        "### Clean-up

",
    );
    if let Some(old) = &t.old_branch {
        let _ = writeln!(s, "- Replaced branch: {}", old_branch(old));
    }
    if let Some(b) = &t.baseline {
        let _ = writeln!(s, "- Dev's baseline: {}", snapshot(b));
    }
    for d in t.deleted_snapshots.iter().take(MAX_ROWS) {
        let _ = writeln!(s, "- Deleted snapshot {}", snapshot(d));
    }
    if t.old_branch.is_none() && t.baseline.is_none() && t.deleted_snapshots.is_empty() {
        s.push_str("- Nothing to clean up.\n");
    }
    s.push('\n');
    steps_and_warnings(&mut s, steps, warnings);
    cap(s, LIMIT)
}

fn snapshot(s: &SnapshotRef) -> String {
    format!("{} ({})", code(&s.id), escape(&s.name))
}

/// The summary of a failed run: the error, then what was done before it.
pub fn failure_summary(
    command: &str,
    error: &str,
    steps: &[StepRecord],
    warnings: &[String],
) -> String {
    let mut s = format!(
        "## neon-promote: {command} failed\n\n> {}\n\n",
        escape(error)
    );
    steps_and_warnings(&mut s, steps, warnings);
    cap(s, LIMIT)
}

fn steps_and_warnings(s: &mut String, steps: &[StepRecord], warnings: &[String]) {
    if !steps.is_empty() {
        s.push_str("| Neon operation | Duration | |\n|---|---:|---|\n");
        for step in steps.iter().take(MAX_ROWS) {
            let _ = writeln!(
                s,
                "| {} | {:.2} s | {} |",
                escape(&step.label),
                step.duration.as_secs_f64(),
                if step.ok { "✅" } else { "❌" }
            );
        }
        s.push('\n');
    }
    list(s, "⚠️ Warnings", warnings.iter().map(|w| escape(w)));
}

fn list(s: &mut String, title: &str, items: impl Iterator<Item = String>) {
    let items: Vec<String> = items.collect();
    if items.is_empty() {
        return;
    }
    let _ = writeln!(s, "**{title}**\n");
    for item in items.iter().take(MAX_ROWS) {
        let _ = writeln!(s, "- {item}");
    }
    if items.len() > MAX_ROWS {
        let _ = writeln!(s, "- … and {} more", items.len() - MAX_ROWS);
    }
    s.push('\n');
}
