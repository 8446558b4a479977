//! A scripted in-process transport for the client's tests: a closure answers each request
//! after an optional latency, and every request is logged with the (paused) time it left. The
//! whole client stack (governor, retries, re-reads, polling) runs over it unchanged.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::{
    Clock, NeonClient, NeonSettings, Request, Response, Sending, Transport, TransportError,
};

type Answer = dyn Fn(&Request, Duration) -> Result<Response, TransportError> + Send + Sync;

pub(super) struct Fake {
    start: Instant,
    latency: Duration,
    log: Mutex<Vec<(Duration, String)>>,
    answer: Box<Answer>,
}

impl Fake {
    /// `answer` gets each request and the time since the fake was made when it arrives.
    pub(super) fn new(
        latency: Duration,
        answer: impl Fn(&Request, Duration) -> Result<Response, TransportError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            latency,
            log: Mutex::default(),
            answer: Box::new(answer),
        })
    }

    /// `(sent at, "GET /projects/p1/operations?limit=20")` for every request so far.
    pub(super) fn requests(&self) -> Vec<(Duration, String)> {
        self.log.lock().unwrap().clone()
    }

    pub(super) fn count(&self, prefix: &str) -> usize {
        let log = self.log.lock().unwrap();
        log.iter()
            .filter(|(_, line)| line.starts_with(prefix))
            .count()
    }
}

impl Transport for Fake {
    fn send<'a>(&'a self, req: &'a Request) -> Sending<'a> {
        let query: Vec<String> = req.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut line = format!("{} {}", req.method.as_str(), req.path);
        if !query.is_empty() {
            line = format!("{line}?{}", query.join("&"));
        }
        self.log.lock().unwrap().push((self.start.elapsed(), line));
        Box::pin(async move {
            tokio::time::sleep(self.latency).await;
            (self.answer)(req, self.start.elapsed())
        })
    }
}

/// reqwest as production builds it (rustls with ring, hickory DNS), without the crate's `http`.
pub(super) fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .hickory_dns(true)
        .build()
        .unwrap()
}

/// A client for project `p1` over `transport`, with a simulated clock.
pub(super) fn client(transport: Arc<dyn Transport>, timeout: Duration) -> NeonClient {
    NeonClient::with_transport(transport, settings(timeout))
}

pub(super) fn settings(timeout: Duration) -> NeonSettings {
    NeonSettings {
        api_host: "https://neon.test/api/v2".into(),
        api_key: "napi_test".into(),
        project_id: "p1".into(),
        timeout,
        clock: Clock::starting_at("2026-11-30T12:00:00Z".parse().unwrap()),
        on_progress: None,
    }
}

pub(super) fn ok(body: Value) -> Result<Response, TransportError> {
    Ok(answer(200, None, body))
}

pub(super) fn answer(status: u16, retry_after: Option<&str>, body: Value) -> Response {
    Response {
        status,
        retry_after: retry_after.map(str::to_string),
        body: body.to_string().into_bytes(),
    }
}

/// An operation as Neon lists it.
pub(super) fn op(id: &str, status: &str) -> Value {
    json!({ "id": id, "action": "create_timeline", "status": status, "branch_id": "br-1" })
}
