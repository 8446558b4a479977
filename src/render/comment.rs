//! The sticky pull request comment: the preview branch, or what a promotion or rollback did to
//! production and how to undo it. Never a password or a connection string.

use super::{CommentInfo, cap, code, escape, preview_data, schema};
use crate::github::MARKER;
use crate::outcome::{CleanupResult, OldBranch, Outcome, SnapshotRef};

/// GitHub refuses bodies over 65,536 characters; ours stays well below.
const LIMIT: usize = 60_000;
/// The schema diff's share of a comment; the rest of the body is small.
const SCHEMA_LIMIT: usize = 40_000;

/// The comment for an outcome that belongs to a pull request; `None` for the others.
pub fn comment(outcome: &Outcome, info: &CommentInfo) -> Option<String> {
    let body = match outcome {
        Outcome::Preview(p) => {
            let verb = if p.created { "created" } else { "reused" };
            let expiry = p.expires_at.as_deref().map_or("never".into(), code);
            let data = preview_data(p).map_or(String::new(), |d| format!("| Data | {d} |\n"));
            format!(
                "### 🐘 Neon preview branch {verb}\n\n\
                 | | |\n|---|---|\n\
                 | Branch | [{}]({}) |\n| Branch id | {} |\n| Expires | {expiry} |\n| Host | {} |\n{data}\n\
                 The connection strings are in this job's outputs `db_url` and `db_url_pooled` (masked in the log).\n",
                escape(&p.branch.name),
                info.console(&p.branch.id),
                code(&p.branch.id),
                p.connection.as_ref().map_or("-".into(), |c| code(&c.host)),
            )
        }
        Outcome::Cleanup(c) => {
            let what = match &c.result {
                CleanupResult::Deleted => "was deleted".to_string(),
                CleanupResult::AlreadyGone => {
                    "was already gone (expired or deleted by hand)".to_string()
                }
                CleanupResult::KeptWithChildren(children) => format!(
                    "was **kept**: it has child branches ({}); delete them first, or let `sweep` do it later",
                    children
                        .iter()
                        .map(|c| escape(c))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            format!(
                "### 🐘 Neon preview branch cleaned up\n\nThe preview branch {} {what}.\n",
                escape(&c.branch_name)
            )
        }
        Outcome::Promote(p) if p.already_promoted => format!(
            "### 🐘 Already promoted\n\nCommit {} was promoted to production earlier; nothing was changed.\n\n{}",
            code(&crate::naming::short_sha(&p.sha)),
            rollback_section(info, p.rollback_snapshot.as_ref())
        ),
        Outcome::Promote(p) => format!(
            "### 🚀 dev promoted to production\n\n\
             | | |\n|---|---|\n\
             | Production | [{}]({}) |\n| Rollback snapshot | {} |\n| Candidate snapshot | {} |\n| Commit | {} |\n{}\n{}{}{}",
            escape(&p.prod.name),
            info.console(&p.prod.id),
            p.rollback_snapshot
                .as_ref()
                .map_or("-".into(), |r| code(&r.id)),
            code(&p.candidate_snapshot.id),
            code(&crate::naming::short_sha(&p.sha)),
            info.migrations
                .as_deref()
                .map(|m| format!("| Dev migrated by | {} |\n", code(m)))
                .unwrap_or_default(),
            p.prod_changed
                .as_ref()
                .map(schema::prod_change)
                .unwrap_or_default(),
            p.schema
                .as_ref()
                .map(|d| schema::section(d, "production → dev", SCHEMA_LIMIT))
                .unwrap_or_default(),
            rollback_section(info, p.rollback_snapshot.as_ref())
        ),
        Outcome::Diff(d) => format!(
            "### 🐘 Neon preview branch: schema compared with dev\n\n\
             | | |\n|---|---|\n\
             | Branch | [{}]({}) |\n| Branch id | {} |\n| Expires | {} |\n\n{}",
            escape(&d.branch.name),
            info.console(&d.branch.id),
            code(&d.branch.id),
            d.expires_at.as_deref().map_or("never".into(), code),
            schema::section(&d.schema, "dev → this pull request", SCHEMA_LIMIT)
        ),
        Outcome::Rollback(r) => format!(
            "### ⏪ Production rolled back\n\n\
             | | |\n|---|---|\n\
             | Production | [{}]({}) |\n| Restored snapshot | {} ({}) |\n| Pre-rollback snapshot | {} |\n\n{}",
            escape(&r.prod.name),
            info.console(&r.prod.id),
            code(&r.restored_snapshot.id),
            escape(&r.restored_snapshot.name),
            r.rollback_snapshot
                .as_ref()
                .map_or("-".into(), |u| code(&u.id)),
            match &r.rollback_snapshot {
                Some(u) => format!(
                    "To undo this rollback, restore the pre-rollback snapshot:\n\n```sh\n{}\n```\n",
                    info.rollback_command(&u.id)
                ),
                None => String::new(),
            }
        ),
        _ => return None,
    };
    Some(cap(format!("{MARKER}\n{body}"), LIMIT))
}

fn rollback_section(info: &CommentInfo, snapshot: Option<&SnapshotRef>) -> String {
    let Some(snapshot) = snapshot else {
        return String::new();
    };
    format!(
        "To roll production back to before this promotion:\n\n```sh\n{}\n```\n\n\
         ⚠️ Writes made to production after the rollback snapshot are lost by a rollback.\n",
        info.rollback_command(&snapshot.id)
    )
}

pub(super) fn old_branch(old: &OldBranch) -> String {
    match old {
        OldBranch::Deleted { id } => format!("{} deleted", code(id)),
        OldBranch::Gone { id } => format!("{} deleted (by an earlier try)", code(id)),
        OldBranch::Kept { id } => format!("{} kept (`keep_old_branch`)", code(id)),
        OldBranch::KeptWithChildren { id, children } => format!(
            "{} kept: it has child branches ({})",
            code(id),
            children
                .iter()
                .map(|c| escape(c))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
