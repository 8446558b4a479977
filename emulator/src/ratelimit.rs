//! Neon's documented API rate limits: 700 requests a minute for the account and bursts of 40
//! requests a second per route. Sliding windows; a refused request does not count.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

pub(crate) struct RateLimiter {
    per_minute: usize,
    per_route_second: usize,
    minute: VecDeque<Instant>,
    routes: HashMap<String, VecDeque<Instant>>,
}

/// `GET /api/v2/projects/p/branches/br-x-y-1/endpoints` → `GET projects/{}/branches/{}/endpoints`:
/// identifiers (every segment after a collection name) do not make a new route.
fn route_key(method: &str, path: &str) -> String {
    let segs: Vec<&str> = path
        .trim_start_matches("/api/v2")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let mut key = String::from(method);
    for (i, s) in segs.iter().enumerate() {
        key.push(' ');
        key.push_str(if i % 2 == 1 { "{}" } else { s });
    }
    key
}

impl RateLimiter {
    pub(crate) fn neon() -> RateLimiter {
        RateLimiter {
            per_minute: 700,
            per_route_second: 40,
            minute: VecDeque::new(),
            routes: HashMap::new(),
        }
    }

    /// `None`: allowed (and counted). `Some(secs)`: refused, retry after that many seconds.
    pub(crate) fn check(&mut self, method: &str, path: &str) -> Option<u64> {
        let now = Instant::now();
        let prune = |q: &mut VecDeque<Instant>, window: Duration| {
            while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
                q.pop_front();
            }
        };
        prune(&mut self.minute, Duration::from_secs(60));
        let route = self.routes.entry(route_key(method, path)).or_default();
        prune(route, Duration::from_secs(1));
        let wait = |q: &VecDeque<Instant>, window: Duration| {
            let oldest = *q.front().expect("a full window is not empty");
            (window
                .saturating_sub(now.duration_since(oldest))
                .as_millis() as u64)
                .div_ceil(1000)
                .max(1)
        };
        if self.minute.len() >= self.per_minute {
            return Some(wait(&self.minute, Duration::from_secs(60)));
        }
        if route.len() >= self.per_route_second {
            return Some(wait(route, Duration::from_secs(1)));
        }
        self.minute.push_back(now);
        route.push_back(now);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_are_limited_per_route() {
        let mut r = RateLimiter::neon();
        for _ in 0..40 {
            assert_eq!(r.check("GET", "/api/v2/projects/p/operations/1"), None);
        }
        assert_eq!(r.check("GET", "/api/v2/projects/p/operations/2"), Some(1));
        assert_eq!(
            r.check("GET", "/api/v2/projects/p/branches"),
            None,
            "another route"
        );
        assert_eq!(
            route_key("GET", "/api/v2/projects/p/branches/b/endpoints"),
            "GET projects {} branches {} endpoints"
        );
    }

    #[test]
    fn minute_budget() {
        let mut r = RateLimiter::neon();
        for i in 0..700 {
            // Distinct routes so the burst limit does not interfere.
            assert_eq!(
                r.check("GET", &format!("/api/v2/projects/p/x{}", i % 100)),
                None
            );
        }
        assert!(r.check("GET", "/api/v2/projects/p/y").unwrap() >= 1);
    }
}
