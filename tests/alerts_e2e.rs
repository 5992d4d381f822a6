//! Alerts end to end through the binary: a crash loop sends exactly one pause alert per
//! channel (with the gateway's last lines and the exact resume command), `ctl resume` one
//! recovery, and a storm of crashes only a bounded handful of messages.

mod alerts_support;
mod common;
mod control_support;

use std::path::Path;
use std::time::Duration;

use alerts_support::{Recorder, Reply, closed_port};
use common::{Clawvisor, eventually};
use control_support::{T, ctl, status, wait_for_socket, wait_status};
use serde_json::Value;

fn hook_json(dir: &Path) -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|p| serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok())
        .collect()
}

fn channels(json: &Recorder, hooks: &Path) -> String {
    format!(
        "[[alerts.webhook]]\nname = \"hook\"\nkinds = [\"pause\", \"crash\"]\nurl = \"{}\"\n[[alerts.exec]]\nname = \"script\"\nkinds = [\"pause\", \"crash\"]\ncommand = [\"sh\", \"-c\", \"cat > \\\"$0/$(date +%s%N).json\\\"\", \"{}\"]\n",
        json.url("/alerts"),
        hooks.display()
    )
}

#[test]
fn a_crash_loop_sends_one_pause_per_channel_and_resume_one_recovery() {
    let json = Recorder::start(vec![Reply::status(200)]);
    let work = tempfile::tempdir().unwrap();
    let hooks = work.path().join("hooks");
    std::fs::create_dir(&hooks).unwrap();
    let fixed = work.path().join("fixed");
    let script = format!(
        "if [ -f {f} ]; then echo fixed; exec sleep 600; fi; echo 'fatal: cannot bind 127.0.0.1:18789 (address in use)' >&2; exit 3",
        f = fixed.display()
    );
    let config = format!(
        "[restart]\nmax_restarts = 3\nwindow = \"1m\"\n[restart.backoff]\ninitial = \"100ms\"\nmax = \"200ms\"\n[alerts]\ngroup_wait = \"2s\"\n{}",
        channels(&json, &hooks)
    );
    let cv = Clawvisor::start(&["sh", "-c", &script], &config);
    wait_for_socket(&cv);
    let st = wait_status(&cv, "paused", |s| s["state"] == "paused");
    assert!(
        st["pause"]["reason"]
            .as_str()
            .unwrap()
            .contains("crash loop"),
        "{st}"
    );

    // One pause alert on each channel, after any group wait has passed, and nothing else:
    // the crashes before it were part of the pause's story.
    let first = json.wait_for(1, T);
    std::thread::sleep(Duration::from_secs(4));
    let got = json.requests();
    assert_eq!(
        got.len(),
        1,
        "{:?}",
        got.iter().map(|r| r.text()).collect::<Vec<_>>()
    );
    let v = first[0].json();
    eprintln!("===== pause alert (json webhook):\n{v:#}\n");
    assert_eq!(v["kind"], "pause");
    assert_eq!(v["status"], "firing");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("crash loop: 4 failures"),
        "{v}"
    );
    assert_eq!(v["last_exit"], "exit code 3");
    assert_eq!(v["restarts_in_window"], 4);
    assert_eq!(
        v["resume_command"],
        // The exact command: this binary, this config.
        format!(
            "{} ctl --config {} resume",
            common::CLAWVISOR,
            cv.config_path.display()
        )
    );
    let lines: Vec<&str> = v["last_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("fatal: cannot bind 127.0.0.1:18789 (address in use)")),
        "{lines:?}"
    );
    assert!(v["text"].as_str().unwrap().contains(&format!(
        "resume with: {} ctl --config {} resume",
        common::CLAWVISOR,
        cv.config_path.display()
    )));
    assert!(eventually(T, || hook_json(&hooks).len() == 1));
    let hooked = hook_json(&hooks);
    assert_eq!(hooked[0]["kind"], "pause");
    assert_eq!(hooked[0]["fingerprint"], v["fingerprint"]);

    // The operator fixes it and resumes: one recovery on each channel.
    std::fs::write(&fixed, "").unwrap();
    let (code, _, err) = ctl(&cv, &["resume"]);
    assert_eq!(code, 0, "{err}");
    wait_status(&cv, "running", |s| {
        s["state"] == "running" && s["ready"] == true
    });
    let got = json.wait_for(2, T);
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(json.requests().len(), 2);
    let r = got[1].json();
    eprintln!("===== recovery (json webhook):\n{r:#}\n");
    assert_eq!(r["status"], "resolved");
    assert_eq!(r["kind"], "pause");
    assert_eq!(r["fingerprint"], v["fingerprint"]);
    assert!(eventually(T, || hook_json(&hooks).len() == 2));
    assert_eq!(hook_json(&hooks).len(), 2);
    let st = status(&cv);
    let chans = st["parts"]["alerts"]["channels"]
        .as_array()
        .unwrap()
        .clone();
    for c in &chans {
        assert_eq!(
            (c["sent"].as_u64(), c["failed"].as_u64()),
            (Some(2), Some(0)),
            "{c}"
        );
    }
}

#[test]
fn fifty_crashes_in_a_minute_send_a_bounded_handful_of_messages() {
    let json = Recorder::start(vec![Reply::status(200)]);
    let work = tempfile::tempdir().unwrap();
    let hooks = work.path().join("hooks");
    std::fs::create_dir(&hooks).unwrap();
    // A readiness probe that never passes keeps each crash a firing condition (a gateway
    // that came back ready would resolve it).
    let config = format!(
        "[restart]\nmax_restarts = 1000\nwindow = \"1m\"\n[restart.backoff]\ninitial = \"20ms\"\nmax = \"100ms\"\n\
         [probes.readiness]\nurl = \"http://127.0.0.1:{}/readyz\"\nperiod = \"1s\"\ntimeout = \"1s\"\n\
         [alerts]\ngroup_wait = \"1s\"\n{}",
        closed_port(),
        channels(&json, &hooks)
    );
    let cv = Clawvisor::start(
        &["sh", "-c", "echo \"boom $$\" >&2; sleep 0.05; exit 1"],
        &config,
    );
    wait_for_socket(&cv);
    wait_status(&cv, "50 restarts", |s| s["restarts"].as_u64() >= Some(50));
    std::thread::sleep(Duration::from_secs(3));
    let st = status(&cv);
    assert_ne!(st["state"], "paused", "{st}");
    let got: Vec<Value> = json.requests().iter().map(|r| r.json()).collect();
    let summary: Vec<String> = got
        .iter()
        .map(|v| format!("{} {} x{}", v["status"], v["kind"], v["occurrences"]))
        .collect();
    eprintln!("messages for {} restarts: {summary:?}", st["restarts"]);
    assert!(!got.is_empty() && got.len() <= 3, "{summary:?}");
    let crash = got
        .iter()
        .find(|v| v["kind"] == "crash")
        .unwrap_or_else(|| panic!("{summary:?}"));
    assert!(crash["occurrences"].as_u64().unwrap() > 1, "{crash}");
    assert_eq!(
        hook_json(&hooks).len(),
        got.len(),
        "every channel got the same few"
    );
    let suppressed = &st["parts"]["alerts"]["suppressed"];
    assert!(suppressed["dedup"].as_u64().unwrap() >= 40, "{suppressed}");
}
