//! Security pass, secrets: the gateway token, the SMTP password and the webhook token go
//! where they are configured to go (the probe's Authorization header, the SMTP AUTH
//! exchange, the webhook's Authorization header) and nowhere else: not in `ctl status`,
//! events, alert bodies, mails, clawvisor's own log, the log dir, state.json, /metrics, the
//! status page, or the gateway's environment (unless written in `[gateway] env`).
//! Everything runs through the real binary against the fake gateway, a local HTTP receiver
//! and aiosmtpd.

mod alerts_support;
mod common;
mod control_support;
mod metrics_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use alerts_support::{Recorder, Reply, make_pki, smtp_sink_with_auth};
use common::{CLAWVISOR, Clawvisor, FAKE_GATEWAY, eventually};
use control_support::{T, ctl, wait_for_socket, wait_status};

const GW_TOKEN: &str = "gwtok-SECRET-4f1c9a0e";
const HOOK_TOKEN: &str = "hooktok-SECRET-77d2b5";
const MAIL_PASSWORD: &str = "mailpw-SECRET-9e3b61";
const GW_VAR: &str = "CV_SEC_GW_TOKEN";
const MAIL_VAR: &str = "CV_SEC_MAIL_PW";

/// Every file under `dir` (recursively), gzip files decoded, as (path, text).
fn files_under(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
            continue;
        }
        let bytes = std::fs::read(&p).unwrap_or_default();
        let text = if p.extension().is_some_and(|x| x == "gz") {
            use std::io::Read;
            let mut s = String::new();
            let _ = flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_string(&mut s);
            s
        } else {
            String::from_utf8_lossy(&bytes).into_owned()
        };
        out.push((p.display().to_string(), text));
    }
    out
}

/// A process's environment as `NAME=value` lines.
fn environ(pid: i64) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    String::from_utf8_lossy(&raw).replace('\0', "\n")
}

/// A `ctl` stream left running with its stdout in a file (read after it is killed).
struct Stream {
    child: std::process::Child,
    out: PathBuf,
}

impl Stream {
    fn start(cv: &Clawvisor, args: &[&str], name: &str) -> Stream {
        let out = cv.path(name);
        let child = Command::new(CLAWVISOR)
            .args(["ctl", "--socket"])
            .arg(cv.path("clawvisor.sock"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Stream { child, out }
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn assert_absent(surfaces: &[(String, String)], secrets: &[&str]) {
    for (what, text) in surfaces {
        for s in secrets {
            assert!(
                !text.contains(s),
                "the secret {s:?} appears in {what}:\n{text}"
            );
        }
    }
}

#[test]
fn secrets_from_env_and_files_reach_only_their_destinations() {
    let work = tempfile::tempdir().unwrap();
    let pki = make_pki(work.path());
    let sink = smtp_sink_with_auth(
        "starttls",
        &pki,
        &work.path().join("mail"),
        Some(("alerts", MAIL_PASSWORD)),
    );
    let hook = Recorder::start(vec![Reply::status(200)]);
    // The gateway reads its own copy of the token from a file, so the token is in neither
    // its argv nor its environment unless clawvisor put it there.
    let gw_token_file = work.path().join("gateway-token");
    std::fs::write(&gw_token_file, GW_TOKEN).unwrap();
    let hook_token_file = work.path().join("hook-token");
    std::fs::write(&hook_token_file, format!("{HOOK_TOKEN}\n")).unwrap();
    let port = common::free_port().to_string();
    let metrics_port = common::free_port();
    let config = format!(
        r#"
[probes.completion]
url = "http://127.0.0.1:{port}/v1/chat/completions"
token_env = "{GW_VAR}"
period = "300ms"
timeout = "10s"
failure_threshold = 1
[restart.backoff]
initial = "4s"
max = "4s"
[alerts]
group_wait = "300ms"
attempts = 2
[[alerts.webhook]]
name = "hook"
url = "{hook_url}"
token_file = "{hook_token}"
kinds = ["crash", "pause"]
[[alerts.smtp]]
name = "mail"
server = "localhost"
port = {smtp_port}
security = "starttls"
ca_file = "{ca}"
username = "alerts"
password_env = "{MAIL_VAR}"
from = "clawvisor <clawvisor@example.com>"
to = ["ops@example.com"]
timeout = "20s"
kinds = ["crash", "pause"]
[metrics]
listen = "127.0.0.1:{metrics_port}"
"#,
        hook_url = hook.url("/alerts"),
        hook_token = hook_token_file.display(),
        smtp_port = sink.port,
        ca = pki.ca.display(),
    );
    let gw_token_arg = gw_token_file.display().to_string();
    let cv = Clawvisor::start_with_env(
        &[FAKE_GATEWAY, "--port", &port, "--token-file", &gw_token_arg],
        &config,
        &[(GW_VAR, GW_TOKEN), (MAIL_VAR, MAIL_PASSWORD)],
    );
    wait_for_socket(&cv);
    let events = Stream::start(&cv, &["events"], "events.txt");
    let events_json = Stream::start(&cv, &["--json", "events"], "events.json");

    // The token IS sent where it belongs: the gateway (which 401s any other) passes the probe.
    let st = wait_status(&cv, "completion probe ok", |s| {
        s["parts"]["probes.completion"]["state"] == "ok"
    });
    let first_pid = st["pid"].as_i64().unwrap();
    // clawvisor itself has both variables (the test set them up right) ...
    let own = environ(cv.pid() as i64);
    assert!(own.contains(&format!("{GW_VAR}={GW_TOKEN}\n")), "{own}");
    // ... and the gateway has neither the variables nor any secret value.
    let child_env = environ(first_pid);
    assert!(!child_env.contains(GW_VAR), "{child_env}");
    assert!(!child_env.contains(MAIL_VAR), "{child_env}");
    let cmdline = std::fs::read(format!("/proc/{first_pid}/cmdline")).unwrap();
    let gateway_sides = vec![
        ("the gateway's environment".to_string(), child_env),
        (
            "the gateway's argv".to_string(),
            String::from_utf8_lossy(&cmdline).into_owned(),
        ),
    ];

    // ctl alert test: both channels, each authenticated with its secret.
    let (code, out, err) = ctl(&cv, &["alert", "test"]);
    assert_eq!(code, 0, "{out}{err}");
    let reqs = hook.wait_for(1, T);
    assert_eq!(
        reqs[0].headers.get("authorization").map(String::as_str),
        Some(format!("Bearer {HOOK_TOKEN}").as_str()),
        "the webhook token goes in the Authorization header"
    );
    assert!(eventually(T, || !sink.mails().is_empty()), "no test mail");
    // The sink refuses a wrong password, so a recorded login means the password was sent.
    assert_eq!(
        sink.mails()[0]["auth_login"],
        "alerts",
        "{:?}",
        sink.mails()
    );

    // A real crash: the gateway killed; the crash alert goes out during the 4s backoff.
    unsafe { libc::kill(first_pid as i32, libc::SIGKILL) };
    let reqs = hook.wait_for(2, T);
    assert!(
        reqs.iter().any(|r| r.json()["kind"] == "crash"),
        "{:?}",
        reqs.iter().map(|r| r.text()).collect::<Vec<_>>()
    );
    assert!(eventually(T, || sink.mails().len() >= 2), "no crash mail");
    // Back up, probed with the token again.
    let st = wait_status(&cv, "restarted and probed", |s| {
        s["pid"].as_i64().is_some_and(|p| p != first_pid)
            && s["parts"]["probes.completion"]["state"] == "ok"
    });
    let second_env = environ(st["pid"].as_i64().unwrap());
    // A pause writes state.json (with the reason and the gateway's last lines).
    let (code, out, err) = ctl(&cv, &["pause", "--reason", "security test"]);
    assert_eq!(code, 0, "{out}{err}");
    wait_status(&cv, "paused", |s| s["state"] == "paused");
    assert!(cv.path("state/state.json").exists());

    let mut surfaces = gateway_sides;
    surfaces.push(("the restarted gateway's environment".into(), second_env));
    for args in [&["status"][..], &["--json", "status"], &["logs"]] {
        let (code, out, err) = ctl(&cv, args);
        assert_eq!(code, 0, "ctl {args:?}: {err}");
        surfaces.push((format!("ctl {args:?}"), out + &err));
    }
    for (path, body) in [
        ("/metrics", metrics_support::get(metrics_port, "/metrics")),
        ("/", metrics_support::get(metrics_port, "/")),
    ] {
        assert_eq!(body.status, 200, "{path}");
        surfaces.push((format!("GET {path}"), body.body));
    }
    for r in hook.requests() {
        let mut headers = r.headers.clone();
        headers.remove("authorization");
        surfaces.push((
            format!("webhook request {}", r.path),
            format!("{} {headers:?}", r.text()),
        ));
    }
    for m in sink.mails() {
        surfaces.push(("a mail".into(), m.to_string()));
    }
    let ev = events.text();
    let evj = events_json.text();
    assert!(ev.contains("SIGKILL"), "events saw the crash: {ev}");
    assert!(!evj.is_empty(), "no JSON events");
    surfaces.push(("ctl events".into(), ev));
    surfaces.push(("ctl --json events".into(), evj));
    surfaces.push((
        "clawvisor's own log".into(),
        std::fs::read_to_string(&cv.stderr_path).unwrap(),
    ));
    surfaces.extend(files_under(&cv.path("logs")));
    surfaces.extend(files_under(&cv.path("state")));
    assert!(
        surfaces.iter().any(|(p, _)| p.ends_with("state.json")),
        "state.json was looked at"
    );
    assert_absent(&surfaces, &[GW_TOKEN, HOOK_TOKEN, MAIL_PASSWORD]);
}

#[test]
fn a_secret_written_in_gateway_env_is_passed_and_an_inline_token_is_not_shown() {
    // The user chose to hand the gateway its token: that is configuration, not a leak.
    let port = common::free_port().to_string();
    let work = tempfile::tempdir().unwrap();
    let token_file = work.path().join("gateway-token");
    std::fs::write(&token_file, GW_TOKEN).unwrap();
    let token_arg = token_file.display().to_string();
    let config = format!(
        r#"
[gateway.env]
OPENCLAW_GATEWAY_TOKEN = "{GW_TOKEN}"
[probes.completion]
url = "http://127.0.0.1:{port}/v1/chat/completions"
token = "{GW_TOKEN}"
period = "300ms"
failure_threshold = 1
"#
    );
    let cv = Clawvisor::start(
        &[FAKE_GATEWAY, "--port", &port, "--token-file", &token_arg],
        &config,
    );
    wait_for_socket(&cv);
    let st = wait_status(&cv, "completion probe ok", |s| {
        s["parts"]["probes.completion"]["state"] == "ok"
    });
    let env = environ(st["pid"].as_i64().unwrap());
    assert!(
        env.contains(&format!("OPENCLAW_GATEWAY_TOKEN={GW_TOKEN}\n")),
        "{env}"
    );
    // The inline token is still clawvisor's to keep out of what it shows.
    let mut surfaces = Vec::new();
    for args in [&["status"][..], &["--json", "status"]] {
        let (_, out, err) = ctl(&cv, args);
        surfaces.push((format!("ctl {args:?}"), out + &err));
    }
    surfaces.push((
        "clawvisor's own log".into(),
        std::fs::read_to_string(&cv.stderr_path).unwrap(),
    ));
    assert_absent(&surfaces, &[GW_TOKEN]);
}

#[test]
fn a_variable_in_gateway_env_overrides_the_hidden_one_by_name() {
    // token_env names a variable that [gateway] env also sets: the explicit value is passed,
    // clawvisor's inherited one is not.
    let port = common::free_port().to_string();
    let config = format!(
        r#"
[gateway.env]
{GW_VAR} = "for-the-gateway"
[probes.completion]
url = "http://127.0.0.1:{port}/v1/chat/completions"
token_env = "{GW_VAR}"
period = "300ms"
failure_threshold = 1
"#
    );
    let cv = Clawvisor::start_with_env(
        &[FAKE_GATEWAY, "--port", &port, "--token", GW_TOKEN],
        &config,
        &[(GW_VAR, GW_TOKEN)],
    );
    wait_for_socket(&cv);
    let st = wait_status(&cv, "completion probe ok", |s| {
        s["parts"]["probes.completion"]["state"] == "ok"
    });
    let env = environ(st["pid"].as_i64().unwrap());
    assert!(
        env.contains(&format!("{GW_VAR}=for-the-gateway\n")),
        "{env}"
    );
    assert!(!env.contains(GW_TOKEN), "{env}");
}

#[test]
fn check_and_config_errors_do_not_quote_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, GW_TOKEN).unwrap();
    let cases = [
        // Valid: check reports the missing gateway program, nothing about the token.
        format!(
            "[gateway]\ncommand = [\"/bin/true\"]\n[probes.completion]\ntoken = \"{GW_TOKEN}\"\n"
        ),
        // A token written in place of its table.
        format!("[probes]\ncompletion = \"{GW_TOKEN}\"\n"),
        // A header value written as a string instead of a table.
        format!(
            "[[alerts.webhook]]\nurl = \"http://127.0.0.1:1/\"\nheaders = \"Authorization: Bearer {GW_TOKEN}\"\n"
        ),
        // A token as an array (explained as "write a string").
        format!("[probes.completion]\ntoken = [\"{GW_TOKEN}\"]\n"),
        // A syntax error on the token's own line.
        format!("[probes.completion]\ntoken = \"{GW_TOKEN}\" trailing\n"),
        // Two sources at once, and an unknown key next to the token.
        format!("[probes.completion]\ntoken = \"{GW_TOKEN}\"\ntokn = \"{GW_TOKEN}\"\n"),
        format!(
            "[[alerts.webhook]]\nurl = \"http://127.0.0.1:1/{GW_TOKEN}\"\ntoken_file = \"{}\"\ntoken_env = \"X\"\n",
            token_file.display()
        ),
    ];
    let mut failures = 0;
    for (i, text) in cases.iter().enumerate() {
        let path = dir.path().join(format!("c{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let p = path.display().to_string();
        let (code, out, err) = common::run_cli(&["check", "--config", &p]);
        if code != 0 {
            failures += 1;
        }
        assert!(
            !out.contains(GW_TOKEN) && !err.contains(GW_TOKEN),
            "check of\n{text}\nquoted the secret:\n{out}{err}"
        );
        // `run` reports the same errors at start-up (the valid first one would start).
        if i > 0 {
            let (_, out, err) = common::run_cli(&["run", "--config", &p]);
            assert!(
                !out.contains(GW_TOKEN) && !err.contains(GW_TOKEN),
                "run with\n{text}\nquoted the secret:\n{out}{err}"
            );
        }
    }
    assert!(failures >= 6, "the broken configs were refused");
}

#[test]
fn a_job_does_not_inherit_clawvisor_secret_variables() {
    let work = tempfile::tempdir().unwrap();
    let dump = work.path().join("job-env");
    let token_file = work.path().join("gateway-token");
    std::fs::write(&token_file, GW_TOKEN).unwrap();
    let token_arg = token_file.display().to_string();
    let port = common::free_port().to_string();
    let script = format!("env > {d}.tmp; mv {d}.tmp {d}", d = dump.display());
    let config = format!(
        r#"
[probes.completion]
url = "http://127.0.0.1:{port}/v1/chat/completions"
token_env = "{GW_VAR}"
period = "300ms"
failure_threshold = 1
[[jobs]]
name = "envdump"
command = {}
every = "1h"
"#,
        common::toml_argv(&["sh", "-c", &script])
    );
    let cv = Clawvisor::start_with_env(
        &[FAKE_GATEWAY, "--port", &port, "--token-file", &token_arg],
        &config,
        &[(GW_VAR, GW_TOKEN), (MAIL_VAR, MAIL_PASSWORD)],
    );
    wait_for_socket(&cv);
    wait_status(&cv, "completion probe ok", |s| {
        s["parts"]["probes.completion"]["state"] == "ok"
    });
    let (code, out, err) = ctl(&cv, &["jobs", "run", "envdump"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(eventually(T, || dump.exists()), "the job never ran");
    let env = std::fs::read_to_string(&dump).unwrap();
    assert!(
        env.contains("CLAWVISOR_RUN_ID="),
        "the job's own environment: {env}"
    );
    assert!(!env.contains(GW_VAR) && !env.contains(GW_TOKEN), "{env}");
}

#[test]
fn a_gateway_that_echoes_the_token_back_does_not_get_it_into_status_or_logs() {
    // A model that repeats its request, or an error page quoting it: the answer holds the
    // token. What clawvisor shows of the answer has it cut out.
    let work = tempfile::tempdir().unwrap();
    let token_file = work.path().join("gateway-token");
    std::fs::write(&token_file, GW_TOKEN).unwrap();
    let token_arg = token_file.display().to_string();
    let answer_file = work.path().join("answer");
    std::fs::write(
        &answer_file,
        format!("you sent Authorization: Bearer {GW_TOKEN}"),
    )
    .unwrap();
    let answer_arg = answer_file.display().to_string();
    let port = common::free_port().to_string();
    let config = format!(
        r#"
[probes.completion]
url = "http://127.0.0.1:{port}/v1/chat/completions"
token_file = "{token_arg}"
prompt = "repeat the request"
period = "300ms"
failure_threshold = 1
on_failure = "alert"
"#
    );
    let cv = Clawvisor::start(
        &[
            FAKE_GATEWAY,
            "--port",
            &port,
            "--token-file",
            &token_arg,
            "--answer-file",
            &answer_arg,
        ],
        &config,
    );
    wait_for_socket(&cv);
    let st = wait_status(&cv, "completion probe failing on the answer", |s| {
        s["parts"]["probes.completion"]["last"] == "fail"
            && s["parts"]["probes.completion"]["answer"].is_string()
    });
    let probe = &st["parts"]["probes.completion"];
    // The answer reached clawvisor (so the token was sent and the probe really ran) ...
    assert!(
        probe["answer"]
            .as_str()
            .is_some_and(|a| a.contains("you sent Authorization: Bearer (token)")),
        "{probe}"
    );
    // ... and nothing shows the token.
    let mut surfaces = Vec::new();
    for args in [&["status"][..], &["--json", "status"]] {
        let (_, out, err) = ctl(&cv, args);
        surfaces.push((format!("ctl {args:?}"), out + &err));
    }
    surfaces.push((
        "clawvisor's own log".into(),
        std::fs::read_to_string(&cv.stderr_path).unwrap(),
    ));
    assert_absent(&surfaces, &[GW_TOKEN]);
}
