//! `neon-emulator serve [--port N] [--latency-ms N] [--op-ms N] [--snapshot-quota N]
//! [--seed empty|demo|nothing] [--project-id ID] [--api-key KEY] [--rate-limit] …` (see
//! `USAGE`): the emulator as a process, for benchmarks, neonctl and the container smoke test.
//! Switches name `Options` fields: behaviour variants (`--restore-rename-when-finished`,
//! `--failed-restore-renamed`, `--per-branch-locks`, `--list-lag`, `--ignore-snapshot-slug`)
//! and features (`--neon-auth`, `--data-api`).

use std::time::Duration;

use neon_emulator::state::{FailedRestore, LockScope, RestoreRename, SnapshotSlug};
use neon_emulator::{Emulator, Options, Seed};

const USAGE: &str = "usage: neon-emulator serve [--port N] [--latency-ms N] [--op-ms N] [--snapshot-quota N] [--root-branch-quota N] [--seed empty|demo|nothing] [--project-id ID] [--api-key KEY] [--rate-limit] [--branches N [--branch-prefix P]] [--start-time RFC3339] [--restore-rename-when-finished] [--failed-restore-renamed] [--per-branch-locks] [--list-lag] [--ignore-snapshot-slug] [--neon-auth] [--data-api]";

/// A switch without a value: sets one field of the options.
fn switch(opts: &mut Options, name: &str) -> bool {
    let v = &mut opts.variants;
    match name {
        "--rate-limit" => opts.rate_limit = true,
        "--restore-rename-when-finished" => v.restore_rename = RestoreRename::WhenFinished,
        "--failed-restore-renamed" => v.failed_restore = FailedRestore::Renamed,
        "--per-branch-locks" => v.lock_scope = LockScope::PerBranch,
        "--list-lag" => v.list_lag = true,
        "--ignore-snapshot-slug" => v.snapshot_slug = SnapshotSlug::Ignored,
        "--neon-auth" => opts.features.neon_auth = true,
        "--data-api" => opts.features.data_api = true,
        _ => return false,
    }
    true
}

/// Options, plus how many extra branches to seed and their name prefix.
fn parse(args: &[String]) -> Result<(Options, (usize, String)), String> {
    let mut opts = Options::default();
    let mut extra = (0usize, String::from("dev_feature_"));
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("serve") => {}
        Some("-h" | "--help") | None => return Err(USAGE.to_string()),
        Some(other) => return Err(format!("unknown command {other:?}\n{USAGE}")),
    }
    while let Some(flag) = it.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (flag.as_str(), None),
        };
        if name == "-h" || name == "--help" {
            return Err(USAGE.to_string());
        }
        if switch(&mut opts, name) {
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))?,
        };
        let num = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{name}: not a number: {v:?}"))
        };
        match name {
            "--port" => {
                opts.port = num(&value)?
                    .try_into()
                    .map_err(|_| format!("{name}: out of range"))?
            }
            "--latency-ms" => opts.latency = Duration::from_millis(num(&value)?),
            "--op-ms" => opts.op_duration = Duration::from_millis(num(&value)?),
            "--snapshot-quota" => opts.snapshot_quota = num(&value)? as usize,
            "--root-branch-quota" => opts.root_branch_quota = num(&value)? as usize,
            "--project-id" => opts.project_id = value,
            "--api-key" => opts.api_key = Some(value),
            "--branches" => extra.0 = num(&value)? as usize,
            "--branch-prefix" => extra.1 = value,
            "--start-time" => {
                opts.start_time = Some(
                    value
                        .parse()
                        .map_err(|e| format!("{name}: not an RFC 3339 time: {e}"))?,
                )
            }
            "--seed" => {
                opts.seed = match value.as_str() {
                    "empty" => Seed::Empty,
                    "demo" => Seed::Demo,
                    "nothing" => Seed::Nothing,
                    _ => {
                        return Err(format!(
                            "--seed: expected empty, demo or nothing, got {value:?}"
                        ));
                    }
                }
            }
            _ => return Err(format!("unknown option {name}\n{USAGE}")),
        }
    }
    Ok((opts, extra))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (opts, (extra, prefix)) = match parse(&args) {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let emulator = match Emulator::try_start(opts).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("neon-emulator: cannot listen: {e}");
            std::process::exit(1);
        }
    };
    if extra > 0 {
        emulator.with_state(|s| {
            let parent = s
                .find_branch("dev")
                .or_else(|| s.default_branch())
                .map(|b| b.id.clone());
            if let Some(parent) = parent {
                s.insert_many_branches(&prefix, extra, &parent);
            }
        });
    }
    println!("listening on {}", emulator.url());
    println!(
        "neon api: {}  github api: {}  project: {}",
        emulator.neon_api(),
        emulator.github_api(),
        emulator.project_id()
    );
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_and_values_set_options() {
        let args: Vec<String> =
            "serve --list-lag --neon-auth --start-time 2026-01-01T00:00:00Z --op-ms 5"
                .split(' ')
                .map(str::to_string)
                .collect();
        let (opts, _) = parse(&args).unwrap();
        assert!(opts.variants.list_lag && opts.features.neon_auth);
        assert_eq!(
            opts.start_time,
            Some("2026-01-01T00:00:00Z".parse().unwrap())
        );
        assert_eq!(opts.op_duration, Duration::from_millis(5));
        assert!(parse(&["serve".into(), "--start-time".into(), "soon".into()]).is_err());
    }
}
