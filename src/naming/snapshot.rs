//! Snapshot names in our convention, e.g.
//! `prod_snap_2026-11-23_10-15-00_pre-promotion_pr-42_ab12cd3`: which branch (`prod_`/`dev_`),
//! when (UTC, whole seconds), why (the kind), and optionally the PR, the workflow run and the
//! short commit sha. A name that does not parse is somebody else's snapshot, and nothing of ours
//! ever deletes it.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use super::short_sha;

/// The snapshot time format: UTC, no characters Neon or a shell would mind.
const TIME_FORMAT: &str = "%Y-%m-%d_%H-%M-%S";

/// Why we took a snapshot; its tag in the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotKind {
    /// Of prod, before a promotion: a rollback point (`latest` picks among these).
    PrePromotion,
    /// Of prod, before a rollback, so the rollback itself can be undone: a rollback point.
    PreRollback,
    /// Of prod, taken by `checkpoint` before a risky manual step: a rollback point.
    Checkpoint,
    /// Of dev, what a promotion restores onto prod.
    Candidate,
    /// Of prod, what setup or refresh-dev makes dev from.
    DevRefresh,
    /// Dev's baseline: the candidate last promoted, or the prod snapshot dev was last made
    /// from. Exactly one is kept, to tell at the next promotion whether prod was written since.
    Baseline,
}

/// The branch a snapshot is of, as its name's prefix says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Of {
    Prod,
    Dev,
}

impl Of {
    fn prefix(self) -> &'static str {
        match self {
            Self::Prod => "prod",
            Self::Dev => "dev",
        }
    }
}

impl SnapshotKind {
    const ALL: [Self; 6] = [
        Self::PrePromotion,
        Self::PreRollback,
        Self::Checkpoint,
        Self::Candidate,
        Self::DevRefresh,
        Self::Baseline,
    ];

    fn tag(self) -> &'static str {
        match self {
            Self::PrePromotion => "pre-promotion",
            Self::PreRollback => "pre-rollback",
            Self::Checkpoint => "checkpoint",
            Self::Candidate => "candidate",
            Self::DevRefresh => "dev-refresh",
            Self::Baseline => "baseline",
        }
    }

    /// Which branch a snapshot of this kind is taken of (a baseline keeps its origin's).
    fn of(self) -> Of {
        match self {
            Self::Candidate => Of::Dev,
            _ => Of::Prod,
        }
    }

    fn allowed_for(self, of: Of) -> bool {
        self == Self::Baseline || self.of() == of
    }

    /// A snapshot of prod that `rollback_snapshots_kept` counts.
    pub fn is_rollback_point(self) -> bool {
        matches!(
            self,
            Self::PrePromotion | Self::PreRollback | Self::Checkpoint
        )
    }
}

/// The workflow run a snapshot is taken in: `GITHUB_RUN_ID`, the same for every attempt, and
/// `GITHUB_RUN_ATTEMPT`, which tells a re-run's snapshot from its first attempt's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkflowRun {
    pub id: u64,
    pub attempt: u32,
}

/// A snapshot name in our convention. The PR, run and sha parts are optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotName {
    pub kind: SnapshotKind,
    pub of: Of,
    /// UTC, whole seconds.
    pub taken_at: Timestamp,
    pub pr: Option<u64>,
    /// The workflow run (`GITHUB_RUN_ID`), the same for every attempt of a run: how a re-run of
    /// a rollback recognises the rollback point its first attempt took.
    pub run: Option<u64>,
    /// The run's attempt, from the second on (`_run-812-2`): two attempts of one run never
    /// give one name, so a re-read after an unclear request cannot take an earlier attempt's
    /// snapshot for its own.
    pub attempt: Option<u32>,
    /// Short (7 characters), lowercase hex.
    pub sha: Option<String>,
}

impl SnapshotName {
    /// A name for a snapshot taken now-ish; a `sha` that is not hex (a CLI typo) is left out
    /// rather than making a name the parser would not recognise.
    pub fn new(
        kind: SnapshotKind,
        taken_at: Timestamp,
        pr: Option<u64>,
        sha: Option<&str>,
    ) -> Self {
        let taken_at = taken_at.round(jiff::Unit::Second).unwrap_or(taken_at);
        let sha = sha.map(short_sha).filter(|s| is_hex(s));
        Self {
            kind,
            of: kind.of(),
            taken_at,
            pr,
            run: None,
            attempt: None,
            sha,
        }
    }

    pub fn with_run(mut self, run: Option<WorkflowRun>) -> Self {
        self.run = run.map(|r| r.id);
        self.attempt = run.map(|r| r.attempt).filter(|a| *a > 1);
        self
    }

    /// The same snapshot, renamed as dev's baseline (its origin, time, PR and sha stay).
    pub fn as_baseline(&self) -> Self {
        Self {
            kind: SnapshotKind::Baseline,
            ..self.clone()
        }
    }

    /// Recognises a name this action gave; `None` for anybody else's snapshot.
    pub fn parse(name: &str) -> Option<Self> {
        let (of, rest) = [Of::Prod, Of::Dev].into_iter().find_map(|of| {
            let rest = name.strip_prefix(of.prefix())?.strip_prefix("_snap_")?;
            Some((of, rest))
        })?;
        let (time, rest) = rest.split_at_checked(19)?;
        let datetime = DateTime::strptime(TIME_FORMAT, time).ok()?;
        let taken_at = TimeZone::UTC.to_timestamp(datetime).ok()?;
        let mut parts = rest.strip_prefix('_')?.split('_').peekable();
        let tag = parts.next()?;
        let kind = SnapshotKind::ALL
            .into_iter()
            .find(|k| k.tag() == tag && k.allowed_for(of))?;
        let mut number = |prefix: &str| -> Option<Option<u64>> {
            match parts.peek().and_then(|p| p.strip_prefix(prefix)) {
                Some(digits) => {
                    let n = digits.parse().ok()?;
                    parts.next();
                    Some(Some(n))
                }
                None => Some(None),
            }
        };
        let pr = number("pr-")?;
        // `run-812` or `run-812-2`.
        let (run, attempt) = match parts.peek().and_then(|p| p.strip_prefix("run-")) {
            Some(digits) => {
                let (id, attempt) = match digits.split_once('-') {
                    Some((id, attempt)) => (id, Some(attempt.parse().ok()?)),
                    None => (digits, None),
                };
                let id = id.parse().ok()?;
                parts.next();
                (Some(id), attempt)
            }
            None => (None, None),
        };
        let sha = match parts.next() {
            Some(sha) if (4..=40).contains(&sha.len()) && is_hex(sha) => Some(sha.to_string()),
            Some(_) => return None,
            None => None,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            kind,
            of,
            taken_at,
            pr,
            run,
            attempt,
            sha,
        })
    }

    /// Whether this snapshot was taken for `sha` (full or short): the re-run check.
    pub fn is_for_commit(&self, sha: &str) -> bool {
        let sha = sha.trim().to_ascii_lowercase();
        self.sha
            .as_deref()
            .is_some_and(|short| sha.starts_with(short))
    }
}

/// The name of a `checkpoint` snapshot: the `checkpoint_name` template with `{date}` (our UTC
/// time format) and `{sha}` (short) filled in. The default template gives a name of ours
/// (`prod_snap_<date>_checkpoint`), which retention counts among the rollback points.
pub fn checkpoint_name(template: &str, now: Timestamp, sha: Option<&str>) -> String {
    let now = now.round(jiff::Unit::Second).unwrap_or(now);
    template
        .replace("{date}", &now.strftime(TIME_FORMAT).to_string())
        .replace("{sha}", &sha.map(short_sha).unwrap_or_default())
        .trim_matches(['_', '-'])
        .to_string()
}

fn is_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl fmt::Display for SnapshotName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}_snap_{}_{}",
            self.of.prefix(),
            self.taken_at.strftime(TIME_FORMAT),
            self.kind.tag()
        )?;
        if let Some(pr) = self.pr {
            write!(f, "_pr-{pr}")?;
        }
        if let Some(run) = self.run {
            write!(f, "_run-{run}")?;
        }
        if let (Some(_), Some(attempt)) = (self.run, self.attempt) {
            write!(f, "-{attempt}")?;
        }
        if let Some(sha) = &self.sha {
            write!(f, "_{sha}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "AB12CD34EF567890ab12cd34ef567890ab12cd34";

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    #[test]
    fn snapshot_names_follow_the_convention() {
        let t = at("2026-11-23T10:15:00.75Z");
        let name = SnapshotName::new(SnapshotKind::PrePromotion, t, Some(42), Some(SHA));
        assert_eq!(
            name.to_string(),
            "prod_snap_2026-11-23_10-15-01_pre-promotion_pr-42_ab12cd3"
        );
        let cases = [
            (
                SnapshotKind::Candidate,
                Some(42),
                Some(SHA),
                "dev_snap_2026-11-23_10-15-00_candidate_pr-42_ab12cd3",
            ),
            (
                SnapshotKind::PreRollback,
                None,
                None,
                "prod_snap_2026-11-23_10-15-00_pre-rollback",
            ),
            (
                SnapshotKind::DevRefresh,
                None,
                None,
                "prod_snap_2026-11-23_10-15-00_dev-refresh",
            ),
            (
                SnapshotKind::PrePromotion,
                None,
                Some(SHA),
                "prod_snap_2026-11-23_10-15-00_pre-promotion_ab12cd3",
            ),
            (
                SnapshotKind::PrePromotion,
                Some(9),
                Some("not a sha"),
                "prod_snap_2026-11-23_10-15-00_pre-promotion_pr-9",
            ),
            (
                SnapshotKind::Checkpoint,
                None,
                None,
                "prod_snap_2026-11-23_10-15-00_checkpoint",
            ),
        ];
        for (kind, pr, sha, want) in cases {
            let name = SnapshotName::new(kind, at("2026-11-23T10:15:00Z"), pr, sha);
            assert_eq!(name.to_string(), want);
            assert_eq!(SnapshotName::parse(want), Some(name), "{want}");
        }
    }

    #[test]
    fn snapshot_names_of_others_are_not_ours() {
        for name in [
            "prod_snap_2026-11-23_10-15-00",
            "dev_snap_2026-11-23_10-15-00_pre-promotion_pr-1_abcdef0",
            "prod_snap_2026-11-23_10-15-00_candidate",
            "prod_snap_2026-13-23_10-15-00_pre-promotion",
            "prod_snap_2026-11-23_10-15-00_pre-promotion_pr-x",
            "prod_snap_2026-11-23_10-15-00_pre-promotion_pr-1_xyz1234",
            "prod_snap_2026-11-23_10-15-00_pre-promotion_pr-1_abcdef0_more",
            "prod_snap_2026-11-23_10-15-00_pre-promotionx",
            "dev_snap_2026-11-23_10-15-00_checkpoint",
            "prod_snap_2026-11-23_10-15-00_pre-rollback_run-x",
            "my nightly snapshot",
            "",
        ] {
            assert_eq!(SnapshotName::parse(name), None, "{name}");
        }
    }

    #[test]
    fn snapshots_are_matched_to_their_commit() {
        let name = SnapshotName::new(
            SnapshotKind::PrePromotion,
            at("2026-11-23T10:15:00Z"),
            None,
            Some(SHA),
        );
        assert!(name.is_for_commit(SHA));
        assert!(name.is_for_commit("ab12cd3"));
        assert!(!name.is_for_commit("ab12cd4ffff"));
        assert!(!name.is_for_commit(""));
        let no_sha = SnapshotName::new(
            SnapshotKind::PreRollback,
            at("2026-11-23T10:15:00Z"),
            None,
            None,
        );
        assert!(!no_sha.is_for_commit(SHA));
    }
    #[test]
    fn baselines_keep_their_origin_and_runs_are_recognised() {
        let t: Timestamp = "2026-11-23T10:15:00Z".parse().unwrap();
        let candidate = SnapshotName::new(SnapshotKind::Candidate, t, Some(4), Some("abcdef0123"));
        let baseline = candidate.as_baseline();
        assert_eq!(
            baseline.to_string(),
            "dev_snap_2026-11-23_10-15-00_baseline_pr-4_abcdef0"
        );
        assert_eq!(SnapshotName::parse(&baseline.to_string()), Some(baseline));
        let refresh = SnapshotName::new(SnapshotKind::DevRefresh, t, None, None).as_baseline();
        assert_eq!(
            refresh.to_string(),
            "prod_snap_2026-11-23_10-15-00_baseline"
        );
        assert_eq!(
            SnapshotName::parse(&refresh.to_string()).unwrap().of,
            Of::Prod
        );
        let run = |attempt| Some(WorkflowRun { id: 987, attempt });
        let pre = SnapshotName::new(SnapshotKind::PreRollback, t, None, None).with_run(run(1));
        assert_eq!(
            pre.to_string(),
            "prod_snap_2026-11-23_10-15-00_pre-rollback_run-987"
        );
        assert_eq!(SnapshotName::parse(&pre.to_string()), Some(pre));
        // A re-run's name differs from its first attempt's, and is the same run.
        let again =
            SnapshotName::new(SnapshotKind::PreRollback, t, None, Some("ab12cd3")).with_run(run(2));
        assert_eq!(
            again.to_string(),
            "prod_snap_2026-11-23_10-15-00_pre-rollback_run-987-2_ab12cd3"
        );
        let parsed = SnapshotName::parse(&again.to_string()).unwrap();
        assert_eq!((parsed.run, parsed.attempt), (Some(987), Some(2)));
        assert!(
            SnapshotName::parse("prod_snap_2026-11-23_10-15-00_pre-rollback_run-987-x").is_none()
        );
        assert!(SnapshotKind::Checkpoint.is_rollback_point());
        assert!(!SnapshotKind::Baseline.is_rollback_point());
    }

    #[test]
    fn checkpoint_names_fill_date_and_sha() {
        let t: Timestamp = "2026-11-23T10:15:00.4Z".parse().unwrap();
        let name = checkpoint_name("prod_snap_{date}_checkpoint", t, None);
        assert_eq!(name, "prod_snap_2026-11-23_10-15-00_checkpoint");
        assert_eq!(
            SnapshotName::parse(&name).unwrap().kind,
            SnapshotKind::Checkpoint
        );
        let with_sha = checkpoint_name("prod_snap_{date}_checkpoint_{sha}", t, Some("ABCDEF0123"));
        assert_eq!(
            SnapshotName::parse(&with_sha).unwrap().sha.as_deref(),
            Some("abcdef0")
        );
        assert_eq!(checkpoint_name("before-{sha}", t, None), "before");
    }
}
