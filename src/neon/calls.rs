//! The client's state and how one call is made: settings, the shared governor, request
//! building, the retry policy around each request, and the re-read before a mutation is ever
//! sent again. The endpoints themselves are in `client`; sending is the governor's.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;

use super::NeonError;
use super::governor::{Clock, Governor, Pass, RequestStats};
use super::retry::{Backoff, is_ambiguous, retry};
use super::transport::{Method, Request, ReqwestTransport, Transport};

/// Path segments keep only unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Receives a ready-to-print progress line during a long operation wait.
pub type ProgressHook = Arc<dyn Fn(&str) + Send + Sync>;

/// Where and as whom to call Neon, the `timeout` input bounding retries and waits, the clock
/// for dates, and who hears about long waits.
#[derive(Clone)]
pub struct NeonSettings {
    pub api_host: String,
    pub api_key: String,
    pub project_id: String,
    pub timeout: Duration,
    pub clock: Clock,
    pub on_progress: Option<ProgressHook>,
}

// By hand, so the API key never reaches a log.
impl fmt::Debug for NeonSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NeonSettings")
            .field("api_host", &self.api_host)
            .field("project_id", &self.project_id)
            .field("timeout", &self.timeout)
            .field("api_key", &"<redacted>")
            .finish()
    }
}

/// The Neon API v2 client for one project. Clones share one governor, so one hold, one poll
/// budget and one request count per run.
#[derive(Clone)]
pub struct NeonClient {
    inner: Arc<Inner>,
}

struct Inner {
    governor: Governor,
    api_host: String,
    api_key: String,
    project_id: String,
    timeout: Duration,
    on_progress: Option<ProgressHook>,
}

impl fmt::Debug for NeonClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NeonClient")
            .field("api_host", &self.inner.api_host)
            .field("project_id", &self.inner.project_id)
            .field("timeout", &self.inner.timeout)
            .field("api_key", &"<redacted>")
            .finish()
    }
}

/// How one request is sent.
pub(super) struct Call<'a> {
    pub what: &'a str,
    /// May be repeated after an ambiguous failure.
    pub idempotent: bool,
    pub poll: bool,
    pub timeout: Duration,
    /// Even its first try repeats an earlier request (a re-sent mutation).
    pub repeat: bool,
}

impl NeonClient {
    /// The production client: reqwest against `settings.api_host`.
    pub fn new(http: reqwest::Client, settings: NeonSettings) -> Self {
        let transport = ReqwestTransport::new(http, &settings.api_host);
        Self::with_transport(Arc::new(transport), settings)
    }

    /// A client over any transport (an in-process simulation); paths are below `api_host`.
    pub fn with_transport(transport: Arc<dyn Transport>, settings: NeonSettings) -> Self {
        let api_host = settings.api_host.trim().trim_end_matches('/').to_string();
        Self {
            inner: Arc::new(Inner {
                governor: Governor::new(transport, settings.clock, api_host.clone()),
                api_host,
                api_key: settings.api_key,
                project_id: settings.project_id,
                timeout: settings.timeout,
                on_progress: settings.on_progress,
            }),
        }
    }

    pub fn project_id(&self) -> &str {
        &self.inner.project_id
    }

    /// Every request of the run so far, from all clones.
    pub fn stats(&self) -> RequestStats {
        self.inner.governor.stats()
    }

    /// The run's wall clock (the simulation's virtual one in tests).
    pub fn clock(&self) -> Clock {
        self.inner.governor.clock()
    }

    pub(super) fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// Hands a progress line to the hook, if one is installed.
    pub(super) fn report(&self, line: &str) {
        if let Some(hook) = &self.inner.on_progress {
            hook(line);
        }
    }

    /// A request on `/projects/{p}/<segments…>`, each segment percent-encoded.
    pub(super) fn request(
        &self,
        method: Method,
        segments: &[&str],
        query: Vec<(&'static str, String)>,
        body: Option<Value>,
    ) -> Request {
        let mut path = format!(
            "/projects/{}",
            utf8_percent_encode(&self.inner.project_id, SEGMENT)
        );
        for segment in segments {
            path.push('/');
            path.extend(utf8_percent_encode(segment, SEGMENT));
        }
        Request {
            method,
            path,
            query,
            body,
            api_key: self.inner.api_key.clone(),
        }
    }

    /// A call that may be repeated after any failure, within `timeout`.
    pub(super) fn idempotent<'a>(&self, what: &'a str) -> Call<'a> {
        Call {
            what,
            idempotent: true,
            poll: false,
            timeout: self.inner.timeout,
            repeat: false,
        }
    }

    /// A retried GET, its answer parsed.
    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        what: &str,
        segments: &[&str],
        query: Vec<(&'static str, String)>,
    ) -> Result<T, NeonError> {
        let req = self.request(Method::Get, segments, query, None);
        parse(what, &self.fetch(&req, self.idempotent(what)).await?)
    }

    /// One request under the retry policy, through the governor: the body of its 2xx.
    pub(super) async fn fetch(&self, req: &Request, call: Call<'_>) -> Result<Vec<u8>, NeonError> {
        retry(call.timeout, call.idempotent, call.what, |attempt| {
            let pass = Pass {
                poll: call.poll,
                retry: attempt.retry || call.repeat,
                deadline: attempt.deadline,
            };
            self.inner.governor.send(req, pass)
        })
        .await
    }

    /// A mutation that is never blindly repeated: 423/429/503 are retried (they were not
    /// applied); after an ambiguous failure `reread` (given when we first sent it) says whether
    /// it took effect (`Some`), and only if two reads say it did not is it sent again.
    pub(super) async fn post_once<T, R, Fut>(
        &self,
        what: &str,
        req: &Request,
        reread: R,
    ) -> Result<T, NeonError>
    where
        T: DeserializeOwned,
        R: Fn(Timestamp) -> Fut,
        Fut: Future<Output = Result<Option<T>, NeonError>>,
    {
        let since = self.inner.governor.clock().now();
        let mut backoff = Backoff::new(self.inner.timeout);
        let mut repeat = false;
        loop {
            let call = Call {
                what,
                idempotent: false,
                poll: false,
                timeout: backoff.deadline().saturating_duration_since(Instant::now()),
                repeat,
            };
            let err = match self.fetch(req, call).await {
                Ok(bytes) if bytes.is_empty() => return parse(what, b"{}"),
                Ok(bytes) => return parse(what, &bytes),
                Err(err) if is_ambiguous(&err) => err,
                Err(err) => return Err(err),
            };
            // Twice before sending again: a list may lag the mutation by one read, and a
            // stale "not there" would make us apply it a second time.
            for _ in 0..2 {
                if let Some(applied) = reread(since).await? {
                    return Ok(applied);
                }
            }
            backoff.pause(what, err).await?;
            repeat = true;
        }
    }
}

/// An operation poll within what is left of a wait.
pub(super) fn poll_call(deadline: Instant) -> Call<'static> {
    Call {
        what: "get operation",
        idempotent: true,
        poll: true,
        timeout: deadline.saturating_duration_since(Instant::now()),
        repeat: false,
    }
}

pub(super) fn parse<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, NeonError> {
    serde_json::from_slice(bytes).map_err(|e| unreadable(what, e))
}

pub(super) fn unreadable(what: &str, e: serde_json::Error) -> NeonError {
    NeonError::Transport(format!("unreadable answer to {what}: {e}"))
}
