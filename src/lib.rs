//! edgemark: benchmark ML inference on the edge box itself, following the MLPerf
//! LoadGen rules for SingleStream and Offline.
//!
//! Data flows one way: `settings` (config + flags) -> `plan` (validated) ->
//! `loadgen` (scenario engine driving a `sut`, with `probe`s alongside) ->
//! `stats` -> `record` -> `export`/report. `run::execute` is that pipeline, shared by
//! the CLI and the daemon.

pub mod accuracy;
pub mod boards;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod daemon;
pub mod dataset;
pub mod engine;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod latency_file;
pub mod loadgen;
pub mod npy;
pub mod plan;
pub mod probe;
pub mod progress;
pub mod record;
pub mod report;
pub mod rng;
pub mod run;
pub mod settings;
pub mod stats;
pub mod sut;
pub mod version;
