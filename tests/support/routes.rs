//! Every Neon route neon-promote calls, with the query parameters and body fields it sends and
//! the answer fields it reads (`src/neon`). `tests/sdk_routes.rs` holds the list to Neon's
//! current SDK (`@neon/sdk` 6.1.2), to the 2.7.3 pin, and to what the binary really sends.
//!
//! Field paths are dot-separated; `[]` steps into an array (`branches[].id`). A body path
//! covers everything below it (`masking_rules`: the rules as the user wrote them).
#![allow(dead_code)] // each test binary uses a different part

/// One route: method, path template (parameters named as Neon names them), what is sent and
/// what is read. `reads` pairs a prefix with the fields read below it.
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub query: &'static [&'static str],
    pub body: &'static [&'static str],
    pub reads: &'static [(&'static str, &'static [&'static str])],
}

/// `neon::Branch`.
const BRANCH: &[&str] = &[
    "id",
    "name",
    "parent_id",
    "default",
    "protected",
    "current_state",
    "expires_at",
    "restored_from",
    "restored_as",
    "created_at",
    "init_source",
];
/// `neon::Snapshot`.
const SNAPSHOT: &[&str] = &[
    "id",
    "name",
    "source_branch_id",
    "created_at",
    "expires_at",
    "manual",
    "lsn",
];
/// `neon::Operation`.
const OPERATION: &[&str] = &[
    "id",
    "action",
    "status",
    "branch_id",
    "endpoint_id",
    "error",
    "created_at",
];
/// `neon::Endpoint`.
const ENDPOINT: &[&str] = &["id", "branch_id", "host", "type", "current_state"];
/// `neon::ConnectionDetails`.
const CONNECTION_DETAILS: &[&str] = &[
    "connection_uri",
    "connection_parameters.database",
    "connection_parameters.password",
    "connection_parameters.role",
    "connection_parameters.host",
    "connection_parameters.pooler_host",
];
/// What a branch creation answers, plain or anonymized (`neon::CreatedBranch`).
const CREATED: &[(&str, &[&str])] = &[
    ("branch", BRANCH),
    ("endpoints[]", ENDPOINT),
    ("operations[]", OPERATION),
    ("connection_uris[]", CONNECTION_DETAILS),
];
/// The branch and compute options of a creation, below `branch_create` when anonymized.
const CREATE_BODY: &[&str] = &[
    "branch.name",
    "branch.parent_id",
    "branch.expires_at",
    "branch.init_source",
    "endpoints[].type",
    "endpoints[].suspend_timeout_seconds",
];
const OPERATIONS: &[(&str, &[&str])] = &[("operations[]", OPERATION)];

pub const ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/projects/{project_id}/branches",
        query: &["search", "sort_by", "sort_order", "limit", "cursor"],
        body: &[],
        reads: &[("branches[]", BRANCH), ("pagination", &["next"])],
    },
    Route {
        method: "GET",
        path: "/projects/{project_id}/branches/{branch_id}",
        query: &[],
        body: &[],
        reads: &[("branch", BRANCH)],
    },
    Route {
        method: "POST",
        path: "/projects/{project_id}/branches",
        query: &[],
        body: CREATE_BODY,
        reads: CREATED,
    },
    Route {
        method: "POST",
        path: "/projects/{project_id}/branch_anonymized",
        query: &[],
        body: &[
            "branch_create.branch.name",
            "branch_create.branch.parent_id",
            "branch_create.branch.expires_at",
            "branch_create.branch.init_source",
            "branch_create.endpoints[].type",
            "branch_create.endpoints[].suspend_timeout_seconds",
            "masking_rules",
            "start_anonymization",
        ],
        reads: CREATED,
    },
    Route {
        method: "PATCH",
        path: "/projects/{project_id}/branches/{branch_id}",
        query: &[],
        body: &["branch.name", "branch.protected", "branch.expires_at"],
        reads: &[("branch", BRANCH), ("operations[]", OPERATION)],
    },
    Route {
        method: "DELETE",
        path: "/projects/{project_id}/branches/{branch_id}",
        query: &[],
        body: &[],
        reads: OPERATIONS,
    },
    Route {
        method: "GET",
        path: "/projects/{project_id}/branches/{branch_id}/endpoints",
        query: &[],
        body: &[],
        reads: &[("endpoints[]", ENDPOINT)],
    },
    Route {
        method: "POST",
        path: "/projects/{project_id}/endpoints",
        query: &[],
        body: &["endpoint.branch_id", "endpoint.type"],
        reads: &[("endpoint", ENDPOINT), ("operations[]", OPERATION)],
    },
    Route {
        method: "GET",
        path: "/projects/{project_id}/connection_uri",
        query: &["branch_id", "database_name", "role_name", "pooled"],
        body: &[],
        reads: &[("", &["uri"])],
    },
    Route {
        method: "GET",
        path: "/projects/{project_id}/operations",
        query: &["limit", "cursor"],
        body: &[],
        reads: &[("operations[]", OPERATION), ("pagination", &["cursor"])],
    },
    Route {
        method: "GET",
        path: "/projects/{project_id}/operations/{operation_id}",
        query: &[],
        body: &[],
        reads: &[("operation", OPERATION)],
    },
    Route {
        method: "POST",
        path: "/projects/{project_id}/branches/{branch_id}/snapshot",
        query: &["name", "expires_at"],
        body: &[],
        reads: &[("snapshot", SNAPSHOT), ("operations[]", OPERATION)],
    },
    Route {
        method: "GET",
        path: "/projects/{project_id}/snapshots",
        query: &[],
        body: &[],
        reads: &[("snapshots[]", SNAPSHOT)],
    },
    Route {
        method: "PATCH",
        path: "/projects/{project_id}/snapshots/{snapshot_id}",
        query: &[],
        body: &["snapshot.name"],
        reads: &[("snapshot", SNAPSHOT)],
    },
    Route {
        method: "DELETE",
        path: "/projects/{project_id}/snapshots/{snapshot_id}",
        query: &[],
        body: &[],
        reads: OPERATIONS,
    },
    // `name` in the body only: the query parameter of that name is deprecated (2.7.3: sunset
    // 2025-11-29; 6.1.2: "removal scheduled").
    Route {
        method: "POST",
        path: "/projects/{project_id}/snapshots/{snapshot_id}/restore",
        query: &[],
        body: &["name", "target_branch_id", "finalize_restore"],
        reads: &[("branch", BRANCH), ("operations[]", OPERATION)],
    },
    Route {
        method: "GET",
        path: "/projects/{project_id}/branches/{branch_id}/schema",
        query: &["db_name", "format"],
        body: &[],
        reads: &[
            ("json.tables[]", &["schema", "name"]),
            (
                "json.tables[].columns[]",
                &["name", "type", "nullable", "generated"],
            ),
        ],
    },
    Route {
        method: "GET",
        path: "/projects/{project_id}/branches/{branch_id}/compare_schema",
        query: &["base_branch_id", "db_name"],
        body: &[],
        reads: &[("", &["diff"])],
    },
    Route {
        method: "GET",
        path: "/projects/{project_id}/branches/{branch_id}/anonymized_status",
        query: &[],
        body: &[],
        reads: &[("", &["state", "status_message"])],
    },
    Route {
        method: "GET",
        path: "/projects/{project_id}/branches/{branch_id}/auth",
        query: &[],
        body: &[],
        reads: &[("", &["base_url"])],
    },
    Route {
        method: "GET",
        path: "/projects/{project_id}/branches/{branch_id}/data-api/{database_name}",
        query: &[],
        body: &[],
        reads: &[("", &["url"])],
    },
];

/// The fields of Neon's error body that every error message shows (`neon::ApiError`).
pub const ERROR_FIELDS: &[&str] = &["code", "message", "request_id"];

impl Route {
    /// Every field path read, prefixes applied.
    pub fn read_paths(&self) -> Vec<String> {
        self.reads
            .iter()
            .flat_map(|(prefix, fields)| {
                fields.iter().map(move |f| match *prefix {
                    "" => f.to_string(),
                    p => format!("{p}.{f}"),
                })
            })
            .collect()
    }

    /// Whether a concrete path below `/api/v2` (`/projects/p/branches/br-1`) is this route.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        let template: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        let concrete: Vec<&str> = path.trim_matches('/').split('/').collect();
        method == self.method
            && template.len() == concrete.len()
            && template
                .iter()
                .zip(&concrete)
                .all(|(t, c)| t.starts_with('{') || t == c)
    }

    /// Whether a sent body field (a leaf path) is one this route lists.
    pub fn sends(&self, leaf: &str) -> bool {
        self.body.iter().any(|b| {
            leaf == *b
                || leaf
                    .strip_prefix(b)
                    .is_some_and(|rest| rest.starts_with(['.', '[']))
        })
    }
}

/// The route a concrete request is on; a literal segment wins over a parameter
/// (`/branches/count` is not `/branches/{branch_id}`).
pub fn route_of(method: &str, path: &str) -> Option<&'static Route> {
    let literals = |r: &Route| r.path.split('/').filter(|s| !s.starts_with('{')).count();
    ROUTES
        .iter()
        .filter(|r| r.matches(method, path))
        .max_by_key(|r| literals(r))
}

/// `{"a": {"b": [ {"c": 1} ]}}` → `["a.b[].c"]`: the leaf paths of a JSON body.
pub fn leaf_paths(value: &serde_json::Value) -> Vec<String> {
    fn walk(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) if !map.is_empty() => {
                for (k, v) in map {
                    let next = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    walk(v, next, out);
                }
            }
            serde_json::Value::Array(items) if !items.is_empty() => {
                for item in items {
                    walk(item, format!("{at}[]"), out);
                }
            }
            _ => out.push(at),
        }
    }
    let mut out = Vec::new();
    walk(value, String::new(), &mut out);
    out.sort();
    out.dedup();
    out
}
