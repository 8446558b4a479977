//! The request log: every request to the Neon or GitHub fakes, as the emulator saw it.

use std::time::Duration;

use serde_json::Value;

use crate::request::parse_query;

/// Which fake a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Neon,
    GitHub,
    /// Neither prefix.
    Other,
}

/// One request as the emulator saw it.
#[derive(Debug, Clone, PartialEq)]
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

/// POST, PATCH, PUT and DELETE change state; other methods read.
pub(crate) fn is_mutation(method: &str) -> bool {
    matches!(method, "POST" | "PATCH" | "PUT" | "DELETE")
}

impl Api {
    /// Which fake a path belongs to. GitHub's routes are also served at the root, like
    /// api.github.com, for clients that drop a base path.
    pub fn of_path(path: &str) -> Api {
        if path.starts_with("/api/v2/") || path == "/api/v2" {
            Api::Neon
        } else if path.starts_with("/github/")
            || path == "/github"
            || path.starts_with("/repos/")
            || path == "/user"
        {
            Api::GitHub
        } else {
            Api::Other
        }
    }
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
        is_mutation(&self.method)
    }
}
