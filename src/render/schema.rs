//! A schema comparison as Markdown: the destructive changes and those that may fail listed
//! first, then Neon's unified diff collapsed in a `<details>` block, cut to fit where it must.

use std::fmt::Write as _;

use super::escape;
use crate::outcome::ProdChange;
use crate::schema::SchemaDiff;

/// The schema section; `title` says what was compared (e.g. "production → dev"); the diff is
/// cut to `limit` bytes, saying where the whole one is.
pub fn section(diff: &SchemaDiff, title: &str, limit: usize) -> String {
    let mut s = String::new();
    if !diff.changed() {
        let _ = writeln!(
            s,
            "**Schema** ({title}, database {}): no change.\n",
            code(&diff.database)
        );
        return s;
    }
    let destructive = diff.destructive();
    let may_fail = diff.may_fail();
    let _ = writeln!(
        s,
        "**Schema changes** ({title}, database {}): {} destructive, {} may fail on existing rows, {} in all.\n",
        code(&diff.database),
        destructive.len(),
        may_fail.len(),
        diff.changes.len()
    );
    for (heading, list) in [
        ("⚠️ Destructive", destructive),
        ("⚠️ May fail on existing rows", may_fail),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(s, "{heading}:\n");
        for change in list {
            let _ = writeln!(s, "- {}", escape(&change.to_string()));
        }
        s.push('\n');
    }
    let (text, cut) = cut_at_line(&diff.diff, limit);
    let fence = fence_for(text);
    let _ = writeln!(
        s,
        "<details><summary>Schema diff ({title})</summary>\n\n{fence}diff\n{}\n{fence}\n",
        text.trim_end()
    );
    if cut {
        s.push_str("_The diff is cut here; the whole diff is in the job summary of this run._\n\n");
    }
    s.push_str("</details>\n\n");
    s
}

/// The prod-divergence guard's finding, in one paragraph.
pub fn prod_change(change: &ProdChange) -> String {
    let why = escape(&change.why);
    match (change.changed, &change.baseline) {
        (false, _) => format!("{}.\n\n", capitalised(&why)),
        (true, Some(_)) => format!(
            "⚠️ **Production was written since dev's baseline**: {why}. Those writes are not in production after this promotion; they stay in the rollback snapshot.\n\n"
        ),
        (true, None) => format!(
            "⚠️ **Production may have been written since dev was made**: {why}. Any such writes are not in production after this promotion; they stay in the rollback snapshot.\n\n"
        ),
    }
}

/// The text with its first letter in upper case, to start a sentence.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'"))
}

/// A code fence longer than any run of backticks in `text`, so the text cannot close it.
fn fence_for(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

/// The text up to `limit` bytes, cut at a line end; and whether it was cut.
fn cut_at_line(text: &str, limit: usize) -> (&str, bool) {
    if text.len() <= limit {
        return (text, false);
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let end = text[..end].rfind('\n').unwrap_or(end);
    (&text[..end], true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fence_cannot_be_closed_from_inside_and_long_diffs_are_cut() {
        assert_eq!(fence_for("a ``` b"), "````");
        assert_eq!(fence_for("plain"), "```");
        let diff = SchemaDiff {
            database: "neondb".into(),
            changes: Vec::new(),
            diff: "+line\n".repeat(1000),
        };
        let text = section(&diff, "production → dev", 100);
        assert!(
            text.contains("the whole diff is in the job summary"),
            "{text}"
        );
        assert!(text.len() < 800, "{}", text.len());
    }
}
