//! Line charts as inline SVG, drawn on the server: no JavaScript, and the charts are part of
//! the DOM (a test, or a screen reader, can read them). Each line is downsampled to the min
//! and max of each pixel column, so a spike survives; a missing reading (NaN) breaks the
//! line instead of drawing across an outage. Restarts are red vertical marks, pauses grey
//! bands, thresholds dashed lines.

use std::fmt::Write;

use super::html::esc;

/// How values are written on the axis.
#[derive(Clone, Copy, Debug)]
pub enum Unit {
    Bytes,
    Millis,
    Percent,
}

pub struct Series {
    pub name: &'static str,
    /// CSS class giving the colour (`s1` .. `s4`).
    pub class: &'static str,
    /// (Unix seconds, value); NaN values are gaps.
    pub points: Vec<(f64, f64)>,
}

pub struct Threshold {
    pub name: &'static str,
    pub class: &'static str,
    pub value: f64,
}

pub struct Chart {
    pub id: &'static str,
    pub title: &'static str,
    pub unit: Unit,
    pub series: Vec<Series>,
    pub thresholds: Vec<Threshold>,
    /// A fixed top of the scale (100 for percentages), else from the data.
    pub y_max: Option<f64>,
    /// What the chart says when it has no readings at all.
    pub empty: &'static str,
}

/// What every chart of the page shares: the time span and the marks.
pub struct Frame {
    pub t0: f64,
    pub t1: f64,
    pub restarts: Vec<f64>,
    pub pauses: Vec<(f64, f64)>,
}

const W: f64 = 640.0;
const H: f64 = 200.0;
// Y labels sit inside the plot, above their grid lines: nothing clips on a narrow screen.
const LEFT: f64 = 8.0;
const RIGHT: f64 = 632.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 170.0;
/// Pixel columns per min/max bucket.
const COLUMN: f64 = 2.0;

impl Frame {
    fn x(&self, t: f64) -> f64 {
        let span = (self.t1 - self.t0).max(1e-9);
        LEFT + (t - self.t0) / span * (RIGHT - LEFT)
    }
}

/// The chart as an `<svg>` element.
pub fn svg(c: &Chart, f: &Frame) -> String {
    let data_max = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(c.thresholds.iter().map(|t| t.value))
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let has_data = c
        .series
        .iter()
        .any(|s| s.points.iter().any(|p| p.1.is_finite()));
    let top = c
        .y_max
        .unwrap_or_else(|| nice_ceiling(data_max * 1.08, c.unit));
    let y = |v: f64| BOTTOM - (v / top).clamp(0.0, 1.05) * (BOTTOM - TOP);
    let mut o = String::with_capacity(8 * 1024);
    let _ = write!(
        o,
        r#"<svg id="{}" class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{}"><title>{}</title>"#,
        c.id,
        esc(c.title),
        esc(c.title)
    );
    // Pause bands under everything else.
    for &(a, b) in &f.pauses {
        let (xa, xb) = (f.x(a).max(LEFT), f.x(b).min(RIGHT));
        let _ = write!(
            o,
            r#"<rect class="pause" x="{xa:.1}" y="{TOP}" width="{:.1}" height="{:.1}"><title>paused {} to {}</title></rect>"#,
            (xb - xa).max(1.0),
            BOTTOM - TOP,
            clock(a),
            clock(b)
        );
    }
    // Grid and y labels: half and top (0 is the axis).
    for frac in [0.5, 1.0] {
        let v = top * frac;
        let yy = y(v);
        let _ = write!(
            o,
            r#"<line class="grid" x1="{LEFT}" x2="{RIGHT}" y1="{yy:.1}" y2="{yy:.1}"/>"#
        );
        if has_data {
            let _ = write!(
                o,
                r#"<text class="axis" x="{:.1}" y="{:.1}">{}</text>"#,
                LEFT + 3.0,
                yy - 4.0,
                fmt_value(v, c.unit)
            );
        }
    }
    // Time labels: start, middle, end.
    for (frac, anchor) in [(0.0, "start"), (0.5, "middle"), (1.0, "end")] {
        let t = f.t0 + (f.t1 - f.t0) * frac;
        let _ = write!(
            o,
            r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
            f.x(t),
            BOTTOM + 18.0,
            clock(t)
        );
    }
    for t in &c.thresholds {
        if !t.value.is_finite() {
            continue;
        }
        let yy = y(t.value);
        let _ = write!(
            o,
            r#"<line class="threshold {}" x1="{LEFT}" x2="{RIGHT}" y1="{yy:.1}" y2="{yy:.1}"><title>{} {}</title></line><text class="tlabel {}" x="{:.1}" y="{:.1}" text-anchor="end">{} {}</text>"#,
            t.class,
            esc(t.name),
            fmt_value(t.value, c.unit),
            t.class,
            RIGHT - 2.0,
            yy - 3.0,
            esc(t.name),
            fmt_value(t.value, c.unit)
        );
    }
    let mut drawn = 0;
    for s in &c.series {
        for seg in segments(&s.points) {
            let pts = downsample(&seg, f);
            drawn += pts.len();
            if pts.len() == 1 {
                let _ = write!(
                    o,
                    r#"<circle class="dot {}" cx="{:.1}" cy="{:.1}" r="2"/>"#,
                    s.class,
                    pts[0].0,
                    y(pts[0].1)
                );
                continue;
            }
            let _ = write!(
                o,
                r#"<polyline class="series {}" data-series="{}" points=""#,
                s.class, s.name
            );
            for (x, v) in &pts {
                let _ = write!(o, "{x:.1},{:.1} ", y(*v));
            }
            o.push_str(r#""/>"#);
        }
    }
    for &t in &f.restarts {
        let x = f.x(t);
        let _ = write!(
            o,
            r#"<line class="restart" x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{BOTTOM}"><title>restart at {}</title></line>"#,
            clock(t)
        );
    }
    if drawn == 0 {
        let _ = write!(
            o,
            r#"<text class="empty" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            (LEFT + RIGHT) / 2.0,
            (TOP + BOTTOM) / 2.0,
            esc(c.empty)
        );
    }
    let _ = write!(
        o,
        r#"<line class="axisline" x1="{LEFT}" x2="{RIGHT}" y1="{BOTTOM}" y2="{BOTTOM}"/></svg>"#
    );
    o
}

/// Runs of finite values; a NaN ends a run.
fn segments(points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for &(t, v) in points {
        if v.is_finite() {
            cur.push((t, v));
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// (x, value) points, at most two per column: the column's min and max in time order.
fn downsample(seg: &[(f64, f64)], f: &Frame) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    let mut col = f64::NAN;
    let (mut lo, mut hi) = ((0.0, f64::INFINITY), (0.0, f64::NEG_INFINITY));
    let flush = |out: &mut Vec<(f64, f64)>, lo: (f64, f64), hi: (f64, f64), x: f64| {
        if lo.0 == hi.0 {
            out.push((x, lo.1));
        } else if lo.0 < hi.0 {
            out.push((x, lo.1));
            out.push((x, hi.1));
        } else {
            out.push((x, hi.1));
            out.push((x, lo.1));
        }
    };
    for (i, &(t, v)) in seg.iter().enumerate() {
        let x = f.x(t);
        let c = ((x - LEFT) / COLUMN).floor();
        if c != col && !col.is_nan() {
            flush(&mut out, lo, hi, LEFT + col * COLUMN);
            lo = (0.0, f64::INFINITY);
            hi = (0.0, f64::NEG_INFINITY);
        }
        col = c;
        let i = i as f64;
        if v < lo.1 {
            lo = (i, v);
        }
        if v > hi.1 {
            hi = (i, v);
        }
    }
    if !col.is_nan() {
        flush(&mut out, lo, hi, LEFT + col * COLUMN);
    }
    out
}

/// 1, 2, 2.5 or 5 times a power of ten, at least `v`; for bytes, in the binary unit the
/// axis shows (50 MiB, not 47.7 MiB).
fn nice_ceiling(v: f64, unit: Unit) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    if let Unit::Bytes = unit {
        let mut scale = 1.0;
        while v / scale >= 1000.0 && scale < 1024f64.powi(4) {
            scale *= 1024.0;
        }
        return nice_ceiling(v / scale, Unit::Percent) * scale;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= v {
            return m * p;
        }
    }
    10.0 * p
}

pub fn fmt_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Percent => format!("{v:.0}%"),
        Unit::Millis if v >= 1000.0 => format!("{:.1} s", v / 1000.0),
        Unit::Millis => format!("{v:.0} ms"),
        Unit::Bytes => {
            const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
            let mut x = v;
            let mut i = 0;
            while x >= 1024.0 && i < U.len() - 1 {
                x /= 1024.0;
                i += 1;
            }
            if x == 0.0 {
                "0".into()
            } else if x >= 100.0 || i == 0 {
                format!("{x:.0} {}", U[i])
            } else {
                format!("{x:.1} {}", U[i])
            }
        }
    }
}

/// HH:MM:SS UTC of a Unix time.
pub fn clock(t: f64) -> String {
    chrono::DateTime::from_timestamp_millis((t * 1000.0) as i64)
        .map_or_else(|| "?".into(), |d| d.format("%H:%M:%S").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Frame {
        Frame {
            t0: 0.0,
            t1: 1000.0,
            restarts: vec![500.0],
            pauses: vec![(800.0, 900.0)],
        }
    }

    #[test]
    fn gaps_break_the_line_and_spikes_survive_downsampling() {
        let mut pts: Vec<(f64, f64)> = (0..1000).map(|t| (t as f64, 10.0)).collect();
        pts[300].1 = 99.0;
        pts[600].1 = f64::NAN;
        let c = Chart {
            id: "t",
            title: "T",
            unit: Unit::Bytes,
            series: vec![Series {
                name: "rss",
                class: "s1",
                points: pts,
            }],
            thresholds: vec![],
            y_max: None,
            empty: "none",
        };
        let svg = svg(&c, &frame());
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert_eq!(svg.matches(r#"class="restart""#).count(), 1);
        assert_eq!(svg.matches(r#"class="pause""#).count(), 1);
        // The spike's column reaches the top of the scale (99 -> 100 nice ceiling).
        let spike_y = BOTTOM - 99.0 / 200.0 * (BOTTOM - TOP);
        assert!(svg.contains(&format!(",{spike_y:.1} ")), "{svg}");
        // At most two points per 2-px column.
        let n: usize = svg
            .split("points=\"")
            .skip(1)
            .map(|p| p.split('"').next().unwrap().split_whitespace().count())
            .sum();
        assert!(n <= 2 * ((RIGHT - LEFT) / COLUMN) as usize + 4, "{n}");
    }

    #[test]
    fn an_empty_chart_says_so() {
        let c = Chart {
            id: "e",
            title: "<E>",
            unit: Unit::Percent,
            series: vec![],
            thresholds: vec![],
            y_max: Some(100.0),
            empty: "no readings yet",
        };
        let svg = svg(&c, &frame());
        assert!(svg.contains("no readings yet"));
        assert!(svg.contains("&lt;E&gt;"));
    }

    #[test]
    fn values_read_well() {
        assert_eq!(fmt_value(1536.0 * 1024.0 * 1024.0, Unit::Bytes), "1.5 GiB");
        assert_eq!(fmt_value(250.0, Unit::Millis), "250 ms");
        assert_eq!(fmt_value(2500.0, Unit::Millis), "2.5 s");
        assert_eq!(nice_ceiling(108.0, Unit::Millis), 200.0);
        assert_eq!(nice_ceiling(0.0, Unit::Millis), 1.0);
        let mib = 1024.0 * 1024.0;
        assert_eq!(nice_ceiling(43.0 * mib, Unit::Bytes), 50.0 * mib);
    }
}
