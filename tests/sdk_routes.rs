//! The Neon routes neon-promote relies on (`support::routes`), held to three things:
//! - Neon's current API as its own SDK declares it (`@neon/sdk` 6.1.2): a function for each
//!   route, and in its types each path, query and body parameter we send and each field of
//!   the success answer we read;
//! - the 2.7.3 pin the emulator is validated against: the route, and each field we read in an
//!   answer with every declared field;
//! - the binary: every request it sends, in a run of every command with every
//!   create-branch-action input, is on the list with only listed parameters and body fields,
//!   and every route on the list is used.
//!
//! A route, parameter or field that Neon drops fails here first, naming it. The SDK package is
//! fetched by `npm pack` and checksum-verified (`support/npm.rs`), never committed.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use neon_emulator::state::Features;
use neon_emulator::{Api, Emulator, Options, Seed};
use support::Action;
use support::lifecycle::{SHA, dispatch, merge, ok, push, rollback_point};
use support::routes::{ERROR_FIELDS, ROUTES, leaf_paths, route_of};
use support::sdk::{self, Sdk, Ty};
use support::spec;

fn sdk() -> &'static Sdk {
    sdk::pinned()
}

#[test]
fn the_sdk_reader_reads_the_generators_syntax() {
    let reader = Sdk {
        types: sdk::declarations(
            "/** doc */ export type A = { b?: Array<{ c: 'x' | 'y'; }>; [key: string]: unknown;\n\
             201: B & { d: string[] } };\n export type B = { e: number; };\n\
             export type C = A[keyof A];",
        ),
        functions: sdk::functions(
            "\nconst getA = (options) => (options.client ?? client).get({\n\turl: \"/a/{id}\",\n});",
        ),
    };
    let a = Ty::Ref("A".into());
    assert!(reader.at(&a, "b[].c").is_some());
    assert!(reader.at(&a, "201.e").is_some());
    assert!(reader.at(&a, "201.d[]").is_some());
    assert!(reader.at(&a, "b.c").is_none(), "b is an array");
    assert!(
        reader.at(&a, "key").is_none(),
        "an index signature is no field"
    );
    assert_eq!(reader.types["C"], Ty::Leaf("indexed".into()));
    let f = reader.function("GET", "/a/{id}").expect("getA");
    assert_eq!(f.name, "getA");
    // And on the real files: a field we know is there, and one we know is not.
    let s = sdk();
    let snapshot = Ty::Ref("Snapshot".into());
    assert!(s.at(&snapshot, "slug").is_some() && s.at(&snapshot, "invented").is_none());
}

#[test]
fn every_route_we_use_is_in_neons_current_sdk() {
    let s = sdk();
    let mut missing = Vec::new();
    for r in ROUTES {
        let head = format!("{} {}", r.method, r.path);
        let Some(f) = s.function(r.method, r.path) else {
            missing.push(format!("{head}: no SDK function"));
            continue;
        };
        let data = s.data(f);
        let params = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|p| p.strip_suffix('}')));
        for p in params {
            if s.at(data, &format!("path.{p}")).is_none() {
                missing.push(format!("{head} ({}): path parameter {p}", f.name));
            }
        }
        for q in r.query {
            if s.at(data, &format!("query.{q}")).is_none() {
                missing.push(format!("{head} ({}): query parameter {q}", f.name));
            }
        }
        for b in r.body {
            if s.at(data, &format!("body.{b}")).is_none() {
                missing.push(format!("{head} ({}): body field {b}", f.name));
            }
        }
        let Some(answer) = s.success(f) else {
            missing.push(format!("{head} ({}): no success answer", f.name));
            continue;
        };
        for read in r.read_paths() {
            if s.at(answer, &read).is_none() {
                missing.push(format!("{head} ({}): answer field {read}", f.name));
            }
        }
    }
    let error = Ty::Ref("GeneralError".into());
    for field in ERROR_FIELDS {
        if s.at(&error, field).is_none() {
            missing.push(format!("GeneralError: {field}"));
        }
    }
    assert!(
        missing.is_empty(),
        "@neon/sdk {} lacks what neon-promote relies on:\n{}",
        sdk::PACKAGE.1,
        missing.join("\n")
    );
}

#[test]
fn every_route_we_use_is_in_the_pinned_spec() {
    let s = spec::pinned();
    let mut missing = Vec::new();
    for r in ROUTES {
        let head = format!("{} {}", r.method, r.path);
        match s.operation(r.method, r.path) {
            Some(op) if op.template == r.path => {}
            _ => {
                missing.push(format!("{head}: no such operation"));
                continue;
            }
        }
        let Some(status) = [200, 201, 202]
            .into_iter()
            .find(|st| s.response_schema(r.method, r.path, *st).is_some())
        else {
            missing.push(format!("{head}: no success answer"));
            continue;
        };
        let full = s.full_response(r.method, r.path, status);
        for read in r.read_paths() {
            if !json_has(&full, &read) {
                missing.push(format!("{head} {status}: answer field {read}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the pinned spec {} lacks what neon-promote relies on:\n{}",
        s.version(),
        missing.join("\n")
    );
}

/// Whether `path` (dots, `[]` into the first item) is present in `v`.
fn json_has(v: &serde_json::Value, path: &str) -> bool {
    let mut at = v;
    for part in path.split('.') {
        let (name, arrays) = match part.find("[]") {
            Some(i) => (&part[..i], part[i..].matches("[]").count()),
            None => (part, 0),
        };
        let Some(next) = at.get(name) else {
            return false;
        };
        at = next;
        for _ in 0..arrays {
            let Some(first) = at.get(0) else {
                return false;
            };
            at = first;
        }
    }
    true
}

/// Every command, with every create-branch-action input, against one emulator.
async fn every_command(emu: &Emulator) {
    let pr = |action: &str| support::pull_request(action, 7, "feature/routes", SHA);
    let quiet = |action: Action| action.input("comment", "false");
    let named = |name: &str| {
        quiet(Action::new("push", support::push("feature", "main", SHA)))
            .input("command", "preview")
            .input("branch_name", name)
    };
    let rules = r#"[{"database_name":"neondb","schema_name":"public","table_name":"users","column_name":"email","masking_function":"anon.dummy_free_email()"}]"#;
    let runs = [
        quiet(Action::new("pull_request", pr("opened"))),
        quiet(Action::new("pull_request", pr("synchronize"))).input("command", "diff"),
        named("ci-masked")
            .input("masking_rules", rules)
            .input("suspend_timeout", "300")
            .input("get_auth_url", "true")
            .input("get_data_api_url", "true"),
        named("ci-schema").input("branch_type", "schema-only"),
    ];
    for action in runs {
        ok(&action.run(emu).await);
    }
    // A preview whose compute is gone gets a new one.
    let preview = emu.with_state(|s| {
        s.branch_by_name("preview/pr-7-feature/routes")
            .unwrap()
            .id
            .clone()
    });
    emu.with_state(|s| s.endpoints.retain(|e| e.branch_id != preview));
    ok(&quiet(Action::new("pull_request", pr("synchronize")))
        .run(emu)
        .await);

    merge(emu, 42, SHA);
    ok(&Action::new("push", push(SHA)).run(emu).await);
    let point = rollback_point(emu);
    let back = Action::new("workflow_dispatch", dispatch(&point)).input("snapshot_id", &point);
    ok(&quiet(back).run(emu).await);
    for command in ["refresh-dev", "setup", "connect", "checkpoint", "sweep"] {
        let action = Action::new("workflow_dispatch", dispatch("")).input("command", command);
        ok(&quiet(action).run(emu).await);
    }
    ok(&quiet(Action::new("pull_request", pr("closed")))
        .run(emu)
        .await);
    ok(&named("ci-schema")
        .input("command", "cleanup")
        .run(emu)
        .await);
}

#[tokio::test]
async fn the_binary_sends_only_listed_routes_parameters_and_fields() {
    let emu = Emulator::start(Options {
        seed: Seed::Demo,
        op_duration: Duration::from_millis(20),
        features: Features {
            neon_auth: true,
            data_api: true,
        },
        ..Options::default()
    })
    .await;
    every_command(&emu).await;

    let mut problems = BTreeSet::new();
    let mut used = BTreeSet::new();
    for r in emu.requests_to(Api::Neon) {
        let path = r.path.strip_prefix(spec::BASE).unwrap_or(&r.path);
        let Some(route) = route_of(&r.method, path) else {
            problems.insert(format!("unlisted route: {} {path}", r.method));
            continue;
        };
        used.insert((route.method, route.path));
        for (name, _) in spec::parse_query(&r.query) {
            if !route.query.contains(&name.as_str()) {
                problems.insert(format!(
                    "{} {}: unlisted query parameter {name}",
                    route.method, route.path
                ));
            }
        }
        for leaf in r.body.as_ref().map(leaf_paths).unwrap_or_default() {
            if !route.sends(&leaf) {
                problems.insert(format!(
                    "{} {}: unlisted body field {leaf}",
                    route.method, route.path
                ));
            }
        }
    }
    for r in ROUTES {
        if !used.contains(&(r.method, r.path)) {
            problems.insert(format!("listed but never called: {} {}", r.method, r.path));
        }
    }
    assert!(
        problems.is_empty(),
        "support/routes.rs and what the binary sends disagree:\n{}",
        problems.into_iter().collect::<Vec<_>>().join("\n")
    );
}
