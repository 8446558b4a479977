//! Requests and answers as the route handlers see them, and the URL decoding they need.

use std::time::Duration;

use bytes::Bytes;
use jiff::Timestamp;
use serde_json::Value;

use crate::{Api, LoggedRequest};

/// A parsed request, as the route handlers see it (from a socket or from
/// [`crate::Emulator::handle_neon`]).
pub(crate) struct Req {
    pub method: String,
    pub path: String,
    pub api: Api,
    /// The raw query string, as logged.
    pub query_raw: String,
    pub query: Vec<(String, String)>,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    pub raw_body: Bytes,
}

impl Req {
    pub fn new(
        method: &str,
        path: &str,
        query_raw: &str,
        headers: Vec<(String, String)>,
        raw_body: Bytes,
    ) -> Req {
        let body = if raw_body.is_empty() {
            None
        } else {
            serde_json::from_slice(&raw_body).ok()
        };
        Req {
            method: method.to_string(),
            path: path.to_string(),
            api: Api::of_path(path),
            query_raw: query_raw.to_string(),
            query: parse_query(query_raw),
            headers: headers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            body,
            raw_body,
        }
    }
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// A header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The log entry of this request, answered with `status` (0: dropped).
    pub fn logged(&self, status: u16, at: Timestamp, elapsed: Duration) -> LoggedRequest {
        LoggedRequest {
            method: self.method.clone(),
            path: self.path.clone(),
            query: self.query_raw.clone(),
            body: self.body.clone(),
            status,
            api: self.api,
            at,
            elapsed,
            headers: self.headers.clone(),
        }
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
    /// The headers as sent: `content-type` when there is a body, then the extra ones.
    pub fn all_headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.body
            .is_some()
            .then_some(("content-type", "application/json"))
            .into_iter()
            .chain(self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
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
