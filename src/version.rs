//! What `edgemark --version` says: crate version, git commit, target triple and
//! the tract version that measures, so a record or a bug report can be tied to
//! the exact binary. The git hash and triple come from the build script when
//! there is one (`EDGEMARK_GIT_HASH`, `EDGEMARK_TARGET`); without it the fields
//! fall back to what the compiler knows.

use std::sync::OnceLock;

/// The tract release every `tract-*` dependency is pinned to (`=` in Cargo.toml).
pub const TRACT_VERSION: &str = "0.23.9";

/// The crate version (`CARGO_PKG_VERSION`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Git commit the binary was built from, or "unknown" (e.g. built from a tarball).
pub fn git_hash() -> &'static str {
    option_env!("EDGEMARK_GIT_HASH").unwrap_or("unknown")
}

/// Target triple the binary was built for. Without the build script's value the
/// triple is rebuilt from cfg values (vendor is not visible to cfg, hence
/// "unknown", which is right for every target edgemark ships; 32-bit ARM shows
/// as plain "arm").
pub fn target() -> &'static str {
    if let Some(t) = option_env!("EDGEMARK_TARGET") {
        return t;
    }
    static T: OnceLock<String> = OnceLock::new();
    T.get_or_init(|| {
        let env = if cfg!(target_env = "musl") {
            "musl"
        } else if cfg!(all(
            target_env = "gnu",
            target_arch = "arm",
            target_abi = "eabihf"
        )) {
            "gnueabihf"
        } else if cfg!(target_env = "gnu") {
            "gnu"
        } else {
            ""
        };
        // cfg cannot tell armv7 from other 32-bit ARM: the scripts that build
        // the shipped binaries set EDGEMARK_TARGET, so this is only for ad-hoc builds.
        let arch = std::env::consts::ARCH;
        let mut t = format!("{arch}-unknown-{}", std::env::consts::OS);
        if !env.is_empty() {
            t.push('-');
            t.push_str(env);
        }
        t
    })
}

/// Whether the C runtime is linked statically (the shipped binaries are).
pub fn static_crt() -> bool {
    cfg!(target_feature = "crt-static")
}

/// The multi-line text of `edgemark --version`.
pub fn long_version() -> &'static str {
    static LONG: OnceLock<String> = OnceLock::new();
    LONG.get_or_init(|| {
        format!(
            "{VERSION}\ngit: {}\ntarget: {}{}\ntract: {TRACT_VERSION}\nallocator: {}",
            git_hash(),
            target(),
            if static_crt() { " (static)" } else { "" },
            if cfg!(feature = "mimalloc") {
                "mimalloc"
            } else {
                "system"
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_version_names_every_field() {
        let v = long_version();
        assert!(v.starts_with(VERSION), "{v}");
        for key in ["\ngit: ", "\ntarget: ", "\ntract: 0.23.9", "\nallocator: "] {
            assert!(v.contains(key), "missing {key:?} in {v}");
        }
    }

    #[test]
    fn tract_version_is_the_pinned_one() {
        // The record states TRACT_VERSION: it must be what Cargo.toml pins.
        let manifest = include_str!("../Cargo.toml");
        for krate in ["tract-onnx", "tract-tflite", "tract-linalg"] {
            let line = manifest
                .lines()
                .find(|l| l.starts_with(&format!("{krate} =")))
                .unwrap_or_else(|| panic!("{krate} not in Cargo.toml"));
            assert!(line.contains(&format!("\"={TRACT_VERSION}\"")), "{line}");
        }
    }

    #[test]
    fn fallback_target_matches_the_compiled_arch() {
        let t = target();
        assert!(
            t.starts_with(std::env::consts::ARCH) || t.starts_with("armv7"),
            "{t}"
        );
        assert!(t.contains("-linux") || !cfg!(target_os = "linux"), "{t}");
    }
}
