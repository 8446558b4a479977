//! Neon API v2 routes under `/api/v2`: request parsing and answer shapes (as the pinned OpenAPI
//! spec has them); every rule is in [`crate::state`].

use serde::Serialize;
use serde_json::{Map, Value, json};

mod anonymize;
mod input;
mod integrations;
mod schema;

use crate::Shared;
use crate::request::{Req, Resp, segments};
use crate::state::{
    ApiError, ApiResult, Branch, CreatedBranch, ListBranchesQuery, RestoreReq, SnapshotReq, State,
    UpdateBranchReq, list_branches_in, list_operations_in,
};
use input::{bad, create_branch_req, json_body, new_endpoint, opt_bool, opt_str};

/// The error body `{code, message, request_id}`.
pub(crate) fn error_resp(e: &ApiError, req: &Req) -> Resp {
    let request_id = req
        .header("x-request-id")
        .map(str::to_string)
        .unwrap_or_else(crate::state::uuid);
    Resp::json(
        e.status,
        &json!({"code": e.code, "message": e.message, "request_id": request_id}),
    )
}

/// The message of an injected status.
pub(crate) fn status_message(status: u16) -> &'static str {
    match status {
        400 => "bad request",
        401 => "authentication required",
        403 => "forbidden",
        404 => "not found",
        409 => "conflict",
        423 => {
            "project already has running conflicting operations, scheduling of new ones is prohibited"
        }
        429 => "rate limit exceeded",
        500 => "internal server error",
        502 => "bad gateway",
        503 => "service unavailable",
        504 => "gateway timeout",
        _ => "error",
    }
}

/// The 201 answer of a branch creation (plain or anonymized).
fn created_resp(st: &State, created: CreatedBranch, now: jiff::Timestamp) -> Resp {
    let id = created.branch.id.clone();
    Resp::json(
        201,
        &json!({
            "branch": created.branch,
            "endpoints": created.endpoints,
            "operations": ops_json(&created.operations, now),
            "roles": st.roles_json(&id, now),
            "databases": st.databases_json(&id, now),
            "connection_uris": st.connection_details(&id),
        }),
    )
}

fn ops_json(ops: &[crate::state::Operation], now: jiff::Timestamp) -> Vec<Value> {
    ops.iter().map(|o| o.to_json(now)).collect()
}

#[derive(Serialize)]
struct Pagination {
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    sort_by: &'static str,
    sort_order: &'static str,
}

#[derive(Serialize)]
struct BranchList<'a> {
    branches: Vec<&'a Branch>,
    annotations: Map<String, Value>,
    pagination: Pagination,
}

/// When the restore's `name` query parameter goes away (`x-sunset` in the 2.7.3 spec;
/// "Removal scheduled for November 29, 2025" in `@neon/sdk` 6.1.2).
const RESTORE_NAME_QUERY_SUNSET: jiff::Timestamp = jiff::Timestamp::constant(1_764_374_400, 0);

pub(crate) fn route(shared: &Shared, req: &Req) -> Resp {
    if let Err(e) = authorize(shared, req) {
        return error_resp(&e, req);
    }
    let mut state = shared.state.lock().unwrap();
    state.refresh();
    let before = crate::log::is_mutation(&req.method)
        .then(|| state.lists_now())
        .flatten();
    match dispatch(&mut state, req) {
        Ok(resp) => {
            if let Some(before) = before.filter(|_| resp.status < 300) {
                state.lag_lists(before);
            }
            resp
        }
        Err(e) => error_resp(&e, req),
    }
}

fn authorize(shared: &Shared, req: &Req) -> ApiResult<()> {
    let header = req.header("authorization").unwrap_or("");
    let key = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .unwrap_or("")
        .trim();
    if key.is_empty() {
        return Err(ApiError::new(401, "authentication required"));
    }
    if shared.api_key.as_deref().is_some_and(|k| k != key) {
        return Err(ApiError::new(401, "invalid API key"));
    }
    Ok(())
}

fn dispatch(st: &mut State, req: &Req) -> ApiResult<Resp> {
    let segs = segments(&req.path, "/api/v2");
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = req.method.as_str();
    let ["projects", project, rest @ ..] = s.as_slice() else {
        return Err(ApiError::not_found("resource"));
    };
    if *project != st.project.id {
        return Err(ApiError::not_found("project"));
    }
    let now = st.now();
    match (m, rest) {
        ("GET", []) => Ok(Resp::json(200, &json!({"project": st.project}))),

        ("GET", ["branches"]) => {
            let q = ListBranchesQuery {
                search: req.q("search").map(str::to_string),
                sort_by: req.q("sort_by").map(str::to_string),
                sort_order: req.q("sort_order").map(str::to_string),
                limit: req.q("limit").map(str::to_string),
                cursor: req.q("cursor").map(str::to_string),
            };
            let stale = st.take_stale_branches();
            let page = list_branches_in(stale.as_ref().unwrap_or(&st.branches), &q)?;
            let annotations: Map<String, Value> = page
                .branches
                .iter()
                .filter_map(|b| Some((b.id.clone(), st.annotations.get(&b.id)?.clone())))
                .collect();
            let body = BranchList {
                pagination: Pagination {
                    next: page.next,
                    sort_by: page.sort_by.as_str(),
                    sort_order: if page.desc { "desc" } else { "asc" },
                },
                branches: page.branches,
                annotations,
            };
            Ok(Resp::json(200, &body))
        }
        ("GET", ["branches", "count"]) => {
            let search = req.q("search").unwrap_or("");
            let count = st
                .branches
                .values()
                .filter(|b| crate::state::matches_search(b, search))
                .count();
            Ok(Resp::json(200, &json!({"count": count})))
        }
        ("POST", ["branches"]) => {
            let body = json_body(req)?;
            let created = st.create_branch(create_branch_req(body, body)?)?;
            Ok(created_resp(st, created, now))
        }
        ("POST", ["branch_anonymized"]) => anonymize::create(st, req, now),
        ("GET", ["branches", b, "masking_rules"]) => anonymize::rules(st, b),
        ("PATCH", ["branches", b, "masking_rules"]) => anonymize::set_rules(st, req, b),
        ("GET", ["branches", b, "anonymized_status"]) => {
            Ok(Resp::json(200, &st.anonymized_status(b)?))
        }
        ("POST", ["branches", b, "anonymize"]) => Ok(Resp::json(200, &st.start_anonymization(b)?)),
        ("GET", ["branches", b, "auth"]) => integrations::neon_auth(st, b),
        ("GET", ["branches", b, "data-api", db]) => integrations::data_api(st, b, db),
        ("GET", ["branches", b]) => {
            let branch = st.branch(b).ok_or_else(|| ApiError::not_found("branch"))?;
            Ok(Resp::json(
                200,
                &json!({"branch": branch, "annotation": st.annotation(b)}),
            ))
        }
        ("PATCH", ["branches", b]) => {
            let body = json_body(req)?.ok_or_else(|| bad("request body is required"))?;
            let branch = body
                .get("branch")
                .filter(|v| v.is_object())
                .ok_or_else(|| bad("branch: is required"))?;
            let expires_at = match branch.get("expires_at") {
                None => None,
                Some(Value::Null) => Some(None),
                Some(Value::String(s)) => Some(Some(s.clone())),
                Some(_) => return Err(bad("expires_at: must be a string or null")),
            };
            let (branch, ops) = st.update_branch(
                b,
                UpdateBranchReq {
                    name: opt_str(Some(branch), "name")?,
                    protected: opt_bool(Some(branch), "protected")?,
                    expires_at,
                },
            )?;
            Ok(Resp::json(
                200,
                &json!({"branch": branch, "operations": ops_json(&ops, now)}),
            ))
        }
        ("DELETE", ["branches", b]) => match st.delete_branch(b)? {
            Some((branch, ops)) => Ok(Resp::json(
                200,
                &json!({"branch": branch, "operations": ops_json(&ops, now)}),
            )),
            // The spec: "204 Returned if the branch doesn't exist or has already been deleted".
            None => Ok(Resp::empty(204)),
        },
        ("GET", ["branches", b, "endpoints"]) => {
            st.branch(b).ok_or_else(|| ApiError::not_found("branch"))?;
            Ok(Resp::json(200, &json!({"endpoints": st.endpoints_of(b)})))
        }
        ("GET", ["branches", b, "roles"]) => {
            st.branch(b).ok_or_else(|| ApiError::not_found("branch"))?;
            let mut roles = st.roles_json(b, now);
            for r in &mut roles {
                r.as_object_mut().unwrap().remove("password");
            }
            Ok(Resp::json(200, &json!({"roles": roles})))
        }
        ("GET", ["branches", b, "roles", role]) => {
            st.branch(b).ok_or_else(|| ApiError::not_found("branch"))?;
            let mut r = st
                .roles_json(b, now)
                .into_iter()
                .find(|r| r["name"] == *role)
                .ok_or_else(|| ApiError::not_found("role"))?;
            r.as_object_mut().unwrap().remove("password");
            Ok(Resp::json(200, &json!({"role": r})))
        }
        ("GET", ["branches", b, "roles", role, "reveal_password"]) => {
            st.branch(b).ok_or_else(|| ApiError::not_found("branch"))?;
            let password = st
                .role_password(role)
                .ok_or_else(|| ApiError::not_found("role"))?;
            Ok(Resp::json(200, &json!({"password": password})))
        }
        ("GET", ["branches", b, "databases"]) => {
            st.branch(b).ok_or_else(|| ApiError::not_found("branch"))?;
            Ok(Resp::json(
                200,
                &json!({"databases": st.databases_json(b, now)}),
            ))
        }
        ("GET", ["branches", b, "databases", db]) => {
            st.branch(b).ok_or_else(|| ApiError::not_found("branch"))?;
            let d = st
                .databases_json(b, now)
                .into_iter()
                .find(|d| d["name"] == *db)
                .ok_or_else(|| ApiError::not_found("database"))?;
            Ok(Resp::json(200, &json!({"database": d})))
        }
        ("GET", ["branches", b, "schema"]) => schema::schema(st, req, b),
        ("GET", ["branches", b, "compare_schema"]) => schema::compare(st, req, b),
        ("POST", ["branches", b, "snapshot"]) => {
            // Parameters are query parameters (the spec); a JSON body is ignored, as Neon does.
            let q = |k: &str| req.q(k).map(str::to_string);
            let (snap, ops) = st.create_snapshot(
                b,
                SnapshotReq {
                    name: q("name"),
                    expires_at: q("expires_at"),
                    lsn: q("lsn"),
                    timestamp: q("timestamp"),
                    slug: q("slug"),
                },
            )?;
            Ok(Resp::json(
                200,
                &json!({"snapshot": snap, "operations": ops_json(&ops, now)}),
            ))
        }
        ("POST", ["branches", b, "finalize_restore"]) => {
            let body = json_body(req)?;
            let name = opt_str(body, "name")?;
            let ops = st.finalize_restore(b, name.as_deref())?;
            Ok(Resp::json(200, &json!({"operations": ops_json(&ops, now)})))
        }
        ("GET", ["endpoints"]) => Ok(Resp::json(200, &json!({"endpoints": st.endpoints}))),
        ("POST", ["endpoints"]) => {
            let body = json_body(req)?.ok_or_else(|| bad("request body is required"))?;
            let ep = body
                .get("endpoint")
                .filter(|v| v.is_object())
                .ok_or_else(|| bad("endpoint: is required"))?;
            let branch_id = opt_str(Some(ep), "branch_id")?
                .ok_or_else(|| bad("endpoint.branch_id: is required"))?;
            let (endpoint, ops) = st.create_endpoint(&branch_id, new_endpoint(ep)?)?;
            Ok(Resp::json(
                201,
                &json!({"endpoint": endpoint, "operations": ops_json(&ops, now)}),
            ))
        }
        ("GET", ["connection_uri"]) => {
            let database = req
                .q("database_name")
                .filter(|s| !s.is_empty())
                .ok_or_else(|| bad("database_name: is required"))?;
            let role = req
                .q("role_name")
                .filter(|s| !s.is_empty())
                .ok_or_else(|| bad("role_name: is required"))?;
            let pooled = match req.q("pooled") {
                None | Some("false") => false,
                Some("true") => true,
                Some(_) => return Err(bad("pooled: must be true or false")),
            };
            let uri = st.connection_uri(
                req.q("branch_id"),
                req.q("endpoint_id"),
                database,
                role,
                pooled,
            )?;
            Ok(Resp::json(200, &json!({"uri": uri})))
        }
        ("GET", ["snapshots"]) => {
            let stale = st.take_stale_snapshots();
            let snapshots = stale.as_ref().unwrap_or(&st.snapshots);
            Ok(Resp::json(200, &json!({"snapshots": snapshots})))
        }
        ("PATCH", ["snapshots", sid]) => {
            let body = json_body(req)?.ok_or_else(|| bad("request body is required"))?;
            let snap = body
                .get("snapshot")
                .filter(|v| v.is_object())
                .ok_or_else(|| bad("snapshot: is required"))?;
            let name = opt_str(Some(snap), "name")?;
            let expires_at = match snap.get("expires_at") {
                None => None,
                Some(Value::Null) => Some(None),
                Some(Value::String(s)) => Some(Some(s.as_str())),
                Some(_) => return Err(bad("expires_at: must be a string or null")),
            };
            let snap = st.update_snapshot(sid, name.as_deref(), expires_at)?;
            Ok(Resp::json(200, &json!({"snapshot": snap})))
        }
        ("DELETE", ["snapshots", sid]) => {
            let ops = st.delete_snapshot(sid)?;
            Ok(Resp::json(202, &json!({"operations": ops_json(&ops, now)})))
        }
        ("POST", ["snapshots", sid, "restore"]) => {
            let body = json_body(req)?;
            // The deprecated `?name=` counts until its announced removal (by the emulated
            // clock); from then on it is ignored like any unknown parameter.
            let query_name = req
                .q("name")
                .filter(|_| now < RESTORE_NAME_QUERY_SUNSET)
                .map(str::to_string);
            let name = opt_str(body, "name")?.or(query_name);
            let (branch, endpoints, ops) = st.restore_snapshot(
                sid,
                RestoreReq {
                    name,
                    target_branch_id: opt_str(body, "target_branch_id")?,
                    finalize_restore: opt_bool(body, "finalize_restore")?.unwrap_or(false),
                },
            )?;
            let mut v = json!({"branch": branch, "operations": ops_json(&ops, now)});
            if !endpoints.is_empty() {
                v["endpoints"] = json!(endpoints);
            }
            Ok(Resp::json(200, &v))
        }
        ("GET", ["operations"]) => {
            let stale = st.take_stale_operations();
            let all = stale.as_deref().unwrap_or(&st.operations);
            let (ops, cursor) = list_operations_in(all, req.q("limit"), req.q("cursor"))?;
            let mut v =
                json!({"operations": ops.iter().map(|o| o.to_json(now)).collect::<Vec<_>>()});
            if let Some(c) = cursor {
                v["pagination"] = json!({"cursor": c});
            }
            Ok(Resp::json(200, &v))
        }
        ("GET", ["operations", op]) => {
            let op = st
                .operation(op)
                .ok_or_else(|| ApiError::not_found("operation"))?;
            Ok(Resp::json(200, &json!({"operation": op.to_json(now)})))
        }
        (
            _,
            ["branches", ..]
            | ["branch_anonymized"]
            | ["snapshots", ..]
            | ["operations", ..]
            | ["endpoints", ..]
            | ["connection_uri"]
            | [],
        ) => Err(ApiError::new(405, "method not allowed")),
        _ => Err(ApiError::not_found("resource")),
    }
}
