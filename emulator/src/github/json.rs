//! The JSON shapes of GitHub's answers (comments, repositories, pull requests), with the URLs
//! pointing back at the API root the caller used.

use serde_json::{Value, json};

use super::model::{Comment, GhUser, Pull};
use crate::time::fmt_ts;

pub(crate) fn comment_json(c: &Comment, api: &str) -> Value {
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

pub(crate) fn repo_json(full: &str, api: &str) -> Value {
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

pub(crate) fn pull_json(p: &Pull, api: &str, full: bool) -> Value {
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
