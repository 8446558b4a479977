//! Parsers for one input's text each; an `Err` says what the input accepts.

use std::time::Duration;

use jiff::Timestamp;

use super::{BranchType, CommandName, Expiry, Policy, SslMode};

/// Neon refuses a branch expiry more than 30 days ahead.
pub const MAX_PREVIEW_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

pub fn boolean(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("use true or false".into()),
    }
}

pub fn command(v: &str) -> Result<Option<CommandName>, String> {
    let v = v.to_ascii_lowercase().replace('_', "-");
    if v == "auto" {
        return Ok(None);
    }
    CommandName::ALL
        .into_iter()
        .find(|c| c.as_str() == v)
        .map(Some)
        .ok_or_else(|| {
            let names: Vec<&str> = CommandName::ALL.iter().map(|c| c.as_str()).collect();
            format!("use auto, {}", names.join(", "))
        })
}

pub fn ssl(v: &str) -> Result<SslMode, String> {
    match v.to_ascii_lowercase().as_str() {
        "require" => Ok(SslMode::Require),
        "verify-ca" => Ok(SslMode::VerifyCa),
        "verify-full" => Ok(SslMode::VerifyFull),
        "omit" => Ok(SslMode::Omit),
        _ => Err("use require, verify-ca, verify-full or omit".into()),
    }
}

pub fn policy(v: &str) -> Result<Policy, String> {
    match v.to_ascii_lowercase().as_str() {
        "warn" => Ok(Policy::Warn),
        "fail" => Ok(Policy::Fail),
        "ignore" => Ok(Policy::Ignore),
        _ => Err("use warn, fail or ignore".into()),
    }
}

pub fn branch_type(v: &str) -> Result<BranchType, String> {
    match v.to_ascii_lowercase().as_str() {
        "default" => Ok(BranchType::Default),
        "schema-only" => Ok(BranchType::SchemaOnly),
        _ => Err("use default or schema-only".into()),
    }
}

pub fn url(v: &str) -> Result<String, String> {
    let accepts = "use an http(s) URL such as https://console.neon.tech/api/v2";
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"))
        .ok_or(accepts)?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || v.chars().any(char::is_whitespace) {
        return Err(accepts.into());
    }
    Ok(v.trim_end_matches('/').to_string())
}

pub fn count(v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(0) => {
            Err("0 would delete every rollback point, the one just taken too; use 1 or more".into())
        }
        Ok(n) => Ok(n),
        Err(_) => Err("use a whole number, 1 or more".into()),
    }
}

/// `90s`, `30m`, `12h`, `7d` (one number and one unit).
pub fn duration(v: &str) -> Option<Duration> {
    let v = v.trim().to_ascii_lowercase();
    let split = v.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = v.split_at(split);
    let n: u64 = number.parse().ok()?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    Some(Duration::from_secs(n.checked_mul(secs)?))
}

/// A duration from now, an RFC 3339 time in the future, or `none`. A duration whose end is
/// past what a timestamp can hold is refused, never taken as "no expiry".
pub fn expiry(v: &str, now: Timestamp) -> Result<Expiry, String> {
    let accepts = "use a duration (30m, 12h, 7d), an RFC 3339 time (2026-12-01T12:00:00Z) or none";
    if v.eq_ignore_ascii_case("none") {
        return Ok(Expiry::Never);
    }
    if let Some(d) = duration(v) {
        if d.is_zero() {
            return Err(accepts.into());
        }
        if now.checked_add(d).is_err() {
            return Err(format!("{v} ends past the year 9999; {accepts}"));
        }
        return Ok(Expiry::After(d));
    }
    let t: Timestamp = v.parse().map_err(|_| accepts.to_string())?;
    if t <= now {
        return Err(format!("{t} is in the past; {accepts}"));
    }
    Ok(Expiry::At(t))
}

/// An expiry Neon accepts for a branch: at most 30 days ahead.
pub fn branch_expiry(v: &str, now: Timestamp) -> Result<Expiry, String> {
    let e = expiry(v, now)?;
    let too_far = match &e {
        Expiry::After(d) => *d > MAX_PREVIEW_TTL,
        Expiry::At(t) => {
            t.duration_since(now)
                > jiff::SignedDuration::try_from(MAX_PREVIEW_TTL).expect("30 days")
        }
        Expiry::Never => false,
    };
    if too_far {
        return Err("Neon refuses a branch expiry more than 30 days ahead; use at most 30d, an RFC 3339 time within 30 days, or none".into());
    }
    Ok(e)
}

/// create-branch-action's `expires_at`: an RFC 3339 time, within Neon's 30 days.
pub fn rfc3339_expiry(v: &str, now: Timestamp) -> Result<Expiry, String> {
    if v.parse::<Timestamp>().is_err() {
        return Err("use an RFC 3339 time such as 2026-12-01T12:00:00Z".into());
    }
    branch_expiry(v, now)
}

/// Seconds of inactivity before the compute suspends (`suspend_timeout_seconds`); create-branch-action's
/// `0` means Neon's default. Neon's `SuspendTimeoutSeconds` says the minimum is 60.
pub fn suspend_timeout(v: &str) -> Result<Option<i64>, String> {
    match v.parse::<i64>() {
        Ok(0) => Ok(None),
        Ok(n) if n == -1 || (60..=604_800).contains(&n) => Ok(Some(n)),
        _ => Err("use -1 (never suspend), 0 (Neon's default, 300) or 60 to 604800 seconds".into()),
    }
}

/// A JSON array of masking rules (Neon's `MaskingRule` objects).
pub fn masking_rules(v: &str) -> Result<serde_json::Value, String> {
    match serde_json::from_str::<serde_json::Value>(v) {
        Ok(rules @ serde_json::Value::Array(_)) => Ok(rules),
        _ => Err("use a JSON array of masking rules, e.g. [{\"database_name\":\"neondb\",\"schema_name\":\"public\",\"table_name\":\"users\",\"column_name\":\"email\",\"masking_function\":\"anon.dummy_free_email()\"}]".into()),
    }
}

pub fn timeout(v: &str) -> Result<Duration, String> {
    match duration(v) {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err("use a duration such as 90s, 10m or 1h".into()),
    }
}

pub fn pr(v: &str) -> Result<Option<u64>, String> {
    v.trim_start_matches('#')
        .parse()
        .map(Some)
        .map_err(|_| "use a pull request number".to_string())
}

pub fn project_id(v: &str) -> Result<String, String> {
    if v.chars()
        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
    {
        Ok(v.to_string())
    } else {
        Err("a Neon project id looks like `autumn-fog-12345678`: lowercase letters, digits and dashes (Settings → General in the Neon Console)".into())
    }
}

pub fn repo(v: &str) -> Result<String, String> {
    match v.split_once('/') {
        Some((owner, name)) if !owner.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok(v.to_string())
        }
        _ => Err("use OWNER/NAME".into()),
    }
}
