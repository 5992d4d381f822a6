//! The Prometheus families, built afresh from one status snapshot per scrape (plus the
//! tally's accumulated histograms), so /metrics and `ctl status --json` never disagree.
//! Every label takes values from a fixed set, and every series exists from the start.
//!
//! The prometheus-client crate appends `_total` to counters and the unit to names
//! registered with one, and a "." to every help text: names here are given without them.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use super::read::{self, num, num_or_nan, part};
use super::tally::{Labels, Tally, probe_label};
use crate::supervisor::Status;
use crate::supervisor::restart_reason::RESTART_REASONS;

/// The exact Content-Type of OpenMetrics text; Prometheus v3 refuses a scrape without one.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The gateway's states, each a 0/1 series (as node_exporter's systemd unit states).
pub const STATES: [&str; 7] = [
    "starting", "running", "backoff", "stopping", "paused", "stopped", "exiting",
];

/// What does not come from the snapshot: fixed at start.
#[derive(Clone, Debug)]
pub struct Constants {
    pub version: &'static str,
    /// clawvisor's own start, Unix seconds.
    pub start_time: f64,
    pub memory_warn_bytes: Option<u64>,
    pub memory_restart_bytes: Option<u64>,
    pub history_capacity: usize,
}

type G = Gauge<f64, AtomicU64>;
type C = Counter<f64, AtomicU64>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A builder that keeps the registration calls short.
struct Builder(Registry);

impl Builder {
    fn gauge(&mut self, name: &str, help: &str, unit: Option<Unit>, v: f64) {
        let g = G::default();
        g.set(v);
        match unit {
            Some(u) => self.0.register_with_unit(name, help, u, g),
            None => self.0.register(name, help, g),
        }
    }

    fn counter(&mut self, name: &str, help: &str, unit: Option<Unit>, v: f64) {
        let c = C::default();
        c.inc_by(v.max(0.0));
        match unit {
            Some(u) => self.0.register_with_unit(name, help, u, c),
            None => self.0.register(name, help, c),
        }
    }

    fn gauges(&mut self, name: &str, help: &str, unit: Option<Unit>, series: &[(Labels, f64)]) {
        let f = Family::<Labels, G>::default();
        for (l, v) in series {
            f.get_or_create(l).set(*v);
        }
        match unit {
            Some(u) => self.0.register_with_unit(name, help, u, f),
            None => self.0.register(name, help, f),
        }
    }

    fn counters(&mut self, name: &str, help: &str, unit: Option<Unit>, series: &[(Labels, f64)]) {
        let f = Family::<Labels, C>::default();
        for (l, v) in series {
            f.get_or_create(l).inc_by(v.max(0.0));
        }
        match unit {
            Some(u) => self.0.register_with_unit(name, help, u, f),
            None => self.0.register(name, help, f),
        }
    }
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// The OpenMetrics text for one snapshot.
pub fn render(s: &Status, tally: &Tally, k: &Constants, history_len: usize) -> String {
    let mut b = Builder(Registry::with_prefix("clawvisor"));
    supervisor_families(&mut b, s, k, history_len);
    gateway_families(&mut b, s);
    memory_families(&mut b, s, k);
    gpu_families(&mut b, s);
    disk_families(&mut b, s);
    probe_families(&mut b, s, tally);
    log_families(&mut b, s);
    alert_families(&mut b, s);
    job_families(&mut b, s);
    let mut out = String::with_capacity(16 * 1024);
    // Writing to a String cannot fail.
    let _ = encode(&mut out, &b.0);
    out
}

fn supervisor_families(b: &mut Builder, _s: &Status, k: &Constants, history_len: usize) {
    b.gauges(
        "build_info",
        "clawvisor's version; always 1",
        None,
        &[(labels(&[("version", k.version)]), 1.0)],
    );
    b.gauge(
        "start_time",
        "When clawvisor started, Unix time",
        Some(Unit::Seconds),
        k.start_time,
    );
    b.gauge(
        "status_history_samples",
        "Samples in the status page's history ring",
        None,
        history_len as f64,
    );
    b.gauge(
        "status_history_capacity_samples",
        "Samples the status page's history ring holds when full",
        None,
        k.history_capacity as f64,
    );
}

fn gateway_families(b: &mut Builder, s: &Status) {
    let states: Vec<(Labels, f64)> = STATES
        .iter()
        .map(|st| (labels(&[("state", st)]), flag(s.state == *st)))
        .collect();
    b.gauges(
        "gateway_state",
        "1 for the gateway's current state, 0 for the others",
        None,
        &states,
    );
    b.gauge(
        "gateway_up",
        "1 while the gateway process runs",
        None,
        flag(s.pid.is_some()),
    );
    b.gauge(
        "gateway_ready",
        "1 while the gateway is ready (its readiness probe passed)",
        None,
        flag(s.ready),
    );
    let restarts: Vec<(Labels, f64)> = RESTART_REASONS
        .iter()
        .map(|r| {
            let n = s.restarts_by_reason.get(*r).copied().unwrap_or(0);
            (labels(&[("reason", r)]), n as f64)
        })
        .collect();
    b.counters(
        "gateway_restarts",
        "Restarts of the gateway, by reason",
        None,
        &restarts,
    );
    let now = crate::metrics::unix_now();
    b.gauge(
        "gateway_start_time",
        "When the running gateway started, Unix time (0 when none runs)",
        Some(Unit::Seconds),
        s.uptime_secs.map_or(0.0, |u| now - u),
    );
    let (code, signal, at) = match &s.last_exit {
        Some(e) => {
            let at = crate::metrics::unix(e.at);
            match e.exit {
                crate::supervisor::Exit::Code(c) => (c as f64, 0.0, at),
                crate::supervisor::Exit::Signal(n) => (-1.0, n as f64, at),
            }
        }
        None => (-1.0, 0.0, 0.0),
    };
    b.gauge(
        "gateway_last_exit_code",
        "Exit code of the gateway's last exit (-1: none yet, or killed by a signal)",
        None,
        code,
    );
    b.gauge(
        "gateway_last_exit_signal",
        "Signal that ended the gateway last (0: none)",
        None,
        signal,
    );
    b.gauge(
        "gateway_last_exit_timestamp",
        "When the gateway last exited, Unix time (0: not yet)",
        Some(Unit::Seconds),
        at,
    );
    b.gauge(
        "gateway_backoff",
        "Time left before the next restart (0 outside backoff)",
        Some(Unit::Seconds),
        s.backoff_remaining_secs.unwrap_or(0.0),
    );
    b.gauge(
        "gateway_paused",
        "1 while the gateway is held down until `clawvisor ctl resume`",
        None,
        flag(s.pause.is_some()),
    );
    b.gauge(
        "gateway_paused_since_timestamp",
        "When the current pause began, Unix time (0: not paused)",
        Some(Unit::Seconds),
        s.pause
            .as_ref()
            .map_or(0.0, |p| crate::metrics::unix(p.since)),
    );
}

fn memory_families(b: &mut Builder, s: &Status, k: &Constants) {
    let m = part(s, "memory");
    b.gauge(
        "gateway_resident_memory",
        "Resident memory (RSS) of the gateway's process tree",
        Some(Unit::Bytes),
        num_or_nan(m, "rss_bytes"),
    );
    b.gauge(
        "gateway_proportional_memory",
        "Proportional memory (PSS) of the gateway's process tree",
        Some(Unit::Bytes),
        num_or_nan(m, "pss_bytes"),
    );
    b.gauge(
        "gateway_processes",
        "Processes in the gateway's tree",
        None,
        num(m, "processes").unwrap_or(0.0),
    );
    let limit = |v: Option<u64>| v.map_or(f64::NAN, |v| v as f64);
    b.gauges(
        "memory_limit",
        "The configured memory thresholds (NaN: not set)",
        Some(Unit::Bytes),
        &[
            (labels(&[("kind", "warn")]), limit(k.memory_warn_bytes)),
            (
                labels(&[("kind", "restart")]),
                limit(k.memory_restart_bytes),
            ),
        ],
    );
}

fn gpu_families(b: &mut Builder, s: &Status) {
    let g = part(s, "gpu");
    let devices = read::gpu_devices(s);
    b.gauge(
        "gpu_available",
        "1 when GPU readings are available",
        None,
        flag(!devices.is_empty()),
    );
    b.gauge(
        "gateway_gpu_memory",
        "GPU memory held by the gateway's process tree, all devices",
        Some(Unit::Bytes),
        num(g, "gateway_memory").unwrap_or(if devices.is_empty() { 0.0 } else { f64::NAN }),
    );
    let per = |key: &str, scale: f64| -> Vec<(Labels, f64)> {
        devices
            .iter()
            .map(|(i, d)| {
                let v = d
                    .get(key)
                    .and_then(|v| v.as_f64())
                    .map_or(f64::NAN, |v| v * scale);
                (labels(&[("gpu", i)]), v)
            })
            .collect()
    };
    b.gauges(
        "gpu_memory_used",
        "GPU memory in use on the device",
        Some(Unit::Bytes),
        &per("memory_used", 1.0),
    );
    b.gauges(
        "gpu_memory_total",
        "GPU memory of the device",
        Some(Unit::Bytes),
        &per("memory_total", 1.0),
    );
    b.gauges(
        "gpu_utilization_ratio",
        "GPU utilisation of the device, 0 to 1",
        None,
        &per("utilization_percent", 0.01),
    );
    b.gauges(
        "gateway_gpu_device_memory",
        "GPU memory held by the gateway's process tree on the device",
        Some(Unit::Bytes),
        &per("gateway_memory", 1.0),
    );
}

fn disk_families(b: &mut Builder, s: &Status) {
    let fss: Vec<&serde_json::Value> = part(s, "disk")
        .and_then(|d| d.get("filesystems")?.as_array())
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let by_role = |key: &str, scale: f64| -> Vec<(Labels, f64)> {
        fss.iter()
            .map(|f| {
                let role = f.get("role").and_then(|r| r.as_str()).unwrap_or("other");
                let v = f
                    .get(key)
                    .and_then(|v| v.as_f64())
                    .map_or(f64::NAN, |v| v * scale);
                (labels(&[("role", role)]), v)
            })
            .collect()
    };
    b.gauges(
        "filesystem_used_ratio",
        "Used fraction of the filesystem holding clawvisor's files, 0 to 1",
        None,
        &by_role("used_percent", 0.01),
    );
    b.gauges(
        "filesystem_avail",
        "Space left on the filesystem holding clawvisor's files",
        Some(Unit::Bytes),
        &by_role("available_bytes", 1.0),
    );
}

fn probe_families(b: &mut Builder, s: &Status, tally: &Tally) {
    let names = read::probe_names(s);
    let success: Vec<(Labels, f64)> = names
        .iter()
        .map(|p| {
            let v = part(s, &format!("probes.{p}"));
            let ok = v
                .and_then(|v| v.get("last")?.as_str())
                .is_some_and(|l| l == "pass");
            (probe_label(p), flag(ok))
        })
        .collect();
    b.gauges(
        "probe_success",
        "1 when the probe's last check passed",
        None,
        &success,
    );
    b.0.register(
        "probe_results",
        "Probe checks, by probe and result",
        tally.probe_results.clone(),
    );
    b.0.register_with_unit(
        "probe_duration",
        "How long probe checks took",
        Unit::Seconds,
        tally.probe_duration.clone(),
    );
    let c = part(s, "probes.completion");
    b.0.register_with_unit(
        "completion_time_to_first_token",
        "Time to the first token of the completion probe's answer",
        Unit::Seconds,
        tally.ttft.clone(),
    );
    b.gauge(
        "completion_tokens_per_second",
        "Tokens per second of the completion probe's last answer (NaN: unknown)",
        None,
        num_or_nan(c, "tokens_per_sec"),
    );
    let q = part(s, "quality");
    let runs = num(q, "runs").unwrap_or(0.0);
    b.gauge(
        "quality_pass_ratio",
        "Passed fraction of the last quality run, 0 to 1 (NaN: no run yet)",
        None,
        if runs > 0.0 {
            num_or_nan(q, "pass_rate")
        } else {
            f64::NAN
        },
    );
    b.gauge(
        "quality_last_run_timestamp",
        "When the last quality run finished, Unix time (0: none yet)",
        Some(Unit::Seconds),
        if runs > 0.0 {
            read::at_secs(q).unwrap_or(0.0)
        } else {
            0.0
        },
    );
    b.counter(
        "quality_runs",
        "Quality runs since clawvisor started",
        None,
        runs,
    );
}

fn log_families(b: &mut Builder, s: &Status) {
    let l = part(s, "logs");
    let n = |key: &str| num(l, key).unwrap_or(0.0);
    b.counter(
        "log_read",
        "Bytes read from the gateway's output",
        Some(Unit::Bytes),
        n("bytes_read"),
    );
    b.counter(
        "log_written",
        "Bytes written to log files",
        Some(Unit::Bytes),
        n("bytes_written"),
    );
    b.counter(
        "log_lines",
        "Lines read from the gateway's output",
        None,
        n("lines_read"),
    );
    b.counter(
        "log_dropped_lines",
        "Lines dropped (disk full or stalled)",
        None,
        n("lines_dropped"),
    );
    b.counter(
        "log_dropped",
        "Bytes dropped (disk full or stalled)",
        Some(Unit::Bytes),
        n("bytes_dropped"),
    );
    b.counter("log_rotations", "Log file rotations", None, n("rotations"));
    b.counter(
        "log_write_errors",
        "Failed writes to log files",
        None,
        n("write_errors"),
    );
    b.counter(
        "log_pattern_matches",
        "Lines that matched a [[logs.patterns]] rule",
        None,
        n("pattern_matches"),
    );
    b.gauge(
        "log_compress_backlog",
        "Rotated files waiting to be compressed",
        None,
        n("compress_backlog"),
    );
    b.gauge(
        "log_dropping",
        "1 while lines are being dropped",
        None,
        flag(
            l.and_then(|v| v.get("dropping")?.as_bool())
                .unwrap_or(false),
        ),
    );
}

/// Per alert channel (`[alerts]`): one series per configured channel, present from the start.
fn alert_families(b: &mut Builder, s: &Status) {
    let channels: Vec<&serde_json::Value> = part(s, "alerts")
        .and_then(|a| a.get("channels")?.as_array())
        .map(|c| c.iter().collect())
        .unwrap_or_default();
    let series = |key: &str| -> Vec<(Labels, f64)> {
        channels
            .iter()
            .map(|c| {
                let name = c["name"].as_str().unwrap_or("");
                let kind = c["kind"].as_str().unwrap_or("");
                (
                    labels(&[("channel", name), ("kind", kind)]),
                    c[key].as_f64().unwrap_or(0.0),
                )
            })
            .collect()
    };
    b.counters(
        "alerts_sent",
        "Alert messages delivered, per channel",
        None,
        &series("sent"),
    );
    b.counters(
        "alerts_failed",
        "Alert messages given up on after their attempts, per channel",
        None,
        &series("failed"),
    );
    b.counters(
        "alerts_dropped",
        "Alert messages dropped from a full channel queue, per channel",
        None,
        &series("dropped"),
    );
    b.gauges(
        "alerts_queued",
        "Alert messages waiting in a channel's queue",
        None,
        &series("queued"),
    );
}

/// Job outcomes as the scheduler records them (`ctl jobs history`).
const JOB_OUTCOMES: [&str; 5] = ["succeeded", "failed", "timed_out", "interrupted", "skipped"];

/// Per scheduled job (`[[jobs]]`): runs by outcome (every outcome present from the start),
/// whether it runs now, and slots missed while clawvisor was down.
fn job_families(b: &mut Builder, s: &Status) {
    let jobs: Vec<&serde_json::Value> = part(s, "jobs")
        .and_then(|j| j.get("jobs")?.as_array())
        .map(|j| j.iter().collect())
        .unwrap_or_default();
    let name = |j: &serde_json::Value| j["name"].as_str().unwrap_or("").to_string();
    let runs: Vec<(Labels, f64)> = jobs
        .iter()
        .flat_map(|j| {
            JOB_OUTCOMES.iter().map(move |o| {
                (
                    labels(&[("job", &name(j)), ("outcome", o)]),
                    j["runs"][*o].as_f64().unwrap_or(0.0),
                )
            })
        })
        .collect();
    b.counters("job_runs", "Job attempts ended, by outcome", None, &runs);
    let per_job = |f: &dyn Fn(&serde_json::Value) -> f64| -> Vec<(Labels, f64)> {
        jobs.iter()
            .map(|j| (labels(&[("job", &name(j))]), f(j)))
            .collect()
    };
    b.gauges(
        "job_running",
        "1 while the job runs",
        None,
        &per_job(&|j| flag(j["state"] == "running")),
    );
    b.gauges(
        "job_waiting",
        "1 while a due run waits for its gates",
        None,
        &per_job(&|j| flag(j["waiting_on"].is_string())),
    );
    b.counters(
        "job_missed_slots",
        "Slots missed while clawvisor was down",
        None,
        &per_job(&|j| j["missed_total"].as_f64().unwrap_or(0.0)),
    );
}
