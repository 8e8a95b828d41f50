//! JSON: `{"records": [row...], "bad": [{"path", "error"}]}`, one object per
//! record with the same fields as the CSV (numbers as numbers, null when absent).

use serde::Serialize;

use super::{BadFile, Row};

#[derive(Serialize)]
struct Report<'a> {
    records: &'a [Row],
    bad: &'a [BadFile],
}

pub fn render(rows: &[Row], bad: &[BadFile]) -> String {
    // Rows hold only strings, numbers and options: serialising cannot fail.
    let mut s = serde_json::to_string_pretty(&Report { records: rows, bad }).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::example_record;
    use std::path::{Path, PathBuf};

    #[test]
    fn records_and_bad_files() {
        let rows = vec![Row::new(0, Path::new("a.emrec"), &example_record(0))];
        let bad = vec![BadFile {
            path: PathBuf::from("b.emrec"),
            error: "empty file (0 bytes)".into(),
        }];
        let v: serde_json::Value = serde_json::from_str(&render(&rows, &bad)).unwrap();
        assert_eq!(v["records"][0]["host"], "pi4-lab");
        assert_eq!(v["records"][0]["early_stopping_p90_ns"], 11_100_000);
        assert_eq!(v["records"][0]["valid"], false);
        assert_eq!(v["bad"][0]["path"], "b.emrec");
        assert_eq!(v["bad"][0]["error"], "empty file (0 bytes)");
    }
}
