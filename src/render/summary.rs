//! The job summary (`$GITHUB_STEP_SUMMARY`): what ran, each Neon operation with its duration,
//! the resulting ids, and warnings. Lists are capped so it stays far below the runner's 1 MiB.

use std::fmt::Write as _;

use super::comment::old_branch;
use super::{CommentInfo, cap, code, escape};
use crate::ctx::StepRecord;
use crate::outcome::{CleanupResult, Outcome};

const LIMIT: usize = 256 * 1024;
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
            ("Host", code(&p.db_host)),
            ("Pooled host", code(&p.db_host_pooled)),
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
        Outcome::Promote(p) => vec![
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
                format!(
                    "{} ({})",
                    code(&p.rollback_snapshot.id),
                    escape(&p.rollback_snapshot.name)
                ),
            ),
            (
                "Candidate snapshot",
                format!(
                    "{} ({}){}",
                    code(&p.candidate_snapshot.id),
                    escape(&p.candidate_snapshot.name),
                    if p.candidate_deleted { ", deleted" } else { "" }
                ),
            ),
            ("Previous production id", code(&p.previous_prod_id)),
            ("Replaced branch", old_branch(&p.old_branch)),
            (
                "Roll back with",
                code(&info.rollback_command(&p.rollback_snapshot.id)),
            ),
        ],
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
            ("Pre-rollback snapshot", code(&r.rollback_snapshot.id)),
            ("Previous production id", code(&r.previous_prod_id)),
            ("Replaced branch", old_branch(&r.old_branch)),
            (
                "Undo with",
                code(&info.rollback_command(&r.rollback_snapshot.id)),
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
            ("Replaced branch", old_branch(&r.old_branch)),
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
    steps_and_warnings(&mut s, steps, warnings);
    cap(s, LIMIT)
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
