//! Typed errors of the Neon client, and the mapping from an HTTP answer to them. There is one
//! variant per class a caller branches on (a 404 on delete is success, a 409 on create is a
//! reuse) or the top level advises on differently (a wrong key, a wrong project, an unreachable
//! host, a rate limit past the timeout). The advice itself is not here: it depends on whether we
//! run as an Action or a CLI.

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

/// Neon's words, then its `request_id` when it gave one: every message that shows a Neon
/// error (the one `::error::` line above all) carries the id support asks for.
impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        match &self.request_id {
            Some(id) if !id.is_empty() => write!(f, " (Neon request_id {id})"),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NeonError {
    /// 401 or 403: the API key is wrong, revoked, or has no access to the project.
    #[error("unauthorized (HTTP {status}): {api}")]
    Unauthorized { status: u16, api: ApiError },
    /// A 404 about the project itself (not one of its branches or snapshots).
    #[error("{}", not_found(.0, "project not found"))]
    ProjectNotFound(ApiError),
    #[error("{}", not_found(.0, "not found"))]
    NotFound(ApiError),
    #[error("conflict: {0}")]
    Conflict(ApiError),
    /// 423: another operation holds the project or branch.
    #[error("locked by a running operation: {0}")]
    Locked(ApiError),
    /// 429; the governor holds every request of the run until its `Retry-After`.
    #[error("rate limited: {0}")]
    RateLimited(ApiError),
    /// A 429 or 503 asked us to wait past what is left of `timeout`: Neon accepts requests
    /// again at `until`.
    #[error(
        "Neon refuses requests until {until} (HTTP {status}: {api}), later than the timeout allows"
    )]
    RateLimitedPastTimeout {
        until: jiff::Timestamp,
        status: u16,
        api: ApiError,
    },
    /// A snapshot (or branch) quota is full; the caller lists what holds it.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(ApiError),
    #[error("HTTP {status}: {api}")]
    Server { status: u16, api: ApiError },
    #[error("request rejected (HTTP {status}): {api}")]
    Client { status: u16, api: ApiError },
    /// `host` (the `api_host`) refused the connection, does not resolve, or failed TLS, on
    /// every try: a fault that waiting does not heal.
    #[error("cannot reach the Neon API at {host}: {reason}")]
    Unreachable { host: String, reason: String },
    /// A connection reset, a timeout, or an unreadable answer: it may heal on a retry.
    #[error("transport error: {0}")]
    Transport(String),
    /// An operation ended `failed`, `error` or `cancelled`.
    #[error("operation {id} ({action}) ended {status}: {error}")]
    OperationFailed {
        id: String,
        action: String,
        status: String,
        error: String,
    },
    /// The `timeout` input ran out while retrying or waiting; `last` is the last failure.
    #[error("gave up after {timeout:?} waiting for {waiting_for}{}", last_error(.last))]
    Deadline {
        timeout: Duration,
        waiting_for: String,
        last: Option<Box<NeonError>>,
    },
}

fn last_error(last: &Option<Box<NeonError>>) -> String {
    last.as_ref()
        .map(|e| format!("; last error: {e}"))
        .unwrap_or_default()
}

impl NeonError {
    /// Neon's error body, when the failure (or the last one before a deadline) came with one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Unauthorized { api, .. }
            | Self::RateLimitedPastTimeout { api, .. }
            | Self::Server { api, .. }
            | Self::Client { api, .. }
            | Self::ProjectNotFound(api)
            | Self::NotFound(api)
            | Self::Conflict(api)
            | Self::Locked(api)
            | Self::RateLimited(api)
            | Self::QuotaExceeded(api) => Some(api),
            Self::Deadline {
                last: Some(last), ..
            } => last.api(),
            _ => None,
        }
    }

    /// Neon's `request_id`, for the error line: support asks for it.
    pub fn request_id(&self) -> Option<&str> {
        self.api()?.request_id.as_deref()
    }
}

/// A non-2xx answer to a request on `path` into a typed error, keeping Neon's words.
pub(super) fn from_status(status: u16, path: &str, body: &[u8]) -> NeonError {
    let mut api: ApiError = serde_json::from_slice(body).unwrap_or_default();
    if api.message.is_empty() {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        api.message = if text.is_empty() || text.starts_with('{') {
            reqwest::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("no message")
                .to_string()
        } else {
            text.chars().take(500).collect()
        };
    }
    match status {
        404 if is_about_the_project(path, &api) => NeonError::ProjectNotFound(api),
        404 => NeonError::NotFound(api),
        409 => NeonError::Conflict(api),
        423 => NeonError::Locked(api),
        429 => NeonError::RateLimited(api),
        s if is_quota(s, &api) => NeonError::QuotaExceeded(api),
        401 | 403 => NeonError::Unauthorized { status, api },
        500.. => NeonError::Server { status, api },
        _ => NeonError::Client { status, api },
    }
}

/// What a 404 message may name instead of the project.
const RESOURCES: [&str; 6] = [
    "branch",
    "snapshot",
    "endpoint",
    "operation",
    "role",
    "database",
];

/// A 404 in Neon's words alone when they already say "not found" (Neon's "project not found"
/// is not repeated), else ours before them.
fn not_found(api: &ApiError, ours: &str) -> String {
    if api.message.to_ascii_lowercase().contains("not found") {
        format!("HTTP 404: {api}")
    } else {
        format!("{ours}: {api}")
    }
}

// Neon answers an unknown project with 404 "project not found" and a missing branch with 404
// "branch not found", on every route below `/projects/{p}`; so the message decides. A 404 that
// names nothing ("Not Found" from a proxy when `api_host` is wrong) is about the project only on
// a route with no resource of its own (`/projects/{p}/branches`): on `/branches/{b}` it may be
// the branch, and callers rely on that NotFound (a delete of a gone branch is done).
fn is_about_the_project(path: &str, api: &ApiError) -> bool {
    let message = api.message.to_ascii_lowercase();
    if RESOURCES.iter().any(|r| message.contains(r)) {
        return false;
    }
    let below_projects = path.split('/').filter(|s| !s.is_empty()).count();
    message.contains("project") || below_projects <= 3
}

// Neon reports a full quota (snapshots, or the root branches every restore makes) as a 4xx
// with no documented code: `SNAPSHOTS_LIMIT_EXCEEDED`-style codes, or 403/422 with a message
// that says "limit" or "quota". Heuristic: a code naming a limit or quota, or a 403/422 whose
// message does. 400 is left out (a malformed `limit` parameter is a 400 that says "limit").
fn is_quota(status: u16, api: &ApiError) -> bool {
    let code = api.code.to_ascii_uppercase();
    let message = api.message.to_ascii_lowercase();
    let says = |text: &str, words: [&str; 2]| words.iter().any(|w| text.contains(w));
    (400..500).contains(&status)
        && (says(&code, ["LIMIT", "QUOTA"])
            || (matches!(status, 403 | 422) && says(&message, ["limit", "quota"])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str, message: &str) -> ApiError {
        ApiError {
            code: code.into(),
            message: message.into(),
            request_id: None,
        }
    }

    #[test]
    fn quota_heuristic() {
        assert!(is_quota(422, &api("", "snapshots limit exceeded")));
        assert!(is_quota(403, &api("", "Project quota reached")));
        assert!(is_quota(400, &api("SNAPSHOTS_LIMIT_EXCEEDED", "")));
        assert!(!is_quota(400, &api("", "invalid limit parameter")));
        assert!(!is_quota(422, &api("", "branch is protected")));
        assert!(!is_quota(500, &api("", "limit")));
    }

    #[test]
    fn errors_map_by_status() {
        let body = br#"{"code":"X","message":"m","request_id":"req-1"}"#;
        let map = |s: u16| from_status(s, "/projects/p/branches/b", body);
        assert!(matches!(
            map(401),
            NeonError::Unauthorized { status: 401, .. }
        ));
        assert!(matches!(
            map(403),
            NeonError::Unauthorized { status: 403, .. }
        ));
        assert!(matches!(map(409), NeonError::Conflict(_)));
        assert!(matches!(map(423), NeonError::Locked(_)));
        assert!(matches!(map(429), NeonError::RateLimited(_)));
        assert!(matches!(map(503), NeonError::Server { status: 503, .. }));
        assert!(matches!(map(400), NeonError::Client { status: 400, .. }));
        assert_eq!(map(500).request_id(), Some("req-1"));
        let plain = from_status(502, "/projects/p", b"upstream gone");
        assert!(matches!(plain, NeonError::Server { api, .. } if api.message == "upstream gone"));
    }

    #[test]
    fn a_404_is_about_the_project_when_it_says_so_or_the_route_has_nothing_else() {
        let map = |path: &str, body: &str| from_status(404, path, body.as_bytes());
        let project = r#"{"message":"project not found"}"#;
        let branch = r#"{"message":"branch not found"}"#;
        assert!(matches!(
            map("/projects/p/branches/b", project),
            NeonError::ProjectNotFound(_)
        ));
        assert!(matches!(
            map("/projects/p/branches", branch),
            NeonError::NotFound(_)
        ));
        assert!(matches!(
            map("/projects/p/snapshots", "Not Found"),
            NeonError::ProjectNotFound(_)
        ));
        assert!(matches!(
            map("/projects/p/branches/b", "Not Found"),
            NeonError::NotFound(_)
        ));
    }

    #[test]
    fn the_request_id_survives_a_deadline() {
        let last = from_status(503, "/projects/p", br#"{"message":"m","request_id":"r-9"}"#);
        let err = NeonError::Deadline {
            timeout: Duration::from_secs(1),
            waiting_for: "list snapshots".into(),
            last: Some(Box::new(last)),
        };
        assert_eq!(err.request_id(), Some("r-9"));
        // Shown wherever the error is, so the one `::error::` line carries it.
        assert!(
            err.to_string()
                .ends_with("last error: HTTP 503: m (Neon request_id r-9)"),
            "{err}"
        );
        let plain = from_status(404, "/projects/p/branches/b", br#"{"message":"gone"}"#);
        assert_eq!(plain.to_string(), "not found: gone");
    }
}
