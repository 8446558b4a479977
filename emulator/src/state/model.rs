//! The serialized types: the project, branches, computes, snapshots, roles and databases, with
//! every field the OpenAPI schemas mark required. Fields the API does not have are
//! `#[serde(skip)]` and say so.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use super::lsn::Lsn;
use super::schema::Schemas;
use crate::time::{ts, ts_opt};

/// The project. Serialized with every field the OpenAPI `Project` schema marks required.
#[derive(Debug, Clone, Serialize)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub platform_id: String,
    pub region_id: String,
    pub provisioner: String,
    pub pg_version: u32,
    pub proxy_host: String,
    pub branch_logical_size_limit: i64,
    pub branch_logical_size_limit_bytes: i64,
    pub store_passwords: bool,
    pub creation_source: String,
    pub history_retention_seconds: i64,
    #[serde(with = "ts")]
    pub created_at: Timestamp,
    #[serde(with = "ts")]
    pub updated_at: Timestamp,
    pub owner_id: String,
    pub cpu_used_sec: i64,
    pub compute_time_seconds: i64,
    pub active_time_seconds: i64,
    pub written_data_bytes: i64,
    pub data_transfer_bytes: i64,
    pub data_storage_bytes_hour: i64,
    #[serde(with = "ts")]
    pub consumption_period_start: Timestamp,
    #[serde(with = "ts")]
    pub consumption_period_end: Timestamp,
}

/// A branch. `data` is the emulator's stand-in for the database contents: a child copies its
/// parent's, a snapshot captures it, a restore hands the snapshot's to the new branch.
#[derive(Debug, Clone, Serialize)]
pub struct Branch {
    pub id: String,
    pub project_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_lsn: Option<Lsn>,
    #[serde(skip_serializing_if = "Option::is_none", with = "ts_opt")]
    pub parent_timestamp: Option<Timestamp>,
    pub name: String,
    /// `init` until the branch's creating operations finish, then `ready` (see [`State::refresh`]).
    pub current_state: String,
    #[serde(with = "ts")]
    pub state_changed_at: Timestamp,
    pub logical_size: i64,
    pub creation_source: String,
    pub primary: bool,
    pub default: bool,
    pub protected: bool,
    pub cpu_used_sec: i64,
    pub compute_time_seconds: i64,
    pub active_time_seconds: i64,
    pub written_data_bytes: i64,
    pub data_transfer_bytes: i64,
    #[serde(with = "ts")]
    pub created_at: Timestamp,
    #[serde(with = "ts")]
    pub updated_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_interval_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", with = "ts_opt")]
    pub expires_at: Option<Timestamp>,
    pub init_source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored_as: Option<String>,
    /// The emulated contents (not part of the API).
    #[serde(skip)]
    pub data: String,
    /// The tables of each database (not part of a branch's JSON: see the schema route).
    #[serde(skip)]
    pub schemas: Schemas,
    /// Where the branch's WAL is (no public route shows it).
    #[serde(skip)]
    pub lsn: Lsn,
    /// When the branch turns `ready` (not part of the API).
    #[serde(skip)]
    pub ready_at: Timestamp,
    /// The branch a not-yet-finalized restore will replace (not part of the API; `restored_as`
    /// is only set once it has).
    #[serde(skip)]
    pub restore_target: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointType {
    ReadWrite,
    ReadOnly,
}

/// A compute endpoint, with every field the OpenAPI `Endpoint` schema marks required.
#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub host: String,
    pub id: String,
    pub project_id: String,
    pub branch_id: String,
    pub autoscaling_limit_min_cu: f64,
    pub autoscaling_limit_max_cu: f64,
    pub region_id: String,
    #[serde(rename = "type")]
    pub kind: EndpointType,
    pub current_state: String,
    pub settings: Value,
    pub pooler_enabled: bool,
    pub pooler_mode: String,
    pub disabled: bool,
    pub passwordless_access: bool,
    pub creation_source: String,
    #[serde(with = "ts")]
    pub created_at: Timestamp,
    #[serde(with = "ts")]
    pub updated_at: Timestamp,
    pub proxy_host: String,
    pub suspend_timeout_seconds: i64,
    pub provisioner: String,
    #[serde(skip)]
    pub ready_at: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    pub id: String,
    pub name: String,
    /// Unique in the project and immutable (`@neon/sdk` 6.1.2; the 2.7.3 spec has no slug):
    /// the one asked for on create, else the snapshot's id.
    pub slug: String,
    /// The source branch's LSN when the snapshot was taken.
    pub lsn: Lsn,
    pub timestamp: String,
    pub source_branch_id: String,
    #[serde(with = "ts")]
    pub created_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none", with = "ts_opt")]
    pub expires_at: Option<Timestamp>,
    pub manual: bool,
    /// The contents captured from the source branch (not part of the API).
    #[serde(skip)]
    pub data: String,
    /// The schemas captured from the source branch (not part of the API).
    #[serde(skip)]
    pub schemas: Schemas,
}

/// What a new branch starts from: its parent's, a snapshot's or a seed's contents.
#[derive(Debug, Clone, Default)]
pub struct Contents {
    pub data: String,
    pub schemas: Schemas,
    pub lsn: Lsn,
}

impl Branch {
    pub fn contents(&self) -> Contents {
        Contents {
            data: self.data.clone(),
            schemas: self.schemas.clone(),
            lsn: self.lsn,
        }
    }
}

impl Snapshot {
    pub fn contents(&self) -> Contents {
        Contents {
            data: self.data.clone(),
            schemas: self.schemas.clone(),
            lsn: self.lsn,
        }
    }
}

/// A role of the project (every branch has the same roles, with the same password).
#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub password: String,
}

#[derive(Debug, Clone)]
pub struct Database {
    pub id: i64,
    pub name: String,
    pub owner_name: String,
}
