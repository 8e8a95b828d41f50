//! JSON: `{"records": [row...], "bad": [{"path", "error"}], "comparisons":
//! [group...]}`, one object per record with the same fields as the CSV
//! (numbers as numbers, null when absent), and the model variants side by side.

use serde::Serialize;

use super::compare::JsonGroup;
use super::{BadFile, Row};

#[derive(Serialize)]
struct Report<'a> {
    records: &'a [Row],
    bad: &'a [BadFile],
    comparisons: &'a [JsonGroup],
}

pub fn render(rows: &[Row], bad: &[BadFile], comparisons: &[JsonGroup]) -> String {
    // Rows hold only strings, numbers and options: serialising cannot fail.
    let mut s = serde_json::to_string_pretty(&Report {
        records: rows,
        bad,
        comparisons,
    })
    .unwrap_or_default();
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
        let v: serde_json::Value = serde_json::from_str(&render(&rows, &bad, &[])).unwrap();
        assert_eq!(v["records"][0]["host"], "pi4-lab");
        assert_eq!(v["records"][0]["early_stopping_p90_ns"], 11_100_000);
        assert_eq!(v["records"][0]["valid"], false);
        assert_eq!(v["bad"][0]["path"], "b.emrec");
        assert_eq!(v["bad"][0]["error"], "empty file (0 bytes)");
        assert_eq!(v["records"][0]["top1"], 13);
        // serde_json's default float parsing may differ in the last bit.
        let f = v["records"][0]["top5_fraction"].as_f64().unwrap();
        assert!((f - 14.0 / 15.0).abs() < 1e-12, "{f}");
        assert_eq!(v["records"][0]["accuracy_failed"][0], "broken.jpg");
        assert_eq!(v["comparisons"], serde_json::json!([]));
    }
}
