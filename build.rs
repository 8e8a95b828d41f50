//! Build-time facts a record states about the binary that measured: the git
//! commit it was built from and the target triple. Both are passed to the
//! compiler as env vars (`EDGEMARK_GIT_HASH`, `EDGEMARK_TARGET`).

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    // A source tarball has no .git: packagers may say which commit it was.
    println!("cargo:rerun-if-env-changed=EDGEMARK_GIT_HASH");
    let hash = std::env::var("EDGEMARK_GIT_HASH")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=EDGEMARK_GIT_HASH={hash}");

    // Rebuild when HEAD moves; in a worktree HEAD lives in the worktree's git dir.
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        let head = PathBuf::from(&dir).join("HEAD");
        println!("cargo:rerun-if-changed={}", head.display());
        if let Ok(text) = std::fs::read_to_string(&head)
            && let Some(r) = text.strip_prefix("ref: ")
            && let Some(common) = git(&["rev-parse", "--git-common-dir"])
        {
            println!(
                "cargo:rerun-if-changed={}",
                PathBuf::from(common).join(r.trim()).display()
            );
        }
    }

    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_string());
    println!("cargo:rustc-env=EDGEMARK_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
