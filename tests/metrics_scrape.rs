//! `[metrics]`: /metrics scraped through the real binary and parsed by an OpenMetrics
//! parser (Python prometheus_client), /healthz, /readyz, and the listener's limits.

mod common;
mod metrics_support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::eventually;
use metrics_support as m;
use serde_json::Value;

const T: Duration = Duration::from_secs(30);

/// The families of a scrape, as the OpenMetrics parser sees them.
fn parse(text: &str) -> Vec<Value> {
    let mut p = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/metrics_support/parse_openmetrics.py"
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    p.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = p.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the OpenMetrics parser refused the scrape: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn scrape(port: u16) -> Vec<Value> {
    let r = m::get(port, "/metrics");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    parse(&r.body)
}

fn family<'a>(fams: &'a [Value], name: &str) -> &'a Value {
    fams.iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no family {name}"))
}

/// The value of the sample `name` whose labels include `labels`.
fn value(fams: &[Value], name: &str, labels: &[(&str, &str)]) -> f64 {
    for f in fams {
        for s in f["samples"].as_array().unwrap() {
            if s[0] == name && labels.iter().all(|(k, v)| s[1][*k] == *v) {
                return s[2].as_f64().unwrap_or(f64::NAN);
            }
        }
    }
    panic!("no sample {name}{labels:?}")
}

/// Every sample's label names of a family (sorted, `le` left out).
fn label_sets(f: &Value) -> Vec<Vec<String>> {
    let mut sets: Vec<Vec<String>> = f["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let mut k: Vec<String> = s[1]
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "le")
                .cloned()
                .collect();
            k.sort();
            k
        })
        .collect();
    sets.dedup();
    sets
}

fn python_parser_present() -> bool {
    m::need(
        "python3 with prometheus_client",
        Command::new("python3").args(["-c", "import prometheus_client.openmetrics.parser"]),
    )
}

#[test]
fn scrape_parses_as_openmetrics_and_a_crash_moves_the_counters() {
    if !python_parser_present() {
        return;
    }
    let (cv, port) = m::start(
        &["--exit-after", "3s", "--exit-code", "3"],
        "sample_every = \"200ms\"\nhistory = \"1m\"",
        "[memory]\ninterval = \"200ms\"\nwarn_above = \"1GiB\"\nrestart_above = \"2GiB\"\n[restart.backoff]\ninitial = \"300ms\"\n[restart]\nmax_restarts = 50",
    );
    let mut fams = scrape(port);
    assert!(eventually(T, || {
        fams = scrape(port);
        value(&fams, "clawvisor_gateway_up", &[]) == 1.0
    }));

    // Names, types, units and label sets: the contract dashboards are built on.
    let expect: &[(&str, &str, &str, &[&str])] = &[
        ("clawvisor_build_info", "gauge", "", &["version"]),
        ("clawvisor_start_time_seconds", "gauge", "seconds", &[]),
        ("clawvisor_gateway_state", "gauge", "", &["state"]),
        ("clawvisor_gateway_up", "gauge", "", &[]),
        ("clawvisor_gateway_ready", "gauge", "", &[]),
        ("clawvisor_gateway_restarts", "counter", "", &["reason"]),
        (
            "clawvisor_gateway_start_time_seconds",
            "gauge",
            "seconds",
            &[],
        ),
        ("clawvisor_gateway_last_exit_code", "gauge", "", &[]),
        ("clawvisor_gateway_last_exit_signal", "gauge", "", &[]),
        (
            "clawvisor_gateway_last_exit_timestamp_seconds",
            "gauge",
            "seconds",
            &[],
        ),
        ("clawvisor_gateway_paused", "gauge", "", &[]),
        (
            "clawvisor_gateway_paused_since_timestamp_seconds",
            "gauge",
            "seconds",
            &[],
        ),
        (
            "clawvisor_gateway_resident_memory_bytes",
            "gauge",
            "bytes",
            &[],
        ),
        (
            "clawvisor_gateway_proportional_memory_bytes",
            "gauge",
            "bytes",
            &[],
        ),
        ("clawvisor_gateway_processes", "gauge", "", &[]),
        ("clawvisor_memory_limit_bytes", "gauge", "bytes", &["kind"]),
        ("clawvisor_gpu_available", "gauge", "", &[]),
        ("clawvisor_gateway_gpu_memory_bytes", "gauge", "bytes", &[]),
        ("clawvisor_filesystem_used_ratio", "gauge", "", &["role"]),
        ("clawvisor_probe_success", "gauge", "", &["probe"]),
        (
            "clawvisor_probe_results",
            "counter",
            "",
            &["probe", "result"],
        ),
        (
            "clawvisor_probe_duration_seconds",
            "histogram",
            "seconds",
            &["probe"],
        ),
        (
            "clawvisor_completion_time_to_first_token_seconds",
            "histogram",
            "seconds",
            &[],
        ),
        ("clawvisor_completion_tokens_per_second", "gauge", "", &[]),
        ("clawvisor_quality_pass_ratio", "gauge", "", &[]),
        (
            "clawvisor_quality_last_run_timestamp_seconds",
            "gauge",
            "seconds",
            &[],
        ),
        ("clawvisor_log_read_bytes", "counter", "bytes", &[]),
        ("clawvisor_log_lines", "counter", "", &[]),
        ("clawvisor_log_dropped_lines", "counter", "", &[]),
        ("clawvisor_log_rotations", "counter", "", &[]),
        ("clawvisor_log_compress_backlog", "gauge", "", &[]),
    ];
    for (name, ty, unit, labels) in expect {
        let f = family(&fams, name);
        assert_eq!(f["type"], *ty, "{name}");
        assert_eq!(f["unit"], *unit, "{name}");
        let help = f["help"].as_str().unwrap();
        assert!(
            !help.is_empty() && !help.ends_with(".."),
            "{name}: help {help:?}"
        );
        let want: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
        assert_eq!(label_sets(f), [want], "{name}");
    }
    // Every state and reason is a series from the start; exactly one state is 1.
    let states = [
        "starting", "running", "backoff", "stopping", "paused", "stopped", "exiting",
    ];
    let state_of = |fams: &[Value]| -> Vec<&str> {
        states
            .iter()
            .filter(|s| value(fams, "clawvisor_gateway_state", &[("state", s)]) == 1.0)
            .copied()
            .collect()
    };
    assert_eq!(state_of(&fams), ["running"]);
    let reasons = [
        "crash",
        "signal",
        "spawn_failed",
        "memory",
        "gpu",
        "probe",
        "log_pattern",
        "logs",
        "operator",
        "requested",
        "other",
    ];
    for r in reasons {
        assert_eq!(
            value(&fams, "clawvisor_gateway_restarts_total", &[("reason", r)]),
            0.0,
            "{r}"
        );
    }
    for p in ["startup", "liveness", "readiness", "completion"] {
        for result in ["pass", "fail"] {
            value(
                &fams,
                "clawvisor_probe_results_total",
                &[("probe", p), ("result", result)],
            );
        }
        value(
            &fams,
            "clawvisor_probe_duration_seconds_count",
            &[("probe", p)],
        );
    }
    assert_eq!(
        value(
            &fams,
            "clawvisor_memory_limit_bytes",
            &[("kind", "restart")]
        ),
        2.0 * 1024.0 * 1024.0 * 1024.0
    );
    assert!(value(&fams, "clawvisor_gateway_resident_memory_bytes", &[]) > 0.0);
    assert_eq!(value(&fams, "clawvisor_gateway_last_exit_code", &[]), -1.0);
    assert_eq!(value(&fams, "clawvisor_gateway_paused", &[]), 0.0);
    let started = value(&fams, "clawvisor_start_time_seconds", &[]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        (now - started).abs() < 120.0,
        "start time {started} vs now {now}"
    );

    // The fake exits with code 3 after 3 s: the crash counter and the exit code move.
    assert!(
        eventually(T, || {
            fams = scrape(port);
            value(
                &fams,
                "clawvisor_gateway_restarts_total",
                &[("reason", "crash")],
            ) >= 1.0
        }),
        "{}",
        m::get(port, "/metrics").body
    );
    assert_eq!(value(&fams, "clawvisor_gateway_last_exit_code", &[]), 3.0);
    assert!(value(&fams, "clawvisor_gateway_last_exit_timestamp_seconds", &[]) > started);
    // The same numbers as `ctl status --json` (read between two scrapes).
    let before = value(
        &fams,
        "clawvisor_gateway_restarts_total",
        &[("reason", "crash")],
    );
    let status = m::ctl_status(&cv);
    let after = value(
        &scrape(port),
        "clawvisor_gateway_restarts_total",
        &[("reason", "crash")],
    );
    let json = status["restarts_by_reason"]["crash"].as_f64().unwrap();
    assert!(
        before <= json && json <= after,
        "{before} <= {json} <= {after}"
    );

    // A pause: the state gauges follow, /readyz says why, /healthz stays fine.
    m::ctl(&cv, &["pause"]);
    assert!(eventually(T, || {
        fams = scrape(port);
        state_of(&fams) == ["paused"]
    }));
    assert_eq!(value(&fams, "clawvisor_gateway_paused", &[]), 1.0);
    assert_eq!(value(&fams, "clawvisor_gateway_up", &[]), 0.0);
    assert!(
        value(
            &fams,
            "clawvisor_gateway_paused_since_timestamp_seconds",
            &[]
        ) > started
    );
    let r = m::get(port, "/readyz");
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        r.body
            .starts_with("paused: paused by `clawvisor ctl pause`"),
        "{}",
        r.body
    );
    let r = m::get(port, "/healthz");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.starts_with("ok: clawvisor's decision loop answered"),
        "{}",
        r.body
    );

    // Resume: an operator restart, and the gateway is ready again.
    m::ctl(&cv, &["resume"]);
    // The fake lives 3 s at a time: catch a ready window, where /readyz must agree.
    let mut ready = None;
    assert!(
        eventually(T, || {
            fams = scrape(port);
            let operator = value(
                &fams,
                "clawvisor_gateway_restarts_total",
                &[("reason", "operator")],
            );
            if operator != 1.0 || value(&fams, "clawvisor_gateway_ready", &[]) != 1.0 {
                return false;
            }
            let r = m::get(port, "/readyz");
            let ok = r.status == 200;
            ready = Some(r.body);
            ok
        }),
        "never ready after resume: {ready:?}"
    );
    let body = ready.unwrap();
    assert!(body.starts_with("ready: gateway pid"), "{body}");
}

#[test]
fn the_listener_is_read_only_and_bounded() {
    let (_cv, port) = m::start(&[], "max_connections = 1", "");
    let r = m::request(port, "POST", "/metrics").unwrap();
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    let r = m::get(port, "/nothing-here");
    assert_eq!(r.status, 404);
    let r = m::request(port, "HEAD", "/").unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty(), "HEAD sent a body: {}", r.body);
    assert!(
        r.header("content-security-policy")
            .unwrap()
            .starts_with("default-src 'none'")
    );

    // A request head over 16 KiB is refused, not buffered.
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    let big = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(40 * 1024));
    let _ = c.write_all(big.as_bytes());
    let mut reply = String::new();
    let _ = std::io::Read::read_to_string(&mut c, &mut reply);
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 431"),
        "an oversized head got: {reply:.200}"
    );

    // One slot: a client that connects and sends nothing holds it until the 5 s head
    // timeout; the next request waits for that, then is served.
    let idle = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    let r = m::get(port, "/healthz");
    let waited = t.elapsed();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(25),
        "waited {waited:?}"
    );
    drop(idle);
}

#[test]
fn a_taken_port_stops_clawvisor_before_the_gateway_starts() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut cv = common::Clawvisor::start(
        &[common::FAKE_GATEWAY, "--port", "0"],
        &format!("[metrics]\nlisten = \"127.0.0.1:{port}\""),
    );
    let status = cv.wait_exit(T);
    assert_eq!(status.code(), Some(1));
    let err = std::fs::read_to_string(&cv.stderr_path).unwrap();
    assert!(
        err.contains(&format!("metrics.listen 127.0.0.1:{port}: cannot listen")),
        "{err}"
    );
    assert!(!err.contains("gateway started"), "{err}");
}

/// Alert channels and scheduled jobs have their series from the start, and deliveries and
/// job runs move them (the values are the ones `ctl status --json` shows).
#[test]
fn alert_channels_and_jobs_have_their_series() {
    if !python_parser_present() {
        return;
    }
    let (cv, port) = m::start(
        &[],
        "sample_every = \"200ms\"\nhistory = \"1m\"",
        "[[alerts.exec]]\nname = \"hook\"\ncommand = [\"/bin/true\"]\n\
         [[jobs]]\nname = \"tick\"\ncommand = [\"/bin/true\"]\nevery = \"1s\"\nrequires = \"none\"\n",
    );
    // The scheduler publishes its jobs at its first tick (0.5 s).
    let mut fams = scrape(port);
    assert!(eventually(T, || {
        fams = scrape(port);
        fams.iter().any(|f| f["name"] == "clawvisor_job_runs")
    }));
    for (name, labels) in [
        ("clawvisor_alerts_sent_total", vec!["channel", "kind"]),
        ("clawvisor_alerts_failed_total", vec!["channel", "kind"]),
        ("clawvisor_alerts_dropped_total", vec!["channel", "kind"]),
        ("clawvisor_job_runs_total", vec!["job", "outcome"]),
        ("clawvisor_job_missed_slots_total", vec!["job"]),
    ] {
        let base = name.trim_end_matches("_total");
        let f = family(&fams, base);
        assert_eq!(f["type"], "counter", "{f}");
        assert_eq!(label_sets(f), vec![labels], "{f}");
    }
    assert_eq!(
        value(&fams, "clawvisor_alerts_sent_total", &[("channel", "hook")]),
        0.0
    );
    assert_eq!(
        value(
            &fams,
            "clawvisor_job_runs_total",
            &[("job", "tick"), ("outcome", "failed")]
        ),
        0.0
    );

    m::ctl(&cv, &["alert", "test"]);
    assert!(eventually(T, || {
        let f = scrape(port);
        value(&f, "clawvisor_alerts_sent_total", &[("channel", "hook")]) == 1.0
            && value(
                &f,
                "clawvisor_job_runs_total",
                &[("job", "tick"), ("outcome", "succeeded")],
            ) >= 1.0
    }));
}
