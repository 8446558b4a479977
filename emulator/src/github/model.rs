//! GitHub's side of the world: accounts, pull requests, comments and which commits belong to
//! which pull request. No HTTP here; the routes in the parent module read and change it.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::clock::Clock;

/// GitHub matches `owner/name` case-insensitively.
pub(crate) fn same_repo(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The map key of a repository (lower case).
pub(crate) fn key(repo: &str) -> String {
    repo.to_ascii_lowercase()
}

/// A GitHub account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GhUser {
    pub login: String,
    pub id: u64,
    /// `User` or `Bot`.
    pub kind: String,
}

impl GhUser {
    /// The author of comments made with a workflow's `GITHUB_TOKEN`.
    pub fn actions_bot() -> GhUser {
        GhUser {
            login: "github-actions[bot]".into(),
            id: 41_898_282,
            kind: "Bot".into(),
        }
    }
    pub fn user(login: &str) -> GhUser {
        // A stable id per login.
        let id = login.bytes().fold(1_000_000u64, |h, b| {
            h.wrapping_mul(31).wrapping_add(b as u64)
        }) % 90_000_000
            + 1_000_000;
        GhUser {
            login: login.into(),
            id,
            kind: "User".into(),
        }
    }
    pub fn to_json(&self, api: &str) -> Value {
        let l = &self.login;
        let u = format!("{api}/users/{l}");
        json!({
            "login": l, "id": self.id, "node_id": format!("MDQ6VXNlcj{}", self.id),
            "avatar_url": format!("https://avatars.githubusercontent.com/u/{}?v=4", self.id), "gravatar_id": "",
            "url": u, "html_url": format!("https://github.com/{l}"),
            "followers_url": format!("{u}/followers"), "following_url": format!("{u}/following{{/other_user}}"),
            "gists_url": format!("{u}/gists{{/gist_id}}"), "starred_url": format!("{u}/starred{{/owner}}{{/repo}}"),
            "subscriptions_url": format!("{u}/subscriptions"), "organizations_url": format!("{u}/orgs"),
            "repos_url": format!("{u}/repos"), "events_url": format!("{u}/events{{/privacy}}"),
            "received_events_url": format!("{u}/received_events"), "type": self.kind, "user_view_type": "public", "site_admin": false,
        })
    }
}

/// A pull request (also the issue with the same number).
#[derive(Debug, Clone)]
pub struct Pull {
    /// `owner/name`
    pub repo: String,
    pub number: u64,
    pub title: String,
    pub body: String,
    /// `open` or `closed`.
    pub state: String,
    pub head_ref: String,
    pub head_sha: String,
    /// Full name of the head repository; differs from `repo` for a fork; `None` when the fork
    /// was deleted (the API then says `"repo": null`).
    pub head_repo: Option<String>,
    pub base_ref: String,
    pub base_sha: String,
    pub merged_at: Option<Timestamp>,
    pub merge_commit_sha: Option<String>,
    pub user: GhUser,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub closed_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct Comment {
    pub id: u64,
    pub repo: String,
    pub issue: u64,
    pub body: String,
    pub user: GhUser,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// GitHub's side of the world.
#[derive(Debug, Default)]
pub struct GitHubState {
    pub pulls: Vec<Pull>,
    /// Oldest first (ids grow).
    pub comments: Vec<Comment>,
    /// `(repo in lower case, sha)` → pull request numbers (what `GET /commits/{sha}/pulls`
    /// returns).
    pub commit_pulls: BTreeMap<(String, String), Vec<u64>>,
    /// Commits that exist in a repo (`(repo in lower case, sha)`); unknown ones answer 422 like
    /// GitHub.
    pub commits: BTreeSet<(String, String)>,
    next_comment_id: u64,
    /// The Neon state's clock (see [`crate::State::advance`]): every timestamp of the fake.
    clock: Clock,
}

fn fake_sha(seed: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    let mut out = String::new();
    for round in 0..3u64 {
        for b in seed.bytes().chain(round.to_le_bytes()) {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        out.push_str(&format!("{h:016x}"));
    }
    out[..40].to_string()
}

impl GitHubState {
    /// No pulls, no comments, reading time from `clock`.
    pub fn with_clock(clock: Clock) -> GitHubState {
        GitHubState {
            clock,
            ..GitHubState::default()
        }
    }

    pub(crate) fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// The time on the shared clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Seeds an open pull request `number` in `repo` from `head_ref` at `head_sha` into `main`,
    /// opened by `octocat`. Returns it for further tweaks.
    pub fn add_pull(
        &mut self,
        repo: &str,
        number: u64,
        head_ref: &str,
        head_sha: &str,
    ) -> &mut Pull {
        let now = self.clock.now();
        self.commits.insert((key(repo), head_sha.to_string()));
        self.commit_pulls
            .entry((key(repo), head_sha.to_string()))
            .or_default()
            .push(number);
        self.pulls
            .retain(|p| !(same_repo(&p.repo, repo) && p.number == number));
        self.pulls.push(Pull {
            repo: repo.into(),
            number,
            title: format!("Pull request {number}"),
            body: String::new(),
            state: "open".into(),
            head_ref: head_ref.into(),
            head_sha: head_sha.into(),
            head_repo: Some(repo.into()),
            base_ref: "main".into(),
            base_sha: fake_sha(&format!("{repo}#{number}base")),
            merged_at: None,
            merge_commit_sha: None,
            user: GhUser::user("octocat"),
            created_at: now,
            updated_at: now,
            closed_at: None,
        });
        self.pulls.last_mut().unwrap()
    }

    /// Marks a pull request merged by `merge_sha` and associates that commit with it.
    pub fn merge_pull(&mut self, repo: &str, number: u64, merge_sha: &str) {
        let now = self.clock.now();
        if let Some(p) = self.pull_mut(repo, number) {
            p.state = "closed".into();
            p.merged_at = Some(now);
            p.closed_at = Some(now);
            p.updated_at = now;
            p.merge_commit_sha = Some(merge_sha.into());
        }
        self.link_commit(repo, merge_sha, number);
    }

    /// `GET /repos/{repo}/commits/{sha}/pulls` will list pull request `number`.
    pub fn link_commit(&mut self, repo: &str, sha: &str, number: u64) {
        self.commits.insert((key(repo), sha.into()));
        let list = self
            .commit_pulls
            .entry((key(repo), sha.into()))
            .or_default();
        if !list.contains(&number) {
            list.push(number);
        }
    }

    /// A commit that exists but belongs to no pull request.
    pub fn add_commit(&mut self, repo: &str, sha: &str) {
        self.commits.insert((key(repo), sha.into()));
    }

    pub fn pull(&self, repo: &str, number: u64) -> Option<&Pull> {
        self.pulls
            .iter()
            .find(|p| same_repo(&p.repo, repo) && p.number == number)
    }
    pub fn pull_mut(&mut self, repo: &str, number: u64) -> Option<&mut Pull> {
        self.pulls
            .iter_mut()
            .find(|p| same_repo(&p.repo, repo) && p.number == number)
    }

    /// Adds a comment by `user` on issue/PR `issue`; returns its id.
    pub fn add_comment(&mut self, repo: &str, issue: u64, user: GhUser, body: &str) -> u64 {
        let now = self.clock.now();
        self.next_comment_id = self.next_comment_id.max(1_000_000_000) + 1;
        let id = self.next_comment_id;
        self.comments.push(Comment {
            id,
            repo: repo.into(),
            issue,
            body: body.into(),
            user,
            created_at: now,
            updated_at: now,
        });
        id
    }

    /// The comments on one issue, oldest first.
    pub fn comments_on(&self, repo: &str, issue: u64) -> Vec<&Comment> {
        self.comments
            .iter()
            .filter(|c| same_repo(&c.repo, repo) && c.issue == issue)
            .collect()
    }

    pub(crate) fn issue_exists(&self, repo: &str, number: u64) -> bool {
        self.pull(repo, number).is_some()
    }
}
