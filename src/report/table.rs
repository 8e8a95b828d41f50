//! The human table: one row per record, optional group headings, and the
//! warnings listed under the table by row number.

use super::{Key, Row, human_ns};

const HEADERS: [&str; 16] = [
    "#",
    "host",
    "board",
    "model",
    "scenario",
    "metric",
    "validity",
    "p90",
    "samples/s",
    "top-1",
    "top-5",
    "/core",
    "W",
    "inf/J",
    "temp max",
    "warn",
];

fn cells(n: usize, r: &Row) -> Vec<String> {
    let opt = |v: Option<f64>, digits: usize| {
        v.map_or_else(|| "-".to_string(), |x| format!("{x:.digits$}"))
    };
    let metric = match (r.valid, r.scenario) {
        (None, _) => r
            .top1_fraction
            .map_or_else(|| "top-1 -".into(), |f| format!("top-1 {:.1}%", 100.0 * f)),
        (Some(_), "SingleStream") => match (r.early_stopping_p90_ns, r.p90_ns) {
            (Some(ns), _) => format!("p90es {}", human_ns(ns)),
            (None, Some(ns)) => format!("p90 {}", human_ns(ns)),
            (None, None) => "-".into(),
        },
        (Some(_), _) => opt(r.samples_per_second, 2) + " /s",
    };
    let frac = |n: Option<u64>| match (n, r.accuracy_scored) {
        (Some(n), Some(d)) if d > 0 => format!("{n}/{d} {:.1}%", 100.0 * n as f64 / d as f64),
        _ => "-".into(),
    };
    vec![
        n.to_string(),
        r.host.clone(),
        if r.board.is_empty() {
            "-".into()
        } else {
            r.board.clone()
        },
        r.model.clone(),
        r.scenario.to_string(),
        metric,
        match r.valid {
            Some(true) => "VALID".into(),
            Some(false) => "INVALID".into(),
            None => "-".into(),
        },
        r.p90_ns.map_or_else(|| "-".into(), human_ns),
        opt(r.samples_per_second, 2),
        frac(r.top1),
        frac(r.top5),
        opt(r.samples_per_second_per_core, 2),
        // An estimate is never shown as a measurement: "~6.40 est".
        match (r.average_watts, r.estimated_watts) {
            (Some(w), _) => format!("{w:.2}"),
            (None, Some(w)) => format!("~{w:.2} est"),
            (None, None) => "-".into(),
        },
        match (
            r.inferences_per_joule,
            r.estimated_samples_per_second_per_watt,
        ) {
            (Some(x), _) => format!("{x:.2}"),
            (None, Some(x)) => format!("~{x:.2} est"),
            (None, None) => "-".into(),
        },
        r.temperature_max_celsius
            .map_or_else(|| "-".into(), |t| format!("{t:.1} °C")),
        r.warnings.len().to_string(),
    ]
}

fn grid(rows: &[(usize, &Row)]) -> String {
    let body: Vec<Vec<String>> = rows.iter().map(|(n, r)| cells(*n, r)).collect();
    let mut width: Vec<usize> = HEADERS.iter().map(|h| h.chars().count()).collect();
    for row in &body {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: &[String]| {
        let mut s = String::new();
        for (i, (c, w)) in cols.iter().zip(&width).enumerate() {
            let pad = w - c.chars().count();
            // Text left, numbers right.
            if matches!(i, 0 | 7..=15) {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            }
            s.push_str("  ");
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(&HEADERS.map(String::from));
    for row in &body {
        out.push_str(&line(row));
    }
    out
}

pub fn render(rows: &[Row], group_by: Option<Key>) -> String {
    if rows.is_empty() {
        return "no records\n".to_string();
    }
    let numbered: Vec<(usize, &Row)> = rows.iter().enumerate().map(|(i, r)| (i + 1, r)).collect();
    let mut out = String::new();
    match group_by {
        None => out.push_str(&grid(&numbered)),
        Some(k) => {
            let mut start = 0;
            while start < numbered.len() {
                let label = numbered[start].1.group_label(k);
                let end = numbered[start..]
                    .iter()
                    .position(|(_, r)| r.group_label(k) != label)
                    .map_or(numbered.len(), |p| start + p);
                out.push_str(&format!("== {}: {label} ==\n", k.name()));
                out.push_str(&grid(&numbered[start..end]));
                out.push('\n');
                start = end;
            }
        }
    }
    if rows.iter().any(|r| r.average_watts.is_some()) {
        out.push_str(
            "W and inf/J are informative: board or package energy sensors over the sampled span.\n",
        );
    }
    if rows.iter().any(|r| r.estimated_watts.is_some()) {
        out.push_str(
            "\"~... est\": no power sensor; estimated from the board profile's nominal power under load, not measured.\n",
        );
    }
    let warned: Vec<&(usize, &Row)> = numbered
        .iter()
        .filter(|(_, r)| {
            !r.warnings.is_empty() || r.valid == Some(false) || !r.accuracy_failed.is_empty()
        })
        .collect();
    if !warned.is_empty() {
        out.push_str("\nnotes:\n");
        for (n, r) in warned {
            if r.valid == Some(false) {
                out.push_str(&format!(
                    "  [{n}] INVALID: {}\n",
                    r.invalid_reasons.join("; ")
                ));
            }
            if !r.accuracy_failed.is_empty() {
                out.push_str(&format!(
                    "  [{n}] accuracy: failed samples (counted wrong): {}\n",
                    r.accuracy_failed.join(", ")
                ));
            }
            for w in &r.warnings {
                out.push_str(&format!("  [{n}] warning: {w}\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::example_record;
    use std::path::Path;

    #[test]
    fn table_has_one_row_per_record_and_lists_notes() {
        let a = example_record(1);
        let mut b = example_record(2);
        b.host.hostname = "jetson".into();
        b.warnings.clear();
        b.accuracy = None;
        let res = b.result.as_mut().unwrap();
        res.valid = true;
        res.invalid_reasons.clear();
        let rows = vec![
            Row::new(0, Path::new("a.emrec"), &a),
            Row::new(0, Path::new("b.emrec"), &b),
        ];
        let t = render(&rows, None);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("#  host"), "{t}");
        assert!(
            lines[1].contains("pi4-lab")
                && lines[1].contains("INVALID")
                && lines[1].contains("p90es 11.100 ms"),
            "{t}"
        );
        assert!(
            lines[2].contains("jetson") && lines[2].contains("VALID"),
            "{t}"
        );
        assert!(
            t.contains("[1] INVALID: early stopping not met; SUT error"),
            "{t}"
        );
        assert!(t.contains("[1] warning: CPU frequency changed"), "{t}");
        assert!(!t.contains("[2]"), "{t}");
        // Accuracy next to speed: a's record carries 13/15, b's none.
        assert!(
            lines[0].contains("top-1") && lines[0].contains("top-5"),
            "{t}"
        );
        assert!(
            lines[1].contains("13/15 86.7%") && lines[1].contains("14/15 93.3%"),
            "{t}"
        );
        assert!(
            t.contains("[1] accuracy: failed samples (counted wrong): broken.jpg"),
            "{t}"
        );

        let g = render(&rows, Some(Key::Host));
        assert!(
            g.contains("== host: pi4-lab ==") && g.contains("== host: jetson =="),
            "{g}"
        );
    }
}
