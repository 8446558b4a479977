//! Scripted faults: data, keyed by HTTP method and a path substring, each with a count, so a
//! test can say "the next two snapshot POSTs answer 423" without touching the handlers.

use std::time::Duration;

/// A scripted misbehaviour. `method: None` matches any method; `path_contains` is matched
/// against the full request path (e.g. `/api/v2/projects/p/branches`); `times` is how many
/// matching requests it applies to (then it is spent).
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer `status` (with the API's error body, and `Retry-After` when given) instead of
    /// handling the request: nothing is applied.
    Status {
        method: Option<String>,
        path_contains: String,
        status: u16,
        retry_after: Option<u64>,
        times: usize,
    },
    /// Close the connection without an answer. `after_apply: true` handles the request first
    /// (the state changes) and then drops the answer: the "timed out but applied" case.
    DropConnection {
        method: Option<String>,
        path_contains: String,
        after_apply: bool,
        times: usize,
    },
    /// Like `DropConnection`, but the connection is reset (TCP RST): the client sees
    /// "connection reset by peer" rather than an early end of stream.
    Reset {
        method: Option<String>,
        path_contains: String,
        after_apply: bool,
        times: usize,
    },
    /// Wait `delay` before answering; `after_apply: true` applies the request first, so a
    /// client that times out sees nothing although the change happened.
    Delay {
        method: Option<String>,
        path_contains: String,
        delay: Duration,
        after_apply: bool,
        times: usize,
    },
    /// The next `times` operations of this action (an operation `action` such as
    /// `create_timeline`, or an API call: `create_branch`, `create_snapshot`,
    /// `restore_snapshot`, `delete_branch`, `create_endpoint`, `finalize_restore`) end with
    /// `status` (`failed` or `error`) and an `error` text. A failed restore does not finalize.
    FailOperation {
        action: String,
        status: String,
        times: usize,
    },
}

impl Fault {
    /// `status` for the next `times` requests of `method` to a path containing `path`.
    pub fn status(method: &str, path: &str, status: u16, times: usize) -> Fault {
        Fault::Status {
            method: Some(method.to_string()),
            path_contains: path.to_string(),
            status,
            retry_after: None,
            times,
        }
    }
    /// 429 with `Retry-After: secs`.
    pub fn rate_limited(method: &str, path: &str, secs: u64, times: usize) -> Fault {
        Fault::Status {
            method: Some(method.to_string()),
            path_contains: path.to_string(),
            status: 429,
            retry_after: Some(secs),
            times,
        }
    }
    /// Drop the connection before handling.
    pub fn drop_connection(method: &str, path: &str, times: usize) -> Fault {
        Fault::DropConnection {
            method: Some(method.to_string()),
            path_contains: path.to_string(),
            after_apply: false,
            times,
        }
    }
    /// Handle the request, then drop the connection instead of answering.
    pub fn drop_after_apply(method: &str, path: &str, times: usize) -> Fault {
        Fault::DropConnection {
            method: Some(method.to_string()),
            path_contains: path.to_string(),
            after_apply: true,
            times,
        }
    }
    /// Reset the connection (RST) before handling.
    pub fn reset(method: &str, path: &str, times: usize) -> Fault {
        Fault::Reset {
            method: Some(method.to_string()),
            path_contains: path.to_string(),
            after_apply: false,
            times,
        }
    }
    pub fn delay(method: &str, path: &str, delay: Duration, times: usize) -> Fault {
        Fault::Delay {
            method: Some(method.to_string()),
            path_contains: path.to_string(),
            delay,
            after_apply: false,
            times,
        }
    }
    pub fn fail_operation(action: &str, status: &str, times: usize) -> Fault {
        Fault::FailOperation {
            action: action.to_string(),
            status: status.to_string(),
            times,
        }
    }
}

/// What the server does with a request, decided before handling it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    /// Answer this instead of handling.
    pub status: Option<(u16, Option<u64>)>,
    pub drop_before: bool,
    pub drop_after: bool,
    /// The dropped connection is reset rather than closed.
    pub reset: bool,
    pub delay_before: Duration,
    pub delay_after: Duration,
}

fn matches(method: &Option<String>, path_contains: &str, req_method: &str, req_path: &str) -> bool {
    method
        .as_deref()
        .is_none_or(|m| m.eq_ignore_ascii_case(req_method))
        && req_path.contains(path_contains)
}

/// Consumes the faults that match this request and returns the plan. Each kind applies at
/// most once per request (the first matching fault of that kind).
pub(crate) fn plan(faults: &mut Vec<Fault>, method: &str, path: &str) -> Plan {
    let mut plan = Plan::default();
    let (mut got_status, mut got_drop, mut got_delay) = (false, false, false);
    for f in faults.iter_mut() {
        let is_reset = matches!(f, Fault::Reset { .. });
        match f {
            Fault::Status {
                method: m,
                path_contains,
                status,
                retry_after,
                times,
            } if !got_status && *times > 0 && matches(m, path_contains, method, path) => {
                got_status = true;
                *times -= 1;
                plan.status = Some((*status, *retry_after));
            }
            Fault::DropConnection {
                method: m,
                path_contains,
                after_apply,
                times,
            }
            | Fault::Reset {
                method: m,
                path_contains,
                after_apply,
                times,
            } if !got_drop && *times > 0 && matches(m, path_contains, method, path) => {
                got_drop = true;
                *times -= 1;
                plan.reset = is_reset;
                if *after_apply {
                    plan.drop_after = true;
                } else {
                    plan.drop_before = true;
                }
            }
            Fault::Delay {
                method: m,
                path_contains,
                delay,
                after_apply,
                times,
            } if !got_delay && *times > 0 && matches(m, path_contains, method, path) => {
                got_delay = true;
                *times -= 1;
                if *after_apply {
                    plan.delay_after = *delay;
                } else {
                    plan.delay_before = *delay;
                }
            }
            _ => {}
        }
    }
    faults.retain(|f| match f {
        Fault::Status { times, .. }
        | Fault::DropConnection { times, .. }
        | Fault::Reset { times, .. }
        | Fault::Delay { times, .. }
        | Fault::FailOperation { times, .. } => *times > 0,
    });
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_down_and_matches_method_and_path() {
        let mut faults = vec![
            Fault::status("POST", "/snapshot", 423, 2),
            Fault::drop_connection("GET", "/branches", 1),
        ];
        assert!(plan(&mut faults, "GET", "/x/snapshot").status.is_none());
        assert_eq!(
            plan(
                &mut faults,
                "post",
                "/api/v2/projects/p/branches/b/snapshot"
            )
            .status,
            Some((423, None))
        );
        assert!(plan(&mut faults, "GET", "/api/v2/projects/p/branches").drop_before);
        assert!(!plan(&mut faults, "GET", "/api/v2/projects/p/branches").drop_before);
        assert_eq!(
            plan(&mut faults, "POST", "/x/snapshot").status,
            Some((423, None))
        );
        assert!(plan(&mut faults, "POST", "/x/snapshot").status.is_none());
        assert!(faults.is_empty());
    }
}
