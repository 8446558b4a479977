//! Connection strings, roles and databases (every branch has the project's roles and databases).

use jiff::Timestamp;
use serde_json::{Value, json};

use super::model::{Endpoint, EndpointType};
use super::{ApiError, ApiResult, State};
use crate::time::fmt_ts;

impl State {
    /// `GET /projects/{p}/connection_uri`.
    pub fn connection_uri(
        &self,
        branch_id: Option<&str>,
        endpoint_id: Option<&str>,
        database: &str,
        role: &str,
        pooled: bool,
    ) -> ApiResult<String> {
        let branch = match branch_id.filter(|s| !s.is_empty()) {
            Some(id) => self
                .branches
                .get(id)
                .ok_or_else(|| ApiError::not_found("branch"))?,
            None => self
                .default_branch()
                .ok_or_else(|| ApiError::not_found("default branch"))?,
        };
        let ep = match endpoint_id.filter(|s| !s.is_empty()) {
            Some(id) => self
                .endpoints
                .iter()
                .find(|e| e.id == id && e.branch_id == branch.id),
            None => self
                .endpoints
                .iter()
                .find(|e| e.branch_id == branch.id && e.kind == EndpointType::ReadWrite),
        }
        .ok_or_else(|| ApiError::not_found("endpoint"))?;
        if !self.databases.iter().any(|d| d.name == database) {
            return Err(ApiError::not_found("database"));
        }
        let password = self
            .role_password(role)
            .ok_or_else(|| ApiError::not_found("role"))?;
        Ok(self.uri_for(ep, role, password, database, pooled))
    }

    fn uri_for(
        &self,
        ep: &Endpoint,
        role: &str,
        password: &str,
        database: &str,
        pooled: bool,
    ) -> String {
        let host = if pooled {
            ep.pooler_host()
        } else {
            ep.host.clone()
        };
        format!(
            "postgresql://{role}:{password}@{host}/{database}?sslmode=require&channel_binding=require"
        )
    }

    /// The `connection_uris` of a branch creation answer: present when the branch has a
    /// read-write compute and the project has exactly one role and one database.
    pub fn connection_details(&self, branch_id: &str) -> Vec<Value> {
        let Some(ep) = self
            .endpoints
            .iter()
            .find(|e| e.branch_id == branch_id && e.kind == EndpointType::ReadWrite)
        else {
            return Vec::new();
        };
        if self.roles.len() != 1 || self.databases.len() != 1 {
            return Vec::new();
        }
        let (role, db) = (&self.roles[0], &self.databases[0]);
        vec![json!({
            "connection_uri": self.uri_for(ep, &role.name, &role.password, &db.name, false),
            "connection_parameters": {
                "database": db.name,
                "password": role.password,
                "role": role.name,
                "host": ep.host,
                "pooler_host": ep.pooler_host(),
            }
        })]
    }

    pub fn roles_json(&self, branch_id: &str, now: Timestamp) -> Vec<Value> {
        self.roles
            .iter()
            .map(|r| json!({"branch_id": branch_id, "name": r.name, "password": r.password, "protected": false, "created_at": fmt_ts(now), "updated_at": fmt_ts(now)}))
            .collect()
    }

    pub fn databases_json(&self, branch_id: &str, now: Timestamp) -> Vec<Value> {
        self.databases
            .iter()
            .map(|d| json!({"id": d.id, "branch_id": branch_id, "name": d.name, "owner_name": d.owner_name, "created_at": fmt_ts(now), "updated_at": fmt_ts(now)}))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::state::test_support::*;

    #[test]
    fn connection_uris() {
        let (s, prod, _) = demo();
        let uri = s
            .connection_uri(Some(&prod), None, "neondb", "neondb_owner", true)
            .unwrap();
        let ep = &s.endpoints_of(&prod)[0];
        assert!(
            uri.contains(&ep.pooler_host()) && ep.pooler_host().contains("-pooler."),
            "{uri}"
        );
        assert!(uri.starts_with(&format!(
            "postgresql://neondb_owner:{}@",
            s.role_password("neondb_owner").unwrap()
        )));
        assert_eq!(
            s.connection_uri(Some(&prod), None, "nope", "neondb_owner", false)
                .unwrap_err()
                .status,
            404
        );
    }
}
