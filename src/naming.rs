//! The names neon-promote gives things, and how it recognises them again later: preview branch
//! names (from the `preview_branch_name` template) and snapshot names (which carry the UTC time,
//! the PR number and the short commit sha, so `latest`, sweep and the re-run check can find our
//! snapshots among everybody else's). Pure functions only: no I/O.
//!
//! Preview branch names keep `[A-Za-z0-9._/-]` and map every other character (unicode, `#`,
//! spaces, control characters) to `-`, collapse repeated separators and trim them at both ends,
//! so the name is also safe to print. Names over 256 characters (Neon's limit) are cut and get a
//! stable hash of the full name, so two long refs never share a branch. `{sha}` is the 7-character
//! short sha, as git prints it.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

/// Neon's limit for a branch name (`maxLength: 256` in the OpenAPI spec).
pub const MAX_BRANCH_NAME: usize = 256;

/// How many characters of a commit sha names carry (`git log --oneline`).
pub const SHORT_SHA: usize = 7;

/// Characters that separate words in a name: collapsed when repeated, trimmed at the ends.
const SEPARATORS: [char; 3] = ['-', '/', '.'];

/// Hex digits of the hash that ends a truncated name.
const HASH_LEN: usize = 8;

/// The snapshot time format: UTC, no characters Neon or a shell would mind.
const TIME_FORMAT: &str = "%Y-%m-%d_%H-%M-%S";

/// The short form of a commit sha: its first 7 characters, lowercased.
pub fn short_sha(sha: &str) -> String {
    sha.trim()
        .chars()
        .take(SHORT_SHA)
        .collect::<String>()
        .to_ascii_lowercase()
}

// ---------------------------------------------------------------------------------------------
// Preview branches

/// The preview branch name for a PR: the template with `{pr}`, `{ref}` and `{sha}` (short)
/// filled in, sanitised to a valid, non-empty, stable Neon name of at most 256 characters.
pub fn preview_branch_name(template: &str, pr: u64, head_ref: &str, head_sha: &str) -> String {
    let rendered = template
        .replace("{pr}", &pr.to_string())
        .replace("{ref}", head_ref)
        .replace("{sha}", &short_sha(head_sha));
    let name = sanitise(&rendered);
    if name.is_empty() {
        // Only a template without `{pr}` can come out empty (say `{ref}` for a ref in Japanese).
        return format!("pr-{pr}");
    }
    if name.len() <= MAX_BRANCH_NAME {
        return name;
    }
    // ASCII only from here on, so byte lengths are character counts.
    let head = name[..MAX_BRANCH_NAME - HASH_LEN - 1].trim_end_matches(SEPARATORS);
    format!("{head}-{}", stable_hash(&rendered))
}

/// The PR number of a preview branch that `template` made, or `None` when the name is not one
/// of ours (or the template has no `{pr}`, so names cannot be traced back to a PR).
pub fn preview_pr_number(template: &str, branch_name: &str) -> Option<u64> {
    let atoms = atoms(template);
    if !atoms.contains(&Atom::Pr) {
        return None;
    }
    let name = branch_name.as_bytes();
    if let found @ Some(_) = match_atoms(&atoms, name, 0, 0, None, false) {
        return found;
    }
    // A truncated name: its head, then `-` and the hash. The head matches a prefix of the template.
    let head_len = name.len().checked_sub(HASH_LEN + 1)?;
    let (head, tail) = name.split_at(head_len);
    let hashed = head_len >= MAX_BRANCH_NAME - 2 * HASH_LEN
        && tail[0] == b'-'
        && tail[1..]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
    if hashed {
        match_atoms(&atoms, head, 0, 0, None, true)
    } else {
        None
    }
}

fn is_allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-')
}

/// Maps disallowed characters to `-`, collapses each run of separators into its strongest
/// (`/` over `.` over `-`, so `feat/ü` keeps its slash), trims them at both ends.
fn sanitise(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = if is_allowed(c) { c } else { '-' };
        match out.chars().last() {
            Some(last) if separator_rank(last) > 0 && separator_rank(c) > 0 => {
                if separator_rank(c) > separator_rank(last) {
                    out.pop();
                    out.push(c);
                }
            }
            _ => out.push(c),
        }
    }
    out.trim_matches(SEPARATORS).to_string()
}

/// 0 for a word character; among separators, the one kept when a run collapses ranks highest.
fn separator_rank(c: char) -> u8 {
    match c {
        '/' => 3,
        '.' => 2,
        '-' => 1,
        _ => 0,
    }
}

/// FNV-1a: stable across Rust releases and platforms (std's hasher promises neither).
fn stable_hash(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")[..HASH_LEN].to_string()
}

/// One unit of a template, as it appears in a sanitised name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Atom {
    Char(u8),
    /// `{pr}`: decimal digits.
    Pr,
    /// `{ref}` or `{sha}`: anything, possibly nothing.
    Any,
}

fn atoms(template: &str) -> Vec<Atom> {
    let mut atoms = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        let placeholder = [
            ("{pr}", Atom::Pr),
            ("{ref}", Atom::Any),
            ("{sha}", Atom::Any),
        ]
        .into_iter()
        .find(|(p, _)| rest.starts_with(p));
        if let Some((p, atom)) = placeholder {
            atoms.push(atom);
            rest = &rest[p.len()..];
        } else {
            let c = rest.chars().next().expect("rest is not empty");
            atoms.push(Atom::Char(if is_allowed(c) { c as u8 } else { b'-' }));
            rest = &rest[c.len_utf8()..];
        }
    }
    atoms
}

/// Matches a sanitised name against template atoms, returning the `{pr}` it holds. A separator
/// of the template may match nothing where sanitising collapsed or trimmed it. In `prefix`
/// mode (a truncated name) the name may end anywhere after `{pr}`.
fn match_atoms(
    atoms: &[Atom],
    name: &[u8],
    a: usize,
    i: usize,
    pr: Option<u64>,
    prefix: bool,
) -> Option<u64> {
    let rank = |c: u8| separator_rank(char::from(c));
    if i == name.len() {
        let rest_vanishes = atoms[a..]
            .iter()
            .all(|atom| matches!(atom, Atom::Any) || matches!(atom, Atom::Char(c) if rank(*c) > 0));
        return pr.filter(|_| prefix || rest_vanishes);
    }
    match *atoms.get(a)? {
        Atom::Char(c) if name[i] == c => match_atoms(atoms, name, a + 1, i + 1, pr, prefix),
        // A separator that a run collapsed into a stronger one, or that was trimmed.
        Atom::Char(c) if rank(c) > 0 => {
            if rank(name[i]) > rank(c) {
                match_atoms(atoms, name, a + 1, i + 1, pr, prefix)
                    .or_else(|| match_atoms(atoms, name, a + 1, i, pr, prefix))
            } else if i == 0 || rank(name[i - 1]) > 0 {
                match_atoms(atoms, name, a + 1, i, pr, prefix)
            } else {
                None
            }
        }
        Atom::Char(_) => None,
        Atom::Pr => {
            let digits = name[i..].iter().take_while(|b| b.is_ascii_digit()).count();
            (1..=digits.min(19)).rev().find_map(|len| {
                let text = std::str::from_utf8(&name[i..i + len]).ok()?;
                if len > 1 && text.starts_with('0') {
                    return None;
                }
                let n = text.parse().ok()?;
                match_atoms(atoms, name, a + 1, i + len, Some(n), prefix)
            })
        }
        Atom::Any => (i..=name.len()).find_map(|j| match_atoms(atoms, name, a + 1, j, pr, prefix)),
    }
}

// ---------------------------------------------------------------------------------------------
// Snapshots

/// Why we took a snapshot; its tag in the name, and the branch it is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotKind {
    /// Of prod, before a promotion: the rollback point (`latest` picks the newest).
    PrePromotion,
    /// Of dev, what a promotion restores onto prod.
    Candidate,
    /// Of prod, before a rollback, so the rollback itself can be undone.
    PreRollback,
    /// Of prod, restored onto dev by refresh-dev.
    DevRefresh,
}

impl SnapshotKind {
    const ALL: [Self; 4] = [
        Self::PrePromotion,
        Self::Candidate,
        Self::PreRollback,
        Self::DevRefresh,
    ];

    fn tag(self) -> &'static str {
        match self {
            Self::PrePromotion => "pre-promotion",
            Self::Candidate => "candidate",
            Self::PreRollback => "pre-rollback",
            Self::DevRefresh => "dev-refresh",
        }
    }

    fn source(self) -> &'static str {
        match self {
            Self::Candidate => "dev",
            Self::PrePromotion | Self::PreRollback | Self::DevRefresh => "prod",
        }
    }
}

/// A snapshot name in our convention, e.g.
/// `prod_snap_2026-11-23_10-15-00_pre-promotion_pr-42_ab12cd3` or
/// `prod_snap_2026-11-23_10-15-00_dev-refresh`. The PR and sha parts are optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotName {
    pub kind: SnapshotKind,
    /// UTC, whole seconds.
    pub taken_at: Timestamp,
    pub pr: Option<u64>,
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
            taken_at,
            pr,
            sha,
        }
    }

    /// Recognises a name this action gave; `None` for anybody else's snapshot.
    pub fn parse(name: &str) -> Option<Self> {
        let kind = SnapshotKind::ALL.into_iter().find_map(|kind| {
            let rest = name.strip_prefix(kind.source())?.strip_prefix("_snap_")?;
            let tag = rest.get(20..)?.split('_').next()?;
            (tag == kind.tag()).then_some(kind)
        })?;
        let rest = &name[kind.source().len() + "_snap_".len()..];
        let (time, rest) = rest.split_at_checked(19)?;
        let datetime = DateTime::strptime(TIME_FORMAT, time).ok()?;
        let taken_at = TimeZone::UTC.to_timestamp(datetime).ok()?;
        let mut parts = rest.strip_prefix('_')?.split('_').skip(1).peekable();
        let pr = match parts.peek().and_then(|p| p.strip_prefix("pr-")) {
            Some(number) => {
                let number = number.parse().ok()?;
                parts.next();
                Some(number)
            }
            None => None,
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
            taken_at,
            pr,
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
            self.kind.source(),
            self.taken_at.strftime(TIME_FORMAT),
            self.kind.tag()
        )?;
        if let Some(pr) = self.pr {
            write!(f, "_pr-{pr}")?;
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

    const DEFAULT: &str = "preview/pr-{pr}-{ref}";
    const SHA: &str = "AB12CD34EF567890ab12cd34ef567890ab12cd34";

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    #[test]
    fn default_template_keeps_plain_refs() {
        assert_eq!(
            preview_branch_name(DEFAULT, 42, "feature/login-form", SHA),
            "preview/pr-42-feature/login-form"
        );
        assert_eq!(
            preview_branch_name("pv-{pr}-{sha}", 7, "x", SHA),
            "pv-7-ab12cd3"
        );
    }

    #[test]
    fn unsafe_characters_become_single_dashes() {
        let cases = [
            ("feat/ünïcødé 🎉", "preview/pr-1-feat/n-c-d"),
            ("fix#123 now", "preview/pr-1-fix-123-now"),
            ("ü/x", "preview/pr-1/x"),
            ("a\u{0}b\r\nc\td", "preview/pr-1-a-b-c-d"),
            ("::error::##[warning]x", "preview/pr-1-error-warning-x"),
            ("--lead//trail..", "preview/pr-1-lead/trail"),
            ("日本語", "preview/pr-1"),
            ("", "preview/pr-1"),
        ];
        for (head_ref, want) in cases {
            assert_eq!(
                preview_branch_name(DEFAULT, 1, head_ref, SHA),
                want,
                "{head_ref:?}"
            );
        }
    }

    #[test]
    fn names_are_never_empty() {
        assert_eq!(preview_branch_name("{ref}", 9, "日本語", SHA), "pr-9");
        assert_eq!(preview_branch_name("///", 9, "", SHA), "pr-9");
    }

    #[test]
    fn long_names_are_cut_with_a_stable_hash_that_tells_them_apart() {
        let long_a = format!("{}a", "x".repeat(400));
        let long_b = format!("{}b", "x".repeat(400));
        let a = preview_branch_name(DEFAULT, 5, &long_a, SHA);
        let b = preview_branch_name(DEFAULT, 5, &long_b, SHA);
        assert!(a.len() <= MAX_BRANCH_NAME && b.len() <= MAX_BRANCH_NAME);
        assert_ne!(a, b);
        assert_eq!(a, preview_branch_name(DEFAULT, 5, &long_a, SHA));
        assert!(a.starts_with("preview/pr-5-xxx"));
        // Multi-byte characters count once each, and the result stays within the limit.
        let wide = "é".repeat(1000);
        let name = preview_branch_name("{ref}-{pr}", 5, &wide, SHA);
        assert!(!name.is_empty() && name.len() <= MAX_BRANCH_NAME, "{name}");
    }

    #[test]
    fn every_name_is_valid() {
        let refs = [
            "a",
            "ü",
            "#",
            " ",
            "\u{7f}",
            "a/b",
            "-",
            ".",
            "x".repeat(300).as_str(),
        ]
        .map(str::to_string);
        for head_ref in &refs {
            let name = preview_branch_name(DEFAULT, 3, head_ref, SHA);
            assert!(!name.is_empty() && name.len() <= MAX_BRANCH_NAME);
            assert!(name.chars().all(is_allowed), "{name}");
            assert!(
                !name.starts_with(SEPARATORS) && !name.ends_with(SEPARATORS),
                "{name}"
            );
        }
    }

    #[test]
    fn preview_names_are_recognised_with_their_pr() {
        for (template, pr, head_ref) in [
            (DEFAULT, 42, "feature/login"),
            (DEFAULT, 42, ""),
            (DEFAULT, 42, "-dash-first"),
            (DEFAULT, 7, "日本語/x"),
            (DEFAULT, 7, "/x"),
            (DEFAULT, 7, ".x"),
            (DEFAULT, 1234, &"y".repeat(500)),
            ("{ref}-pr{pr}", 8, "feat"),
            ("{ref}-pr{pr}", 8, ""),
            ("pv {pr} {sha}", 3, "x"),
        ] {
            let name = preview_branch_name(template, pr, head_ref, SHA);
            assert_eq!(
                preview_pr_number(template, &name),
                Some(pr),
                "{template} {name}"
            );
        }
    }

    #[test]
    fn other_names_are_not_ours() {
        for name in [
            "main",
            "dev",
            "preview/pr-",
            "preview/pr-x-feature",
            "preview/pr-42x",
            "preview/pr-042-a",
            "preview/other-42",
            "dev (old)",
        ] {
            assert_eq!(preview_pr_number(DEFAULT, name), None, "{name}");
        }
        assert_eq!(preview_pr_number("{ref}", "feature"), None);
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
}
