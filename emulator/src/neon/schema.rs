//! `GET …/branches/{b}/schema` and `GET …/branches/{b}/compare_schema`: a branch's schema as
//! SQL (default) or structured JSON (`format=json`), and a unified diff of two branches' SQL.
//! `lsn`/`timestamp` are validated but the answer is always the branch's head: the emulator
//! keeps no schema history.

use serde_json::json;

use super::input::bad;
use crate::request::{Req, Resp};
use crate::state::{ApiError, ApiResult, Branch, State, sql, unified_diff};

/// The branch and the database the query names (`db_name` is required).
fn branch_and_db<'a>(st: &'a State, req: &'a Req, b: &str) -> ApiResult<(&'a Branch, &'a str)> {
    let branch = st.branch(b).ok_or_else(|| ApiError::not_found("branch"))?;
    let db = req
        .q("db_name")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("db_name: is required"))?;
    if !st.databases.iter().any(|d| d.name == db) {
        return Err(ApiError::not_found("database"));
    }
    for (lsn, timestamp) in [("lsn", "timestamp"), ("base_lsn", "base_timestamp")] {
        if req.q(lsn).is_some() && req.q(timestamp).is_some() {
            return Err(bad(format!(
                "{lsn} and {timestamp} cannot be used together"
            )));
        }
    }
    Ok((branch, db))
}

fn tables<'a>(b: &'a Branch, db: &str) -> &'a [crate::state::Table] {
    b.schemas.get(db).map(Vec::as_slice).unwrap_or(&[])
}

pub(super) fn schema(st: &State, req: &Req, b: &str) -> ApiResult<Resp> {
    let (branch, db) = branch_and_db(st, req, b)?;
    let tables = tables(branch, db);
    match req.q("format").unwrap_or("sql") {
        "sql" => Ok(Resp::json(200, &json!({"sql": sql(tables)}))),
        "json" => Ok(Resp::json(200, &json!({"json": {"tables": tables}}))),
        other => Err(bad(format!("format: must be sql or json, got {other:?}"))),
    }
}

/// The base is `base_branch_id`, else the branch's parent, else the branch itself. The diff
/// goes from the base's SQL to the branch's, headed `--- <base id>/<db>` and
/// `+++ <branch id>/<db>`; empty when they are the same.
pub(super) fn compare(st: &State, req: &Req, b: &str) -> ApiResult<Resp> {
    let (branch, db) = branch_and_db(st, req, b)?;
    let base = match req.q("base_branch_id").or(branch.parent_id.as_deref()) {
        Some(id) => st
            .branch(id)
            .ok_or_else(|| ApiError::not_found("base branch"))?,
        None => branch,
    };
    let diff = unified_diff(
        &sql(tables(base, db)),
        &sql(tables(branch, db)),
        &format!("{}/{db}", base.id),
        &format!("{}/{db}", branch.id),
    );
    Ok(Resp::json(200, &json!({"diff": diff})))
}
