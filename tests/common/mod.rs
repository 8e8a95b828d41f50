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

/// The C reference SUT (sdk/c + examples/sut/null_sut.c), built once per
/// test binary with `cc` (`$CC`) into its own file. CI has a C compiler (the
/// Rust toolchain links with it); without one, tests fail under CI and skip
/// loudly elsewhere (None).
pub fn c_null_sut() -> Option<&'static std::path::Path> {
    use std::sync::OnceLock;
    static SUT: OnceLock<Option<PathBuf>> = OnceLock::new();
    SUT.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        // Per test binary: two binaries building one file at once would race.
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("null_sut_c-{}", env!("CARGO_CRATE_NAME")));
        let built = std::process::Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
            .args(["-O2", "-std=c99", "-Wall", "-Werror", "-I"])
            .arg(root.join("sdk/c"))
            .arg(root.join("examples/sut/null_sut.c"))
            .arg(root.join("sdk/c/edgemark_sut.c"))
            .arg("-o")
            .arg(&out)
            .status();
        match built {
            Ok(s) if s.success() => Some(out),
            other => {
                assert!(
                    std::env::var("CI").is_err(),
                    "CI=true but the C reference SUT did not build: {other:?}"
                );
                eprintln!("SKIPPED: no C compiler to build the reference SUT ({other:?})");
                None
            }
        }
    })
    .as_deref()
}

/// Whether this process may mount filesystems (root). Tests that need a real
/// full or read-only filesystem skip loudly otherwise; in CI (which runs as
/// root) they fail instead, so they can never silently prove nothing.
pub fn can_mount(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test}: needs root to mount a tmpfs, and CI runs as root");
    }
    eprintln!("SKIPPED: {test} needs root (mounts a tiny tmpfs)");
    false
}

/// A tmpfs of `size` bytes mounted on a fresh directory; unmounted and removed
/// on drop, also when the test fails.
pub struct Tmpfs {
    pub dir: PathBuf,
}

impl Tmpfs {
    pub fn mount(tag: &str, size: usize, options: &str) -> Tmpfs {
        let dir = std::env::temp_dir().join(format!("edgemark-tmpfs-{tag}-{}", std::process::id()));
        // A mount left by a killed earlier run of this test (same pid is rare).
        let _ = std::process::Command::new("umount")
            .arg(&dir)
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&dir);
        Self::mount_at(dir, size, options)
    }

    /// Mounts on `dir` (created if missing), e.g. a daemon's results directory.
    pub fn mount_at(dir: PathBuf, size: usize, options: &str) -> Tmpfs {
        std::fs::create_dir_all(&dir).unwrap();
        let opts = if options.is_empty() {
            format!("size={size}")
        } else {
            format!("size={size},{options}")
        };
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &opts, "tmpfs"])
            .arg(&dir)
            .status()
            .expect("run mount");
        assert!(st.success(), "mount -t tmpfs -o {opts} failed");
        Tmpfs { dir }
    }

    /// Fills the filesystem with `filler` until the disk is full, then frees
    /// `leave` bytes of it (tmpfs counts whole pages).
    pub fn fill_leaving(&self, leave: u64) -> PathBuf {
        use std::io::Write;
        let filler = self.dir.join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let page = [0u8; 4096];
        loop {
            match f.write(&page) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(nix::libc::ENOSPC) => break,
                Err(e) => panic!("filling {}: {e}", filler.display()),
            }
        }
        let len = f.metadata().unwrap().len();
        f.set_len(len.saturating_sub(leave)).unwrap();
        filler
    }

    /// File names in the mount, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let st = std::process::Command::new("umount").arg(&self.dir).status();
        if matches!(st, Ok(s) if s.success()) {
            let _ = std::fs::remove_dir(&self.dir);
        } else {
            eprintln!("warning: could not unmount {}", self.dir.display());
        }
    }
}
