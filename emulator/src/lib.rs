//! `neon-emulator`: a stateful stand-in for Neon's API v2 and the parts of GitHub's REST API
//! that neon-promote uses, served on loopback, for tests (in-process) and benchmarks (binary).
//!
//! It models semantics, not canned answers: branches carry a data tag that children, snapshots
//! and restores copy; operations progress with time and lock the project (423) while they run;
//! finalize-restore gives the target's name and computes to a new branch id; quotas, expiry
//! rules and delete refusals are enforced; lists paginate with real cursors. Where the real
//! API's behaviour is not documented, the choice is written next to the code (and in the
//! crate's report) and leans towards the stricter reading, so clients are tested against the
//! harder case.
//!
//! Layout: [`state`] is the pure model (no HTTP), [`neon`] and [`github`] map requests onto it,
//! `route` is what every request goes through (rate limit, auth, routing), `server` serves it
//! over HTTP with latency and [`faults`], `inprocess` answers it without a socket
//! ([`Emulator::detached`], [`Emulator::handle_neon`]), `control` is the `/_emulator` API of
//! the standalone binary, `clock` the emulated time ([`Options::start_time`] makes it
//! deterministic), and this file holds the [`Emulator`] handle.
//!
//! # Where the real API is not documented, what the emulator does
//! - `DELETE` of a missing branch answers 204 (the pinned spec: "Returned if the branch doesn't
//!   exist or has already been deleted"), not 404.
//! - Refusals by state (delete a default, protected or parent branch; snapshot a non-root
//!   branch) are 422; malformed input (bad `expires_at`, bad `limit`, bad cursor) is 400; a
//!   taken branch name is 409 `branch already exists; branch_name:"…"`; the snapshot quota is
//!   422 with a message that says "limit", and so is a restore past `root_branch_quota`
//!   (every restore makes a root branch). Error `code` is `""`, as on most real answers.
//! - Branch `search` is a case-insensitive substring of the name or the id.
//! - Every mutating call (not `PATCH` of a branch or snapshot, which start no operation) is
//!   refused with 423 while any operation of the project runs: the strict reading of Neon's
//!   message "project already has running conflicting operations". [`state::LockScope`]
//!   `PerBranch` makes it per branch (what each call touches is listed there).
//! - List branches: pages of 100 without `limit` (neonctl: "branch list pages cap at 100"),
//!   `limit` up to 10,000 (the spec), 400 above; `pagination.next` is present after every
//!   non-empty page, so a client stops on an empty (or short) page; cursors are standard base64
//!   (`+`, `/`, `=`), so they must be URL-encoded. List operations: everything without
//!   `limit` (Neon's pagination docs), `pagination.cursor` = the last item's `created_at`.
//! - Finalize-restore moves the `protected` flag to the new branch unless
//!   `Options::restore_moves_protection` is false; the replaced branch is renamed
//!   `<name> (old)` (`<name> (old) 2`, … if taken), loses `default`, keeps its children.
//! - A restore without `target_branch_id` targets the snapshot's source branch (the spec), which
//!   after an earlier finalize is the `(old)` branch: the trap the guide warns about.
//! - Finalize gives the new branch `restored_from` = the snapshot id and `restored_as` = the id
//!   of the branch it replaced (both on `Branch` in the 2.7.3 spec and in `@neon/sdk` 6.1.2).
//!   The swap happens in the restore call by default; [`state::RestoreRename`] `WhenFinished`
//!   delays it until every operation of the restore has ended.
//! - A restore whose `create_timeline` fails or is cancelled makes a branch that never turns
//!   `ready` and holds no data; by default the target is untouched and the new branch stays
//!   unfinalized; [`state::FailedRestore`] `Renamed` swaps it in anyway (prod renamed, its
//!   name and computes on a broken branch), the case SPEC §3 warns about.
//! - Operation statuses: `scheduling`, `running`, then `finished` or the scripted failure
//!   (`failed`, `error`, `cancelled`); an operation that ends `cancelled` is `cancelling` for
//!   the last fifth of its run. A failed or cancelled operation did not do its work.
//! - Lists are current by default; [`state::Variants::list_lag`] makes each list (branches,
//!   snapshots, operations) answer its first read after a mutation as before that mutation.
//! - Operation actions and timing (`d` = `Options::op_duration`): branch creation
//!   `create_timeline` (d) then `start_compute` per compute, queued behind it (so a branch
//!   with a compute is usable after 2d); snapshot `create_branch` (d); restore
//!   `create_timeline` with `apply_config` per moved compute alongside (d); delete
//!   `suspend_compute` per compute alongside `delete_timeline` (d); snapshot deletion and
//!   `PATCH`es start none. A promotion (snapshot, snapshot, restore, delete) is thus 4d.
//! - Expired branches and snapshots vanish at the first request after their expiry.
//! - `init_source: schema-only` makes a root branch (no `parent_id`, as the 2.7.3 spec says)
//!   with the source's schema, no data, at the project's head LSN; `parent-schema` a child
//!   with the schema only. `suspend_timeout_seconds` must be -1, 0 or 60..=604800.
//! - Anonymized branches, Neon Auth and the Data API: see `state::anonymize` and
//!   `neon::integrations` (features off by default: 404, as for a branch without them).
//! - Where the current API (`@neon/sdk` 6.1.2) differs from the 2.7.3 pin, the current shape
//!   is served (the README's fidelity table): `Snapshot.slug` (unique, immutable, the id when
//!   none is asked for; [`state::SnapshotSlug`]), `expires_at` on snapshot `PATCH`, no
//!   `hard_delete` (deletions are final), the restore's `?name=` ignored from its removal date
//!   (2025-11-29, by the emulated clock).
//! - LSNs (see `state::Lsn`): one scale for the project, starting at `0/1496B28`; each write
//!   moves the written branch to the next LSN (`0x20000` further). A snapshot `lsn` query
//!   parameter must parse and not be ahead of the branch (else 400); the snapshot records it
//!   but captures the branch's current data and schema (no history is kept), and so do the
//!   schema routes' `lsn`/`timestamp` (validated: not both), which answer the head.
//! - Schemas: `format=json` answers only `{json}`, the default (`sql`) only `{sql}`; any other
//!   `format` is 400. `compare_schema` without `base_branch_id` compares with the parent (a
//!   root with itself: empty diff); the diff's header lines are `--- <base id>/<db>` and
//!   `+++ <branch id>/<db>` (Neon's are undocumented); DDL is pg_dump-like, constraints inline,
//!   unnamed ones named as Postgres would (`users_pkey`, `orders_user_id_fkey`).

mod clock;
mod control;
pub mod faults;
pub mod github;
mod inprocess;
mod log;
pub mod neon;
mod options;
mod ratelimit;
mod request;
mod route;
mod server;
pub mod state;
mod time;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

pub use clock::{Clock, ClockWentBack};
pub use faults::Fault;
pub use inprocess::Reply;
pub use log::{Api, LoggedRequest};
pub use options::{Options, Seed};
pub use state::{ApiError, Limits, State};

use options::fresh_state;

/// Everything the server tasks share with the test holding the [`Emulator`].
pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub log: Mutex<Vec<LoggedRequest>>,
    pub faults: Mutex<Vec<Fault>>,
    pub latency: Duration,
    pub api_key: Option<String>,
    pub rate: Option<Mutex<ratelimit::RateLimiter>>,
}

impl Shared {
    fn new(opts: &Options) -> Shared {
        Shared {
            state: Mutex::new(fresh_state(
                &opts.project_id,
                &opts.limits(),
                opts.seed,
                Clock::starting_at(opts.start_time),
            )),
            log: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            latency: opts.latency,
            api_key: opts.api_key.clone(),
            rate: opts
                .rate_limit
                .then(|| Mutex::new(ratelimit::RateLimiter::neon())),
        }
    }
    /// The emulated clock.
    fn now(&self) -> jiff::Timestamp {
        self.state.lock().unwrap().now()
    }
    /// Appends to the request log.
    fn record(&self, entry: LoggedRequest) {
        self.log.lock().unwrap().push(entry);
    }
}

/// A running emulator. Dropping it stops the server (and closes its open connections).
/// A [`Emulator::detached`] one has no server: it answers [`Emulator::handle_neon`] only.
pub struct Emulator {
    /// `None` when detached.
    addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    /// `None` when detached.
    shutdown: Option<watch::Sender<bool>>,
}

impl Emulator {
    /// Binds 127.0.0.1 (port `opts.port`, 0 = any) and serves in a task of the current tokio
    /// runtime.
    pub async fn start(opts: Options) -> Emulator {
        Self::try_start(opts)
            .await
            .expect("neon-emulator: cannot bind 127.0.0.1")
    }

    /// [`Emulator::start`], with the bind error returned.
    pub async fn try_start(opts: Options) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(("127.0.0.1", opts.port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(&opts));
        let (shutdown, rx) = watch::channel(false);
        tokio::spawn(server::serve(listener, shared.clone(), rx));
        Ok(Emulator {
            addr: Some(addr),
            shared,
            shutdown: Some(shutdown),
        })
    }

    /// Starts the emulator on its own thread with its own tokio runtime, for code that is not
    /// async or that blocks (benchmarks, `std::process::Command::output`). Dropping the
    /// returned value stops the server and lets the thread end.
    pub fn start_background(opts: Options) -> Emulator {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("neon-emulator".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("neon-emulator: tokio runtime");
                runtime.block_on(async move {
                    let emu = Emulator::start(opts).await;
                    let mut stopped = emu.shutdown.as_ref().expect("started").subscribe();
                    let handle = Emulator {
                        addr: emu.addr,
                        shared: emu.shared.clone(),
                        shutdown: emu.shutdown.clone(),
                    };
                    tx.send(handle).expect("neon-emulator: caller went away");
                    // Serve until the caller's handle is dropped.
                    let _ = stopped.wait_for(|stop| *stop).await;
                    drop(emu);
                });
            })
            .expect("neon-emulator: spawn thread");
        rx.recv().expect("neon-emulator: background start failed")
    }

    /// `http://127.0.0.1:PORT`. Panics on a detached emulator (it has no socket).
    pub fn url(&self) -> String {
        format!("http://{}", self.socket())
    }
    /// `{url}/api/v2`: the `api_host` to give neon-promote or neonctl.
    pub fn neon_api(&self) -> String {
        format!("{}/api/v2", self.url())
    }
    /// `{url}/github`: the `GITHUB_API_URL` to give neon-promote.
    pub fn github_api(&self) -> String {
        format!("{}/github", self.url())
    }
    pub fn port(&self) -> u16 {
        self.socket().port()
    }
    fn socket(&self) -> SocketAddr {
        self.addr
            .expect("neon-emulator: a detached emulator has no socket; use handle_neon")
    }
    pub fn project_id(&self) -> String {
        self.with_state(|s| s.project.id.clone())
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.log.lock().unwrap().clone()
    }
    /// Requests to one API only.
    pub fn requests_to(&self, api: Api) -> Vec<LoggedRequest> {
        self.shared
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.api == api)
            .cloned()
            .collect()
    }
    pub fn clear_requests(&self) {
        self.shared.log.lock().unwrap().clear();
    }

    /// Adds a scripted fault (see [`Fault`]).
    pub fn inject(&self, fault: Fault) {
        match fault {
            Fault::FailOperation {
                action,
                status,
                times,
            } => {
                let error = format!("emulated failure of {action}");
                self.with_state(|s| {
                    s.op_failures.push(state::OpFailure {
                        action,
                        status,
                        error,
                        times,
                    })
                });
            }
            other => self.shared.faults.lock().unwrap().push(other),
        }
    }
    /// Removes every pending fault.
    pub fn clear_faults(&self) {
        self.shared.faults.lock().unwrap().clear();
        self.with_state(|s| s.op_failures.clear());
    }

    /// Replaces the whole Neon project with a fresh one (same id and limits) seeded with
    /// `seed`: `production` (default root, read-write compute, `neondb` owned by
    /// `neondb_owner`), plus a `dev` root from a production snapshot for [`Seed::Demo`]. The
    /// GitHub fake's data is kept. Returns the production branch id, if any.
    pub fn seed_project(&self, seed: Seed) -> Option<String> {
        let mut guard = self.shared.state.lock().unwrap();
        let github = std::mem::take(&mut guard.github);
        let mut fresh = fresh_state(&guard.project.id, &guard.limits, seed, guard.clock());
        fresh.github = github;
        *guard = fresh;
        guard.default_branch().map(|b| b.id.clone())
    }

    /// Inspect or change the state directly (seed branches, set data tags, add PRs and
    /// comments, move the clock). Do not hold anything across an `.await`.
    pub fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut guard = self.shared.state.lock().unwrap();
        guard.refresh();
        f(&mut guard)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(shutdown) = &self.shutdown {
            let _ = shutdown.send(true);
        }
    }
}
