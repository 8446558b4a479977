//! Golden files: the comment and the summary of every outcome, compared whole against
//! `tests/golden/*.md`, so user-visible text changes show in review. `UPDATE_GOLDEN=1`
//! rewrites them.

mod support;
use std::time::Duration;

use neon_promote::outcome::StepRecord;
use neon_promote::outcome::*;
use neon_promote::render::{CommentInfo, comment, failure_summary, summary, tidied};
use support::golden::check;

const PASSWORD: &str = "npg_s3cretPassw0rd";

fn info() -> CommentInfo {
    CommentInfo {
        project_id: "autumn-fog-12345678".into(),
        server_url: "https://github.com".into(),
        repository: Some("acme/shop".into()),
        workflow: Some("neon.yml".into()),
        migrations: None,
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
            schema_only: false,
            masking: None,
            auth_url: None,
            data_api_url: None,
        })),
        // create-branch-action's options: a reused schema-only, anonymized branch with both URLs.
        ("preview-cba", Outcome::Preview(Preview {
            pr: None,
            branch: branch("br-preview-33333333", "ci-nightly"),
            created: false,
            expires_at: None,
            connection: Some(connection()),
            schema_only: true,
            masking: Some(Masking::Kept),
            auth_url: Some("https://ep-a-1.neonauth.aws.neon.tech/neondb/auth".into()),
            data_api_url: Some("https://ep-a-1.apirest.aws.neon.tech/neondb/rest/v1".into()),
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
            command: neon_promote::config::CommandName::Promote,
            calls: vec![
                "POST /projects/autumn-fog-12345678/branches/br-prod/snapshot name=prod_snap_…".into(),
                "POST /projects/autumn-fog-12345678/snapshots/<candidate>/restore target_branch_id=br-prod finalize_restore=true".into(),
            ],
        })),
        ("skipped", Outcome::Skipped { reason: "a push to `feature`, not to the promotion branch `main`".into() }),
    ]
}

/// A PR that drops a column and adds a required one; a hostile column name.
fn schema_diff() -> neon_promote::schema::SchemaDiff {
    use neon_promote::schema::Change;
    neon_promote::schema::SchemaDiff {
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

#[test]
fn comments_and_summaries_match_their_golden_files() {
    let warnings = vec!["could not comment on pull request #42: GitHub answered 403".to_string()];
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
    // A workflow that says which step migrated dev (`migrations`) sees it in both.
    let promote = outcomes()
        .into_iter()
        .find(|(n, _)| *n == "promote")
        .unwrap()
        .1;
    let migrated = CommentInfo {
        migrations: Some("./scripts/migrate.sh".into()),
        ..info()
    };
    check(
        "summary-promote-migrated.md",
        &summary(&promote, &steps(), &[], &migrated),
    );
    check(
        "comment-promote-migrated.md",
        &comment(&promote, &migrated).unwrap(),
    );
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
        c.result =
            CleanupResult::KeptWithChildren((0..20_000).map(|i| format!("child-{i}")).collect());
    }
    let body = comment(&long, &info()).unwrap();
    assert!(body.starts_with(neon_promote::github::MARKER));
    assert!(body.len() <= 60_000, "{}", body.len());
}
