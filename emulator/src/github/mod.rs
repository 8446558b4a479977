//! The GitHub REST fake under `/github`: issue comments (paginated with a real `Link` header),
//! pull requests, commit → pull request associations and `GET /user`, with the permission
//! behaviour of the tokens a workflow gets.
//!
//! Tokens (`Authorization: token X` or `Bearer X`): none → anonymous (reads only, 401 on
//! writes); `ro-…` → a read-only `GITHUB_TOKEN` (a fork's PR: 403 "Resource not accessible by
//! integration" on writes); `pat-<login>` → a personal token of user `<login>`; anything else →
//! a `GITHUB_TOKEN` with write access whose comments are authored by `github-actions[bot]`,
//! and which gets 403 on `GET /user`, as the real one does.

mod json;
mod model;

use serde_json::{Value, json};

use crate::request::{Req, Resp, segments};
use json::{comment_json, pull_json, repo_json};
use model::{key, same_repo};

pub use model::{Comment, GhUser, GitHubState, Pull};

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

pub(crate) fn route(gh: &mut GitHubState, req: &Req) -> Resp {
    let prefix = if req.path.starts_with("/github") {
        "/github"
    } else {
        ""
    };
    let segs = segments(&req.path, prefix);
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let who = caller(req);
    let api = api_base(req);
    let now = gh.now();
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
                    c.updated_at = now;
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
