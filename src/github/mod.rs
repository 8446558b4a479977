//! The GitHub REST API, thin over octocrab: the sticky pull request comment and the pull request
//! a commit belongs to. Built on our one reqwest client with octocrab's own retries compiled
//! out (its retry layer repeats POSTs at once and can post a comment twice). It knows nothing of
//! Neon; callers turn `GitHubError::Forbidden` into a warning, never a failed run.

use octocrab::{Octocrab, Page};
use serde::Deserialize;
use serde_json::json;

/// The hidden marker that makes a comment ours (together with its author).
pub const MARKER: &str = "<!-- neon-promote:sticky -->";

/// The author of comments made with a workflow's `GITHUB_TOKEN`.
const ACTIONS_BOT: &str = "github-actions[bot]";

#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    /// The token may not do this (401, 403): a warning for the caller.
    #[error("{message}")]
    Forbidden { message: String },
    /// 404: no such pull request (or the token cannot see the repository).
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Other(String),
}

impl From<octocrab::Error> for GitHubError {
    fn from(e: octocrab::Error) -> Self {
        if let octocrab::Error::GitHub { source, .. } = &e {
            let status = source.status_code.as_u16();
            let message = format!("GitHub answered {status}: {}", source.message);
            if status == 404 {
                return GitHubError::NotFound;
            }
            if matches!(status, 401 | 403) {
                return GitHubError::Forbidden { message };
            }
            return GitHubError::Other(message);
        }
        // octocrab's Display is terse ("GitHub", "Service"): give the whole chain.
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        GitHubError::Other(message)
    }
}

#[derive(Debug, Deserialize)]
struct Comment {
    id: u64,
    html_url: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    user: Option<User>,
}

#[derive(Debug, Deserialize)]
struct User {
    login: String,
}

/// The merged pull request a commit belongs to (commands map it into their report once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedPull {
    pub number: u64,
    pub title: String,
}

/// A pull request as `pull` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    #[serde(default)]
    pub title: String,
    /// `open` or `closed`.
    pub state: String,
}

#[derive(Debug, Deserialize)]
struct Pull {
    number: u64,
    #[serde(default)]
    title: String,
    #[serde(default)]
    merged_at: Option<String>,
    base: Base,
}

#[derive(Debug, Deserialize)]
struct Base {
    #[serde(rename = "ref")]
    git_ref: String,
}

pub struct GitHub {
    octo: Octocrab,
    /// `owner/repo`
    repository: String,
}

impl GitHub {
    /// `api_url` is `GITHUB_API_URL` (GHES: `https://HOST/api/v3`; the path prefix is kept).
    pub fn new(
        http: reqwest::Client,
        api_url: &str,
        token: &str,
        repository: &str,
    ) -> anyhow::Result<GitHub> {
        let octo = Octocrab::builder()
            .base_uri(api_url)?
            .personal_token(token.to_string())
            .add_header(
                reqwest::header::ACCEPT,
                "application/vnd.github+json".to_string(),
            )
            .add_header(
                reqwest::header::HeaderName::from_static("x-github-api-version"),
                "2022-11-28".to_string(),
            )
            .build_with_reqwest(http)?;
        Ok(GitHub {
            octo,
            repository: repository.to_string(),
        })
    }

    /// Creates or updates our one comment on `pr`; returns its URL. A comment is ours when it
    /// carries the marker AND was written by us, so a person quoting the marker is never
    /// rewritten. The list is read whole (oldest first, 100 a page): PRs with hundreds of
    /// comments exist.
    pub async fn upsert_comment(&self, pr: u64, body: &str) -> Result<Option<String>, GitHubError> {
        let route = format!("/repos/{}/issues/{pr}/comments", self.repository);
        let marked = self.marked_comments(&route).await?;
        let ours = match marked.iter().find(|c| author(c) == Some(ACTIONS_BOT)) {
            Some(c) => Some(c),
            // Only when a marked comment by someone else exists: maybe the token is a person's.
            None if !marked.is_empty() => match self.login().await {
                Some(login) => marked.iter().find(|c| author(c) == Some(login.as_str())),
                None => None,
            },
            None => None,
        };
        let comment: Comment = match ours {
            Some(c) => {
                let route = format!("/repos/{}/issues/comments/{}", self.repository, c.id);
                self.octo
                    .patch(route, Some(&json!({ "body": body })))
                    .await?
            }
            None => {
                self.octo
                    .post(route, Some(&json!({ "body": body })))
                    .await?
            }
        };
        Ok(Some(comment.html_url))
    }

    async fn marked_comments(&self, route: &str) -> Result<Vec<Comment>, GitHubError> {
        let mut page: Page<Comment> = self
            .octo
            .get(route, Some(&[("per_page", "100"), ("page", "1")]))
            .await?;
        let mut marked = Vec::new();
        loop {
            marked.extend(
                page.items
                    .drain(..)
                    .filter(|c| c.body.as_deref().is_some_and(|b| b.contains(MARKER))),
            );
            match self.octo.get_page::<Comment>(&page.next).await? {
                Some(next) => page = next,
                None => return Ok(marked),
            }
        }
    }

    /// The token's own login; `None` for a `GITHUB_TOKEN`, which may not read `/user`.
    async fn login(&self) -> Option<String> {
        let user: User = self.octo.get("/user", None::<&()>).await.ok()?;
        Some(user.login)
    }

    /// The merged pull request into `base` that `sha` belongs to, if any.
    pub async fn merged_pull_for_commit(
        &self,
        sha: &str,
        base: &str,
    ) -> Result<Option<MergedPull>, GitHubError> {
        let route = format!("/repos/{}/commits/{sha}/pulls", self.repository);
        let pulls: Vec<Pull> = self.octo.get(route, None::<&()>).await?;
        Ok(pulls
            .into_iter()
            .find(|p| p.merged_at.is_some() && p.base.git_ref == base)
            .map(|p| MergedPull {
                number: p.number,
                title: p.title,
            }))
    }

    pub async fn pull(&self, number: u64) -> Result<PullRequest, GitHubError> {
        let route = format!("/repos/{}/pulls/{number}", self.repository);
        Ok(self.octo.get(route, None::<&()>).await?)
    }
}

fn author(c: &Comment) -> Option<&str> {
    c.user.as_ref().map(|u| u.login.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(server: &mockito::Server) -> GitHub {
        GitHub::new(
            crate::http::client().unwrap(),
            &format!("{}/api/v3", server.url()),
            "ghs_token",
            "octo/repo",
        )
        .unwrap()
    }

    fn comment(id: u64, login: &str, body: &str) -> serde_json::Value {
        json!({"id": id, "html_url": format!("https://github.com/octo/repo/pull/1#issuecomment-{id}"), "body": body, "user": {"login": login, "type": "Bot"}})
    }

    #[tokio::test]
    async fn updates_our_comment_on_a_later_page_and_ignores_a_human_quoting_the_marker() {
        let mut server = mockito::Server::new_async().await;
        let next = format!(
            "<{}/api/v3/repos/octo/repo/issues/1/comments?per_page=100&page=2>; rel=\"next\"",
            server.url()
        );
        let page1 = server
            .mock(
                "GET",
                "/api/v3/repos/octo/repo/issues/1/comments?per_page=100&page=1",
            )
            .with_header("link", &next)
            .with_body(json!([comment(1, "alice", &format!("quoting {MARKER}"))]).to_string())
            .create_async()
            .await;
        let page2 = server
            .mock(
                "GET",
                "/api/v3/repos/octo/repo/issues/1/comments?per_page=100&page=2",
            )
            .with_body(json!([comment(2, ACTIONS_BOT, MARKER)]).to_string())
            .create_async()
            .await;
        let patch = server
            .mock("PATCH", "/api/v3/repos/octo/repo/issues/comments/2")
            .match_body(mockito::Matcher::Json(json!({"body": "new"})))
            .with_body(comment(2, ACTIONS_BOT, "new").to_string())
            .create_async()
            .await;
        let url = client(&server).upsert_comment(1, "new").await.unwrap();
        assert_eq!(
            url.as_deref(),
            Some("https://github.com/octo/repo/pull/1#issuecomment-2")
        );
        page1.assert_async().await;
        page2.assert_async().await;
        patch.assert_async().await;
    }

    #[tokio::test]
    async fn a_read_only_token_is_forbidden_not_a_failure() {
        let mut server = mockito::Server::new_async().await;
        server
            .mock("GET", mockito::Matcher::Any)
            .with_body("[]")
            .create_async()
            .await;
        let post = server
            .mock("POST", "/api/v3/repos/octo/repo/issues/1/comments")
            .with_status(403)
            .with_body(r#"{"message":"Resource not accessible by integration"}"#)
            .create_async()
            .await;
        let err = client(&server).upsert_comment(1, "x").await.unwrap_err();
        assert!(matches!(err, GitHubError::Forbidden { .. }), "{err}");
        assert!(err.to_string().contains("Resource not accessible"), "{err}");
        post.assert_async().await;
    }

    #[tokio::test]
    async fn finds_the_merged_pull_request_into_the_promotion_branch() {
        let mut server = mockito::Server::new_async().await;
        let m = server
            .mock("GET", "/api/v3/repos/octo/repo/commits/abc/pulls")
            .with_body(
                json!([
                    {"number": 1, "title": "open", "merged_at": null, "base": {"ref": "main"}},
                    {"number": 2, "title": "other base", "merged_at": "2026-11-23T10:00:00Z", "base": {"ref": "release"}},
                    {"number": 3, "title": "this one", "merged_at": "2026-11-23T10:00:00Z", "base": {"ref": "main"}}
                ])
                .to_string(),
            )
            .create_async()
            .await;
        let pr = client(&server)
            .merged_pull_for_commit("abc", "main")
            .await
            .unwrap();
        assert_eq!(
            pr,
            Some(MergedPull {
                number: 3,
                title: "this one".into()
            })
        );
        m.assert_async().await;
    }
}
