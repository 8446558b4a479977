//! Reading request bodies and parameters the way the API validates them: a present field of
//! the wrong type, or a body that is not JSON, is a 400.

use serde_json::Value;

use crate::request::Req;
use crate::state::{ApiError, ApiResult, EndpointType};

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

pub(crate) fn endpoint_type(v: &Value) -> ApiResult<EndpointType> {
    match v.get("type").and_then(Value::as_str) {
        Some("read_write") => Ok(EndpointType::ReadWrite),
        Some("read_only") => Ok(EndpointType::ReadOnly),
        _ => Err(bad("endpoint type: must be read_write or read_only")),
    }
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
