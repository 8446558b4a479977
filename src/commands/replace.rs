//! Restore → verify, the core that promote, rollback and refresh-dev share, and the one-line
//! failure of a run that replaces a branch: what failed, the state the branch is in now (read
//! back from Neon when a restore was under way), and what to do next.
//!
//! A finalized restore is done only when the branch now carrying the target's name was
//! restored from our snapshot (`restored_from`), replaced the branch we aimed at
//! (`restored_as`), is `ready`, and every operation of the restore finished. Until then nothing
//! touches `<name> (old)`. A restore whose operation failed or was cancelled may have renamed
//! the target already: that is never "done", and never something a re-run repeats.

use std::time::Duration;

use anyhow::anyhow;

use super::{advice, fix_for, line};
use crate::ctx::{Cancelled, Ctx, Made};
use crate::neon::{Branch, NeonError, RestoreSnapshot};
use crate::outcome::{Failure, SnapshotRef};
use crate::plan::Call;

/// How long a failing run may spend reading back what an interrupted restore did.
const FATE_READ: Duration = Duration::from_secs(2);

/// How far a run that replaces a branch got, for its one-line error.
pub struct Progress<'a> {
    ctx: &'a Ctx,
    /// "promotion", "rollback", "refresh of dev".
    what: &'static str,
    /// The branch being replaced: production, or dev for refresh-dev.
    target: String,
    target_is_prod: bool,
    /// The rollback point this run took: it holds the target as it was before the run.
    undo: Option<SnapshotRef>,
    restoring: Option<(String, SnapshotRef)>,
}

impl<'a> Progress<'a> {
    pub fn new(ctx: &'a Ctx, what: &'static str, target: &str, target_is_prod: bool) -> Self {
        Self {
            ctx,
            what,
            target: target.to_string(),
            target_is_prod,
            undo: None,
            restoring: None,
        }
    }

    /// From now on, failures name this snapshot, the command that restores it, and output it.
    pub fn undo_with(&mut self, snapshot: Option<&SnapshotRef>) {
        self.undo = snapshot.cloned();
    }

    /// The run deleted its rollback point again (prod untouched): failures no longer name it.
    pub fn forget_undo(&mut self) {
        self.undo = None;
    }

    /// Restores `snapshot` onto `target` with finalize, waits for every operation and verifies
    /// the result. Returns the branch that now carries the target's name (in a dry run, the
    /// target itself: nothing changed). `step` names the restore in a failure, `label` in the log.
    pub async fn restore(
        &mut self,
        step: &str,
        label: &str,
        snapshot: &SnapshotRef,
        target: &Branch,
    ) -> Result<Branch, Failure> {
        self.restoring = Some((target.id.clone(), snapshot.clone()));
        let call = Call::Restore {
            snapshot_id: snapshot.id.clone(),
            request: RestoreSnapshot {
                name: None,
                target_branch_id: Some(target.id.clone()),
                finalize_restore: true,
            },
        };
        let ctx = self.ctx;
        let sent = match ctx.apply(label, call).await {
            Ok(Some(sent)) => sent,
            Ok(None) => return Ok(target.clone()),
            Err(e) => return Err(self.fail(step, e).await),
        };
        let restored = sent.branch().map(|b| b.id);
        let label = format!("Verify {}", target.name);
        // `apply` waited for every operation of the restore: they finished.
        let check = verify(
            ctx,
            snapshot,
            &target.name,
            &target.id,
            restored.as_deref(),
            true,
        );
        let verified = ctx.step(label, check).await;
        match verified {
            Ok(now) => Ok(now),
            Err(e) => Err(self.fail(step, e).await),
        }
    }

    /// A snapshot step's result: its error, when the snapshot was made but not seen to finish,
    /// still names it (and outputs it) as the run's rollback point.
    pub async fn took<T>(&mut self, step: &str, result: anyhow::Result<T>) -> Result<T, Failure> {
        if let Err(e) = &result
            && let Some(dangling) = e.downcast_ref::<super::snapshots::Dangling>()
            && self.undo.is_none()
        {
            self.undo = Some(dangling.0.clone());
        }
        self.check(step, result).await
    }

    /// Passes `result` through, or turns its error into the run's one line.
    pub async fn check<T>(&self, step: &str, result: anyhow::Result<T>) -> Result<T, Failure> {
        match result {
            Ok(v) => Ok(v),
            Err(e) => Err(self.fail(step, e).await),
        }
    }

    /// The run's one-line error. When a restore was under way, its fate is read back first.
    pub async fn fail(&self, step: &str, error: anyhow::Error) -> Failure {
        let target = &self.target;
        let what = self.what;
        let cancelled = error.downcast_ref::<Cancelled>().is_some();
        let accepted = error.downcast_ref::<Made>().is_some();
        let (state, next) = match &self.restoring {
            None => (
                format!("the {what} stopped before any restore: `{target}` is untouched"),
                self.retry_hint(&error),
            ),
            Some((old_id, snapshot)) => {
                let restore_failed = matches!(
                    crate::ctx::neon_error(&error),
                    Some(NeonError::OperationFailed { .. })
                ) || error
                    .downcast_ref::<Unverified>()
                    .is_some_and(|u| u.restore_failed);
                match self.fate(old_id, &snapshot.id).await {
                    // SPEC §3: a restore whose operation failed is never re-run, even when the
                    // target looks untouched; the user checks it and starts anew.
                    Fate::Untouched if restore_failed => (
                        format!(
                            "the restore's operation did not finish: `{target}` looks untouched (still {old_id}) and nothing was deleted"
                        ),
                        format!(
                            "check `{target}` in the Neon Console; if it is not right, {}; a re-run of this event stops here too, so promote anew (a new push, or {}) once `{target}` is checked",
                            self.undo_hint(),
                            self.ctx.config.command_hint(self.what_command())
                        ),
                    ),
                    // Neon took the restore; it swaps the branches once its operations end.
                    Fate::Untouched if accepted => (
                        format!(
                            "Neon accepted the restore of `{target}` from {}, but the run stopped before it finished: `{target}` is still {old_id} until it does, and nothing was deleted",
                            snapshot.id
                        ),
                        format!(
                            "re-run: it waits for the restore, verifies it and finishes (it never restores twice), or stops if the restore failed; {}",
                            self.undo_hint()
                        ),
                    ),
                    // Stopped mid-request: the restore may have been sent.
                    Fate::Untouched if cancelled => (
                        format!(
                            "the run stopped while asking Neon to restore `{target}` from {}, which may or may not have been accepted: `{target}` is still {old_id} for now, and nothing was deleted",
                            snapshot.id
                        ),
                        format!(
                            "re-run: it finds out and finishes, or stops if the restore failed; {}",
                            self.undo_hint()
                        ),
                    ),
                    Fate::Untouched => (
                        format!(
                            "the restore did not happen: `{target}` is untouched (still {old_id})"
                        ),
                        self.retry_hint(&error),
                    ),
                    Fate::Renamed(now) if restore_failed => (
                        format!(
                            "a restore whose operation did not finish renamed `{target}`: it is now {now}, restored from {}, and may not hold complete data; the branch it replaced ({old_id}) is kept and nothing was deleted",
                            snapshot.id
                        ),
                        format!(
                            "check `{target}` in the Neon Console and, if it is not right, {}",
                            self.undo_hint()
                        ),
                    ),
                    Fate::Renamed(now) => (
                        format!(
                            "`{target}` was restored from {} (now {now}) but the run stopped before it was verified; the branch it replaced ({old_id}) is kept",
                            snapshot.id
                        ),
                        format!(
                            "re-run: it verifies the restore and finishes, or stops if the restore failed; {}",
                            self.undo_hint()
                        ),
                    ),
                    Fate::Unknown if restore_failed => (
                        format!(
                            "the restore of `{target}` failed and its state could not be read back (in the Neon Console, `restored_from` = {} means it was renamed)",
                            snapshot.id
                        ),
                        format!(
                            "check `{target}` in the Neon Console and, if it is not right, {}",
                            self.undo_hint()
                        ),
                    ),
                    Fate::Unknown => (
                        format!(
                            "the run stopped during the restore of `{target}`, which may or may not have happened (in the Neon Console, `restored_from` = {} means it did)",
                            snapshot.id
                        ),
                        format!(
                            "re-run: it finds out and finishes, or stops if the restore failed; {}",
                            self.undo_hint()
                        ),
                    ),
                }
            }
        };
        let prod = if self.target_is_prod {
            ""
        } else {
            "; production is untouched"
        };
        let state = format!("{state}{prod}");
        // The next step is worded here, advice included: it depends on how far the run got.
        let message = if cancelled {
            format!("{step} was cancelled (the run was stopped); {state}; {next}")
        } else {
            line(format!("{step} failed"), &error, &state, &next)
        };
        Failure {
            rollback_snapshot: self.undo.clone(),
            ..Failure::from_message(message)
        }
    }

    /// The command that starts this kind of run anew.
    fn what_command(&self) -> &'static str {
        match self.what {
            "rollback" => "rollback",
            "refresh of dev" => "refresh-dev",
            _ => "promote",
        }
    }

    /// What to do when the target is untouched.
    fn retry_hint(&self, error: &anyhow::Error) -> String {
        let fix = match fix_for(error) {
            Some(fix) => advice(&self.ctx.config, &fix),
            None => "fix the cause and re-run".into(),
        };
        match &self.undo {
            Some(s) => format!(
                "{fix} (a re-run takes a fresh rollback point; the one this run took, {} ({}), holds `{}` as it was before this run)",
                s.id, s.name, self.target
            ),
            None => fix,
        }
    }

    fn undo_hint(&self) -> String {
        match &self.undo {
            Some(s) => format!(
                "put `{}` back as it was before this run: {}",
                self.target,
                super::rollback_command(self.ctx, &s.id)
            ),
            None => format!("restore `{}` from a snapshot of yours", self.target),
        }
    }

    /// Reads the target back by name, bounded even when the run was cancelled (the user needs
    /// to know what state it is in).
    async fn fate(&self, old_id: &str, snapshot: &str) -> Fate {
        let read = tokio::time::timeout(FATE_READ, self.ctx.neon.find_branch(&self.target)).await;
        match read {
            Ok(Ok(Some(now))) if now.id == old_id => Fate::Untouched,
            Ok(Ok(Some(now))) if now.restored_from.as_deref() == Some(snapshot) => {
                Fate::Renamed(now.id)
            }
            _ => Fate::Unknown,
        }
    }
}

/// What an interrupted restore did to its target, read back from the API.
enum Fate {
    Untouched,
    /// The target's name is on a new branch, restored from our snapshot.
    Renamed(String),
    Unknown,
}

/// Verification found the restore not (yet) done.
#[derive(Debug, thiserror::Error)]
#[error("verification failed: {reason}")]
pub struct Unverified {
    pub reason: String,
    /// An operation of the restore failed or was cancelled: never "done", never re-run.
    pub restore_failed: bool,
}

/// After a finalized restore the target's id changes: read the branch the restore made (by
/// its id, `restored`, when the restore answered with one; else by `name`) and check that it
/// now carries the target's name, was restored from `snapshot`, replaced `replaced`, is ready,
/// and that every operation of the restore finished (`ops_finished`: already seen to).
//
// A GET of one branch is current; a list (the name search) may lag a mutation by a read, and
// a stale answer right after the restore would look like a restore that never happened.
pub async fn verify(
    ctx: &Ctx,
    snapshot: &SnapshotRef,
    name: &str,
    replaced: &str,
    restored: Option<&str>,
    ops_finished: bool,
) -> anyhow::Result<Branch> {
    let now = match restored {
        Some(id) => Some(ctx.neon.get_branch(id).await?),
        None => ctx.neon.find_branch(name).await?,
    }
    .filter(|b| b.name == name)
    .ok_or_else(|| {
        anyhow!(
            "`{name}` is not the branch the restore made ({}) after it",
            restored.unwrap_or("unknown")
        )
    })?;
    let unverified = |reason: String, restore_failed| Unverified {
        reason,
        restore_failed,
    };
    if now.id == replaced
        || now.restored_from.as_deref() != Some(snapshot.id.as_str())
        || now.restored_as.as_deref() != Some(replaced)
    {
        return Err(unverified(
            format!(
                "`{name}` is now {} (restored from {}, replacing {}); expected a new branch restored from {} ({}) replacing {replaced}",
                now.id,
                now.restored_from.as_deref().unwrap_or("nothing"),
                now.restored_as.as_deref().unwrap_or("nothing"),
                snapshot.id,
                snapshot.name,
            ),
            false,
        )
        .into());
    }
    if !ops_finished && let Some(failed) = restore_status(ctx, &now.id).await? {
        return Err(unverified(
            format!("an operation of the restore of `{name}` ended {failed}"),
            true,
        )
        .into());
    }
    if now.current_state != "ready" {
        return Err(unverified(
            format!("`{name}` ({}) is {}, not ready", now.id, now.current_state),
            false,
        )
        .into());
    }
    Ok(now)
}

/// What an earlier try's restore from one of our snapshots left, when the target is not the
/// branch it made.
pub enum Leftover {
    Nothing,
    /// The restore's operation failed or was cancelled and left this branch behind (SPEC §3:
    /// never done, never repeated).
    Abandoned(Branch),
    /// The restore was still under way (a list read before may have lagged it) and has
    /// finished since: this branch now carries the target's name.
    Finished(Branch),
}

/// A branch an earlier restore from one of `snapshots` made, that is not `target` now. Only
/// branches made at or after `since` count. Its restore's operations are waited for first: a
/// restore still running is not abandoned, and when it ends the target may be its branch.
pub async fn abandoned(
    ctx: &Ctx,
    snapshots: &[&str],
    since: &str,
    target: &Branch,
) -> anyhow::Result<Leftover> {
    let since = since.parse::<jiff::Timestamp>().ok();
    let branches = ctx.step("List branches", ctx.neon.list_branches()).await?;
    let left = branches.into_iter().find(|b| {
        b.id != target.id
            && b.restored_from
                .as_deref()
                .is_some_and(|f| snapshots.contains(&f))
            && since.is_none_or(|t| {
                b.created_at
                    .parse::<jiff::Timestamp>()
                    .is_ok_and(|c| c >= t)
            })
    });
    let Some(left) = left else {
        return Ok(Leftover::Nothing);
    };
    let label = format!("Wait for the earlier restore that made {}", left.id);
    if ctx
        .step(label, restore_status(ctx, &left.id))
        .await?
        .is_none()
    {
        // A GET of one branch is current: did the swap happen?
        let now = ctx.neon.get_branch(&left.id).await?;
        if now.name == target.name {
            return Ok(Leftover::Finished(now));
        }
    }
    Ok(Leftover::Abandoned(left))
}

/// Whether every operation of the restore that made `branch_id` finished (for sweep, which
/// retires a replaced branch only after a restore that finished).
pub async fn restore_finished(ctx: &Ctx, branch_id: &str) -> anyhow::Result<bool> {
    restore_status(ctx, branch_id).await.map(|s| s.is_none())
}

/// How the operations on a restored branch ended: `Some(status)` when one failed or was
/// cancelled, `None` when all that Neon lists finished. Still-running ones are waited for.
async fn restore_status(ctx: &Ctx, branch_id: &str) -> anyhow::Result<Option<String>> {
    let ops = ctx.neon.branch_operations(branch_id).await?;
    if let Some(bad) = ops.iter().find(|op| op.status.is_failure()) {
        return Ok(Some(format!("{} ({})", bad.status, bad.id)));
    }
    let running: Vec<_> = ops
        .into_iter()
        .filter(|op| op.status.is_running())
        .collect();
    match ctx.neon.wait(&running).await {
        Ok(()) => Ok(None),
        Err(NeonError::OperationFailed { id, status, .. }) => Ok(Some(format!("{status} ({id})"))),
        Err(e) => Err(e.into()),
    }
}
