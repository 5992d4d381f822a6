//! The archiver: a background thread (at the lowest nice level) that fsyncs rotated files,
//! gzips them (`.gz.tmp`, fsync, rename, unlink the original), applies retention, and at
//! start-up finishes or cleans up work a crash interrupted. The writer never waits for it.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::clock::Clock;
use super::naming::{self, Kind};
use super::retention::{self, Archived, Limits};
use super::stats::Counters;
use crate::config::LogsConfig;

pub enum Job {
    Rotated(PathBuf),
    /// Look at the directory again (start-up, `ctl rotate`).
    Tidy,
}

pub struct Archiver {
    pub cfg: LogsConfig,
    pub jobs: Receiver<Job>,
    pub stats: Arc<Counters>,
    pub clock: Arc<dyn Clock>,
    pub stop: Arc<AtomicBool>,
    /// File name stem: "gateway", or a scheduled job's name.
    pub stem: String,
}

/// How long rotations must pause before the archiver starts its heavy work.
const BURST_QUIET: Duration = Duration::from_millis(500);
/// Plain bytes waiting for compression after which it starts even during a burst.
const BURST_BACKLOG: u64 = 1 << 30;

/// Compression must not slow the capture, nor starve: the archiver runs as SCHED_BATCH at
/// nice 19 (about 1.5% of a core against one busy nice-0 thread). SCHED_IDLE would be
/// gentler still, but on a box whose CPU inference keeps every core busy for hours it gets
/// next to nothing, and uncompressed logs pile up. Bursts are avoided by waiting for a lull.
fn lower_priority() {
    // SAFETY: plain syscalls on this thread's own id; failure leaves the priority as it was.
    unsafe {
        let tid = libc::gettid();
        let param = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(tid, libc::SCHED_BATCH, &param);
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19);
    }
}

struct Listed {
    plain: Vec<Archived>,
    all: Vec<Archived>,
}

impl Archiver {
    pub fn run(self) {
        lower_priority();
        self.tidy();
        while let Ok(job) = self.jobs.recv() {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            let mut backlog = self.take_ready(&job);
            // A burst rotates every few milliseconds: let it finish before competing with it
            // for CPU and disk (gzip, fsync). Sustained heavy logging is still compressed
            // once the plain backlog reaches BURST_BACKLOG. (Retention does not wait: the
            // writer applies it after every rotation.)
            while backlog < BURST_BACKLOG {
                match self.jobs.recv_timeout(BURST_QUIET) {
                    Ok(job) => backlog += self.take_ready(&job),
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
                if self.stop.load(Ordering::Relaxed) {
                    return;
                }
            }
            self.tidy();
        }
    }

    /// Takes `job` and every job already waiting; returns the bytes they add to the plain
    /// backlog.
    fn take_ready(&self, job: &Job) -> u64 {
        let mut backlog = self.take(job);
        while let Ok(more) = self.jobs.try_recv() {
            backlog += self.take(&more);
        }
        backlog
    }

    /// Handles what must happen per rotation at once; returns the bytes it adds to the
    /// plain backlog.
    fn take(&self, job: &Job) -> u64 {
        let Job::Rotated(p) = job else { return 0 };
        if self.cfg.fsync_on_rotate && !self.cfg.compress {
            let _ = crate::nofollow::open_read(p).and_then(|f| f.sync_all());
        }
        std::fs::metadata(p).map_or(0, |m| m.len())
    }

    fn list(&self) -> Listed {
        let (listed, leftovers) = list_rotated(&self.cfg, &self.stem);
        for p in leftovers {
            tracing::info!(target: "clawvisor::logs", "removing leftover {}", p.display());
            let _ = std::fs::remove_file(p);
        }
        listed
    }

    fn apply_retention(&self, files: &[Archived]) {
        delete_beyond_limits(&self.cfg, &self.stats, files, self.clock.now());
    }
}

/// The rotated files in `cfg.dir`, and leftovers of interrupted compressions (for the
/// caller to remove, when no compression can be running).
fn list_rotated(cfg: &LogsConfig, stem: &str) -> (Listed, Vec<PathBuf>) {
    {
        let owned = super::naming::bases(cfg.layout, stem);
        let bases: Vec<&str> = owned.iter().map(String::as_str).collect();
        let mut l = Listed {
            plain: Vec::new(),
            all: Vec::new(),
        };
        let Ok(rd) = std::fs::read_dir(&cfg.dir) else {
            return (l, Vec::new());
        };
        let mut names: Vec<(String, naming::RotatedName)> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let r = naming::parse_rotated(&name, &bases)?;
                // Only regular files are ours: a link or anything else under a log name
                // was put there by someone else, and is neither compressed, counted nor
                // deleted (nor taken as proof that a compression finished).
                if !e.file_type().is_ok_and(|t| t.is_file()) {
                    warn_foreign(&e.path());
                    return None;
                }
                Some((name, r))
            })
            .collect();
        names.sort();
        let exists = |n: &str| names.iter().any(|(m, _)| m == n);
        let mut cleanup = Vec::new();
        for (name, r) in &names {
            let path = cfg.dir.join(name);
            match r.kind {
                // Interrupted compression: the original is still there (or the .gz is
                // complete); either way the .tmp is garbage.
                Kind::GzTmp => cleanup.push(path),
                // Crashed after the rename, before the unlink: the .gz is complete.
                Kind::Plain if exists(&format!("{name}.gz")) => cleanup.push(path),
                _ => {
                    let Ok(m) = std::fs::metadata(&path) else {
                        continue;
                    };
                    let a = Archived {
                        path,
                        base: r.base.clone(),
                        stamp: r.stamp.clone(),
                        size: m.len(),
                        modified: m.modified().unwrap_or(std::time::UNIX_EPOCH),
                    };
                    if r.kind == Kind::Plain {
                        l.plain.push(a.clone());
                    }
                    l.all.push(a);
                }
            }
        }
        (l, cleanup)
    }
}

/// Warns once per path about a non-file under a rotated log's name.
fn warn_foreign(path: &Path) {
    static WARNED: std::sync::Mutex<std::collections::BTreeSet<PathBuf>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut w = WARNED.lock().unwrap_or_else(|p| p.into_inner());
    if w.len() < 1000 && w.insert(path.to_path_buf()) {
        tracing::warn!(target: "clawvisor::logs",
            "{} has a rotated log's name but is not a regular file (a symbolic link?); clawvisor leaves it alone: remove it",
            path.display());
    }
}

/// Applies `keep_files`, `max_age` and `max_total_size` to the rotated files now. Quick (a
/// listing and unlinks): the writer runs it after every rotation, the archiver after
/// compressing, and `finish` once more at shutdown.
pub fn enforce_retention(
    cfg: &LogsConfig,
    stem: &str,
    stats: &Counters,
    now: std::time::SystemTime,
) {
    let (listed, _) = list_rotated(cfg, stem);
    delete_beyond_limits(cfg, stats, &listed.all, now);
}

/// Deletes what retention says must go, logging each file and the limit that took it.
fn delete_beyond_limits(
    cfg: &LogsConfig,
    stats: &Counters,
    files: &[Archived],
    now: std::time::SystemTime,
) {
    let limits = Limits {
        keep_files: cfg.keep_files,
        max_age: cfg.max_age.get(),
        max_total: cfg.max_total_size.map(|s| s.bytes()),
    };
    for (i, why) in retention::to_delete(files, &limits, now) {
        let path = &files[i].path;
        match std::fs::remove_file(path) {
            Ok(()) => {
                Counters::add(&stats.files_deleted, 1);
                tracing::info!(target: "clawvisor::logs", file = %path.display(), bytes = files[i].size,
                    "deleted a rotated log (logs.{why})");
            }
            // Deleted meanwhile by the other pass (the archiver and shutdown may overlap).
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(target: "clawvisor::logs", "deleting {}: {e}", path.display()),
        }
    }
}

impl Archiver {
    /// Retention, then compression of every plain rotated file (but the newest per stream
    /// with `delay_compress`), oldest first, then retention again (sizes shrank).
    fn tidy(&self) {
        let listed = self.list();
        self.apply_retention(&listed.all);
        if !self.cfg.compress {
            return;
        }
        let listed = self.list();
        let mut todo = listed.plain;
        if self.cfg.delay_compress {
            // The newest rotated file of each stream stays plain.
            let newest = |a: &Archived| {
                todo.iter()
                    .filter(|x| x.base == a.base)
                    .all(|x| x.stamp <= a.stamp)
            };
            let keep: Vec<bool> = todo.iter().map(newest).collect();
            let mut it = keep.iter();
            todo.retain(|_| !*it.next().unwrap());
        }
        self.stats
            .compress_backlog
            .store(todo.len() as u64, Ordering::Relaxed);
        for a in &todo {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            match self.compress(&a.path) {
                Ok(true) => Counters::add(&self.stats.files_compressed, 1),
                // Deleted by retention since the listing: nothing to compress.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Ok(false) => return, // stopped
                Err(e) => {
                    tracing::warn!(target: "clawvisor::logs", "compressing {}: {e}", a.path.display())
                }
            }
            self.stats.compress_backlog.fetch_sub(1, Ordering::Relaxed);
        }
        self.apply_retention(&self.list().all);
    }

    /// Returns Ok(false) when stopped midway (the .tmp is removed).
    fn compress(&self, path: &Path) -> io::Result<bool> {
        let gz = PathBuf::from(format!("{}.gz", path.display()));
        let tmp = PathBuf::from(format!("{}.gz.tmp", path.display()));
        // Neither end through a link: compressing a planted `*.log -> /etc/shadow` would
        // copy that file into the log dir, and a planted `.gz.tmp` would be truncated.
        let mut src = crate::nofollow::open_read(path)?;
        if !src.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not a regular file", path.display()),
            ));
        }
        // O_NONBLOCK from open_read matters only for FIFOs, refused above.
        let modified = src.metadata()?.modified()?;
        let out = crate::nofollow::open_truncate(&tmp, 0o600)?;
        let _ = out.set_permissions(src.metadata()?.permissions());
        let mut enc = GzEncoder::new(out, Compression::new(self.cfg.compress_level));
        let mut buf = vec![0u8; 256 * 1024];
        let result = (|| {
            loop {
                if self.stop.load(Ordering::Relaxed) {
                    return Ok(false);
                }
                let n = src.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                enc.write_all(&buf[..n])?;
            }
            let out = enc.finish()?;
            out.sync_all()?;
            let _ = out.set_modified(modified);
            std::fs::rename(&tmp, &gz)?;
            match std::fs::remove_file(path) {
                // Retention (on the writer's thread) took it meanwhile; the next pass
                // takes the .gz too if it is still beyond the limits.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                r => r?,
            }
            Ok(true)
        })();
        if !matches!(result, Ok(true)) {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}
