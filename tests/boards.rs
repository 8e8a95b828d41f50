//! Board profiles: detection on fixture sysfs/procfs trees (one per profile, plus
//! boxes no profile fits), malformed profiles, and the `edgemark boards` command.

use std::path::{Path, PathBuf};
use std::process::Command;

use edgemark::boards::{self, Board, BoardError, CpuSet, Identity, PowerKind};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/boards")
        .join(name)
}

fn detected(tree: &str) -> Option<String> {
    boards::detect(&fixture(tree))
        .unwrap_or_else(|e| panic!("detect on {tree}: {e}"))
        .map(|b| b.name.clone())
}

#[test]
fn every_profile_is_detected_on_its_fixture_tree() {
    let cases = [
        ("rpi4", "rpi4"),
        ("rpi4-cm4", "rpi4"),
        ("rpi5", "rpi5"),
        ("jetson-orin-nano", "jetson-orin-nano"),
        ("rk3588-rock5b", "rk3588"),
        // The model string does not say RK3588: the SoC compatible must catch it.
        ("rk3588s-orangepi5", "rk3588"),
        ("x86-nuc", "x86-64-mini-pc"),
        ("x86-n100", "x86-64-mini-pc"),
    ];
    for (tree, want) in cases {
        assert_eq!(detected(tree).as_deref(), Some(want), "fixture {tree}");
    }
    // Every built-in profile has at least one fixture above.
    for b in boards::builtin().unwrap() {
        assert!(
            cases.iter().any(|(_, w)| *w == b.name),
            "no fixture for {}",
            b.name
        );
    }
}

#[test]
fn boxes_without_a_profile_are_not_guessed() {
    // Another Rockchip SoC, an Orin NX (same carrier family as the Nano), and an
    // empty tree (no device tree, no DMI).
    for tree in ["unknown-rk3399", "jetson-orin-nx", "empty"] {
        assert_eq!(detected(tree), None, "fixture {tree}");
    }
}

#[test]
fn fixture_trees_match_at_most_one_specific_profile() {
    // Detection takes the first match; overlapping rules would make the order
    // matter silently. Only the x86 fallback may overlap, and it is tried last.
    let all = boards::builtin().unwrap();
    for tree in [
        "rpi4",
        "rpi4-cm4",
        "rpi5",
        "jetson-orin-nano",
        "rk3588-rock5b",
        "rk3588s-orangepi5",
    ] {
        let id = Identity::read(&fixture(tree)).unwrap();
        let hits: Vec<&str> = all
            .iter()
            .filter(|b| boards::detect_in(std::slice::from_ref(*b), &id).is_some())
            .map(|b| b.name.as_str())
            .collect();
        assert_eq!(hits.len(), 1, "{tree} matches {hits:?}");
    }
}

#[test]
fn identity_strips_nul_and_newlines_and_splits_compatible() {
    let id = Identity::read(&fixture("jetson-orin-nano")).unwrap();
    assert_eq!(
        id.model.as_deref(),
        Some("NVIDIA Jetson Orin Nano Developer Kit")
    );
    assert_eq!(
        id.compatible,
        [
            "nvidia,p3768-0000+p3767-0005",
            "nvidia,p3767-0005",
            "nvidia,tegra234"
        ]
    );
    let id = Identity::read(&fixture("x86-n100")).unwrap();
    assert_eq!(id.sys_vendor.as_deref(), Some("AZW"));
    // An empty DMI file is absent, not "".
    assert_eq!(id.board_name, None);
}

#[test]
fn unreadable_identity_file_is_an_error_naming_it() {
    // A directory where a file should be: reading fails with something other
    // than NotFound, which must not be mistaken for "no such board".
    let root = std::env::temp_dir().join(format!("edgemark-boards-dir-{}", std::process::id()));
    std::fs::create_dir_all(root.join("proc/device-tree/model")).unwrap();
    let err = boards::detect(&root).unwrap_err();
    let msg = err.to_string();
    std::fs::remove_dir_all(&root).unwrap();
    assert!(matches!(err, BoardError::Io { .. }), "{msg}");
    assert!(msg.contains("proc/device-tree/model"), "{msg}");
}

#[test]
fn resolve_forces_a_named_board_or_detects_with_auto() {
    let rk = fixture("rk3588-rock5b");
    assert_eq!(
        boards::resolve("auto", &rk).unwrap().unwrap().name,
        "rk3588"
    );
    // A forced name wins over what the tree says.
    assert_eq!(boards::resolve("rpi5", &rk).unwrap().unwrap().name, "rpi5");
    let err = boards::resolve("rpi3", &rk).unwrap_err();
    assert!(matches!(err, BoardError::Unknown { .. }), "{err}");
}

#[test]
fn shipped_profile_files_are_the_embedded_ones() {
    // dist.sh packs boards/ next to the binary; it must say what the binary knows.
    let on_disk = boards::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("boards")).unwrap();
    let mut embedded: Vec<Board> = boards::builtin().unwrap().to_vec();
    embedded.sort_by(|a, b| a.name.cmp(&b.name));
    let mut on_disk = on_disk;
    on_disk.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(on_disk, embedded);
}

#[test]
fn profiles_carry_the_defaults_the_run_needs() {
    for b in boards::builtin().unwrap() {
        assert!(
            b.target.ends_with("-linux-musl") || b.target == "armv7-unknown-linux-gnueabihf",
            "{}",
            b.name
        );
        assert!(!b.thermal.zones.is_empty(), "{}: no thermal zone", b.name);
        assert!(b.cooldown.max_wait_s > 0, "{}", b.name);
        // Pinned CPUs must belong to the declared clusters.
        let declared: Vec<u32> = b
            .cores
            .iter()
            .flat_map(|c| match &c.cpus {
                CpuSet::List(v) => v.clone(),
                _ => Vec::new(),
            })
            .collect();
        for set in [&b.pin.single_stream, &b.pin.offline] {
            if let CpuSet::List(cpus) = set {
                assert!(
                    cpus.iter().all(|c| declared.contains(c)),
                    "{}: {set} outside clusters",
                    b.name
                );
            }
        }
    }
    let jetson = boards::find("jetson-orin-nano").unwrap();
    assert_eq!(jetson.power.kind, PowerKind::Ina3221);
    assert!(jetson.power.current_path.is_some());
}

#[test]
fn profiles_name_drop_ins_that_are_shipped_and_every_drop_in_has_a_board() {
    // systemd/dropins/ travels in the tarball next to boards/ (dist.sh): a
    // profile must not point at a file that is not there, and a drop-in no
    // profile names would be found by nobody.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/dropins");
    let mut shipped: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".conf"))
        .collect();
    shipped.sort();
    let mut named: Vec<String> = Vec::new();
    for b in boards::builtin().unwrap() {
        for d in &b.systemd.dropins {
            assert!(
                shipped.contains(d),
                "{}: drop-in {d} is not in {}",
                b.name,
                dir.display()
            );
            named.push(d.clone());
        }
    }
    named.sort();
    named.dedup();
    assert_eq!(named, shipped, "drop-ins no board profile names");
    for (board, dropin) in [
        ("jetson-orin-nano", "jetson-gpu.conf"),
        ("rk3588", "rk3588-npu.conf"),
        ("x86-64-mini-pc", "intel-gpu-npu.conf"),
    ] {
        assert_eq!(boards::find(board).unwrap().systemd.dropins, [dropin]);
    }
    // CPU-only boards need none.
    assert!(boards::find("rpi5").unwrap().systemd.dropins.is_empty());
}

#[test]
fn a_drop_in_given_as_a_path_is_rejected_naming_it() {
    let text = boards::builtin_source("rk3588").unwrap();
    for bad in [
        "../etc/passwd.conf",
        "/etc/x.conf",
        "rk3588-npu",
        "RK.conf",
        ".conf",
    ] {
        let t = text.replace("\"rk3588-npu.conf\"", &format!("{bad:?}"));
        let e = Board::from_toml(&t, "rk3588-bad.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("rk3588-bad.toml") && e.contains("[systemd] dropins") && e.contains(bad),
            "{bad}: {e}"
        );
    }
    let e = Board::from_toml(
        &text.replace("dropins = ", "drop_ins = "),
        "rk3588-bad.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("drop_ins"), "{e}");
}

fn load_err(dir: &str) -> String {
    match boards::load_dir(&fixture("malformed").join(dir)) {
        Ok(b) => panic!("{dir}: malformed profile accepted: {b:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn malformed_profiles_are_rejected_naming_the_file_and_the_problem() {
    let e = load_err("syntax");
    assert!(e.contains("syntax/rpi4.toml"), "{e}");
    assert!(
        e.contains("line"),
        "TOML error should point at the line: {e}"
    );

    let e = load_err("unknown-key");
    assert!(
        e.contains("unknown-key/rpi5.toml") && e.contains("throttle_celsius"),
        "{e}"
    );

    let e = load_err("no-rule");
    assert!(
        e.contains("no-rule/rk3588.toml") && e.contains("[match] has no rule"),
        "{e}"
    );

    let e = load_err("bad-cpus");
    assert!(
        e.contains("bad-cpus/jetson-orin-nano.toml") && e.contains("3-1"),
        "{e}"
    );
}

fn edgemark(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_edgemark"))
        .args(args)
        .output()
        .expect("run edgemark")
}

#[test]
fn boards_command_lists_profiles_and_marks_the_detected_one() {
    let root = fixture("rk3588s-orangepi5");
    let out = edgemark(&["boards", "--root", root.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    for b in boards::builtin().unwrap() {
        assert!(text.contains(&b.name), "{} missing:\n{text}", b.name);
    }
    let marked: Vec<&str> = text.lines().filter(|l| l.starts_with('*')).collect();
    assert_eq!(marked.len(), 1, "{text}");
    assert!(marked[0].contains("rk3588"), "{text}");

    let out = edgemark(&["boards", "--root", fixture("empty").to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("no profile matches"), "{text}");
}

#[test]
fn boards_command_prints_one_profile_or_fails_as_usage_error() {
    let out = edgemark(&["boards", "rk3588"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(Board::from_toml(&text, "stdout").unwrap().name, "rk3588");

    let out = edgemark(&["boards", "rpi3"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("rpi3") && err.contains("rpi5"), "{err}");
}

#[test]
fn version_names_git_target_and_tract() {
    let out = edgemark(&["--version"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
    assert!(text.contains("tract: 0.23.9"), "{text}");
    assert!(text.contains("target: "), "{text}");
    assert!(text.contains("git: "), "{text}");
}

fn run_synthetic(extra: &[&str]) -> std::process::Output {
    let results = std::env::temp_dir().join(format!(
        "edgemark-boards-run-{}-{}",
        std::process::id(),
        extra.join("_").replace('/', "_")
    ));
    let mut args = vec![
        "run",
        "--sut",
        "synthetic:null",
        "--scenario",
        "single-stream",
        "--min-duration-ms",
        "0",
        "--min-query-count",
        "100",
        "--results",
    ];
    let results_s = results.to_str().unwrap().to_string();
    args.push(&results_s);
    args.extend_from_slice(extra);
    let out = edgemark(&args);
    let _ = std::fs::remove_dir_all(&results);
    out
}

#[test]
fn run_detects_the_board_through_its_root_and_says_so() {
    let root = fixture("rk3588-rock5b");
    let root = root.to_str().unwrap();
    let out = run_synthetic(&["--root", root, "--json"]);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["board"]["name"], "rk3588", "{v}");
    assert_eq!(v["board"]["detected"], true, "{v}");

    let out = run_synthetic(&["--root", root]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Board    : rk3588 (detected)"), "{text}");

    // Forced, on a tree that says otherwise; and `none`.
    let out = run_synthetic(&["--root", root, "--board", "rpi5", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&v["board"]["name"], &v["board"]["detected"]),
        (&"rpi5".into(), &false.into())
    );
    let out = run_synthetic(&["--root", root, "--board", "none", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["board"].is_null(), "{v}");
}

#[test]
fn run_with_an_unknown_board_is_a_usage_error_naming_the_known_ones() {
    let out = run_synthetic(&["--board", "rpi3"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("rpi3") && err.contains("rk3588"), "{err}");
}
