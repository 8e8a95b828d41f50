//! Raw command-line arguments (clap). Stage one of two: these are turned into a
//! validated [`Plan`](crate::plan::Plan) by `settings`; nothing here is trusted yet.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "edgemark",
    version,
    long_version = crate::version::long_version(),
    about = "Benchmark ML inference on this box, the MLPerf LoadGen way"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size gap between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a benchmark (SingleStream and/or Offline) and print a summary.
    Run(RunArgs),
    /// Print LoadGen's statistics for latencies from any source.
    Stats(StatsArgs),
    /// List the built-in board profiles (or print one) and show which one this box is.
    Boards(BoardsArgs),
    /// Write shell completions or the man page (used by scripts/dist.sh).
    #[command(hide = true)]
    Generate(GenerateArgs),
}

#[derive(Debug, Args, Clone)]
pub struct BoardsArgs {
    /// Print this profile's full TOML instead of the list.
    pub name: Option<String>,
    /// Root of the filesystem to detect the board from (tests use fixture trees).
    #[arg(long, value_name = "DIR", default_value = "/", hide = true)]
    pub root: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct GenerateArgs {
    /// `completions` (bash, zsh, fish, elvish, powershell) or `man`.
    #[arg(value_parser = ["completions", "man"])]
    pub what: String,
    /// Directory to write the files into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Flags of `edgemark run`; the same keys as a TOML config/job file.
#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// TOML file with the same keys as these flags (flags win).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// System under test: `synthetic:SPEC` (null, busy:MS, sleep:MS,
    /// lognormal:MEDIAN_MS,SIGMA, exp:MEAN_MS, uniform:LO_MS,HI_MS).
    #[arg(long, value_name = "SUT")]
    pub sut: Option<String>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// single-stream, offline or both.
    #[arg(long, value_name = "SCENARIO")]
    pub scenario: Option<String>,
    /// Print one JSON object instead of the human summary.
    #[arg(long)]
    pub json: bool,
    /// Keep issued sample indices and per-sample latencies in the output and record.
    #[arg(long)]
    pub trace: bool,
    /// Directory for result records.
    #[arg(long, value_name = "DIR")]
    pub results: Option<PathBuf>,
    /// Root of the filesystem to read sysfs/procfs from (tests use fixture trees).
    #[arg(long, value_name = "DIR", default_value = "/", hide = true)]
    pub root: PathBuf,
    /// Board profile whose defaults apply: `auto` detects it, or a name from `edgemark boards`.
    #[arg(long, value_name = "NAME")]
    pub board: Option<String>,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// The model and how to run it (tract backend).
#[derive(Debug, Args, Clone, Default)]
pub struct ModelArgs {
    /// ONNX or TFLite model file. Without it (and without --sut) the built-in model runs.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Fix a dynamic input shape: name=1,3,224,224 (repeatable).
    #[arg(long = "input-shape", value_name = "NAME=DIMS")]
    pub input_shape: Vec<String>,
    /// .npy input files or a folder of them (default: seeded random tensors).
    #[arg(long, value_name = "PATH")]
    pub inputs: Vec<PathBuf>,
    /// Offline model instances on worker threads (default: one per online core).
    #[arg(long, value_name = "N")]
    pub instances: Option<u32>,
    /// Intra-op threads per instance.
    #[arg(long, value_name = "N")]
    pub threads: Option<u32>,
    /// Cores to pin to, e.g. 0-3 or 4,5,6,7.
    #[arg(long, value_name = "LIST")]
    pub cpus: Option<String>,
}

/// LoadGen settings, by LoadGen's names. Unset = the preset's value.
#[derive(Debug, Args, Clone, Default)]
pub struct SettingsArgs {
    /// Preset the settings start from: official or quick.
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
    #[arg(long, value_name = "QPS")]
    pub offline_expected_qps: Option<f64>,
    /// Untimed warm-up queries before each scenario.
    #[arg(long, value_name = "N")]
    pub warmup_queries: Option<i64>,
    /// Untimed warm-up duration before each scenario (instead of a count).
    #[arg(long, value_name = "MS")]
    pub warmup_ms: Option<i64>,
}

#[derive(Debug, Args, Clone)]
pub struct StatsArgs {
    /// Latencies: one integer ns per line, or a JSON array.
    pub file: PathBuf,
    /// Target percentile (e.g. 90 or 0.9).
    #[arg(long, default_value = "90")]
    pub percentile: f64,
    #[arg(long)]
    pub json: bool,
}
