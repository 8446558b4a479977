//! Snapshots: taking one (with the quota relief SPEC §3 allows), deleting one, and knowing
//! which of the project's snapshots are ours and what each is for (rollback points, dev's
//! baseline, candidates). Retention deletes only our own rollback points beyond
//! `rollback_snapshots_kept`, oldest first, never the one just taken and never anybody else's.

use anyhow::anyhow;

use super::{Unknown, expires_at};
use crate::config::Expiry;
use crate::ctx::{Cancelled, Ctx, Made};
use crate::naming::{SnapshotKind, SnapshotName};
use crate::neon::{Branch, NeonError, Snapshot};
use crate::outcome::SnapshotRef;
use crate::plan::{Call, Sent};

pub fn snapshot_ref(s: &Snapshot) -> SnapshotRef {
    SnapshotRef {
        id: s.id.clone(),
        name: s.name.clone(),
    }
}

/// One of our snapshots, with what its name says.
#[derive(Debug, Clone)]
pub struct Ours<'a> {
    pub snapshot: &'a Snapshot,
    pub name: SnapshotName,
}

/// Our snapshots among a project's, newest first: by the time in the name, then creation,
/// then the workflow run and attempt (runs are numbered in the order they start), for
/// snapshots that share a second.
pub fn ours(all: &[Snapshot]) -> Vec<Ours<'_>> {
    let mut ours: Vec<Ours<'_>> = all
        .iter()
        .filter_map(|s| SnapshotName::parse(&s.name).map(|name| Ours { snapshot: s, name }))
        .collect();
    let key = |o: &Ours<'_>| {
        (
            o.name.taken_at,
            o.snapshot.created_at.clone(),
            o.name.run,
            o.name.attempt,
        )
    };
    ours.sort_by_key(|o| std::cmp::Reverse(key(o)));
    ours
}

/// A snapshot of a later workflow run that changed prod or dev since this run (`run`) was
/// first started: GitHub numbers runs in the order they are made, and a re-run keeps its
/// number. A later promotion, refresh-dev or setup left dev's baseline (each new baseline
/// replaces the last, so it carries the newest such run); a later promotion or rollback that
/// replaced prod left a rollback point of a branch that is not prod any more. Re-running this
/// older run would undo that later change.
pub fn superseded_by<'a>(
    all: &'a [Snapshot],
    run: Option<u64>,
    prod: &str,
) -> Option<&'a Snapshot> {
    let run = run?;
    ours(all)
        .into_iter()
        .find(|o| {
            o.name.run.is_some_and(|r| r > run)
                && (o.name.kind == SnapshotKind::Baseline
                    || (o.name.kind.is_rollback_point()
                        && o.snapshot.source_branch_id.as_deref() != Some(prod)))
        })
        .map(|o| o.snapshot)
}

/// Dev's baseline: the newest snapshot of ours named as one (there should be exactly one).
pub fn baseline(all: &[Snapshot]) -> Option<&Snapshot> {
    ours(all)
        .into_iter()
        .find(|o| o.name.kind == SnapshotKind::Baseline)
        .map(|o| o.snapshot)
}

/// Rollback points that retention and quota relief leave alone: the ones just taken (`keep`,
/// ids), and the current prod's (`of`) made since `since` (within the last `timeout`: another
/// run may be about to restore with one). They still count toward `rollback_snapshots_kept`.
#[derive(Debug, Clone, Copy)]
pub struct Spare<'a> {
    pub keep: &'a [&'a str],
    pub of: &'a str,
    pub since: jiff::Timestamp,
}

impl<'a> Spare<'a> {
    pub fn new(ctx: &Ctx, keep: &'a [&'a str], of: &'a str) -> Self {
        let window = jiff::SignedDuration::try_from(ctx.config.timeout).unwrap_or_default();
        Self {
            keep,
            of,
            since: ctx.now() - window,
        }
    }

    fn spares(&self, s: &Snapshot) -> bool {
        self.keep.contains(&s.id.as_str())
            || (s.source_branch_id.as_deref() == Some(self.of)
                && s.created_at
                    .parse::<jiff::Timestamp>()
                    .is_ok_and(|t| t >= self.since))
    }
}

/// Takes a snapshot of a root branch and waits for it. When the quota refuses it, our own
/// oldest rollback points beyond `rollback_snapshots_kept` (counting this one, never `spare`)
/// are deleted and it is tried once more; still refused, the error lists what holds the
/// quota. A snapshot whose operation failed is deleted again, so nothing reuses it. In a dry
/// run, a placeholder with the name and no id.
pub async fn take(
    ctx: &Ctx,
    label: &str,
    branch: &Branch,
    name: &str,
    ttl: &Expiry,
    spare: Spare<'_>,
) -> anyhow::Result<Snapshot> {
    let call = Call::Snapshot {
        branch_id: branch.id.clone(),
        name: name.to_string(),
        expires_at: expires_at(ttl, ctx.now()),
    };
    let first = ctx.apply(label, call.clone()).await;
    let taken = match first {
        Err(e) if is_quota(&e) => match relieve_quota(ctx, spare).await {
            Ok(freed) if freed > 0 => ctx.apply(format!("{label} (again)"), call).await,
            Ok(_) => Err(e),
            Err(list_err) => {
                Err(e.context(format!("(the snapshots could not be listed: {list_err:#})")))
            }
        },
        other => other,
    };
    match taken {
        Ok(Some(sent)) => sent
            .snapshot()
            .ok_or_else(|| anyhow!("Neon answered the snapshot of `{}` without it", branch.name)),
        Ok(None) => Ok(placeholder(branch, name)),
        Err(e) if is_quota(&e) => Err(explain_quota(ctx, e).await),
        Err(e) => Err(not_seen_to_finish(ctx, e, name).await),
    }
}

/// A snapshot Neon made but that was not seen to finish: one whose operation failed holds
/// nothing and is deleted again; one whose wait failed or was cancelled may be good, so the
/// error carries it (`Dangling`) for the run to name and output.
async fn not_seen_to_finish(ctx: &Ctx, e: anyhow::Error, name: &str) -> anyhow::Error {
    let made = match e.downcast_ref::<Made>() {
        Some(Made(Sent::Snapshot(s))) => Some(s.clone()),
        // Cancelled before Neon's answer came: it may exist; look, briefly (the run is stopping).
        _ if e.is::<Cancelled>() => find_briefly(ctx, name).await,
        _ => None,
    };
    let Some(made) = made else { return e };
    if is_failed_operation(&e) {
        let label = format!("Delete the failed snapshot {name}");
        if let Err(d) = delete(ctx, &label, &snapshot_ref(&made)).await {
            ctx.warn(format!(
                "could not delete the failed snapshot {}: {d:#}",
                made.id
            ));
        }
        return e;
    }
    e.context(Dangling(snapshot_ref(&made)))
}

/// Our snapshot named `name`, if a read within two seconds finds it (read twice: a list may
/// lag the mutation that made it by one read).
async fn find_briefly(ctx: &Ctx, name: &str) -> Option<Snapshot> {
    let look = async {
        for _ in 0..2 {
            if let Ok(all) = ctx.neon.list_snapshots().await
                && let Some(found) = all.into_iter().find(|s| s.name == name)
            {
                return Some(found);
            }
        }
        None
    };
    tokio::time::timeout(std::time::Duration::from_secs(2), look)
        .await
        .ok()
        .flatten()
}

/// A snapshot a failed step made, which exists and may hold the branch's state: a failed run
/// names it and outputs it as its rollback point.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("snapshot {} ({}) was made but not seen to finish", .0.id, .0.name)]
pub struct Dangling(pub SnapshotRef);

/// Deletes our own oldest rollback points until at most `rollback_snapshots_kept` remain,
/// counting the one about to be taken (or one just taken). Returns how many went.
async fn relieve_quota(ctx: &Ctx, spare: Spare<'_>) -> anyhow::Result<usize> {
    let all = ctx
        .step("List snapshots", ctx.neon.list_snapshots())
        .await?;
    // The snapshot being taken (or the rollback point just taken) counts as one.
    let room = ctx.config.rollback_snapshots_kept.saturating_sub(1);
    let doomed = surplus(&all, room, spare);
    let mut freed = 0;
    for s in doomed {
        let label = format!("Delete the old rollback point {} (quota)", s.name);
        match delete(ctx, &label, &s).await {
            Ok(()) => freed += 1,
            Err(e) => ctx.warn(format!(
                "could not delete {} to free the quota: {e:#}",
                s.id
            )),
        }
    }
    Ok(freed)
}

/// Our rollback points beyond the `room` newest other than `spare.keep`, oldest first; spared
/// points take room but are never among them.
pub fn surplus(all: &[Snapshot], room: usize, spare: Spare<'_>) -> Vec<SnapshotRef> {
    let mut doomed: Vec<SnapshotRef> = ours(all)
        .into_iter()
        .filter(|o| {
            o.name.kind.is_rollback_point() && !spare.keep.contains(&o.snapshot.id.as_str())
        })
        .map(|o| o.snapshot)
        .enumerate()
        .filter(|(i, s)| *i >= room && !spare.spares(s))
        .map(|(_, s)| snapshot_ref(s))
        .collect();
    doomed.reverse();
    doomed
}

/// After a verified promotion or rollback: our rollback points beyond `rollback_snapshots_kept`
/// (counting `just_taken`; never one of `prod`, the current production), oldest first, then
/// any baseline older than the newest, from the list `all`. Deletion failures are warnings.
pub async fn prune(
    ctx: &Ctx,
    all: &[Snapshot],
    just_taken: &SnapshotRef,
    prod: &str,
) -> Vec<SnapshotRef> {
    let room = ctx.config.rollback_snapshots_kept.saturating_sub(1);
    let keep = [just_taken.id.as_str()];
    let spare = Spare::new(ctx, &keep, prod);
    // A baseline older than the newest one is stale: a clean-up that was cancelled between
    // making the new one and deleting the old one left it (simulation seed 87444).
    let stale_baselines = ours(all)
        .into_iter()
        .filter(|o| o.name.kind == SnapshotKind::Baseline)
        .skip(1)
        .map(|o| (snapshot_ref(o.snapshot), "superseded baseline"));
    let points = surplus(all, room, spare)
        .into_iter()
        .map(|s| (s, "old rollback point"));
    let mut deleted = Vec::new();
    for (s, what) in points.chain(stale_baselines) {
        let label = format!("Delete the {what} {}", s.name);
        match delete(ctx, &label, &s).await {
            Ok(()) => deleted.push(s),
            Err(e) => ctx.warn(format!(
                "clean-up: could not delete the {what} {}: {e:#}",
                s.id
            )),
        }
    }
    deleted
}

/// Deletes a snapshot and waits; one already gone is fine.
pub async fn delete(ctx: &Ctx, label: &str, snapshot: &SnapshotRef) -> anyhow::Result<()> {
    let call = Call::DeleteSnapshot {
        snapshot_id: snapshot.id.clone(),
    };
    ctx.apply(label, call).await.map(drop)
}

/// A refused snapshot for quota, with the snapshots that hold it; any other error unchanged.
pub async fn explain_quota(ctx: &Ctx, e: anyhow::Error) -> anyhow::Error {
    if !is_quota(&e) {
        return e;
    }
    let holders = match ctx.step("List snapshots", ctx.neon.list_snapshots()).await {
        Ok(list) => describe(&list),
        Err(list_err) => format!("(could not list them: {list_err:#})"),
    };
    e.context(format!(
        "the snapshot quota is full, held by: {holders}; delete one of them (or wait for it to expire), or lower rollback_snapshots_kept, and re-run"
    ))
}

pub fn is_quota(e: &anyhow::Error) -> bool {
    matches!(crate::ctx::neon_error(e), Some(NeonError::QuotaExceeded(_)))
}

fn is_failed_operation(e: &anyhow::Error) -> bool {
    matches!(
        crate::ctx::neon_error(e),
        Some(NeonError::OperationFailed { .. })
    )
}

/// `name (id, created …, expires …)`, comma-separated.
fn describe(list: &[Snapshot]) -> String {
    if list.is_empty() {
        return "no snapshot the API lists".into();
    }
    list.iter()
        .map(|s| {
            let expiry = s
                .expires_at
                .as_deref()
                .map_or("never expires".into(), |e| format!("expires {e}"));
            format!("{} ({}, created {}, {expiry})", s.name, s.id, s.created_at)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a dry run puts where a snapshot will be: its name, and its name in braces as its id.
fn placeholder(branch: &Branch, name: &str) -> Snapshot {
    Snapshot {
        id: format!("{{{name}}}"),
        name: name.to_string(),
        source_branch_id: Some(branch.id.clone()),
        created_at: String::new(),
        expires_at: None,
        manual: Some(true),
        lsn: None,
    }
}

/// The snapshot a run means by `wanted`: an exact id, else an exact name (one of them).
pub fn by_id_or_name<'a>(all: &'a [Snapshot], wanted: &str) -> anyhow::Result<&'a Snapshot> {
    if let Some(s) = all.iter().find(|s| s.id == wanted) {
        return Ok(s);
    }
    let named: Vec<&Snapshot> = all.iter().filter(|s| s.name == wanted).collect();
    match named.as_slice() {
        [one] => Ok(one),
        [] => Err(Unknown {
            input: "snapshot_id",
            kind: "snapshot",
            message: format!(
                "no snapshot has the id or name `{wanted}` (the project has {}); it may have expired or been deleted",
                all.len()
            ),
        }
        .into()),
        many => Err(anyhow!(
            "{} snapshots are named `{wanted}` ({}); give the id of the one to restore",
            many.len(),
            many.iter()
                .map(|s| s.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: &str, name: &str) -> Snapshot {
        Snapshot {
            id: id.into(),
            name: name.into(),
            source_branch_id: Some("br-prod".into()),
            created_at: "2026-11-23T10:00:00Z".into(),
            expires_at: None,
            manual: Some(true),
            lsn: None,
        }
    }

    fn list() -> Vec<Snapshot> {
        vec![
            snap(
                "p1",
                "prod_snap_2026-11-20_10-00-00_pre-promotion_pr-1_abcdef0",
            ),
            snap("r1", "prod_snap_2026-11-21_10-00-00_pre-rollback"),
            snap("c1", "prod_snap_2026-11-22_10-00-00_checkpoint"),
            snap(
                "p2",
                "prod_snap_2026-11-23_10-00-00_pre-promotion_pr-2_abcdef1",
            ),
            snap("b", "dev_snap_2026-11-23_10-00-01_baseline_pr-2_abcdef1"),
            snap("x", "nightly"),
        ]
    }

    #[test]
    fn surplus_is_our_oldest_rollback_points_never_a_spared_one() {
        let all = list();
        let ids = |v: Vec<SnapshotRef>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
        let since: jiff::Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
        let none = Spare {
            keep: &[],
            of: "br-other",
            since,
        };
        assert_eq!(ids(surplus(&all, 2, none)), ["p1", "r1"]);
        let keep_p1 = Spare {
            keep: &["p1"],
            of: "br-other",
            since,
        };
        assert_eq!(ids(surplus(&all, 0, keep_p1)), ["r1", "c1", "p2"]);
        assert!(surplus(&all, 10, none).is_empty());
        // Recent rollback points of the current prod may be another run's: they take room,
        // never go; older ones are fair game.
        let of_prod = Spare {
            keep: &[],
            of: "br-prod",
            since,
        };
        assert!(surplus(&all, 0, of_prod).is_empty());
        let later: jiff::Timestamp = "2026-11-24T00:00:00Z".parse().unwrap();
        let old_of_prod = Spare {
            keep: &[],
            of: "br-prod",
            since: later,
        };
        assert_eq!(surplus(&all, 0, old_of_prod).len(), 4);
    }

    #[test]
    fn the_baseline_is_found_by_name() {
        assert_eq!(baseline(&list()).map(|s| s.id.as_str()), Some("b"));
        assert!(baseline(&list()[..4]).is_none());
    }

    #[test]
    fn ids_and_names_are_exact_and_ambiguity_is_an_error() {
        let mut all = list();
        all.push(snap("t1", "twin"));
        all.push(snap("t2", "twin"));
        assert_eq!(by_id_or_name(&all, "r1").unwrap().id, "r1");
        assert_eq!(by_id_or_name(&all, "nightly").unwrap().id, "x");
        let twins = by_id_or_name(&all, "twin").unwrap_err().to_string();
        assert!(twins.contains("t1, t2"), "{twins}");
        assert!(by_id_or_name(&all, "night").is_err());
    }
}
