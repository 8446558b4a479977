//! Pinned npm packages the tests read (never committed): fetched once with `npm pack` into
//! `<repo>/.cache/npm-pack/`, checked against their sha256, and unpacked.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The unpacked `package/` folder of `name@version`, whose tarball must hash to `sha256`.
pub fn package(name: &str, version: &str, sha256: &str) -> PathBuf {
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/npm-pack");
    let unpacked = cache.join(format!("{}-{version}", name.replace(['@', '/'], "_")));
    let done = unpacked.join(".verified");
    if done.exists() {
        return unpacked.join("package");
    }
    // Test binaries run in parallel: each works in its own folder and the first rename wins.
    let work = tempfile::tempdir_in({
        std::fs::create_dir_all(&cache).expect("create .cache");
        &cache
    })
    .expect("tempdir in .cache");
    let packed = run(Command::new("npm")
        .args(["pack", "--silent", &format!("{name}@{version}")])
        .current_dir(work.path()));
    let tarball = work
        .path()
        .join(packed.trim().lines().last().expect("npm pack output"));
    let sum = run(Command::new("sha256sum").arg(&tarball));
    assert_eq!(
        sum.split_whitespace().next(),
        Some(sha256),
        "{name}@{version}: the tarball does not match the pinned sha256"
    );
    run(Command::new("tar")
        .arg("xzf")
        .arg(&tarball)
        .current_dir(work.path()));
    std::fs::write(work.path().join(".verified"), sha256).expect("mark verified");
    std::fs::remove_file(&tarball).expect("remove tarball");
    let work = work.keep();
    if std::fs::rename(&work, &unpacked).is_err() {
        // Another test binary got there first; its copy is just as good.
        let _ = std::fs::remove_dir_all(&work);
    }
    assert!(done.exists(), "{name}@{version} was not unpacked");
    unpacked.join("package")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
