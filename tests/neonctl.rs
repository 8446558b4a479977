//! Fidelity: Neon's own CLI, `neonctl` 5.0.1 from npm, pointed at the emulator with
//! `--api-host`. A real client that was written against the real API lists, creates and
//! deletes branches, and creates, lists, restores and deletes snapshots; its JSON output and
//! the emulator's state must agree, and every request it sends must find a route (a 404 or
//! 405 on a happy path means the emulator lacks a route the real API has).
//!
//! neonctl comes from `NEONCTL` (a path), else `neonctl` on `PATH` (`.ci/run` installs it
//! globally), else `<repo>/.cache/npm` (installed there on first use). Without it the test is
//! skipped locally but fails under `CI=true`. It runs with a throwaway `HOME` and config dir,
//! `--no-analytics`, and a preload that refuses any connection other than to loopback, so it
//! can neither write to the real home nor reach the network.

#[path = "support/npm.rs"]
#[allow(dead_code)]
mod npm;
#[path = "support/spec.rs"]
mod spec;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use neon_emulator::{Emulator, Fault, LoggedRequest, Options};
use serde_json::Value;

const VERSION: &str = "5.0.1";
const KEY: &str = "napi_neonctl_test";

/// Refuses (and records) any socket that is not to loopback: analytics, OAuth, update checks.
const NO_NETWORK: &str = r#"
const net = require('net');
const fs = require('fs');
const loopback = new Set(['127.0.0.1', 'localhost', '::1', undefined]);
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  let opts = Array.isArray(args[0]) ? args[0][0] : args[0];
  const host = opts && typeof opts === 'object' ? opts.host : typeof args[1] === 'string' ? args[1] : undefined;
  const ipc = opts && typeof opts === 'object' && opts.path;
  if (!ipc && !loopback.has(host)) {
    fs.appendFileSync(process.env.NEONCTL_NETWORK_LOG, String(host) + '\n');
    throw new Error('neonctl test: network access outside the emulator: ' + host);
  }
  return connect.apply(this, args);
};
"#;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn version_of(bin: &Path) -> Option<String> {
    let out = Command::new(bin)
        .arg("--version")
        .env("HOME", std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// neonctl at the pinned version, or why there is none.
fn find_neonctl() -> Result<PathBuf, String> {
    let local = repo().join(".cache/npm/node_modules/.bin/neonctl");
    let mut seen = Vec::new();
    let candidates = [
        std::env::var_os("NEONCTL").map(PathBuf::from),
        on_path("neonctl"),
        Some(local.clone()),
    ];
    for bin in candidates.into_iter().flatten() {
        match version_of(&bin) {
            Some(v) if v == VERSION => return Ok(bin),
            v => seen.push(format!("{} ({v:?})", bin.display())),
        }
    }
    // Not installed yet: put the pinned version into .cache/npm (gitignored).
    let installed = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
        .arg(repo().join(".cache/npm"))
        .arg(format!("neonctl@{VERSION}"))
        .stdin(Stdio::null())
        .output();
    if version_of(&local).as_deref() == Some(VERSION) {
        return Ok(local);
    }
    let why = match installed {
        Ok(out) => String::from_utf8_lossy(&out.stderr).into_owned(),
        Err(e) => e.to_string(),
    };
    Err(format!(
        "neonctl {VERSION} not found (tried {}) and `npm install --prefix .cache/npm \
         neonctl@{VERSION}` failed: {why}",
        seen.join(", ")
    ))
}

/// The binary, or `None` to skip (never under `CI=true`). Looked up (and installed) once per
/// test binary: parallel `npm install`s into one prefix would trip over each other.
fn neonctl() -> Option<PathBuf> {
    static FOUND: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    match FOUND.get_or_init(find_neonctl) {
        Ok(bin) => Some(bin.clone()),
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("{why}"),
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            None
        }
    }
}

/// One neonctl installation pointed at one emulator, with its own throwaway home.
struct Cli<'a> {
    bin: PathBuf,
    emu: &'a Emulator,
    home: tempfile::TempDir,
}

/// What one command did: exit status, output, and the requests the emulator saw.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
    requests: Vec<LoggedRequest>,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("neonctl output is not JSON ({e}):\n{}", self.stdout))
    }
}

impl<'a> Cli<'a> {
    fn new(bin: PathBuf, emu: &'a Emulator) -> Self {
        let home = tempfile::tempdir().expect("temp home");
        std::fs::write(home.path().join("no-network.cjs"), NO_NETWORK).unwrap();
        Cli { bin, emu, home }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.emu.clear_requests();
        let home = self.home.path();
        let network_log = home.join("network.log");
        let out = Command::new(&self.bin)
            .args(args)
            .args(["--api-host", &self.emu.neon_api()])
            .args(["--api-key", KEY, "--project-id", &self.emu.project_id()])
            .args(["--output", "json", "--no-analytics", "--no-color"])
            .arg("--config-dir")
            .arg(home.join("config"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("xdg"))
            .env("CI", "true") // never prompt
            .env("NO_COLOR", "1")
            .env(
                "NODE_OPTIONS",
                format!("--require={}", home.join("no-network.cjs").display()),
            )
            .env("NEONCTL_NETWORK_LOG", &network_log)
            .current_dir(home)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        let reached = std::fs::read_to_string(&network_log).unwrap_or_default();
        assert!(
            reached.is_empty(),
            "neonctl {args:?} tried the network: {reached}"
        );
        Run {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            requests: self.emu.requests(),
        }
    }

    /// Runs a command that must succeed with every request answered by a route the emulator
    /// has, and every request conforming to the spec; returns its JSON output.
    fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        let listing = describe(&run.requests);
        assert!(
            run.ok,
            "neonctl {args:?} failed:\n{}\nrequests:\n{listing}",
            run.stderr
        );
        assert!(
            run.requests.iter().all(|r| (200..300).contains(&r.status)),
            "neonctl {args:?}: the emulator refused a request (a missing route?):\n{listing}"
        );
        // neonctl is a real client: if the validator objects to it, the validator is wrong.
        spec::pinned().assert_requests_conform(&run.requests);
        run
    }

    /// [`Cli::ok`] for a command that prints JSON.
    fn json(&self, args: &[&str]) -> (Value, Vec<LoggedRequest>) {
        let run = self.ok(args);
        (run.json(), run.requests)
    }
}

/// `METHOD path?query body → status`, one a line: what to send the emulator's author.
fn describe(requests: &[LoggedRequest]) -> String {
    requests
        .iter()
        .map(|r| {
            let body = r.body.as_ref().map(Value::to_string).unwrap_or_default();
            format!(
                "  {} {}?{} {body} → {}",
                r.method, r.path, r.query, r.status
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ids(list: &Value) -> Vec<String> {
    let mut ids: Vec<String> = list
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// A time two days ahead, seconds precision, as a user would type it.
fn in_two_days() -> jiff::Timestamp {
    (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48))
        .round(jiff::Unit::Second)
        .unwrap()
}

#[test]
fn neonctl_manages_branches_and_snapshots_on_the_emulator() {
    let Some(bin) = neonctl() else { return };
    let emu = Emulator::start_background(Options::default());
    let cli = Cli::new(bin, &emu);
    let prod = emu.with_state(|s| s.default_branch().unwrap().id.clone());

    // List: the same branches as the emulator holds.
    let (list, _) = cli.json(&["branches", "list"]);
    let held: Vec<String> = emu.with_state(|s| {
        let mut v: Vec<String> = s.branches.keys().cloned().collect();
        v.sort();
        v
    });
    assert_eq!(ids(&list), held);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|b| b["id"] == prod && b["default"] == true)
    );

    // Create a child with a compute and an expiry; neonctl sends the expiry with milliseconds.
    let expires = in_two_days();
    let (created, reqs) = cli.json(&[
        "branches",
        "create",
        "--name",
        "preview/pr-7",
        "--parent",
        "production",
        "--expires-at",
        &expires.to_string(),
    ]);
    let post = reqs.iter().find(|r| r.method == "POST").expect("a POST");
    let sent = post.body.as_ref().unwrap()["branch"]["expires_at"].clone();
    assert!(
        sent.as_str().is_some_and(|s| s.ends_with(".000Z")),
        "neonctl sent expires_at {sent}"
    );
    let branch = &created["branch"];
    assert_eq!(branch["name"], "preview/pr-7");
    assert_eq!(branch["parent_id"], prod.as_str());
    assert_eq!(created["endpoints"][0]["type"], "read_write");
    let preview = branch["id"].as_str().unwrap().to_string();
    let (parent, at) = emu.with_state(|s| {
        let b = s
            .branch(&preview)
            .expect("the emulator holds the new branch");
        (b.parent_id.clone(), b.expires_at)
    });
    assert_eq!(parent.as_deref(), Some(prod.as_str()));
    assert_eq!(at, Some(expires));

    // The name is taken now: neonctl reports the API's 409 message.
    let again = cli.run(&["branches", "create", "--name", "preview/pr-7"]);
    assert!(!again.ok, "a second branch with the same name was accepted");
    assert!(
        again.requests.iter().any(|r| r.status == 409),
        "{}",
        describe(&again.requests)
    );
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);

    // A branch without a compute, then one added (`POST /endpoints`).
    // neonctl prints the bare branch when there is no endpoint to show.
    let (bare, reqs) = cli.json(&["branches", "create", "--name", "bare", "--no-compute"]);
    let sent = reqs
        .iter()
        .find(|r| r.method == "POST")
        .and_then(|r| r.body.clone());
    assert_eq!(sent.unwrap()["endpoints"], serde_json::json!([]));
    assert_eq!(bare["name"], "bare", "{bare}");
    let bare_id = bare["id"].as_str().unwrap().to_string();
    assert!(emu.with_state(|s| s.endpoints_of(&bare_id).is_empty()));
    // neonctl's add-compute defaults to read_only; ours is a read-write compute.
    let (added, reqs) = cli.json(&["branches", "add-compute", "bare", "--type", "read_write"]);
    assert!(
        reqs.iter()
            .any(|r| r.method == "POST" && r.path.ends_with("/endpoints"))
    );
    let kinds = emu.with_state(|s| {
        s.endpoints_of(&bare_id)
            .iter()
            .map(|e| (e.id.clone(), e.kind))
            .collect::<Vec<_>>()
    });
    assert_eq!(kinds.len(), 1);
    assert_eq!(kinds[0].1, neon_emulator::state::EndpointType::ReadWrite);
    assert_eq!(added["id"], kinds[0].0.as_str(), "{added}");

    // Snapshot prod: name and expiry go in the query, no body.
    let (snap, reqs) = cli.json(&[
        "snapshots",
        "create",
        "--branch",
        "production",
        "--name",
        "pre-promote",
        "--expires-at",
        &expires.to_string(),
    ]);
    let post = reqs.iter().find(|r| r.method == "POST").expect("a POST");
    assert_eq!(post.query_param("name").as_deref(), Some("pre-promote"));
    assert!(
        post.query_param("expires_at").is_some(),
        "{}",
        describe(&reqs)
    );
    assert_eq!(snap["name"], "pre-promote");
    assert_eq!(snap["source_branch_id"], prod.as_str());
    let snap_id = snap["id"].as_str().unwrap().to_string();
    let held = emu.with_state(|s| {
        s.snapshot(&snap_id)
            .map(|x| (x.source_branch_id.clone(), x.expires_at))
    });
    assert_eq!(held, Some((prod.clone(), Some(expires))));

    // Only root branches can be snapshotted.
    let child = cli.run(&["snapshots", "create", "--branch", "preview/pr-7"]);
    assert!(!child.ok, "a snapshot of a child branch was accepted");

    let (snaps, _) = cli.json(&["snapshots", "list"]);
    assert_eq!(ids(&snaps), vec![snap_id.clone()]);

    // Restore onto prod and finalize: same name, new id, the old one renamed `(old)`.
    let (restored, _) = cli.json(&[
        "snapshots",
        "restore",
        &snap_id,
        "--target-branch",
        "production",
        "--finalize",
    ]);
    let new_prod = restored["restored_branch"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no restored_branch in {restored}"))
        .to_string();
    assert_eq!(restored["restored_branch"]["name"], "production");
    assert_ne!(new_prod, prod);
    emu.with_state(|s| {
        let b = s.branch(&new_prod).unwrap();
        assert_eq!(b.name, "production");
        assert_eq!(b.restored_from.as_deref(), Some(snap_id.as_str()));
        assert_eq!(s.branch(&prod).unwrap().name, "production (old)");
        // The spec: `restored_as` is "the target branch which was replaced".
        assert_eq!(b.restored_as.as_deref(), Some(prod.as_str()));
    });
    // neonctl builds the URI itself from endpoint, role, password and database routes.
    let uri = cli.ok(&["connection-string", "production"]).stdout;
    let host = emu.with_state(|s| s.endpoints_of(&new_prod)[0].host.clone());
    assert!(
        uri.starts_with("postgresql://") && uri.contains(&host),
        "{uri}"
    );

    // Delete the preview branch and the snapshot.
    let (deleted, _) = cli.json(&["branches", "delete", "preview/pr-7"]);
    assert_eq!(deleted["id"], preview.as_str());
    assert!(emu.with_state(|s| s.branch(&preview).is_none()));
    cli.json(&["snapshots", "delete", &snap_id]);
    assert!(emu.with_state(|s| s.snapshot(&snap_id).is_none()));
}

/// The emulator's 423 is the real API's: neonctl recognises it and retries (after 3 s).
#[test]
fn neonctl_retries_the_emulators_423() {
    let Some(bin) = neonctl() else { return };
    let emu = Emulator::start_background(Options::default());
    let cli = Cli::new(bin, &emu);
    emu.inject(Fault::status("POST", "/snapshot", 423, 1));
    let (snap, reqs) = {
        let run = cli.run(&[
            "snapshots",
            "create",
            "--branch",
            "production",
            "--name",
            "s",
        ]);
        assert!(run.ok, "{}\n{}", run.stderr, describe(&run.requests));
        (run.json(), run.requests)
    };
    let posts: Vec<u16> = reqs
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.status)
        .collect();
    assert_eq!(posts, vec![423, 200]);
    assert_eq!(snap["name"], "s");
}

/// neonctl resolves a name by walking `pagination.next` (limit 100) until a page is empty or
/// has no cursor: the emulator's cursors must carry it to a name on the last page.
#[test]
fn neonctl_finds_a_branch_on_a_later_page() {
    let Some(bin) = neonctl() else { return };
    let emu = Emulator::start_background(Options::default());
    let cli = Cli::new(bin, &emu);
    let prod = emu.with_state(|s| s.default_branch().unwrap().id.clone());
    // The oldest sorts last (updated_at, newest first): `dev_feature_0` is on page three.
    emu.with_state(|s| s.insert_many_branches("dev_feature_", 250, &prod));
    let (got, reqs) = cli.json(&["branches", "get", "dev_feature_0"]);
    assert_eq!(got["name"], "dev_feature_0");
    let pages: Vec<&LoggedRequest> = reqs
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/branches"))
        .collect();
    assert!(pages.len() >= 3, "{}", describe(&reqs));
    assert!(
        pages
            .iter()
            .skip(1)
            .all(|r| r.query_param("cursor").is_some())
    );
    let id = got["id"].as_str().unwrap().to_string();
    let (deleted, _) = cli.json(&["branches", "delete", "dev_feature_0"]);
    assert_eq!(deleted["id"], id.as_str());
    assert!(emu.with_state(|s| s.branch(&id).is_none()));
}

/// A restore left for preview, then finalized by its own route, names the replaced branch as
/// asked: the two-step form of what a promotion does in one call.
#[test]
fn neonctl_restores_for_preview_then_finalizes() {
    let Some(bin) = neonctl() else { return };
    let emu = Emulator::start_background(Options::default());
    let cli = Cli::new(bin, &emu);
    let prod = emu.with_state(|s| s.default_branch().unwrap().id.clone());
    let (snap, _) = cli.json(&[
        "snapshots",
        "create",
        "--branch",
        "production",
        "--name",
        "s1",
    ]);
    let snap_id = snap["id"].as_str().unwrap().to_string();
    let (restored, _) = cli.json(&["snapshots", "restore", &snap_id, "--name", "staged"]);
    let staged = &restored["restored_branch"];
    assert_eq!(staged["name"], "staged", "{restored}");
    assert_eq!(staged["restore_status"], "restored", "{restored}");
    let staged_id = staged["id"].as_str().unwrap().to_string();
    assert_eq!(
        emu.with_state(|s| s.default_branch().unwrap().id.clone()),
        prod
    );
    cli.ok(&[
        "snapshots",
        "finalize",
        "staged",
        "--name",
        "production (previous)",
    ]);
    emu.with_state(|s| {
        let new = s.branch(&staged_id).unwrap();
        assert_eq!((new.name.as_str(), new.default), ("production", true));
        assert_eq!(s.branch(&prod).unwrap().name, "production (previous)");
    });
    let (list, _) = cli.json(&["branches", "list"]);
    let default: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["default"] == true)
        .collect();
    assert_eq!(default.len(), 1);
    assert_eq!(default[0]["id"], staged_id.as_str());
}
