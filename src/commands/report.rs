//! `edgemark report PATH...`: records -> rows -> one format on stdout (or
//! LoadGen's files under --out).

use super::{CommandError, CommandResult, ErrorKind};
use crate::cli::ReportArgs;
use crate::record::Record;
use crate::report::{
    Format, collect, compare, csv, engines, html, hyperfine, json, mlperf, prom, rows, table,
    write_whole,
};

/// Fails (exit 1) if any input was bad or output could not be written; the
/// reasons are printed as they are found.
pub fn command(args: &ReportArgs) -> CommandResult {
    let c = collect(&args.paths);
    for b in &c.bad {
        eprintln!(
            "edgemark report: bad record {}: {}",
            b.path.display(),
            b.error
        );
    }
    let rows = rows(&c, args.group_by, args.sort, args.reverse);
    let mut failed = !c.bad.is_empty();
    let variants = compare::groups(&c.good, args.baseline.as_deref());
    let out = match args.format {
        Format::Table => {
            let mut t = table::render(&rows, args.group_by);
            if !variants.is_empty() {
                t.push_str("\nmodel variants side by side (candidate vs baseline):\n\n");
                t.push_str(&compare::render(&variants));
            }
            let engines = engines::groups(&c.good);
            if !engines.is_empty() {
                t.push_str("\nengines side by side (ratios against the first engine):\n\n");
                t.push_str(&engines::render(&engines));
            }
            Ok(t)
        }
        Format::Csv => Ok(csv::render(&rows)),
        Format::Json => Ok(json::render(
            &rows,
            &c.bad,
            &compare::json_groups(&variants),
        )),
        Format::Hyperfine => {
            let ordered: Vec<&Record> = rows.iter().map(|row| &c.good[row.index].1).collect();
            Ok(hyperfine::render(&ordered))
        }
        Format::Prom => Ok(prom::render(&c.good)),
        Format::Mlperf => mlperf::write_all(
            args.out
                .as_deref()
                .unwrap_or(std::path::Path::new("edgemark-mlperf")),
            &c.good,
        ),
        Format::Html => {
            let page = html::render(&c.good, &rows, &c.bad, &variants);
            match &args.out {
                Some(path) => write_whole(path, &page).map(|()| String::new()),
                None => Ok(page),
            }
        }
    };
    match out {
        Ok(text) => print!("{text}"),
        Err(e) => {
            eprintln!("edgemark report: {e}");
            failed = true;
        }
    }
    if failed {
        if !c.bad.is_empty() {
            eprintln!(
                "edgemark report: {} bad file(s), {} record(s) reported",
                c.bad.len(),
                c.good.len()
            );
        }
        Err(CommandError::reported(ErrorKind::Runtime))
    } else {
        Ok(())
    }
}
