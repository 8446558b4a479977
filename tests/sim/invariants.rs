//! SPEC §5's eight invariants as named checks over the emulator's state, the requests each run
//! makes and what each run printed. `before_mutation` and `after_request` run around every
//! request; `after_run` once a run has ended. A broken invariant is recorded, with the run that
//! broke it, in the world's tracker (the simulation prints the seed and the replay).

use neon_emulator::Reply;
use neon_emulator::state::State;
use neon_promote::naming::{Of, SnapshotKind, SnapshotName};
use neon_promote::neon::{Method, Request};
use serde_json::Value;

use super::world::{AcceptedPromotion, PROD, World};

/// I1 — a branch named like prod always exists.
pub fn prod_always_exists(s: &State) -> Result<(), String> {
    if s.branch_by_name(PROD).is_some() {
        Ok(())
    } else {
        Err(format!("no branch is named `{PROD}`"))
    }
}

/// I1 — prod is never deleted.
pub fn prod_is_never_deleted(s: &State, deleted: &str) -> Result<(), String> {
    match s.branch_by_name(PROD) {
        Some(prod) if prod.id == deleted => Err(format!("deletes production {deleted}")),
        _ => Ok(()),
    }
}

/// I2 — no restore onto prod starts without a rollback point of that same prod branch, taken
/// in the same run, seen to finish, holding prod's data at that moment.
pub fn restore_onto_prod_has_a_fresh_rollback_point(
    s: &State,
    taken: &[(String, String, Vec<String>)],
    target: &str,
) -> Result<(), String> {
    let Some(prod) = s.branch_by_name(PROD).filter(|p| p.id == target) else {
        return Ok(());
    };
    let now = s.now();
    let fresh = taken.iter().any(|(snapshot, branch, ops)| {
        branch == target
            && s.snapshot(snapshot)
                .is_some_and(|snap| snap.data == prod.data)
            && ops.iter().all(|op| {
                s.operations
                    .iter()
                    .any(|o| &o.id == op && o.status(now) == "finished")
            })
    });
    if fresh {
        Ok(())
    } else {
        Err(format!(
            "restores onto production {target} without a finished rollback point of it, taken in this run, holding its data `{}`",
            prod.data
        ))
    }
}

/// I3 — a replaced branch is deleted only after the branch that replaced it was verified
/// (ready, restored from a snapshot, `restored_as` = it, its restore's operations finished).
pub fn old_is_deleted_only_after_its_replacement_is_verified(
    s: &State,
    deleted: &str,
    restore_ops: &std::collections::BTreeMap<String, Vec<String>>,
    verified_before: &std::collections::BTreeSet<String>,
) -> Result<(), String> {
    let Some(old) = s.branch(deleted) else {
        return Ok(());
    };
    let replaced = is_replaced_name(&old.name)
        || s.branches
            .values()
            .any(|b| b.restored_as.as_deref() == Some(deleted));
    if !replaced || verified_before.contains(deleted) {
        return Ok(());
    }
    verified_replacement(s, deleted, restore_ops)
}

/// Whether a live branch replaced `deleted` by a restore that is verified now.
fn verified_replacement(
    s: &State,
    deleted: &str,
    restore_ops: &std::collections::BTreeMap<String, Vec<String>>,
) -> Result<(), String> {
    let Some(old) = s.branch(deleted) else {
        return Ok(());
    };
    let now = s.now();
    // Two runs at once may each have restored onto it: one verified replacement is enough.
    let replacements: Vec<_> = s
        .branches
        .values()
        .filter(|b| b.restored_as.as_deref() == Some(deleted))
        .collect();
    if replacements.is_empty() {
        return Err(format!(
            "deletes `{}` ({deleted}), which no live branch replaced",
            old.name
        ));
    }
    let verified = |new: &&neon_emulator::state::Branch| {
        // The restore's own operations (later ones on the branch, a snapshot say, are not it).
        let ops_done = match restore_ops.get(&new.id) {
            Some(ids) => ids.iter().all(|id| {
                s.operations
                    .iter()
                    .any(|o| &o.id == id && o.status(now) == "finished")
            }),
            None => s
                .operations
                .iter()
                .filter(|o| {
                    o.branch_id.as_deref() == Some(new.id.as_str())
                        && o.created_at <= new.created_at
                })
                .all(|o| o.status(now) == "finished"),
        };
        new.current_state == "ready" && new.restored_from.is_some() && ops_done
    };
    if replacements.iter().any(verified) {
        Ok(())
    } else {
        let new = replacements[0];
        Err(format!(
            "deletes `{}` ({deleted}) although its replacement {} is not verified (state {}, restored from {:?})",
            old.name, new.id, new.current_state, new.restored_from
        ))
    }
}

/// I4 — one commit is promoted at most once (counting restores onto prod from its candidate).
pub fn one_commit_is_promoted_at_most_once(times: usize, sha: &str) -> Result<(), String> {
    if times <= 1 {
        Ok(())
    } else {
        Err(format!("promotes commit {sha} a second time"))
    }
}

/// I5 — `latest` restores the state before the last completed promotion: the last accepted
/// restore of a candidate onto prod that swapped the branches (its run may have stopped after).
pub fn latest_restores_the_state_before_the_last_promotion(
    s: &State,
    accepted: &[AcceptedPromotion],
) -> Result<(), String> {
    let prod = s.branch_by_name(PROD);
    // The rollback just replaced prod: the promotion it undid is the last whose replaced
    // branch, other than the prod the rollback itself replaced, lost prod's name.
    let rolled_back = prod.and_then(|p| p.restored_as.clone());
    let last = accepted.iter().rev().find(|a| {
        Some(&a.replaced) != rolled_back.as_ref()
            && s.branch(&a.replaced).is_none_or(|b| b.name != PROD)
    });
    let (Some(last), Some(prod)) = (last, prod) else {
        return Ok(());
    };
    if prod.data == last.pre_restore_data {
        Ok(())
    } else {
        Err(format!(
            "`latest` left production holding `{}`, not `{}` (the state before the last completed promotion)",
            prod.data, last.pre_restore_data
        ))
    }
}

/// I6 — a branch given by id that a restore had replaced before the run started is never
/// snapshotted, restored onto or branched from.
pub fn a_replaced_branch_given_by_id_is_never_used(
    stale_at_start: &[String],
    touched: &str,
) -> Result<(), String> {
    if stale_at_start.iter().any(|id| id == touched) {
        Err(format!(
            "uses branch {touched}, given by id, which a restore had replaced"
        ))
    } else {
        Ok(())
    }
}

/// I7 — sweep and cleanup never delete a default or protected branch, a root other than a
/// branch a restore replaced, a branch kept by `keep_old_branch`; no run deletes a snapshot
/// it did not take.
pub fn deletions_stay_within_what_is_ours(
    s: &State,
    command: &str,
    keep_old_branch: bool,
    branch: Option<&str>,
    snapshot: Option<&str>,
    verified_before: &std::collections::BTreeSet<String>,
) -> Result<(), String> {
    if let Some(id) = snapshot {
        if let Some(snap) = s.snapshot(id)
            && SnapshotName::parse(&snap.name).is_none()
        {
            return Err(format!(
                "deletes snapshot `{}` ({id}), which is not ours",
                snap.name
            ));
        }
    }
    let (Some(id), true) = (branch, matches!(command, "sweep" | "cleanup")) else {
        return Ok(());
    };
    let Some(b) = s.branch(id) else {
        return Ok(());
    };
    let replaced = verified_before.contains(id)
        || s.branches
            .values()
            .any(|o| o.restored_as.as_deref() == Some(id));
    if b.default || b.protected {
        return Err(format!(
            "{command} deletes default or protected branch `{}`",
            b.name
        ));
    }
    if b.parent_id.is_none() && !replaced {
        return Err(format!(
            "{command} deletes root `{}`, which no restore replaced",
            b.name
        ));
    }
    if replaced && keep_old_branch {
        return Err(format!(
            "{command} deletes `{}` although keep_old_branch is set",
            b.name
        ));
    }
    Ok(())
}

/// I7 — no snapshot of ours outlives its purpose: after a clean promotion, rollback or
/// checkpoint, at most `kept` rollback points and `baselines` (one, or two right after two
/// runs made one at once) of ours remain. A rollback point of the current prod taken within
/// the last `timeout` (10 minutes) is in flight: another run may be about to restore with it,
/// so retention spares it (README: Retention).
pub fn no_snapshot_outlives_its_purpose(
    s: &State,
    kept: usize,
    baselines_allowed: usize,
) -> Result<(), String> {
    let prod = s
        .branches
        .values()
        .find(|b| b.name == PROD)
        .map(|b| b.id.clone());
    let window = jiff::SignedDuration::from_secs(600);
    let in_flight = |x: &neon_emulator::state::Snapshot| {
        Some(&x.source_branch_id) == prod.as_ref() && s.now().duration_since(x.created_at) <= window
    };
    let ours: Vec<(SnapshotName, bool)> = s
        .snapshots
        .iter()
        .filter_map(|x| SnapshotName::parse(&x.name).map(|n| (n, in_flight(x))))
        .collect();
    let points = ours
        .iter()
        .filter(|(n, flying)| n.kind.is_rollback_point() && !flying)
        .count();
    let ours: Vec<SnapshotName> = ours.into_iter().map(|(n, _)| n).collect();
    let baselines = ours
        .iter()
        .filter(|n| n.kind == SnapshotKind::Baseline)
        .count();
    if points <= kept && baselines <= baselines_allowed {
        Ok(())
    } else {
        Err(format!(
            "{points} rollback points (kept: {kept}) and {baselines} baselines of ours remain"
        ))
    }
}

/// I8 — a failed run prints exactly one `::error::`, saying what state production is in and
/// what to do next, and outputs `rollback_snapshot_id` when a rollback point it took exists.
pub fn every_failure_says_where_prod_stands(
    errors: &[String],
    outputs: &[(String, String)],
    existing_points: &[String],
) -> Result<(), String> {
    let [error] = errors else {
        return Err(format!(
            "a failed run printed {} error lines: {errors:?}",
            errors.len()
        ));
    };
    const STATE: [&str; 9] = [
        "untouched",
        "is still",
        "not affected",
        "is now",
        "was restored",
        "renamed",
        "succeeded",
        "may or may not",
        "state of production",
    ];
    const NEXT: [&str; 8] = [
        "re-run",
        "check",
        "roll back",
        "put ",
        "fix the cause",
        "promote anew",
        "set ",
        "give ",
    ];
    let lower = error.to_lowercase();
    if !STATE.iter().any(|p| lower.contains(p)) {
        return Err(format!(
            "the error does not say what state production is in: {error}"
        ));
    }
    if !NEXT.iter().any(|p| lower.contains(p)) {
        return Err(format!("the error does not say what to do next: {error}"));
    }
    let output = outputs
        .iter()
        .rev()
        .find(|(k, _)| k == "rollback_snapshot_id")
        .map(|(_, v)| v);
    match (existing_points.is_empty(), output) {
        (true, _) => Ok(()),
        (false, Some(id)) if existing_points.contains(id) => Ok(()),
        (false, other) => Err(format!(
            "the run's rollback point(s) {existing_points:?} exist, but rollback_snapshot_id is {other:?}"
        )),
    }
}

/// Around every mutation: I1 (delete), I2, I3, I4, I6, I7 (deletions).
pub fn before_mutation(world: &World, run: usize, req: &Request) {
    let segs: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    let record = world.track(|t| t.runs[run].clone());
    let stale = record.stale_inputs.clone();
    let (restore_ops, verified) =
        world.track(|t| (t.restore_ops.clone(), t.verified_replaced.clone()));
    let mut checks: Vec<Result<(), String>> = Vec::new();
    world
        .emu
        .with_state(|s| match (req.method, segs.as_slice()) {
            (Method::Delete, ["projects", _, "branches", id]) => {
                checks.push(prod_is_never_deleted(s, id));
                checks.push(old_is_deleted_only_after_its_replacement_is_verified(
                    s,
                    id,
                    &restore_ops,
                    &verified,
                ));
                checks.push(deletions_stay_within_what_is_ours(
                    s,
                    record.command,
                    record.keep_old_branch,
                    Some(id),
                    None,
                    &verified,
                ));
            }
            (Method::Delete, ["projects", _, "snapshots", id]) => {
                checks.push(deletions_stay_within_what_is_ours(
                    s,
                    record.command,
                    record.keep_old_branch,
                    None,
                    Some(id),
                    &verified,
                ));
            }
            (Method::Post, ["projects", _, "snapshots", snapshot, "restore"]) => {
                let target = body_str(req, &["target_branch_id"]);
                if let Some(target) = target.as_deref() {
                    // Judged now, reported only if Neon accepts the restore (`after_request`).
                    let fresh =
                        restore_onto_prod_has_a_fresh_rollback_point(s, &record.snapshots, target);
                    world.track(|t| t.runs[run].pending_check = fresh.err());
                    checks.push(a_replaced_branch_given_by_id_is_never_used(&stale, target));
                    if let Some(prod) = s.branch_by_name(PROD).filter(|p| p.id == target) {
                        // Counted once Neon accepts it (`after_request`).
                        let pending = (snapshot.to_string(), prod.data.clone());
                        world.track(|t| t.runs[run].pending_restore = Some(pending));
                    }
                }
            }
            (Method::Post, ["projects", _, "branches", id, "snapshot"]) => {
                checks.push(a_replaced_branch_given_by_id_is_never_used(&stale, id));
            }
            (Method::Post, ["projects", _, "branches"]) => {
                if let Some(parent) = body_str(req, &["branch", "parent_id"]) {
                    checks.push(a_replaced_branch_given_by_id_is_never_used(&stale, &parent));
                }
            }
            _ => {}
        });
    for failed in checks.into_iter().filter_map(Result::err) {
        world.violation(Some(run), failed);
    }
}

/// After every request: I1, I4 (for a restore Neon accepted), which replaced branches are
/// verifiably replaced by now, and what the run created (snapshots and their operations).
pub fn after_request(world: &World, run: usize, req: &Request, reply: &Reply) {
    let exists = world.emu.with_state(|s| prod_always_exists(s));
    if let Err(e) = exists {
        world.violation(Some(run), e);
    }
    let restore_ops = world.track(|t| t.restore_ops.clone());
    let verified: Vec<String> = world.emu.with_state(|s| {
        s.branches
            .values()
            .filter_map(|b| b.restored_as.clone())
            .filter(|old| verified_replacement(s, old, &restore_ops).is_ok())
            .collect()
    });
    world.track(|t| t.verified_replaced.extend(verified));
    let (pending, check) = world.track(|t| {
        (
            t.runs[run].pending_restore.take(),
            t.runs[run].pending_check.take(),
        )
    });
    if let Some(failed) = check.filter(|_| reply.status < 300) {
        world.violation(Some(run), failed);
    }
    if let Some((snapshot, pre)) = pending.filter(|_| reply.status < 300) {
        let name = world
            .emu
            .with_state(|s| s.snapshot(&snapshot).map(|x| x.name.clone()));
        world.track(|t| t.runs[run].restored_prod = Some((snapshot, pre.clone())));
        let candidate = name
            .as_deref()
            .and_then(SnapshotName::parse)
            .filter(|n| n.of == Of::Dev);
        if let (Some(_), Some(replaced)) = (&candidate, req_target(req)) {
            world.track(|t| {
                t.promotions.push(AcceptedPromotion {
                    pre_restore_data: pre,
                    replaced,
                })
            });
        }
        if let Some(sha) = candidate.and_then(|n| n.sha) {
            let times = world.track(|t| {
                let n = t.promoted_commits.entry(sha.clone()).or_default();
                *n += 1;
                *n
            });
            if let Err(e) = one_commit_is_promoted_at_most_once(times, &sha) {
                world.violation(Some(run), e);
            }
        }
    }
    let segs: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    if let (Method::Post, ["projects", _, "snapshots", _, "restore"]) =
        (req.method, segs.as_slice())
        && reply.status < 300
    {
        let body = reply.json();
        let branch = body["branch"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let ops = op_ids(&body);
        world.track(|t| t.restore_ops.insert(branch, ops));
    }
    if let (Method::Post, ["projects", _, "branches", branch, "snapshot"]) =
        (req.method, segs.as_slice())
        && reply.status < 300
    {
        let body = reply.json();
        let id = body["snapshot"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let ops = op_ids(&body);
        world.track(|t| t.runs[run].snapshots.push((id, branch.to_string(), ops)));
    }
}

fn op_ids(body: &Value) -> Vec<String> {
    body["operations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["id"].as_str().map(str::to_string))
        .collect()
}

fn req_target(req: &Request) -> Option<String> {
    body_str(req, &["target_branch_id"])
}

fn body_str(req: &Request, path: &[&str]) -> Option<String> {
    let mut v: &Value = req.body.as_ref()?;
    for key in path {
        v = v.get(key)?;
    }
    v.as_str().map(str::to_string)
}

/// `<name> (old)` or `<name> (old) 2`.
fn is_replaced_name(name: &str) -> bool {
    name.ends_with(" (old)")
        || name
            .rsplit_once(" (old) ")
            .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}
