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
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::request::{Req, Resp};
use crate::{Shared, control, faults, route};

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
    let at = shared.now();
    let (parts, body) = req.into_parts();
    let raw_body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let req = Req::new(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query().unwrap_or(""),
        headers,
        raw_body,
    );
    if req.path.starts_with("/_emulator") {
        // The control API of the standalone binary: not logged, no latency, no faults.
        return Ok(to_response(control::route(&shared, &req)));
    }
    let log = |status: u16| req.logged(status, at, started.elapsed());

    if !shared.latency.is_zero() {
        tokio::time::sleep(shared.latency).await;
    }
    let plan = faults::plan(&mut shared.faults.lock().unwrap(), &req.method, &req.path);
    if !plan.delay_before.is_zero() {
        tokio::time::sleep(plan.delay_before).await;
    }
    if plan.drop_before {
        shared.record(log(0));
        reset.store(plan.reset, Ordering::Relaxed);
        return Err(Dropped);
    }
    let resp = match plan.status {
        Some((status, retry_after)) => route::injected(&req, status, retry_after),
        None => route::answer(&shared, &req),
    };
    if !plan.delay_after.is_zero() {
        tokio::time::sleep(plan.delay_after).await;
    }
    if plan.drop_after {
        shared.record(log(0));
        reset.store(plan.reset, Ordering::Relaxed);
        return Err(Dropped);
    }
    shared.record(log(resp.status));
    Ok(to_response(resp))
}

fn to_response(resp: Resp) -> hyper::Response<Full<Bytes>> {
    let mut builder = hyper::Response::builder().status(resp.status);
    for (k, v) in resp.all_headers() {
        builder = builder.header(k, v);
    }
    builder
        .body(Full::new(resp.body.unwrap_or_default()))
        .expect("valid response")
}
