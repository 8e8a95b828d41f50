//! edgemark: benchmark ML inference on the edge box itself, following the MLPerf
//! LoadGen rules for SingleStream and Offline.
//!
//! Data flows one way: `settings` (config + flags) -> `plan` (validated) ->
//! `loadgen` (scenario engine driving a `sut`, with `probe`s alongside) ->
//! `stats` -> `record` -> `export`/report. `run::execute` is that pipeline, shared by
//! the CLI and the daemon.

pub mod boards;
pub mod cli;
pub mod gendoc;
pub mod loadgen;
pub mod plan;
pub mod run;
pub mod stats;
pub mod sut;
pub mod version;
