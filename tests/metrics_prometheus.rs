//! A real Prometheus (Debian's `prometheus` package) scrapes clawvisor's /metrics: its query
//! API must report `up == 1` for the target and return clawvisor's series.

mod common;
mod metrics_support;

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::eventually;
use metrics_support as m;
use serde_json::Value;

const T: Duration = Duration::from_secs(90);

/// Prometheus, ended with its process group when the test ends.
struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group this test started.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// The result vector of an instant query, or None while Prometheus is not answering.
fn query(port: u16, q: &str) -> Option<Vec<Value>> {
    let path = format!("/api/v1/query?query={}", encode(q));
    let r = m::request(port, "GET", &path).ok()?;
    let v: Value = serde_json::from_str(&r.body).ok()?;
    v["data"]["result"].as_array().cloned()
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn prometheus_scrapes_clawvisor_and_sees_it_up() {
    if !m::need("prometheus", Command::new("prometheus").arg("--version")) {
        return;
    }
    let (cv, port) = m::start(&[], "", "");
    let prom_port = common::free_port();
    let config = cv.path("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: clawvisor\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(cv.path("prometheus.log")).unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", cv.path("tsdb").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("prometheus");
    let _prom = Prometheus(child);
    let log = || std::fs::read_to_string(cv.path("prometheus.log")).unwrap_or_default();

    let mut up = Vec::new();
    assert!(
        eventually(T, || {
            up = query(prom_port, "up{job=\"clawvisor\"}").unwrap_or_default();
            up.first().is_some_and(|s| s["value"][1] == "1")
        }),
        "up never became 1: {up:?}\n{}",
        log()
    );
    let mut series = Vec::new();
    assert!(
        eventually(T, || {
            series = query(prom_port, "clawvisor_gateway_up").unwrap_or_default();
            series.first().is_some_and(|s| s["value"][1] == "1")
        }),
        "clawvisor_gateway_up: {series:?}\n{}",
        log()
    );
    let restarts = query(prom_port, "clawvisor_gateway_restarts_total").unwrap();
    assert_eq!(
        restarts.len(),
        11,
        "one series per restart reason: {restarts:?}"
    );
    // Prometheus kept the OpenMetrics unit and type: a histogram's buckets are queryable.
    let buckets = query(
        prom_port,
        "clawvisor_probe_duration_seconds_bucket{probe=\"liveness\"}",
    )
    .unwrap();
    assert!(buckets.len() >= 10, "{buckets:?}");
}
