//! The GitHub REST fake under `/github`: issue comments (paginated with a real `Link` header),
//! pull requests, commit → pull request associations and `GET /user`, with the permission
//! behaviour of the tokens a workflow gets.
//!
//! Tokens (`Authorization: token X` or `Bearer X`): none → anonymous (reads only, 401 on
//! writes); `ro-…` → a read-only `GITHUB_TOKEN` (a fork's PR: 403 "Resource not accessible by
//! integration" on writes); `pat-<login>` → a personal token of user `<login>`; anything else →
//! a `GITHUB_TOKEN` with write access whose comments are authored by `github-actions[bot]`,
//! and which gets 403 on `GET /user`, as the real one does.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::state::fmt_ts;
use crate::{Req, Resp, Shared, segments};

/// GitHub matches `owner/name` case-insensitively.
fn same_repo(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The map key of a repository (lower case).
fn key(repo: &str) -> String {
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
    pub commit_pulls: HashMap<(String, String), Vec<u64>>,
    /// Commits that exist in a repo (`(repo in lower case, sha)`); unknown ones answer 422 like
    /// GitHub.
    pub commits: HashSet<(String, String)>,
    next_comment_id: u64,
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
    /// Seeds an open pull request `number` in `repo` from `head_ref` at `head_sha` into `main`,
    /// opened by `octocat`. Returns it for further tweaks.
    pub fn add_pull(
        &mut self,
        repo: &str,
        number: u64,
        head_ref: &str,
        head_sha: &str,
    ) -> &mut Pull {
        let now = Timestamp::now();
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
        let now = Timestamp::now();
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
        let now = Timestamp::now();
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

    fn issue_exists(&self, repo: &str, number: u64) -> bool {
        self.pull(repo, number).is_some()
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Caller {
    Anonymous,
    ReadOnly,
    Actions,
    User(String),
}

fn caller(req: &Req) -> Caller {
    let Some(h) = req.header("authorization") else {
        return Caller::Anonymous;
    };
    let token = h
        .strip_prefix("token ")
        .or_else(|| h.strip_prefix("Bearer "))
        .or_else(|| h.strip_prefix("bearer "))
        .unwrap_or(h)
        .trim();
    if token.is_empty() {
        Caller::Anonymous
    } else if token.starts_with("ro-") {
        Caller::ReadOnly
    } else if let Some(login) = token.strip_prefix("pat-") {
        Caller::User(login.to_string())
    } else {
        Caller::Actions
    }
}

const DOCS: &str = "https://docs.github.com/rest";

/// GitHub's error body.
pub(crate) fn error(status: u16, message: &str) -> Resp {
    Resp::json(
        status,
        &json!({"message": message, "documentation_url": DOCS, "status": status.to_string()}),
    )
}

pub(crate) fn status_message(status: u16) -> &'static str {
    match status {
        401 => "Bad credentials",
        403 => "Forbidden",
        404 => "Not Found",
        422 => "Validation Failed",
        429 => "API rate limit exceeded",
        500 => "Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// The API root as the caller used it (links in answers point back to the same place).
fn api_base(req: &Req) -> String {
    format!(
        "http://{}{}",
        req.header("host").unwrap_or("127.0.0.1"),
        if req.path.starts_with("/github") {
            "/github"
        } else {
            ""
        }
    )
}

fn comment_json(c: &Comment, api: &str) -> Value {
    json!({
        "id": c.id,
        "node_id": format!("IC_kwDO{:010}", c.id),
        "url": format!("{api}/repos/{}/issues/comments/{}", c.repo, c.id),
        "html_url": format!("https://github.com/{}/pull/{}#issuecomment-{}", c.repo, c.issue, c.id),
        "issue_url": format!("{api}/repos/{}/issues/{}", c.repo, c.issue),
        "body": c.body,
        "user": c.user.to_json(api),
        "created_at": fmt_ts(c.created_at),
        "updated_at": fmt_ts(c.updated_at),
        "author_association": if c.user.kind == "Bot" { "NONE" } else { "CONTRIBUTOR" },
        "performed_via_github_app": Value::Null,
        "reactions": {"url": format!("{api}/repos/{}/issues/comments/{}/reactions", c.repo, c.id), "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0},
    })
}

fn repo_json(full: &str, api: &str) -> Value {
    let (owner, name) = full.split_once('/').unwrap_or((full, full));
    let id = full
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(131).wrapping_add(b as u64))
        % 900_000_000
        + 1;
    json!({
        "id": id, "node_id": format!("R_kgDO{id}"), "name": name, "full_name": full, "private": false,
        "owner": GhUser::user(owner).to_json(api), "html_url": format!("https://github.com/{full}"),
        "url": format!("{api}/repos/{full}"), "fork": false, "default_branch": "main",
    })
}

fn pull_json(p: &Pull, api: &str, full: bool) -> Value {
    let base_owner = p.repo.split('/').next().unwrap_or("");
    let head_owner = p
        .head_repo
        .as_deref()
        .and_then(|r| r.split('/').next())
        .unwrap_or(&p.user.login)
        .to_string();
    let mut v = json!({
        "url": format!("{api}/repos/{}/pulls/{}", p.repo, p.number),
        "id": 2_000_000_000u64 + p.number,
        "node_id": format!("PR_kwDO{:08}", p.number),
        "html_url": format!("https://github.com/{}/pull/{}", p.repo, p.number),
        "diff_url": format!("https://github.com/{}/pull/{}.diff", p.repo, p.number),
        "patch_url": format!("https://github.com/{}/pull/{}.patch", p.repo, p.number),
        "issue_url": format!("{api}/repos/{}/issues/{}", p.repo, p.number),
        "number": p.number,
        "state": p.state,
        "locked": false,
        "title": p.title,
        "user": p.user.to_json(api),
        "body": p.body,
        "created_at": fmt_ts(p.created_at),
        "updated_at": fmt_ts(p.updated_at),
        "closed_at": p.closed_at.map(fmt_ts),
        "merged_at": p.merged_at.map(fmt_ts),
        "merge_commit_sha": p.merge_commit_sha,
        "draft": false,
        "head": {
            "label": format!("{head_owner}:{}", p.head_ref),
            "ref": p.head_ref,
            "sha": p.head_sha,
            "user": GhUser::user(&head_owner).to_json(api),
            "repo": p.head_repo.as_deref().map(|r| repo_json(r, api)),
        },
        "base": {
            "label": format!("{base_owner}:{}", p.base_ref),
            "ref": p.base_ref,
            "sha": p.base_sha,
            "user": GhUser::user(base_owner).to_json(api),
            "repo": repo_json(&p.repo, api),
        },
        "author_association": "CONTRIBUTOR",
    });
    if full {
        v["merged"] = json!(p.merged_at.is_some());
        v["mergeable"] = Value::Null;
        v["comments"] = json!(0);
        v["commits"] = json!(1);
    }
    v
}

/// GitHub's upper bound for comment bodies.
const MAX_BODY_CHARS: usize = 65_536;

fn body_field(req: &Req) -> Result<String, Resp> {
    match req
        .body
        .as_ref()
        .and_then(|b| b.get("body"))
        .and_then(Value::as_str)
    {
        Some(b) if b.chars().count() > MAX_BODY_CHARS => Err(Resp::json(
            422,
            &json!({"message": "Validation Failed", "errors": [{"resource": "IssueComment", "code": "custom", "field": "body", "message": "body is too long (maximum is 65536 characters)"}], "documentation_url": DOCS, "status": "422"}),
        )),
        Some(b) => Ok(b.to_string()),
        None => Err(Resp::json(
            422,
            &json!({"message": "Invalid request.\n\nFor 'links/0/schema', nil is not an object.", "documentation_url": DOCS, "status": "422"}),
        )),
    }
}

fn can_write(who: &Caller) -> Result<GhUser, Resp> {
    match who {
        Caller::Anonymous => Err(error(401, "Requires authentication")),
        Caller::ReadOnly => Err(error(403, "Resource not accessible by integration")),
        Caller::Actions => Ok(GhUser::actions_bot()),
        Caller::User(l) => Ok(GhUser::user(l)),
    }
}

pub(crate) fn route(shared: &Shared, req: &Req) -> Resp {
    let prefix = if req.path.starts_with("/github") {
        "/github"
    } else {
        ""
    };
    let segs = segments(&req.path, prefix);
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let who = caller(req);
    let api = api_base(req);
    let mut st = shared.state.lock().unwrap();
    let gh = &mut st.github;
    match (req.method.as_str(), s.as_slice()) {
        ("GET", ["user"]) => match who {
            Caller::User(l) => Resp::json(200, &GhUser::user(&l).to_json(&api)),
            Caller::Anonymous => error(401, "Requires authentication"),
            _ => error(403, "Resource not accessible by integration"),
        },
        ("GET", ["repos", o, r, "issues", n, "comments"]) => {
            let repo = format!("{o}/{r}");
            let Some(n) = n.parse::<u64>().ok().filter(|n| gh.issue_exists(&repo, *n)) else {
                return error(404, "Not Found");
            };
            let per_page = req
                .q("per_page")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(30)
                .clamp(1, 100);
            let page = req
                .q("page")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(1)
                .max(1);
            let all = gh.comments_on(&repo, n);
            let last = all.len().div_ceil(per_page).max(1);
            let items: Vec<Value> = all
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(|c| comment_json(c, &api))
                .collect();
            let mut resp = Resp::json(200, &items);
            let link = |p: usize, rel: &str| {
                format!(
                    "<{api}/repos/{repo}/issues/{n}/comments?per_page={per_page}&page={p}>; rel=\"{rel}\""
                )
            };
            let mut links = Vec::new();
            if page > 1 {
                links.push(link(page - 1, "prev"));
            }
            if page < last {
                links.push(link(page + 1, "next"));
                links.push(link(last, "last"));
            }
            if page > 1 {
                links.push(link(1, "first"));
            }
            if !links.is_empty() {
                resp = resp.with_header("link", links.join(", "));
            }
            resp
        }
        ("POST", ["repos", o, r, "issues", n, "comments"]) => {
            let repo = format!("{o}/{r}");
            let author = match can_write(&who) {
                Ok(a) => a,
                Err(e) => return e,
            };
            let Some(n) = n.parse::<u64>().ok().filter(|n| gh.issue_exists(&repo, *n)) else {
                return error(404, "Not Found");
            };
            let body = match body_field(req) {
                Ok(b) => b,
                Err(e) => return e,
            };
            let id = gh.add_comment(&repo, n, author, &body);
            let c = gh.comments.iter().find(|c| c.id == id).unwrap();
            Resp::json(201, &comment_json(c, &api)).with_header(
                "location",
                format!("{api}/repos/{repo}/issues/comments/{id}"),
            )
        }
        ("GET", ["repos", o, r, "issues", "comments", id]) => {
            let repo = format!("{o}/{r}");
            match gh
                .comments
                .iter()
                .find(|c| same_repo(&c.repo, &repo) && id.parse::<u64>().ok() == Some(c.id))
            {
                Some(c) => Resp::json(200, &comment_json(c, &api)),
                None => error(404, "Not Found"),
            }
        }
        ("PATCH", ["repos", o, r, "issues", "comments", id]) => {
            let repo = format!("{o}/{r}");
            if let Err(e) = can_write(&who) {
                return e;
            }
            let body = match body_field(req) {
                Ok(b) => b,
                Err(e) => return e,
            };
            match gh
                .comments
                .iter_mut()
                .find(|c| same_repo(&c.repo, &repo) && id.parse::<u64>().ok() == Some(c.id))
            {
                Some(c) => {
                    c.body = body;
                    c.updated_at = Timestamp::now();
                    Resp::json(200, &comment_json(c, &api))
                }
                None => error(404, "Not Found"),
            }
        }
        ("GET", ["repos", o, r]) => Resp::json(200, &repo_json(&format!("{o}/{r}"), &api)),
        ("GET", ["repos", o, r, "pulls", n]) => {
            let repo = format!("{o}/{r}");
            match n.parse::<u64>().ok().and_then(|n| gh.pull(&repo, n)) {
                Some(p) => Resp::json(200, &pull_json(p, &api, true)),
                None => error(404, "Not Found"),
            }
        }
        ("GET", ["repos", o, r, "commits", sha, "pulls"]) => {
            let repo = format!("{o}/{r}");
            let key = (key(&repo), sha.to_string());
            if !gh.commits.contains(&key) {
                return Resp::json(
                    422,
                    &json!({"message": format!("No commit found for SHA: {sha}"), "documentation_url": DOCS, "status": "422"}),
                );
            }
            let numbers = gh.commit_pulls.get(&key).cloned().unwrap_or_default();
            let items: Vec<Value> = numbers
                .iter()
                .filter_map(|n| gh.pull(&repo, *n))
                .map(|p| pull_json(p, &api, false))
                .collect();
            Resp::json(200, &items)
        }
        _ => error(404, "Not Found"),
    }
}
