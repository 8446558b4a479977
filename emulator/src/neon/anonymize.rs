//! Anonymized branches: `POST …/branch_anonymized`, `GET|PATCH …/branches/{b}/masking_rules`
//! (`anonymized_status` and `anonymize` answer straight from the state). Rules live in
//! [`crate::state::Anonymization`].

use serde_json::{Value, json};

use super::input::{bad, create_branch_req, json_body, opt_bool};
use crate::request::{Req, Resp};
use crate::state::{ApiResult, MaskingRule, State};

/// `masking_rules`: an array of rules with `database_name`, `schema_name`, `table_name` and
/// `column_name` (absent: none).
fn masking_rules(body: &Value) -> ApiResult<Vec<MaskingRule>> {
    match body.get("masking_rules") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => {
            serde_json::from_value(v.clone()).map_err(|e| bad(format!("masking_rules: {e}")))
        }
    }
}

pub(super) fn create(st: &mut State, req: &Req, now: jiff::Timestamp) -> ApiResult<Resp> {
    let body = json_body(req)?.ok_or_else(|| bad("request body is required"))?;
    let create = create_branch_req(body.get("branch_create"), Some(body))?;
    let rules = masking_rules(body)?;
    let start = opt_bool(Some(body), "start_anonymization")?.unwrap_or(false);
    let created = st.create_branch_anonymized(create, rules, start)?;
    Ok(super::created_resp(st, created, now))
}

pub(super) fn rules(st: &State, b: &str) -> ApiResult<Resp> {
    let a = st.anonymization(b)?;
    Ok(Resp::json(200, &json!({"masking_rules": a.rules})))
}

pub(super) fn set_rules(st: &mut State, req: &Req, b: &str) -> ApiResult<Resp> {
    let body = json_body(req)?.ok_or_else(|| bad("request body is required"))?;
    if body.get("masking_rules").is_none() {
        return Err(bad("masking_rules: is required"));
    }
    st.set_masking_rules(b, masking_rules(body)?)?;
    rules(st, b)
}
