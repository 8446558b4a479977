//! Unit tests of `Config::from_raw`.

use super::*;

fn now() -> Timestamp {
    "2026-11-23T10:00:00Z".parse().unwrap()
}

fn raw(pairs: &[(&str, &str)]) -> RawInputs {
    let map: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    envy::from_iter(map).unwrap()
}

fn errors(pairs: &[(&str, &str)]) -> Vec<String> {
    Config::from_raw_at(raw(pairs), Mode::Action, now())
        .unwrap_err()
        .into_iter()
        .map(|e| e.message)
        .collect()
}

#[test]
fn empty_values_take_the_defaults() {
    let c = Config::from_raw_at(
        raw(&[
            ("api_key", "k"),
            ("project_id", "p-1"),
            ("dev_branch", "  "),
            ("ssl", ""),
        ]),
        Mode::Action,
        now(),
    )
    .unwrap();
    assert_eq!(c.dev_branch, "dev");
    assert_eq!(c.ssl, SslMode::Require);
    assert_eq!(c.api_host, "https://console.neon.tech/api/v2");
    assert_eq!(c.preview_branch_name, "preview/pr-{pr}-{ref}");
    assert_eq!(c.preview_ttl, Expiry::After(Duration::from_secs(7 * 86400)));
    assert_eq!(c.timeout, Duration::from_secs(600));
    assert_eq!(c.command, None);
    assert!(c.comment && !c.dry_run && !c.keep_old_branch);
}

#[test]
fn values_are_trimmed_and_booleans_take_any_case() {
    let c = Config::from_raw_at(
        raw(&[
            ("dry_run", " TRUE "),
            ("comment", "False"),
            ("api_host", "http://127.0.0.1:9/api/v2/"),
            ("command", "refresh_dev"),
        ]),
        Mode::Action,
        now(),
    )
    .unwrap();
    assert!(c.dry_run && !c.comment);
    assert_eq!(c.api_host, "http://127.0.0.1:9/api/v2");
    assert_eq!(c.command, Some(CommandName::RefreshDev));
}

#[test]
fn each_invalid_input_is_named_with_what_it_accepts() {
    let errs = errors(&[
        ("preview_ttl", "45d"),
        ("ssl", "prefer"),
        ("dry_run", "yes"),
        ("api_host", "console.neon.tech"),
        ("command", "deploy"),
        ("project_id", "My Project"),
        ("timeout", "soon"),
    ]);
    let inputs: Vec<&str> = errs
        .iter()
        .map(|e| e.split(':').next().unwrap().trim_matches('`'))
        .collect();
    assert_eq!(
        inputs,
        [
            "project_id",
            "api_host",
            "command",
            "preview_ttl",
            "ssl",
            "dry_run",
            "timeout"
        ]
    );
    assert!(errs[3].contains("more than 30 days"), "{}", errs[3]);
    assert!(errs[4].contains("verify-full"), "{}", errs[4]);
}

#[test]
fn preview_ttl_accepts_durations_times_and_none_up_to_30_days() {
    let ttl = |v: &str| {
        Config::from_raw_at(raw(&[("preview_ttl", v)]), Mode::Action, now()).map(|c| c.preview_ttl)
    };
    assert_eq!(
        ttl("30m").unwrap(),
        Expiry::After(Duration::from_secs(1800))
    );
    assert_eq!(ttl("30d").unwrap(), Expiry::After(values::MAX_PREVIEW_TTL));
    assert_eq!(ttl("none").unwrap(), Expiry::Never);
    assert!(ttl("2026-12-01T00:00:00Z").is_ok());
    assert!(ttl("31d").is_err());
    assert!(ttl("2027-01-01T00:00:00Z").is_err());
    assert!(ttl("2026-11-01T00:00:00Z").is_err());
}

#[test]
fn a_template_without_placeholders_is_refused() {
    assert!(errors(&[("preview_branch_name", "preview")])[0].starts_with("`preview_branch_name:`"));
}

#[test]
fn a_ttl_past_what_a_timestamp_holds_is_refused_not_never() {
    let errs = errors(&[
        ("rollback_snapshot_ttl", "99999999d"),
        ("candidate_snapshot_ttl", "9999999999999h"),
    ]);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].starts_with("`rollback_snapshot_ttl:`"), "{errs:?}");
}

#[test]
fn rollback_snapshots_kept_is_one_or_more() {
    let c = Config::from_raw_at(raw(&[]), Mode::Action, now()).unwrap();
    assert_eq!(c.rollback_snapshots_kept, 3);
    let errs = errors(&[("rollback_snapshots_kept", "0")]);
    assert!(
        errs[0].contains("rollback_snapshots_kept") && errs[0].contains("1 or more"),
        "{errs:?}"
    );
    assert!(!errors(&[("rollback_snapshots_kept", "-1")]).is_empty());
}

#[test]
fn guards_take_warn_fail_or_ignore() {
    let c = Config::from_raw_at(
        raw(&[
            ("on_prod_changed", "FAIL"),
            ("on_destructive_change", "ignore"),
        ]),
        Mode::Action,
        now(),
    )
    .unwrap();
    assert_eq!(
        (c.on_prod_changed, c.on_destructive_change),
        (Policy::Fail, Policy::Ignore)
    );
    assert!(errors(&[("on_prod_changed", "stop")])[0].contains("warn, fail or ignore"));
}

#[test]
fn create_branch_action_names_are_aliases_and_must_agree() {
    let c = Config::from_raw_at(
        raw(&[
            ("parent_branch", "main"),
            ("expires_at", "2026-11-30T00:00:00Z"),
        ]),
        Mode::Action,
        now(),
    )
    .unwrap();
    assert_eq!(c.dev_branch, "main");
    assert!(c.dev_branch_given);
    assert_eq!(
        c.preview_ttl,
        Expiry::At("2026-11-30T00:00:00Z".parse().unwrap())
    );
    let errs = errors(&[("dev_branch", "develop"), ("parent_branch", "main")]);
    assert!(
        errs[0].contains("`dev_branch:`") && errs[0].contains("`parent_branch:`"),
        "{errs:?}"
    );
    let errs = errors(&[
        ("preview_ttl", "3d"),
        ("expires_at", "2026-11-30T00:00:00Z"),
    ]);
    assert!(errs[0].contains("`expires_at:`"), "{errs:?}");
    // On a command line nothing is filled in: both names given differently is a conflict.
    let cli = Config::from_raw_at(
        raw(&[("dev_branch", "dev"), ("parent_branch", "main")]),
        Mode::Cli,
        now(),
    )
    .unwrap_err();
    assert!(cli[0].message.contains("--parent-branch"), "{cli:?}");
    assert!(!errors(&[("expires_at", "7d")]).is_empty());
    let same = Config::from_raw_at(
        raw(&[("dev_branch", "main"), ("parent_branch", "main")]),
        Mode::Action,
        now(),
    )
    .unwrap();
    assert_eq!(same.dev_branch, "main");
}

/// The runner passes action.yml's defaults (`dev_branch: dev`, `preview_ttl: 7d`) for inputs
/// the workflow leaves out: a create-branch-action workflow that names only the alias works.
#[test]
fn an_alias_wins_over_our_input_at_its_default() {
    let c = Config::from_raw_at(
        raw(&[
            ("dev_branch", "dev"),
            ("parent_branch", "main"),
            ("preview_ttl", "7d"),
            ("expires_at", "2026-11-30T00:00:00Z"),
        ]),
        Mode::Action,
        now(),
    )
    .unwrap();
    assert_eq!((c.dev_branch.as_str(), c.dev_branch_given), ("main", true));
    assert_eq!(
        c.preview_ttl,
        Expiry::At("2026-11-30T00:00:00Z".parse().unwrap())
    );
    let defaults = Config::from_raw_at(
        raw(&[("dev_branch", "dev"), ("preview_ttl", "7d")]),
        Mode::Action,
        now(),
    )
    .unwrap();
    assert!(!defaults.dev_branch_given, "the default is not a choice");
    // An alias past Neon's 30 days is refused under its own name.
    let errs = errors(&[
        ("preview_ttl", "7d"),
        ("expires_at", "2027-06-01T00:00:00Z"),
    ]);
    assert!(errs[0].starts_with("`expires_at:`"), "{errs:?}");
}

#[test]
fn create_branch_action_options_parse_as_it_reads_them() {
    let c = Config::from_raw_at(
        raw(&[
            ("branch_name", "ci"),
            ("branch_type", "schema-only"),
            ("masking_rules", r#"[{"column_name": "email"}]"#),
            ("suspend_timeout", "300"),
            ("prisma", "TRUE"),
            ("get_auth_url", "true"),
            ("get_data_api_url", "false"),
        ]),
        Mode::Action,
        now(),
    )
    .unwrap();
    assert_eq!(c.branch_name.as_deref(), Some("ci"));
    assert_eq!(c.branch_type, BranchType::SchemaOnly);
    assert_eq!(
        c.masking_rules,
        Some(serde_json::json!([{"column_name": "email"}]))
    );
    assert_eq!(c.suspend_timeout, Some(300));
    assert!(c.prisma && c.get_auth_url && !c.get_data_api_url);
    // create-branch-action's default `0` is Neon's default: nothing is sent.
    let zero = Config::from_raw_at(raw(&[("suspend_timeout", "0")]), Mode::Action, now());
    assert_eq!(zero.unwrap().suspend_timeout, None);
    for bad in [
        ("suspend_timeout", "30"),
        ("suspend_timeout", "604801"),
        ("branch_type", "data"),
        ("masking_rules", "{}"),
    ] {
        assert!(
            errors(&[bad])[0].starts_with(&format!("`{}:`", bad.0)),
            "{bad:?}"
        );
    }
}

#[test]
fn usage_errors_name_settings_as_the_mode_spells_them() {
    let cli = Config::from_raw_at(raw(&[("ssl", "prefer")]), Mode::Cli, now()).unwrap_err();
    assert!(cli[0].message.starts_with("`--ssl`"), "{}", cli[0].message);
    let c = Config::from_raw_at(raw(&[]), Mode::Cli, now()).unwrap();
    assert_eq!(c.input("api_key"), "`--api-key`");
    assert_eq!(c.command_hint("setup"), "`neon-promote setup`");
    assert_eq!(
        c.input_value("parent_branch", "<name>"),
        "`--dev-branch <name>`"
    );
    let action = Config::from_raw_at(raw(&[]), Mode::Action, now()).unwrap();
    assert_eq!(
        action.input_value("parent_branch", "<name>"),
        "`parent_branch: <name>`"
    );
}

#[test]
fn debug_never_shows_a_secret() {
    let c = Config::from_raw_at(
        raw(&[
            ("api_key", "napi_secret_1"),
            ("github_token", "ghs_secret_2"),
        ]),
        Mode::Action,
        now(),
    )
    .unwrap();
    let text = format!("{c:?} {:?}", raw(&[("api_key", "napi_secret_1")]));
    assert!(
        !text.contains("secret_1") && !text.contains("secret_2"),
        "{text}"
    );
}
