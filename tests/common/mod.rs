//! Helpers shared by integration tests: where `../shared` (models, images, LoadGen
//! vectors) lives, and the CI rule that missing inputs fail rather than skip.
#![allow(dead_code)]

use std::path::PathBuf;

/// `$EDGEMARK_SHARED`, else `../shared` beside the repository.
/// Returns None (after a loud message) when it is missing outside CI; in CI
/// (`CI` set) a missing shared folder fails the test.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("EDGEMARK_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "shared test inputs missing at {} (CI must have them)",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED: shared test inputs missing at {}; set EDGEMARK_SHARED",
        dir.display()
    );
    None
}

/// Like `shared_dir` but for one file or folder inside it.
pub fn shared_path(rel: &str) -> Option<PathBuf> {
    let p = shared_dir()?.join(rel);
    if p.exists() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() {
        panic!("shared test input missing: {}", p.display());
    }
    eprintln!("SKIPPED: shared test input missing: {}", p.display());
    None
}

/// The six photos with reference inputs and outputs in `models/reference/*/`.
pub const PHOTOS: [&str; 6] = [
    "chelsea",
    "coffee",
    "rocket",
    "messi5",
    "baboon",
    "grace_hopper",
];

/// A filesystem root with nothing in it: no board profile, no sensors. Plans
/// built against it do not depend on the box the tests run on.
pub fn bare_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bare")
}
