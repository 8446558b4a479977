//! Behaviour variants where Neon's real behaviour is not documented: each is a switch a test
//! can flip (`Options::variants`, or `State::limits.variants` at run time), and each default is
//! the emulator's earlier behaviour.

/// When a finalized restore gives the target's name (and computes) to the new branch and
/// renames the target `<name> (old)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestoreRename {
    /// In the restore call itself, before its operations end (the answer already shows the
    /// swap).
    #[default]
    AtRequest,
    /// Only once every operation of the restore (or of `finalize_restore`) has ended; until
    /// then the new branch has a generated name and no computes, and the target is untouched.
    WhenFinished,
}

/// What a finalized restore whose `create_timeline` operation fails (or is cancelled) leaves
/// behind. In both cases the new branch never becomes `ready` (its timeline was not made) and
/// holds no data (an empty data tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailedRestore {
    /// The target keeps its name, computes and flags; the new branch stays unfinalized
    /// (`restore_status: restored`, no `restored_as`).
    #[default]
    Untouched,
    /// The swap happens anyway (at request time or when the operations end, per
    /// [`RestoreRename`]): the broken branch holds the target's name, default flag and
    /// computes, with `restored_from`/`restored_as` set, and the target is `<name> (old)`.
    Renamed,
}

/// Which running operations make a mutation answer 423.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LockScope {
    /// Any running operation of the project (the strict reading of "project already has
    /// running conflicting operations").
    #[default]
    ProjectWide,
    /// Only a running operation on a branch the mutation touches (or a pending
    /// [`RestoreRename::WhenFinished`] swap of it). A branch creation touches its parent; a
    /// deletion, a compute creation or a snapshot its branch; a snapshot deletion the
    /// snapshot's source branch; a restore its target (`target_branch_id`, else the
    /// snapshot's source); `finalize_restore` the restored branch and its target.
    PerBranch,
}

/// What a snapshot creation does with `slug` (a query parameter of `@neon/sdk` 6.1.2, absent
/// from the 2.7.3 spec). Either way every snapshot has a `slug` (its id when none was taken).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SnapshotSlug {
    /// The current API: the slug must be valid (400) and unique in the project: a second
    /// creation with a taken slug is refused with 409 (the SDK: "Must be unique within the
    /// project"), not answered with the existing snapshot.
    #[default]
    Honoured,
    /// An API that does not know `slug`: it is ignored, so repeating a creation makes a
    /// second snapshot.
    Ignored,
}

/// Project features that are off unless a test turns them on (`Options::features`). Off, their
/// routes answer as Neon does for a branch without them: 404, which create-branch-action
/// reads as "not enabled" (its `auth_url`/`data_api_url` outputs stay empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Features {
    /// Neon Auth on every branch: `GET …/branches/{b}/auth` answers the integration.
    pub neon_auth: bool,
    /// The Data API on every branch and database: `GET …/branches/{b}/data-api/{db}`.
    pub data_api: bool,
}

/// The switches, together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Variants {
    pub restore_rename: RestoreRename,
    pub failed_restore: FailedRestore,
    pub lock_scope: LockScope,
    /// Lists (branches, including `search`; snapshots; operations) lag a mutation by one
    /// read: the first read of each list after a successful mutation answers as the state was
    /// before that mutation; later reads, and GETs of one object, are current. Off by default.
    pub list_lag: bool,
    pub snapshot_slug: SnapshotSlug,
}
