//! Inputs → a typed, validated `Config`, in two steps (raw strings, then one function that owns
//! every usage error). Everything here is checked before the first network call; a problem is a
//! `UsageError` (exit 2) that names the input and what it accepts. The credentials are checked
//! by `event::route`, because an empty `api_key` on a fork's pull request is a skip, not an error.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

/// Which command to run (`command` input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandName {
    Auto,
    Preview,
    Cleanup,
    Promote,
    Rollback,
    RefreshDev,
    Setup,
    Sweep,
}

/// `ssl` input: the `sslmode` of the connection strings, or none (`omit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Require,
    VerifyCa,
    VerifyFull,
    Omit,
}

/// A TTL input: a duration from now, a fixed time, or no expiry (`none`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expiry {
    After(Duration),
    At(jiff::Timestamp),
    Never,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Empty only where a fork PR is skipped (decided by event routing).
    pub api_key: String,
    /// Empty only where a fork PR is skipped (decided by event routing).
    pub project_id: String,
    /// Base URL without a trailing slash.
    pub api_host: String,
    pub github_token: Option<String>,
    pub command: CommandName,
    /// `None`: the project's default branch.
    pub prod_branch: Option<String>,
    pub dev_branch: String,
    /// `None`: the repository's default branch (from the event).
    pub promotion_branch: Option<String>,
    pub preview_branch_name: String,
    pub preview_ttl: Expiry,
    pub database: String,
    pub role: String,
    pub ssl: SslMode,
    pub snapshot_id: Option<String>,
    pub rollback_snapshot_ttl: Expiry,
    pub candidate_snapshot_ttl: Expiry,
    pub keep_old_branch: bool,
    pub comment: bool,
    pub dry_run: bool,
    pub timeout: Duration,
    /// Outside GitHub: the pull request and commit a command is about (`--pr`, `--ref`, `--sha`).
    pub pr: Option<u64>,
    pub git_ref: Option<String>,
    pub sha: Option<String>,
}

/// An invalid input or workflow configuration, found before any Neon call: exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    /// The input (or event) at fault, e.g. `preview_ttl`.
    pub input: String,
    pub message: String,
}

/// Every setting as text, before validation; `None` and blank both mean "not given".
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawInputs {
    pub api_key: Option<String>,
    pub project_id: Option<String>,
    pub api_host: Option<String>,
    pub github_token: Option<String>,
    pub command: Option<String>,
    pub prod_branch: Option<String>,
    pub dev_branch: Option<String>,
    pub promotion_branch: Option<String>,
    pub preview_branch_name: Option<String>,
    pub preview_ttl: Option<String>,
    pub database: Option<String>,
    pub role: Option<String>,
    pub ssl: Option<String>,
    pub snapshot_id: Option<String>,
    pub rollback_snapshot_ttl: Option<String>,
    pub candidate_snapshot_ttl: Option<String>,
    pub keep_old_branch: Option<String>,
    pub comment: Option<String>,
    pub dry_run: Option<String>,
    pub timeout: Option<String>,
    pub pr: Option<String>,
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    pub sha: Option<String>,
}

impl RawInputs {
    /// `INPUT_*` (the Action), overridden by `NEON_*` (the CLI's environment).
    pub fn from_env() -> RawInputs {
        let inputs: RawInputs = envy::prefixed("INPUT_").from_env().unwrap_or_default();
        let neon: RawInputs = envy::prefixed("NEON_").from_env().unwrap_or_default();
        neon.or(inputs)
    }

    /// Each setting from `self` where given, else from `other`.
    pub fn or(self, other: RawInputs) -> RawInputs {
        macro_rules! pick {
            ($($f:ident),*) => { RawInputs { $($f: given(self.$f).or(given(other.$f)),)* } };
        }
        pick!(
            api_key,
            project_id,
            api_host,
            github_token,
            command,
            prod_branch,
            dev_branch,
            promotion_branch,
            preview_branch_name,
            preview_ttl,
            database,
            role,
            ssl,
            snapshot_id,
            rollback_snapshot_ttl,
            candidate_snapshot_ttl,
            keep_old_branch,
            comment,
            dry_run,
            timeout,
            pr,
            git_ref,
            sha
        )
    }
}

/// Trimmed, and `None` when blank: the runner passes an empty string for an empty input.
fn given(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

const MAX_PREVIEW_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Collects every problem, so one run reports them all.
struct Check(Vec<UsageError>);

impl Check {
    fn fail(&mut self, input: &str, message: String) {
        self.0.push(UsageError {
            input: input.into(),
            message: format!("{input}: {message}"),
        });
    }

    fn parse<T>(
        &mut self,
        input: &str,
        value: Option<String>,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T
    where
        T: Clone,
    {
        match value {
            None => default,
            Some(v) => parse(&v).unwrap_or_else(|accepts| {
                self.fail(input, format!("`{v}` is not valid; {accepts}"));
                default
            }),
        }
    }
}

impl Config {
    /// The Action's and the CLI's environment.
    pub fn from_env() -> Result<Config, Vec<UsageError>> {
        Config::from_raw(RawInputs::from_env())
    }

    /// Validates every setting; all problems are returned together.
    pub fn from_raw(raw: RawInputs) -> Result<Config, Vec<UsageError>> {
        Config::from_raw_at(raw, Timestamp::now())
    }

    fn from_raw_at(raw: RawInputs, now: Timestamp) -> Result<Config, Vec<UsageError>> {
        let raw = raw.or(RawInputs::default());
        let mut c = Check(Vec::new());
        let boolean = |v: &str| match v.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err("use true or false".to_string()),
        };
        let project_id = raw.project_id.unwrap_or_default();
        if !project_id.is_empty()
            && !project_id
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
        {
            c.fail(
                "project_id",
                format!("`{project_id}` is not a Neon project id (like `autumn-fog-12345678`: lowercase letters, digits and dashes; Settings → General in the Neon Console)"),
            );
        }
        let api_host = c.parse(
            "api_host",
            raw.api_host,
            "https://console.neon.tech/api/v2".to_string(),
            parse_url,
        );
        let command = c.parse("command", raw.command, CommandName::Auto, parse_command);
        let preview_branch_name = raw
            .preview_branch_name
            .unwrap_or_else(|| "preview/pr-{pr}-{ref}".into());
        if !["{pr}", "{ref}", "{sha}"]
            .iter()
            .any(|p| preview_branch_name.contains(p))
        {
            c.fail(
                "preview_branch_name",
                format!("`{preview_branch_name}` has no placeholder, so every pull request would share one branch; include {{pr}} (and optionally {{ref}}, {{sha}})"),
            );
        }
        let preview_ttl = c.parse("preview_ttl", raw.preview_ttl, Expiry::After(Duration::from_secs(7 * 86400)), |v| {
            let e = parse_expiry(v, now)?;
            let too_far = match &e {
                Expiry::After(d) => *d > MAX_PREVIEW_TTL,
                Expiry::At(t) => t.duration_since(now) > SignedDuration::try_from(MAX_PREVIEW_TTL).expect("30 days"),
                Expiry::Never => false,
            };
            if too_far {
                return Err("Neon refuses a branch expiry more than 30 days ahead; use at most 30d, an RFC 3339 time within 30 days, or none".into());
            }
            Ok(e)
        });
        let rollback_snapshot_ttl = c.parse(
            "rollback_snapshot_ttl",
            raw.rollback_snapshot_ttl,
            Expiry::After(Duration::from_secs(30 * 86400)),
            |v| parse_expiry(v, now),
        );
        let candidate_snapshot_ttl = c.parse(
            "candidate_snapshot_ttl",
            raw.candidate_snapshot_ttl,
            Expiry::After(Duration::from_secs(86400)),
            |v| parse_expiry(v, now),
        );
        let ssl = c.parse("ssl", raw.ssl, SslMode::Require, |v| {
            match v.to_ascii_lowercase().as_str() {
                "require" => Ok(SslMode::Require),
                "verify-ca" => Ok(SslMode::VerifyCa),
                "verify-full" => Ok(SslMode::VerifyFull),
                "omit" => Ok(SslMode::Omit),
                _ => Err("use require, verify-ca, verify-full or omit".into()),
            }
        });
        let keep_old_branch = c.parse("keep_old_branch", raw.keep_old_branch, false, boolean);
        let comment = c.parse("comment", raw.comment, true, boolean);
        let dry_run = c.parse("dry_run", raw.dry_run, false, boolean);
        let timeout =
            c.parse(
                "timeout",
                raw.timeout,
                Duration::from_secs(600),
                |v| match parse_duration(v) {
                    Some(d) if !d.is_zero() => Ok(d),
                    _ => Err("use a duration such as 90s, 10m or 1h".into()),
                },
            );
        let pr = c.parse(
            "pr",
            raw.pr.map(|p| p.trim_start_matches('#').to_string()),
            None,
            |v| {
                v.parse()
                    .map(Some)
                    .map_err(|_| "use a pull request number".to_string())
            },
        );
        if !c.0.is_empty() {
            return Err(c.0);
        }
        Ok(Config {
            api_key: raw.api_key.unwrap_or_default(),
            project_id,
            api_host,
            github_token: raw.github_token,
            command,
            prod_branch: raw.prod_branch,
            dev_branch: raw.dev_branch.unwrap_or_else(|| "dev".into()),
            promotion_branch: raw.promotion_branch,
            preview_branch_name,
            preview_ttl,
            database: raw.database.unwrap_or_else(|| "neondb".into()),
            role: raw.role.unwrap_or_else(|| "neondb_owner".into()),
            ssl,
            snapshot_id: raw.snapshot_id,
            rollback_snapshot_ttl,
            candidate_snapshot_ttl,
            keep_old_branch,
            comment,
            dry_run,
            timeout,
            pr,
            git_ref: raw.git_ref,
            sha: raw.sha,
        })
    }
}

fn parse_command(v: &str) -> Result<CommandName, String> {
    Ok(match v.to_ascii_lowercase().replace('_', "-").as_str() {
        "auto" => CommandName::Auto,
        "preview" => CommandName::Preview,
        "cleanup" => CommandName::Cleanup,
        "promote" => CommandName::Promote,
        "rollback" => CommandName::Rollback,
        "refresh-dev" => CommandName::RefreshDev,
        "setup" => CommandName::Setup,
        "sweep" => CommandName::Sweep,
        _ => {
            return Err(
                "use auto, preview, cleanup, promote, rollback, refresh-dev, setup or sweep".into(),
            );
        }
    })
}

fn parse_url(v: &str) -> Result<String, String> {
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

/// `90s`, `30m`, `12h`, `7d` (one number and one unit).
pub fn parse_duration(v: &str) -> Option<Duration> {
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

/// A duration from now, an RFC 3339 time in the future, or `none`.
fn parse_expiry(v: &str, now: Timestamp) -> Result<Expiry, String> {
    let accepts = "use a duration (30m, 12h, 7d), an RFC 3339 time (2026-12-01T12:00:00Z) or none";
    if v.eq_ignore_ascii_case("none") {
        return Ok(Expiry::Never);
    }
    if let Some(d) = parse_duration(v) {
        return if d.is_zero() {
            Err(accepts.into())
        } else {
            Ok(Expiry::After(d))
        };
    }
    let t: Timestamp = v.parse().map_err(|_| accepts.to_string())?;
    if t <= now {
        return Err(format!("{} is in the past; {accepts}", t));
    }
    Ok(Expiry::At(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-23T10:00:00Z".parse().unwrap()
    }

    fn raw(pairs: &[(&str, &str)]) -> RawInputs {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        envy::from_iter(map).unwrap()
    }

    fn errors(pairs: &[(&str, &str)]) -> Vec<String> {
        Config::from_raw_at(raw(pairs), now())
            .unwrap_err()
            .into_iter()
            .map(|e| e.message)
            .collect()
    }

    #[test]
    fn empty_values_take_the_defaults() {
        let c = Config::from_raw_at(
            raw(&[
                ("api_key", "k"),
                ("project_id", "p-1"),
                ("dev_branch", "  "),
                ("ssl", ""),
            ]),
            now(),
        )
        .unwrap();
        assert_eq!(c.dev_branch, "dev");
        assert_eq!(c.ssl, SslMode::Require);
        assert_eq!(c.api_host, "https://console.neon.tech/api/v2");
        assert_eq!(c.preview_branch_name, "preview/pr-{pr}-{ref}");
        assert_eq!(c.preview_ttl, Expiry::After(Duration::from_secs(7 * 86400)));
        assert_eq!(c.timeout, Duration::from_secs(600));
        assert_eq!(c.command, CommandName::Auto);
        assert!(c.comment && !c.dry_run && !c.keep_old_branch);
    }

    #[test]
    fn values_are_trimmed_and_booleans_take_any_case() {
        let c = Config::from_raw_at(
            raw(&[
                ("dry_run", " TRUE "),
                ("comment", "False"),
                ("api_host", "http://127.0.0.1:9/api/v2/"),
                ("command", "refresh_dev"),
            ]),
            now(),
        )
        .unwrap();
        assert!(c.dry_run && !c.comment);
        assert_eq!(c.api_host, "http://127.0.0.1:9/api/v2");
        assert_eq!(c.command, CommandName::RefreshDev);
    }

    #[test]
    fn each_invalid_input_is_named_with_what_it_accepts() {
        let errs = errors(&[
            ("preview_ttl", "45d"),
            ("ssl", "prefer"),
            ("dry_run", "yes"),
            ("api_host", "console.neon.tech"),
            ("command", "deploy"),
            ("project_id", "My Project"),
            ("timeout", "soon"),
        ]);
        let inputs: Vec<&str> = errs.iter().map(|e| e.split(':').next().unwrap()).collect();
        assert_eq!(
            inputs,
            [
                "project_id",
                "api_host",
                "command",
                "preview_ttl",
                "ssl",
                "dry_run",
                "timeout"
            ]
        );
        assert!(errs[3].contains("more than 30 days"), "{}", errs[3]);
        assert!(errs[4].contains("verify-full"), "{}", errs[4]);
    }

    #[test]
    fn preview_ttl_accepts_durations_times_and_none_up_to_30_days() {
        let ttl =
            |v: &str| Config::from_raw_at(raw(&[("preview_ttl", v)]), now()).map(|c| c.preview_ttl);
        assert_eq!(
            ttl("30m").unwrap(),
            Expiry::After(Duration::from_secs(1800))
        );
        assert_eq!(ttl("30d").unwrap(), Expiry::After(MAX_PREVIEW_TTL));
        assert_eq!(ttl("none").unwrap(), Expiry::Never);
        assert!(ttl("2026-12-01T00:00:00Z").is_ok());
        assert!(ttl("31d").is_err());
        assert!(ttl("2027-01-01T00:00:00Z").is_err());
        assert!(ttl("2026-11-01T00:00:00Z").is_err());
    }

    #[test]
    fn a_template_without_placeholders_is_refused() {
        assert!(
            errors(&[("preview_branch_name", "preview")])[0].starts_with("preview_branch_name:")
        );
    }
}
