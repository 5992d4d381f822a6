//! Helpers for the `[metrics]` tests: a plain HTTP client (std only, one request per
//! connection, as the listener closes after each), tools that must exist in CI, and
//! clawvisor started with a metrics port.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::{self, CLAWVISOR, Clawvisor};

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `METHOD path` on 127.0.0.1:port; the whole reply.
pub fn request(port: u16, method: &str, path: &str) -> std::io::Result<Reply> {
    let mut c = TcpStream::connect(("127.0.0.1", port))?;
    c.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        c,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    c.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// A chunked body (Prometheus's larger answers) put back together.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].strip_prefix("\r\n").unwrap_or(&after[n..]);
    }
    out
}

pub fn get(port: u16, path: &str) -> Reply {
    request(port, "GET", path).unwrap_or_else(|e| panic!("GET {path} on port {port}: {e}"))
}

/// Whether a tool the test needs is here. Missing in CI (CI=true) is a failure; missing on
/// a developer's machine skips the test, loudly.
pub fn need(what: &str, check: &mut Command) -> bool {
    let ok = check
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{what} is missing; .ci/run installs it"
        );
        eprintln!("SKIPPED: {what} is not installed (CI installs it; see .ci/run)");
    }
    ok
}

/// clawvisor supervising the fake gateway (on a free port, plus `argv`), with
/// `[metrics] listen` on a free port and `extra` config. Waits until the port answers.
pub fn start(argv: &[&str], metrics: &str, extra: &str) -> (Clawvisor, u16) {
    let port = common::free_port();
    let mut full = vec![common::FAKE_GATEWAY, "--port", "0"];
    full.extend_from_slice(argv);
    let cv = Clawvisor::start(
        &full,
        &format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n{metrics}\n{extra}"),
    );
    common::wait_listening(port, Duration::from_secs(30));
    (cv, port)
}

/// `clawvisor ctl status --json`.
pub fn ctl_status(cv: &Clawvisor) -> Value {
    let (code, out, err) = common::run_cli(&[
        "ctl",
        "--config",
        cv.config_path.to_str().unwrap(),
        "status",
        "--json",
    ]);
    assert_eq!(code, 0, "ctl status: {err}");
    serde_json::from_str(&out).unwrap()
}

pub fn ctl(cv: &Clawvisor, args: &[&str]) -> String {
    let mut all = vec!["ctl", "--config", cv.config_path.to_str().unwrap()];
    all.extend_from_slice(args);
    let (code, out, err) = common::run_cli(&all);
    assert_eq!(code, 0, "ctl {args:?}: {out}{err}");
    out
}

/// The clawvisor binary (for tests that time it).
pub fn binary() -> &'static str {
    CLAWVISOR
}
