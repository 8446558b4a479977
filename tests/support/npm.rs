//! Pinned npm packages the tests read (never committed), through `scripts/fetch-fixtures.sh`,
//! the one place that downloads them (`npm pack`), checks their sha256 and unpacks them into
//! `<repo>/.cache/npm-pack/`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The unpacked `package/` folder of `name@version`, whose tarball must hash to `sha256`.
pub fn package(name: &str, version: &str, sha256: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root
        .join(".cache/npm-pack")
        .join(format!("{}-{version}", name.replace(['@', '/'], "_")))
        .join("package");
    if !dir.exists() {
        let status = Command::new(root.join("scripts/fetch-fixtures.sh"))
            .arg(format!("{name}@{version}"))
            .arg(sha256)
            .status()
            .expect("run scripts/fetch-fixtures.sh");
        assert!(status.success(), "could not fetch {name}@{version}");
    }
    dir
}
