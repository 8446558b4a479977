//! The seam between the Neon client and the network: one HTTP exchange as plain data (`Request`
//! in, `Response` or `TransportError` out) behind the `Transport` trait, and reqwest's
//! implementation of it. Everything above the trait (the governor, retries, re-reads, polling)
//! runs unchanged over any transport, so a deterministic in-process simulation can drive the real
//! client. It owns no policy: no retry, no waiting, no meaning of a status code.

use std::error::Error as _;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// What a transport's `send` returns.
pub type Sending<'a> = Pin<Box<dyn Future<Output = Result<Response, TransportError>> + Send + 'a>>;

/// Sends one request to the Neon API and returns its answer, whatever the status.
pub trait Transport: Send + Sync {
    fn send<'a>(&'a self, req: &'a Request) -> Sending<'a>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

/// One call: `path` is below `api_host` (`/projects/p/branches`, segments percent-encoded).
#[derive(Clone)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<serde_json::Value>,
    /// Sent as `Authorization: Bearer …`.
    pub api_key: String,
}

// By hand, so the API key never reaches a log.
impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("body", &self.body)
            .field("api_key", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The `Retry-After` header as sent: delay-seconds or an HTTP date.
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

/// No answer came. `fault` says whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", .fault.describe())]
pub struct TransportError {
    pub fault: Fault,
    /// The client library's own words (without the URL), for the error line.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Nothing listens on `api_host`'s port.
    Refused,
    /// `api_host`'s name does not resolve.
    Unresolvable,
    /// A certificate or TLS protocol error.
    Tls,
    /// The connection was reset or closed mid-request.
    Reset,
    Timeout,
    Other,
}

impl Fault {
    /// Refused, unresolvable and TLS faults do not heal by waiting; the others may.
    pub fn heals(self) -> bool {
        matches!(self, Self::Reset | Self::Timeout | Self::Other)
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Refused => "connection refused",
            Self::Unresolvable => "the host name does not resolve",
            Self::Tls => "TLS failed",
            Self::Reset => "connection reset",
            Self::Timeout => "timed out",
            Self::Other => "request failed",
        }
    }
}

/// The production transport: the one shared reqwest client, against `api_host`.
pub struct ReqwestTransport {
    http: reqwest::Client,
    base: String,
}

impl ReqwestTransport {
    pub fn new(http: reqwest::Client, api_host: &str) -> Self {
        Self {
            http,
            base: api_host.trim().trim_end_matches('/').to_string(),
        }
    }

    async fn exchange(&self, req: &Request) -> Result<Response, TransportError> {
        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self
            .http
            .request(method, format!("{}{}", self.base, req.path))
            .bearer_auth(&req.api_key)
            .header(reqwest::header::ACCEPT, "application/json");
        if !req.query.is_empty() {
            builder = builder.query(&req.query);
        }
        if let Some(body) = &req.body {
            builder = builder.json(body);
        }
        let response = builder.send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // `Vec::from` takes the buffer over without a copy: a page of 10,000 branches is
        // megabytes, and a copy would double the binary's peak memory.
        let body = Vec::from(response.bytes().await.map_err(classify)?);
        Ok(Response {
            status,
            retry_after,
            body,
        })
    }
}

impl Transport for ReqwestTransport {
    fn send<'a>(&'a self, req: &'a Request) -> Sending<'a> {
        Box::pin(self.exchange(req))
    }
}

/// A reqwest failure as a fault, by what its source chain holds: an I/O error's kind, a rustls
/// error inside one, or hyper-util's "dns error" (its resolver error type is private).
fn classify(err: reqwest::Error) -> TransportError {
    let err = err.without_url();
    let mut detail = err.to_string();
    let mut fault = if err.is_timeout() {
        Fault::Timeout
    } else {
        Fault::Other
    };
    let mut source = err.source();
    while let Some(cause) = source {
        detail.push_str(&format!(": {cause}"));
        if fault == Fault::Other {
            fault = match cause.downcast_ref::<std::io::Error>() {
                Some(io) => io_fault(io),
                None if cause.to_string() == "dns error" => Fault::Unresolvable,
                None => Fault::Other,
            };
        }
        source = cause.source();
    }
    TransportError { fault, detail }
}

/// rustls reports through nested I/O errors, whose `source()` skips the wrapped error itself.
fn io_fault(io: &std::io::Error) -> Fault {
    use std::io::ErrorKind::*;
    if let Some(inner) = io.get_ref() {
        if inner.is::<rustls::Error>() {
            return Fault::Tls;
        }
        if let Some(nested) = inner.downcast_ref::<std::io::Error>() {
            return io_fault(nested);
        }
    }
    match io.kind() {
        ConnectionRefused => Fault::Refused,
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => Fault::Reset,
        TimedOut => Fault::Timeout,
        _ => Fault::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_faults_are_told_apart() {
        let io = |kind| std::io::Error::from(kind);
        assert_eq!(
            io_fault(&io(std::io::ErrorKind::ConnectionRefused)),
            Fault::Refused
        );
        assert_eq!(
            io_fault(&io(std::io::ErrorKind::ConnectionReset)),
            Fault::Reset
        );
        let tls = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::Expired),
        );
        let wrapped = std::io::Error::other(tls);
        assert_eq!(io_fault(&wrapped), Fault::Tls);
        assert!(!Fault::Tls.heals() && !Fault::Refused.heals() && !Fault::Unresolvable.heals());
        assert!(Fault::Reset.heals() && Fault::Timeout.heals() && Fault::Other.heals());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let req = Request {
            method: Method::Get,
            path: "/projects/p".into(),
            query: Vec::new(),
            body: None,
            api_key: "napi_secret".into(),
        };
        let text = format!("{req:?}");
        assert!(
            !text.contains("napi_secret") && text.contains("<redacted>"),
            "{text}"
        );
    }
}
