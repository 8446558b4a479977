//! The documentation matches the action: README.md's input and output tables against
//! action.yml (names, required, defaults), action.yml against the interface that SPEC §2 fixes,
//! the README's workflow against examples/lifecycle.yml, and the Dockerfile against what GitHub
//! requires of a container action. Each failure prints what to change, as a diff.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use serde_yaml::Value;

/// SPEC §2: the inputs and outputs users and tests depend on. Renaming one breaks workflows.
/// The inputs are the list the e2e harness passes, as the runner would.
use support::INPUTS as SPEC_INPUTS;
const SPEC_OUTPUTS: &[&str] = &[
    "command",
    "branch_id",
    "branch_name",
    "created",
    "expires_at",
    "db_url",
    "db_url_pooled",
    "db_host",
    "db_host_pooled",
    "password",
    "rollback_snapshot_id",
    "candidate_snapshot_id",
    "prod_branch_id",
    "restored_snapshot_id",
    "schema_changed",
    "destructive_changes",
    "snapshot_id",
    "auth_url",
    "data_api_url",
    "comment_url",
];

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {}: {e}", full.display()))
}

/// One input as action.yml declares it.
#[derive(Debug, PartialEq)]
struct Input {
    required: bool,
    default: Option<String>,
}

fn action() -> Value {
    serde_yaml::from_str(&read("action.yml")).expect("action.yml is not valid YAML")
}

fn action_inputs(action: &Value) -> BTreeMap<String, Input> {
    let inputs = action["inputs"]
        .as_mapping()
        .expect("action.yml: no inputs");
    inputs
        .iter()
        .map(|(name, spec)| {
            let name = name.as_str().expect("input name").to_string();
            assert!(
                spec["description"]
                    .as_str()
                    .is_some_and(|d| !d.trim().is_empty()),
                "action.yml: input {name} has no description"
            );
            let default = match &spec["default"] {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                // A YAML `true` or `7` would reach the container as text anyway, but quoting
                // keeps what the README shows and what the runner passes the same.
                other => panic!("action.yml: input {name}: quote the default {other:?}"),
            };
            let required = spec["required"].as_bool().unwrap_or(false);
            (name, Input { required, default })
        })
        .collect()
}

fn action_outputs(action: &Value) -> Vec<String> {
    let outputs = action["outputs"]
        .as_mapping()
        .expect("action.yml: no outputs");
    outputs
        .iter()
        .map(|(name, spec)| {
            let name = name.as_str().expect("output name").to_string();
            assert!(
                spec["description"]
                    .as_str()
                    .is_some_and(|d| !d.trim().is_empty()),
                "action.yml: output {name} has no description"
            );
            name
        })
        .collect()
}

/// The rows of the first Markdown table under the heading `heading`, as cells.
fn table(markdown: &str, heading: &str) -> Vec<Vec<String>> {
    let mut lines = markdown.lines();
    lines
        .by_ref()
        .find(|l| l.trim() == heading)
        .unwrap_or_else(|| panic!("README.md has no heading {heading:?}"));
    let rows: Vec<Vec<String>> = lines
        .skip_while(|l| !l.trim_start().starts_with('|'))
        .take_while(|l| l.trim_start().starts_with('|'))
        .map(|l| {
            let l = l.trim();
            l.trim_start_matches('|')
                .trim_end_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect();
    assert!(rows.len() > 2, "README.md: no table under {heading:?}");
    // Header and the |---| line.
    rows.into_iter().skip(2).collect()
}

/// `name` from a cell holding `` `name` ``.
fn code(cell: &str) -> Option<&str> {
    cell.strip_prefix('`')?.strip_suffix('`')
}

/// A readable diff between what action.yml says and what the README says.
fn diff(what: &str, expected: &[String], actual: &[String]) -> String {
    let mut out = format!("README.md {what} differ from action.yml (- action.yml, + README.md):\n");
    for line in expected.iter().filter(|l| !actual.contains(l)) {
        out.push_str(&format!("- {line}\n"));
    }
    for line in actual.iter().filter(|l| !expected.contains(l)) {
        out.push_str(&format!("+ {line}\n"));
    }
    out
}

#[test]
fn readme_inputs_table_matches_action_yml() {
    let action = action();
    let expected: Vec<String> = action_inputs(&action)
        .iter()
        .map(|(name, input)| {
            let default = match &input.default {
                Some(d) => format!("`{d}`"),
                None => "(no literal default)".to_string(),
            };
            format!("{name}: required={} default={default}", input.required)
        })
        .collect();
    let readme = read("README.md");
    let mut actual: Vec<String> = table(&readme, "## Inputs")
        .iter()
        .map(|row| {
            assert!(
                row.len() >= 4,
                "README.md inputs: a row needs 4 cells: {row:?}"
            );
            let name = code(&row[0])
                .unwrap_or_else(|| panic!("README.md inputs: {:?} is not `name`", row[0]));
            let required = match row[1].as_str() {
                "yes" => true,
                "no" => false,
                other => panic!("README.md inputs: required of {name} is {other:?}, not yes/no"),
            };
            // A default cell in backticks is the literal default; any other text describes one.
            let default = if row[2].starts_with('`') {
                row[2].clone()
            } else {
                "(no literal default)".to_string()
            };
            format!("{name}: required={required} default={default}")
        })
        .collect();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    actual.sort();
    assert!(
        expected_sorted == actual,
        "
{}",
        diff("inputs", &expected_sorted, &actual)
    );
}

#[test]
fn readme_outputs_table_matches_action_yml() {
    let mut expected = action_outputs(&action());
    let readme = read("README.md");
    let mut actual: Vec<String> = table(&readme, "## Outputs")
        .iter()
        .map(|row| {
            code(&row[0])
                .unwrap_or_else(|| panic!("README.md outputs: {:?} is not `name`", row[0]))
                .to_string()
        })
        .collect();
    expected.sort();
    actual.sort();
    assert!(
        expected == actual,
        "
{}",
        diff("outputs", &expected, &actual)
    );
}

#[test]
fn action_yml_has_every_input_and_output_of_the_spec() {
    let action = action();
    let inputs = action_inputs(&action);
    let outputs = action_outputs(&action);
    let missing: Vec<&str> = SPEC_INPUTS
        .iter()
        .copied()
        .filter(|n| !inputs.contains_key(*n))
        .chain(
            SPEC_OUTPUTS
                .iter()
                .copied()
                .filter(|n| !outputs.iter().any(|o| o == n)),
        )
        .collect();
    assert!(
        missing.is_empty(),
        "action.yml lacks SPEC §2 names: {missing:?}"
    );
    let extra: Vec<&String> = inputs
        .keys()
        .filter(|n| !SPEC_INPUTS.contains(&n.as_str()))
        .collect();
    assert!(
        extra.is_empty(),
        "action.yml has inputs SPEC §2 does not name: {extra:?}"
    );

    // The settings SPEC §2 fixes beyond the names.
    assert_eq!(
        inputs["api_key"],
        Input {
            required: true,
            default: None
        }
    );
    assert_eq!(
        inputs["project_id"],
        Input {
            required: true,
            default: None
        }
    );
    let default = |name: &str| inputs[name].default.as_deref();
    assert_eq!(default("github_token"), Some("${{ github.token }}"));
    assert_eq!(
        default("api_host"),
        Some("https://console.neon.tech/api/v2")
    );
    assert_eq!(default("command"), Some("auto"));
    assert_eq!(default("dev_branch"), Some("dev"));
    assert_eq!(
        default("preview_branch_name"),
        Some("preview/pr-{pr}-{ref}")
    );
    assert_eq!(default("preview_ttl"), Some("7d"));
    assert_eq!(default("database"), Some("neondb"));
    assert_eq!(default("role"), Some("neondb_owner"));
    assert_eq!(default("ssl"), Some("require"));
    assert_eq!(default("rollback_snapshot_ttl"), Some("30d"));
    assert_eq!(default("candidate_snapshot_ttl"), Some("1d"));
    assert_eq!(default("keep_old_branch"), Some("false"));
    assert_eq!(default("comment"), Some("true"));
    assert_eq!(default("dry_run"), Some("false"));
    assert_eq!(default("timeout"), Some("10m"));
    for none in ["prod_branch", "promotion_branch", "snapshot_id"] {
        assert_eq!(
            default(none),
            None,
            "{none}: its default is decided at run time"
        );
    }

    // Inputs reach the container as INPUT_<NAME>: snake_case keeps those valid variable names.
    for name in inputs.keys() {
        assert!(
            name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "input {name} is not snake_case"
        );
    }
    assert!(
        action["branding"]["icon"].as_str().is_some()
            && action["branding"]["color"].as_str().is_some(),
        "action.yml: branding needs icon and color"
    );
}

/// create-branch-action v6.4's inputs and outputs (its `action.yml` at tag v6.4.0). A workflow
/// using any of them must work unchanged with `uses:` pointed at us.
/// create-branch-action v6.4's outputs, the two optional ones included.
fn cba_v6_4_outputs() -> impl Iterator<Item = &'static &'static str> {
    support::CBA_OUTPUTS
        .iter()
        .chain(support::CBA_OPTIONAL_OUTPUTS)
}

const CBA_V6_4_INPUTS: &[&str] = &[
    "api_key",
    "api_host",
    "branch_name",
    "project_id",
    "parent_branch",
    "prisma",
    "database",
    "role",
    "branch_type",
    "ssl",
    "suspend_timeout",
    "expires_at",
    "masking_rules",
    "get_auth_url",
    "get_data_api_url",
];

/// Every v6.4 name is in action.yml under the same name, and the README's migration table
/// maps it.
#[test]
fn every_create_branch_action_v6_4_name_is_ours_and_mapped() {
    let action = action();
    let inputs = action_inputs(&action);
    let outputs = action_outputs(&action);
    let missing: Vec<&str> = CBA_V6_4_INPUTS
        .iter()
        .filter(|n| !inputs.contains_key(**n))
        .chain(cba_v6_4_outputs().filter(|n| !outputs.iter().any(|o| o == *n)))
        .copied()
        .collect();
    assert!(
        missing.is_empty(),
        "action.yml lacks create-branch-action v6.4 names: {missing:?}"
    );
    let readme = read("README.md");
    let mapped: Vec<String> = table(
        &readme,
        "## Migrating from `neondatabase/create-branch-action`",
    )
    .iter()
    .flat_map(|row| {
        row[0]
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect::<Vec<_>>()
    })
    .collect();
    let unmapped: Vec<&str> = CBA_V6_4_INPUTS
        .iter()
        .chain(cba_v6_4_outputs())
        .filter(|n| !mapped.iter().any(|m| m == *n))
        .copied()
        .collect();
    assert!(
        unmapped.is_empty(),
        "README.md's migration table does not map create-branch-action v6.4 names: {unmapped:?}"
    );
}

/// When the shared SPEC.md sits beside the checkout (as on CI), every name in its §2 tables is
/// in action.yml too, so the list above cannot fall behind the spec.
#[test]
fn action_yml_matches_spec_md_when_present() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/SPEC.md");
    let Ok(spec) = std::fs::read_to_string(&spec) else {
        return;
    };
    let action = action();
    let inputs = action_inputs(&action);
    let outputs = action_outputs(&action);
    let names = |heading: &str| -> Vec<String> {
        let mut lines = spec.lines().skip_while(|l| !l.starts_with(heading));
        lines.next();
        lines
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .flat_map(|row| {
                let first = row.trim_start_matches('|').split('|').next().unwrap_or("");
                // Every `code` span of the first cell, less values such as `true`/`false`.
                first
                    .split('`')
                    .skip(1)
                    .step_by(2)
                    .filter(|n| !matches!(*n, "true" | "false"))
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    for name in names("### Inputs") {
        assert!(
            inputs.contains_key(&name),
            "SPEC.md input {name} is not in action.yml"
        );
    }
    for name in names("### Outputs") {
        assert!(
            outputs.contains(&name),
            "SPEC.md output {name} is not in action.yml"
        );
    }
}

#[test]
fn action_runs_a_prebuilt_image() {
    let action = action();
    assert_eq!(action["runs"]["using"].as_str(), Some("docker"));
    let image = action["runs"]["image"].as_str().expect("runs.image");
    // Never `Dockerfile`: that is rebuilt, uncached, in every job that uses the action.
    assert!(
        image.starts_with("docker://ghcr.io/"),
        "runs.image must be the published image, not {image:?}"
    );
    let pinned = image.contains("@sha256:")
        && image
            .split("@sha256:")
            .nth(1)
            .is_some_and(|d| d.len() == 64);
    let tagged = image
        .rsplit_once(':')
        .is_some_and(|(_, tag)| tag.starts_with('v'));
    assert!(
        pinned || tagged,
        "runs.image {image:?}: a digest, or on main the major tag the release pins"
    );
}

#[test]
fn dockerfile_is_one_static_binary_on_scratch_as_root() {
    let dockerfile = read("Dockerfile");
    let instructions: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let last_from = instructions
        .iter()
        .rev()
        .find(|l| l.starts_with("FROM "))
        .expect("Dockerfile has no FROM");
    assert_eq!(
        *last_from, "FROM scratch",
        "the final stage must be scratch"
    );
    assert!(
        !instructions.iter().any(|l| l.starts_with("USER ")),
        "GitHub runs container actions as root: the image must not set USER"
    );
    assert!(
        instructions.contains(&r#"ENTRYPOINT ["/neon-promote"]"#),
        "ENTRYPOINT must be the binary in exec form (PID 1 gets the runner's signals)"
    );
    for label in ["source", "description", "licenses"] {
        assert!(
            dockerfile.contains(&format!("org.opencontainers.image.{label}=")),
            "Dockerfile: no org.opencontainers.image.{label} label"
        );
    }
}

/// The README shows examples/lifecycle.yml whole, so the copy a user takes from either is the
/// one actionlint checked.
#[test]
fn readme_shows_the_lifecycle_example_verbatim() {
    let example = read("examples/lifecycle.yml");
    let readme = read("README.md");
    assert!(
        readme.contains(&format!("```yaml\n{example}```")),
        "README.md must contain examples/lifecycle.yml verbatim in a ```yaml block; copy it again"
    );
}

#[test]
fn lifecycle_example_does_what_the_spec_asks() {
    let example: Value =
        serde_yaml::from_str(&read("examples/lifecycle.yml")).expect("examples/lifecycle.yml");
    // serde_yaml reads YAML 1.2, where the key `on` stays a string (1.1 would make it `true`).
    let on = example.get("on").expect("on:");
    let types: Vec<&str> = on["pull_request"]["types"]
        .as_sequence()
        .expect("pull_request.types")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for t in [
        "opened",
        "reopened",
        "synchronize",
        "ready_for_review",
        "closed",
    ] {
        assert!(
            types.contains(&t),
            "pull_request types must list {t} (GitHub's defaults leave out closed and ready_for_review)"
        );
    }
    assert!(
        on["workflow_dispatch"]["inputs"]["snapshot_id"].is_mapping(),
        "rollback needs a workflow_dispatch input snapshot_id"
    );
    assert_eq!(example["permissions"]["contents"].as_str(), Some("read"));
    let jobs = &example["jobs"];
    for job in ["promote", "rollback"] {
        let j = &jobs[job];
        assert_eq!(
            j["environment"].as_str(),
            Some("production"),
            "{job}: environment"
        );
        assert_eq!(
            j["concurrency"]["group"].as_str(),
            Some("neon-production"),
            "{job}: concurrency group"
        );
        assert_eq!(
            j["concurrency"]["cancel-in-progress"].as_bool(),
            Some(false),
            "{job}: never cancel a promotion halfway"
        );
    }
    for job in ["preview", "promote", "rollback"] {
        assert_eq!(
            jobs[job]["permissions"]["pull-requests"].as_str(),
            Some("write"),
            "{job}: the comment"
        );
    }
}
