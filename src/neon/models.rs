//! The subset of Neon's API v2 schema that neon-promote reads and sends, checked against the
//! pinned OpenAPI spec (`public-v2-for-users.gen.yaml` in `@neondatabase/api-client@2.7.3`).
//! Unknown fields are ignored so that additions to the API never break a run.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Branch {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default)]
    pub default: bool,
    #[serde(default)]
    pub protected: bool,
    #[serde(default)]
    pub current_state: String,
    #[serde(default)]
    pub expires_at: Option<String>,
    /// The snapshot this branch was restored from (set on the branch a restore creates).
    #[serde(default)]
    pub restored_from: Option<String>,
    /// The branch a finalized restore replaced with this one (its id moved to `<name> (old)`).
    #[serde(default)]
    pub restored_as: Option<String>,
    #[serde(default)]
    pub created_at: String,
    /// `parent-data` (Neon's default), `schema-only`, …: how the branch was first filled.
    #[serde(default)]
    pub init_source: Option<String>,
}

impl Branch {
    /// Snapshots can only be taken of root branches.
    pub fn is_root(&self) -> bool {
        self.parent_id.is_none()
    }

    /// Made with `init_source: schema-only`: Neon makes such a branch a root of its own,
    /// holding its source's schema and no rows.
    pub fn is_schema_only(&self) -> bool {
        self.init_source.as_deref() == Some(SCHEMA_ONLY)
    }
}

/// The `init_source` of a branch with its parent's schema and no data.
pub const SCHEMA_ONLY: &str = "schema-only";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Snapshot {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub source_branch_id: Option<String>,
    pub created_at: String,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub manual: Option<bool>,
    /// The branch's LSN when the snapshot was taken (`0/16B3748`).
    #[serde(default)]
    pub lsn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Operation {
    pub id: String,
    /// Kept as text: Neon adds actions (`epc_sync`, …) faster than a pinned enum would follow.
    pub action: String,
    pub status: OperationStatus,
    #[serde(default)]
    pub branch_id: Option<String>,
    #[serde(default)]
    pub endpoint_id: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub created_at: String,
}

/// `.operation.status`. A status this build does not know is kept verbatim and counts as
/// still running, so a new Neon status never ends a wait early or breaks parsing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum OperationStatus {
    Scheduling,
    Running,
    Finished,
    Failed,
    Error,
    Cancelling,
    Cancelled,
    Skipped,
    Unknown(String),
}

impl From<String> for OperationStatus {
    fn from(status: String) -> Self {
        match status.as_str() {
            "scheduling" => Self::Scheduling,
            "running" => Self::Running,
            "finished" => Self::Finished,
            "failed" => Self::Failed,
            "error" => Self::Error,
            "cancelling" => Self::Cancelling,
            "cancelled" => Self::Cancelled,
            "skipped" => Self::Skipped,
            _ => Self::Unknown(status),
        }
    }
}

impl OperationStatus {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Scheduling => "scheduling",
            Self::Running => "running",
            Self::Finished => "finished",
            Self::Failed => "failed",
            Self::Error => "error",
            Self::Cancelling => "cancelling",
            Self::Cancelled => "cancelled",
            Self::Skipped => "skipped",
            Self::Unknown(status) => status,
        }
    }

    /// finished and skipped: the work is done.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Finished | Self::Skipped)
    }

    /// failed, error and cancelled: the work was not done (Neon's own SDK counts cancelled so).
    pub fn is_failure(&self) -> bool {
        matches!(self, Self::Failed | Self::Error | Self::Cancelled)
    }

    /// Neither yet: scheduling, running, cancelling, or a status this build does not know.
    pub fn is_running(&self) -> bool {
        !self.is_success() && !self.is_failure()
    }
}

impl std::fmt::Display for OperationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Endpoint {
    pub id: String,
    pub branch_id: String,
    pub host: String,
    #[serde(rename = "type")]
    pub kind: EndpointType,
    #[serde(default)]
    pub current_state: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointType {
    ReadWrite,
    ReadOnly,
}

impl EndpointType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadWrite => "read_write",
            Self::ReadOnly => "read_only",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ConnectionDetails {
    pub connection_uri: String,
    pub connection_parameters: ConnectionParameters,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ConnectionParameters {
    pub database: String,
    pub password: String,
    pub role: String,
    pub host: String,
    pub pooler_host: String,
}

/// What a mutating call returns: the resource (`branch`, `endpoint` or `snapshot` in Neon's
/// answer) and the operations to wait for.
#[derive(Debug, Clone, Deserialize)]
pub struct WithOps<T> {
    #[serde(alias = "branch", alias = "endpoint", alias = "snapshot")]
    pub value: T,
    #[serde(default)]
    pub operations: Vec<Operation>,
}

/// `POST /projects/{p}/branches` answer (201).
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedBranch {
    pub branch: Branch,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    #[serde(default)]
    pub operations: Vec<Operation>,
    #[serde(default)]
    pub connection_uris: Vec<ConnectionDetails>,
}

/// A branch to create: the body of `POST /projects/{p}/branches`, or with masking rules that
/// of `POST /projects/{p}/branch_anonymized`.
#[derive(Debug, Clone, Default)]
pub struct CreateBranch {
    pub name: String,
    pub parent_id: String,
    /// RFC 3339 with seconds precision.
    pub expires_at: Option<String>,
    /// Give the branch a read-write compute in the same call.
    pub read_write_endpoint: bool,
    /// The parent's schema without its rows (`init_source: schema-only`; Neon makes it a root).
    pub schema_only: bool,
    /// The compute's `suspend_timeout_seconds`; `None` leaves Neon's default.
    pub suspend_timeout_seconds: Option<i64>,
    /// `MaskingRule` objects: the branch is created anonymized, its anonymization started at once.
    pub masking_rules: Option<serde_json::Value>,
}

/// `GET /projects/{p}/branches/{b}/anonymized_status`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AnonymizedStatus {
    /// `created`, `initialized`, `initialization_error`, `anonymizing`, `anonymized` or `error`.
    pub state: String,
    #[serde(default)]
    pub status_message: Option<String>,
}

impl AnonymizedStatus {
    /// The masked data is in place.
    pub fn is_anonymized(&self) -> bool {
        self.state == "anonymized"
    }

    /// Setup or the anonymization failed: the data may not be masked.
    pub fn is_failed(&self) -> bool {
        matches!(self.state.as_str(), "error" | "initialization_error")
    }
}

/// Body of `PATCH /projects/{p}/branches/{b}` (`{"branch": {...}}`); `None` leaves a field.
#[derive(Debug, Clone, Serialize, Default)]
pub struct UpdateBranch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protected: Option<bool>,
    /// `Some(None)` clears the expiry (sends `null`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Option<String>>,
}

/// Body of `POST /projects/{p}/snapshots/{s}/restore`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct RestoreSnapshot {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_branch_id: Option<String>,
    pub finalize_restore: bool,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn statuses_split_into_success_failure_and_running() {
        let status = |s: &str| OperationStatus::from(s.to_string());
        for s in ["finished", "skipped"] {
            assert!(status(s).is_success(), "{s}");
        }
        for s in ["failed", "error", "cancelled"] {
            assert!(status(s).is_failure(), "{s}");
        }
        for s in ["scheduling", "running", "cancelling", "paused"] {
            assert!(status(s).is_running(), "{s}");
        }
        assert_eq!(status("paused").to_string(), "paused");
    }

    #[test]
    fn operations_parse_leniently() {
        let op: Operation = serde_json::from_value(json!({
            "id": "op-1", "action": "epc_sync", "status": "paused", "extra": 1
        }))
        .unwrap();
        assert_eq!(op.status, OperationStatus::Unknown("paused".into()));
        assert_eq!(op.action, "epc_sync");
    }

    #[test]
    fn with_ops_reads_each_resource_name() {
        let ops = json!([{ "id": "op-1", "action": "create_branch", "status": "running" }]);
        for key in ["branch", "endpoint", "snapshot"] {
            let answer: WithOps<serde_json::Value> =
                serde_json::from_value(json!({ key: { "id": "x" }, "operations": ops })).unwrap();
            assert_eq!(
                (answer.value["id"].as_str(), answer.operations.len()),
                (Some("x"), 1)
            );
        }
    }
}

/// A table of `GET …/schema?format=json` (`json.tables[]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SchemaTable {
    pub schema: String,
    pub name: String,
    #[serde(default)]
    pub columns: Vec<SchemaColumn>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SchemaColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    #[serde(default)]
    pub nullable: Option<bool>,
    #[serde(default)]
    pub generated: bool,
}

impl SchemaColumn {
    /// A column Neon does not say is NOT NULL allows NULL (Postgres's default).
    pub fn nullable(&self) -> bool {
        self.nullable.unwrap_or(true)
    }
}
