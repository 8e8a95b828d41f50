//! edgemark: benchmark ML inference on the edge box itself, following the MLPerf
//! LoadGen rules for SingleStream and Offline.
//!
//! Data flows one way: `settings` (config + flags) -> `plan` (validated) ->
//! `loadgen` (scenario engine driving a `sut`, with `probe`s alongside) ->
//! `stats` -> `record` -> `report` (every renderer). `run::execute` is that
//! pipeline, shared by the CLI (`commands`) and the daemon.
//!
//! Layers, bottom to top: a module uses only modules of its own layer or
//! below, and no two modules use each other (checked by `tests/layers.rs`).
//!
//! | layer | modules |
//! |---|---|
//! | 0 base | `version`, `rng`, `clock`, `error`, `tensor` (type + npy codec), `latency_file`, `panic_report` |
//! | 1 vocabulary | `plan`, `boards`, `warnings` |
//! | 2 data, box, engine | `dataset`, `probe`, `engine` |
//! | 3 adapters | `sut` |
//! | 4 scenario engine, scoring | `loadgen`, `accuracy` |
//! | 5 statistics | `stats`, `progress` |
//! | 6 persisted result | `record` |
//! | 7 pipeline | `run` |
//! | 8 presentation, settings | `report`, `settings` |
//! | 9 arguments | `cli` |
//! | 10 service | `daemon` |
//! | 11 entry points | `commands`, `fuzzing` |

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
pub mod panic_report;
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
pub mod tensor;
pub mod version;
pub mod warnings;
