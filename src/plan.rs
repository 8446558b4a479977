//! The vocabulary of mutating calls. Each step of a command builds a [`Call`]; the context
//! either sends it ([`Call::send`], the only place a mutation reaches Neon) or, in a dry run,
//! records it as a plan line ([`Call::render`]). A deletion that finds its target already gone
//! is done, whoever deletes it: that rule lives here, once.

use crate::neon::{
    Branch, CreateBranch, CreatedBranch, Endpoint, EndpointType, NeonClient, NeonError,
    RestoreSnapshot, Snapshot, UpdateBranch, WithOps,
};

/// One mutating call, with everything it sends.
#[derive(Debug, Clone)]
pub enum Call {
    CreateBranch(CreateBranch),
    UpdateBranch {
        branch_id: String,
        update: UpdateBranch,
    },
    CreateEndpoint {
        branch_id: String,
        kind: EndpointType,
    },
    Snapshot {
        branch_id: String,
        name: String,
        expires_at: Option<String>,
    },
    RenameSnapshot {
        snapshot_id: String,
        name: String,
    },
    Restore {
        snapshot_id: String,
        request: RestoreSnapshot,
    },
    DeleteBranch {
        branch_id: String,
    },
    DeleteSnapshot {
        snapshot_id: String,
    },
}

/// What a call gave back.
#[derive(Debug, Clone)]
pub enum Sent {
    Created(Box<CreatedBranch>),
    Branch(Branch),
    Endpoint(Endpoint),
    Snapshot(Snapshot),
    /// Deleted now, or already gone before we came (both are success).
    Deleted,
}

impl Sent {
    pub fn branch(self) -> Option<Branch> {
        match self {
            Self::Branch(b) => Some(b),
            Self::Created(c) => Some(c.branch),
            _ => None,
        }
    }

    pub fn snapshot(self) -> Option<Snapshot> {
        match self {
            Self::Snapshot(s) => Some(s),
            _ => None,
        }
    }
}

impl Call {
    /// Sends the call; its operations are the caller's to wait for.
    pub async fn send(&self, neon: &NeonClient) -> Result<WithOps<Sent>, NeonError> {
        let wrap = |value, operations| WithOps { value, operations };
        Ok(match self {
            Self::CreateBranch(req) => {
                let mut created = neon.create_branch(req).await?;
                let ops = std::mem::take(&mut created.operations);
                wrap(Sent::Created(Box::new(created)), ops)
            }
            Self::UpdateBranch { branch_id, update } => {
                let u = neon.update_branch(branch_id, update).await?;
                wrap(Sent::Branch(u.value), u.operations)
            }
            Self::CreateEndpoint { branch_id, kind } => {
                let e = neon.create_endpoint(branch_id, *kind).await?;
                wrap(Sent::Endpoint(e.value), e.operations)
            }
            Self::Snapshot {
                branch_id,
                name,
                expires_at,
            } => {
                let s = neon
                    .create_snapshot(branch_id, name, expires_at.as_deref())
                    .await?;
                wrap(Sent::Snapshot(s.value), s.operations)
            }
            Self::RenameSnapshot { snapshot_id, name } => {
                let s = neon.rename_snapshot(snapshot_id, name).await?;
                wrap(Sent::Snapshot(s), Vec::new())
            }
            Self::Restore {
                snapshot_id,
                request,
            } => {
                let r = neon.restore_snapshot(snapshot_id, request).await?;
                wrap(Sent::Branch(r.value), r.operations)
            }
            Self::DeleteBranch { branch_id } => match neon.delete_branch(branch_id).await {
                Ok(ops) => wrap(Sent::Deleted, ops),
                Err(NeonError::NotFound(_)) => wrap(Sent::Deleted, Vec::new()),
                Err(e) => return Err(e),
            },
            Self::DeleteSnapshot { snapshot_id } => match neon.delete_snapshot(snapshot_id).await {
                Ok(ops) => wrap(Sent::Deleted, ops),
                Err(NeonError::NotFound(_)) => wrap(Sent::Deleted, Vec::new()),
                Err(e) => return Err(e),
            },
        })
    }

    /// The call as a plan line against project `p`: method, path and what it sends.
    pub fn render(&self, p: &str) -> String {
        match self {
            Self::CreateBranch(req) => {
                let route = match req.masking_rules {
                    Some(_) => "branch_anonymized",
                    None => "branches",
                };
                let mut line = format!(
                    "POST /projects/{p}/{route} name={} parent_id={}",
                    req.name, req.parent_id
                );
                if req.schema_only {
                    line.push_str(" init_source=schema-only");
                }
                if let Some(at) = &req.expires_at {
                    line.push_str(&format!(" expires_at={at}"));
                }
                if req.read_write_endpoint {
                    line.push_str(" endpoint=read_write");
                }
                if let Some(seconds) = req.suspend_timeout_seconds {
                    line.push_str(&format!(" suspend_timeout_seconds={seconds}"));
                }
                if let Some(rules) = &req.masking_rules {
                    let count = rules.as_array().map_or(0, Vec::len);
                    line.push_str(&format!(" masking_rules={count}"));
                }
                line
            }
            Self::UpdateBranch { branch_id, update } => {
                let mut line = format!("PATCH /projects/{p}/branches/{branch_id}");
                if let Some(protected) = update.protected {
                    line.push_str(&format!(" protected={protected}"));
                }
                if let Some(at) = &update.expires_at {
                    line.push_str(&format!(" expires_at={}", at.as_deref().unwrap_or("null")));
                }
                line
            }
            Self::CreateEndpoint { branch_id, kind } => format!(
                "POST /projects/{p}/endpoints branch_id={branch_id} type={}",
                kind.as_str()
            ),
            Self::Snapshot {
                branch_id,
                name,
                expires_at,
            } => {
                let mut line =
                    format!("POST /projects/{p}/branches/{branch_id}/snapshot name={name}");
                if let Some(at) = expires_at {
                    line.push_str(&format!(" expires_at={at}"));
                }
                line
            }
            Self::RenameSnapshot { snapshot_id, name } => {
                format!("PATCH /projects/{p}/snapshots/{snapshot_id} name={name}")
            }
            Self::Restore {
                snapshot_id,
                request,
            } => {
                let mut line = format!("POST /projects/{p}/snapshots/{snapshot_id}/restore");
                if let Some(name) = &request.name {
                    line.push_str(&format!(" name={name}"));
                }
                if let Some(target) = &request.target_branch_id {
                    line.push_str(&format!(" target_branch_id={target}"));
                }
                line.push_str(&format!(" finalize_restore={}", request.finalize_restore));
                line
            }
            Self::DeleteBranch { branch_id } => {
                format!("DELETE /projects/{p}/branches/{branch_id}")
            }
            Self::DeleteSnapshot { snapshot_id } => {
                format!("DELETE /projects/{p}/snapshots/{snapshot_id}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_name_each_call_and_its_target() {
        let calls = [
            Call::Snapshot {
                branch_id: "br-p".into(),
                name: "prod_snap_x".into(),
                expires_at: Some("2026-12-01T00:00:00Z".into()),
            },
            Call::Restore {
                snapshot_id: "snap-c".into(),
                request: RestoreSnapshot {
                    name: None,
                    target_branch_id: Some("br-p".into()),
                    finalize_restore: true,
                },
            },
            Call::UpdateBranch {
                branch_id: "br-p".into(),
                update: UpdateBranch {
                    protected: Some(true),
                    ..UpdateBranch::default()
                },
            },
            Call::DeleteBranch {
                branch_id: "br-p".into(),
            },
            Call::RenameSnapshot {
                snapshot_id: "snap-c".into(),
                name: "dev_snap_x_baseline".into(),
            },
            Call::CreateBranch(CreateBranch {
                name: "ci".into(),
                parent_id: "br-dev".into(),
                expires_at: None,
                read_write_endpoint: true,
                schema_only: true,
                suspend_timeout_seconds: Some(300),
                masking_rules: Some(serde_json::json!([{ "column_name": "email" }])),
            }),
        ];
        let lines: Vec<String> = calls.iter().map(|c| c.render("p1")).collect();
        assert_eq!(
            lines,
            [
                "POST /projects/p1/branches/br-p/snapshot name=prod_snap_x expires_at=2026-12-01T00:00:00Z",
                "POST /projects/p1/snapshots/snap-c/restore target_branch_id=br-p finalize_restore=true",
                "PATCH /projects/p1/branches/br-p protected=true",
                "DELETE /projects/p1/branches/br-p",
                "PATCH /projects/p1/snapshots/snap-c name=dev_snap_x_baseline",
                "POST /projects/p1/branch_anonymized name=ci parent_id=br-dev init_source=schema-only endpoint=read_write suspend_timeout_seconds=300 masking_rules=1",
            ]
        );
    }
}
