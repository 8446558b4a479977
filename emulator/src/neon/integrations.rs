//! Neon Auth (`GET …/branches/{b}/auth`) and the Data API (`GET …/branches/{b}/data-api/{db}`),
//! the two routes create-branch-action 6.4 reads for `get_auth_url` and `get_data_api_url`.
//! Off by default ([`crate::state::Features`]): 404, as Neon answers for a branch without them.
//! On: a `better_auth` integration owned by Neon, and a `ready` Data API, with URLs built from
//! the branch's read-write compute (its id when it has none) in the shape of Neon's
//! (`https://<ep>.neonauth.<region>…/<db>/auth`, `https://<ep>.apirest.<region>…/<db>/rest/v1`).

use serde_json::json;

use crate::request::Resp;
use crate::state::{ApiError, ApiResult, EndpointType, State};
use crate::time::fmt_ts;

/// `<compute id>.<service>.<region host>` for branch `b`.
fn host(st: &State, b: &str, service: &str) -> ApiResult<String> {
    let branch = st.branch(b).ok_or_else(|| ApiError::not_found("branch"))?;
    let label = st
        .endpoints_of(b)
        .into_iter()
        .find(|e| e.kind == EndpointType::ReadWrite)
        .map_or(branch.id.as_str(), |e| e.id.as_str());
    Ok(format!("{label}.{service}.{}", st.project.proxy_host))
}

pub(super) fn neon_auth(st: &State, b: &str) -> ApiResult<Resp> {
    let host = host(st, b, "neonauth")?;
    if !st.limits.features.neon_auth {
        return Err(ApiError::not_found("neon auth integration"));
    }
    let db = &st.databases[0].name;
    let base_url = format!("https://{host}/{db}/auth");
    Ok(Resp::json(
        200,
        &json!({
            "auth_provider": "better_auth",
            "auth_provider_project_id": format!("{}-{b}", st.project.id),
            "branch_id": b,
            "db_name": db,
            "created_at": fmt_ts(st.project.created_at),
            "owned_by": "neon",
            "jwks_url": format!("{base_url}/.well-known/jwks.json"),
            "base_url": base_url,
        }),
    ))
}

pub(super) fn data_api(st: &State, b: &str, db: &str) -> ApiResult<Resp> {
    let host = host(st, b, "apirest")?;
    if !st.databases.iter().any(|d| d.name == db) {
        return Err(ApiError::not_found("database"));
    }
    if !st.limits.features.data_api {
        return Err(ApiError::not_found("data api"));
    }
    Ok(Resp::json(
        200,
        &json!({"url": format!("https://{host}/{db}/rest/v1"), "status": "ready"}),
    ))
}
