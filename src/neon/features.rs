//! What create-branch-action 6.4 adds to a branch creation, and the reads that go with it: a
//! schema-only branch, the compute's suspend timeout, an anonymized branch (masking rules,
//! through `branch_anonymized`) and the wait for its anonymization, and a branch's Neon Auth and
//! Data API URLs. Every route here is in the 2.7.3 pin and in `@neon/sdk` 6.1.2
//! (`tests/sdk_routes.rs` holds them to both).

use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;

use super::calls::{Call, parse, poll_call};
use super::poll::Schedule;
use super::transport::{Method, Request};
use super::{AnonymizedStatus, CreateBranch, NeonClient, NeonError, SCHEMA_ONLY};

impl NeonClient {
    /// The request that creates `req`, and what to call it: `POST …/branches`, or, with masking
    /// rules, `POST …/branch_anonymized` (the same branch and compute wrapped in
    /// `branch_create`, the anonymization started at once).
    pub(super) fn create_request(&self, req: &CreateBranch) -> (&'static str, Request) {
        let mut branch = json!({ "name": req.name, "parent_id": req.parent_id });
        if let Some(expires_at) = &req.expires_at {
            branch["expires_at"] = json!(expires_at);
        }
        if req.schema_only {
            branch["init_source"] = json!(SCHEMA_ONLY);
        }
        let mut create = json!({ "branch": branch });
        if req.read_write_endpoint {
            let mut endpoint = json!({ "type": "read_write" });
            if let Some(seconds) = req.suspend_timeout_seconds {
                endpoint["suspend_timeout_seconds"] = json!(seconds);
            }
            create["endpoints"] = json!([endpoint]);
        }
        let (what, segment, body) = match &req.masking_rules {
            None => ("create branch", "branches", create),
            Some(rules) => (
                "create anonymized branch",
                "branch_anonymized",
                json!({
                    "branch_create": create,
                    "masking_rules": rules,
                    "start_anonymization": true,
                }),
            ),
        };
        let post = self.request(Method::Post, &[segment], Vec::new(), Some(body));
        (what, post)
    }

    /// Waits until the anonymization of a branch has ended, on the operation wait's schedule
    /// and budget, within `timeout`; `None` when the branch is not an anonymized one. Its state
    /// is read rather than an operation: the API documents no operation for it.
    pub async fn wait_anonymized(
        &self,
        branch_id: &str,
    ) -> Result<Option<AnonymizedStatus>, NeonError> {
        let start = Instant::now();
        let deadline = start + self.timeout();
        let req = self.request(
            Method::Get,
            &["branches", branch_id, "anonymized_status"],
            Vec::new(),
            None,
        );
        let mut schedule = Schedule::default();
        loop {
            let what = "get anonymized status";
            let call = Call {
                what,
                ..poll_call(deadline)
            };
            let answer = self.fetch(&req, call).await;
            let Some(status) = absent_is_none(answer)? else {
                return Ok(None);
            };
            let status: AnonymizedStatus = parse(what, &status)?;
            if status.is_anonymized() || status.is_failed() {
                return Ok(Some(status));
            }
            let at = (start + schedule.next_after(start.elapsed())).min(deadline);
            if at == deadline {
                return Err(NeonError::Deadline {
                    timeout: self.timeout(),
                    waiting_for: format!(
                        "the anonymization of branch {branch_id} (still {})",
                        status.state
                    ),
                    last: None,
                });
            }
            tokio::time::sleep_until(at).await;
        }
    }

    /// Neon Auth's `base_url` for a branch; `None` when Neon Auth is not enabled on it.
    pub async fn neon_auth_url(&self, branch_id: &str) -> Result<Option<String>, NeonError> {
        #[derive(Deserialize)]
        struct Auth {
            #[serde(default)]
            base_url: Option<String>,
        }
        let segments = ["branches", branch_id, "auth"];
        let auth = absent_is_none(
            self.get::<Auth>("get Neon Auth", &segments, Vec::new())
                .await,
        )?;
        Ok(auth.and_then(|a| a.base_url))
    }

    /// The Data API's `url` for a database of a branch; `None` when the Data API is not enabled.
    pub async fn data_api_url(
        &self,
        branch_id: &str,
        database: &str,
    ) -> Result<Option<String>, NeonError> {
        #[derive(Deserialize)]
        struct DataApi {
            url: String,
        }
        let segments = ["branches", branch_id, "data-api", database];
        let api = absent_is_none(
            self.get::<DataApi>("get Data API", &segments, Vec::new())
                .await,
        )?;
        Ok(api.map(|a| a.url))
    }
}

/// A 404 here means the feature is off for a branch we have just read, whatever its message
/// names (so not a wrong project either).
fn absent_is_none<T>(answer: Result<T, NeonError>) -> Result<Option<T>, NeonError> {
    match answer {
        Ok(value) => Ok(Some(value)),
        Err(NeonError::NotFound(_) | NeonError::ProjectNotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::super::fake::{self, Fake, answer, ok};
    use super::*;

    fn neon(answer: impl Fn(&Request, Duration) -> Value + Send + Sync + 'static) -> NeonClient {
        let fake = Fake::new(Duration::ZERO, move |req, at| ok(answer(req, at)));
        fake::client(fake, Duration::from_secs(20))
    }

    fn not_found() -> NeonClient {
        let fake = Fake::new(Duration::ZERO, |_, _| {
            Ok(answer(404, None, json!({ "message": "not found" })))
        });
        fake::client(fake, Duration::from_secs(20))
    }

    #[test]
    fn a_branch_with_every_option_is_created_through_the_anonymized_route() {
        let req = CreateBranch {
            name: "ci".into(),
            parent_id: "br-dev".into(),
            expires_at: Some("2026-12-01T00:00:00Z".into()),
            read_write_endpoint: true,
            schema_only: true,
            suspend_timeout_seconds: Some(300),
            masking_rules: Some(json!([{ "column_name": "email" }])),
        };
        let (what, post) = not_found().create_request(&req);
        assert_eq!(what, "create anonymized branch");
        assert_eq!(post.path, "/projects/p1/branch_anonymized");
        let create = json!({
            "branch": {
                "name": "ci", "parent_id": "br-dev", "expires_at": "2026-12-01T00:00:00Z",
                "init_source": "schema-only",
            },
            "endpoints": [{ "type": "read_write", "suspend_timeout_seconds": 300 }],
        });
        assert_eq!(
            post.body,
            Some(json!({
                "branch_create": create,
                "masking_rules": [{ "column_name": "email" }],
                "start_anonymization": true,
            }))
        );
        let plain = CreateBranch {
            masking_rules: None,
            ..req
        };
        let (what, post) = not_found().create_request(&plain);
        assert_eq!(
            (what, post.path.as_str()),
            ("create branch", "/projects/p1/branches")
        );
        assert_eq!(post.body, Some(create));
    }

    #[test]
    fn a_default_branch_sends_neither_init_source_nor_suspend_timeout() {
        let req = CreateBranch {
            name: "ci".into(),
            parent_id: "br-dev".into(),
            read_write_endpoint: true,
            ..CreateBranch::default()
        };
        let (_, post) = not_found().create_request(&req);
        assert_eq!(
            post.body,
            Some(json!({
                "branch": { "name": "ci", "parent_id": "br-dev" },
                "endpoints": [{ "type": "read_write" }],
            }))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_anonymization_is_polled_until_it_ends() {
        let neon = neon(|req, at| {
            assert_eq!(req.path, "/projects/p1/branches/br-1/anonymized_status");
            let state = if at < Duration::from_secs(2) {
                "anonymizing"
            } else {
                "anonymized"
            };
            json!({ "project_id": "p1", "branch_id": "br-1", "state": state })
        });
        let status = neon.wait_anonymized("br-1").await.unwrap().unwrap();
        assert!(status.is_anonymized());
        // The operation wait's schedule: a read at 0, then 0.3, 0.548, 1, 1.3, 1.548 and 2 s.
        assert_eq!(neon.stats().polls(), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_anonymization_ends_the_wait_with_neons_words() {
        let neon = neon(
            |_, _| json!({ "state": "error", "status_message": "column users.mail does not exist" }),
        );
        let status = neon.wait_anonymized("br-1").await.unwrap().unwrap();
        assert!(status.is_failed());
        assert_eq!(
            status.status_message.as_deref(),
            Some("column users.mail does not exist")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_anonymization_that_never_ends_is_a_deadline() {
        let neon = neon(|_, _| json!({ "state": "initialized" }));
        let err = neon.wait_anonymized("br-1").await.unwrap_err();
        assert!(
            matches!(&err, NeonError::Deadline { waiting_for, .. } if waiting_for.contains("still initialized")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn features_that_are_off_answer_none() {
        let neon = not_found();
        assert_eq!(neon.wait_anonymized("br-1").await.unwrap(), None);
        assert_eq!(neon.neon_auth_url("br-1").await.unwrap(), None);
        assert_eq!(neon.data_api_url("br-1", "neondb").await.unwrap(), None);
    }

    #[tokio::test]
    async fn features_that_are_on_answer_their_urls() {
        let neon = neon(|req, _| match req.path.as_str() {
            "/projects/p1/branches/br-1/auth" => {
                json!({ "base_url": "https://auth.x/neondb/auth" })
            }
            "/projects/p1/branches/br-1/data-api/app%20db" => json!({ "url": "https://rest.x/v1" }),
            other => panic!("unexpected {other}"),
        });
        assert_eq!(
            neon.neon_auth_url("br-1").await.unwrap().as_deref(),
            Some("https://auth.x/neondb/auth")
        );
        assert_eq!(
            neon.data_api_url("br-1", "app db")
                .await
                .unwrap()
                .as_deref(),
            Some("https://rest.x/v1")
        );
    }
}
