//! The pure state model of one emulated Neon project (and the GitHub fake's data): no HTTP here.
//!
//! Every rule the real API enforces and neon-promote depends on lives in this file, so that it
//! can be unit-tested without a server: finalize-restore semantics, the snapshot quota, the
//! project lock while an operation runs (423), expiry validation, delete refusals and cursor
//! pagination. Time is read through [`State::now`], which tests can move forward with
//! [`State::advance`]; operation progress and expiry are evaluated lazily from it.

use std::collections::HashMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::github::GitHubState;

/// An error answer: `{code, message, request_id}` with this HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: String::new(),
            message: message.into(),
        }
    }
    pub fn with_code(mut self, code: &str) -> Self {
        self.code = code.to_string();
        self
    }
    pub fn not_found(what: &str) -> Self {
        ApiError::new(404, format!("{what} not found"))
    }
    /// What real Neon answers while another operation is still running on the project.
    pub fn locked() -> Self {
        ApiError::new(
            423,
            "project already has running conflicting operations, scheduling of new ones is prohibited",
        )
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Timestamps as the real API prints them: UTC, seconds precision (`2022-11-23T17:42:25Z`).
pub fn fmt_ts(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

mod ts {
    use jiff::Timestamp;
    use serde::Serializer;
    pub fn serialize<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::fmt_ts(*ts))
    }
}
mod ts_opt {
    use jiff::Timestamp;
    use serde::Serializer;
    pub fn serialize<S: Serializer>(ts: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match ts {
            Some(ts) => s.serialize_str(&super::fmt_ts(*ts)),
            None => s.serialize_none(),
        }
    }
}

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
    pub parent_lsn: Option<String>,
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

impl Endpoint {
    /// The pooler host: `-pooler` right after the endpoint id.
    pub fn pooler_host(&self) -> String {
        match self.host.split_once('.') {
            Some((first, rest)) => format!("{first}-pooler.{rest}"),
            None => format!("{}-pooler", self.host),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub id: String,
    pub name: String,
    pub lsn: String,
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
}

/// How an operation ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpOutcome {
    Finished,
    /// `failed` or `error`, with the `error` text.
    Failed {
        status: String,
        error: String,
    },
}

/// An operation. Its status is derived from the clock: `scheduling` while it waits for an
/// earlier operation of the same call (`queued`) and for the first fifth of `duration`, then
/// `running`, then the outcome.
#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    pub project_id: String,
    pub branch_id: Option<String>,
    pub endpoint_id: Option<String>,
    pub action: String,
    pub created_at: Timestamp,
    /// Waiting time before it starts (a compute starts once its timeline exists).
    pub queued: Duration,
    pub duration: Duration,
    pub outcome: OpOutcome,
}

impl Operation {
    pub fn status(&self, now: Timestamp) -> &str {
        // Zero-length operations are born finished, whatever the caller's idea of "now".
        let elapsed = if self.duration.is_zero() {
            SignedDuration::MAX
        } else {
            now.duration_since(self.created_at)
        };
        let queued = SignedDuration::try_from(self.queued).unwrap_or(SignedDuration::MAX);
        let run = SignedDuration::try_from(self.duration).unwrap_or(SignedDuration::MAX);
        if elapsed >= queued.saturating_add(run) {
            match &self.outcome {
                OpOutcome::Finished => "finished",
                OpOutcome::Failed { status, .. } => status,
            }
        } else if elapsed < queued.saturating_add(run / 5) {
            "scheduling"
        } else {
            "running"
        }
    }
    pub fn is_terminal(&self, now: Timestamp) -> bool {
        matches!(
            self.status(now),
            "finished" | "failed" | "error" | "cancelled" | "skipped"
        )
    }
    /// The JSON the API returns, as seen at `now`.
    pub fn to_json(&self, now: Timestamp) -> Value {
        let status = self.status(now);
        let terminal = self.is_terminal(now);
        let updated = if terminal {
            self.created_at
                + SignedDuration::try_from(self.queued + self.duration).unwrap_or_default()
        } else {
            now
        };
        let mut v = json!({
            "id": self.id,
            "project_id": self.project_id,
            "action": self.action,
            "status": status,
            "failures_count": if terminal && matches!(self.outcome, OpOutcome::Failed{..}) { 1 } else { 0 },
            "created_at": fmt_ts(self.created_at),
            "updated_at": fmt_ts(updated),
            "total_duration_ms": if terminal { self.duration.as_millis() as i64 } else { now.duration_since(self.created_at).as_millis() as i64 },
        });
        if let Some(b) = &self.branch_id {
            v["branch_id"] = json!(b);
        }
        if let Some(e) = &self.endpoint_id {
            v["endpoint_id"] = json!(e);
        }
        if terminal && let OpOutcome::Failed { error, .. } = &self.outcome {
            v["error"] = json!(error);
        }
        v
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

/// A scripted operation failure (see `Fault::FailOperation`): the next `times` operations whose
/// action, or whose API call (`create_branch`, `create_snapshot`, `restore_snapshot`,
/// `delete_branch`, `create_endpoint`, `finalize_restore`), equals `action` end with `status`.
#[derive(Debug, Clone)]
pub struct OpFailure {
    pub action: String,
    pub status: String,
    pub error: String,
    pub times: usize,
}

/// Tunables that shape the state machine.
#[derive(Debug, Clone)]
pub struct Limits {
    pub op_duration: Duration,
    pub snapshot_quota: usize,
    /// See `Options::restore_moves_protection`.
    pub restore_moves_protection: bool,
    /// See `Options::root_branch_quota`.
    pub root_branch_quota: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            op_duration: Duration::ZERO,
            snapshot_quota: 10,
            restore_moves_protection: true,
            root_branch_quota: 25,
        }
    }
}

/// The whole emulated world. Public so tests can inspect and seed it through
/// `Emulator::with_state`; mutate through the methods to keep the invariants.
#[derive(Debug)]
pub struct State {
    pub project: Project,
    pub branches: HashMap<String, Branch>,
    pub endpoints: Vec<Endpoint>,
    /// Oldest first.
    pub snapshots: Vec<Snapshot>,
    /// Oldest first.
    pub operations: Vec<Operation>,
    pub roles: Vec<Role>,
    pub databases: Vec<Database>,
    pub limits: Limits,
    pub op_failures: Vec<OpFailure>,
    pub github: GitHubState,
    /// Branch annotations (`annotation_value` of a branch creation), by branch id.
    pub annotations: HashMap<String, Value>,
    /// Added to the wall clock: lets tests expire things without sleeping.
    pub clock_offset: SignedDuration,
    /// Creation order, for stable tie-breaks.
    seq: u64,
    branch_seq: HashMap<String, u64>,
}

/// Body of a branch creation, already parsed.
#[derive(Debug, Clone, Default)]
pub struct CreateBranchReq {
    pub name: Option<String>,
    pub parent_id: Option<String>,
    pub expires_at: Option<String>,
    pub protected: Option<bool>,
    pub endpoints: Vec<EndpointType>,
    /// `annotation_value`: string properties kept with the branch.
    pub annotation_value: Option<Map<String, Value>>,
}

/// What a branch creation returns.
#[derive(Debug, Clone)]
pub struct CreatedBranch {
    pub branch: Branch,
    pub endpoints: Vec<Endpoint>,
    pub operations: Vec<Operation>,
}

/// `PATCH` body; `expires_at: Some(None)` clears the expiry.
#[derive(Debug, Clone, Default)]
pub struct UpdateBranchReq {
    pub name: Option<String>,
    pub protected: Option<bool>,
    pub expires_at: Option<Option<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct RestoreReq {
    pub name: Option<String>,
    pub target_branch_id: Option<String>,
    pub finalize_restore: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    UpdatedAt,
    CreatedAt,
    Name,
}

impl SortBy {
    pub fn as_str(self) -> &'static str {
        match self {
            SortBy::UpdatedAt => "updated_at",
            SortBy::CreatedAt => "created_at",
            SortBy::Name => "name",
        }
    }
    fn parse(s: &str) -> Option<SortBy> {
        match s {
            "updated_at" => Some(SortBy::UpdatedAt),
            "created_at" => Some(SortBy::CreatedAt),
            "name" => Some(SortBy::Name),
            _ => None,
        }
    }
}

/// Query of `GET /projects/{p}/branches`.
#[derive(Debug, Clone, Default)]
pub struct ListBranchesQuery {
    pub search: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// One page of branches.
#[derive(Debug)]
pub struct BranchPage<'a> {
    pub branches: Vec<&'a Branch>,
    pub next: Option<String>,
    pub sort_by: SortBy,
    pub desc: bool,
}

/// The spec's `LimitParam` maximum: larger pages are refused.
pub const MAX_BRANCH_LIMIT: usize = 10_000;
/// The page size without `limit`. Neon's own CLI says "branch list pages cap at 100" and walks
/// `pagination.next`; a client that sends no `limit` must paginate here too.
pub const DEFAULT_BRANCH_LIMIT: usize = 100;
/// `GET /operations` accepts 1..=1000.
pub const MAX_OPERATIONS_LIMIT: usize = 1_000;
/// Branch expiry may be at most this far ahead.
pub const MAX_EXPIRY: SignedDuration = SignedDuration::from_hours(30 * 24);

const ADJECTIVES: &[&str] = &[
    "aged",
    "bitter",
    "billowing",
    "calm",
    "cool",
    "damp",
    "dark",
    "empty",
    "floral",
    "fragrant",
    "frosty",
    "gentle",
    "icy",
    "late",
    "lingering",
    "little",
    "lucky",
    "misty",
    "morning",
    "muddy",
    "nameless",
    "odd",
    "patient",
    "polished",
    "quiet",
    "raspy",
    "red",
    "rough",
    "royal",
    "shiny",
    "silent",
    "small",
    "snowy",
    "soft",
    "solitary",
    "spring",
    "still",
    "summer",
    "sweet",
    "twilight",
    "wandering",
    "weathered",
    "wild",
    "winter",
    "wispy",
    "withered",
];
const NOUNS: &[&str] = &[
    "base",
    "bird",
    "block",
    "breeze",
    "brook",
    "bush",
    "butterfly",
    "cake",
    "cell",
    "cherry",
    "cloud",
    "credit",
    "darkness",
    "dawn",
    "dew",
    "disk",
    "dream",
    "dust",
    "feather",
    "field",
    "fire",
    "firefly",
    "flower",
    "fog",
    "forest",
    "frog",
    "frost",
    "glade",
    "glitter",
    "grass",
    "hall",
    "hat",
    "haze",
    "heart",
    "hill",
    "king",
    "lab",
    "lake",
    "leaf",
    "limit",
    "math",
    "meadow",
    "mode",
    "moon",
    "morning",
    "mountain",
    "mouse",
    "mud",
    "night",
    "paper",
    "pine",
    "poetry",
    "pond",
    "queen",
    "rain",
    "recipe",
    "resonance",
    "rice",
    "river",
    "salad",
    "scene",
    "sea",
    "shadow",
    "shape",
    "silence",
    "sky",
    "smoke",
    "snow",
    "snowflake",
    "sound",
    "star",
    "sun",
    "sunset",
    "surf",
    "term",
    "thunder",
    "tooth",
    "tree",
    "truth",
    "union",
    "unit",
    "violet",
    "voice",
    "water",
    "waterfall",
    "wave",
    "wildflower",
    "wind",
    "wood",
];

/// `prefix-adjective-noun-xxxxxxxx`, the shape of real Neon ids.
pub fn random_id(prefix: &str) -> String {
    let adj = ADJECTIVES[fastrand::usize(..ADJECTIVES.len())];
    let noun = NOUNS[fastrand::usize(..NOUNS.len())];
    let tail: String = (0..8)
        .map(|_| {
            let c = fastrand::usize(..36);
            if c < 10 {
                (b'0' + c as u8) as char
            } else {
                (b'a' + (c - 10) as u8) as char
            }
        })
        .collect();
    format!("{prefix}-{adj}-{noun}-{tail}")
}

/// A random v4 UUID (operation ids).
pub fn uuid() -> String {
    let hex = |n: usize| -> String {
        (0..n)
            .map(|_| format!("{:x}", fastrand::u8(..16)))
            .collect()
    };
    let variant = ["8", "9", "a", "b"][fastrand::usize(..4)];
    format!(
        "{}-{}-4{}-{}{}-{}",
        hex(8),
        hex(4),
        hex(3),
        variant,
        hex(3),
        hex(12)
    )
}

fn random_password() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let body: String = (0..12)
        .map(|_| CHARS[fastrand::usize(..CHARS.len())] as char)
        .collect();
    format!("npg_{body}")
}

fn random_lsn() -> String {
    format!("0/{:X}", fastrand::u32(0x1000000..0x7fffffff))
}

/// Parses an `expires_at` as the API does: RFC 3339 with an offset, seconds or fractional
/// seconds (neonctl sends milliseconds).
fn parse_rfc3339(field: &str, s: &str) -> ApiResult<Timestamp> {
    let bad = || {
        ApiError::new(
            400,
            format!(
                "invalid {field}: {s:?} is not an RFC 3339 timestamp (e.g. 2025-06-09T18:02:16Z)"
            ),
        )
    };
    // jiff also accepts forms RFC 3339 does not (e.g. a bracketed zone); require the basics.
    if !s.contains('T')
        || !(s.ends_with('Z')
            || s.ends_with('z')
            || s[s.len().saturating_sub(6)..].starts_with(['+', '-']))
    {
        return Err(bad());
    }
    s.parse::<Timestamp>().map_err(|_| bad())
}

impl State {
    /// An empty project (no branches): see [`State::seed_default`].
    pub fn new(project_id: &str, limits: Limits) -> State {
        let now = Timestamp::now();
        let period_start = now - SignedDuration::from_hours(24 * 10);
        State {
            project: Project {
                id: project_id.to_string(),
                name: project_id.to_string(),
                platform_id: "aws".into(),
                region_id: "aws-us-east-2".into(),
                provisioner: "k8s-neonvm".into(),
                pg_version: 17,
                proxy_host: "us-east-2.aws.neon.tech".into(),
                branch_logical_size_limit: 0,
                branch_logical_size_limit_bytes: 0,
                store_passwords: true,
                creation_source: "console".into(),
                history_retention_seconds: 86_400,
                created_at: now,
                updated_at: now,
                owner_id: "emulated-owner".into(),
                cpu_used_sec: 0,
                compute_time_seconds: 0,
                active_time_seconds: 0,
                written_data_bytes: 0,
                data_transfer_bytes: 0,
                data_storage_bytes_hour: 0,
                consumption_period_start: period_start,
                consumption_period_end: period_start + SignedDuration::from_hours(24 * 30),
            },
            branches: HashMap::new(),
            endpoints: Vec::new(),
            snapshots: Vec::new(),
            operations: Vec::new(),
            roles: vec![Role {
                name: "neondb_owner".into(),
                password: random_password(),
            }],
            databases: vec![Database {
                id: fastrand::i64(100_000..999_999),
                name: "neondb".into(),
                owner_name: "neondb_owner".into(),
            }],
            limits,
            op_failures: Vec::new(),
            github: GitHubState::default(),
            annotations: HashMap::new(),
            clock_offset: SignedDuration::ZERO,
            seq: 0,
            branch_seq: HashMap::new(),
        }
    }

    /// The emulated clock.
    pub fn now(&self) -> Timestamp {
        Timestamp::now() + self.clock_offset
    }

    /// Moves the emulated clock forward (operations finish, expiries pass).
    pub fn advance(&mut self, by: Duration) {
        self.clock_offset += SignedDuration::try_from(by).unwrap_or_default();
        self.refresh();
    }

    /// A project as Neon creates it: one root branch `production` (default) with a read-write
    /// compute, database `neondb` owned by `neondb_owner`. Returns the branch id.
    pub fn seed_default(&mut self) -> String {
        let id = self.insert_branch("production", None, "production-v1", true);
        self.insert_endpoint(&id, EndpointType::ReadWrite, Duration::ZERO);
        id
    }

    /// The demo seed: `production` plus a `dev` root restored from a production snapshot
    /// (as the guide's Phase 1 leaves a project), with a read-write compute. Returns (prod, dev).
    pub fn seed_demo(&mut self) -> (String, String) {
        let prod = self.seed_default();
        let now = self.now();
        let snap = Snapshot {
            id: random_id("snap"),
            name: "production-seed".into(),
            lsn: random_lsn(),
            timestamp: fmt_ts(now),
            source_branch_id: prod.clone(),
            created_at: now,
            expires_at: None,
            manual: true,
            data: "production-v1".into(),
        };
        let snap_id = snap.id.clone();
        self.snapshots.push(snap);
        let dev = self.insert_branch("dev", None, "production-v1", false);
        self.branches.get_mut(&dev).unwrap().restored_from = Some(snap_id);
        self.insert_endpoint(&dev, EndpointType::ReadWrite, Duration::ZERO);
        (prod, dev)
    }

    /// Inserts a ready branch directly (seeding; no rules, no operations).
    pub fn insert_branch(
        &mut self,
        name: &str,
        parent_id: Option<&str>,
        data: &str,
        default: bool,
    ) -> String {
        let now = self.now();
        let id = self.fresh_branch_id();
        let branch = self.new_branch(
            id.clone(),
            name.to_string(),
            parent_id.map(str::to_string),
            data.to_string(),
            now,
            now,
        );
        let mut branch = branch;
        branch.default = default;
        branch.primary = default;
        self.put_branch(branch);
        id
    }

    /// Bulk seeding for scale tests: `count` ready child branches of `parent_id` named
    /// `format!("{prefix}{i}")`. Fast (no operations, no rule checks).
    pub fn insert_many_branches(&mut self, prefix: &str, count: usize, parent_id: &str) {
        let now = self.now();
        let data = self
            .branches
            .get(parent_id)
            .map(|b| b.data.clone())
            .unwrap_or_default();
        self.branches.reserve(count);
        for i in 0..count {
            let id = self.fresh_branch_id();
            // Spread the timestamps so every sort order is exercised.
            let at = now - SignedDuration::from_secs((count - i) as i64);
            let b = self.new_branch(
                id,
                format!("{prefix}{i}"),
                Some(parent_id.to_string()),
                data.clone(),
                at,
                at,
            );
            self.put_branch(b);
        }
    }

    fn fresh_branch_id(&self) -> String {
        loop {
            let id = random_id("br");
            if !self.branches.contains_key(&id) {
                return id;
            }
        }
    }

    fn new_branch(
        &self,
        id: String,
        name: String,
        parent_id: Option<String>,
        data: String,
        created: Timestamp,
        ready_at: Timestamp,
    ) -> Branch {
        let has_parent = parent_id.is_some();
        Branch {
            id,
            project_id: self.project.id.clone(),
            parent_id,
            parent_lsn: if has_parent { Some(random_lsn()) } else { None },
            parent_timestamp: if has_parent { Some(created) } else { None },
            name,
            current_state: if ready_at <= created {
                "ready".into()
            } else {
                "init".into()
            },
            state_changed_at: created,
            logical_size: 30_000_000,
            creation_source: "console".into(),
            primary: false,
            default: false,
            protected: false,
            cpu_used_sec: 0,
            compute_time_seconds: 0,
            active_time_seconds: 0,
            written_data_bytes: 0,
            data_transfer_bytes: 0,
            created_at: created,
            updated_at: created,
            ttl_interval_seconds: None,
            expires_at: None,
            init_source: "parent-data".into(),
            restore_status: None,
            restored_from: None,
            restored_as: None,
            data,
            ready_at,
            restore_target: None,
        }
    }

    fn put_branch(&mut self, b: Branch) {
        self.seq += 1;
        self.branch_seq.insert(b.id.clone(), self.seq);
        self.branches.insert(b.id.clone(), b);
    }

    fn insert_endpoint(
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

    // ----- lookups -----

    pub fn branch(&self, id: &str) -> Option<&Branch> {
        self.branches.get(id)
    }
    pub fn branch_mut(&mut self, id: &str) -> Option<&mut Branch> {
        self.branches.get_mut(id)
    }
    /// The branch with this exact name (names are unique within a project).
    pub fn branch_by_name(&self, name: &str) -> Option<&Branch> {
        self.branches.values().find(|b| b.name == name)
    }
    /// By exact id, else exact name.
    pub fn find_branch(&self, name_or_id: &str) -> Option<&Branch> {
        self.branches
            .get(name_or_id)
            .or_else(|| self.branch_by_name(name_or_id))
    }
    pub fn default_branch(&self) -> Option<&Branch> {
        self.branches.values().find(|b| b.default)
    }
    pub fn children(&self, id: &str) -> Vec<&Branch> {
        self.branches
            .values()
            .filter(|b| b.parent_id.as_deref() == Some(id))
            .collect()
    }
    pub fn endpoints_of(&self, branch_id: &str) -> Vec<&Endpoint> {
        self.endpoints
            .iter()
            .filter(|e| e.branch_id == branch_id)
            .collect()
    }
    pub fn snapshot(&self, id: &str) -> Option<&Snapshot> {
        self.snapshots.iter().find(|s| s.id == id)
    }
    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|o| o.id == id)
    }
    /// The data tag of a branch (by id or name).
    pub fn data_of(&self, name_or_id: &str) -> Option<String> {
        self.find_branch(name_or_id).map(|b| b.data.clone())
    }
    /// Sets the data tag of a branch (by id or name): "writes to the database".
    pub fn set_data(&mut self, name_or_id: &str, data: &str) -> bool {
        let id = match self.find_branch(name_or_id) {
            Some(b) => b.id.clone(),
            None => return false,
        };
        let b = self.branches.get_mut(&id).unwrap();
        b.data = data.to_string();
        true
    }
    /// The branch's annotation as the API returns it (`value` empty when none was given).
    pub fn annotation(&self, branch_id: &str) -> Value {
        self.annotations.get(branch_id).cloned().unwrap_or_else(
            || json!({"object": {"type": "console/branch", "id": branch_id}, "value": {}}),
        )
    }
    pub fn role_password(&self, role: &str) -> Option<&str> {
        self.roles
            .iter()
            .find(|r| r.name == role)
            .map(|r| r.password.as_str())
    }

    // ----- time-driven changes -----

    /// Applies what time has done since the last look: branches and computes whose operations
    /// finished turn ready/active; expired branches and snapshots disappear (Neon deletes them
    /// in the background "not exactly at the specified time"; the emulator does it on the next
    /// request after expiry).
    pub fn refresh(&mut self) {
        let now = self.now();
        let expired: Vec<String> = self
            .branches
            .values()
            .filter(|b| b.expires_at.is_some_and(|t| t <= now))
            .filter(|b| {
                !self
                    .branches
                    .values()
                    .any(|c| c.parent_id.as_deref() == Some(&b.id))
            })
            .map(|b| b.id.clone())
            .collect();
        for id in expired {
            self.branches.remove(&id);
            self.annotations.remove(&id);
            self.branch_seq.remove(&id);
            self.endpoints.retain(|e| e.branch_id != id);
        }
        self.snapshots
            .retain(|s| s.expires_at.is_none_or(|t| t > now));
        for b in self.branches.values_mut() {
            if b.current_state == "init" && b.ready_at <= now {
                b.current_state = "ready".into();
                b.state_changed_at = b.ready_at;
            }
        }
        for e in &mut self.endpoints {
            if e.current_state == "init" && e.ready_at <= now {
                e.current_state = "active".into();
            }
        }
    }

    /// 423 while any operation of the project has not reached a terminal status.
    pub fn ensure_unlocked(&self) -> ApiResult<()> {
        let now = self.now();
        // Operations are appended in time order: only the tail can still be running.
        if self
            .operations
            .iter()
            .rev()
            .take(64)
            .any(|o| !o.is_terminal(now))
        {
            return Err(ApiError::locked());
        }
        Ok(())
    }

    /// Operations that have not ended yet.
    pub fn running_operations(&self) -> Vec<&Operation> {
        let now = self.now();
        self.operations
            .iter()
            .filter(|o| !o.is_terminal(now))
            .collect()
    }

    fn new_op(
        &mut self,
        call: &str,
        action: &str,
        branch_id: Option<&str>,
        endpoint_id: Option<&str>,
        at: Timestamp,
    ) -> Operation {
        self.new_op_queued(call, action, branch_id, endpoint_id, at, Duration::ZERO)
    }

    /// An operation that starts `queued` after `at` (it waits for an earlier one).
    fn new_op_queued(
        &mut self,
        call: &str,
        action: &str,
        branch_id: Option<&str>,
        endpoint_id: Option<&str>,
        at: Timestamp,
        queued: Duration,
    ) -> Operation {
        let mut outcome = OpOutcome::Finished;
        if let Some(pos) = self
            .op_failures
            .iter()
            .position(|f| f.times > 0 && (f.action == call || f.action == action))
        {
            let f = &mut self.op_failures[pos];
            f.times -= 1;
            outcome = OpOutcome::Failed {
                status: f.status.clone(),
                error: f.error.clone(),
            };
            if f.times == 0 {
                self.op_failures.remove(pos);
            }
        }
        // Strictly increasing creation times, in whole microseconds (the cursor's precision),
        // keep the operations cursor exact.
        let at = Timestamp::from_microsecond(at.as_microsecond()).unwrap_or(at);
        let at = match self.operations.last() {
            Some(last) if last.created_at >= at => last.created_at + SignedDuration::from_micros(1),
            _ => at,
        };
        let op = Operation {
            id: uuid(),
            project_id: self.project.id.clone(),
            branch_id: branch_id.map(str::to_string),
            endpoint_id: endpoint_id.map(str::to_string),
            action: action.to_string(),
            created_at: at,
            queued: if self.limits.op_duration.is_zero() {
                Duration::ZERO
            } else {
                queued
            },
            duration: self.limits.op_duration,
            outcome,
        };
        self.operations.push(op.clone());
        op
    }

    /// When operations started now are done.
    fn ready_time(&self, start: Timestamp) -> Timestamp {
        start + SignedDuration::try_from(self.limits.op_duration).unwrap_or_default()
    }

    // ----- expiry rules -----

    fn validate_expiry(&self, raw: &str) -> ApiResult<Timestamp> {
        let t = parse_rfc3339("expires_at", raw)?;
        let now = self.now();
        if t <= now {
            return Err(ApiError::new(400, "expires_at must be in the future"));
        }
        if t > now + MAX_EXPIRY {
            return Err(ApiError::new(
                400,
                "expires_at must not be more than 30 days in the future",
            ));
        }
        Ok(t)
    }

    // ----- branches -----

    /// `POST /projects/{p}/branches`.
    pub fn create_branch(&mut self, req: CreateBranchReq) -> ApiResult<CreatedBranch> {
        self.refresh();
        let parent_id = match req.parent_id.as_deref().filter(|s| !s.is_empty()) {
            Some(p) => p.to_string(),
            None => self
                .default_branch()
                .map(|b| b.id.clone())
                .ok_or_else(|| ApiError::not_found("default branch"))?,
        };
        let parent = self
            .branches
            .get(&parent_id)
            .ok_or_else(|| ApiError::not_found("parent branch"))?;
        if let Some(name) = &req.name {
            if name.is_empty() || name.len() > 256 {
                return Err(ApiError::new(
                    400,
                    "branch name must be 1 to 256 characters long",
                ));
            }
        }
        if parent.expires_at.is_some() {
            return Err(ApiError::new(
                400,
                "cannot create a branch from a parent branch with an expiration time (expires_at)",
            ));
        }
        let rw = req
            .endpoints
            .iter()
            .filter(|k| **k == EndpointType::ReadWrite)
            .count();
        if rw > 1 {
            return Err(ApiError::new(
                400,
                "a branch can have only one read_write endpoint",
            ));
        }
        let expires_at = match &req.expires_at {
            Some(raw) => {
                if req.protected == Some(true) {
                    return Err(ApiError::new(
                        400,
                        "expires_at cannot be set on a protected branch",
                    ));
                }
                Some(self.validate_expiry(raw)?)
            }
            None => None,
        };
        if let Some(name) = &req.name {
            if self.branch_by_name(name).is_some() {
                return Err(ApiError::new(
                    409,
                    format!("branch already exists; branch_name:{name:?}"),
                ));
            }
        }
        self.ensure_unlocked()?;

        let now = self.now();
        let id = self.fresh_branch_id();
        let name = req.name.clone().unwrap_or_else(|| id.clone());
        let data = parent.data.clone();
        let mut branch = self.new_branch(
            id.clone(),
            name,
            Some(parent_id),
            data,
            now,
            self.ready_time(now),
        );
        if branch.ready_at <= now {
            branch.current_state = "ready".into();
        }
        branch.protected = req.protected.unwrap_or(false);
        if let Some(t) = expires_at {
            branch.expires_at = Some(t);
            branch.ttl_interval_seconds = Some(t.duration_since(now).as_secs());
        }
        self.put_branch(branch);
        if let Some(value) = req.annotation_value {
            self.annotations.insert(
                id.clone(),
                json!({
                    "object": {"type": "console/branch", "id": id},
                    "value": value,
                    "created_at": fmt_ts(now),
                    "updated_at": fmt_ts(now),
                }),
            );
        }

        let mut operations =
            vec![self.new_op("create_branch", "create_timeline", Some(&id), None, now)];
        let mut endpoints = Vec::new();
        // Computes start once the timeline exists: their operations queue behind it (one
        // branch with a compute takes two operation lengths, as on Neon).
        for kind in &req.endpoints {
            let d = self.limits.op_duration;
            let ep = self.insert_endpoint(&id, *kind, d * 2);
            operations.push(self.new_op_queued(
                "create_branch",
                "start_compute",
                Some(&id),
                Some(&ep.id),
                now,
                d,
            ));
            endpoints.push(ep);
        }
        Ok(CreatedBranch {
            branch: self.branches[&id].clone(),
            endpoints,
            operations,
        })
    }

    /// `PATCH /projects/{p}/branches/{b}`.
    pub fn update_branch(
        &mut self,
        id: &str,
        req: UpdateBranchReq,
    ) -> ApiResult<(Branch, Vec<Operation>)> {
        self.refresh();
        let b = self
            .branches
            .get(id)
            .ok_or_else(|| ApiError::not_found("branch"))?;
        let will_be_protected = req.protected.unwrap_or(b.protected);
        let new_expiry = match &req.expires_at {
            Some(Some(raw)) => {
                if will_be_protected {
                    return Err(ApiError::new(
                        400,
                        "expires_at cannot be set on a protected branch",
                    ));
                }
                if b.default {
                    return Err(ApiError::new(
                        400,
                        "expires_at cannot be set on the default branch",
                    ));
                }
                if self
                    .branches
                    .values()
                    .any(|c| c.parent_id.as_deref() == Some(id))
                {
                    return Err(ApiError::new(
                        400,
                        "expires_at cannot be set on a branch that has child branches",
                    ));
                }
                Some(Some(self.validate_expiry(raw)?))
            }
            Some(None) => Some(None),
            None => None,
        };
        if req.protected == Some(true) && b.expires_at.is_some() && new_expiry.is_none() {
            return Err(ApiError::new(
                400,
                "a branch with an expiration time (expires_at) cannot be protected",
            ));
        }
        if let Some(name) = &req.name {
            if name.is_empty() || name.len() > 256 {
                return Err(ApiError::new(
                    400,
                    "branch name must be 1 to 256 characters long",
                ));
            }
            if self
                .branches
                .values()
                .any(|o| o.name == *name && o.id != id)
            {
                return Err(ApiError::new(
                    409,
                    format!("branch already exists; branch_name:{name:?}"),
                ));
            }
        }
        let now = self.now();
        let b = self.branches.get_mut(id).unwrap();
        if let Some(name) = req.name {
            b.name = name;
        }
        if let Some(p) = req.protected {
            b.protected = p;
        }
        match new_expiry {
            Some(Some(t)) => {
                b.expires_at = Some(t);
                b.ttl_interval_seconds = Some(t.duration_since(now).as_secs());
            }
            Some(None) => {
                b.expires_at = None;
                b.ttl_interval_seconds = None;
            }
            None => {}
        }
        b.updated_at = now;
        Ok((b.clone(), Vec::new()))
    }

    /// `DELETE /projects/{p}/branches/{b}`. `Ok(None)`: no such branch (the spec's 204).
    pub fn delete_branch(&mut self, id: &str) -> ApiResult<Option<(Branch, Vec<Operation>)>> {
        self.refresh();
        let Some(b) = self.branches.get(id) else {
            return Ok(None);
        };
        if b.default {
            return Err(ApiError::new(
                422,
                "cannot delete the project's default branch",
            ));
        }
        if b.protected {
            return Err(ApiError::new(422, "cannot delete a protected branch"));
        }
        if self
            .branches
            .values()
            .any(|c| c.parent_id.as_deref() == Some(id))
        {
            return Err(ApiError::new(
                422,
                "cannot delete a branch that has child branches; delete the child branches first",
            ));
        }
        self.ensure_unlocked()?;
        let now = self.now();
        let eps: Vec<String> = self.endpoints_of(id).iter().map(|e| e.id.clone()).collect();
        let mut ops = Vec::new();
        for ep in &eps {
            ops.push(self.new_op("delete_branch", "suspend_compute", Some(id), Some(ep), now));
        }
        ops.push(self.new_op("delete_branch", "delete_timeline", Some(id), None, now));
        self.endpoints.retain(|e| e.branch_id != id);
        self.annotations.remove(id);
        let mut b = self.branches.remove(id).unwrap();
        self.branch_seq.remove(id);
        b.updated_at = now;
        Ok(Some((b, ops)))
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
        self.ensure_unlocked()?;
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

    // ----- listing -----

    /// `GET /projects/{p}/branches`: `search` is a substring of the name or id; keyset (cursor)
    /// pagination over (sort key, id); `next` is the cursor after the last item of a non-empty
    /// page, present even when that page happens to be the last one (clients stop on an empty
    /// page or a short one).
    pub fn list_branches(&self, q: &ListBranchesQuery) -> ApiResult<BranchPage<'_>> {
        let limit = match q.limit.as_deref() {
            None | Some("") => DEFAULT_BRANCH_LIMIT,
            Some(s) => match s.parse::<usize>() {
                Ok(n) if (1..=MAX_BRANCH_LIMIT).contains(&n) => n,
                _ => {
                    return Err(ApiError::new(
                        400,
                        format!("limit: must be an integer from 1 to {MAX_BRANCH_LIMIT}"),
                    ));
                }
            },
        };
        let (mut sort_by, mut desc) = (SortBy::UpdatedAt, true);
        if let Some(s) = q.sort_by.as_deref().filter(|s| !s.is_empty()) {
            sort_by = SortBy::parse(s).ok_or_else(|| {
                ApiError::new(400, "sort_by: must be one of name, created_at, updated_at")
            })?;
        }
        if let Some(s) = q.sort_order.as_deref().filter(|s| !s.is_empty()) {
            desc = match s {
                "desc" => true,
                "asc" => false,
                _ => return Err(ApiError::new(400, "sort_order: must be one of asc, desc")),
            };
        }
        let cursor = match q.cursor.as_deref().filter(|s| !s.is_empty()) {
            Some(c) => {
                let cur = Cursor::decode(c).ok_or_else(|| ApiError::new(400, "invalid cursor"))?;
                // The cursor carries the order it was made for.
                sort_by = cur.sort_by;
                desc = cur.desc;
                Some(cur)
            }
            None => None,
        };
        let search = q.search.as_deref().filter(|s| !s.is_empty());
        let mut all: Vec<&Branch> = self
            .branches
            .values()
            .filter(|b| search.is_none_or(|s| matches_search(b, s)))
            .collect();
        let key_cmp = |a: &Branch, b: &Branch| -> std::cmp::Ordering {
            let k = match sort_by {
                SortBy::UpdatedAt => a.updated_at.cmp(&b.updated_at),
                SortBy::CreatedAt => a.created_at.cmp(&b.created_at),
                SortBy::Name => a.name.cmp(&b.name),
            };
            k.then_with(|| a.id.cmp(&b.id))
        };
        all.sort_unstable_by(|a, b| if desc { key_cmp(b, a) } else { key_cmp(a, b) });
        let start = match &cursor {
            Some(cur) => all.partition_point(|b| {
                let o = cur.cmp_branch(b);
                // Items at or before the cursor in the page order.
                if desc {
                    o != std::cmp::Ordering::Less
                } else {
                    o != std::cmp::Ordering::Greater
                }
            }),
            None => 0,
        };
        let page: Vec<&Branch> = all[start..].iter().take(limit).copied().collect();
        let next = page
            .last()
            .map(|b| Cursor::for_branch(b, sort_by, desc).encode());
        Ok(BranchPage {
            branches: page,
            next,
            sort_by,
            desc,
        })
    }

    /// `GET /projects/{p}/operations`: newest first. Without `limit` every operation is listed
    /// (Neon's pagination docs); `pagination.cursor` is the `created_at` (microseconds) of the
    /// last item, as Neon's is, and the next page holds older operations. Absent on an empty page.
    pub fn list_operations(
        &self,
        limit: Option<&str>,
        cursor: Option<&str>,
    ) -> ApiResult<(Vec<&Operation>, Option<String>)> {
        let limit = match limit {
            None | Some("") => usize::MAX,
            Some(s) => match s.parse::<usize>() {
                Ok(n) if (1..=MAX_OPERATIONS_LIMIT).contains(&n) => n,
                _ => {
                    return Err(ApiError::new(
                        400,
                        format!("limit: must be an integer from 1 to {MAX_OPERATIONS_LIMIT}"),
                    ));
                }
            },
        };
        // Operations are appended in strictly increasing `created_at` order (see `new_op`).
        let end = match cursor.filter(|c| !c.is_empty()) {
            Some(c) => {
                let before = c
                    .parse::<Timestamp>()
                    .map_err(|_| ApiError::new(400, "invalid cursor"))?;
                self.operations.partition_point(|o| o.created_at < before)
            }
            None => self.operations.len(),
        };
        let start = end.saturating_sub(limit);
        let page: Vec<&Operation> = self.operations[start..end].iter().rev().collect();
        let next = page
            .last()
            .map(|o| o.created_at.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string());
        Ok((page, next))
    }

    // ----- snapshots -----

    /// `POST /projects/{p}/branches/{b}/snapshot` (parameters come from the query string).
    pub fn create_snapshot(
        &mut self,
        branch_id: &str,
        name: Option<&str>,
        expires_at: Option<&str>,
        lsn: Option<&str>,
        timestamp: Option<&str>,
    ) -> ApiResult<(Snapshot, Vec<Operation>)> {
        self.refresh();
        let b = self
            .branches
            .get(branch_id)
            .ok_or_else(|| ApiError::not_found("branch"))?;
        if b.parent_id.is_some() {
            return Err(ApiError::new(
                422,
                "snapshots can only be created from root branches",
            ));
        }
        if lsn.is_some() && timestamp.is_some() {
            return Err(ApiError::new(
                400,
                "lsn and timestamp cannot be used together",
            ));
        }
        let now = self.now();
        let expires = match expires_at.filter(|s| !s.is_empty()) {
            Some(raw) => {
                let t = parse_rfc3339("expires_at", raw)?;
                if t <= now {
                    return Err(ApiError::new(400, "expires_at must be in the future"));
                }
                Some(t)
            }
            None => None,
        };
        if self.snapshots.len() >= self.limits.snapshot_quota {
            return Err(ApiError::new(
                422,
                format!(
                    "snapshot limit reached: the project already has {} snapshots (limit {}); delete a snapshot to create a new one",
                    self.snapshots.len(),
                    self.limits.snapshot_quota
                ),
            ));
        }
        self.ensure_unlocked()?;
        let data = b.data.clone();
        let snap = Snapshot {
            id: loop {
                let id = random_id("snap");
                if self.snapshot(&id).is_none() {
                    break id;
                }
            },
            name: name
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| format!("{} {}", b.name, fmt_ts(now))),
            lsn: lsn.map(str::to_string).unwrap_or_else(random_lsn),
            timestamp: timestamp.map(str::to_string).unwrap_or_else(|| fmt_ts(now)),
            source_branch_id: branch_id.to_string(),
            created_at: now,
            expires_at: expires,
            manual: true,
            data,
        };
        self.snapshots.push(snap.clone());
        let op = self.new_op(
            "create_snapshot",
            "create_branch",
            Some(branch_id),
            None,
            now,
        );
        Ok((snap, vec![op]))
    }

    /// `PATCH /projects/{p}/snapshots/{s}` (name only, as the spec allows).
    /// The pinned spec only lists `name`; neonctl 5 also sends `expires_at` (null clears it),
    /// so the emulator accepts both.
    pub fn update_snapshot(
        &mut self,
        id: &str,
        name: Option<&str>,
        expires_at: Option<Option<&str>>,
    ) -> ApiResult<Snapshot> {
        self.refresh();
        let now = self.now();
        let expiry = match expires_at {
            Some(Some(raw)) => {
                let t = parse_rfc3339("expires_at", raw)?;
                if t <= now {
                    return Err(ApiError::new(400, "expires_at must be in the future"));
                }
                Some(Some(t))
            }
            Some(None) => Some(None),
            None => None,
        };
        let s = self
            .snapshots
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or_else(|| ApiError::not_found("snapshot"))?;
        if let Some(n) = name {
            s.name = n.to_string();
        }
        if let Some(e) = expiry {
            s.expires_at = e;
        }
        Ok(s.clone())
    }

    /// `DELETE /projects/{p}/snapshots/{s}`.
    pub fn delete_snapshot(&mut self, id: &str) -> ApiResult<Vec<Operation>> {
        self.refresh();
        let pos = self
            .snapshots
            .iter()
            .position(|s| s.id == id)
            .ok_or_else(|| ApiError::not_found("snapshot"))?;
        self.ensure_unlocked()?;
        self.snapshots.remove(pos);
        Ok(Vec::new())
    }

    /// `POST /projects/{p}/snapshots/{s}/restore`.
    ///
    /// Always creates a new root branch holding the snapshot's data. With `finalize_restore`
    /// the new branch takes the target's place: its name, parent, computes, default and
    /// protected flags; the target is renamed `<name> (old)` (or `name`… see below), loses
    /// default, keeps its children. Without it, the new branch is named `name` (or generated)
    /// and has no computes until `finalize_restore` is called on it.
    pub fn restore_snapshot(
        &mut self,
        snapshot_id: &str,
        req: RestoreReq,
    ) -> ApiResult<(Branch, Vec<Endpoint>, Vec<Operation>)> {
        self.refresh();
        let snap = self
            .snapshot(snapshot_id)
            .ok_or_else(|| ApiError::not_found("snapshot"))?
            .clone();
        let target_id = req
            .target_branch_id
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| snap.source_branch_id.clone());
        if req.finalize_restore && !self.branches.contains_key(&target_id) {
            return Err(ApiError::not_found("target branch"));
        }
        if let Some(name) = req.name.as_deref().filter(|s| !s.is_empty()) {
            let clashes = self
                .branch_by_name(name)
                .is_some_and(|b| !(req.finalize_restore && b.id == target_id));
            if clashes {
                return Err(ApiError::new(
                    409,
                    format!("branch already exists; branch_name:{name:?}"),
                ));
            }
        }
        let roots = self
            .branches
            .values()
            .filter(|b| b.parent_id.is_none())
            .count();
        if roots >= self.limits.root_branch_quota {
            return Err(ApiError::new(
                422,
                format!(
                    "root branches limit reached: the project already has {roots} root branches (limit {}); delete one to restore a snapshot",
                    self.limits.root_branch_quota
                ),
            ));
        }
        self.ensure_unlocked()?;
        let now = self.now();
        let id = self.fresh_branch_id();
        let name = req
            .name
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("{} (restored {})", snap.name, fmt_ts(now)));
        let mut branch = self.new_branch(
            id.clone(),
            name,
            None,
            snap.data.clone(),
            now,
            self.ready_time(now),
        );
        if branch.ready_at <= now {
            branch.current_state = "ready".into();
        }
        branch.restored_from = Some(snap.id.clone());
        branch.restore_status = Some("restored".into());
        branch.init_source = "parent-data".into();
        self.put_branch(branch);
        let mut ops =
            vec![self.new_op("restore_snapshot", "create_timeline", Some(&id), None, now)];
        let failed = matches!(ops[0].outcome, OpOutcome::Failed { .. });
        let mut endpoints = Vec::new();
        if req.finalize_restore && !failed {
            let (eps, more) = self.finalize_into(&id, &target_id, None, "restore_snapshot", now)?;
            endpoints = eps;
            ops.extend(more);
        } else {
            // Not finalized (asked for, or the restore failed: the target is untouched and the
            // new branch stays around, unfinalized).
            self.branches.get_mut(&id).unwrap().restore_target = Some(target_id);
        }
        Ok((self.branches[&id].clone(), endpoints, ops))
    }

    /// `POST /projects/{p}/branches/{b}/finalize_restore`: `branch_id` (made by a restore
    /// without finalize) replaces the branch it was restored for.
    pub fn finalize_restore(
        &mut self,
        branch_id: &str,
        old_name: Option<&str>,
    ) -> ApiResult<Vec<Operation>> {
        self.refresh();
        let b = self
            .branches
            .get(branch_id)
            .ok_or_else(|| ApiError::not_found("branch"))?;
        let target = match (
            &b.restored_from,
            &b.restore_target,
            b.restore_status.as_deref(),
        ) {
            (Some(_), Some(t), Some("restored")) => t.clone(),
            _ => {
                return Err(ApiError::new(
                    400,
                    "branch was not created by a snapshot restore, or is already finalized",
                ));
            }
        };
        if !self.branches.contains_key(&target) {
            return Err(ApiError::not_found("target branch"));
        }
        self.ensure_unlocked()?;
        let now = self.now();
        let (_, ops) = self.finalize_into(branch_id, &target, old_name, "finalize_restore", now)?;
        Ok(ops)
    }

    /// The swap: `new_id` takes `target_id`'s name, parent, computes and flags.
    fn finalize_into(
        &mut self,
        new_id: &str,
        target_id: &str,
        old_name: Option<&str>,
        call: &str,
        now: Timestamp,
    ) -> ApiResult<(Vec<Endpoint>, Vec<Operation>)> {
        let target = self
            .branches
            .get(target_id)
            .ok_or_else(|| ApiError::not_found("target branch"))?
            .clone();
        let old_name = old_name.map(str::to_string).unwrap_or_else(|| {
            let base = format!("{} (old)", target.name);
            let mut candidate = base.clone();
            let mut n = 1;
            while self
                .branches
                .values()
                .any(|b| b.name == candidate && b.id != target_id)
            {
                n += 1;
                candidate = format!("{base} {n}");
            }
            candidate
        });
        {
            let old = self.branches.get_mut(target_id).unwrap();
            old.name = old_name;
            old.default = false;
            old.primary = false;
            if self.limits.restore_moves_protection {
                old.protected = false;
            }
            old.updated_at = now;
        }
        let moves_protection = self.limits.restore_moves_protection;
        let new = self.branches.get_mut(new_id).unwrap();
        new.name = target.name.clone();
        new.parent_id = target.parent_id.clone();
        new.parent_lsn = target.parent_lsn.clone();
        new.parent_timestamp = target.parent_timestamp;
        new.default = target.default;
        new.primary = target.default;
        new.protected = moves_protection && target.protected;
        new.restored_as = Some(target_id.to_string());
        new.restore_target = None;
        new.restore_status = Some("finalized".into());
        new.updated_at = now;
        let mut moved = Vec::new();
        for e in self
            .endpoints
            .iter_mut()
            .filter(|e| e.branch_id == target_id)
        {
            e.branch_id = new_id.to_string();
            e.updated_at = now;
            moved.push(e.id.clone());
        }
        let mut ops = Vec::new();
        for ep in &moved {
            ops.push(self.new_op(call, "apply_config", Some(new_id), Some(ep), now));
        }
        let endpoints = self
            .endpoints
            .iter()
            .filter(|e| e.branch_id == new_id)
            .cloned()
            .collect();
        Ok((endpoints, ops))
    }

    // ----- connection strings -----

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

/// The branch list `search`: a case-insensitive substring of the name or the id (the spec:
/// "partial `name` or `id` values"). Case-insensitive is the wider reading: more matches, so
/// a client must still compare names exactly.
pub fn matches_search(b: &Branch, search: &str) -> bool {
    if b.name.contains(search) || b.id.contains(search) {
        return true;
    }
    let needle = search.to_lowercase();
    b.name.to_lowercase().contains(&needle) || b.id.contains(&needle)
}

/// Keyset cursor: sort order, the last item's key and id. Opaque to clients (hex of text).
#[derive(Debug, Clone)]
struct Cursor {
    sort_by: SortBy,
    desc: bool,
    key: String,
    id: String,
}

impl Cursor {
    fn for_branch(b: &Branch, sort_by: SortBy, desc: bool) -> Cursor {
        let key = match sort_by {
            SortBy::UpdatedAt => b.updated_at.as_nanosecond().to_string(),
            SortBy::CreatedAt => b.created_at.as_nanosecond().to_string(),
            SortBy::Name => b.name.clone(),
        };
        Cursor {
            sort_by,
            desc,
            key,
            id: b.id.clone(),
        }
    }
    /// Standard base64 (with `+`, `/` and `=`) of a small JSON object, like Neon's `eyJ…`
    /// cursors: a client has to percent-encode it in the query string.
    fn encode(&self) -> String {
        let raw = json!({
            "sort_by": self.sort_by.as_str(),
            "sort_order": if self.desc { "desc" } else { "asc" },
            "id": self.id,
            "key": self.key,
        })
        .to_string();
        base64_encode(raw.as_bytes())
    }
    fn decode(s: &str) -> Option<Cursor> {
        let v: Value = serde_json::from_slice(&base64_decode(s)?).ok()?;
        let raw = format!(
            "{}\n{}\n{}\n{}",
            v["sort_by"].as_str()?,
            v["sort_order"].as_str()?,
            v["id"].as_str()?,
            v["key"].as_str()?
        );
        let mut parts = raw.splitn(4, '\n');
        let sort_by = SortBy::parse(parts.next()?)?;
        let desc = match parts.next()? {
            "desc" => true,
            "asc" => false,
            _ => return None,
        };
        let id = parts.next()?.to_string();
        let key = parts.next()?.to_string();
        if sort_by != SortBy::Name {
            key.parse::<i128>().ok()?;
        }
        Some(Cursor {
            sort_by,
            desc,
            key,
            id,
        })
    }
    /// Compares `b` with the cursor position in ascending (key, id) order.
    fn cmp_branch(&self, b: &Branch) -> std::cmp::Ordering {
        let k = match self.sort_by {
            SortBy::UpdatedAt => b
                .updated_at
                .as_nanosecond()
                .cmp(&self.key.parse::<i128>().unwrap_or(0)),
            SortBy::CreatedAt => b
                .created_at
                .as_nanosecond()
                .cmp(&self.key.parse::<i128>().unwrap_or(0)),
            SortBy::Name => b.name.as_str().cmp(self.key.as_str()),
        };
        k.then_with(|| b.id.as_str().cmp(self.id.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(op_ms: u64, quota: usize) -> Limits {
        Limits {
            op_duration: Duration::from_millis(op_ms),
            snapshot_quota: quota,
            ..Limits::default()
        }
    }

    fn demo() -> (State, String, String) {
        let mut s = State::new("proj-test", limits(0, 10));
        let (prod, dev) = s.seed_demo();
        (s, prod, dev)
    }

    fn child(s: &mut State, name: &str, parent: &str) -> String {
        s.create_branch(CreateBranchReq {
            name: Some(name.into()),
            parent_id: Some(parent.into()),
            ..Default::default()
        })
        .unwrap()
        .branch
        .id
    }

    #[test]
    fn children_copy_data_and_snapshots_capture_it() {
        let (mut s, prod, dev) = demo();
        s.set_data("dev", "dev-v2");
        let preview = child(&mut s, "preview/pr-1", &dev);
        assert_eq!(s.data_of(&preview).unwrap(), "dev-v2");
        let (snap, _) = s
            .create_snapshot(&dev, Some("candidate"), None, None, None)
            .unwrap();
        s.set_data("dev", "dev-v3");
        let (restored, _, _) = s
            .restore_snapshot(
                &snap.id,
                RestoreReq {
                    target_branch_id: Some(prod.clone()),
                    finalize_restore: true,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(s.data_of("production").unwrap(), "dev-v2");
        assert_eq!(restored.restored_from.as_deref(), Some(snap.id.as_str()));
    }

    #[test]
    fn finalize_restore_swaps_identity() {
        let (mut s, prod, dev) = demo();
        s.update_branch(
            &prod,
            UpdateBranchReq {
                protected: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
        let prod_child = child(&mut s, "analytics", &prod);
        let prod_ep = s.endpoints_of(&prod)[0].id.clone();
        let (snap, _) = s.create_snapshot(&dev, None, None, None, None).unwrap();
        let (new, eps, ops) = s
            .restore_snapshot(
                &snap.id,
                RestoreReq {
                    target_branch_id: Some(prod.clone()),
                    finalize_restore: true,
                    name: None,
                },
            )
            .unwrap();
        assert_ne!(new.id, prod);
        assert_eq!(new.name, "production");
        assert!(new.default && new.protected && new.parent_id.is_none());
        assert_eq!(new.restored_from.as_deref(), Some(snap.id.as_str()));
        assert_eq!(eps.len(), 1);
        assert_eq!(
            eps[0].id, prod_ep,
            "the compute moves, so the connection string stays"
        );
        assert!(ops.iter().all(|o| o.is_terminal(s.now())));
        let old = s.branch(&prod).unwrap();
        assert_eq!(old.name, "production (old)");
        assert!(!old.default && !old.protected);
        assert!(s.endpoints_of(&prod).is_empty());
        assert_eq!(
            s.branch(&prod_child).unwrap().parent_id.as_deref(),
            Some(prod.as_str()),
            "children stay with the old id"
        );
        assert_eq!(s.default_branch().unwrap().id, new.id);
        // The old branch keeps its child: it cannot be deleted yet.
        assert_eq!(s.delete_branch(&prod).unwrap_err().status, 422);
        s.delete_branch(&prod_child).unwrap().unwrap();
        s.delete_branch(&prod).unwrap().unwrap();
        // A second promotion names the next old branch the same way.
        let (snap2, _) = s.create_snapshot(&dev, None, None, None, None).unwrap();
        let (newer, _, _) = s
            .restore_snapshot(
                &snap2.id,
                RestoreReq {
                    target_branch_id: Some(new.id.clone()),
                    finalize_restore: true,
                    name: None,
                },
            )
            .unwrap();
        assert_eq!(s.branch(&new.id).unwrap().name, "production (old)");
        assert_eq!(newer.name, "production");
    }

    #[test]
    fn protection_can_stay_behind() {
        let mut s = State::new(
            "p",
            Limits {
                restore_moves_protection: false,
                ..limits(0, 10)
            },
        );
        let (prod, dev) = s.seed_demo();
        s.update_branch(
            &prod,
            UpdateBranchReq {
                protected: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
        let (snap, _) = s.create_snapshot(&dev, None, None, None, None).unwrap();
        let (new, _, _) = s
            .restore_snapshot(
                &snap.id,
                RestoreReq {
                    target_branch_id: Some(prod.clone()),
                    finalize_restore: true,
                    name: None,
                },
            )
            .unwrap();
        assert!(!new.protected);
        assert!(s.branch(&prod).unwrap().protected);
        assert_eq!(s.delete_branch(&prod).unwrap_err().status, 422);
    }

    #[test]
    fn restore_without_finalize_makes_a_new_root_without_computes() {
        let (mut s, prod, _dev) = demo();
        s.set_data("production", "prod-v7");
        let (snap, _) = s.create_snapshot(&prod, None, None, None, None).unwrap();
        let (b, eps, _) = s
            .restore_snapshot(
                &snap.id,
                RestoreReq {
                    name: Some("dev2".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(b.name, "dev2");
        assert!(b.parent_id.is_none() && !b.default);
        assert!(eps.is_empty() && s.endpoints_of(&b.id).is_empty());
        assert_eq!(b.data, "prod-v7");
        assert_eq!(s.branch(&prod).unwrap().name, "production");
        // Its name must be free.
        let err = s
            .restore_snapshot(
                &snap.id,
                RestoreReq {
                    name: Some("dev".into()),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert_eq!(err.status, 409);
        // finalize_restore later swaps it in.
        s.finalize_restore(&b.id, None).unwrap();
        assert_eq!(s.branch(&b.id).unwrap().name, "production");
        assert_eq!(s.branch(&prod).unwrap().name, "production (old)");
    }

    #[test]
    fn restores_need_room_for_a_root_branch() {
        let mut s = State::new(
            "p",
            Limits {
                root_branch_quota: 3,
                ..Limits::default()
            },
        );
        let (prod, dev) = s.seed_demo();
        let (snap, _) = s.create_snapshot(&dev, None, None, None, None).unwrap();
        let finalize = |target: &str| RestoreReq {
            target_branch_id: Some(target.to_string()),
            finalize_restore: true,
            name: None,
        };
        // prod, dev → prod, dev, production (old): the third root fits.
        s.restore_snapshot(&snap.id, finalize(&prod)).unwrap();
        let new_prod = s.branch_by_name("production").unwrap().id.clone();
        let err = s
            .restore_snapshot(&snap.id, finalize(&new_prod))
            .unwrap_err();
        assert_eq!(err.status, 422);
        assert!(err.message.contains("limit"));
        s.delete_branch(&prod).unwrap().unwrap();
        s.restore_snapshot(&snap.id, finalize(&new_prod)).unwrap();
    }

    #[test]
    fn snapshot_rules() {
        let mut s = State::new("p", limits(0, 2));
        let (prod, dev) = s.seed_demo(); // the seed holds one snapshot
        let preview = child(&mut s, "preview", &dev);
        assert_eq!(
            s.create_snapshot(&preview, None, None, None, None)
                .unwrap_err()
                .status,
            422,
            "only roots"
        );
        s.create_snapshot(&prod, Some("a"), None, None, None)
            .unwrap();
        let err = s
            .create_snapshot(&prod, Some("b"), None, None, None)
            .unwrap_err();
        assert_eq!(err.status, 422);
        assert!(err.message.contains("limit"), "{}", err.message);
        let victim = s.snapshots[0].id.clone();
        s.delete_snapshot(&victim).unwrap();
        s.create_snapshot(&prod, Some("b"), None, None, None)
            .unwrap();
        assert_eq!(s.delete_snapshot("snap-nope").unwrap_err().status, 404);
    }

    #[test]
    fn running_operations_lock_the_project() {
        let mut s = State::new("p", limits(1_000, 10));
        let (prod, dev) = s.seed_demo();
        let created = s
            .create_branch(CreateBranchReq {
                name: Some("x".into()),
                parent_id: Some(dev.clone()),
                endpoints: vec![EndpointType::ReadWrite],
                ..Default::default()
            })
            .unwrap();
        assert_eq!(created.operations.len(), 2);
        assert_eq!(created.operations[0].status(s.now()), "scheduling");
        assert_eq!(s.branch(&created.branch.id).unwrap().current_state, "init");
        let err = s
            .create_snapshot(&prod, None, None, None, None)
            .unwrap_err();
        assert_eq!(
            (err.status, err.message.as_str()),
            (423, ApiError::locked().message.as_str())
        );
        assert_eq!(s.delete_branch(&created.branch.id).unwrap_err().status, 423);
        // Reads and metadata updates still work.
        assert!(s.list_branches(&ListBranchesQuery::default()).is_ok());
        s.advance(Duration::from_millis(500));
        assert_eq!(created.operations[0].status(s.now()), "running");
        assert_eq!(
            created.operations[1].status(s.now()),
            "scheduling",
            "queued behind the timeline"
        );
        s.advance(Duration::from_millis(600));
        assert_eq!(created.operations[0].status(s.now()), "finished");
        assert!(!created.operations[1].is_terminal(s.now()));
        assert_eq!(s.branch(&created.branch.id).unwrap().current_state, "ready");
        assert_eq!(s.endpoints_of(&created.branch.id)[0].current_state, "init");
        assert_eq!(
            s.create_snapshot(&prod, None, None, None, None)
                .unwrap_err()
                .status,
            423
        );
        s.advance(Duration::from_millis(1_000));
        assert_eq!(created.operations[1].status(s.now()), "finished");
        assert_eq!(
            s.endpoints_of(&created.branch.id)[0].current_state,
            "active"
        );
        s.create_snapshot(&prod, None, None, None, None).unwrap();
    }

    #[test]
    fn failed_operations_and_failed_restores_leave_the_target_alone() {
        let (mut s, prod, dev) = demo();
        s.op_failures.push(OpFailure {
            action: "restore_snapshot".into(),
            status: "failed".into(),
            error: "boom".into(),
            times: 1,
        });
        let (snap, _) = s.create_snapshot(&dev, None, None, None, None).unwrap();
        let (b, _, ops) = s
            .restore_snapshot(
                &snap.id,
                RestoreReq {
                    target_branch_id: Some(prod.clone()),
                    finalize_restore: true,
                    name: None,
                },
            )
            .unwrap();
        let now = s.now();
        assert_eq!(ops[0].status(now), "failed");
        assert_eq!(ops[0].to_json(now)["error"], "boom");
        assert_eq!(s.branch(&prod).unwrap().name, "production");
        assert!(s.branch(&prod).unwrap().default);
        assert_ne!(s.branch(&b.id).unwrap().name, "production");
        assert!(s.op_failures.is_empty());
    }

    #[test]
    fn delete_refusals() {
        let (mut s, prod, dev) = demo();
        let c = child(&mut s, "c", &dev);
        assert_eq!(s.delete_branch(&prod).unwrap_err().status, 422, "default");
        assert_eq!(
            s.delete_branch(&dev).unwrap_err().status,
            422,
            "has children"
        );
        s.update_branch(
            &c,
            UpdateBranchReq {
                protected: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.delete_branch(&c).unwrap_err().status, 422, "protected");
        s.update_branch(
            &c,
            UpdateBranchReq {
                protected: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(s.delete_branch(&c).unwrap().is_some());
        assert!(s.delete_branch(&c).unwrap().is_none(), "already gone");
        assert!(
            s.delete_branch(&dev).unwrap().is_some(),
            "a non-default root can go"
        );
    }

    #[test]
    fn expiry_validation() {
        let (mut s, prod, dev) = demo();
        let now = s.now();
        let at = |d: SignedDuration| fmt_ts(now + d);
        let req = |name: &str, exp: String| CreateBranchReq {
            name: Some(name.into()),
            parent_id: Some(dev.clone()),
            expires_at: Some(exp),
            ..Default::default()
        };
        // Seconds and milliseconds precision are both accepted.
        let ok = s
            .create_branch(req("a", at(SignedDuration::from_hours(24))))
            .unwrap()
            .branch;
        let ms = (now + SignedDuration::from_hours(2))
            .strftime("%Y-%m-%dT%H:%M:%S.%3fZ")
            .to_string();
        s.create_branch(req("b", ms)).unwrap();
        assert_eq!(
            s.create_branch(req("c", at(SignedDuration::from_hours(-1))))
                .unwrap_err()
                .status,
            400,
            "past"
        );
        assert_eq!(
            s.create_branch(req("d", at(SignedDuration::from_hours(24 * 31))))
                .unwrap_err()
                .status,
            400,
            "> 30 days"
        );
        assert_eq!(
            s.create_branch(req("e", "tomorrow".into()))
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            s.create_branch(req("f", "2030-01-01T00:00:00".into()))
                .unwrap_err()
                .status,
            400,
            "no offset"
        );
        // An expiring branch cannot get children.
        let err = s
            .create_branch(CreateBranchReq {
                name: Some("g".into()),
                parent_id: Some(ok.id.clone()),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err.status, 400);
        // Not on default / protected / parent branches.
        let exp = Some(Some(at(SignedDuration::from_hours(5))));
        assert_eq!(
            s.update_branch(
                &prod,
                UpdateBranchReq {
                    expires_at: exp.clone(),
                    ..Default::default()
                }
            )
            .unwrap_err()
            .status,
            400
        );
        assert_eq!(
            s.update_branch(
                &dev,
                UpdateBranchReq {
                    expires_at: exp.clone(),
                    ..Default::default()
                }
            )
            .unwrap_err()
            .status,
            400
        );
        // Refreshing and clearing the expiry.
        let b = s
            .update_branch(
                &ok.id,
                UpdateBranchReq {
                    expires_at: exp.clone(),
                    ..Default::default()
                },
            )
            .unwrap()
            .0;
        assert!(b.expires_at.is_some());
        let b = s
            .update_branch(
                &ok.id,
                UpdateBranchReq {
                    expires_at: Some(None),
                    ..Default::default()
                },
            )
            .unwrap()
            .0;
        assert!(b.expires_at.is_none());
        // Expired branches disappear.
        s.update_branch(
            &ok.id,
            UpdateBranchReq {
                expires_at: exp,
                ..Default::default()
            },
        )
        .unwrap();
        s.advance(Duration::from_secs(6 * 3600));
        assert!(s.branch(&ok.id).is_none());
    }

    #[test]
    fn duplicate_names_conflict() {
        let (mut s, _prod, dev) = demo();
        // Zero-length operations: the branch is ready in the creation answer itself.
        let b = s
            .create_branch(CreateBranchReq {
                name: Some("x".into()),
                parent_id: Some(dev.clone()),
                ..Default::default()
            })
            .unwrap()
            .branch;
        assert_eq!(b.current_state, "ready");
        child(&mut s, "preview/pr-1", &dev);
        let err = s
            .create_branch(CreateBranchReq {
                name: Some("preview/pr-1".into()),
                parent_id: Some(dev),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err.status, 409);
    }

    #[test]
    fn cursor_pagination_over_20000_branches() {
        let (mut s, _prod, dev) = demo();
        s.insert_many_branches("dev_feature_", 20_000, &dev);
        let started = std::time::Instant::now();
        let mut seen = std::collections::HashSet::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let q = ListBranchesQuery {
                search: Some("dev".into()),
                limit: Some("3000".into()),
                cursor: cursor.clone(),
                ..Default::default()
            };
            let page = s.list_branches(&q).unwrap();
            pages += 1;
            if page.branches.is_empty() {
                assert!(page.next.is_none());
                break;
            }
            for b in &page.branches {
                assert!(seen.insert(b.id.clone()), "duplicate {}", b.id);
            }
            cursor = page.next;
        }
        // 20,000 previews + dev (by name) = 20,001 matches; 7 full pages and one empty.
        assert_eq!(seen.len(), 20_001);
        assert_eq!(pages, 8);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "listing is slow: {:?}",
            started.elapsed()
        );
        // Ordering: updated_at descending by default; name ascending when asked.
        let page = s
            .list_branches(&ListBranchesQuery {
                sort_by: Some("name".into()),
                sort_order: Some("asc".into()),
                limit: Some("5".into()),
                ..Default::default()
            })
            .unwrap();
        let names: Vec<&str> = page.branches.iter().map(|b| b.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        // The cursor carries the order.
        let next = s
            .list_branches(&ListBranchesQuery {
                cursor: page.next,
                limit: Some("5".into()),
                ..Default::default()
            })
            .unwrap();
        assert!(next.branches[0].name.as_str() > *names.last().unwrap());
        assert_eq!(
            s.list_branches(&ListBranchesQuery {
                limit: Some("10001".into()),
                ..Default::default()
            })
            .unwrap_err()
            .status,
            400
        );
        assert_eq!(
            s.list_branches(&ListBranchesQuery {
                cursor: Some("zz".into()),
                ..Default::default()
            })
            .unwrap_err()
            .status,
            400
        );
    }

    #[test]
    fn operations_paginate_newest_first() {
        let mut s = State::new("p", limits(0, 100));
        let (prod, _) = s.seed_demo();
        for _ in 0..25 {
            s.create_snapshot(&prod, None, None, None, None).unwrap();
        }
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let (ops, next) = s.list_operations(Some("10"), cursor.as_deref()).unwrap();
            if ops.is_empty() {
                break;
            }
            all.extend(ops.iter().map(|o| o.id.clone()));
            cursor = next;
        }
        assert_eq!(all.len(), 25);
        assert_eq!(all[0], s.operations.last().unwrap().id);
    }

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

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = B64.iter().position(|b| *b == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod base64_tests {
    #[test]
    fn round_trips() {
        for s in ["", "a", "ab", "abc", "abcd", "{\"key\":\"dev_feature_1\"}"] {
            let e = super::base64_encode(s.as_bytes());
            assert_eq!(e.len() % 4, 0);
            assert_eq!(super::base64_decode(&e).unwrap(), s.as_bytes());
        }
        assert_eq!(
            super::base64_encode(b"any carnal pleas"),
            "YW55IGNhcm5hbCBwbGVhcw=="
        );
    }
}

#[cfg(test)]
mod search_tests {
    use super::*;

    #[test]
    fn search_is_a_case_insensitive_substring_of_name_or_id() {
        let mut s = State::new("p", Limits::default());
        let (prod, _dev) = s.seed_demo();
        let found = |s: &State, q: &str| -> Vec<String> {
            let q = ListBranchesQuery {
                search: Some(q.into()),
                ..Default::default()
            };
            let mut names: Vec<String> = s
                .list_branches(&q)
                .unwrap()
                .branches
                .iter()
                .map(|b| b.name.clone())
                .collect();
            names.sort();
            names
        };
        assert_eq!(found(&s, "DEV"), ["dev"]);
        assert_eq!(found(&s, "duct"), ["production"]);
        assert_eq!(found(&s, &prod[3..12]), ["production"]);
        assert!(found(&s, "nothing-like-this").is_empty());
    }
}
