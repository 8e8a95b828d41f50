//! `edgemark stats`: latency file -> LoadGen statistics -> print.

use std::io::Write;

use super::{CommandError, CommandResult};
use crate::cli::StatsArgs;
use crate::report::{run_json as json, terminal as summary};
use crate::{latency_file, stats};

pub fn command(args: &StatsArgs) -> CommandResult {
    let latencies = latency_file::read(&args.file).map_err(CommandError::usage)?;
    let st = stats::latency_stats(&latencies, args.percentile).map_err(CommandError::usage)?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        writeln!(stdout, "{}", json::stats_json(&st)).map_err(CommandError::runtime)
    } else {
        summary::write_stats(&mut stdout, &st).map_err(CommandError::runtime)
    }
}
