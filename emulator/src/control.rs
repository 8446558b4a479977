//! The control API under `/_emulator`, for tests that run the emulator as a separate process
//! (benchmarks, the container smoke test, neonctl): what [`crate::Emulator`]'s methods do
//! in-process, over HTTP. Never logged, never delayed, never faulted.
//!
//! | call | does |
//! |---|---|
//! | `GET /_emulator/state` | branches (with data tags and computes), snapshots, running operations, GitHub comments |
//! | `PUT /_emulator/data` `{"branch": name-or-id, "data": "…"}` | "writes" to a branch (new data tag) |
//! | `POST /_emulator/write` `{"branch": name-or-id}` | a write that changes nothing else: the branch's LSN advances |
//! | `PUT /_emulator/schema` `{"branch", "db"?: "neondb", "tables": [{schema, name, columns: [{name, type, nullable}], constraints?}]}` | sets a database's schema (a write) |
//! | `GET` / `DELETE /_emulator/requests` | the request log / clear it |
//! | `POST /_emulator/faults` `{"kind": "status"\|"drop"\|"reset"\|"delay"\|"fail_operation", …}` | inject a fault |
//! | `POST /_emulator/advance` `{"ms": N}` | move the clock |
//! | `POST /_emulator/branches` `{"prefix", "count", "parent"}` | bulk-create ready child branches |
//! | `POST /_emulator/github/pulls` `{"repo", "number", "head_ref", "head_sha", "merge_sha"?, "title"?, "head_repo"?}` | seed a PR |
//! | `POST /_emulator/github/comments` `{"repo", "issue", "login", "body", "count"?}` | seed comments |

use std::time::Duration;

use serde_json::{Value, json};

use crate::github::GhUser;
use crate::request::{Req, Resp, segments};
use crate::state::{OpFailure, Table};
use crate::time::fmt_ts;
use crate::{Fault, Shared};

fn bad(msg: &str) -> Resp {
    Resp::json(400, &json!({"message": msg}))
}

fn s<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str)
}

fn n(body: &Value, key: &str) -> Option<u64> {
    body.get(key).and_then(Value::as_u64)
}

pub(crate) fn route(shared: &Shared, req: &Req) -> Resp {
    let segs = segments(&req.path, "/_emulator");
    let path: Vec<&str> = segs.iter().map(String::as_str).collect();
    let empty = json!({});
    let body = req.body.as_ref().unwrap_or(&empty);
    match (req.method.as_str(), path.as_slice()) {
        ("GET", ["state"]) => {
            let mut st = shared.state.lock().unwrap();
            st.refresh();
            let now = st.now();
            let mut branches: Vec<&crate::state::Branch> = st.branches.values().collect();
            branches.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
            let branches: Vec<Value> = branches
                .iter()
                .map(|b| {
                    json!({
                        "id": b.id, "name": b.name, "parent_id": b.parent_id, "default": b.default,
                        "protected": b.protected, "expires_at": b.expires_at.map(fmt_ts),
                        "restored_from": b.restored_from, "restored_as": b.restored_as, "data": b.data,
                        "current_state": b.current_state, "lsn": b.lsn,
                        "endpoints": st.endpoints_of(&b.id).iter().map(|e| json!({"id": e.id, "type": e.kind, "host": e.host})).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let snapshots: Vec<Value> = st
                .snapshots
                .iter()
                .map(|x| json!({"id": x.id, "name": x.name, "source_branch_id": x.source_branch_id, "data": x.data, "lsn": x.lsn, "expires_at": x.expires_at.map(fmt_ts)}))
                .collect();
            let comments: Vec<Value> = st
                .github
                .comments
                .iter()
                .map(|c| json!({"id": c.id, "repo": c.repo, "issue": c.issue, "login": c.user.login, "body": c.body}))
                .collect();
            let running: Vec<Value> = st
                .running_operations()
                .iter()
                .map(|o| o.to_json(now))
                .collect();
            Resp::json(
                200,
                &json!({"project_id": st.project.id, "branches": branches, "snapshots": snapshots, "running_operations": running, "comments": comments, "operations": st.operations.len()}),
            )
        }
        ("PUT", ["data"]) => {
            let (Some(branch), Some(data)) = (s(body, "branch"), s(body, "data")) else {
                return bad("branch and data are required");
            };
            if shared.state.lock().unwrap().set_data(branch, data) {
                Resp::empty(204)
            } else {
                Resp::json(404, &json!({"message": "no such branch"}))
            }
        }
        ("POST", ["write"]) => {
            let Some(branch) = s(body, "branch") else {
                return bad("branch is required");
            };
            match shared.state.lock().unwrap().write(branch) {
                Some(lsn) => Resp::json(200, &json!({"lsn": lsn})),
                None => Resp::json(404, &json!({"message": "no such branch"})),
            }
        }
        ("PUT", ["schema"]) => {
            let tables = body
                .get("tables")
                .cloned()
                .map(serde_json::from_value::<Vec<Table>>);
            let (Some(branch), Some(Ok(tables))) = (s(body, "branch"), tables) else {
                return bad(
                    "branch and tables ([{schema, name, columns: [{name, type, nullable}]}]) are required",
                );
            };
            let db = s(body, "db").unwrap_or("neondb");
            if shared.state.lock().unwrap().set_schema(branch, db, tables) {
                Resp::empty(204)
            } else {
                Resp::json(404, &json!({"message": "no such branch"}))
            }
        }
        ("GET", ["requests"]) => {
            let log = shared.log.lock().unwrap();
            let items: Vec<Value> = log
                .iter()
                .map(|r| {
                    json!({
                        "method": r.method, "path": r.path, "query": r.query, "body": r.body,
                        "status": r.status, "api": format!("{:?}", r.api), "at": r.at.to_string(),
                        "elapsed_ms": r.elapsed.as_secs_f64() * 1000.0,
                    })
                })
                .collect();
            Resp::json(200, &items)
        }
        ("DELETE", ["requests"]) => {
            shared.log.lock().unwrap().clear();
            Resp::empty(204)
        }
        ("POST", ["faults"]) => {
            let method = s(body, "method").map(str::to_string);
            let path_contains = s(body, "path_contains").unwrap_or("").to_string();
            let times = n(body, "times").unwrap_or(1) as usize;
            let after_apply = body
                .get("after_apply")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let fault = match s(body, "kind") {
                Some("status") => {
                    let Some(status) = n(body, "status").and_then(|v| u16::try_from(v).ok()) else {
                        return bad("status is required");
                    };
                    Fault::Status {
                        method,
                        path_contains,
                        status,
                        retry_after: n(body, "retry_after"),
                        times,
                    }
                }
                Some("reset") => Fault::Reset {
                    method,
                    path_contains,
                    after_apply,
                    times,
                },
                Some("drop") => Fault::DropConnection {
                    method,
                    path_contains,
                    after_apply,
                    times,
                },
                Some("delay") => Fault::Delay {
                    method,
                    path_contains,
                    delay: Duration::from_millis(n(body, "delay_ms").unwrap_or(0)),
                    after_apply,
                    times,
                },
                Some("fail_operation") => {
                    let Some(action) = s(body, "action") else {
                        return bad("action is required");
                    };
                    let status = s(body, "op_status").unwrap_or("failed").to_string();
                    shared.state.lock().unwrap().op_failures.push(OpFailure {
                        action: action.to_string(),
                        error: format!("emulated failure of {action}"),
                        status,
                        times,
                    });
                    return Resp::empty(204);
                }
                _ => return bad("kind must be status, drop, reset, delay or fail_operation"),
            };
            shared.faults.lock().unwrap().push(fault);
            Resp::empty(204)
        }
        ("POST", ["advance"]) => {
            shared
                .state
                .lock()
                .unwrap()
                .advance(Duration::from_millis(n(body, "ms").unwrap_or(0)));
            Resp::empty(204)
        }
        ("POST", ["branches"]) => {
            let mut st = shared.state.lock().unwrap();
            let parent = s(body, "parent").unwrap_or("dev");
            let Some(parent) = st.find_branch(parent).map(|b| b.id.clone()) else {
                return Resp::json(404, &json!({"message": "no such parent branch"}));
            };
            st.insert_many_branches(
                s(body, "prefix").unwrap_or("dev_feature_"),
                n(body, "count").unwrap_or(0) as usize,
                &parent,
            );
            Resp::empty(204)
        }
        ("POST", ["github", "pulls"]) => {
            let (Some(repo), Some(number), Some(head_ref), Some(head_sha)) = (
                s(body, "repo"),
                n(body, "number"),
                s(body, "head_ref"),
                s(body, "head_sha"),
            ) else {
                return bad("repo, number, head_ref and head_sha are required");
            };
            let mut st = shared.state.lock().unwrap();
            let pull = st.github.add_pull(repo, number, head_ref, head_sha);
            if let Some(title) = s(body, "title") {
                pull.title = title.to_string();
            }
            if let Some(head_repo) = body.get("head_repo") {
                pull.head_repo = head_repo.as_str().map(str::to_string);
            }
            if let Some(sha) = s(body, "merge_sha") {
                st.github.merge_pull(repo, number, sha);
            }
            Resp::empty(204)
        }
        ("POST", ["github", "comments"]) => {
            let (Some(repo), Some(issue), Some(login)) =
                (s(body, "repo"), n(body, "issue"), s(body, "login"))
            else {
                return bad("repo, issue and login are required");
            };
            let text = s(body, "body").unwrap_or("");
            let user = if login == "github-actions[bot]" {
                GhUser::actions_bot()
            } else {
                GhUser::user(login)
            };
            let mut st = shared.state.lock().unwrap();
            for _ in 0..n(body, "count").unwrap_or(1) {
                st.github.add_comment(repo, issue, user.clone(), text);
            }
            Resp::empty(204)
        }
        _ => Resp::json(404, &json!({"message": "unknown control call"})),
    }
}
