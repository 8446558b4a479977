//! The HTTP server: accepts connections on loopback, applies latency and scripted faults
//! (including dropping or resetting a connection), routes each request and logs it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::request::{Req, Resp, parse_query};
use crate::state::ApiError;
use crate::{Api, LoggedRequest, Shared, control, faults, github, neon};

pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
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
