//! Settings, stage one of the pipeline: raw values from a TOML file (the same keys
//! as `edgemark run`'s flags; also a daemon job file) merged with flags (flags
//! win), started from a preset, and validated into the immutable [`Plan`].
//! Every error names the field; all of them are usage errors (exit 2).
//!
//! Presets (LoadGen names; durations in ms):
//!
//! | key | official (mlperf.conf) | quick (smoke run) |
//! |---|---|---|
//! | min_duration_ms | 600000 | 2000 |
//! | max_duration_ms | 0 (none) | 0 (none) |
//! | min_query_count | 100 | 100 |
//! | max_query_count | 0 (none) | 0 (none) |
//! | performance_sample_count | 1024 (resnet50) | 1024 |
//! | total_sample_count | 50000 (ImageNet val) | 1024 |
//! | qsl_rng_seed | 2085463073848966840 | same |
//! | sample_index_rng_seed | 2747215439041700203 | same |
//! | target_percentile | 0.90 | 0.90 |
//! | offline_expected_qps | 100, calibrated unless set | 100, calibrated unless set |
//! | warm-up | 10 queries | 10 queries |
//! | max_stored_queries | 1048576 | 1048576 |
//!
//! When `offline_expected_qps` is not set (flag or file), the plan says so
//! (`calibrate_offline_qps`) and the run measures it before timing
//! (`loadgen::calibrate`); the preset's 100 is only the fallback.
//! Offline's per-model min_query_count (resnet50: 24576 samples) is not a
//! separate setting: with 600 s, `floor(1.1 * 600 * expected_qps)` exceeds 24576
//! for any expected QPS >= 38, so `official` keeps one min_query_count (100) for
//! both scenarios. Quick's 100 queries exceed the 64 SingleStream early stopping
//! needs at p90, so a quick run on a steady SUT is VALID.
//! Overriding a seed of `official` turns the plan's preset into "custom": a run
//! with other seeds does not follow the official rules.

//! Module layout: `raw` (the one struct that is both the flags and the TOML
//! keys), `presets`, `board` (the only I/O before validation: board profile
//! and CPU mask -> [`Host`]), `validate` (pure: raw + host -> plan); the data
//! set's files are read last ([`check_files`]).

use std::path::{Path, PathBuf};

pub mod board;
pub mod presets;
pub mod raw;
pub mod validate;

pub use board::{Host, board_pinning};
pub use presets::{
    DEFAULT_MAX_STORED_QUERIES, DEFAULT_PRESET, OFFICIAL_QSL_RNG_SEED,
    OFFICIAL_SAMPLE_INDEX_RNG_SEED, preset,
};
pub use raw::{Channels, CropSize, RawSettings};

use crate::plan::Plan;

/// Why settings are unusable. All of them are the user's to fix (exit 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    #[error("cannot read settings file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bad settings file {path}: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("invalid setting `{field}`: {why}")]
    Field { field: &'static str, why: String },
}

fn field(field: &'static str, why: impl Into<String>) -> SettingsError {
    SettingsError::Field {
        field,
        why: why.into(),
    }
}

/// `edgemark run`'s settings (flags over the `--config` file they name) -> plan.
pub fn plan_from(
    config: Option<&Path>,
    flags: &RawSettings,
    root: &Path,
) -> Result<Plan, SettingsError> {
    let base = match config {
        Some(path) => RawSettings::from_file(path)?,
        None => RawSettings::default(),
    };
    validate(base.overlay(flags.clone()), root)
}

/// Raw settings -> plan: resolves the box under `root` (`board = "auto"`
/// detects the board there: `/`, or a fixture tree), validates purely against
/// it, then checks the data set's files.
pub fn validate(raw: RawSettings, root: &Path) -> Result<Plan, SettingsError> {
    let host = Host::resolve(raw.board.as_deref(), root)?;
    let plan = validate::plan(raw, &host)?;
    check_files(&plan)?;
    Ok(plan)
}

/// The data set's files, before anything runs: the folder exists, labels and
/// class names parse (errors name the file), labels fit the class names.
pub fn check_files(plan: &Plan) -> Result<(), SettingsError> {
    let Some(d) = &plan.dataset else {
        return Ok(());
    };
    let dir = Path::new(&d.dir);
    if !dir.is_dir() {
        return Err(field(
            "dataset",
            format!("{} is not a folder", dir.display()),
        ));
    }
    let labels = match &d.labels {
        Some(path) => Some(
            crate::dataset::labels::Labels::load(Path::new(path))
                .map_err(|e| field("labels", e.to_string()))?,
        ),
        None => None,
    };
    if let Some(path) = &d.classes {
        let names = crate::dataset::labels::load_class_names(Path::new(path))
            .map_err(|e| field("classes", e.to_string()))?;
        if let Some(l) = &labels {
            l.check_classes(names.len())
                .map_err(|e| field("labels", format!("{e} (from {path})")))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boards;
    use crate::plan::{BoardChoice, BuiltInSpec, Mode, Pinning, Scenario, SutSpec, WarmUp};

    /// Settings checks do not depend on the box: no board profile applies.
    fn validate_bare(raw: RawSettings) -> Result<Plan, SettingsError> {
        validate(
            raw,
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bare")),
        )
    }

    fn raw(toml: &str) -> RawSettings {
        RawSettings::from_toml(toml).unwrap()
    }

    fn err_field(r: RawSettings) -> &'static str {
        match validate_bare(r).unwrap_err() {
            SettingsError::Field { field, .. } => field,
            e => panic!("not a field error: {e}"),
        }
    }

    #[test]
    fn default_is_quick_both_scenarios_builtin() {
        let p = validate_bare(RawSettings::default()).unwrap();
        assert_eq!(p.preset, "quick");
        assert_eq!(p.settings.min_duration_ns, 2_000_000_000);
        assert_eq!(p.settings.min_query_count, 100);
        assert_eq!(p.scenarios, vec![Scenario::SingleStream, Scenario::Offline]);
        assert_eq!(p.sut, SutSpec::BuiltIn(BuiltInSpec::default()));
    }

    #[test]
    fn builtin_model_takes_instances_threads_cpus() {
        let p = validate_bare(raw("instances = 3
threads = 2
cpus = \"0,1\""))
        .unwrap();
        let SutSpec::BuiltIn(b) = &p.sut else {
            panic!("{:?}", p.sut)
        };
        assert_eq!(
            (b.instances, b.threads, b.cpus.clone()),
            (3, 2, Pinning::both(vec![0, 1]))
        );
        let m = b.to_model_spec();
        assert!(m.path.is_empty());
        assert_eq!(
            (m.instances, m.threads, m.cpus),
            (3, 2, Pinning::both(vec![0, 1]))
        );
        assert_eq!(
            err_field(raw("input_shape = [\"x=1,3,8,8\"]")),
            "input_shape"
        );
    }

    #[test]
    fn official_preset_has_mlperf_conf_values() {
        let p = validate_bare(raw("preset = \"official\"")).unwrap();
        assert_eq!(p.settings.min_duration_ns, 600_000_000_000);
        assert_eq!(p.settings.qsl_rng_seed, 2085463073848966840);
        assert_eq!(p.settings.sample_index_rng_seed, 2747215439041700203);
        assert_eq!(p.preset, "official");
        let p = validate_bare(raw("preset = \"official\"\nqsl_rng_seed = 1")).unwrap();
        assert_eq!(p.preset, "custom");
    }

    #[test]
    fn flags_win_over_file() {
        let file = raw("min_duration_ms = 5000\nmin_query_count = 300\nwarmup_queries = 3");
        let flags = RawSettings {
            min_duration_ms: Some(7000),
            warmup_ms: Some(50),
            ..RawSettings::default()
        };
        let p = validate_bare(file.overlay(flags)).unwrap();
        assert_eq!(p.settings.min_duration_ns, 7_000_000_000);
        assert_eq!(p.settings.min_query_count, 300);
        assert_eq!(p.settings.warm_up, WarmUp::DurationNs(50_000_000));
    }

    #[test]
    fn bad_values_name_their_field() {
        assert_eq!(err_field(raw("min_duration_ms = -1")), "min_duration_ms");
        assert_eq!(
            err_field(raw("performance_sample_count = 0")),
            "performance_sample_count"
        );
        assert_eq!(err_field(raw("preset = \"fast\"")), "preset");
        assert_eq!(
            err_field(raw("target_percentile = 100")),
            "target_percentile"
        );
        assert_eq!(err_field(raw("target_percentile = 0")), "target_percentile");
        assert_eq!(err_field(raw("scenario = \"server\"")), "scenario");
        assert_eq!(err_field(raw("sut = \"synthetic:busy:x\"")), "sut");
        assert_eq!(
            err_field(raw("offline_expected_qps = 0.0")),
            "offline_expected_qps"
        );
        assert_eq!(err_field(raw("max_query_count = 5")), "max_query_count");
        assert_eq!(
            err_field(raw("min_duration_ms = 5000\nmax_duration_ms = 10")),
            "max_duration_ms"
        );
        assert_eq!(
            err_field(raw("max_stored_queries = 10")),
            "max_stored_queries"
        );
        assert_eq!(
            err_field(raw("offline_expected_qps = 1e9")),
            "offline_expected_qps"
        );
        assert_eq!(err_field(raw("model = \"m.onnx\"\ncpus = \"3-1\"")), "cpus");
    }

    #[test]
    fn unknown_and_malformed_toml_are_errors_with_line() {
        let e = RawSettings::from_toml("min_duration_ms = 1\nmin_durration_ms = 2")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("min_durration_ms") && e.contains("line 2"),
            "{e}"
        );
        let e = RawSettings::from_toml("a = = 1").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn model_spec_parses_shapes_and_cpus() {
        let p = validate_bare(raw(
            "model = \"m.onnx\"\ninput_shape = [\"x=1,3,224,224\"]\ncpus = \"0-2,5\"\nthreads = 2",
        ))
        .unwrap();
        let SutSpec::Model(m) = p.sut else { panic!() };
        assert_eq!(
            m.input_shapes,
            vec![("x".to_string(), vec![1, 3, 224, 224])]
        );
        assert_eq!(m.cpus, Pinning::both(vec![0, 1, 2, 5]));
        assert_eq!(m.threads, 2);
    }

    #[test]
    fn data_set_keys_from_toml_are_checked() {
        let here = env!("CARGO_MANIFEST_DIR");
        assert_eq!(
            err_field(raw("mode = \"both\"\nmodel = \"m.onnx\"")),
            "dataset"
        );
        assert_eq!(err_field(raw("mode = \"slow\"")), "mode");
        assert_eq!(
            err_field(raw("model = \"m.onnx\"\ndataset = \"/nonexistent\"")),
            "dataset"
        );
        assert_eq!(err_field(raw("labels = \"l.txt\"")), "labels");
        let missing_labels = format!(
            "mode = \"accuracy\"\nmodel = \"m.onnx\"\ndataset = \"{here}\"\nlabels = \"/nonexistent.txt\""
        );
        assert_eq!(err_field(raw(&missing_labels)), "labels");
        let both_inputs = format!("model = \"m.onnx\"\ndataset = \"{here}\"\ninputs = [\"x.npy\"]");
        assert_eq!(err_field(raw(&both_inputs)), "inputs");
        let synthetic = format!("sut = \"synthetic:null\"\ndataset = \"{here}\"");
        assert_eq!(err_field(raw(&synthetic)), "dataset");

        let p = validate_bare(raw(&format!(
            "model = \"m.onnx\"\ndataset = \"{here}\"\npreprocess = \"imagenet-tf\""
        )))
        .unwrap();
        assert_eq!(p.mode, Mode::Performance);
        let d = p.dataset.unwrap();
        assert_eq!(
            (d.dir.as_str(), d.preprocess.as_str()),
            (here, "imagenet-tf")
        );
        assert_eq!(d.labels, None);
    }

    #[test]
    fn percent_or_fraction() {
        let p = validate_bare(raw("target_percentile = 99")).unwrap();
        assert_eq!(p.settings.target_percentile, 0.99);
        let p = validate_bare(raw("target_percentile = 0.95")).unwrap();
        assert_eq!(p.settings.target_percentile, 0.95);
    }

    use crate::boards::fixture_root as board_root;

    #[test]
    fn validation_is_pure_given_the_host() {
        // The same raw settings on two hosts: the board's cores only where the
        // host says this process may use them, with no file read here.
        let rk = boards::find("rk3588").unwrap();
        let free = Host {
            board: Some((rk, true)),
            allowed_cpus: (0..8).collect(),
            warnings: Vec::new(),
        };
        let p = validate::plan(RawSettings::default(), &free).unwrap();
        let SutSpec::BuiltIn(b) = &p.sut else {
            panic!("{:?}", p.sut)
        };
        assert_eq!(b.cpus.single_stream, vec![4, 5, 6, 7]);
        let boxed = Host {
            allowed_cpus: vec![0, 1],
            ..free
        };
        let p = validate::plan(RawSettings::default(), &boxed).unwrap();
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        assert_eq!(p.board.unwrap().name, "rk3588");
        // A data set that does not exist passes the pure step; the file check
        // names it.
        let r = raw("model = \"m.onnx\"\ndataset = \"/nonexistent\"");
        let p = validate::plan(r, &Host::bare()).unwrap();
        assert!(matches!(
            check_files(&p),
            Err(SettingsError::Field {
                field: "dataset",
                ..
            })
        ));
    }

    #[test]
    fn preprocessing_keys_reach_the_plan_and_are_checked() {
        let here = env!("CARGO_MANIFEST_DIR");
        let p = validate_bare(raw(&format!(
            "model = \"m.onnx\"\ndataset = \"{here}\"\npreprocess = \"imagenet-tf\"\n\
             mean = 127.0\nstd = [128, 128, 128]\nresize = 256\ncrop = 224\n\
             crop_rounding = \"half-even\""
        )))
        .unwrap();
        let d = p.dataset.unwrap();
        assert_eq!(d.adjust.mean, Some([127.0; 3]));
        assert_eq!(d.adjust.std, Some([128.0; 3]));
        assert_eq!(d.adjust.crop, Some((224, 224)));
        assert_eq!(
            d.preprocess_label(),
            "imagenet-tf mean=127,127,127 std=128,128,128 resize=256 crop=224x224 crop-rounding=half-even"
        );
        let with = |extra: &str| {
            raw(&format!(
                "model = \"m.onnx\"\ndataset = \"{here}\"\n{extra}"
            ))
        };
        assert_eq!(err_field(with("std = 0.0")), "std");
        assert_eq!(err_field(with("mean = [1.0, nan, 2.0]")), "mean");
        assert_eq!(err_field(with("resize = 100\ncrop = 224")), "resize");
        assert_eq!(err_field(raw("crop = 224")), "crop");
        assert_eq!(
            err_field(raw("crop_rounding = \"truncate\"")),
            "crop_rounding"
        );
    }

    #[test]
    fn a_board_s_cores_apply_per_scenario_when_this_process_may_use_them() {
        let rk = boards::find("rk3588").unwrap();
        let all: Vec<u32> = (0..8).collect();
        let mut w = Vec::new();
        let p = board_pinning(rk, true, &all, &mut w).unwrap().unwrap();
        assert_eq!(p.single_stream, vec![4, 5, 6, 7]);
        assert_eq!(p.offline, all);
        assert!(w.is_empty());
        // The x86 profile pins nothing ("all").
        let x86 = boards::find("x86-64-mini-pc").unwrap();
        let p = board_pinning(x86, true, &[0, 1], &mut w).unwrap().unwrap();
        assert_eq!(p, Pinning::default());
    }

    #[test]
    fn a_board_s_cores_this_process_may_not_use_warn_if_detected_and_fail_if_named() {
        let rk = boards::find("rk3588").unwrap();
        let mut w = Vec::new();
        // Detected (e.g. in a container limited to 0-1): unpinned, with a warning.
        assert_eq!(board_pinning(rk, true, &[0, 1], &mut w).unwrap(), None);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("rk3588") && w[0].contains("4-7") && w[0].contains("0-1"),
            "{}",
            w[0]
        );
        // Named with --board: the run would not be what was asked for.
        let e = board_pinning(rk, false, &[0, 1], &mut w).unwrap_err();
        assert!(
            matches!(e, SettingsError::Field { field: "board", .. }),
            "{e}"
        );
    }

    #[test]
    fn board_auto_detects_through_the_root_and_cpus_override_it() {
        let root = board_root("rk3588-rock5b");
        let p = validate(RawSettings::default(), &root).unwrap();
        assert_eq!(
            p.board,
            Some(BoardChoice {
                name: "rk3588".into(),
                detected: true
            })
        );
        let SutSpec::BuiltIn(b) = &p.sut else {
            panic!("{:?}", p.sut)
        };
        let allowed = boards::allowed_cpus();
        if (0..8).all(|c| allowed.contains(&c)) {
            assert_eq!(b.cpus.single_stream, vec![4, 5, 6, 7]);
            assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        } else {
            // This box has fewer cores than an RK3588: detected, not pinned, said.
            assert_eq!(b.cpus, Pinning::default());
            assert!(p.warnings[0].contains("rk3588"), "{:?}", p.warnings);
        }
        // --cpus wins over the board, for both scenarios.
        let p = validate(raw("cpus = \"0\""), &root).unwrap();
        let SutSpec::BuiltIn(b) = &p.sut else {
            panic!()
        };
        assert_eq!(b.cpus, Pinning::both(vec![0]));
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        // `none`: no profile at all; a synthetic SUT keeps the board but pins nothing.
        let p = validate(raw("board = \"none\""), &root).unwrap();
        assert_eq!(p.board, None);
        let p = validate(raw("sut = \"synthetic:null\""), &root).unwrap();
        assert_eq!(p.board.unwrap().name, "rk3588");
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        // No profile fits an empty tree.
        assert_eq!(
            validate(RawSettings::default(), &board_root("empty"))
                .unwrap()
                .board,
            None
        );
    }

    #[test]
    fn a_named_board_must_exist() {
        let e = validate_bare(raw("board = \"rpi9\""))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`board`") && e.contains("rpi9") && e.contains("rk3588"),
            "{e}"
        );
        let p = validate_bare(raw("board = \"x86-64-mini-pc\"")).unwrap();
        assert_eq!(
            p.board,
            Some(BoardChoice {
                name: "x86-64-mini-pc".into(),
                detected: false
            })
        );
    }

    #[test]
    fn cpus_all_means_unpinned_and_bad_lists_are_errors() {
        let p = validate_bare(raw("cpus = \"all\"")).unwrap();
        let SutSpec::BuiltIn(b) = &p.sut else {
            panic!()
        };
        assert_eq!(b.cpus, Pinning::default());
        for bad in ["", "3-1", "a", "1,,x"] {
            let r = raw(&format!("cpus = \"{bad}\""));
            assert_eq!(err_field(r), "cpus", "{bad:?}");
        }
    }
}
