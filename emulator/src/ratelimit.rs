//! Neon's documented API rate limits: 700 requests a minute for the account and bursts of 40
//! requests a second per route. Sliding windows on the emulated clock (so a simulation that
//! moves the clock sees the same limits every run); a refused request does not count.

use std::collections::{HashMap, VecDeque};

use jiff::{SignedDuration, Timestamp};

pub(crate) struct RateLimiter {
    per_minute: usize,
    per_route_second: usize,
    minute: VecDeque<Timestamp>,
    routes: HashMap<String, VecDeque<Timestamp>>,
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
    pub(crate) fn check(&mut self, method: &str, path: &str, now: Timestamp) -> Option<u64> {
        let prune = |q: &mut VecDeque<Timestamp>, window: SignedDuration| {
            while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
                q.pop_front();
            }
        };
        prune(&mut self.minute, SignedDuration::from_secs(60));
        let route = self.routes.entry(route_key(method, path)).or_default();
        prune(route, SignedDuration::from_secs(1));
        let wait = |q: &VecDeque<Timestamp>, window: SignedDuration| {
            let oldest = *q.front().expect("a full window is not empty");
            let left = (window - now.duration_since(oldest)).as_millis().max(0) as u64;
            left.div_ceil(1000).max(1)
        };
        if self.minute.len() >= self.per_minute {
            return Some(wait(&self.minute, SignedDuration::from_secs(60)));
        }
        if route.len() >= self.per_route_second {
            return Some(wait(route, SignedDuration::from_secs(1)));
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
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        for _ in 0..40 {
            assert_eq!(r.check("GET", "/api/v2/projects/p/operations/1", now), None);
        }
        assert_eq!(
            r.check("GET", "/api/v2/projects/p/operations/2", now),
            Some(1)
        );
        assert_eq!(
            r.check("GET", "/api/v2/projects/p/branches", now),
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
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        for i in 0..700 {
            // Distinct routes so the burst limit does not interfere.
            assert_eq!(
                r.check("GET", &format!("/api/v2/projects/p/x{}", i % 100), now),
                None
            );
        }
        assert!(r.check("GET", "/api/v2/projects/p/y", now).unwrap() >= 1);
        // A minute later the window is free again.
        let later = now + SignedDuration::from_secs(60);
        assert_eq!(r.check("GET", "/api/v2/projects/p/y", later), None);
    }
}
