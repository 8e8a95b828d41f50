//! Raw, unvalidated settings: ONE struct that is at once the flags of
//! `edgemark run` (clap `Args`, flattened into `cli::RunArgs`) and the keys of a
//! TOML config or daemon job file (serde `Deserialize`). A field's name is its
//! TOML key and, dashed, its flag; its doc comment is the help text and the man
//! page. Nothing here is trusted yet: `validate` checks every value.
//!
//! Adding a setting is a one-place change here: add one `Option<T>` field
//! (with its doc comment and `#[arg(long, ...)]`) inside the `raw_settings!`
//! invocation below; flag, TOML key, help, man page, completions and the
//! flags-over-file overlay follow. Then read it in `validate.rs`.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

use super::SettingsError;
use crate::plan::CropRounding;

/// Declares [`RawSettings`] and its field-by-field overlay from one field list,
/// so the overlay can never miss a field.
macro_rules! raw_settings {
    ($(#[$sm:meta])* pub struct $name:ident { $( $(#[$m:meta])* pub $f:ident : Option<$t:ty>, )* }) => {
        $(#[$sm])*
        pub struct $name { $( $(#[$m])* pub $f: Option<$t>, )* }

        impl $name {
            /// Every field set in `top` replaces this one's.
            fn take_set_fields(&mut self, top: $name) {
                $( if top.$f.is_some() { self.$f = top.$f; } )*
            }
        }
    };
}

raw_settings! {
/// Every key of a TOML config/job file, each also a flag of `edgemark run`
/// (dashes there, underscores here). Unset = the preset's or the default value.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Args)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    /// System under test: `synthetic:SPEC` (null, busy:MS, sleep:MS,
    /// lognormal:MEDIAN_MS,SIGMA, exp:MEAN_MS, uniform:LO_MS,HI_MS), or an
    /// external SUT `'exec:PROGRAM ARGS...'` speaking the SUT protocol
    /// (docs/sut-protocol.md): one argument split into words like a shell
    /// does; in TOML a string or a list of words.
    #[arg(long, value_name = "SUT", allow_hyphen_values = true)]
    pub sut: Option<crate::sut::exec::spec::SutWords>,
    /// Per-query timeout of an exec: SUT in ms (default 10000): a query without
    /// an answer this long is a hang; the SUT is killed and the run INVALID.
    #[arg(long, value_name = "MS")]
    pub sut_timeout_ms: Option<u64>,
    /// How an exec: SUT's protocol travels: pipe (default), socketpair, or
    /// spin (SingleStream queries through shared memory both sides spin on:
    /// the lowest round trip, for two busy cores; docs/sut-protocol.md).
    #[arg(long, value_name = "KIND")]
    pub sut_transport: Option<String>,
    /// ONNX or TFLite model file. Without it (and without --sut) the built-in model runs.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Fix a dynamic input shape: name=1,3,224,224 (repeatable).
    #[arg(long, value_name = "NAME=DIMS")]
    pub input_shape: Option<Vec<String>>,
    /// .npy input files or a folder of them (default: seeded random tensors).
    #[arg(long, value_name = "PATH")]
    pub inputs: Option<Vec<PathBuf>>,
    /// Offline model instances on worker threads (default: one per online core).
    #[arg(long, value_name = "N")]
    pub instances: Option<u32>,
    /// Intra-op threads per instance.
    #[arg(long, value_name = "N")]
    pub threads: Option<u32>,
    /// Cores to pin both scenarios to, e.g. 0-3 or 4,5,6,7 (`all`: no pinning).
    /// Default: the board profile's cores for each scenario.
    #[arg(long, value_name = "LIST")]
    pub cpus: Option<String>,
    /// performance (default), accuracy (every data set sample once, scored) or
    /// both (accuracy, then performance, like a submission run).
    #[arg(long, value_name = "MODE")]
    pub mode: Option<String>,
    /// Folder of JPEG/PNG images (or preprocessed .npy tensors): scored in
    /// accuracy mode, and the performance samples instead of random tensors.
    #[arg(long, value_name = "DIR")]
    pub dataset: Option<PathBuf>,
    /// Ground truth: val_map.txt style (`file label`), JSON or CSV.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Class names, one per line (line i names class i).
    #[arg(long, value_name = "FILE")]
    pub classes: Option<PathBuf>,
    /// Image preprocessing: imagenet-torch (default; torchvision: /255, ImageNet
    /// mean/std, half-even crop), imagenet-tf (TF/MLPerf: (x-127.5)/127.5,
    /// truncated crop) or raw-u8. The flags below adjust the preset.
    #[arg(long, value_name = "PRESET")]
    pub preprocess: Option<String>,
    /// Per-channel mean subtracted after dividing by the preset's divisor
    /// (255 for imagenet-torch, 1 otherwise): R,G,B or one value for all.
    #[arg(long, value_name = "R,G,B")]
    pub mean: Option<Channels>,
    /// Per-channel std the value is divided by: R,G,B or one value for all.
    #[arg(long, value_name = "R,G,B")]
    pub std: Option<Channels>,
    /// Short side after the bilinear resize (default: crop x 256/224).
    #[arg(long, value_name = "PIXELS")]
    pub resize: Option<u32>,
    /// Centre crop, N or WxH; must match the model input (default: the model's).
    #[arg(long, value_name = "WxH")]
    pub crop: Option<CropSize>,
    /// Where an odd crop margin puts the extra pixel: half-even (torchvision's
    /// CenterCrop) or truncate (TF's central_crop, MLPerf's reference).
    /// Default: the preset's.
    #[arg(long, value_name = "RULE")]
    pub crop_rounding: Option<CropRounding>,
    /// single-stream, offline or both.
    #[arg(long, value_name = "SCENARIO")]
    pub scenario: Option<String>,
    /// Keep issued sample indices and per-sample latencies in the output and
    /// record, and an accuracy run's misclassified files in its record.
    #[arg(long, num_args = 0, default_missing_value = "true")]
    pub trace: Option<bool>,
    /// Board profile whose defaults apply (per-scenario cores): auto (detect,
    /// the default), none, or a name from `edgemark boards`.
    #[arg(long, value_name = "NAME")]
    pub board: Option<String>,
    /// Preset the settings start from (default quick).
    /// official: mlperf.conf values: min_duration 600 s, min_query_count 100,
    /// seeds 2085463073848966840 / 2747215439041700203, performance_sample_count 1024.
    /// quick: min_duration 2 s, min_query_count 100 (enough for p90 early
    /// stopping), same seeds. Both: warm-up 10 queries; offline_expected_qps
    /// unset = calibrated before timing (1.5 x the samples/s of an untimed query).
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    #[arg(long, value_name = "MS")]
    pub min_duration_ms: Option<i64>,
    #[arg(long, value_name = "MS")]
    pub max_duration_ms: Option<i64>,
    #[arg(long, value_name = "N")]
    pub min_query_count: Option<i64>,
    #[arg(long, value_name = "N")]
    pub max_query_count: Option<i64>,
    #[arg(long, value_name = "N")]
    pub performance_sample_count: Option<i64>,
    #[arg(long, value_name = "N")]
    pub total_sample_count: Option<i64>,
    #[arg(long, value_name = "SEED")]
    pub qsl_rng_seed: Option<u64>,
    #[arg(long, value_name = "SEED")]
    pub sample_index_rng_seed: Option<u64>,
    /// SingleStream target percentile, e.g. 90 or 0.9.
    #[arg(long, value_name = "P")]
    pub target_percentile: Option<f64>,
    /// Sizes the Offline query (1.1 x min_duration x QPS samples). Unset: measured
    /// before timing by an untimed query, x1.5, and shown as calibrated.
    #[arg(long, value_name = "QPS")]
    pub offline_expected_qps: Option<f64>,
    /// Untimed warm-up queries before each scenario.
    #[arg(long, value_name = "N")]
    pub warmup_queries: Option<i64>,
    /// Untimed warm-up duration before each scenario (instead of a count).
    #[arg(long, value_name = "MS")]
    pub warmup_ms: Option<i64>,
    /// Latency store reserved before timing (12 bytes a query; default 1048576).
    /// A SingleStream run that fills it ends there (INVALID if rules unmet).
    #[arg(long, value_name = "N")]
    pub max_stored_queries: Option<i64>,
}
}

impl RawSettings {
    /// Reads a TOML file; unknown keys are errors so typos are caught.
    pub fn from_file(path: &Path) -> Result<RawSettings, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text).map_err(|e| SettingsError::Toml {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Parses TOML text; the error text carries line and column.
    pub fn from_toml(text: &str) -> Result<RawSettings, TomlError> {
        toml::from_str(text).map_err(TomlError)
    }

    /// `self` with every value set in `top` replaced by it (flags over file).
    pub fn overlay(mut self, top: RawSettings) -> RawSettings {
        // A warm-up given on top replaces the other kind given below.
        if top.warmup_queries.is_some() || top.warmup_ms.is_some() {
            self.warmup_queries = None;
            self.warmup_ms = None;
        }
        self.take_set_fields(top);
        self
    }
}

/// Settings TOML that does not parse, or has an unknown key: toml's message
/// (with line and column) without its trailing newline.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", .0.to_string().trim_end())]
pub struct TomlError(pub toml::de::Error);

/// Three per-channel values (R, G, B): `0.5,0.5,0.5` or `0.5` on the command
/// line; `[0.5, 0.5, 0.5]`, `0.5` or the same strings in TOML.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Channels(pub [f32; 3]);

impl Channels {
    fn from_values(v: &[f32]) -> Result<Channels, ChannelsError> {
        match *v {
            [x] => Ok(Channels([x; 3])),
            [r, g, b] => Ok(Channels([r, g, b])),
            _ => Err(ChannelsError::Count(v.len())),
        }
    }
}

/// Why a `--mean`/`--std` value is not one or three numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelsError {
    #[error("{0:?} is not a number")]
    NotANumber(String),
    #[error("expected one value or three (R,G,B), got {0}")]
    Count(usize),
}

impl std::str::FromStr for Channels {
    type Err = ChannelsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let v = s
            .split(',')
            .map(|x| {
                x.trim()
                    .parse::<f32>()
                    .map_err(|_| ChannelsError::NotANumber(x.to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Channels::from_values(&v)
    }
}

impl<'de> Deserialize<'de> for Channels {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            One(f32),
            Many(Vec<f32>),
            Text(String),
        }
        match Form::deserialize(d)? {
            Form::One(x) => Ok(Channels([x; 3])),
            Form::Many(v) => Channels::from_values(&v),
            Form::Text(s) => s.parse(),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// A centre crop's size: `224` (square) or `224x192` (width x height), as a
/// flag or a TOML string; an integer in TOML too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropSize {
    pub width: u32,
    pub height: u32,
}

impl std::str::FromStr for CropSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let num = |x: &str| {
            x.trim()
                .parse::<u32>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("expected N or WxH with positive integers, got {s:?}"))
        };
        match s.split_once(['x', 'X']) {
            Some((w, h)) => Ok(CropSize {
                width: num(w)?,
                height: num(h)?,
            }),
            None => num(s).map(|n| CropSize {
                width: n,
                height: n,
            }),
        }
    }
}

impl<'de> Deserialize<'de> for CropSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Square(u32),
            Text(String),
        }
        match Form::deserialize(d)? {
            Form::Square(n) => n.to_string().parse(),
            Form::Text(s) => s.parse(),
        }
        .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        raw: RawSettings,
    }

    fn flags(args: &[&str]) -> RawSettings {
        Flags::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
            .unwrap()
            .raw
    }

    #[test]
    fn a_flag_and_its_toml_key_give_the_same_value() {
        let from_flags = flags(&[
            "--min-duration-ms",
            "5",
            "--input-shape",
            "x=1,3,8,8",
            "--input-shape",
            "y=1",
            "--trace",
            "--mean",
            "0.5,0.25,0",
            "--std",
            "127.5",
            "--resize",
            "300",
            "--crop",
            "256x224",
            "--crop-rounding",
            "truncate",
        ]);
        let from_toml = RawSettings::from_toml(
            "min_duration_ms = 5\ninput_shape = [\"x=1,3,8,8\", \"y=1\"]\ntrace = true\n\
             mean = [0.5, 0.25, 0.0]\nstd = 127.5\nresize = 300\ncrop = \"256x224\"\n\
             crop_rounding = \"truncate\"",
        )
        .unwrap();
        assert_eq!(from_flags, from_toml);
        assert_eq!(from_flags.crop.unwrap().width, 256);
        assert_eq!(flags(&[]), RawSettings::default());
    }

    #[test]
    fn overlay_takes_every_field_set_on_top() {
        let file = RawSettings::from_toml("crop = 224\nresize = 256\nwarmup_ms = 5").unwrap();
        let top = RawSettings::from_toml("resize = 300\nwarmup_queries = 2").unwrap();
        let o = file.overlay(top);
        assert_eq!(o.resize, Some(300));
        assert_eq!(
            o.crop,
            Some(CropSize {
                width: 224,
                height: 224
            })
        );
        assert_eq!((o.warmup_queries, o.warmup_ms), (Some(2), None));
    }

    #[test]
    fn bad_channel_and_crop_values_are_errors() {
        for bad in [
            "mean = [1.0, 2.0]",
            "crop = \"0\"",
            "crop = \"ax3\"",
            "std = \"z\"",
        ] {
            assert!(RawSettings::from_toml(bad).is_err(), "{bad}");
        }
        assert!(
            Flags::try_parse_from(["x", "--crop-rounding", "up"]).is_err(),
            "unknown rounding"
        );
    }
}
