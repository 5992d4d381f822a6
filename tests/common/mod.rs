//! Test harness: runs the real clawvisor binary against fake children, reads its JSON
//! diagnostics as a timeline, and prints everything it knows when a test fails.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const CLAWVISOR: &str = env!("CARGO_BIN_EXE_clawvisor");
pub const FAKE_GATEWAY: &str = env!("CARGO_BIN_EXE_fake-gateway");

/// A running clawvisor with its own temp dir (state, logs, socket, its stderr).
pub struct Clawvisor {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub stderr_path: PathBuf,
    argv: Vec<String>,
    exited: Option<ExitStatus>,
}

/// The config every test starts from: dirs in the temp dir, then the test's own sections.
pub fn base_config(dir: &Path, extra: &str) -> String {
    format!(
        "[state]\ndir = \"{d}/state\"\n[logs]\ndir = \"{d}/logs\"\n[control]\nsocket = \"{d}/clawvisor.sock\"\n{extra}\n",
        d = dir.display()
    )
}

/// A TOML array from argv.
pub fn toml_argv(argv: &[&str]) -> String {
    let quoted: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

impl Clawvisor {
    /// Starts `clawvisor run` with `[gateway] command = argv` plus `extra` config.
    pub fn start(argv: &[&str], extra: &str) -> Clawvisor {
        let dir = tempfile::tempdir().unwrap();
        let body = format!(
            "[gateway]\ncommand = {}\n{}",
            toml_argv(argv),
            base_config(dir.path(), extra)
        );
        Self::start_in(dir, &body, &[])
    }

    /// As [`Clawvisor::start`], with extra environment variables for clawvisor (test hooks
    /// such as `CLAWVISOR_FAKE_GPU`). They go through `env(1)`, which execs clawvisor in
    /// place: the child's pid is still clawvisor's.
    pub fn start_with_env(argv: &[&str], extra: &str, env: &[(&str, &str)]) -> Clawvisor {
        let dir = tempfile::tempdir().unwrap();
        let body = format!(
            "[gateway]\ncommand = {}\n{}",
            toml_argv(argv),
            base_config(dir.path(), extra)
        );
        let assignments: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut wrapper = vec!["env"];
        wrapper.extend(assignments.iter().map(String::as_str));
        Self::start_in(dir, &body, &wrapper)
    }

    pub fn start_in(dir: tempfile::TempDir, config: &str, wrapper: &[&str]) -> Clawvisor {
        let config_path = dir.path().join("clawvisor.toml");
        fs::write(&config_path, config).unwrap();
        Self::launch(dir, config_path, wrapper)
    }

    /// Starts clawvisor again on an existing dir and config (after a crash of the first).
    pub fn launch(dir: tempfile::TempDir, config_path: PathBuf, wrapper: &[&str]) -> Clawvisor {
        let n = fs::read_dir(dir.path()).unwrap().count();
        let stderr_path = dir.path().join(format!("clawvisor-{n}.stderr"));
        let mut argv: Vec<String> = wrapper.iter().map(|s| s.to_string()).collect();
        argv.extend(
            [
                CLAWVISOR,
                "--log-format",
                "json",
                "--log-level",
                "debug",
                "run",
                "--config",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        argv.push(config_path.display().to_string());
        let child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.path().join("clawvisor.stdout")).unwrap())
            .stderr(fs::File::create(&stderr_path).unwrap())
            .env_remove("CLAWVISOR_CONFIG")
            .spawn()
            .unwrap();
        Clawvisor {
            child,
            dir,
            config_path,
            stderr_path,
            argv,
            exited: None,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// clawvisor's diagnostics so far, one JSON object per line.
    pub fn events(&self) -> Vec<Value> {
        fs::read_to_string(&self.stderr_path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Events whose message contains `needle`.
    pub fn find(&self, needle: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| msg(e).contains(needle))
            .collect()
    }

    /// Waits until at least `n` events contain `needle`; returns them.
    pub fn wait_for(&self, needle: &str, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self.find(needle);
            if found.len() >= n {
                return found;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {n} x {needle:?} (saw {})",
                    found.len()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Pids of the gateways clawvisor started, in order.
    pub fn gateway_pids(&self) -> Vec<i32> {
        self.find("gateway started")
            .iter()
            .filter_map(|e| e["pid"].as_i64().map(|p| p as i32))
            .collect()
    }

    pub fn signal(&self, sig: i32) {
        unsafe { libc::kill(self.pid(), sig) };
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                self.exited = Some(st);
                return st;
            }
            if Instant::now() > deadline {
                panic!("clawvisor did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops clawvisor with SIGTERM and returns its exit status.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait_exit(Duration::from_secs(40))
    }

    pub fn state_json(&self) -> Option<Value> {
        let text = fs::read_to_string(self.path("state/state.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Everything the gateway wrote, as captured in the log dir (plain and gzipped files).
    pub fn captured_output(&self) -> String {
        let mut out = String::new();
        let mut files: Vec<PathBuf> = fs::read_dir(self.path("logs"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        for f in files {
            let bytes = fs::read(&f).unwrap_or_default();
            if f.extension().is_some_and(|e| e == "gz") {
                let mut s = String::new();
                use std::io::Read;
                let _ = flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_string(&mut s);
                out.push_str(&s);
            } else {
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
        out
    }

    /// Hands the temp dir over (to start a second clawvisor on it) after this one is dead.
    pub fn into_dir(mut self) -> (tempfile::TempDir, PathBuf) {
        self.kill_all();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        (dir, self.config_path.clone())
    }

    fn kill_all(&mut self) {
        // Everything under clawvisor, including grandchildren that setsid away (the parent-
        // death signal reaches only the gateway itself).
        let tree = clawvisor::process::tree::descendants(self.pid());
        if self.exited.is_none() && self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // The gateways die with clawvisor (parent-death signal); make sure anyway, by group.
        for pid in self.gateway_pids() {
            unsafe { libc::killpg(pid, libc::SIGKILL) };
        }
        for pid in tree {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

impl Drop for Clawvisor {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "\n===== clawvisor command: {:?}", self.argv);
            let _ = writeln!(
                err,
                "===== config:\n{}",
                fs::read_to_string(&self.config_path).unwrap_or_default()
            );
            let _ = writeln!(
                err,
                "===== clawvisor stderr:\n{}",
                fs::read_to_string(&self.stderr_path).unwrap_or_default()
            );
            let _ = writeln!(
                err,
                "===== clawvisor stdout:\n{}",
                fs::read_to_string(self.path("clawvisor.stdout")).unwrap_or_default()
            );
            let _ = writeln!(
                err,
                "===== captured gateway output:\n{}",
                self.captured_output()
            );
        }
        self.kill_all();
    }
}

pub fn msg(e: &Value) -> &str {
    e["message"].as_str().unwrap_or("")
}

/// The event's time, in seconds since the epoch.
pub fn ts(e: &Value) -> f64 {
    let t = e["timestamp"].as_str().expect("timestamp");
    let dt = chrono::DateTime::parse_from_rfc3339(t).expect("rfc3339 timestamp");
    dt.timestamp_micros() as f64 / 1e6
}

pub fn alive(pid: i32) -> bool {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // A zombie is dead for our purposes.
    !stat.is_empty()
        && !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
}

/// Polls `cond` until true or `timeout`; returns whether it became true.
pub fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a clawvisor subcommand to completion: (exit code, stdout, stderr).
pub fn run_cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(CLAWVISOR)
        .args(args)
        .env_remove("CLAWVISOR_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// examples/clawvisor.toml with its commented-out example sections (`# [quality]`,
/// `# [[logs.patterns]]`, ...) switched on: their keys uncommented, their prose left alone.
pub fn example_config_all_on() -> String {
    let example = include_str!("../../examples/clawvisor.toml");
    let mut text = String::new();
    let mut in_example = false;
    for line in example.lines() {
        let body = line.strip_prefix("# ").unwrap_or(line);
        if line.starts_with("# [") {
            in_example = true;
        } else if line.is_empty() || line.starts_with('[') {
            in_example = false;
        }
        let is_key = body.starts_with('[')
            || body.split_once(" = ").is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            });
        text.push_str(if in_example && is_key { body } else { line });
        text.push('\n');
    }
    text
}

/// A TCP port nobody listens on right now (for a gateway whose URL the config must name).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
pub fn wait_listening(port: u16, timeout: Duration) {
    assert!(
        eventually(timeout, || std::net::TcpStream::connect((
            "127.0.0.1",
            port
        ))
        .is_ok()),
        "nothing listened on port {port} within {timeout:?}"
    );
}

/// Writes the fake GPU file that clawvisor reads when `CLAWVISOR_FAKE_GPU` names it: one
/// 16 GiB device with 1 GiB used, at `util` percent, with `procs` as (pid, bytes) holding
/// memory. Written then renamed, so clawvisor never reads half a file.
pub fn write_fake_gpu(path: &Path, util: u32, procs: &[(i32, u64)]) {
    let procs: Vec<String> = procs
        .iter()
        .map(|(pid, m)| format!(r#"{{"pid": {pid}, "memory_used": {m}}}"#))
        .collect();
    let text = format!(
        r#"{{"devices": [{{"index": 0, "name": "Fake GPU", "utilization_percent": {util},
            "memory_used": 1073741824, "memory_total": 17179869184, "processes": [{}]}}]}}"#,
        procs.join(",")
    );
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, text).unwrap();
    fs::rename(&tmp, path).unwrap();
}

/// One row of the fault table (`scripts/faults.sh` collects these from the `faults_*` tests):
/// the fault injected, what a supervisor must do, and what this run observed. Printed to
/// stdout with a marker, so `--nocapture` runs can be grepped into a table.
pub fn fault_row(fault: &str, expected: &str, observed: &str) {
    let clean = |s: &str| s.replace(['|', '\n'], " ");
    println!(
        "FAULT|{}|{}|{}",
        clean(fault),
        clean(expected),
        clean(observed)
    );
}
