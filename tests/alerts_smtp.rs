//! `[alerts.smtp]` and `[[alerts.exec]]` against real receivers: aiosmtpd with STARTTLS and
//! implicit TLS (a test CA and leaf made here), plain SMTP for a local relay, a server that
//! accepts and never greets (bounded by the channel's timeout while the others deliver), and
//! an exec hook that writes what it got; a hung hook is killed with its process group.

mod alerts_support;
mod common;
mod control_support;

use std::path::Path;
use std::time::{Duration, Instant};

use alerts_support::{Silent, make_pki, smtp_sink};
use common::{alive, eventually};
use control_support::{T, ctl, start, wait_status};
use serde_json::Value;

fn smtp_channel(name: &str, port: u16, security: &str, ca: &Path, timeout: &str) -> String {
    format!(
        "[[alerts.smtp]]\nname = \"{name}\"\nserver = \"localhost\"\nport = {port}\nsecurity = \"{security}\"\nca_file = \"{}\"\nfrom = \"clawvisor <clawvisor@example.com>\"\nto = [\"ops@example.com\", \"oncall@example.com\"]\ntimeout = \"{timeout}\"\nkinds = [\"pause\"]\n",
        ca.display()
    )
}

fn hook_outputs(dir: &Path, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn mail_over_starttls_tls_and_plain_while_a_mute_server_only_costs_its_own_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let starttls = smtp_sink("starttls", &pki, &dir.path().join("starttls"));
    let tls = smtp_sink("tls", &pki, &dir.path().join("tls"));
    let plain = smtp_sink("plain", &pki, &dir.path().join("plain"));
    let mute = Silent::start();
    let hooks = dir.path().join("hooks");
    std::fs::create_dir(&hooks).unwrap();
    let script = "env | grep ^CLAWVISOR_ALERT_ | sort > \"$0/env.$$\"; cat > \"$0/stdin.$$\"";
    let mut config =
        String::from("[alerts]\ngroup_wait = \"1s\"\nattempts = 2\nhost = \"mail-box\"\n");
    config += &smtp_channel("starttls", starttls.port, "starttls", &pki.ca, "20s");
    config += &smtp_channel("tls", tls.port, "tls", &pki.ca, "20s");
    config += &smtp_channel("plain", plain.port, "none", &pki.ca, "20s");
    config += &smtp_channel("mute", mute.port, "none", &pki.ca, "2s");
    config += &format!(
        "[[alerts.exec]]\nname = \"hook\"\nkinds = [\"pause\"]\ncommand = [\"sh\", \"-c\", {script:?}, \"{}\"]\ntimeout = \"10s\"\n",
        hooks.display()
    );
    let cv = start(&["--print-err", "panic: model file truncated"], &config);
    wait_status(&cv, "running", |s| s["state"] == "running");

    // ctl alert test: every channel at once, each with its own result; the mute server
    // costs its 2s bound, not more.
    let t0 = Instant::now();
    let (code, out, err) = ctl(&cv, &["alert", "test"]);
    let took = t0.elapsed();
    assert_eq!(code, 1, "the mute channel fails the test: {out}{err}");
    for ok in [
        "ok     starttls: delivered",
        "ok     tls: delivered",
        "ok     plain: delivered",
        "ok     hook: delivered",
    ] {
        assert!(out.contains(ok), "missing {ok:?} in {out}");
    }
    assert!(out.contains("FAILED mute: timed out after 2s"), "{out}");
    assert!(took < Duration::from_secs(10), "alert test took {took:?}");
    assert!(
        *mute.accepted.lock().unwrap() >= 1,
        "the mute server was reached"
    );

    for (sink, starttls_flag) in [(&starttls, true), (&tls, false), (&plain, false)] {
        let mails = sink.mails();
        assert_eq!(mails.len(), 1, "{mails:?}");
        let m = &mails[0];
        assert_eq!(m["starttls"], starttls_flag, "{m}");
        assert_eq!(m["mail_from"], "clawvisor@example.com");
        assert_eq!(
            m["rcpt_tos"],
            serde_json::json!(["ops@example.com", "oncall@example.com"])
        );
        let data = m["data"].as_str().unwrap();
        assert!(
            data.contains("Subject: [mail-box] TEST test (clawvisor): test alert"),
            "{data}"
        );
    }

    // A real pause: mail arrives promptly while the mute channel is still failing, and the
    // supervisor keeps answering.
    let t0 = Instant::now();
    let (code, _, err) = ctl(&cv, &["pause", "--reason", "disk swap"]);
    assert_eq!(code, 0, "{err}");
    assert!(eventually(T, || starttls.mails().len() == 2 && tls.mails().len() == 2));
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    let st = wait_status(&cv, "paused", |s| s["state"] == "paused");
    assert!(t0.elapsed() < Duration::from_secs(10));
    let mute_stats = st["parts"]["alerts"]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "mute")
        .cloned()
        .unwrap();
    assert!(mute_stats["sent"] == 0, "{mute_stats}");
    let mail = &starttls.mails()[1];
    let raw = mail["data"].as_str().unwrap();
    eprintln!("===== smtp (STARTTLS) as received by aiosmtpd:\n{raw}\n");
    // Undo header folding and quoted-printable soft line breaks of long lines.
    let data = &raw
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("\r\n ", " ");
    assert!(
        data.contains("Subject: [mail-box] FIRING pause (gateway): paused: disk swap"),
        "{data}"
    );
    assert!(data.contains("panic: model file truncated"), "{data}");
    assert!(
        data.contains(&format!(
            "resume with: {} ctl --config {} resume",
            common::CLAWVISOR,
            cv.config_path.display()
        )),
        "{data}"
    );
    // Both mute attempts end within their bound (2 x 2s plus the 1s backoff).
    let st = wait_status(&cv, "mute gave up", |s| {
        s["parts"]["alerts"]["channels"][3]["failed"] == 2
    });
    assert!(
        st["parts"]["alerts"]["channels"][3]["last_error"]
            .as_str()
            .unwrap()
            .contains("timed out after 2s"),
        "{st}"
    );

    // The exec hook got the variables and the JSON on stdin, for the test and the pause.
    assert!(eventually(T, || hook_outputs(&hooks, "stdin.").len() == 2));
    let envs = hook_outputs(&hooks, "env.");
    let pause_env = envs
        .iter()
        .find(|e| e.contains("CLAWVISOR_ALERT_KIND=pause"))
        .unwrap_or_else(|| panic!("{envs:?}"));
    eprintln!("===== exec environment:\n{pause_env}");
    let resume_env = format!(
        "CLAWVISOR_ALERT_RESUME_CMD={} ctl --config",
        common::CLAWVISOR
    );
    for needle in [
        "CLAWVISOR_ALERT_STATUS=firing",
        "CLAWVISOR_ALERT_SEVERITY=critical",
        "CLAWVISOR_ALERT_HOST=mail-box",
        "CLAWVISOR_ALERT_REASON=disk swap",
        resume_env.as_str(),
        "CLAWVISOR_ALERT_FINGERPRINT=126f42f406171a8f",
    ] {
        assert!(pause_env.contains(needle), "missing {needle}: {pause_env}");
    }
    let stdins: Vec<Value> = hook_outputs(&hooks, "stdin.")
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
    let pause_json = stdins.iter().find(|v| v["kind"] == "pause").unwrap();
    eprintln!("===== exec stdin:\n{pause_json:#}\n");
    assert_eq!(pause_json["version"], "1");
    assert_eq!(pause_json["reason"], "disk swap");
}

#[test]
fn a_hung_hook_is_killed_with_its_group_at_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let script = "echo $$ > \"$0\"; sleep 600 & echo $! >> \"$0\"; wait";
    let config = format!(
        "[[alerts.exec]]\nname = \"slow\"\ncommand = [\"sh\", \"-c\", {script:?}, \"{}\"]\ntimeout = \"1s\"\n",
        pids.display()
    );
    let cv = start(&[], &config);
    let t0 = Instant::now();
    let (code, out, _) = ctl(&cv, &["alert", "test"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILED slow: timed out after 1s"), "{out}");
    assert!(t0.elapsed() < Duration::from_secs(8), "{:?}", t0.elapsed());
    let listed: Vec<i32> = std::fs::read_to_string(&pids)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(listed.len(), 2);
    for pid in listed {
        assert!(
            eventually(T, || !alive(pid)),
            "pid {pid} survived the group kill"
        );
    }
}
