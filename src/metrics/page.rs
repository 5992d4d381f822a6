//! The status page: one self-contained HTML document (inline CSS and SVG, no JavaScript, no
//! external fetch), readable on a phone. Built from the same snapshot as `ctl status`.

use std::fmt::Write;

use super::chart::{self, Chart, Frame, Series, Threshold, Unit, clock, fmt_value};
use super::families::Constants;
use super::history::{History, Sample, State};
use super::html::esc;
use crate::supervisor::Status;

/// Sent with the page: nothing but inline styles may load or run.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const STYLE: &str = r#"
:root{color-scheme:light dark;--fg:#1d2330;--muted:#5d6675;--bg:#f6f7f9;--card:#fff;--line:#d9dde3}
@media (prefers-color-scheme:dark){:root{--fg:#e6e9ee;--muted:#9aa3b2;--bg:#14171c;--card:#1d2128;--line:#333a45}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1100px;margin:0 auto;padding:12px}
h1{font-size:20px;margin:4px 0 10px}
h2{font-size:16px;margin:0 0 6px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px;margin:0 0 12px}
.badge{display:inline-block;padding:2px 10px;border-radius:999px;font-weight:600;color:#fff;background:#6b7280}
.badge.ready{background:#15803d}.badge.running{background:#2563eb}.badge.backoff,.badge.starting{background:#b45309}
.badge.paused{background:#b91c1c}.badge.stopped,.badge.stopping,.badge.exiting{background:#4b5563}
.facts{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:6px 16px;margin-top:10px}
.facts div{min-width:0}.facts b{display:block;font-size:12px;color:var(--muted);font-weight:500}
.paused-box{border-color:#b91c1c;border-width:2px}
pre{white-space:pre-wrap;word-break:break-word;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;background:var(--bg);padding:8px;border-radius:6px;overflow-x:auto;margin:6px 0}
code{font:13px ui-monospace,Menlo,Consolas,monospace;background:var(--bg);padding:2px 6px;border-radius:4px}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,460px),1fr));gap:12px}
.charts .card{margin:0}
svg.chart{width:100%;height:auto;display:block}
.grid{stroke:var(--line);stroke-width:1}.axisline{stroke:var(--muted);stroke-width:1}
.axis{fill:var(--muted);font-size:13px}
.empty{fill:var(--muted);font-size:15px}
.series{fill:none;stroke-width:2;stroke-linejoin:round}
.s1{stroke:#2563eb;fill:#2563eb}.s2{stroke:#9333ea;fill:#9333ea}.s3{stroke:#0d9488;fill:#0d9488}.s4{stroke:#ea580c;fill:#ea580c}
polyline.series{fill:none}
.threshold{stroke-width:1.5;stroke-dasharray:6 4}.warn{stroke:#d97706;fill:#d97706}.limit{stroke:#dc2626;fill:#dc2626}.total{stroke:var(--muted);fill:var(--muted)}
.tlabel{font-size:12px;stroke:none}
@media (max-width:600px){.axis,.tlabel{font-size:22px}.empty{font-size:24px}main{padding:8px}}
.restart{stroke:#dc2626;stroke-width:1.5;stroke-opacity:.8}
.pause{fill:#9ca3af;fill-opacity:.35}
.legend{font-size:13px;color:var(--muted);margin-top:4px}
.legend span{margin-right:12px;white-space:nowrap}
.legend i{display:inline-block;width:14px;height:3px;vertical-align:middle;margin-right:4px;background:currentColor}
.legend .restart-key{color:#dc2626}.legend .restart-key i{width:2px;height:12px}.legend .pause-key i{background:#9ca3af;height:10px}
.legend .s1{color:#2563eb}.legend .s2{color:#9333ea}.legend .s3{color:#0d9488}.legend .s4{color:#ea580c}.legend .warn{color:#d97706}.legend .limit{color:#dc2626}.legend .total{color:var(--muted)}
table{width:100%;border-collapse:collapse;font-size:13px}
td,th{text-align:left;padding:4px 6px;border-top:1px solid var(--line);vertical-align:top}
td.when{white-space:nowrap;color:var(--muted)}
td.msg{word-break:break-word}
footer{color:var(--muted);font-size:12px;padding:4px 2px 16px}
"#;

/// Everything the page is drawn from.
pub struct PageInput<'a> {
    pub status: &'a Status,
    pub history: &'a History,
    pub constants: &'a Constants,
    pub now: f64,
}

pub fn render(p: &PageInput) -> String {
    let s = p.status;
    let mut o = String::with_capacity(64 * 1024);
    o.push_str(r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">"#);
    o.push_str(r#"<meta name="viewport" content="width=device-width,initial-scale=1">"#);
    o.push_str(r#"<meta http-equiv="refresh" content="30">"#);
    let _ = write!(o, "<title>clawvisor: {}</title>", esc(&state_word(s)));
    let _ = write!(o, "<style>{STYLE}</style></head><body><main>");
    header(&mut o, s, p.now);
    if let Some(pause) = &s.pause {
        pause_box(&mut o, s, pause);
    }
    charts(&mut o, p);
    events(&mut o, p.history);
    let _ = write!(
        o,
        "<footer>clawvisor {} · page drawn at {} UTC, refreshes every 30 s · history: {} of {} samples ({} when full) · <a href=\"/metrics\">/metrics</a> · <a href=\"/healthz\">/healthz</a> · <a href=\"/readyz\">/readyz</a></footer>",
        esc(p.constants.version),
        clock(p.now),
        p.history.len(),
        p.history.capacity(),
        fmt_value(p.history.full_bytes() as f64, Unit::Bytes),
    );
    o.push_str("</main></body></html>");
    o
}

fn state_word(s: &Status) -> String {
    if s.state == "running" && s.ready {
        "ready".into()
    } else {
        s.state.clone()
    }
}

fn header(o: &mut String, s: &Status, now: f64) {
    let word = state_word(s);
    let _ = write!(
        o,
        r#"<h1>clawvisor <span id="state" class="badge {}">{}</span></h1><section class="card"><div class="facts">"#,
        esc(&word),
        esc(&word)
    );
    let fact = |o: &mut String, id: &str, name: &str, value: &str| {
        let _ = write!(o, r#"<div id="{id}"><b>{name}</b>{}</div>"#, esc(value));
    };
    fact(
        o,
        "pid",
        "gateway pid",
        &s.pid.map_or("–".into(), |p| p.to_string()),
    );
    let uptime = s.uptime_secs.map_or("–".into(), |u| {
        humantime::format_duration(std::time::Duration::from_secs(u as u64)).to_string()
    });
    fact(o, "uptime", "uptime", &uptime);
    fact(o, "ready", "ready", if s.ready { "yes" } else { "no" });
    let reasons: Vec<String> = s
        .restarts_by_reason
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    let restarts = if reasons.is_empty() {
        s.restarts.to_string()
    } else {
        format!("{} ({})", s.restarts, reasons.join(", "))
    };
    fact(o, "restarts", "restarts", &restarts);
    let last_exit = s.last_exit.as_ref().map_or("–".into(), |e| {
        let ago = (now - super::unix(e.at)).max(0.0);
        format!(
            "{} ({} ago)",
            e.exit,
            humantime::format_duration(std::time::Duration::from_secs(ago as u64))
        )
    });
    fact(o, "last-exit", "last exit", &last_exit);
    if let Some(b) = s.backoff_remaining_secs {
        fact(o, "backoff", "next restart in", &format!("{b:.1} s"));
    }
    if let Some(r) = &s.last_reason {
        fact(o, "last-reason", "last stop reason", r);
    }
    o.push_str("</div></section>");
}

fn pause_box(o: &mut String, s: &Status, pause: &crate::supervisor::PauseRecord) {
    let since: chrono::DateTime<chrono::Utc> = pause.since.into();
    let _ = write!(
        o,
        r#"<section id="pause" class="card paused-box"><h2>Paused since {} UTC</h2><p id="pause-reason">{}</p><p>Look at the lines below, fix the cause, then run: <code id="resume-command">{}</code></p>"#,
        since.format("%Y-%m-%d %H:%M:%S"),
        esc(&pause.reason),
        esc(s
            .resume_hint
            .as_deref()
            .unwrap_or(crate::supervisor::RESUME_HINT))
    );
    if !pause.last_lines.is_empty() {
        let n = pause.last_lines.len();
        let shown = &pause.last_lines[n.saturating_sub(PAUSE_LINES_SHOWN)..];
        let _ = write!(
            o,
            r#"<h2>Last {} lines before the pause</h2><pre id="pause-lines">"#,
            shown.len()
        );
        for l in shown {
            o.push_str(&esc(l));
            o.push('\n');
        }
        o.push_str("</pre>");
        if n > shown.len() {
            o.push_str("<p>More with <code>clawvisor ctl logs</code> and in the log files.</p>");
        }
    }
    o.push_str("</section>");
}

fn frame(h: &History, now: f64) -> Frame {
    let samples = h.samples();
    let t0 = samples.front().map_or(now - 60.0, |s| s.t.min(now - 60.0));
    let mut restarts = Vec::new();
    let mut pauses = Vec::new();
    let mut pause_start: Option<f64> = None;
    let mut prev: Option<&Sample> = None;
    for s in samples {
        if let Some(p) = prev
            && s.restarts > p.restarts
        {
            restarts.push(s.t);
        }
        match (s.state == State::Paused, pause_start) {
            (true, None) => pause_start = Some(s.t),
            (false, Some(a)) => {
                pauses.push((a, s.t));
                pause_start = None;
            }
            _ => {}
        }
        prev = Some(s);
    }
    if let Some(a) = pause_start {
        pauses.push((a, now));
    }
    Frame {
        t0,
        t1: now,
        restarts,
        pauses,
    }
}

fn series(
    h: &History,
    name: &'static str,
    class: &'static str,
    f: impl Fn(&Sample) -> f32,
) -> Series {
    Series {
        name,
        class,
        points: h.samples().iter().map(|s| (s.t, f64::from(f(s)))).collect(),
    }
}

const NO_GPU: &str = "no GPU readings (no NVML, or [gpu] enabled = false)";

/// Pause lines shown on the page: the newest, where the cause usually is.
const PAUSE_LINES_SHOWN: usize = 20;

fn charts(o: &mut String, p: &PageInput) {
    let h = p.history;
    let k = p.constants;
    let fr = frame(h, p.now);
    let mut mem_limits = Vec::new();
    if let Some(v) = k.memory_warn_bytes {
        mem_limits.push(Threshold {
            name: "warn_above",
            class: "warn",
            value: v as f64,
        });
    }
    if let Some(v) = k.memory_restart_bytes {
        mem_limits.push(Threshold {
            name: "restart_above",
            class: "limit",
            value: v as f64,
        });
    }
    let gpu_total = h
        .samples()
        .back()
        .map_or(f64::NAN, |s| f64::from(s.gpu_total));
    let charts = [
        Chart {
            id: "chart-memory",
            title: "Gateway memory (process tree)",
            unit: Unit::Bytes,
            series: vec![
                series(h, "RSS", "s1", |s| s.rss),
                series(h, "PSS", "s2", |s| s.pss),
            ],
            thresholds: mem_limits,
            y_max: None,
            empty: "no readings yet ([memory] enabled = false?)",
        },
        Chart {
            id: "chart-gpu-memory",
            title: "GPU memory",
            unit: Unit::Bytes,
            series: vec![
                series(h, "all processes", "s3", |s| s.gpu_used),
                series(h, "gateway", "s1", |s| s.gpu_tree),
            ],
            thresholds: vec![Threshold {
                name: "total",
                class: "total",
                value: gpu_total,
            }],
            y_max: None,
            empty: NO_GPU,
        },
        Chart {
            id: "chart-gpu-util",
            title: "GPU utilisation (busiest device)",
            unit: Unit::Percent,
            series: vec![series(h, "utilisation", "s3", |s| s.gpu_util)],
            thresholds: vec![],
            y_max: Some(100.0),
            empty: NO_GPU,
        },
        Chart {
            id: "chart-probes",
            title: "Probe latency",
            unit: Unit::Millis,
            series: vec![
                series(h, "liveness", "s1", |s| s.liveness_ms),
                series(h, "readiness", "s3", |s| s.readiness_ms),
                series(h, "completion", "s4", |s| s.completion_ms),
            ],
            thresholds: vec![],
            y_max: None,
            empty: "no probe results yet (no [probes.*] configured?)",
        },
        Chart {
            id: "chart-ttft",
            title: "Completion: time to first token",
            unit: Unit::Millis,
            series: vec![series(h, "TTFT", "s4", |s| s.ttft_ms)],
            thresholds: vec![],
            y_max: None,
            empty: "no completion probe results yet",
        },
    ];
    let span = humantime::format_duration(std::time::Duration::from_secs(
        (fr.t1 - fr.t0).max(0.0) as u64
    ));
    let _ = write!(
        o,
        r#"<h2>Last {span} <small>(times in UTC)</small></h2><div class="charts">"#
    );
    for c in &charts {
        let _ = write!(o, r#"<section class="card"><h2>{}</h2>"#, esc(c.title));
        o.push_str(&chart::svg(c, &fr));
        o.push_str(r#"<div class="legend">"#);
        for s in &c.series {
            let _ = write!(
                o,
                r#"<span class="{}"><i></i>{}</span>"#,
                s.class,
                esc(s.name)
            );
        }
        for t in c.thresholds.iter().filter(|t| t.value.is_finite()) {
            let _ = write!(
                o,
                r#"<span class="{}"><i></i>{} {} (dashed)</span>"#,
                t.class,
                esc(t.name),
                fmt_value(t.value, c.unit)
            );
        }
        if !fr.restarts.is_empty() {
            let _ = write!(
                o,
                r#"<span class="restart-key"><i></i>gateway restarted ({})</span>"#,
                fr.restarts.len()
            );
        }
        if !fr.pauses.is_empty() {
            o.push_str(r#"<span class="pause-key"><i></i>paused</span>"#);
        }
        o.push_str("</div></section>");
    }
    o.push_str("</div>");
}

fn events(o: &mut String, h: &History) {
    o.push_str(r#"<section class="card" id="events"><h2>Recent events</h2>"#);
    let mut any = false;
    o.push_str("<table>");
    for n in h.events().rev() {
        any = true;
        let at: chrono::DateTime<chrono::Utc> = n.at.into();
        let _ = write!(
            o,
            r#"<tr><td class="when">{}</td><td>{}</td><td class="msg">{}</td></tr>"#,
            at.format("%H:%M:%S"),
            esc(&n.kind),
            esc(&n.message)
        );
    }
    o.push_str("</table>");
    if !any {
        o.push_str("<p>none since clawvisor started</p>");
    }
    o.push_str("</section>");
}
