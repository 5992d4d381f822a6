//! The log pipeline: the child's stdout/stderr to rotated files, a ring of recent lines,
//! pattern rules, tee.
//!
//! (First cut: plain append to one file per stream, a ring buffer and tee. Rotation,
//! compression, retention, flow control and patterns arrive with the log-pipeline issue;
//! the public API below is what the supervisor relies on.)

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{ChildStderr, ChildStdout};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::LogsConfig;
use crate::supervisor::Inbox;

/// Which of the child's streams a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Out,
    Err,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Out => "out",
            Stream::Err => "err",
        }
    }
}

/// One captured line, as kept in the ring buffer and streamed to `ctl logs --follow`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct LogLine {
    pub stream: Stream,
    pub text: String,
}

struct Shared {
    dir: PathBuf,
    ring: Mutex<VecDeque<LogLine>>,
    ring_cap: usize,
    readers: Mutex<Vec<JoinHandle<()>>>,
    follow: tokio::sync::broadcast::Sender<LogLine>,
}

/// A handle to the running pipeline; cheap to clone.
#[derive(Clone)]
pub struct LogPipeline {
    shared: Arc<Shared>,
}

impl LogPipeline {
    pub fn start(cfg: &LogsConfig, _inbox: Inbox) -> io::Result<LogPipeline> {
        std::fs::create_dir_all(&cfg.dir)?;
        Ok(LogPipeline {
            shared: Arc::new(Shared {
                dir: cfg.dir.clone(),
                ring: Mutex::new(VecDeque::new()),
                ring_cap: 1000,
                readers: Mutex::new(Vec::new()),
                follow: tokio::sync::broadcast::channel(1024).0,
            }),
        })
    }

    /// Starts capturing a newly spawned child's streams.
    pub fn attach(&self, stdout: ChildStdout, stderr: ChildStderr) {
        let mut readers = self.shared.readers.lock().unwrap();
        readers.retain(|h| !h.is_finished());
        readers.push(self.reader(Stream::Out, Box::new(stdout)));
        readers.push(self.reader(Stream::Err, Box::new(stderr)));
    }

    fn reader(&self, stream: Stream, pipe: Box<dyn io::Read + Send>) -> JoinHandle<()> {
        let shared = self.shared.clone();
        std::thread::Builder::new()
            .name(format!("log-{}", stream.name()))
            .spawn(move || {
                let path = shared.dir.join(format!("gateway.{}.log", stream.name()));
                let mut file: Option<File> = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .ok();
                let mut r = BufReader::new(pipe);
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    match r.read_until(b'\n', &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    if let Some(f) = file.as_mut() {
                        let _ = f.write_all(&buf);
                    }
                    let text = String::from_utf8_lossy(&buf)
                        .trim_end_matches('\n')
                        .to_string();
                    let mut tee: Box<dyn Write> = match stream {
                        Stream::Out => Box::new(io::stdout().lock()),
                        Stream::Err => Box::new(io::stderr().lock()),
                    };
                    let _ = tee.write_all(&buf);
                    let mut ring = shared.ring.lock().unwrap();
                    if ring.len() == shared.ring_cap {
                        ring.pop_front();
                    }
                    let line = LogLine { stream, text };
                    let _ = shared.follow.send(line.clone());
                    ring.push_back(line);
                }
            })
            .expect("spawn log reader thread")
    }

    /// The last `n` lines, optionally of one stream only, oldest first.
    pub fn tail(&self, n: usize, stream: Option<Stream>) -> Vec<LogLine> {
        let ring = self.shared.ring.lock().unwrap();
        let mut v: Vec<LogLine> = ring
            .iter()
            .rev()
            .filter(|l| stream.is_none_or(|s| l.stream == s))
            .take(n)
            .cloned()
            .collect();
        v.reverse();
        v
    }

    /// New lines as they arrive, for `ctl logs --follow`. A slow subscriber misses lines
    /// (it sees `RecvError::Lagged`) rather than slowing the pipeline.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<LogLine> {
        self.shared.follow.subscribe()
    }

    /// Counters and state for `ctl status`.
    pub fn stats(&self) -> serde_json::Value {
        serde_json::json!({ "dir": self.shared.dir })
    }

    /// Rotates now (`ctl rotate`).
    pub fn rotate(&self) {}

    /// Applies a reloaded `[logs]` section.
    pub fn reconfigure(&self, _cfg: &LogsConfig) {}

    /// Waits (bounded) for the readers to reach end-of-file and flushes everything, so the
    /// child's last lines are on disk before clawvisor exits.
    pub fn finish(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut readers = self.shared.readers.lock().unwrap();
        while readers.iter().any(|h| !h.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        readers.retain(|h| !h.is_finished());
    }
}
