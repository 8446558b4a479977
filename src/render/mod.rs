//! What people read, from what a command did: the sticky PR comment and the job summary, as
//! Markdown. Pure functions of an `Outcome`; they never print and never see a secret (outcomes
//! carry the connection strings, which these functions deliberately leave out).

mod comment;
mod schema;
mod summary;

pub use comment::comment;
pub use summary::{failure_summary, summary, tidied};

/// What the renderers need besides the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentInfo {
    pub project_id: String,
    pub server_url: String,
    /// `owner/repo`, when run from GitHub.
    pub repository: Option<String>,
    /// The workflow file, for the `gh workflow run` line.
    pub workflow: Option<String>,
}

impl CommentInfo {
    /// From the run's settings and GitHub context (the repository may come from `--repo`).
    pub fn new(config: &crate::config::Config, gh: Option<&crate::event::GitHubContext>) -> Self {
        Self {
            project_id: config.project_id.clone(),
            server_url: gh.map_or_else(|| "https://github.com".into(), |g| g.server_url.clone()),
            repository: config
                .repo
                .clone()
                .or_else(|| gh.map(|g| g.repository.clone())),
            workflow: gh.and_then(|g| g.workflow.clone()),
        }
    }

    /// The Neon Console page of a branch.
    fn console(&self, branch_id: &str) -> String {
        format!(
            "https://console.neon.tech/app/projects/{}/branches/{}",
            self.project_id, branch_id
        )
    }

    /// The ready-to-run rollback command for a snapshot.
    fn rollback_command(&self, snapshot_id: &str) -> String {
        rollback_command(
            self.workflow.as_deref(),
            self.repository.as_deref(),
            snapshot_id,
        )
    }
}

/// The command that restores a snapshot onto production, as the user would type it: through
/// the workflow on GitHub, or the CLI elsewhere.
pub fn rollback_command(
    workflow: Option<&str>,
    repository: Option<&str>,
    snapshot_id: &str,
) -> String {
    match (workflow, repository) {
        (Some(workflow), Some(repo)) => format!(
            "gh workflow run {} -R {repo} -f snapshot_id={snapshot_id}",
            shell_word(workflow)
        ),
        _ => format!("neon-promote rollback {snapshot_id}"),
    }
}

/// Quotes a word for a POSIX shell when it needs it (workflow names often contain spaces).
fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Text from users or the API (refs, titles, branch names) made inert in Markdown: no HTML, no
/// links, no emphasis, no table breaks, no control characters, one line.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("&#124;"),
            // `(` and `!` are inert once `[` is escaped; `@` would mention someone.
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' | '@' => {
                out.push('\\');
                out.push(ch);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An id (ours or Neon's) as inline code; ids never contain backticks, but be sure.
fn code(text: &str) -> String {
    format!(
        "`{}`",
        text.replace('`', "'")
            .replace(|c: char| c.is_control(), " ")
    )
}

/// Cuts Markdown to `limit` bytes at a line boundary, saying so.
fn cap(mut text: String, limit: usize) -> String {
    if text.len() <= limit {
        return text;
    }
    let mut cut = limit.saturating_sub(64);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    cut = text[..cut].rfind('\n').unwrap_or(cut);
    text.truncate(cut);
    text.push_str("\n\n_(truncated)_\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_makes_markdown_and_html_inert() {
        assert_eq!(
            escape("feat/<script>|[x](http://e) **b** `c`\n"),
            "feat/&lt;script&gt;&#124;\\[x\\](http://e) \\*\\*b\\*\\* \\`c\\` "
        );
    }

    #[test]
    fn workflow_names_are_quoted_for_the_shell() {
        assert_eq!(shell_word("neon.yml"), "neon.yml");
        assert_eq!(shell_word("Neon promote"), "'Neon promote'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }

    #[test]
    fn cap_cuts_at_a_line() {
        let text = "line\n".repeat(100);
        let capped = cap(text, 200);
        assert!(capped.len() <= 200);
        assert!(capped.ends_with("_(truncated)_\n"));
    }
}

/// Golden files: the comment and the summary of every outcome, compared whole against
/// `tests/golden/*.md`, so user-visible text changes show in review. `UPDATE_GOLDEN=1`
/// rewrites them.
#[cfg(test)]
mod golden {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::ctx::StepRecord;
    use crate::outcome::*;

    const PASSWORD: &str = "npg_s3cretPassw0rd";

    fn info() -> CommentInfo {
        CommentInfo {
            project_id: "autumn-fog-12345678".into(),
            server_url: "https://github.com".into(),
            repository: Some("acme/shop".into()),
            workflow: Some("neon.yml".into()),
        }
    }

    fn branch(id: &str, name: &str) -> BranchRef {
        BranchRef {
            id: id.into(),
            name: name.into(),
        }
    }

    fn snap(id: &str, name: &str) -> SnapshotRef {
        SnapshotRef {
            id: id.into(),
            name: name.into(),
        }
    }

    fn pr() -> Option<PullRef> {
        // A hostile title: it must not break the Markdown.
        Some(PullRef {
            number: 42,
            title: "Add <script>alert(1)</script> | `x`".into(),
        })
    }

    fn outcomes() -> Vec<(&'static str, Outcome)> {
        let prod = branch("br-new-prod-22222222", "production");
        vec![
            ("preview", Outcome::Preview(Preview {
                pr: pr(),
                branch: branch("br-preview-11111111", "preview/pr-42-feat/<b>*x*</b>"),
                created: true,
                expires_at: Some("2026-11-30T10:15:00Z".into()),
                connection: Some(connection()),
            })),
            ("connect", Outcome::Connect(Connect {
                branch: branch("br-dev-66666666", "dev"),
                connection: connection(),
            })),
            ("checkpoint", Outcome::Checkpoint(Checkpoint {
                snapshot: snap("snap-checkpoint-4", "prod_snap_2026-11-26_09-00-00_checkpoint"),
                prod: prod.clone(),
                expires_at: Some("2026-12-26T09:00:00Z".into()),
            })),
            ("diff", Outcome::Diff(Diff {
                pr: pr(),
                branch: branch("br-preview-11111111", "preview/pr-42-feat"),
                dev: branch("br-dev-66666666", "dev"),
                expires_at: Some("2026-11-30T10:15:00Z".into()),
                schema: schema_diff(),
            })),
            ("cleanup", Outcome::Cleanup(Cleanup {
                pr: pr(),
                branch_name: "preview/pr-42-feat".into(),
                branch_id: Some("br-preview-11111111".into()),
                result: CleanupResult::KeptWithChildren(vec!["child-[1]".into()]),
            })),
            ("promote", Outcome::Promote(Promotion {
                pr: pr(),
                sha: "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12".into(),
                prod: prod.clone(),
                previous_prod_id: "br-old-prod-33333333".into(),
                rollback_snapshot: Some(snap("snap-rollback-1", "prod_snap_2026-11-23_10-15-00_pre-promotion_pr-42_ab12cd3")),
                candidate_snapshot: snap("snap-candidate-1", "dev_snap_2026-11-23_10-15-00_candidate_pr-42_ab12cd3"),
                already_promoted: false,
                schema: Some(schema_diff()),
                prod_changed: Some(ProdChange {
                    changed: true,
                    baseline: Some(snap("snap-baseline-0", "dev_snap_2026-11-20_10-00-00_baseline_pr-41_0a1b2c3")),
                    baseline_taken: Some("2026-11-20T10:00:00Z".parse().unwrap()),
                    wal_bytes: Some(1_572_864),
                    why: "production took 1.5 MiB of WAL since dev's baseline dev_snap_2026-11-20_10-00-00_baseline_pr-41_0a1b2c3".into(),
                }),
            })),
            ("rollback", Outcome::Rollback(Rollback {
                pr: pr(),
                restored_snapshot: snap("snap-rollback-1", "prod_snap_2026-11-23_10-15-00_pre-promotion_pr-42_ab12cd3"),
                rollback_snapshot: Some(snap("snap-prerollback-2", "prod_snap_2026-11-24_09-00-00_pre-rollback")),
                prod: prod.clone(),
                previous_prod_id: "br-new-prod-22222222".into(),
            })),
            ("refresh-dev", Outcome::RefreshDev(RefreshDev {
                prod_snapshot: snap("snap-refresh-3", "prod_snap_2026-11-25_08-00-00_dev-refresh"),
                dev: branch("br-new-dev-44444444", "dev"),
                previous_dev_id: "br-old-dev-55555555".into(),
            })),
            ("setup", Outcome::Setup(Setup {
                prod,
                dev: branch("br-new-dev-44444444", "dev"),
                created: true,
                prod_protected: false,
                protect_skipped: Some("the plan does not allow protected branches".into()),
            })),
            ("sweep", Outcome::Sweep(Sweep {
                deleted_branches: vec![branch("br-gone-1", "preview/pr-3-old")],
                deleted_snapshots: vec![snap("snap-old-1", "dev_snap_2026-11-01_10-00-00_candidate")],
                kept: vec![("production (old)".into(), "it has children: x".into())],
            })),
            ("dry-run", Outcome::DryRun(Plan {
                command: crate::config::CommandName::Promote,
                calls: vec![
                    "POST /projects/autumn-fog-12345678/branches/br-prod/snapshot name=prod_snap_…".into(),
                    "POST /projects/autumn-fog-12345678/snapshots/<candidate>/restore target_branch_id=br-prod finalize_restore=true".into(),
                ],
            })),
            ("skipped", Outcome::Skipped { reason: "a push to `feature`, not to the promotion branch `main`".into() }),
        ]
    }

    /// A PR that drops a column and adds a required one; a hostile column name.
    fn schema_diff() -> crate::schema::SchemaDiff {
        use crate::schema::Change;
        crate::schema::SchemaDiff {
            database: "neondb".into(),
            changes: vec![
                Change::DroppedColumn { table: "public.orders".into(), column: "legacy_<b>code</b>".into() },
                Change::NewRequiredColumn { table: "public.orders".into(), column: "coupon".into() },
                Change::AddedTable { table: "public.coupons".into() },
            ],
            diff: "--- production\n+++ dev\n@@ -1,4 +1,4 @@\n CREATE TABLE public.orders (\n-    legacy_code text\n+    coupon text NOT NULL\n );\n+CREATE TABLE public.coupons (id bigint NOT NULL);\n".into(),
        }
    }

    fn connection() -> ConnectionInfo {
        ConnectionInfo {
            password: PASSWORD.into(),
            host: "ep-a-1.aws.neon.tech".into(),
            pooler_host: "ep-a-1-pooler.aws.neon.tech".into(),
            url: format!(
                "postgresql://neondb_owner:{PASSWORD}@ep-a-1.aws.neon.tech/neondb?sslmode=require"
            ),
            pooled_url: format!(
                "postgresql://neondb_owner:{PASSWORD}@ep-a-1-pooler.aws.neon.tech/neondb?sslmode=require"
            ),
        }
    }

    fn steps() -> Vec<StepRecord> {
        vec![
            StepRecord {
                label: "Snapshot of production".into(),
                duration: Duration::from_millis(1240),
                ok: true,
            },
            StepRecord {
                label: "Restore the candidate onto production".into(),
                duration: Duration::from_millis(980),
                ok: true,
            },
        ]
    }

    fn check(name: &str, actual: &str) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(name);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, actual).unwrap();
            return;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
                path.display()
            )
        });
        assert_eq!(
            actual,
            expected,
            "{} differs (UPDATE_GOLDEN=1 rewrites it)",
            path.display()
        );
    }

    #[test]
    fn comments_and_summaries_match_their_golden_files() {
        let warnings =
            vec!["could not comment on pull request #42: GitHub answered 403".to_string()];
        for (name, outcome) in outcomes() {
            let summary = summary(&outcome, &steps(), &warnings, &info());
            check(&format!("summary-{name}.md"), &summary);
            if let Some(body) = comment(&outcome, &info()) {
                check(&format!("comment-{name}.md"), &body);
            }
        }
        let tidy = Tidied {
            old_branch: Some(OldBranch::KeptWithChildren {
                id: "br-old-dev-55555555".into(),
                children: vec!["preview/pr-7-x".into()],
            }),
            baseline: Some(snap(
                "snap-candidate-1",
                "dev_snap_2026-11-23_10-15-00_baseline_pr-42_ab12cd3",
            )),
            deleted_snapshots: vec![snap(
                "snap-old-0",
                "prod_snap_2026-10-01_10-00-00_pre-promotion",
            )],
            failed: Vec::new(),
        };
        check("summary-tidied.md", &tidied(&tidy, &steps(), &warnings));
        check(
            "summary-failed.md",
            &failure_summary(
                "promote",
                "Restore failed: operation ended failed; `production` is untouched",
                &steps(),
                &[],
            ),
        );
    }

    #[test]
    fn no_secret_and_no_raw_html_ever_reaches_a_comment_or_summary() {
        for (name, outcome) in outcomes() {
            let texts = [
                comment(&outcome, &info()).unwrap_or_default(),
                summary(&outcome, &steps(), &[], &info()),
            ];
            for text in texts {
                assert!(!text.contains(PASSWORD), "{name}: password");
                assert!(!text.contains("postgresql://"), "{name}: connection string");
                assert!(
                    !text.contains("<script>") && !text.contains("<b>"),
                    "{name}: raw HTML"
                );
            }
        }
    }

    #[test]
    fn comments_carry_the_marker_and_stay_under_githubs_limit() {
        let mut long = outcomes()
            .into_iter()
            .find(|(n, _)| *n == "cleanup")
            .unwrap()
            .1;
        if let Outcome::Cleanup(c) = &mut long {
            c.result = CleanupResult::KeptWithChildren(
                (0..20_000).map(|i| format!("child-{i}")).collect(),
            );
        }
        let body = comment(&long, &info()).unwrap();
        assert!(body.starts_with(crate::github::MARKER));
        assert!(body.len() <= 60_000, "{}", body.len());
    }
}
