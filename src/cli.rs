//! Raw command-line arguments (clap). Stage one of two: these are turned into a
//! validated [`Plan`](crate::plan::Plan) by `settings`; nothing here is trusted yet.
//! `edgemark run`'s settings are `settings::RawSettings`, flattened in.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::settings::RawSettings;

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
    /// Time each operator of a model's optimised plan (where does the time go on this box?).
    Profile(ProfileArgs),
    /// Turn result records (files or directories, recursive) into a table or an export format.
    Report(ReportArgs),
    /// Serve benchmark jobs from the spool directory (the systemd service).
    Daemon(DaemonArgs),
    /// Queue a job file (same keys as `run --config`) for the daemon.
    Submit(SubmitArgs),
    /// Show queued, running and finished daemon jobs and the latest results.
    Status(StatusArgs),
    /// Ask a running daemon to re-read its config (SIGHUP; the unit's ExecReload=).
    Reload(ReloadArgs),
    /// List the built-in board profiles (or print one) and show which one this box is.
    Boards(BoardsArgs),
    /// Check that a program speaks the SUT protocol (docs/sut-protocol.md):
    /// handshake, queries, and the errors it must refuse.
    SutCheck(SutCheckArgs),
    /// Write shell completions or the man page (used by scripts/dist.sh).
    #[command(hide = true)]
    Generate(GenerateArgs),
    /// Run one daemon job (the daemon starts this; request on stdin, report on stdout).
    #[command(hide = true, name = "job-worker")]
    JobWorker(JobWorkerArgs),
}

#[derive(Debug, Args, Clone)]
pub struct JobWorkerArgs {
    /// The job's spool id (for `ps` and the logs; the request names it too).
    pub id: String,
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
    /// pipe (default), socketpair or spin (docs/sut-protocol.md).
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

/// Flags of `edgemark run`: the settings (the same keys as a TOML config/job
/// file, defined once in [`RawSettings`]) plus what only a command line has.
#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// TOML file with the same keys as these flags (flags win).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub settings: RawSettings,
    /// Print one JSON object instead of the human summary.
    #[arg(long)]
    pub json: bool,
    /// Print LoadGen's full summary text (mlperf_log_summary.txt) per scenario
    /// instead of the short answer-first summary.
    #[arg(long)]
    pub mlperf_summary: bool,
    /// Directory for result records.
    #[arg(long, value_name = "DIR")]
    pub results: Option<PathBuf>,
    /// Root of the filesystem to read sysfs/procfs from (tests use fixture trees).
    #[arg(long, value_name = "DIR", default_value = "/", hide = true)]
    pub root: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    /// Record files or directories (searched recursively for *.emrec).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: crate::report::Format,
    /// Group rows by this key (groups come in sorted order).
    #[arg(long, value_enum, value_name = "KEY")]
    pub group_by: Option<crate::report::Key>,
    /// Sort rows (within groups) by this key.
    #[arg(long, value_enum, default_value = "time", value_name = "KEY")]
    pub sort: crate::report::Key,
    /// Reverse the sort order.
    #[arg(long)]
    pub reverse: bool,
    /// The baseline model file name for the side-by-side comparison of model
    /// variants (default: the fp32/float variant of each family).
    #[arg(long, value_name = "MODEL")]
    pub baseline: Option<String>,
    /// Where the output goes: the mlperf format's directory of per-record
    /// folders (default edgemark-mlperf), the html format's file (default:
    /// stdout).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

/// Flags of `edgemark profile`.
#[derive(Debug, Args, Clone)]
pub struct ProfileArgs {
    /// ONNX or TFLite model file (default: the built-in model).
    pub model: Option<PathBuf>,
    /// Profiled runs (each alternates with one plain run).
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub runs: u32,
    /// Intra-op threads.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: u32,
    /// Fix a dynamic input shape: name=1,3,224,224 (repeatable).
    #[arg(long = "input-shape", value_name = "NAME=DIMS")]
    pub input_shape: Vec<String>,
    /// Print JSON instead of the tables.
    #[arg(long)]
    pub json: bool,
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
    /// One JSON object (queued, running, finished with records, results) for scripts.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ReloadArgs {
    /// Process id of the running `edgemark daemon` (systemd passes $MAINPID).
    pub pid: i32,
}
