//! Reading request bodies and parameters the way the API validates them: a present field of
//! the wrong type, or a body that is not JSON, is a 400.

use serde_json::Value;

use crate::request::Req;
use crate::state::{ApiError, ApiResult, CreateBranchReq, EndpointType, NewEndpoint};

pub(crate) fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::new(400, msg)
}

/// An optional string field; present-but-not-a-string is a 400 like a schema violation.
pub(crate) fn opt_str(obj: Option<&Value>, key: &str) -> ApiResult<Option<String>> {
    match obj.and_then(|o| o.get(key)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(format!("{key}: must be a string"))),
    }
}

pub(crate) fn opt_bool(obj: Option<&Value>, key: &str) -> ApiResult<Option<bool>> {
    match obj.and_then(|o| o.get(key)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(bad(format!("{key}: must be a boolean"))),
    }
}

/// An endpoint option of a branch or compute creation: `type` and `suspend_timeout_seconds`.
pub(crate) fn new_endpoint(v: &Value) -> ApiResult<NewEndpoint> {
    let kind = match v.get("type").and_then(Value::as_str) {
        Some("read_write") => EndpointType::ReadWrite,
        Some("read_only") => EndpointType::ReadOnly,
        _ => return Err(bad("endpoint type: must be read_write or read_only")),
    };
    let suspend_timeout_seconds = match v.get("suspend_timeout_seconds") {
        None | Some(Value::Null) => 0,
        Some(n) => n
            .as_i64()
            .ok_or_else(|| bad("suspend_timeout_seconds: must be an integer"))?,
    };
    Ok(NewEndpoint {
        kind,
        suspend_timeout_seconds,
    })
}

/// The body as JSON; a body that is present but not JSON is a 400.
pub(crate) fn json_body(req: &Req) -> ApiResult<Option<&Value>> {
    if req.raw_body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    req.body
        .as_ref()
        .map(Some)
        .ok_or_else(|| bad("request body is not valid JSON"))
}

/// A branch creation: `branch` and `endpoints` from `create` (the body, or an anonymized
/// creation's `branch_create`), `annotation_value` from `outer` (the body).
pub(crate) fn create_branch_req(
    create: Option<&Value>,
    outer: Option<&Value>,
) -> ApiResult<CreateBranchReq> {
    let branch = create.and_then(|b| b.get("branch"));
    let endpoints = match create.and_then(|b| b.get("endpoints")) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().map(new_endpoint).collect::<ApiResult<Vec<_>>>()?,
        Some(_) => return Err(bad("endpoints: must be an array")),
    };
    let annotation_value = match outer.and_then(|b| b.get("annotation_value")) {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) if m.values().all(Value::is_string) && m.len() <= 50 => {
            Some(m.clone())
        }
        Some(_) => {
            return Err(bad(
                "annotation_value: must be an object of at most 50 string properties",
            ));
        }
    };
    Ok(CreateBranchReq {
        name: opt_str(branch, "name")?,
        parent_id: opt_str(branch, "parent_id")?,
        expires_at: opt_str(branch, "expires_at")?,
        protected: opt_bool(branch, "protected")?,
        init_source: opt_str(branch, "init_source")?,
        endpoints,
        annotation_value,
    })
}
