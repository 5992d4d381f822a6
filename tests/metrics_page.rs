//! The status page in a real browser: headless Chromium loads it while the fake gateway
//! leaks memory and crashes; the rendered DOM must hold chart lines, restart marks,
//! thresholds and, once paused, the pause box with the resume command. Screenshots are
//! written to `target/tmp/status-page.png` (desktop) and `target/tmp/status-page-phone.png`.

mod common;
mod metrics_support;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Clawvisor, FAKE_GATEWAY, eventually};
use metrics_support as m;

const T: Duration = Duration::from_secs(60);

/// Runs headless Chromium with a fresh profile; its stdout. Killed (its whole process
/// group) if it takes longer than 90 s.
fn chromium(profile: &Path, args: &[String]) -> String {
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(args)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .process_group(0);
    let child = cmd.spawn().expect("chromium");
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(90)) {
        Ok(out) => {
            let out = out.unwrap();
            assert!(
                out.status.success(),
                "chromium failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
        Err(_) => {
            // SAFETY: kill(2) on the process group this test started.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            panic!("chromium did not finish within 90 s");
        }
    }
}

/// The `points` of every polyline inside the element with `id`.
fn points_in(dom: &str, id: &str) -> usize {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the DOM"));
    let svg = &dom[start..start + dom[start..].find("</svg>").unwrap()];
    svg.split("points=\"")
        .skip(1)
        .map(|p| p.split('"').next().unwrap().split_whitespace().count())
        .sum()
}

fn count_in(dom: &str, id: &str, needle: &str) -> usize {
    let start = dom.find(&format!("id=\"{id}\"")).unwrap();
    let svg = &dom[start..start + dom[start..].find("</svg>").unwrap()];
    svg.matches(needle).count()
}

#[test]
fn chromium_renders_charts_with_restart_marks_and_the_pause_box() {
    if !m::need("chromium", Command::new("chromium").arg("--version")) {
        return;
    }
    let gw = common::free_port();
    let port = common::free_port();
    let gw_s = gw.to_string();
    let cv = Clawvisor::start(
        &[
            FAKE_GATEWAY,
            "--port",
            &gw_s,
            "--leak-rate",
            "8MiB",
            "--crash-every",
            "3s",
            "--log-rate",
            "2",
        ],
        &format!(
            r#"
[restart]
max_restarts = 50
[restart.backoff]
initial = "300ms"
[memory]
interval = "200ms"
warn_above = "20MiB"
restart_above = "40MiB"
[probes.liveness]
url = "http://127.0.0.1:{gw}/healthz"
period = "300ms"
[probes.completion]
url = "http://127.0.0.1:{gw}/v1/chat/completions"
period = "1s"
[metrics]
listen = "127.0.0.1:{port}"
sample_every = "200ms"
history = "2m"
"#
        ),
    );
    common::wait_listening(port, T);
    assert!(
        eventually(T, || m::ctl_status(&cv)["restarts"].as_u64() >= Some(2)),
        "the fake did not crash twice"
    );
    // One more second of samples after the second restart.
    std::thread::sleep(Duration::from_secs(1));
    let url = format!("http://127.0.0.1:{port}/");
    let profile = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let dom = chromium(profile.path(), &["--dump-dom".into(), url.clone()]);
    eprintln!("chromium --dump-dom took {:?}", t.elapsed());
    assert!(dom.contains("id=\"state\""), "{dom:.2000}");
    let mem_points = points_in(&dom, "chart-memory");
    assert!(mem_points >= 10, "memory chart has {mem_points} points");
    assert!(
        count_in(&dom, "chart-memory", "class=\"restart\"") >= 2,
        "restart marks missing: {dom}"
    );
    assert_eq!(
        count_in(&dom, "chart-memory", "class=\"threshold warn\""),
        1
    );
    assert_eq!(
        count_in(&dom, "chart-memory", "class=\"threshold limit\""),
        1
    );
    assert!(points_in(&dom, "chart-probes") >= 5, "probe chart empty");
    assert!(points_in(&dom, "chart-ttft") >= 1, "TTFT chart empty");
    assert!(dom.contains("restart at "), "restart marks have no tooltip");
    assert!(
        !dom.contains("<script"),
        "the page must not need JavaScript"
    );

    // Paused: the box with the reason, the last lines and the exact resume command, and a
    // pause band on the charts.
    m::ctl(&cv, &["pause", "--reason", "looking at the leak"]);
    assert!(eventually(T, || m::ctl_status(&cv)["state"] == "paused"));
    std::thread::sleep(Duration::from_millis(800));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let desktop = dir.join("status-page.png");
    let phone = dir.join("status-page-phone.png");
    let _ = std::fs::remove_file(&desktop);
    let _ = std::fs::remove_file(&phone);
    let dom = chromium(profile.path(), &["--dump-dom".into(), url.clone()]);
    assert!(dom.contains("id=\"pause\""), "{dom:.3000}");
    assert!(dom.contains("looking at the leak"), "{dom:.3000}");
    // The exact command the supervisor's snapshot gives (it names this config).
    let code = dom
        .split("<code id=\"resume-command\">")
        .nth(1)
        .and_then(|c| c.split("</code>").next())
        .unwrap_or_else(|| panic!("no resume command: {dom:.3000}"));
    assert!(
        code.contains(" ctl ") && code.ends_with(" resume") && code.contains("clawvisor.toml"),
        "{code}"
    );
    assert!(
        dom.contains("id=\"pause-lines\""),
        "no last lines: {dom:.3000}"
    );
    assert!(count_in(&dom, "chart-memory", "class=\"pause\"") >= 1);
    chromium(
        profile.path(),
        &[
            format!("--screenshot={}", desktop.display()),
            "--window-size=1280,1700".into(),
            url.clone(),
        ],
    );
    chromium(
        profile.path(),
        &[
            format!("--screenshot={}", phone.display()),
            "--window-size=412,2600".into(),
            url,
        ],
    );
    for p in [&desktop, &phone] {
        let len = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        assert!(len > 10_000, "{} is {len} bytes", p.display());
        eprintln!("screenshot: {}", p.display());
    }
}
