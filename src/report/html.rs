//! `report --format html --out FILE`: one self-contained page (inline CSS,
//! inline SVG, a few lines of inline JS for sorting; nothing fetched) with
//! the fleet table, per-board bars, the model-variant comparison and, per
//! record, its latency CDF (from the histogram) and its sensors over time.
//!
//! Estimated power (board profile's nominal figure, no sensor) is hatched
//! and labelled "est." wherever it appears; measured power never is.

use std::fmt::Write;
use std::path::PathBuf;

use super::compare::{self, Group};
use super::svg::{self, Bar, Frame, PALETTE, esc, short};
use super::{BadFile, Row, human_ns};
use crate::record::{PowerBasis, Quantity, Record, Scenario, SensorSeries, series::TOTAL_POWER};

const CSS: &str = "body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222}\
h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ccc}\
h3{font-size:14px;margin:18px 0 4px}table{border-collapse:collapse}\
td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;white-space:nowrap}\
td.n{text-align:right}th{background:#f3f3f3;cursor:pointer;user-select:none}\
th[data-dir=asc]::after{content:' \\25B2'}th[data-dir=desc]::after{content:' \\25BC'}\
.valid{color:#1a7f37;font-weight:600}.invalid{color:#c62828;font-weight:600}\
.est{color:#8a5a00;font-style:italic}.warn{color:#8a5a00}\
svg{display:block;margin:4px 0}svg text{font-size:11px;fill:#333}\
svg .title{font-weight:600;font-size:12px}.axis line{stroke:#555}.grid{stroke:#e3e3e3}\
polyline{stroke-width:1.5}polyline.estimated{stroke-dasharray:6 4}.band.throttle{fill:#d62728;opacity:.18}\
.band.freq-capped{fill:#ff7f0e;opacity:.15}.run{display:inline-block;vertical-align:top;\
margin-right:18px}.marker{stroke:#888;stroke-dasharray:3 3}";

const JS: &str = "document.querySelectorAll('table.sortable th').forEach(function(th,i){\
th.addEventListener('click',function(){var b=th.closest('table').tBodies[0],\
rows=Array.from(b.rows),asc=th.dataset.dir!=='asc';\
th.parentNode.querySelectorAll('th').forEach(function(h){delete h.dataset.dir});\
th.dataset.dir=asc?'asc':'desc';rows.sort(function(a,c){\
var x=a.cells[i].dataset.v,y=c.cells[i].dataset.v,r;\
if(x!==undefined&&y!==undefined){r=parseFloat(x)-parseFloat(y)}\
else{r=a.cells[i].textContent.localeCompare(c.cells[i].textContent)}\
return asc?r:-r});rows.forEach(function(r){b.appendChild(r)})})});";

/// Records on the root element how long the page took to load and lay out
/// (ms from navigation start), for the browser test to print.
const TIMING: &str = "window.addEventListener('load',function(){\
var h=document.body.offsetHeight;\
document.documentElement.dataset.renderMs=Math.round(performance.now());});";

/// The page for `records` (in `rows` order), naming `bad` files too.
pub fn render(
    records: &[(PathBuf, Record)],
    rows: &[Row],
    bad: &[BadFile],
    variants: &[Group],
) -> String {
    let mut o = String::with_capacity(64 * 1024 + records.len() * 12 * 1024);
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>edgemark fleet report</title><style>{CSS}</style></head><body>"
    );
    // The hatch estimated bars use, defined once for the whole page.
    o.push_str(r##"<svg width="0" height="0" style="position:absolute"><defs><pattern id="est-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f4d6a0"/><line x1="0" y1="0" x2="0" y2="6" stroke="#b07a1a" stroke-width="3"/></pattern></defs></svg>"##);
    let perf = rows.iter().filter(|r| r.valid.is_some()).count();
    let _ = write!(
        o,
        "<h1>edgemark fleet report</h1><p id=\"summary\">{} records ({} performance, {} accuracy) from {} hosts{}.</p>",
        rows.len(),
        perf,
        rows.len() - perf,
        {
            let mut h: Vec<&str> = rows.iter().map(|r| r.host.as_str()).collect();
            h.sort_unstable();
            h.dedup();
            h.len()
        },
        if bad.is_empty() {
            String::new()
        } else {
            format!("; {} unreadable files (listed at the end)", bad.len())
        }
    );
    if rows.iter().any(|r| r.estimated_watts.is_some()) {
        o.push_str("<p class=\"est\">Per-watt figures marked <b>est.</b> (hatched in charts) are estimated from the board profile's nominal power under load: that board had no power sensor. They are not measurements.</p>");
    }
    fleet_table(&mut o, rows);
    board_bars(&mut o, records, rows);
    variant_table(&mut o, variants);
    engine_table(&mut o, &super::engines::groups(records));
    o.push_str("<h2 id=\"runs\">Runs</h2>");
    for (n, row) in rows.iter().enumerate() {
        run_section(&mut o, n + 1, row, &records[row.index].1);
    }
    if !bad.is_empty() {
        o.push_str("<h2>Unreadable files</h2><ul id=\"bad\">");
        for b in bad {
            let _ = write!(
                o,
                "<li>{}: {}</li>",
                esc(&b.path.display().to_string()),
                esc(&b.error)
            );
        }
        o.push_str("</ul>");
    }
    let _ = writeln!(o, "<script>{JS}{TIMING}</script></body></html>");
    o
}

fn num_cell(o: &mut String, v: Option<f64>, text: &str) {
    match v {
        Some(x) => {
            let _ = write!(o, "<td class=\"n\" data-v=\"{x}\">{}</td>", esc(text));
        }
        // Missing values sort first.
        None => o.push_str("<td class=\"n\" data-v=\"-1e300\">-</td>"),
    }
}

fn fleet_table(o: &mut String, rows: &[Row]) {
    o.push_str("<h2>Fleet</h2><table id=\"fleet-table\" class=\"sortable\"><thead><tr>");
    for h in [
        "#",
        "host",
        "board",
        "model",
        "scenario",
        "validity",
        "p50",
        "p90",
        "samples/s",
        "/core",
        "W",
        "samples/s/W",
        "top-1",
        "temp max °C",
        "warnings",
    ] {
        let _ = write!(o, "<th>{}</th>", esc(h));
    }
    o.push_str("</tr></thead><tbody>");
    for (i, r) in rows.iter().enumerate() {
        fleet_row(o, i, r);
    }
    o.push_str("</tbody></table>");
}

/// One record's row of the fleet table.
fn fleet_row(o: &mut String, i: usize, r: &Row) {
    let _ = write!(
        o,
        "<tr class=\"record\" data-scenario=\"{}\">",
        esc(r.scenario)
    );
    num_cell(o, Some((i + 1) as f64), &format!("{}", i + 1));
    for t in [&r.host, &r.board, &r.model] {
        let _ = write!(o, "<td>{}</td>", esc(if t.is_empty() { "-" } else { t }));
    }
    let _ = write!(o, "<td>{}</td>", esc(r.scenario));
    match r.valid {
        Some(true) => o.push_str("<td class=\"valid\">VALID</td>"),
        Some(false) => {
            let _ = write!(
                o,
                "<td class=\"invalid\" title=\"{0}\">INVALID: {0}</td>",
                esc(&r.invalid_reasons.join("; "))
            );
        }
        None => o.push_str("<td>-</td>"),
    }
    let p50 = r.p50_ns;
    num_cell(o, p50.map(|x| x as f64), &p50.map_or("-".into(), human_ns));
    let p90 = r.early_stopping_p90_ns.or(r.p90_ns);
    num_cell(o, p90.map(|x| x as f64), &p90.map_or("-".into(), human_ns));
    num_cell(o, r.samples_per_second, &opt(r.samples_per_second));
    num_cell(
        o,
        r.samples_per_second_per_core,
        &opt(r.samples_per_second_per_core),
    );
    measured_or_estimated_cell(o, r.average_watts, r.estimated_watts);
    measured_or_estimated_cell(
        o,
        r.samples_per_second_per_watt,
        r.estimated_samples_per_second_per_watt,
    );
    num_cell(
        o,
        r.top1_fraction,
        &r.top1_fraction
            .map_or("-".into(), |f| format!("{:.1} %", 100.0 * f)),
    );
    num_cell(
        o,
        r.temperature_max_celsius,
        &opt(r.temperature_max_celsius),
    );
    if r.warnings.is_empty() {
        o.push_str("<td class=\"n\" data-v=\"0\">0</td>");
    } else {
        let _ = write!(
            o,
            "<td class=\"warn\" data-v=\"{}\" title=\"{}\">{}: {}</td>",
            r.warnings.len(),
            esc(&r.warnings.join("\n")),
            r.warnings.len(),
            esc(&clip(&r.warnings[0], 60))
        );
    }
    o.push_str("</tr>");
}

/// A measured figure, else an estimated one marked "est.", else empty.
fn measured_or_estimated_cell(o: &mut String, measured: Option<f64>, estimated: Option<f64>) {
    match (measured, estimated) {
        (Some(x), _) => num_cell(o, Some(x), &short(x)),
        (None, Some(x)) => {
            let _ = write!(
                o,
                "<td class=\"n est\" data-v=\"{x}\">{} est.</td>",
                short(x)
            );
        }
        _ => num_cell(o, None, ""),
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or("-".into(), short)
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n).collect::<String>() + "…"
    }
}

/// Latest record per (host, model) for a scenario, in board order.
fn latest<'a>(
    records: &'a [(PathBuf, Record)],
    rows: &[Row],
    scenario: Scenario,
) -> Vec<(&'a Record, String)> {
    let mut best: std::collections::BTreeMap<(String, String, String), &Record> =
        Default::default();
    for row in rows {
        let r = &records[row.index].1;
        if r.result.is_none() || r.plan.scenario != scenario {
            continue;
        }
        let key = (row.board.clone(), row.host.clone(), row.model.clone());
        let e = best.entry(key).or_insert(r);
        if r.wall_start_ns > e.wall_start_ns {
            *e = r;
        }
    }
    best.into_iter()
        .map(|((_, host, model), r)| {
            // Rows come in board order; the host names the board's unit.
            (r, clip(&format!("{host} · {model}"), 40))
        })
        .collect()
}

fn board_bars(o: &mut String, records: &[(PathBuf, Record)], rows: &[Row]) {
    o.push_str("<h2 id=\"boards\">Per board (latest run of each host and model)</h2>");
    let ss = latest(records, rows, Scenario::SingleStream);
    let items: Vec<Bar> = ss
        .iter()
        .filter_map(|(r, l)| {
            let (_, v) = r.metric();
            v.map(|ns| Bar {
                label: l.clone(),
                value: ns / 1e6,
                estimated: false,
            })
        })
        .collect();
    if !items.is_empty() {
        o.push_str(&svg::bars(
            "bars-p90",
            "SingleStream p90 latency (early-stopping estimate; lower is better)",
            "ms",
            &items,
        ));
    }
    let off = latest(records, rows, Scenario::Offline);
    let mk = |f: &dyn Fn(&Record) -> Option<(f64, bool)>| -> Vec<Bar> {
        off.iter()
            .filter_map(|(r, l)| {
                f(r).map(|(value, estimated)| Bar {
                    label: l.clone(),
                    value,
                    estimated,
                })
            })
            .collect()
    };
    for (id, title, unit, items) in [
        (
            "bars-sps",
            "Offline throughput (higher is better)",
            "samples/s",
            mk(&|r| r.result.as_ref().map(|x| (x.samples_per_second, false))),
        ),
        (
            "bars-per-core",
            "Offline throughput per core",
            "samples/s per core",
            mk(&|r| r.samples_per_second_per_core().map(|x| (x, false))),
        ),
        (
            "bars-per-watt",
            "Offline throughput per watt (hatched: estimated from the board profile, no sensor)",
            "samples/s per W",
            mk(&|r| {
                r.samples_per_watt()
                    .map(|(x, b)| (x, b == PowerBasis::Estimated))
            }),
        ),
    ] {
        if !items.is_empty() {
            o.push_str(&svg::bars(id, title, unit, &items));
        }
    }
}

fn variant_table(o: &mut String, groups: &[Group]) {
    if groups.is_empty() {
        return;
    }
    o.push_str("<h2>Model variants (candidate vs baseline)</h2><table id=\"variants\"><thead><tr><th>family</th><th>host</th><th>data set</th><th>speed basis</th><th>baseline</th><th>candidate</th><th>top-1 baseline</th><th>top-1 candidate</th><th>Δ top-1 (pts)</th><th>Δ top-5 (pts)</th><th>speed-up</th></tr></thead><tbody>");
    for g in groups {
        for c in &g.candidates {
            let cmp = compare::compare(g, c);
            let t1 = |m: &compare::Member| {
                m.accuracy
                    .top1_fraction()
                    .map_or("-".into(), |f| format!("{:.1} %", 100.0 * f))
            };
            let _ = write!(
                o,
                "<tr class=\"variant\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:+.1}</td><td class=\"n\">{:+.1}</td><td class=\"n\">{:.2}x</td></tr>",
                esc(&g.family),
                esc(&g.host),
                esc(&g.dataset),
                esc(g.basis.describe()),
                esc(&g.baseline.model),
                esc(&c.model),
                t1(&g.baseline),
                t1(c),
                cmp.top1_delta_pts,
                cmp.top5_delta_pts,
                cmp.speedup
            );
        }
    }
    o.push_str("</tbody></table>");
}

/// Engines side by side (`report::engines`): one row per engine, the
/// group's first engine (the ratios' reference) first.
fn engine_table(o: &mut String, groups: &[super::engines::EngineGroup]) {
    if groups.is_empty() {
        return;
    }
    o.push_str("<h2 id=\"engines\">Engines side by side (ratios against the first engine of each model)</h2><table id=\"engines-table\"><thead><tr><th>host</th><th>model</th><th>scenario</th><th>engine</th><th>validity</th><th>p50</th><th>p90</th><th>samples/s</th><th>p50 vs first</th><th>samples/s vs first</th><th>round trip</th></tr></thead><tbody>");
    for g in groups {
        for (i, r) in g.runs.iter().enumerate() {
            let [p50, p90, sps, p50_ratio, sps_ratio, rt] = r.figures();
            let _ = write!(
                o,
                "<tr class=\"engine-run{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td class=\"n\">{p50}</td><td class=\"n\">{p90}</td><td class=\"n\">{sps}</td><td class=\"n\">{p50_ratio}</td><td class=\"n\">{sps_ratio}</td><td class=\"n\">{rt}</td></tr>",
                if i == 0 { " first" } else { "" },
                esc(&g.host),
                esc(&g.model),
                g.scenario,
                esc(&r.engine),
                if r.valid { "valid" } else { "invalid" },
                if r.valid { "VALID" } else { "INVALID" },
            );
        }
    }
    o.push_str("</tbody></table>");
}

fn run_section(o: &mut String, n: usize, row: &Row, r: &Record) {
    let _ = write!(
        o,
        "<div class=\"run\" id=\"run-{n}\"><h3>#{n} {} · {} · {} {}</h3>",
        esc(&row.host),
        esc(&row.model),
        esc(row.scenario),
        match row.valid {
            Some(true) => "<span class=\"valid\">VALID</span>".to_string(),
            Some(false) => format!(
                "<span class=\"invalid\">INVALID ({})</span>",
                esc(&row.invalid_reasons.join("; "))
            ),
            None => String::new(),
        }
    );
    if let Some(h) = &r.latency_histogram
        && h.total() > 0
    {
        cdf(o, n, r, h);
    }
    sensors(o, n, r);
    if !r.warnings.is_empty() {
        o.push_str("<ul class=\"warnings\">");
        for w in &r.warnings {
            let _ = write!(o, "<li class=\"warn\">⚠ {}</li>", esc(w));
        }
        o.push_str("</ul>");
    }
    o.push_str("</div>");
}

/// Cumulative distribution from the histogram: x latency (ms, up to p99.9 so
/// one outlier does not flatten it), y fraction of queries.
fn cdf(o: &mut String, n: usize, r: &Record, h: &crate::record::LatencyHistogram) {
    let total = h.total() as f64;
    let lo = h.ranges().next().map_or(0, |b| b.0) as f64 / 1e6;
    let hi = h.quantile(0.999).unwrap_or(0) as f64 / 1e6;
    let hi = if hi > lo { hi } else { lo + 1e-3 };
    let mut pts = vec![(lo, 0.0)];
    let mut cum = 0u64;
    for (_, top, c) in h.ranges() {
        cum = cum.saturating_add(c);
        let x = top as f64 / 1e6;
        if x > hi {
            pts.push((hi, cum as f64 / total));
            break;
        }
        pts.push((x, cum as f64 / total));
    }
    let f = Frame {
        x: 56.0,
        y: 22.0,
        w: 330.0,
        h: 150.0,
        x_range: (lo, hi),
        y_range: (0.0, 1.0),
    };
    let _ = write!(
        o,
        r#"<svg id="cdf-{n}" class="chart cdf" width="420" height="220" viewBox="0 0 420 220"><title>latency CDF</title><text class="title" x="4" y="14">Latency CDF ({} queries, to p99.9)</text>"#,
        h.total()
    );
    f.axes(o, "latency (ms)", "fraction of queries");
    if let Some(res) = &r.result {
        for (name, ns) in [
            ("p50", res.p50_ns),
            ("p90", res.p90_ns),
            ("p99", res.p99_ns),
        ] {
            let x = ns as f64 / 1e6;
            if x >= lo && x <= hi {
                let px = f.px(x);
                let _ = write!(
                    o,
                    r#"<line class="marker" x1="{px:.0}" y1="{:.0}" x2="{px:.0}" y2="{:.0}"/><text x="{:.0}" y="{:.0}">{name}</text>"#,
                    f.y,
                    f.y + f.h,
                    px + 2.0,
                    f.y + 10.0
                );
            }
        }
    }
    f.line(o, &pts, "cdf-line", PALETTE[0]);
    o.push_str("</svg>");
}

/// (name, points, dashed: an estimate, not a reading)
type Line = (String, Vec<(f64, f64)>, bool);

/// One of the stacked charts of the sensors figure.
struct Panel {
    title: String,
    unit: &'static str,
    lines: Vec<Line>,
}

/// The series' time axis in seconds: point i sits in the middle of its step.
#[derive(Debug, Clone, Copy)]
struct Steps {
    start: f64,
    step: f64,
    points: usize,
}

impl Steps {
    fn t(self, i: usize) -> f64 {
        self.start + (i as f64 + 0.5) * self.step
    }

    fn range(self) -> (f64, f64) {
        (0.0, self.t(self.points - 1) + self.step / 2.0)
    }
}

const SENSOR_PANEL_H: f64 = 90.0;
const SENSOR_PANEL_GAP: f64 = 46.0;

/// Temperature, frequency and power over the run, stacked, with throttled
/// steps (Pi throttle bits) and capped-frequency steps shaded.
fn sensors(o: &mut String, n: usize, r: &Record) {
    let Some(s) = &r.series else {
        return;
    };
    let points = s.points();
    if points == 0 {
        return;
    }
    let steps = Steps {
        start: s.start_ns as f64 / 1e9,
        step: s.step_ns as f64 / 1e9,
        points,
    };
    let panels = sensor_panels(r, s, steps);
    if panels.is_empty() {
        return;
    }
    let (throttled, capped) = shaded_steps(r, s, points);
    let height = 30.0 + panels.len() as f64 * (SENSOR_PANEL_H + SENSOR_PANEL_GAP);
    let _ = write!(
        o,
        r#"<svg id="sensors-{n}" class="chart sensors" width="520" height="{height:.0}" viewBox="0 0 520 {height:.0}"><title>sensors over the run</title><text class="title" x="4" y="14">Sensors over the run (a point per {} s){}</text>"#,
        short(steps.step),
        if r.warnings.is_empty() {
            String::new()
        } else {
            format!(" ⚠ {} warning(s)", r.warnings.len())
        }
    );
    for (pi, p) in panels.iter().enumerate() {
        let x_label = if pi + 1 == panels.len() {
            "time (s)"
        } else {
            ""
        };
        let shade = (&throttled[..], &capped[..]);
        sensor_panel(o, pi, p, steps, shade, x_label);
    }
    if throttled.iter().any(|&x| x) || capped.iter().any(|&x| x) {
        let _ = write!(
            o,
            r##"<text class="legend" x="4" y="{:.0}"><tspan fill="#d62728">■ throttled (firmware bits)</tspan> <tspan fill="#ff7f0e">■ a cluster below 95 % of its max frequency</tspan></text>"##,
            height - 4.0
        );
    }
    o.push_str("</svg>");
}

/// The panels there are data for: temperature per zone, frequency per
/// cluster, power per rail (or the board profile's estimate, dashed).
fn sensor_panels(r: &Record, s: &SensorSeries, steps: Steps) -> Vec<Panel> {
    let track = |q: Quantity, scale: f64, name: &dyn Fn(u32) -> String| {
        s.of(q)
            .map(|tr| {
                let pts: Vec<(f64, f64)> = tr
                    .values
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| (steps.t(i), v as f64 * scale))
                    .collect();
                (name(tr.sensor), pts, false)
            })
            .collect::<Vec<_>>()
    };
    let zone_name = |z: u32| {
        r.host
            .thermal_zones
            .iter()
            .find(|tz| tz.index == z)
            .map_or(format!("zone{z}"), |tz| tz.kind.clone())
    };
    let rail_name = |i: u32| {
        if i == TOTAL_POWER {
            "total".to_string()
        } else {
            r.sensors
                .energy
                .as_ref()
                .and_then(|e| e.rails.get(i as usize))
                .map_or(format!("rail{i}"), |x| x.label.clone())
        }
    };
    let mut power_title = "power (measured)".to_string();
    let mut power = track(Quantity::PowerMilliwatts, 1e-3, &rail_name);
    if power.is_empty()
        && let Some(e) = &r.power_estimate
    {
        let w = e.milliwatts as f64 / 1000.0;
        let (x0, x1) = steps.range();
        power.push((
            format!("{} nominal (est.)", e.board),
            vec![(x0, w), (x1, w)],
            true,
        ));
        power_title = format!(
            "power: estimated {} W from the {} board profile (no sensor)",
            short(w),
            e.board
        );
    }
    let temps = track(Quantity::TemperatureDeciCelsius, 0.1, &zone_name);
    let freqs = track(Quantity::FrequencyMhz, 1.0, &|c| format!("cpu{c}+"));
    [
        ("temperature".to_string(), "°C", temps),
        ("CPU frequency per cluster".to_string(), "MHz", freqs),
        (power_title, "W", power),
    ]
    .into_iter()
    .filter(|(_, _, lines)| !lines.is_empty())
    .map(|(title, unit, lines)| Panel { title, unit, lines })
    .collect()
}

/// Steps to shade: throttle bits set, or a cluster below 95 % of its max.
fn shaded_steps(r: &Record, s: &SensorSeries, points: usize) -> (Vec<bool>, Vec<bool>) {
    let mut throttled = vec![false; points];
    for tr in s.of(Quantity::ThrottleBits) {
        for (i, &v) in tr.values.iter().enumerate() {
            throttled[i] |= v != 0;
        }
    }
    let mut capped = vec![false; points];
    for tr in s.of(Quantity::FrequencyMhz) {
        let max_mhz = r
            .host
            .clusters
            .iter()
            .find(|c| c.cpus.first() == Some(&tr.sensor))
            .map(|c| c.max_freq_khz as f64 / 1000.0);
        if let Some(m) = max_mhz.filter(|m| *m > 0.0) {
            for (i, &v) in tr.values.iter().enumerate() {
                capped[i] |= (v as f64) < 0.95 * m;
            }
        }
    }
    (throttled, capped)
}

/// Panel `pi` of the stack: its shaded steps, title, axes, lines and legend.
fn sensor_panel(
    o: &mut String,
    pi: usize,
    p: &Panel,
    steps: Steps,
    (throttled, capped): (&[bool], &[bool]),
    x_label: &str,
) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (_, pts, _) in &p.lines {
        for &(_, v) in pts {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    let pad = ((hi - lo) * 0.1).max(hi.abs() * 0.02).max(0.5);
    let f = Frame {
        x: 60.0,
        y: 30.0 + pi as f64 * (SENSOR_PANEL_H + SENSOR_PANEL_GAP),
        w: 330.0,
        h: SENSOR_PANEL_H,
        x_range: steps.range(),
        y_range: ((lo - pad).max(0.0), hi + pad),
    };
    let half = steps.step / 2.0;
    for (i, (&th, &cp)) in throttled.iter().zip(capped).enumerate() {
        if th || cp {
            let x0 = f.px(steps.t(i) - half);
            let _ = write!(
                o,
                r#"<rect class="band {}" x="{x0:.0}" y="{:.0}" width="{:.0}" height="{:.0}"/>"#,
                if th { "throttle" } else { "freq-capped" },
                f.y,
                (f.px(steps.t(i) + half) - x0).max(1.0),
                f.h
            );
        }
    }
    let _ = write!(
        o,
        r#"<text class="title" x="{:.0}" y="{:.0}">{}</text>"#,
        f.x,
        f.y - 4.0,
        esc(&p.title)
    );
    f.axes(o, x_label, p.unit);
    for (li, (name, pts, dashed)) in p.lines.iter().enumerate() {
        let color = PALETTE[li % PALETTE.len()];
        let class = if *dashed {
            "series estimated"
        } else {
            "series"
        };
        f.line(o, pts, class, color);
        if li < 6 {
            let _ = write!(
                o,
                r#"<text x="398" y="{:.0}" fill="{color}" style="fill:{color}">{}</text>"#,
                f.y + 10.0 + li as f64 * 13.0,
                esc(&clip(name, 20))
            );
        } else if li == 6 {
            let _ = write!(
                o,
                r#"<text x="398" y="{:.0}">+{} more</text>"#,
                f.y + 10.0 + li as f64 * 13.0,
                p.lines.len() - 6
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::example_record;
    use std::path::Path;

    fn page(recs: Vec<Record>) -> String {
        let good: Vec<(PathBuf, Record)> = recs
            .into_iter()
            .enumerate()
            .map(|(i, r)| (PathBuf::from(format!("r{i}.emrec")), r))
            .collect();
        let rows: Vec<Row> = good
            .iter()
            .enumerate()
            .map(|(i, (p, r))| Row::new(i, Path::new(p), r))
            .collect();
        render(&good, &rows, &[], &[])
    }

    #[test]
    fn page_has_table_charts_and_no_external_fetches() {
        let ss = example_record(0);
        let mut off = example_record(1);
        off.plan.scenario = Scenario::Offline;
        off.sensors.energy = None;
        let mut acc = example_record(2);
        acc.result = None;
        acc.latency_histogram = None;
        let html = page(vec![ss, off, acc]);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert_eq!(html.matches("<tr class=\"record\"").count(), 3);
        assert!(html.contains("id=\"bars-p90\"") && html.contains("id=\"bars-sps\""));
        assert!(html.contains("id=\"bars-per-watt\""));
        // The Offline record has no sensor: its per-watt bar is estimated.
        assert!(html.contains("url(#est-hatch)") && html.contains(" est."));
        assert_eq!(html.matches("class=\"chart cdf\"").count(), 2);
        assert_eq!(html.matches("class=\"chart sensors\"").count(), 3);
        assert!(html.contains("class=\"band throttle\""));
        assert!(html.contains("INVALID: early stopping not met"));
        for bad in ["http://", "https://", "src=", "@import", "url(http"] {
            assert!(!html.contains(bad), "page fetches something: {bad}");
        }
    }

    #[test]
    fn engines_of_one_model_are_side_by_side() {
        let engine = |name: &str, p50: u64| {
            let mut r = example_record(0);
            r.engine = Some(crate::record::Engine {
                name: name.into(),
                version: "1".into(),
                command: Vec::new(),
                protocol_version: 1,
                round_trip_ns: 0,
                stderr_tail: Vec::new(),
            });
            r.result.as_mut().unwrap().p50_ns = p50;
            r
        };
        let html = page(vec![
            engine("onnxruntime", 2_000_000),
            engine("tract", 8_000_000),
        ]);
        assert!(html.contains("id=\"engines-table\""));
        let at = html.find("<tr class=\"engine-run first\">").unwrap();
        let first = &html[at..html[at..].find("</tr>").unwrap() + at];
        assert!(first.contains("<td>tract 1</td>"), "{first}");
        let at = html.find("<tr class=\"engine-run\">").unwrap();
        let second = &html[at..html[at..].find("</tr>").unwrap() + at];
        assert!(
            second.contains("<td>onnxruntime 1</td>") && second.contains(">0.25x</td>"),
            "{second}"
        );
        // One engine: no section.
        assert!(!page(vec![engine("tract", 1)]).contains("engines-table"));
    }

    #[test]
    fn hostile_names_are_escaped() {
        let mut r = example_record(0);
        r.host.hostname = "<script>alert(1)</script>".into();
        r.warnings = vec!["a \"quoted\" <b>warning</b>".into()];
        let html = page(vec![r]);
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert_eq!(html.matches("<script>").count(), 1, "only the page's own");
    }
}
