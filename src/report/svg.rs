//! Small inline-SVG charts for the HTML report, written directly (no
//! plotting crate: a few hundred lines cost the edge binary ~no size, where
//! plotters' SVG backend pulls in font and color machinery). Coordinates are
//! rounded to whole pixels: the report of 50 runs stays well under 1 MB.

use std::fmt::Write;

/// Text safe inside HTML/SVG text and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A short number for labels: 3 significant digits, no exponent.
pub fn short(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || !v.is_finite() {
        "0".into()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// About `n` round tick values covering [lo, hi].
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater)
        || !lo.is_finite()
        || !hi.is_finite()
    {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 && out.len() < 50 {
        out.push(t);
        t += step;
    }
    out
}

/// The plotting area of a chart and its data ranges.
pub struct Frame {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
}

impl Frame {
    pub fn px(&self, v: f64) -> f64 {
        let (a, b) = self.x_range;
        let span = if b > a { b - a } else { 1.0 };
        self.x + (v - a) / span * self.w
    }

    pub fn py(&self, v: f64) -> f64 {
        let (a, b) = self.y_range;
        let span = if b > a { b - a } else { 1.0 };
        self.y + self.h - (v - a) / span * self.h
    }

    /// Both axes with ticks, grid lines and labels, as `g.axis.x` / `g.axis.y`.
    pub fn axes(&self, out: &mut String, x_label: &str, y_label: &str) {
        let (x0, y0, x1, y1) = (self.x, self.y, self.x + self.w, self.y + self.h);
        let _ = write!(
            out,
            r#"<g class="axis x"><line x1="{x0:.0}" y1="{y1:.0}" x2="{x1:.0}" y2="{y1:.0}"/>"#
        );
        for t in ticks(self.x_range.0, self.x_range.1, 6) {
            let x = self.px(t);
            let _ = write!(
                out,
                r#"<line class="tick" x1="{x:.0}" y1="{y1:.0}" x2="{x:.0}" y2="{:.0}"/><text x="{x:.0}" y="{:.0}" text-anchor="middle">{}</text>"#,
                y1 + 4.0,
                y1 + 15.0,
                short(t)
            );
        }
        let _ = write!(
            out,
            r#"<text class="label" x="{:.0}" y="{:.0}" text-anchor="middle">{}</text></g>"#,
            x0 + self.w / 2.0,
            y1 + 29.0,
            esc(x_label)
        );
        let _ = write!(
            out,
            r#"<g class="axis y"><line x1="{x0:.0}" y1="{y0:.0}" x2="{x0:.0}" y2="{y1:.0}"/>"#
        );
        for t in ticks(self.y_range.0, self.y_range.1, 4) {
            let y = self.py(t);
            let _ = write!(
                out,
                r#"<line class="grid" x1="{x0:.0}" y1="{y:.0}" x2="{x1:.0}" y2="{y:.0}"/><text x="{:.0}" y="{:.0}" text-anchor="end">{}</text>"#,
                x0 - 4.0,
                y + 4.0,
                short(t)
            );
        }
        let _ = write!(
            out,
            r#"<text class="label" x="{:.0}" y="{:.0}" text-anchor="middle" transform="rotate(-90 {:.0} {:.0})">{}</text></g>"#,
            x0 - 40.0,
            y0 + self.h / 2.0,
            x0 - 40.0,
            y0 + self.h / 2.0,
            esc(y_label)
        );
    }

    /// A polyline through `pts` (data coordinates), whole pixels.
    pub fn line(&self, out: &mut String, pts: &[(f64, f64)], class: &str, color: &str) {
        let mut p = String::with_capacity(pts.len() * 8);
        for &(x, y) in pts {
            let _ = write!(p, "{:.0},{:.0} ", self.px(x), self.py(y));
        }
        let _ = write!(
            out,
            r#"<polyline class="{class}" fill="none" stroke="{color}" points="{}"/>"#,
            p.trim_end()
        );
    }
}

/// A categorical palette that stays readable on white.
pub const PALETTE: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22",
];

/// One bar of a bar chart.
pub struct Bar {
    pub label: String,
    pub value: f64,
    /// Drawn hatched and labelled "est." (power estimated, not measured).
    pub estimated: bool,
}

/// A horizontal bar chart (`svg.chart.bars`), one bar a row, value at its end.
pub fn bars(id: &str, title: &str, unit: &str, items: &[Bar]) -> String {
    let row = 18.0;
    let label_w = 260.0;
    let (w, top) = (720.0, 24.0);
    let h = top + row * items.len() as f64 + 40.0;
    let max = items.iter().map(|b| b.value).fold(0.0f64, f64::max);
    let f = Frame {
        x: label_w,
        y: top,
        w: w - label_w - 70.0,
        h: row * items.len() as f64,
        x_range: (0.0, if max > 0.0 { max * 1.05 } else { 1.0 }),
        y_range: (0.0, 1.0),
    };
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg id="{id}" class="chart bars" role="img" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}"><title>{}</title><text class="title" x="4" y="15">{}</text>"#,
        esc(title),
        esc(title)
    );
    for (i, b) in items.iter().enumerate() {
        let y = top + row * i as f64;
        let x1 = f.px(b.value);
        let _ = write!(
            o,
            r#"<g class="bar{}"><text x="{:.0}" y="{:.0}" text-anchor="end">{}</text><rect x="{:.0}" y="{:.0}" width="{:.0}" height="{:.0}" fill="{}"/><text x="{:.0}" y="{:.0}">{}{}</text></g>"#,
            if b.estimated { " estimated" } else { "" },
            label_w - 6.0,
            y + 13.0,
            esc(&b.label),
            f.x,
            y + 3.0,
            (x1 - f.x).max(1.0),
            row - 5.0,
            if b.estimated {
                "url(#est-hatch)"
            } else {
                PALETTE[0]
            },
            x1 + 4.0,
            y + 13.0,
            short(b.value),
            if b.estimated { " est." } else { "" }
        );
    }
    // The value axis only (rows are labelled).
    let (x0, y1) = (f.x, f.y + f.h);
    let _ = write!(
        o,
        r#"<g class="axis x"><line x1="{x0:.0}" y1="{y1:.0}" x2="{:.0}" y2="{y1:.0}"/>"#,
        f.x + f.w
    );
    for t in ticks(f.x_range.0, f.x_range.1, 5) {
        let x = f.px(t);
        let _ = write!(
            o,
            r#"<line class="tick" x1="{x:.0}" y1="{y1:.0}" x2="{x:.0}" y2="{:.0}"/><text x="{x:.0}" y="{:.0}" text-anchor="middle">{}</text>"#,
            y1 + 4.0,
            y1 + 15.0,
            short(t)
        );
    }
    let _ = write!(
        o,
        r#"<text class="label" x="{:.0}" y="{:.0}" text-anchor="middle">{}</text></g></svg>"#,
        f.x + f.w / 2.0,
        y1 + 30.0,
        esc(unit)
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let t = ticks(0.93, 1.07, 4);
        assert!(
            t.len() >= 3 && t[0] >= 0.93 && *t.last().unwrap() <= 1.07,
            "{t:?}"
        );
        assert_eq!(ticks(5.0, 5.0, 4), vec![5.0]);
        assert_eq!(ticks(f64::NAN, 1.0, 4).len(), 1);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn estimated_bars_are_hatched_and_labelled() {
        let s = bars(
            "b",
            "per watt",
            "samples/s/W",
            &[
                Bar {
                    label: "pi <4>".into(),
                    value: 3.5,
                    estimated: true,
                },
                Bar {
                    label: "orin".into(),
                    value: 7.0,
                    estimated: false,
                },
            ],
        );
        assert!(s.contains("pi &lt;4&gt;"));
        assert_eq!(s.matches("url(#est-hatch)").count(), 1);
        assert!(s.contains("3.50 est.") && s.contains(">7.00<"), "{s}");
    }
}
