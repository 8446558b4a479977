//! What a promotion checks before it replaces production, so that it never promotes blind:
//! the schema change it makes (destructive changes → `on_destructive_change`) and whether
//! production was written since dev's baseline (those writes would be lost → `on_prod_changed`).
//!
//! Dev's baseline is the prod state dev last matched: the candidate last promoted, or the prod
//! snapshot setup or refresh-dev made dev from. Prod changed since when it is no longer the
//! branch the baseline is of (or was restored from), or when the rollback point's LSN is past
//! the baseline's (SPEC §3). No public route gives a branch's current LSN: the fresh rollback
//! point's `lsn` is prod's.

use jiff::Timestamp;

use super::snapshots::{self, snapshot_ref};
use crate::config::Policy;
use crate::ctx::Ctx;
use crate::naming::SnapshotName;
use crate::neon::{Branch, Snapshot};
use crate::outcome::ProdChange;
use crate::schema::{self, SchemaDiff};

/// Compares the schema of `new` with `old`'s (both structured forms and Neon's SQL diff, read
/// at once) for the `database` input.
pub async fn compare(ctx: &Ctx, old: &Branch, new: &Branch) -> anyhow::Result<SchemaDiff> {
    let db = &ctx.config.database;
    let label = format!("Compare the schemas of {} and {}", old.name, new.name);
    ctx.step(label, async {
        let (old_tables, new_tables, diff) = tokio::join!(
            ctx.neon.branch_schema(&old.id, db),
            ctx.neon.branch_schema(&new.id, db),
            ctx.neon.compare_schema(&new.id, &old.id, db),
        );
        let diff = diff?;
        Ok::<_, anyhow::Error>(SchemaDiff {
            database: db.clone(),
            changes: schema::classify(&old_tables?, &new_tables?, &diff),
            diff,
        })
    })
    .await
}

/// `on_destructive_change`, before any snapshot: `Err` when the policy is `fail` and the change
/// is destructive (or could not be read); under `warn`, one warning per destructive change (or
/// one saying the check could not run). Passes the comparison on, when there is one.
pub fn destructive(
    ctx: &Ctx,
    compared: anyhow::Result<SchemaDiff>,
) -> anyhow::Result<Option<SchemaDiff>> {
    let policy = ctx.config.on_destructive_change;
    let diff = match compared {
        Ok(diff) => diff,
        Err(e) if policy == Policy::Fail => {
            return Err(e.context("the schemas could not be compared, so the destructive-change guard cannot tell; nothing was snapshotted"));
        }
        Err(e) => {
            ctx.warn(format!(
                "the schemas of production and dev could not be compared ({e:#}); the promotion goes on without the destructive-change check"
            ));
            return Ok(None);
        }
    };
    let destructive = diff.destructive();
    if policy == Policy::Fail && !destructive.is_empty() {
        let list: Vec<String> = destructive.iter().map(ToString::to_string).collect();
        let input = ctx.config.input("on_destructive_change");
        anyhow::bail!(
            "the promotion {} (database `{}`), and {input} is `fail`; nothing was snapshotted; if the change is intended, promote it with {input} set to `warn`",
            list.join(", "),
            diff.database,
        );
    }
    if policy == Policy::Warn {
        for change in &destructive {
            ctx.warn(format!(
                "destructive schema change: the promotion {change} (database `{}`)",
                diff.database
            ));
        }
    }
    Ok(Some(diff))
}

/// Whether prod was written since dev's baseline, judged from the fresh rollback point.
pub fn prod_changed(all: &[Snapshot], prod: &Branch, rollback_point: &Snapshot) -> ProdChange {
    let Some(baseline) = snapshots::baseline(all) else {
        return ProdChange {
            changed: true,
            baseline: None,
            baseline_taken: None,
            wal_bytes: None,
            why: "no baseline of dev is known (a project set up by hand, or its baseline expired), so production is treated as changed".into(),
        };
    };
    let taken = SnapshotName::parse(&baseline.name).map(|n| n.taken_at);
    let mut change = ProdChange {
        changed: true,
        baseline: Some(snapshot_ref(baseline)),
        baseline_taken: taken,
        wal_bytes: None,
        why: String::new(),
    };
    let same_branch = baseline.source_branch_id.as_deref() == Some(prod.id.as_str())
        || prod.restored_from.as_deref() == Some(baseline.id.as_str());
    if !same_branch {
        change.why = format!(
            "production ({}) is no longer the branch dev's baseline {} was taken of or restored from: it was replaced since (a rollback, or a restore by hand)",
            prod.id, baseline.name
        );
        return change;
    }
    match (
        lsn(rollback_point.lsn.as_deref()),
        lsn(baseline.lsn.as_deref()),
    ) {
        (Some(now), Some(then)) if now > then => {
            change.wal_bytes = Some(now - then);
            change.why = format!(
                "production took {} of WAL since dev's baseline {}",
                bytes(now - then),
                baseline.name
            );
        }
        (Some(_), Some(_)) => {
            change.changed = false;
            change.why = format!(
                "production was not written since dev's baseline {}",
                baseline.name
            );
        }
        _ => {
            change.why = format!(
                "the LSNs of the rollback point and of dev's baseline {} are not known, so production is treated as changed",
                baseline.name
            );
        }
    }
    change
}

/// Neon's text LSN (`16/B374D848`, hex high and low 32 bits) as one number.
pub fn lsn(text: Option<&str>) -> Option<u64> {
    let (high, low) = text?.split_once('/')?;
    let high = u64::from_str_radix(high, 16).ok()?;
    let low = u64::from_str_radix(low, 16).ok()?;
    (high <= u32::MAX as u64 && low <= u32::MAX as u64).then_some((high << 32) | low)
}

/// `1.5 MiB`, for people.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// What the guard found, with the baseline's age when it is known.
pub fn finding(change: &ProdChange, now: Timestamp) -> String {
    let since = change
        .baseline_taken
        .map(|t| format!(" (the baseline was made {} ago, at {t})", age(now, t)))
        .unwrap_or_default();
    format!("{}{since}", change.why)
}

/// Since when writes to production would be lost: dev's baseline, or (none known) dev's making.
pub fn since(change: &ProdChange) -> &'static str {
    if change.baseline.is_some() {
        "dev's baseline"
    } else {
        "dev was made"
    }
}

fn age(now: Timestamp, then: Timestamp) -> String {
    let secs = now.duration_since(then).as_secs().max(0);
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: &str, name: &str, source: &str, lsn: &str) -> Snapshot {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": name, "source_branch_id": source,
            "created_at": "2026-11-23T10:00:00Z", "lsn": lsn,
        }))
        .unwrap()
    }

    fn branch(id: &str, restored_from: Option<&str>) -> Branch {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": "production", "restored_from": restored_from,
        }))
        .unwrap()
    }

    #[test]
    fn lsns_read_as_numbers() {
        assert_eq!(lsn(Some("0/16B3748")), Some(0x16B3748));
        assert_eq!(lsn(Some("1/0")), Some(1 << 32));
        assert_eq!(lsn(Some("nope")), None);
        assert_eq!(lsn(None), None);
        assert_eq!(bytes(512), "512 bytes");
        assert_eq!(bytes(3 * 1024 * 1024 / 2), "1.5 MiB");
    }

    #[test]
    fn prod_changed_when_written_or_replaced_or_unknown() {
        let baseline = snap(
            "b",
            "dev_snap_2026-11-23_10-00-00_baseline_pr-1_abcdef0",
            "br-dev",
            "0/1000",
        );
        let all = vec![baseline];
        let point = |lsn: &str| {
            snap(
                "r",
                "prod_snap_2026-11-24_10-00-00_pre-promotion",
                "br-p2",
                lsn,
            )
        };
        // Prod was restored from the baseline and not written since.
        let prod = branch("br-p2", Some("b"));
        assert!(!prod_changed(&all, &prod, &point("0/1000")).changed);
        let written = prod_changed(&all, &prod, &point("0/1800"));
        assert!(written.changed);
        assert_eq!(written.wal_bytes, Some(0x800));
        // Prod was replaced since (a rollback).
        let other = branch("br-p3", Some("rollback-point"));
        assert!(prod_changed(&all, &other, &point("0/1000")).changed);
        // No baseline at all.
        let none = prod_changed(&[], &prod, &point("0/1000"));
        assert!(none.changed && none.baseline.is_none());
    }
}
