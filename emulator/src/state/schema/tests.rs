use crate::state::test_support::*;
use crate::state::*;

#[test]
fn ddl_is_deterministic_and_names_constraints_as_postgres_does() {
    let text = sql(&demo_tables());
    assert!(text.starts_with("CREATE TABLE public.orders (\n    id bigint NOT NULL,\n"));
    assert!(
        text.contains("    note text,\n"),
        "nullable: no NOT NULL\n{text}"
    );
    assert!(text.contains("CONSTRAINT orders_pkey PRIMARY KEY (id)"));
    assert!(text.contains(
        "CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id)"
    ));
    assert!(text.contains("CONSTRAINT users_email_key UNIQUE (email)\n);\n"));
    let mut reversed = demo_tables();
    reversed.reverse();
    assert_eq!(sql(&reversed), text, "table order does not matter");
}

#[test]
fn schemas_are_inherited_captured_and_restored() {
    let (mut s, prod, dev) = demo();
    assert_eq!(s.schema_of(&prod, "neondb").unwrap(), demo_tables());
    assert_eq!(s.schema_of(&dev, "neondb").unwrap(), demo_tables());
    let before = s.lsn_of(&dev).unwrap();
    let mut changed = demo_tables();
    changed[0].columns.pop(); // drop orders.note
    assert!(s.set_schema("dev", "neondb", changed.clone()));
    assert!(
        s.lsn_of(&dev).unwrap() > before,
        "a schema change is a write"
    );
    let preview = child(&mut s, "preview", &dev);
    assert_eq!(s.schema_of(&preview, "neondb").unwrap(), changed);
    let (snap, _) = s.create_snapshot(&dev, SnapshotReq::default()).unwrap();
    s.set_schema("dev", "neondb", Vec::new());
    assert_eq!(snap.schemas["neondb"], changed, "captured at the snapshot");
    let (restored, _, _) = s.restore_snapshot(&snap.id, finalize(&prod)).unwrap();
    assert_eq!(s.schema_of(&restored.id, "neondb").unwrap(), changed);
    assert!(s.schema_of(&prod, "otherdb").unwrap().is_empty());
    assert!(!s.set_schema("nope", "neondb", Vec::new()));
}

#[test]
fn diffs_are_unified_and_empty_when_equal() {
    let base = sql(&demo_tables());
    assert_eq!(unified_diff(&base, &base, "a", "b"), "");
    let mut changed = demo_tables();
    changed[1].columns[1].kind = "varchar(320)".into();
    let diff = unified_diff(&base, &sql(&changed), "br-a/neondb", "br-b/neondb");
    assert!(
        diff.starts_with("--- br-a/neondb\n+++ br-b/neondb\n@@ "),
        "{diff}"
    );
    assert!(diff.contains("\n-    email text NOT NULL,\n+    email varchar(320) NOT NULL,\n"));
}
