//! Typed errors of the Neon client: callers branch on these (a 404 on delete is success, a 409
//! on create is a reuse, 423/429/503 are retried by `crate::retry`).

use std::time::Duration;

/// Neon's error body: `{code, message, request_id?}`, kept verbatim for messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct ApiError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub request_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NeonError {
    #[error("not found: {}", .0.message)]
    NotFound(ApiError),
    #[error("conflict: {}", .0.message)]
    Conflict(ApiError),
    /// 423: another operation holds the project or branch.
    #[error("locked by a running operation: {}", .0.message)]
    Locked(ApiError),
    #[error("rate limited (retry after {retry_after:?}): {}", .api.message)]
    RateLimited {
        retry_after: Option<Duration>,
        api: ApiError,
    },
    /// A snapshot (or branch) quota is full; the caller lists what holds it.
    #[error("quota exceeded: {}", .0.message)]
    QuotaExceeded(ApiError),
    #[error("HTTP {status}: {}", .api.message)]
    Server { status: u16, api: ApiError },
    #[error("request rejected (HTTP {status}): {}", .api.message)]
    Client { status: u16, api: ApiError },
    /// Connection refused or reset, timeout, or an unreadable body.
    #[error("transport error: {0}")]
    Transport(String),
    /// An operation ended `failed` or `error`.
    #[error("operation {id} ({action}) ended {status}: {error}")]
    OperationFailed {
        id: String,
        action: String,
        status: String,
        error: String,
    },
    /// 401/403: the API key is wrong or not of this project's organisation.
    #[error("not authorized: {}", .0.message)]
    Unauthorized(ApiError),
    /// A 404 about the project itself.
    #[error("project not found: {}", .0.message)]
    ProjectNotFound(ApiError),
    /// The API host cannot be reached and retrying will not help (refused, no such host, TLS).
    #[error("cannot reach {host}: {reason}")]
    Unreachable { host: String, reason: String },
    /// Neon asked to wait (Retry-After) past what `timeout` leaves.
    #[error("rate limited until {until}, past the timeout: {}", .api.message)]
    RateLimitedPastTimeout { until: String, api: ApiError },
    /// The `timeout` input ran out while retrying or waiting.
    #[error("gave up after {0:?} ({1})")]
    Deadline(Duration, String),
}
