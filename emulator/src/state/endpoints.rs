//! Compute endpoints: creating one (with its `start_compute` operation) and the pooler host.

use std::time::Duration;

use jiff::SignedDuration;
use serde_json::json;

use super::ids::random_id;
use super::model::{Endpoint, EndpointType};
use super::operations::Operation;
use super::{ApiError, ApiResult, State};

/// A compute to create: its type and `suspend_timeout_seconds` (`0`: Neon's default of 300,
/// `-1`: never suspend).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewEndpoint {
    pub kind: EndpointType,
    pub suspend_timeout_seconds: i64,
}

impl From<EndpointType> for NewEndpoint {
    fn from(kind: EndpointType) -> NewEndpoint {
        NewEndpoint {
            kind,
            suspend_timeout_seconds: 0,
        }
    }
}

impl NewEndpoint {
    /// The spec's `SuspendTimeoutSeconds`: `-1`, `0`, or 60 s to a week (its description says
    /// the minimum is 60 even though its schema allows 1 to 59: the stricter reading).
    pub fn validate(&self) -> ApiResult<()> {
        match self.suspend_timeout_seconds {
            -1 | 0 | 60..=604_800 => Ok(()),
            n => Err(ApiError::new(
                400,
                format!("suspend_timeout_seconds: {n} must be -1, 0 or from 60 to 604800"),
            )),
        }
    }
}

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
        new: NewEndpoint,
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
            kind: new.kind,
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
            suspend_timeout_seconds: new.suspend_timeout_seconds,
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
        new: NewEndpoint,
    ) -> ApiResult<(Endpoint, Vec<Operation>)> {
        self.refresh();
        if !self.branches.contains_key(branch_id) {
            return Err(ApiError::not_found("branch"));
        }
        new.validate()?;
        if new.kind == EndpointType::ReadWrite
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
        let ep = self.insert_endpoint(branch_id, new, self.limits.op_duration);
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
