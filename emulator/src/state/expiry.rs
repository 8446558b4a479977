//! Expiry timestamps: parsing them as the API does and the limits on how far ahead they may be.

use jiff::{SignedDuration, Timestamp};

use super::{ApiError, ApiResult, State};

/// Branch expiry may be at most this far ahead.
pub const MAX_EXPIRY: SignedDuration = SignedDuration::from_hours(30 * 24);

/// Parses an `expires_at` as the API does: RFC 3339 with an offset, seconds or fractional
/// seconds (neonctl sends milliseconds).
pub(crate) fn parse_rfc3339(field: &str, s: &str) -> ApiResult<Timestamp> {
    let bad = || {
        ApiError::new(
            400,
            format!(
                "invalid {field}: {s:?} is not an RFC 3339 timestamp (e.g. 2025-06-09T18:02:16Z)"
            ),
        )
    };
    // jiff also accepts forms RFC 3339 does not (e.g. a bracketed zone); require the basics.
    if !s.contains('T')
        || !(s.ends_with('Z')
            || s.ends_with('z')
            || s[s.len().saturating_sub(6)..].starts_with(['+', '-']))
    {
        return Err(bad());
    }
    s.parse::<Timestamp>().map_err(|_| bad())
}

impl State {
    pub(super) fn validate_expiry(&self, raw: &str) -> ApiResult<Timestamp> {
        let t = parse_rfc3339("expires_at", raw)?;
        let now = self.now();
        if t <= now {
            return Err(ApiError::new(400, "expires_at must be in the future"));
        }
        if t > now + MAX_EXPIRY {
            return Err(ApiError::new(
                400,
                "expires_at must not be more than 30 days in the future",
            ));
        }
        Ok(t)
    }
}
