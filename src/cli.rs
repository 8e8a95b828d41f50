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

// Parsed once per process: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a benchmark (SingleStream and/or Offline) and print a summary.
    Run(RunArgs),
    /// Print LoadGen's statistics for latencies from any source.
    Stats(StatsArgs),
    /// List a TFLite model's inputs, outputs and operators, and which ones edgemark can run.
    Inspect(InspectArgs),
    /// Run one inference on .npy inputs and write the outputs as .npy (check a model).
    Infer(InferArgs),
    /// Turn result records (files or directories, recursive) into a table or an export format.
    Report(crate::report::ReportArgs),
    /// Serve benchmark jobs from the spool directory (the systemd service).
    Daemon(DaemonArgs),
    /// Queue a job file (same keys as `run --config`) for the daemon.
    Submit(SubmitArgs),
    /// Show queued, running and finished daemon jobs and the latest results.
    Status(StatusArgs),
    /// List the built-in board profiles (or print one) and show which one this box is.
    Boards(BoardsArgs),
    /// Check that a program speaks the SUT protocol (docs/sut-protocol.md):
    /// handshake, queries, and the errors it must refuse.
    SutCheck(SutCheckArgs),
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
pub struct SutCheckArgs {
    /// Seconds any one answer may take (the hello includes the model load).
    #[arg(long, value_name = "S", default_value_t = 60)]
    pub timeout: u64,
    /// pipe (default) or socketpair.
    #[arg(long, value_name = "KIND", default_value = "pipe")]
    pub transport: String,
    /// The SUT program and its arguments.
    #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true, value_name = "PROGRAM")]
    pub command: Vec<String>,
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
    /// lognormal:MEDIAN_MS,SIGMA, exp:MEAN_MS, uniform:LO_MS,HI_MS), or an
    /// external SUT `'exec:PROGRAM ARGS...'` speaking the SUT protocol
    /// (docs/sut-protocol.md), one argument split into words like a shell does.
    #[arg(long, value_name = "SUT", allow_hyphen_values = true)]
    pub sut: Option<crate::sut::exec::spec::SutWords>,
    /// Per-query timeout of an exec: SUT in ms (default 10000): a query without
    /// an answer this long is a hang; the SUT is killed and the run INVALID.
    #[arg(long, value_name = "MS")]
    pub sut_timeout_ms: Option<u64>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub data: DataArgs,
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
    /// Board profile whose defaults apply (per-scenario cores): auto (detect,
    /// the default), none, or a name from `edgemark boards`.
    #[arg(long, value_name = "NAME")]
    pub board: Option<String>,
    /// Root of the filesystem to read sysfs/procfs from (tests use fixture trees).
    #[arg(long, value_name = "DIR", default_value = "/", hide = true)]
    pub root: PathBuf,
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
    /// Cores to pin both scenarios to, e.g. 0-3 or 4,5,6,7 (`all`: no pinning).
    /// Default: the board profile's cores for each scenario.
    #[arg(long, value_name = "LIST")]
    pub cpus: Option<String>,
}

/// Accuracy mode and real input data.
#[derive(Debug, Args, Clone, Default)]
pub struct DataArgs {
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
    /// Image preprocessing: imagenet-torch (default), imagenet-tf or raw-u8.
    #[arg(long, value_name = "PRESET")]
    pub preprocess: Option<String>,
}

/// LoadGen settings, by LoadGen's names. Unset = the preset's value.
#[derive(Debug, Args, Clone, Default)]
pub struct SettingsArgs {
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

#[derive(Debug, Args, Clone)]
pub struct InspectArgs {
    /// The .tflite model file.
    pub model: PathBuf,
}

/// Flags of `edgemark infer`.
#[derive(Debug, Args, Clone)]
pub struct InferArgs {
    /// ONNX or TFLite model file.
    pub model: PathBuf,
    /// One .npy file per model input, in the model's input order.
    #[arg(long = "input", value_name = "FILE", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Where the outputs are written, one NAME.npy per output.
    #[arg(long, value_name = "DIR")]
    pub output_dir: PathBuf,
    /// Fix a dynamic input shape: name=1,3,224,224 (repeatable).
    #[arg(long = "input-shape", value_name = "NAME=DIMS")]
    pub input_shape: Vec<String>,
    /// Class names, one per line (line i names class i), for the top-5.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct DaemonArgs {
    /// Daemon config (spool, results, cooldown, schedule) [default: /etc/edgemark/edgemark.toml, optional].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Root of the filesystem to read sysfs/procfs from (overrides the config's `root`).
    #[arg(long, value_name = "DIR", hide = true)]
    pub root: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct SubmitArgs {
    /// Job file: a TOML with the same keys as `edgemark run --config`.
    pub job: PathBuf,
    /// Spool directory to queue into [default: the config's state_dir + /jobs].
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,
    /// Daemon config to find the spool in [default: /etc/edgemark/edgemark.toml].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct StatusArgs {
    /// Daemon config [default: /etc/edgemark/edgemark.toml].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// State directory holding jobs/ running/ done/ failed/ (overrides the config).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Results directory (overrides the config).
    #[arg(long, value_name = "DIR")]
    pub results: Option<PathBuf>,
    /// How many finished jobs and result files to list.
    #[arg(long, value_name = "N", default_value = "10")]
    pub last: usize,
}
