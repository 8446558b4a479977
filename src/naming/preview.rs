//! Preview branch names: the `preview_branch_name` template filled in and sanitised to a valid,
//! stable Neon name, and the way back from a name to its pull request (for sweep).
//!
//! Names keep `[A-Za-z0-9._/-]` and map every other character (unicode, `#`, spaces, control
//! characters) to `-`, collapse repeated separators and trim them at both ends, so the name is
//! also safe to print. Names over 256 characters (Neon's limit) are cut and get a stable hash
//! of the full name, so two long refs never share a branch. `{sha}` is the 7-character short
//! sha, as git prints it.

use super::short_sha;

/// Neon's limit for a branch name (`maxLength: 256` in the OpenAPI spec).
pub const MAX_BRANCH_NAME: usize = 256;

/// Characters that separate words in a name: collapsed when repeated, trimmed at the ends.
const SEPARATORS: [char; 3] = ['-', '/', '.'];

/// Hex digits of the hash that ends a truncated name.
const HASH_LEN: usize = 8;

/// The preview branch name for a PR: the template with `{pr}`, `{ref}` and `{sha}` (short)
/// filled in, sanitised to a valid, non-empty, stable Neon name of at most 256 characters.
pub fn preview_branch_name(template: &str, pr: u64, head_ref: &str, head_sha: &str) -> String {
    let rendered = template
        .replace("{pr}", &pr.to_string())
        .replace("{ref}", head_ref)
        .replace("{sha}", &short_sha(head_sha));
    // Only a template without `{pr}` can come out empty (say `{ref}` for a ref in Japanese).
    fit(&rendered, &format!("pr-{pr}"))
}

/// create-branch-action's `branch_name`: a literal name, sanitised the same way.
pub fn literal_branch_name(name: &str) -> String {
    fit(name, "preview")
}

/// Sanitised, never empty (`fallback`), at most 256 characters with a stable hash when cut.
fn fit(rendered: &str, fallback: &str) -> String {
    let name = sanitise(rendered);
    if name.is_empty() {
        return fallback.to_string();
    }
    if name.len() <= MAX_BRANCH_NAME {
        return name;
    }
    // ASCII only from here on, so byte lengths are character counts.
    let head = name[..MAX_BRANCH_NAME - HASH_LEN - 1].trim_end_matches(SEPARATORS);
    format!("{head}-{}", stable_hash(rendered))
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

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str = "preview/pr-{pr}-{ref}";
    const SHA: &str = "AB12CD34EF567890ab12cd34ef567890ab12cd34";

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
}
