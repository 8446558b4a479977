//! The emulator without a socket, for a deterministic simulation: [`Emulator::detached`]
//! binds nothing and spawns nothing, and [`Emulator::handle_neon`] answers one request
//! synchronously through the same routing, authentication, rate limits and request log as
//! the HTTP server, with no injected latency and no scripted HTTP faults (operation failures
//! still apply: they belong to the state).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use crate::request::{Req, Resp};
use crate::{Emulator, Options, Shared, route};

/// One answer of [`Emulator::handle_neon`]: what the server would have sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// `content-type` first when there is a body, then e.g. `retry-after`.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (`Null` when empty or not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    /// A header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl From<Resp> for Reply {
    fn from(resp: Resp) -> Reply {
        Reply {
            status: resp.status,
            headers: resp
                .all_headers()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: resp.body.map(|b| b.to_vec()).unwrap_or_default(),
        }
    }
}

impl Emulator {
    /// An emulator with no server: no socket is bound and no task is spawned, so it works
    /// in any runtime (or none), including a current-thread runtime with paused time. Ids and
    /// passwords come from `fastrand`'s thread-local generator of the calling thread; with
    /// `opts.start_time` set the clock moves only when told, so two runs with the same seed
    /// give the same answers. `url()`, `port()`, `neon_api()` and `github_api()` panic.
    pub fn detached(opts: Options) -> Emulator {
        Emulator {
            addr: None,
            shared: Arc::new(Shared::new(&opts)),
            shutdown: None,
        }
    }

    /// One request (`path_and_query` like `/api/v2/projects/p/branches?search=dev`; GitHub
    /// paths are routed too) as the server would answer it, and logged the same way (with
    /// `elapsed` zero). Headers are `(name, value)` pairs, e.g. `("authorization", "Bearer
    /// k")`. The control API (`/_emulator`) is not served here: call the library methods.
    pub fn handle_neon(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let at = self.shared.now();
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let req = Req::new(method, path, query, headers, Bytes::copy_from_slice(body));
        let resp = route::answer(&self.shared, &req);
        self.shared
            .record(req.logged(resp.status, at, Duration::ZERO));
        resp.into()
    }
}

#[cfg(test)]
mod tests;
