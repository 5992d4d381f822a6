//! Helpers shared by the tests/logs_*.rs files: a pipeline in a temp dir, and reading a
//! stream back through its rotated (plain or gzipped) files in time order.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clawvisor::config::LogsConfig;
use clawvisor::logs::{LogPipeline, Options};
use clawvisor::supervisor::{Event, Inbox, Input};

pub struct Harness {
    pub pipeline: LogPipeline,
    pub inbox_rx: tokio::sync::mpsc::UnboundedReceiver<Input>,
    pub cfg: LogsConfig,
}

pub fn logs_config(dir: &Path) -> LogsConfig {
    LogsConfig {
        dir: dir.to_path_buf(),
        default_patterns: false,
        ..LogsConfig::default()
    }
}

pub fn start(cfg: LogsConfig, opts: Options) -> Harness {
    let (inbox, inbox_rx) = Inbox::channel();
    let pipeline = LogPipeline::start_with(&cfg, inbox, opts).expect("pipeline starts");
    Harness {
        pipeline,
        inbox_rx,
        cfg,
    }
}

impl Harness {
    /// Every Trouble event sent so far.
    pub fn troubles(&mut self) -> Vec<(String, String)> {
        let mut v = Vec::new();
        while let Ok(i) = self.inbox_rx.try_recv() {
            if let Input::Event(Event::Trouble { source, reason, .. }) = i {
                v.push((source, reason));
            }
        }
        v
    }
}

/// Files in `dir`, by name.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// Rotated files of `base` (`gateway.out`), oldest first, then the live file.
pub fn stream_files(dir: &Path, base: &str) -> Vec<PathBuf> {
    let mut stamps: Vec<String> = names(dir)
        .into_iter()
        .filter_map(|n| {
            let rest = n.strip_prefix(&format!("{base}."))?;
            let stamp = rest
                .strip_suffix(".log.gz")
                .or_else(|| rest.strip_suffix(".log"))?;
            (stamp.len() == 20).then(|| stamp.to_string())
        })
        .collect();
    stamps.sort();
    stamps.dedup();
    let mut out: Vec<PathBuf> = stamps
        .iter()
        .map(|s| {
            let gz = dir.join(format!("{base}.{s}.log.gz"));
            if gz.exists() {
                gz
            } else {
                dir.join(format!("{base}.{s}.log"))
            }
        })
        .collect();
    let live = dir.join(format!("{base}.log"));
    if live.exists() {
        out.push(live);
    }
    out
}

pub fn read_any(p: &Path) -> Vec<u8> {
    let bytes = std::fs::read(p).unwrap();
    if p.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("{} is not valid gzip: {e}", p.display()));
        out
    } else {
        bytes
    }
}

/// Everything captured for `base`, in order, through every rotated file.
pub fn read_stream(dir: &Path, base: &str) -> Vec<u8> {
    stream_files(dir, base)
        .iter()
        .flat_map(|p| read_any(p))
        .collect()
}

pub fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// A child running `sh -c script` whose stdout/stderr the pipeline captures.
pub fn spawn_sh(h: &Harness, script: &str) -> std::process::Child {
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    h.pipeline
        .attach(child.stdout.take().unwrap(), child.stderr.take().unwrap());
    child
}

/// Waits for a child with a deadline; kills it on timeout and says so.
pub fn wait_child(child: &mut std::process::Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
