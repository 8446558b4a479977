//! The simulation's transport: the real client's requests go straight into the in-process
//! emulator, after a seeded draw of latency and faults (423, 429 with every form of
//! Retry-After, 503, 500 before or after applying, a reset or a timeout before or after
//! applying, an operation that ends failed, error or cancelled). Before and after every
//! request it hands the world to the invariant checks.

use std::sync::Arc;
use std::time::Duration;

use neon_promote::neon::{Fault, Method, Request, Response, Sending, Transport, TransportError};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::invariants;
use super::world::World;

/// One run's view of the network: which run it is, for the invariants.
pub struct SimTransport {
    pub world: Arc<World>,
    pub run: usize,
}

/// What the network does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mishap {
    /// Refused without being applied: 423, 429 or 503 (with a Retry-After form), 500.
    Status(u16, RetryAfter),
    /// The connection failed before the request reached Neon.
    Before(Fault),
    /// Neon applied it, but the answer was lost.
    After(Fault),
    /// Neon applied it and answered 500.
    AppliedThen500,
    /// The operation this request starts ends failed, error or cancelled.
    FailOperation(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RetryAfter {
    None,
    Zero,
    OneSecond,
    HttpDate,
    PastDate,
}

impl Transport for SimTransport {
    fn send<'a>(&'a self, req: &'a Request) -> Sending<'a> {
        Box::pin(async move {
            let world = &self.world;
            let latency = world.faults.latency.as_millis() as u64;
            let ms = world.rng(|r| r.u64(0..=latency));
            tokio::time::sleep(Duration::from_millis(ms)).await;
            world.sync_clock();
            let method = req.method.as_str();
            let mishap = draw(world, req.method, &req.path);
            let line = format!("run #{} {method} {}", self.run, req.path);
            match mishap {
                Some(Mishap::Status(status, after)) => {
                    world.trace(format!(
                        "{line} → injected {status} (Retry-After {after:?})"
                    ));
                    return Ok(refused(world, status, after));
                }
                Some(Mishap::Before(fault)) => {
                    world.trace(format!("{line} → injected {fault:?} before it was applied"));
                    return Err(lost(fault));
                }
                Some(Mishap::FailOperation(status)) => {
                    if let Some(call) = operation_call(req.method, &req.path) {
                        world.trace(format!("{line} → its operation will end {status}"));
                        world
                            .emu
                            .inject(neon_emulator::Fault::fail_operation(call, status, 1));
                    }
                }
                _ => {}
            }
            if req.method != Method::Get {
                invariants::before_mutation(world, self.run, req);
            }
            let body = req
                .body
                .as_ref()
                .map(|b| serde_json::to_vec(b).expect("json"))
                .unwrap_or_default();
            let auth = format!("Bearer {}", req.api_key);
            let reply = world.emu.handle_neon(
                method,
                &format!("/api/v2{}{}", req.path, query(&req.query)),
                &[
                    ("authorization", &auth),
                    ("content-type", "application/json"),
                ],
                &body,
            );
            world.trace(format!("{line}{} → {}", query(&req.query), reply.status));
            invariants::after_request(world, self.run, req, &reply);
            let lost_answer = matches!(mishap, Some(Mishap::After(_) | Mishap::AppliedThen500));
            track_unseen(world, self.run, req, &reply, lost_answer);
            match mishap {
                Some(Mishap::After(fault)) => {
                    world.trace(format!(
                        "{line} → applied, but the answer was lost ({fault:?})"
                    ));
                    Err(lost(fault))
                }
                Some(Mishap::AppliedThen500) => {
                    world.trace(format!("{line} → applied, then answered 500"));
                    Ok(refused(world, 500, RetryAfter::None))
                }
                _ => Ok(Response {
                    status: reply.status,
                    retry_after: reply.header("retry-after").map(str::to_string),
                    body: reply.body,
                }),
            }
        })
    }
}

/// A snapshot whose creation's answer is lost is unseen by the run until it reads the list.
fn track_unseen(
    world: &World,
    run: usize,
    req: &Request,
    reply: &neon_emulator::Reply,
    lost_answer: bool,
) {
    let created = req.method == Method::Post && req.path.ends_with("/snapshot");
    if created && lost_answer && reply.status < 300 {
        let id = reply.json()["snapshot"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        world.track(|t| t.runs[run].unseen_snapshots.push(id));
    } else if req.method == Method::Get && req.path.ends_with("/snapshots") && reply.status == 200 {
        world.track(|t| t.runs[run].unseen_snapshots.clear());
    }
}

/// The seeded draw: most requests pass; a fault takes a form that fits the request.
fn draw(world: &Arc<World>, method: Method, path: &str) -> Option<Mishap> {
    let rate = world.faults.rate;
    world.rng(|r| {
        if r.f64() >= rate {
            return None;
        }
        let after = [
            RetryAfter::None,
            RetryAfter::Zero,
            RetryAfter::OneSecond,
            RetryAfter::HttpDate,
            RetryAfter::PastDate,
        ][r.usize(0..5)];
        let mutation = method != Method::Get;
        Some(match r.u32(0..if mutation { 10 } else { 6 }) {
            0 => Mishap::Status(429, after),
            1 => Mishap::Status(503, after),
            2 => Mishap::Before(Fault::Reset),
            3 => Mishap::Before(Fault::Timeout),
            4 => Mishap::Status(500, RetryAfter::None),
            5 => Mishap::After(Fault::Timeout),
            6 => Mishap::Status(423, RetryAfter::None),
            7 => Mishap::After(Fault::Reset),
            8 => Mishap::AppliedThen500,
            _ if operation_call(method, path).is_some() => {
                Mishap::FailOperation(["failed", "error", "cancelled"][r.usize(0..3)])
            }
            _ => Mishap::Status(423, RetryAfter::None),
        })
    })
}

/// The emulator's call name for a request that starts an operation.
fn operation_call(method: Method, path: &str) -> Option<&'static str> {
    match method {
        Method::Post if path.ends_with("/snapshot") => Some("create_snapshot"),
        Method::Post if path.ends_with("/restore") => Some("restore_snapshot"),
        Method::Post if path.ends_with("/branches") => Some("create_branch"),
        Method::Post if path.ends_with("/endpoints") => Some("create_endpoint"),
        Method::Delete if path.contains("/branches/") => Some("delete_branch"),
        _ => None,
    }
}

fn refused(world: &World, status: u16, after: RetryAfter) -> Response {
    let now = world.now();
    let header = match after {
        RetryAfter::None => None,
        RetryAfter::Zero => Some("0".to_string()),
        RetryAfter::OneSecond => Some("1".to_string()),
        RetryAfter::HttpDate => Some(http_date(now + Duration::from_secs(2))),
        RetryAfter::PastDate => Some(http_date(now - Duration::from_secs(30))),
    };
    Response {
        status,
        retry_after: header,
        body: format!(r#"{{"code":"","message":"injected {status}","request_id":"sim"}}"#)
            .into_bytes(),
    }
}

fn http_date(at: jiff::Timestamp) -> String {
    at.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn lost(fault: Fault) -> TransportError {
    TransportError {
        fault,
        detail: "injected by the simulation".into(),
    }
}

/// `?a=1&b=x%2Fy`, as reqwest would encode it.
fn query(pairs: &[(&'static str, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC)))
        .collect();
    format!("?{}", parts.join("&"))
}
