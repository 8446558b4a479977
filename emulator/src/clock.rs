//! The emulated clock, shared by the Neon model and the GitHub fake: the wall clock moved by
//! the tests, or (for a deterministic simulation) a fixed start that only the caller moves.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// `start` (or the wall clock when `None`) plus everything [`Clock::advance`] and
/// [`Clock::set_now`] added. Copy: the GitHub fake holds a copy its [`crate::State`] keeps
/// in step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    start: Option<Timestamp>,
    offset: SignedDuration,
}

/// [`Clock::set_now`] was asked to go back in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockWentBack {
    pub now: Timestamp,
    pub asked: Timestamp,
}

impl std::fmt::Display for ClockWentBack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the emulated clock only moves forward: it is {}, {} was asked",
            self.now, self.asked
        )
    }
}

impl std::error::Error for ClockWentBack {}

impl Clock {
    /// A clock that reads `start` until it is moved (`None`: the wall clock).
    pub fn starting_at(start: Option<Timestamp>) -> Clock {
        Clock {
            start,
            offset: SignedDuration::ZERO,
        }
    }

    pub fn now(&self) -> Timestamp {
        self.start.unwrap_or_else(Timestamp::now) + self.offset
    }

    pub fn advance(&mut self, by: Duration) {
        self.offset += SignedDuration::try_from(by).unwrap_or_default();
    }

    /// Moves the clock to `ts`; refuses to go back (operations and expiries only ever move
    /// forward).
    pub fn set_now(&mut self, ts: Timestamp) -> Result<(), ClockWentBack> {
        let now = self.now();
        if ts < now {
            return Err(ClockWentBack { now, asked: ts });
        }
        self.offset += ts.duration_since(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_start_moves_only_when_told() {
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut c = Clock::starting_at(Some(start));
        assert_eq!(c.now(), start);
        c.advance(Duration::from_secs(90));
        assert_eq!(c.now(), start + SignedDuration::from_secs(90));
        let later: Timestamp = "2026-01-02T00:00:00Z".parse().unwrap();
        c.set_now(later).unwrap();
        assert_eq!(c.now(), later);
        let err = c.set_now(start).unwrap_err();
        assert_eq!((err.now, err.asked), (later, start));
        assert_eq!(c.now(), later, "a refused set_now leaves the clock alone");
    }

    #[test]
    fn the_wall_clock_is_the_default() {
        let c = Clock::default();
        let wall = Timestamp::now();
        assert!(c.now().duration_since(wall).abs() < SignedDuration::from_secs(5));
    }
}
