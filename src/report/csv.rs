//! CSV (RFC 4180): a header and one line per record; empty cells for absent
//! figures; warnings joined with " | ".

use super::Row;

const HEADER: &str = "path,host,board,model,scenario,mode,preset,started,run_id,metric_name,metric_value,validity,invalid_reasons,p90_ns,early_stopping_p90_ns,mean_ns,query_count,samples_per_second,cores,samples_per_second_per_core,average_watts,samples_per_second_per_watt,inferences_per_joule,temperature_max_celsius,warnings,dataset,preprocess,accuracy_samples,accuracy_scored,accuracy_failed,top1,top5,top1_fraction,top5_fraction,estimated_watts,estimated_samples_per_second_per_watt";

/// Quotes a field when it holds a comma, quote or line break.
pub fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

pub fn render(rows: &[Row]) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    for r in rows {
        let cols = [
            field(&r.path),
            field(&r.host),
            field(&r.board),
            field(&r.model),
            r.scenario.to_string(),
            r.mode.to_string(),
            field(&r.preset),
            r.started.clone(),
            r.run_id.clone(),
            r.metric_name.to_string(),
            opt(r.metric_value),
            match r.valid {
                Some(true) => "VALID",
                Some(false) => "INVALID",
                None => "",
            }
            .to_string(),
            field(&r.invalid_reasons.join(" | ")),
            opt(r.p90_ns),
            opt(r.early_stopping_p90_ns),
            opt(r.mean_ns),
            opt(r.query_count),
            opt(r.samples_per_second),
            r.cores.to_string(),
            opt(r.samples_per_second_per_core),
            opt(r.average_watts),
            opt(r.samples_per_second_per_watt),
            opt(r.inferences_per_joule),
            opt(r.temperature_max_celsius),
            field(&r.warnings.join(" | ")),
            field(r.dataset.as_deref().unwrap_or("")),
            field(r.preprocess.as_deref().unwrap_or("")),
            opt(r.accuracy_samples),
            opt(r.accuracy_scored),
            field(&r.accuracy_failed.join(" | ")),
            opt(r.top1),
            opt(r.top5),
            opt(r.top1_fraction),
            opt(r.top5_fraction),
            opt(r.estimated_watts),
            opt(r.estimated_samples_per_second_per_watt),
        ];
        out.push_str(&cols.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::example_record;
    use std::path::Path;

    #[test]
    fn quoting() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn columns_line_up_with_the_header() {
        let mut r = example_record(0);
        r.host.board = Some("Board, with comma".into());
        let text = render(&[Row::new(0, Path::new("x.emrec"), &r)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let n_header = lines[0].split(',').count();
        // One quoted comma inside the board name.
        assert_eq!(lines[1].split(',').count(), n_header + 1, "{text}");
        assert!(lines[1].contains("\"Board, with comma\""));
        assert!(
            lines[1].contains(",INVALID,early stopping not met | SUT error,11000000,11100000,"),
            "{text}"
        );
    }
}
