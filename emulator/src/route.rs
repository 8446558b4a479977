//! One request through rate limiting, authentication and routing: the part of handling a
//! request that the HTTP server and [`crate::Emulator::handle_neon`] share (the server adds
//! latency and scripted HTTP faults around it).

use crate::request::{Req, Resp};
use crate::state::ApiError;
use crate::{Api, Shared, github, neon};

/// The answer to `req`, with the state changed accordingly.
pub(crate) fn answer(shared: &Shared, req: &Req) -> Resp {
    if let (Some(rate), Api::Neon) = (&shared.rate, req.api) {
        let now = shared.state.lock().unwrap().now();
        if let Some(retry_after) = rate.lock().unwrap().check(&req.method, &req.path, now) {
            return neon::error_resp(&ApiError::new(429, "rate limit exceeded"), req)
                .with_header("retry-after", retry_after.to_string());
        }
    }
    match req.api {
        Api::Neon => neon::route(shared, req),
        Api::GitHub => github::route(&mut shared.state.lock().unwrap().github, req),
        Api::Other => neon::error_resp(&ApiError::new(404, "not found"), req),
    }
}

/// The answer of an injected `status` (`Fault::Status`), in the error shape of the API the
/// request went to; nothing is applied.
pub(crate) fn injected(req: &Req, status: u16, retry_after: Option<u64>) -> Resp {
    let resp = match req.api {
        Api::GitHub => github::error(status, github::status_message(status)),
        _ => neon::error_resp(&ApiError::new(status, neon::status_message(status)), req),
    };
    match retry_after {
        Some(secs) => resp.with_header("retry-after", secs.to_string()),
        None => resp,
    }
}
