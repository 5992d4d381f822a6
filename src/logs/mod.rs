//! The log pipeline: the child's stdout/stderr to rotated files, a ring of recent lines,
//! pattern rules, tee.
//!
//! ```text
//! pipe ─> reader thread (big reads, framing) ─┬─> bounded queue ─> writer thread ─> files
//!   (one per stream, always drains)           ├─> pattern matcher thread (lossy)   │ rotated
//!                                             ├─> tee thread (lossy)               v
//!                                             └─> ring of recent lines       archiver thread
//!                                                                  (gzip, retention, nice 19)
//! ```
//! While the disk makes progress the queue applies backpressure: nothing is lost. When a
//! write fails or stalls past `stall_timeout`, whole lines are dropped and counted, and a
//! marker line records the gap once writing works again.

mod archive;
mod batch;
pub mod clock;
mod drops;
mod framer;
mod naming;
mod patterns;
mod queue;
mod reader;
mod retention;
mod ring;
mod schedule;
mod stamp;
mod stats;
mod tee;
mod writer;

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::config::LogsConfig;
use crate::supervisor::Inbox;

pub use clock::{Clock, ManualClock, SystemClock};
pub use framer::{CONTINUED, Framer};
pub use naming::parse_stamp;

use archive::{Archiver, Job};
use batch::Batch;
use drops::Drops;
use patterns::Matcher;
use queue::{Pushed, Queue};
use ring::Ring;
use stats::Counters;
use writer::Writer;

/// Batches are big (up to 1 MiB) and freed on another thread than the one that made them.
/// With glibc's default, dynamic thresholds, freed batch memory stays resident in the
/// reader threads' arenas (about 60 MiB during a 1 GiB burst); a fixed trim threshold
/// gives it back at once (about 12 MiB), at no measurable cost in throughput.
/// Process-wide, done once.
fn limit_heap_retention() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(target_env = "gnu")]
        // SAFETY: mallopt only changes allocator tunables; it is called before the
        // pipeline's threads allocate.
        unsafe {
            libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
        }
    });
}

/// How long `finish` gives the archiver to stop cleanly.
const ARCHIVER_STOP_WAIT: Duration = Duration::from_millis(500);

pub use crate::config::Stream;

/// One captured line, as kept in the ring buffer and streamed to `ctl logs --follow`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct LogLine {
    pub stream: Stream,
    pub text: String,
    /// When clawvisor read it.
    #[serde(with = "crate::supervisor::wall_time")]
    pub at: SystemTime,
}

/// Who owns the log files (the child's user, when `gateway.user` is set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileOwner {
    pub uid: u32,
    pub gid: u32,
}

/// Optional parts of [`LogPipeline::start_with`].
#[derive(Default)]
pub struct Options {
    pub owner: Option<FileOwner>,
    /// The clock for timestamps and time rotation (tests inject a [`ManualClock`]).
    pub clock: Option<Arc<dyn Clock>>,
    /// File name stem (default "gateway"): a scheduled job's pipeline writes `<job>.log`.
    pub stem: Option<String>,
}

/// What the reader threads share.
struct Core {
    cfg: LogsConfig,
    stem: String,
    clock: Arc<dyn Clock>,
    queue: Arc<Queue>,
    drops: Arc<Drops>,
    stats: Arc<Counters>,
    ring: Ring,
    follow: tokio::sync::broadcast::Sender<LogLine>,
    matcher: Matcher,
    tee: Option<SyncSender<Arc<Batch>>>,
    pool: Arc<batch::BufferPool>,
}

impl Core {
    /// Takes one batch from a reader: side paths first (they never wait), then the queue
    /// to the disk (which may wait, while the disk makes progress).
    fn accept(&self, b: Arc<Batch>) {
        let len = b.data.len() as u64;
        Counters::add(&self.stats.lines_read, b.lines);
        Counters::add(&self.stats.bytes_read, len);
        self.ring.push(b.clone());
        self.matcher.offer(&b, &self.stats);
        if let Some(tx) = &self.tee {
            tee::offer(tx, &b, &self.stats);
        }
        if self.follow.receiver_count() > 0 {
            for line in b.lines() {
                let _ = self.follow.send(LogLine {
                    stream: b.stream,
                    text: String::from_utf8_lossy(line).into_owned(),
                    at: b.at,
                });
            }
        }
        let (stream, lines, at) = (b.stream, b.lines, b.at);
        match self.queue.push(b) {
            Pushed::Queued => Counters::add(&self.stats.batches_queued, 1),
            Pushed::Dropped(reason) => {
                Counters::add(&self.stats.lines_dropped, lines);
                Counters::add(&self.stats.bytes_dropped, len);
                self.drops.record(stream, lines, len, at, reason);
            }
        }
    }
}

struct Shared {
    core: Arc<Core>,
    readers: Mutex<Vec<JoinHandle<()>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    archive: Mutex<Sender<Job>>,
    archiver_stop: Arc<AtomicBool>,
    archiver: Mutex<Option<JoinHandle<()>>>,
    rotate_now: Arc<AtomicBool>,
}

/// A handle to the running pipeline; cheap to clone.
#[derive(Clone)]
pub struct LogPipeline {
    shared: Arc<Shared>,
}

impl LogPipeline {
    pub fn start(cfg: &LogsConfig, inbox: Inbox) -> io::Result<LogPipeline> {
        Self::start_with(cfg, inbox, Options::default())
    }

    pub fn start_with(cfg: &LogsConfig, inbox: Inbox, opts: Options) -> io::Result<LogPipeline> {
        limit_heap_retention();
        std::fs::create_dir_all(&cfg.dir)?;
        let clock: Arc<dyn Clock> = opts.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let stem = opts.stem.unwrap_or_else(|| "gateway".to_string());
        let stats = Arc::new(Counters::default());
        let queue = Queue::new(cfg.queue_size.bytes() as usize, cfg.stall_timeout.get());
        let drops = Arc::new(Drops::new(inbox.clone()));
        let (archive_tx, archive_rx) = std::sync::mpsc::channel();
        let archiver_stop = Arc::new(AtomicBool::new(false));
        let rotate_now = Arc::new(AtomicBool::new(false));

        let archiver = Archiver {
            cfg: cfg.clone(),
            jobs: archive_rx,
            stats: stats.clone(),
            clock: clock.clone(),
            stop: archiver_stop.clone(),
            stem: stem.clone(),
        };
        let archiver = std::thread::Builder::new()
            .name("log-archiver".into())
            .spawn(move || archiver.run())?;

        let writer = Writer {
            cfg: cfg.clone(),
            queue: queue.clone(),
            drops: drops.clone(),
            stats: stats.clone(),
            clock: clock.clone(),
            archive: archive_tx.clone(),
            owner: opts.owner,
            rotate_now: rotate_now.clone(),
            stem: stem.clone(),
        };
        let writer = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || writer.run())?;

        let core = Arc::new(Core {
            matcher: Matcher::start(cfg.effective_patterns(), inbox, stats.clone()),
            tee: cfg.tee.then(|| tee::start(stats.clone())),
            ring: Ring::new(cfg.ring_lines),
            pool: reader::pool(),
            follow: tokio::sync::broadcast::channel(1024).0,
            cfg: cfg.clone(),
            stem,
            clock,
            queue,
            drops,
            stats,
        });
        Ok(LogPipeline {
            shared: Arc::new(Shared {
                core,
                readers: Mutex::new(Vec::new()),
                writer: Mutex::new(Some(writer)),
                archive: Mutex::new(archive_tx),
                archiver_stop,
                archiver: Mutex::new(Some(archiver)),
                rotate_now,
            }),
        })
    }

    /// Starts capturing a newly spawned child's streams.
    pub fn attach(&self, stdout: impl Into<OwnedFd>, stderr: impl Into<OwnedFd>) {
        self.attach_fd(Stream::Out, stdout.into());
        self.attach_fd(Stream::Err, stderr.into());
    }

    /// Starts capturing one stream from any readable fd (a pipe's read end).
    pub fn attach_fd(&self, stream: Stream, fd: OwnedFd) {
        let core = self.shared.core.clone();
        let pipe = File::from(fd);
        let h = std::thread::Builder::new()
            .name(format!("log-{}", stream.name()))
            .spawn(move || reader::run(core, stream, pipe))
            .expect("spawn log reader thread");
        let mut readers = self.shared.readers.lock().unwrap();
        readers.retain(|h| !h.is_finished());
        readers.push(h);
    }

    /// The last `n` lines, optionally of one stream only, oldest first.
    pub fn tail(&self, n: usize, stream: Option<Stream>) -> Vec<LogLine> {
        self.shared.core.ring.tail(n, stream)
    }

    /// New lines as they arrive, for `ctl logs --follow`. A slow subscriber misses lines
    /// (it sees `RecvError::Lagged`) rather than slowing the pipeline.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<LogLine> {
        self.shared.core.follow.subscribe()
    }

    /// Counters and state for `ctl status`.
    pub fn stats(&self) -> serde_json::Value {
        let core = &self.shared.core;
        let mut v = core.stats.to_json();
        let files: Vec<String> = naming::bases(core.cfg.layout, &core.stem)
            .iter()
            .map(|b| {
                core.cfg
                    .dir
                    .join(naming::live_name(b))
                    .display()
                    .to_string()
            })
            .collect();
        let o = v.as_object_mut().expect("an object");
        o.insert("dir".into(), serde_json::json!(core.cfg.dir));
        o.insert("files".into(), serde_json::json!(files));
        o.insert(
            "queue_bytes".into(),
            serde_json::json!(core.queue.queued_bytes()),
        );
        o.insert("dropping".into(), serde_json::json!(core.drops.pending()));
        v
    }

    /// Rotates now (`ctl rotate`); empty files are left alone.
    pub fn rotate(&self) {
        self.shared.rotate_now.store(true, Ordering::Relaxed);
        self.shared.core.queue.poke();
    }

    /// Applies a reloaded `[logs]` section. The pattern rules change at once; the other
    /// keys (files, rotation, retention, queue) take effect when clawvisor restarts.
    pub fn reconfigure(&self, cfg: &LogsConfig) {
        let core = &self.shared.core;
        if cfg.effective_patterns() != core.cfg.effective_patterns() {
            core.matcher.replace(cfg.effective_patterns());
        }
        let mut same = cfg.clone();
        same.patterns = core.cfg.patterns.clone();
        same.default_patterns = core.cfg.default_patterns;
        if same != core.cfg {
            tracing::warn!(target: "clawvisor::logs",
                "changes to [logs] other than patterns take effect when clawvisor restarts");
        }
    }

    /// After the child exits: waits (bounded by `timeout`) until its readers have taken in
    /// everything it wrote, so its last lines reach the ring (and so the pause record)
    /// before anyone reads them. Done when every reader is at end-of-file, or when nothing
    /// new arrived for a moment (a descendant may hold the pipe open for a long time).
    pub fn settle(&self, timeout: Duration) {
        const QUIET: Duration = Duration::from_millis(25);
        let deadline = Instant::now() + timeout;
        let stats = &self.shared.core.stats;
        let mut seen = Counters::get(&stats.bytes_read);
        let mut quiet_since = Instant::now();
        loop {
            let all_eof = self
                .shared
                .readers
                .lock()
                .unwrap()
                .iter()
                .all(|h| h.is_finished());
            let now = Instant::now();
            if all_eof || now >= deadline || now.duration_since(quiet_since) >= QUIET {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
            let read = Counters::get(&stats.bytes_read);
            if read != seen {
                seen = read;
                quiet_since = Instant::now();
            }
        }
    }

    /// Waits until every batch queued so far is written (tests, `ctl`); false on timeout.
    pub fn flush(&self, timeout: Duration) -> bool {
        let stats = &self.shared.core.stats;
        let target = Counters::get(&stats.batches_queued);
        let deadline = Instant::now() + timeout;
        while Counters::get(&stats.batches_done) < target {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        true
    }

    /// Waits (bounded) for the readers to reach end-of-file, writes everything queued and
    /// syncs it, so the child's last lines are on disk before clawvisor exits. Compression
    /// in progress is abandoned (its `.gz.tmp` is removed; the next start compresses again).
    pub fn finish(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let wait = |done: &dyn Fn() -> bool| {
            while !done() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
        };
        {
            let readers = self.shared.readers.lock().unwrap();
            wait(&|| readers.iter().all(|h| h.is_finished()));
            if readers.iter().any(|h| !h.is_finished()) {
                tracing::warn!(target: "clawvisor::logs",
                    "a process still holds the child's stdout/stderr open; its later output is not captured");
            }
        }
        self.shared.core.queue.close();
        if let Some(w) = self.shared.writer.lock().unwrap().take() {
            wait(&|| w.is_finished());
            if w.is_finished() {
                let _ = w.join();
            } else {
                tracing::warn!(target: "clawvisor::logs", "the log writer did not finish in time");
            }
        }
        self.shared.archiver_stop.store(true, Ordering::Relaxed);
        let _ = self.shared.archive.lock().unwrap().send(Job::Tidy);
        // Let the archiver remove a half-written .gz.tmp (it checks between chunks).
        if let Some(a) = self.shared.archiver.lock().unwrap().take() {
            let until = Instant::now() + ARCHIVER_STOP_WAIT;
            while !a.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        // Retention holds at exit too (the archiver may have been waiting out a burst);
        // compression is left to the next start, which compresses what is still plain.
        let core = &self.shared.core;
        archive::enforce_retention(&core.cfg, &core.stem, &core.stats, core.clock.now());
    }
}
