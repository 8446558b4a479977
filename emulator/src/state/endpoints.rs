//! Compute endpoints: creating one (with its `start_compute` operation) and the pooler host.

use std::time::Duration;

use jiff::SignedDuration;
use serde_json::json;

use super::ids::random_id;
use super::model::{Endpoint, EndpointType};
use super::operations::Operation;
use super::{ApiError, ApiResult, State};

impl Endpoint {
    /// The pooler host: `-pooler` right after the endpoint id.
    pub fn pooler_host(&self) -> String {
        match self.host.split_once('.') {
            Some((first, rest)) => format!("{first}-pooler.{rest}"),
            None => format!("{}-pooler", self.host),
        }
    }
}

impl State {
    pub(super) fn insert_endpoint(
        &mut self,
        branch_id: &str,
        kind: EndpointType,
        ready_in: Duration,
    ) -> Endpoint {
        let now = self.now();
        let id = loop {
            let id = random_id("ep");
            if !self.endpoints.iter().any(|e| e.id == id) {
                break id;
            }
        };
        let ready_at = now + SignedDuration::try_from(ready_in).unwrap_or_default();
        let ep = Endpoint {
            host: format!("{id}.{}", self.project.proxy_host),
            id,
            project_id: self.project.id.clone(),
            branch_id: branch_id.to_string(),
            autoscaling_limit_min_cu: 0.25,
            autoscaling_limit_max_cu: 2.0,
            region_id: self.project.region_id.clone(),
            kind,
            current_state: if ready_at <= now {
                "active".into()
            } else {
                "init".into()
            },
            settings: json!({}),
            pooler_enabled: false,
            pooler_mode: "transaction".into(),
            disabled: false,
            passwordless_access: true,
            creation_source: "console".into(),
            created_at: now,
            updated_at: now,
            proxy_host: self.project.proxy_host.clone(),
            suspend_timeout_seconds: 0,
            provisioner: "k8s-neonvm".into(),
            ready_at,
        };
        self.endpoints.push(ep.clone());
        ep
    }

    /// `POST /projects/{p}/endpoints`.
    pub fn create_endpoint(
        &mut self,
        branch_id: &str,
        kind: EndpointType,
    ) -> ApiResult<(Endpoint, Vec<Operation>)> {
        self.refresh();
        if !self.branches.contains_key(branch_id) {
            return Err(ApiError::not_found("branch"));
        }
        if kind == EndpointType::ReadWrite
            && self
                .endpoints
                .iter()
                .any(|e| e.branch_id == branch_id && e.kind == EndpointType::ReadWrite)
        {
            return Err(ApiError::new(
                409,
                "read_write endpoint already exists for this branch",
            ));
        }
        self.ensure_unlocked(&[branch_id])?;
        let now = self.now();
        let ep = self.insert_endpoint(branch_id, kind, self.limits.op_duration);
        let op = self.new_op(
            "create_endpoint",
            "start_compute",
            Some(branch_id),
            Some(&ep.id),
            now,
        );
        Ok((ep, vec![op]))
    }
}
