use std::time::Duration;

use crate::state::test_support::*;
use crate::state::*;

fn rule(table: &str, column: &str) -> MaskingRule {
    MaskingRule {
        database_name: "neondb".into(),
        schema_name: "public".into(),
        table_name: table.into(),
        column_name: column.into(),
        masking_function: Some("anon.fake_email()".into()),
        masking_value: None,
    }
}

fn create(name: &str) -> CreateBranchReq {
    CreateBranchReq {
        name: Some(name.into()),
        endpoints: vec![EndpointType::ReadWrite.into()],
        ..Default::default()
    }
}

#[test]
fn an_anonymization_runs_as_an_operation_then_masks_the_data() {
    let mut s = State::new("p", limits(1_000, 10));
    s.seed_default();
    let created = s
        .create_branch_anonymized(create("masked"), vec![rule("users", "email")], true)
        .unwrap();
    let id = created.branch.id.clone();
    let run = created.operations.last().unwrap();
    assert_eq!(run.action, "apply_config");
    assert_eq!(s.anonymized_status(&id).unwrap()["state"], "anonymizing");
    assert_eq!(s.data_of(&id).unwrap(), "production-v1");
    s.advance(Duration::from_secs(2));
    assert_eq!(
        s.anonymized_status(&id).unwrap()["state"],
        "anonymizing",
        "queued"
    );
    s.advance(Duration::from_secs(2));
    let status = s.anonymized_status(&id).unwrap();
    assert_eq!(status["state"], "anonymized");
    assert_eq!(status["last_run"]["masked_columns"], 1);
    assert_eq!(s.data_of(&id).unwrap(), "anonymized(production-v1)");
    // A second run is refused while it runs, like any mutation of a busy branch.
    s.start_anonymization(&id).unwrap();
    assert_eq!(s.start_anonymization(&id).unwrap_err().status, 423);
}

#[test]
fn rules_must_name_existing_columns_and_only_anonymized_branches_have_them() {
    let (mut s, prod, _) = demo();
    let err = s
        .create_branch_anonymized(create("masked"), vec![rule("users", "phone")], false)
        .unwrap_err();
    assert_eq!(err.status, 400, "{}", err.message);
    let b = s
        .create_branch_anonymized(create("masked"), Vec::new(), false)
        .unwrap()
        .branch
        .id;
    assert_eq!(s.anonymized_status(&b).unwrap()["state"], "initialized");
    s.set_masking_rules(&b, vec![rule("orders", "note")])
        .unwrap();
    assert_eq!(s.anonymization(&b).unwrap().rules.len(), 1);
    assert_eq!(s.anonymization(&prod).unwrap_err().status, 404);
    s.op_failures.push(OpFailure {
        action: "anonymize".into(),
        status: "failed".into(),
        error: "anon extension missing".into(),
        times: 1,
    });
    s.start_anonymization(&b).unwrap();
    let status = s.anonymized_status(&b).unwrap();
    assert_eq!(
        (status["state"].as_str(), status["status_message"].as_str()),
        (Some("error"), Some("anon extension missing"))
    );
    assert_eq!(
        s.data_of(&b).unwrap(),
        "production-v1",
        "a failed run masks nothing"
    );
    s.delete_branch(&b).unwrap();
    assert!(s.anonymized.is_empty());
}

#[test]
fn schema_only_branches_are_roots_with_the_schema_and_no_data() {
    let (mut s, prod, _) = demo();
    let b = s
        .create_branch(CreateBranchReq {
            name: Some("schema".into()),
            parent_id: Some(prod.clone()),
            init_source: Some("schema-only".into()),
            ..Default::default()
        })
        .unwrap()
        .branch;
    assert!(b.parent_id.is_none() && b.parent_lsn.is_none());
    assert_eq!(
        (b.init_source.as_str(), b.data.as_str()),
        ("schema-only", "")
    );
    assert_eq!(s.schema_of(&b.id, "neondb").unwrap(), demo_tables());
    let child_schema = s
        .create_branch(CreateBranchReq {
            name: Some("child-schema".into()),
            parent_id: Some(prod.clone()),
            init_source: Some("parent-schema".into()),
            ..Default::default()
        })
        .unwrap()
        .branch;
    assert_eq!(child_schema.parent_id.as_deref(), Some(prod.as_str()));
    assert_eq!(child_schema.data, "");
    let bad = CreateBranchReq {
        init_source: Some("import".into()),
        ..Default::default()
    };
    assert_eq!(s.create_branch(bad).unwrap_err().status, 400);
}

#[test]
fn suspend_timeouts_are_kept_and_checked() {
    let (mut s, _, dev) = demo();
    let with = |secs: i64| CreateBranchReq {
        parent_id: Some(dev.clone()),
        endpoints: vec![NewEndpoint {
            kind: EndpointType::ReadWrite,
            suspend_timeout_seconds: secs,
        }],
        ..Default::default()
    };
    let created = s.create_branch(with(600)).unwrap();
    assert_eq!(created.endpoints[0].suspend_timeout_seconds, 600);
    for bad in [30, -2, 604_801] {
        assert_eq!(s.create_branch(with(bad)).unwrap_err().status, 400, "{bad}");
    }
}
