//! Build script (kept in src/: the repository's top level is fixed): records the commit the
//! binary is built from, for `glidepath version` and `--version`. Outside a git checkout (a
//! crates.io or tarball build) the commit is "unknown".

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|sha| !sha.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=GLIDEPATH_COMMIT={commit}");
    // A new commit or checkout changes HEAD or the ref it points at. Only existing paths: cargo
    // reruns a build script on every build while a path it watches is missing.
    println!("cargo:rerun-if-changed=src/build.rs");
    for path in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
