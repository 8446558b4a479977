//! What people read, from what a command did: the sticky PR comment and the job summary, as
//! Markdown. Pure functions of an `Outcome`; they never print and never see a secret (outcomes
//! carry the connection strings, which these functions deliberately leave out).

mod comment;
mod schema;
mod summary;

pub use comment::comment;
pub use summary::{failure_summary, summary, tidied};

use crate::outcome::{Masking, Preview};

/// What the renderers need besides the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentInfo {
    pub project_id: String,
    pub server_url: String,
    /// `owner/repo`, when run from GitHub.
    pub repository: Option<String>,
    /// The workflow file, for the `gh workflow run` line.
    pub workflow: Option<String>,
    /// What migrated dev before a promotion (`migrations`), when the workflow says.
    pub migrations: Option<String>,
}

impl CommentInfo {
    /// From the run's settings and GitHub context (the repository may come from `--repo`).
    pub fn new(config: &crate::config::Config, gh: Option<&crate::event::GitHubContext>) -> Self {
        Self {
            project_id: config.project_id.clone(),
            server_url: gh.map_or_else(|| "https://github.com".into(), |g| g.server_url.clone()),
            repository: config
                .repo
                .clone()
                .or_else(|| gh.map(|g| g.repository.clone())),
            workflow: gh.and_then(|g| g.workflow.clone()),
            migrations: config.migrations.clone().filter(|m| !m.is_empty()),
        }
    }

    /// The Neon Console page of a branch.
    fn console(&self, branch_id: &str) -> String {
        format!(
            "https://console.neon.tech/app/projects/{}/branches/{}",
            self.project_id, branch_id
        )
    }

    /// The ready-to-run rollback command for a snapshot.
    fn rollback_command(&self, snapshot_id: &str) -> String {
        rollback_command(
            self.workflow.as_deref(),
            self.repository.as_deref(),
            snapshot_id,
        )
    }
}

/// The command that restores a snapshot onto production, as the user would type it: through
/// the workflow on GitHub, or the CLI elsewhere.
pub fn rollback_command(
    workflow: Option<&str>,
    repository: Option<&str>,
    snapshot_id: &str,
) -> String {
    match (workflow, repository) {
        (Some(workflow), Some(repo)) => format!(
            "gh workflow run {} -R {repo} -f snapshot_id={snapshot_id}",
            shell_word(workflow)
        ),
        _ => format!("neon-promote rollback {snapshot_id}"),
    }
}

/// Quotes a word for a POSIX shell when it needs it (workflow names often contain spaces).
fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// What a preview holds when it is not a plain copy of dev: schema only, masked data, or both.
fn preview_data(p: &Preview) -> Option<String> {
    let schema = p
        .schema_only
        .then_some("dev's schema, no rows (`branch_type: schema-only`)");
    let masking = p.masking.map(|m| match m {
        Masking::Applied => "masked with `masking_rules`",
        Masking::Kept => {
            "masked when the branch was created; Neon applies `masking_rules` only then, so this run did not apply them again"
        }
    });
    let parts: Vec<&str> = [schema, masking].into_iter().flatten().collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Text from users or the API (refs, titles, branch names) made inert in Markdown: no HTML, no
/// links, no emphasis, no table breaks, no control characters, one line.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("&#124;"),
            // `(` and `!` are inert once `[` is escaped; `@` would mention someone.
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' | '@' => {
                out.push('\\');
                out.push(ch);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An id (ours or Neon's) as inline code; ids never contain backticks, but be sure.
fn code(text: &str) -> String {
    format!(
        "`{}`",
        text.replace('`', "'")
            .replace(|c: char| c.is_control(), " ")
    )
}

/// Cuts Markdown to `limit` bytes at a line boundary, saying so.
fn cap(mut text: String, limit: usize) -> String {
    if text.len() <= limit {
        return text;
    }
    let mut cut = limit.saturating_sub(64);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    cut = text[..cut].rfind('\n').unwrap_or(cut);
    text.truncate(cut);
    text.push_str("\n\n_(truncated)_\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_makes_markdown_and_html_inert() {
        assert_eq!(
            escape("feat/<script>|[x](http://e) **b** `c`\n"),
            "feat/&lt;script&gt;&#124;\\[x\\](http://e) \\*\\*b\\*\\* \\`c\\` "
        );
    }

    #[test]
    fn workflow_names_are_quoted_for_the_shell() {
        assert_eq!(shell_word("neon.yml"), "neon.yml");
        assert_eq!(shell_word("Neon promote"), "'Neon promote'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }

    #[test]
    fn cap_cuts_at_a_line() {
        let text = "line\n".repeat(100);
        let capped = cap(text, 200);
        assert!(capped.len() <= 200);
        assert!(capped.ends_with("_(truncated)_\n"));
    }
}
