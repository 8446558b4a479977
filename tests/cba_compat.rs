//! create-branch-action 6.4's own documented usage through neon-promote: every `with:` block of
//! its README and every input its action.yml declares, run by the built binary (as the runner
//! runs a container action, with `command: preview` added) against the emulator, each giving
//! the outputs create-branch-action documents. Each side gets its own action.yml's defaults
//! for what a block leaves out, as the runner passes them.
//!
//! Where create-branch-action itself is at hand (its repository, `CBA_REPO`, by default the
//! mirror these machines keep, at tag `v6.4.0`) and node runs, its committed `dist/index.js`
//! runs on the same emulator with the same `INPUT_*` variables, and the two are compared side
//! by side on one branch: one creates it, the other reuses it, in both orders. Its README and
//! action.yml are then also held to the blocks below, so they cannot drift from what they
//! quote. Without node or the repository that part is skipped, saying why. Its code is read
//! from the repository at test time, never committed: it is MIT-licensed, but its bundle
//! carries third-party code, and NOTES.md keeps pinned references out of the tree.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use neon_emulator::state::{Features, Role};
use neon_emulator::{Emulator, Options, Seed};
use support::{
    API_KEY, Action, CBA_OPTIONAL_OUTPUTS as OPTIONAL_OUTPUTS, CBA_OUTPUTS as OUTPUTS, Run,
};

/// The tag whose README, action.yml and `dist/index.js` are compared.
const TAG: &str = "v6.4.0";
const MIRROR: &str = "/work/.mirror/neondatabase+create-branch-action/repo";
const EMAIL_RULE: &str = r#"[{"database_name":"neondb","schema_name":"public","table_name":"users","column_name":"email","masking_function":"anon.dummy_free_email()"}]"#;

/// One `with:` block, `project_id` and `api_key` left out (the harness gives the emulator's).
struct Block {
    what: &'static str,
    with: &'static [(&'static str, &'static str)],
}

/// The README's blocks, as written there; the example workflow's expressions evaluated as a
/// run would (`pr-${{ github.event.number }}-${{ needs.setup.outputs.branch }}` for PR 12 of
/// `feature-x`; `expires_at` is its `date -u --date '+14 days'`, filled in at run time).
const README: &[Block] = &[
    Block {
        what: "README: usage",
        with: &[
            ("branch_name", "actions_reusable"),
            ("role", "neondb_owner"),
        ],
    },
    Block {
        what: "README: parent branch",
        with: &[
            ("branch_name", "feature-branch-1"),
            ("role", "db_user"),
            ("parent_branch", "dev"),
        ],
    },
    Block {
        what: "README: example workflow",
        with: &[
            ("branch_name", "pr-12-feature-x"),
            ("expires_at", "+14 days"),
        ],
    },
    Block {
        what: "README: Data API",
        with: &[
            ("branch_name", "feature-branch"),
            ("get_data_api_url", "true"),
        ],
    },
];

/// action.yml's inputs that no README block uses, each in a block of its own kind.
const ACTION_YML: &[Block] = &[
    Block {
        what: "action.yml: prisma, ssl, suspend_timeout, database",
        with: &[
            ("branch_name", "feature-prisma"),
            ("prisma", "true"),
            ("ssl", "verify-full"),
            ("suspend_timeout", "300"),
            ("database", "neondb"),
        ],
    },
    Block {
        what: "action.yml: branch_type",
        with: &[
            ("branch_name", "feature-schema"),
            ("branch_type", "schema-only"),
            ("parent_branch", "dev"),
        ],
    },
    Block {
        what: "action.yml: masking_rules",
        with: &[
            ("branch_name", "feature-masked"),
            ("parent_branch", "dev"),
            ("masking_rules", EMAIL_RULE),
        ],
    },
    Block {
        what: "action.yml: get_auth_url, api_host",
        with: &[("branch_name", "feature-auth"), ("get_auth_url", "true")],
    },
];

/// create-branch-action 6.4's action.yml defaults, which the runner passes to it for every
/// input a block leaves out (`api_host` is the emulator's instead). Ours get our action.yml's.
const DEFAULTS: &[(&str, &str)] = &[
    ("prisma", "false"),
    ("database", "neondb"),
    ("role", "neondb_owner"),
    ("branch_type", "default"),
    ("ssl", "require"),
    ("suspend_timeout", "0"),
    ("expires_at", ""),
    ("get_auth_url", "false"),
    ("get_data_api_url", "false"),
];

fn blocks() -> impl Iterator<Item = &'static Block> {
    README.iter().chain(ACTION_YML)
}

/// A block's inputs, expressions filled in.
fn inputs(block: &Block) -> Vec<(String, String)> {
    block
        .with
        .iter()
        .map(|(k, v)| {
            let value = match *v {
                "+14 days" => (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(14 * 24))
                    .strftime("%Y-%m-%dT%H:%M:%SZ")
                    .to_string(),
                v => v.to_string(),
            };
            (k.to_string(), value)
        })
        .collect()
}

/// `defaults` for every input the block leaves out, then the block: what the runner passes.
fn with_defaults(block: &Block, defaults: &[(String, String)]) -> Vec<(String, String)> {
    let mut all: BTreeMap<String, String> = defaults.iter().cloned().collect();
    all.extend(inputs(block));
    all.into_iter().collect()
}

/// Our action.yml's defaults, as the runner passes them to the container (those that are
/// expressions, and the ones the harness sets, left out).
fn our_defaults() -> Vec<(String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml");
    let action: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    action["inputs"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter_map(|(name, spec)| {
            let name = name.as_str()?;
            let default = spec["default"].as_str()?;
            let harness = [
                "api_key",
                "project_id",
                "api_host",
                "github_token",
                "command",
            ];
            (!default.contains("${{") && !harness.contains(&name))
                .then(|| (name.to_string(), default.to_string()))
        })
        .collect()
}

/// The demo seed (production and dev), a second role for the README's `db_user`, and Neon
/// Auth and the Data API on, as the README's blocks assume.
async fn emulator() -> Emulator {
    let emu = Emulator::start(Options {
        seed: Seed::Demo,
        op_duration: Duration::from_millis(30),
        features: Features {
            neon_auth: true,
            data_api: true,
        },
        ..Options::default()
    })
    .await;
    emu.with_state(|s| {
        s.roles.push(Role {
            name: "db_user".into(),
            password: "npg_dbUserPassw0rd".into(),
        })
    });
    emu
}

async fn ours(emu: &Emulator, block: &Block) -> Run {
    let payload = support::webhook("workflow_dispatch", None);
    let mut action = Action::new("workflow_dispatch", payload).input("command", "preview");
    for (k, v) in with_defaults(block, &our_defaults()) {
        action = action.input(&k, &v);
    }
    let run = action.run(emu).await;
    for role in ["neondb_owner", "db_user"] {
        let password = emu.with_state(|s| s.role_password(role).map(str::to_string));
        run.assert_secret_hidden(&password.expect("seeded"));
    }
    run.assert_secret_hidden(API_KEY);
    run
}

/// Every output create-branch-action documents is there, with its meaning.
fn assert_documented_outputs(block: &Block, run: &Run, emu: &Emulator) {
    assert_eq!(run.status, 0, "{}: {}", block.what, run.log());
    for name in OUTPUTS {
        assert!(
            !run.output(name).is_empty(),
            "{}: output {name} is empty",
            block.what
        );
    }
    let input = |name: &str| block.with.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let role = input("role").unwrap_or("neondb_owner");
    let password = emu.with_state(|s| s.role_password(role).map(str::to_string));
    assert_eq!(
        Some(run.output("password")),
        password.as_deref(),
        "{}",
        block.what
    );
    assert!(
        run.output("db_url").starts_with(&format!(
            "postgresql://{role}:{}@{}/neondb?",
            run.output("password"),
            run.output("db_host")
        )),
        "{}: {}",
        block.what,
        run.output("db_url")
    );
    let id = run.output("branch_id");
    let name = emu.with_state(|s| s.branch(id).map(|b| b.name.clone()));
    assert_eq!(name.as_deref(), input("branch_name"), "{}", block.what);
    for (name, asked) in [
        ("auth_url", "get_auth_url"),
        ("data_api_url", "get_data_api_url"),
    ] {
        assert_eq!(
            run.outputs.contains_key(name),
            input(asked) == Some("true"),
            "{}: {name}",
            block.what
        );
    }
}

#[tokio::test]
async fn every_documented_block_runs_through_neon_promote() {
    let emu = emulator().await;
    for block in blocks() {
        let created = ours(&emu, block).await;
        assert_documented_outputs(block, &created, &emu);
        assert_eq!(created.output("created"), "true", "{}", block.what);
        let reused = ours(&emu, block).await;
        assert_documented_outputs(block, &reused, &emu);
        assert_eq!(reused.output("created"), "false", "{}", block.what);
        for name in OUTPUTS
            .iter()
            .chain(OPTIONAL_OUTPUTS)
            .filter(|n| **n != "created")
        {
            assert_eq!(
                created.outputs.get(*name),
                reused.outputs.get(*name),
                "{}: {name}",
                block.what
            );
        }
    }
}

/// create-branch-action's repository at [`TAG`], or why it cannot be used.
fn cba_repo() -> Result<PathBuf, String> {
    let repo = std::env::var_os("CBA_REPO").map_or_else(|| PathBuf::from(MIRROR), PathBuf::from);
    git_show(&repo, "action.yml")
        .map(|_| repo.clone())
        .map_err(|e| {
            format!(
                "no create-branch-action repository at {} ({e}); set CBA_REPO",
                repo.display()
            )
        })
}

fn git_show(repo: &std::path::Path, path: &str) -> Result<String, String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["show", &format!("{TAG}:{path}")])
        .output()
        .map_err(|e| format!("git: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}

/// The README's and action.yml's text still say what the blocks above quote.
#[test]
fn the_blocks_quote_create_branch_actions_readme_and_action_yml() {
    let repo = match cba_repo() {
        Ok(repo) => repo,
        Err(why) => return eprintln!("skipped: {why}"),
    };
    let action: serde_yaml::Value =
        serde_yaml::from_str(&git_show(&repo, "action.yml").unwrap()).unwrap();
    let declared = action["inputs"].as_mapping().unwrap();
    for (name, spec) in declared {
        let name = name.as_str().unwrap();
        if let Some(default) = spec["default"].as_str().filter(|_| name != "api_host") {
            assert!(
                DEFAULTS.contains(&(name, default)),
                "action.yml default of {name}: {default:?}"
            );
        }
        let used = ["api_key", "project_id", "api_host"].contains(&name)
            || blocks().any(|b| b.with.iter().any(|(k, _)| *k == name));
        assert!(used, "no block gives action.yml input {name}");
    }
    let declared_outputs: Vec<&str> = action["outputs"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    let ours: Vec<&str> = OUTPUTS.iter().chain(OPTIONAL_OUTPUTS).copied().collect();
    assert_eq!(declared_outputs, ours);

    // Each README block: the same keys, and the same value where the README gives a literal.
    let readme = git_show(&repo, "README.md").unwrap();
    let quoted = readme_blocks(&readme);
    assert_eq!(quoted.len(), README.len(), "{quoted:#?}");
    for (block, with) in README.iter().zip(&quoted) {
        let keys: Vec<&str> = with
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !["project_id", "api_key"].contains(k))
            .collect();
        let ours: Vec<&str> = block.with.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ours, "{}", block.what);
        for (k, v) in with {
            if let Some((_, mine)) = block.with.iter().find(|(key, _)| key == k)
                && !v.contains("${{")
            {
                assert_eq!(v, mine, "{}: {k}", block.what);
            }
        }
    }
}

/// `(key, value)` of every `with:` of a step using the action, in the README's YAML blocks;
/// a value continued on the next line is joined to it.
fn readme_blocks(readme: &str) -> Vec<Vec<(String, String)>> {
    let mut blocks = Vec::new();
    for fence in readme.split("```").skip(1).step_by(2) {
        if !fence.contains("create-branch-action@v6") {
            continue;
        }
        let lines: Vec<&str> = fence.lines().collect();
        let Some(at) = lines.iter().position(|l| l.trim() == "with:") else {
            continue;
        };
        let indent = |l: &str| l.len() - l.trim_start().len();
        let outer = indent(lines[at]);
        let mut with: Vec<(String, String)> = Vec::new();
        for line in lines[at + 1..]
            .iter()
            .take_while(|l| indent(l) > outer && !l.trim().is_empty())
        {
            let text = line.split(" #").next().unwrap().trim();
            match text
                .split_once(':')
                .filter(|(k, _)| !k.contains(' ') && !k.contains('$'))
            {
                Some((k, v)) => with.push((k.to_string(), v.trim().to_string())),
                None => with.last_mut().expect("a key first").1.push_str(text),
            }
        }
        blocks.push(with);
    }
    blocks
}

/// create-branch-action's `dist/index.js` at [`TAG`], runnable with node, or why not.
fn cba_script(dir: &std::path::Path) -> Result<PathBuf, String> {
    let repo = cba_repo()?;
    let version = std::process::Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| format!("node does not run ({e})"))?;
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 20 {
        return Err(format!(
            "node {version} is older than the node20 the action runs on"
        ));
    }
    // An ES module bundle (its package.json says `"type": "module"`): `.mjs` tells node so.
    let script = dir.join("create-branch-action.mjs");
    std::fs::write(&script, git_show(&repo, "dist/index.js")?).map_err(|e| e.to_string())?;
    Ok(script)
}

/// One run of create-branch-action: its exit status, outputs and log.
struct Cba {
    status: i32,
    outputs: HashMap<String, String>,
    log: String,
}

/// Runs create-branch-action as the runner runs a node action: every input as `INPUT_*`.
async fn theirs(emu: &Emulator, script: &std::path::Path, block: &Block) -> Cba {
    let dir = tempfile::tempdir().unwrap();
    let (output, event) = (dir.path().join("output"), dir.path().join("event.json"));
    std::fs::write(&output, "").unwrap();
    std::fs::write(
        &event,
        support::webhook("workflow_dispatch", None).to_string(),
    )
    .unwrap();
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(script)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_EVENT_NAME", "workflow_dispatch")
        .env("GITHUB_EVENT_PATH", &event)
        .env("GITHUB_REPOSITORY", "octo-org/octo-repo")
        .env("INPUT_API_KEY", API_KEY)
        .env("INPUT_PROJECT_ID", emu.project_id())
        .env("INPUT_API_HOST", emu.neon_api());
    let defaults: Vec<(String, String)> = DEFAULTS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in with_defaults(block, &defaults) {
        cmd.env(format!("INPUT_{}", k.to_uppercase()), v);
    }
    let out = cmd.output().await.expect("run node");
    Cba {
        status: out.status.code().unwrap_or(-1),
        outputs: support::parse_outputs(&std::fs::read_to_string(&output).unwrap()),
        log: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// What differs between the two on one branch, by design; anything else must be equal.
fn expected_difference(block: &Block, first_is_ours: bool) -> Option<&'static str> {
    let masked = block.with.iter().any(|(k, _)| *k == "masking_rules");
    match (masked, first_is_ours) {
        // create-branch-action refuses to reuse a branch when given masking rules.
        (true, true) => Some("Cannot apply masking rules to an existing branch"),
        _ => None,
    }
}

#[tokio::test]
async fn create_branch_action_and_neon_promote_agree_on_one_branch() {
    let dir = tempfile::tempdir().unwrap();
    let script = match cba_script(dir.path()) {
        Ok(script) => script,
        Err(why) => return eprintln!("skipped: {why}"),
    };
    let mut table = Vec::new();
    for first_is_ours in [false, true] {
        let emu = emulator().await;
        for block in blocks() {
            let (mine, cba) = if first_is_ours {
                let mine = ours(&emu, block).await;
                (mine, theirs(&emu, &script, block).await)
            } else {
                let cba = theirs(&emu, &script, block).await;
                (ours(&emu, block).await, cba)
            };
            assert_eq!(mine.status, 0, "{}: {}", block.what, mine.log());
            let order = if first_is_ours {
                "ours, then theirs"
            } else {
                "theirs, then ours"
            };
            if let Some(refusal) = expected_difference(block, first_is_ours) {
                assert_eq!(cba.status, 1, "{}: {}", block.what, cba.log);
                assert!(cba.log.contains(refusal), "{}: {}", block.what, cba.log);
                table.push(format!(
                    "{} ({order}): they refuse to reuse, we reuse",
                    block.what
                ));
                continue;
            }
            assert_eq!(cba.status, 0, "{} ({order}): {}", block.what, cba.log);
            let (created, reused) = if first_is_ours {
                (&mine.outputs, &cba.outputs)
            } else {
                (&cba.outputs, &mine.outputs)
            };
            assert_eq!(
                created.get("created").map(String::as_str),
                Some("true"),
                "{}",
                block.what
            );
            assert_eq!(
                reused.get("created").map(String::as_str),
                Some("false"),
                "{}",
                block.what
            );
            for name in OUTPUTS
                .iter()
                .chain(OPTIONAL_OUTPUTS)
                .filter(|n| **n != "created")
            {
                assert_eq!(
                    mine.outputs.get(*name),
                    cba.outputs.get(*name),
                    "{} ({order}): output {name}",
                    block.what
                );
            }
            let parent = emu.with_state(|s| {
                let b = s.branch(&mine.outputs["branch_id"]).unwrap();
                b.parent_id
                    .as_deref()
                    .and_then(|p| s.branch(p))
                    .map_or("none (a root)".to_string(), |p| p.name.clone())
            });
            table.push(format!(
                "{} ({order}): same outputs; parent {parent}",
                block.what
            ));
        }
    }
    eprintln!(
        "create-branch-action {TAG} and neon-promote, side by side:\n  {}",
        table.join("\n  ")
    );
}
