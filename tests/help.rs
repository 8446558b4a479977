//! `--help` of the binary and of every subcommand, as a user sees it, compared whole with
//! `tests/golden/help/*.txt`: each subcommand lists only the flags it uses.

mod support;

use support::golden::check;

#[test]
fn every_help_text_matches_its_golden_file() {
    let mut names = vec![Vec::new()];
    for command in neon_promote::config::CommandName::ALL {
        names.push(vec![command.as_str()]);
    }
    for args in names {
        let out = std::process::Command::new(support::binary())
            .args(&args)
            .arg("--help")
            .env_clear()
            .output()
            .expect("run --help");
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8(out.stdout).expect("utf-8");
        let name = if args.is_empty() {
            "neon-promote"
        } else {
            args[0]
        };
        check(&format!("help/{name}.txt"), &text);
    }
}
