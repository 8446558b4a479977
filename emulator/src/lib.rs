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
//! [`faults`] scripts misbehaviour, `control` is the `/_emulator` API of the standalone binary,
//! this file runs the server and keeps the request log.
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
//!   message "project already has running conflicting operations".
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
//! - Operation actions and timing (`d` = `Options::op_duration`): branch creation
//!   `create_timeline` (d) then `start_compute` per compute, queued behind it (so a branch
//!   with a compute is usable after 2d); snapshot `create_branch` (d); restore
//!   `create_timeline` with `apply_config` per moved compute alongside (d); delete
//!   `suspend_compute` per compute alongside `delete_timeline` (d); snapshot deletion and
//!   `PATCH`es start none. A promotion (snapshot, snapshot, restore, delete) is thus 4d.
//! - Expired branches and snapshots vanish at the first request after their expiry.

mod control;
pub mod faults;
pub mod github;
pub mod neon;
mod ratelimit;
pub mod state;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use faults::Fault;
pub use state::{ApiError, Limits, State};

/// What the project starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Seed {
    /// `production` only (default root branch with a read-write compute).
    #[default]
    Empty,
    /// `production` plus a `dev` root restored from a production snapshot, with a compute.
    Demo,
    /// No branches at all: seed everything through [`Emulator::with_state`].
    Nothing,
}

/// Emulator settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Added to every request before it is handled.
    pub latency: Duration,
    /// How long each operation takes (scheduling → running → finished). Zero: operations are
    /// created `finished`.
    pub op_duration: Duration,
    /// How many snapshots the project may hold (Neon's Free plan: 1).
    pub snapshot_quota: usize,
    pub seed: Seed,
    pub project_id: String,
    /// The only Neon API key accepted; `None` accepts any non-empty bearer token.
    pub api_key: Option<String>,
    /// Finalize-restore moves the `protected` flag from the replaced branch to the new one
    /// (default). `false`: the new branch comes out unprotected and the old one stays protected
    /// (the case where a client has to move the protection itself).
    pub restore_moves_protection: bool,
    /// How many root branches the project may have (Neon: Free 3, Launch 5, Scale 25). A
    /// restore creates a root branch, so a promotion needs room for `<prod> (old)`.
    pub root_branch_quota: usize,
    /// Port to bind on 127.0.0.1 (0: any free port).
    pub port: u16,
    /// Enforce Neon's rate limits on the Neon API (700 requests a minute, 40 a second per
    /// route): excess requests get 429 with `Retry-After`. Off by default.
    pub rate_limit: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            latency: Duration::ZERO,
            op_duration: Duration::ZERO,
            snapshot_quota: 10,
            seed: Seed::Empty,
            project_id: "proj-emulated".into(),
            api_key: None,
            restore_moves_protection: true,
            root_branch_quota: 25,
            port: 0,
            rate_limit: false,
        }
    }
}

/// Which fake a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Neon,
    GitHub,
    /// Neither prefix.
    Other,
}

/// One request as the emulator saw it.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub method: String,
    /// Full path, e.g. `/api/v2/projects/p/branches`.
    pub path: String,
    /// Raw query string (without `?`), possibly empty.
    pub query: String,
    /// The JSON body, if there was one that parsed.
    pub body: Option<Value>,
    /// The status answered; 0 when the connection was dropped instead.
    pub status: u16,
    pub api: Api,
    /// When the request arrived.
    pub at: jiff::Timestamp,
    /// How long the emulator took to answer (including injected latency and delays).
    pub elapsed: Duration,
    /// Request headers (names lower-case), e.g. to check the `User-Agent` or which token a
    /// call used.
    pub headers: Vec<(String, String)>,
}

impl LoggedRequest {
    /// A request header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// A query parameter (percent-decoded).
    pub fn query_param(&self, name: &str) -> Option<String> {
        parse_query(&self.query)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
    /// True for POST, PATCH, PUT and DELETE.
    pub fn is_mutation(&self) -> bool {
        matches!(self.method.as_str(), "POST" | "PATCH" | "PUT" | "DELETE")
    }
}

fn limits(opts: &Options) -> Limits {
    Limits {
        op_duration: opts.op_duration,
        snapshot_quota: opts.snapshot_quota,
        restore_moves_protection: opts.restore_moves_protection,
        root_branch_quota: opts.root_branch_quota,
    }
}

/// A new project with the given seed.
fn fresh_state(project_id: &str, limits: &Limits, seed: Seed) -> State {
    let mut state = State::new(project_id, limits.clone());
    match seed {
        Seed::Empty => {
            state.seed_default();
        }
        Seed::Demo => {
            state.seed_demo();
        }
        Seed::Nothing => {}
    }
    state
}

/// Everything the server tasks share with the test holding the [`Emulator`].
pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub log: Mutex<Vec<LoggedRequest>>,
    pub faults: Mutex<Vec<Fault>>,
    pub latency: Duration,
    pub api_key: Option<String>,
    pub rate: Option<Mutex<ratelimit::RateLimiter>>,
}

/// A running emulator. Dropping it stops the server (and closes its open connections).
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
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
        let state = fresh_state(&opts.project_id, &limits(&opts), opts.seed);
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            log: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            latency: opts.latency,
            api_key: opts.api_key.clone(),
            rate: opts
                .rate_limit
                .then(|| Mutex::new(ratelimit::RateLimiter::neon())),
        });
        let (shutdown, rx) = watch::channel(false);
        tokio::spawn(serve(listener, shared.clone(), rx));
        Ok(Emulator {
            addr,
            shared,
            shutdown,
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
                    let mut stopped = emu.shutdown.subscribe();
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

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
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
        self.addr.port()
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
        let mut fresh = fresh_state(&guard.project.id, &guard.limits, seed);
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
        let _ = self.shutdown.send(true);
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let mut stop = shutdown.clone();
        let reset = Arc::new(AtomicBool::new(false));
        let io = ResettableStream {
            inner: stream,
            reset: reset.clone(),
        };
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let shared = shared.clone();
                let reset = reset.clone();
                async move { handle(shared, req, reset).await }
            });
            let conn = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(io), svc);
            tokio::select! {
                _ = conn => {}
                _ = stop.changed() => {}
            }
        });
    }
}

/// The accepted socket; when a `Fault::Reset` fired on it, closing sends a TCP reset (RST)
/// instead of an orderly shutdown (FIN).
struct ResettableStream {
    inner: tokio::net::TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Relaxed) {
            let _ = self.inner.set_zero_linger();
        }
    }
}

impl tokio::io::AsyncRead for ResettableStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.reset.load(Ordering::Relaxed) {
            // No FIN: the reset happens when the socket is dropped.
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Returned by the service to make hyper close the connection without an answer.
#[derive(Debug)]
struct Dropped;
impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}
impl std::error::Error for Dropped {}

/// A parsed request, as the route handlers see it.
pub(crate) struct Req {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: hyper::HeaderMap,
    pub body: Option<Value>,
    pub raw_body: Bytes,
}

impl Req {
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An answer: status, extra headers, JSON (or empty) body.
pub(crate) struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Bytes>,
}

impl Resp {
    pub fn json(status: u16, v: &impl serde::Serialize) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            body: Some(Bytes::from(serde_json::to_vec(v).expect("serializable"))),
        }
    }
    pub fn empty(status: u16) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            body: None,
        }
    }
    pub fn with_header(mut self, k: &str, v: String) -> Resp {
        self.headers.push((k.to_string(), v));
        self
    }
}

async fn handle(
    shared: Arc<Shared>,
    req: hyper::Request<Incoming>,
    reset: Arc<AtomicBool>,
) -> Result<hyper::Response<Full<Bytes>>, Dropped> {
    let started = std::time::Instant::now();
    let at = jiff::Timestamp::now();
    let (parts, body) = req.into_parts();
    let raw_body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let query_raw = parts.uri.query().unwrap_or("").to_string();
    let body_json: Option<Value> = if raw_body.is_empty() {
        None
    } else {
        serde_json::from_slice(&raw_body).ok()
    };
    let api = if path.starts_with("/api/v2/") || path == "/api/v2" {
        Api::Neon
    } else if path.starts_with("/github/")
        || path == "/github"
        || path.starts_with("/repos/")
        || path == "/user"
    {
        // Also at the root, like api.github.com, for clients that drop a base path.
        Api::GitHub
    } else {
        Api::Other
    };
    if path.starts_with("/_emulator") {
        // The control API of the standalone binary: not logged, no latency, no faults.
        let req = Req {
            method,
            path,
            query: parse_query(&query_raw),
            headers: parts.headers.clone(),
            body: body_json,
            raw_body,
        };
        return Ok(to_response(control::route(&shared, &req)));
    }
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let log = |status: u16| LoggedRequest {
        headers: headers.clone(),
        method: method.clone(),
        path: path.clone(),
        query: query_raw.clone(),
        body: body_json.clone(),
        status,
        api,
        at,
        elapsed: started.elapsed(),
    };

    if !shared.latency.is_zero() {
        tokio::time::sleep(shared.latency).await;
    }
    let plan = faults::plan(&mut shared.faults.lock().unwrap(), &method, &path);
    if !plan.delay_before.is_zero() {
        tokio::time::sleep(plan.delay_before).await;
    }
    if plan.drop_before {
        shared.log.lock().unwrap().push(log(0));
        reset.store(plan.reset, Ordering::Relaxed);
        return Err(Dropped);
    }
    let limited = match (&shared.rate, api) {
        (Some(rate), Api::Neon) => rate.lock().unwrap().check(&method, &path),
        _ => None,
    };
    let resp = if let Some(retry_after) = limited {
        neon::error_resp(&ApiError::new(429, "rate limit exceeded"), &parts.headers)
            .with_header("retry-after", retry_after.to_string())
    } else if let Some((status, retry_after)) = plan.status {
        let mut r = match api {
            Api::GitHub => github::error(status, github::status_message(status)),
            _ => neon::error_resp(
                &ApiError {
                    status,
                    code: String::new(),
                    message: neon::status_message(status).into(),
                },
                &parts.headers,
            ),
        };
        if let Some(secs) = retry_after {
            r = r.with_header("retry-after", secs.to_string());
        }
        r
    } else {
        let req = Req {
            method: method.clone(),
            path: path.clone(),
            query: parse_query(&query_raw),
            headers: parts.headers.clone(),
            body: body_json.clone(),
            raw_body: raw_body.clone(),
        };
        match api {
            Api::Neon => neon::route(&shared, &req),
            Api::GitHub => github::route(&shared, &req),
            Api::Other => neon::error_resp(&ApiError::new(404, "not found"), &parts.headers),
        }
    };
    if !plan.delay_after.is_zero() {
        tokio::time::sleep(plan.delay_after).await;
    }
    if plan.drop_after {
        shared.log.lock().unwrap().push(log(0));
        reset.store(plan.reset, Ordering::Relaxed);
        return Err(Dropped);
    }
    shared.log.lock().unwrap().push(log(resp.status));
    Ok(to_response(resp))
}

fn to_response(resp: Resp) -> hyper::Response<Full<Bytes>> {
    let mut builder = hyper::Response::builder().status(resp.status);
    if resp.body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    for (k, v) in &resp.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder
        .body(Full::new(resp.body.unwrap_or_default()))
        .expect("valid response")
}

/// `a=1&b=x%20y` → pairs, percent- and `+`-decoded.
pub(crate) fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

/// Percent-decoding (and `+` → space in query strings).
pub(crate) fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a path below a prefix into decoded segments.
pub(crate) fn segments(path: &str, prefix: &str) -> Vec<String> {
    path.strip_prefix(prefix)
        .unwrap_or("")
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(s, false))
        .collect()
}
