//! The one disk writer: owns the live files, writes each batch with one write(), rotates
//! by size and time (rename + reopen, never copy-then-truncate), writes drop markers, and
//! hands rotated files to the archiver. Never waits for compression.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, SystemTime};

use super::archive::Job;
use super::batch::Batch;
use super::clock::Clock;
use super::drops::Drops;
use super::naming;
use super::queue::{Popped, Queue};
use super::schedule;
use super::stats::Counters;
use super::{FileOwner, Stream};
use crate::config::{LogLayout, LogsConfig};

/// The longest the writer sleeps without looking at the clock (time rotation).
const TICK: Duration = Duration::from_millis(250);
/// Pause after a failed write before trying the next batch, so a broken disk is not
/// hammered; readers drop lines meanwhile instead of waiting.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

struct LiveFile {
    base: String,
    path: PathBuf,
    file: Option<File>,
    size: u64,
}

pub struct Writer {
    pub cfg: LogsConfig,
    pub queue: Arc<Queue>,
    pub drops: Arc<Drops>,
    pub stats: Arc<Counters>,
    pub clock: Arc<dyn Clock>,
    pub archive: Sender<Job>,
    pub owner: Option<FileOwner>,
    pub rotate_now: Arc<AtomicBool>,
    /// File name stem: "gateway", or a scheduled job's name.
    pub stem: String,
}

/// The live files' base names: `<stem>.out` and `<stem>.err`, or `<stem>` when merged.
pub fn bases(layout: LogLayout, stem: &str) -> Vec<String> {
    match layout {
        LogLayout::Split => vec![format!("{stem}.out"), format!("{stem}.err")],
        LogLayout::Merged => vec![stem.to_string()],
    }
}

struct Run {
    w: Writer,
    files: Vec<LiveFile>,
    next_time: Option<SystemTime>,
    last_stamp: String,
}

impl Writer {
    pub fn run(self) {
        let files = bases(self.cfg.layout, &self.stem)
            .into_iter()
            .map(|b| LiveFile {
                path: self.cfg.dir.join(naming::live_name(&b)),
                base: b,
                file: None,
                size: 0,
            })
            .collect();
        let now = self.clock.now();
        let mut run = Run {
            next_time: schedule::next_boundary(
                now,
                self.cfg.rotate_every,
                self.cfg.rotate_timezone,
            ),
            w: self,
            files,
            last_stamp: String::new(),
        };
        run.open_at_start(now);
        loop {
            match run.w.queue.pop(TICK) {
                Popped::Batch(b) => {
                    run.rotate_on_time();
                    run.write(&b);
                    Counters::add(&run.w.stats.batches_done, 1);
                }
                Popped::Idle => {
                    run.rotate_on_time();
                    run.write_pending_markers();
                }
                Popped::Closed => break,
            }
            if run.w.rotate_now.swap(false, Ordering::Relaxed) {
                run.rotate_all();
            }
        }
        for f in run.files.iter().filter_map(|f| f.file.as_ref()) {
            let _ = f.sync_data();
        }
    }
}

impl Run {
    /// Opens the live files; one left from an earlier period is rotated first.
    fn open_at_start(&mut self, now: SystemTime) {
        let start =
            schedule::period_start(now, self.w.cfg.rotate_every, self.w.cfg.rotate_timezone);
        for i in 0..self.files.len() {
            let _ = self.open(i);
            let stale = std::fs::metadata(&self.files[i].path)
                .and_then(|m| m.modified())
                .is_ok_and(|m| start.is_some_and(|s| m < s));
            if stale {
                self.rotate(i);
            }
        }
    }

    fn open(&mut self, i: usize) -> io::Result<()> {
        let f = &mut self.files[i];
        if f.file.is_some() {
            return Ok(());
        }
        let mode = self.w.cfg.file_mode.0;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(mode)
            .open(&f.path)?;
        let meta = file.metadata()?;
        if meta.permissions().mode() & 0o7777 != mode {
            // The umask may have taken bits away; the configured mode is what was asked for.
            let _ = file.set_permissions(std::fs::Permissions::from_mode(mode));
        }
        if let Some(o) = self.w.owner
            && let Err(e) = std::os::unix::fs::fchown(&file, Some(o.uid), Some(o.gid))
        {
            tracing::warn!(target: "clawvisor::logs", "chown {}: {e}", f.path.display());
        }
        f.size = meta.len();
        f.file = Some(file);
        Ok(())
    }

    fn index(&self, s: Stream) -> usize {
        match (self.w.cfg.layout, s) {
            (LogLayout::Split, Stream::Err) => 1,
            _ => 0,
        }
    }

    /// Appends `data` with one write; on failure the file is cut back to its old length,
    /// so no partial line stays behind.
    fn append(&mut self, i: usize, data: &[u8]) -> io::Result<()> {
        self.open(i)?;
        let f = &mut self.files[i];
        let file = f.file.as_mut().expect("opened");
        match file.write_all(data) {
            Ok(()) => {
                f.size += data.len() as u64;
                Ok(())
            }
            Err(e) => {
                let _ = file.set_len(f.size);
                Err(e)
            }
        }
    }

    fn write_marker(&mut self, stream: Stream) -> bool {
        let Some(gap) = self.w.drops.take(stream) else {
            return true;
        };
        let i = self.index(stream);
        let m = gap.marker(stream);
        match self.append(i, m.as_bytes()) {
            Ok(()) => {
                tracing::warn!(target: "clawvisor::logs", "logging works again; {}", m.trim_end());
                true
            }
            Err(_) => {
                self.w.drops.restore(stream, gap);
                false
            }
        }
    }

    /// With no batch coming (every line dropped), markers still get written once the disk
    /// works again.
    fn write_pending_markers(&mut self) {
        if self.w.drops.pending() {
            let ok = self.write_marker(Stream::Out) & self.write_marker(Stream::Err);
            self.w.queue.report(ok);
        }
    }

    /// Writes a batch, cutting it at a line boundary where the file reaches `max_size`.
    fn write(&mut self, b: &Batch) {
        let i = self.index(b.stream);
        let max = self.w.cfg.max_size.bytes();
        let mut rest: &[u8] = &b.data;
        let mut result = if self.write_marker(b.stream) {
            Ok(())
        } else {
            Err(io::Error::other("the drop marker could not be written"))
        };
        while result.is_ok() && !rest.is_empty() {
            let size = self.files[i].size;
            let room = if max == 0 {
                u64::MAX
            } else {
                max.saturating_sub(size)
            };
            if rest.len() as u64 <= room {
                result = self.append(i, rest);
                if result.is_ok() {
                    rest = &[];
                }
                continue;
            }
            let cut = match memchr::memrchr(b'\n', &rest[..room as usize]) {
                Some(p) => p + 1,
                None if size > 0 => {
                    self.rotate(i);
                    continue;
                }
                // A line longer than max_size in an empty file: the whole line, then rotate.
                None => memchr::memchr(b'\n', rest).map_or(rest.len(), |p| p + 1),
            };
            result = self.append(i, &rest[..cut]);
            if result.is_ok() {
                rest = &rest[cut..];
                self.rotate(i);
            }
        }
        let stats = &self.w.stats;
        let written = b.data.len() - rest.len();
        let lost_lines = if rest.is_empty() {
            0
        } else {
            memchr::memchr_iter(b'\n', rest).count() as u64
        };
        Counters::add(&stats.lines_written, b.lines - lost_lines);
        Counters::add(&stats.bytes_written, written as u64);
        match result {
            Ok(()) => self.w.queue.report(true),
            Err(e) => {
                let len = rest.len() as u64;
                Counters::add(&stats.write_errors, 1);
                Counters::add(&stats.lines_dropped, lost_lines);
                Counters::add(&stats.bytes_dropped, len);
                let reason = format!("writing {} failed: {e}", self.files[i].path.display());
                self.w
                    .drops
                    .record(b.stream, lost_lines, len, b.at, &reason);
                self.w.queue.report(false);
                // A file that cannot be written is reopened on the next try (it may have
                // been deleted or its disk remounted).
                if e.raw_os_error() != Some(libc::ENOSPC) {
                    self.files[i].file = None;
                }
                std::thread::sleep(RETRY_PAUSE);
            }
        }
    }

    fn rotate_on_time(&mut self) {
        let Some(next) = self.next_time else { return };
        let now = self.w.clock.now();
        if now >= next {
            self.rotate_all();
            self.next_time =
                schedule::next_boundary(now, self.w.cfg.rotate_every, self.w.cfg.rotate_timezone);
        }
    }

    fn rotate_all(&mut self) {
        for i in 0..self.files.len() {
            self.rotate(i);
        }
    }

    /// A name later than every earlier one, even if the clock stepped back.
    fn fresh_stamp(&mut self) -> String {
        let mut at = self.w.clock.now();
        let mut s = naming::stamp(at);
        while s <= self.last_stamp {
            at += Duration::from_millis(1);
            s = naming::stamp(at);
        }
        self.last_stamp = s.clone();
        s
    }

    fn rotate(&mut self, i: usize) {
        let size = match &self.files[i].file {
            Some(_) => self.files[i].size,
            None => std::fs::metadata(&self.files[i].path).map_or(0, |m| m.len()),
        };
        if size == 0 {
            return; // notifempty
        }
        let stamp = self.fresh_stamp();
        let f = &mut self.files[i];
        let to = self.w.cfg.dir.join(naming::rotated_name(&f.base, &stamp));
        if let Err(e) = std::fs::rename(&f.path, &to) {
            tracing::warn!(target: "clawvisor::logs", "rotating {}: {e}", f.path.display());
            return;
        }
        f.file = None;
        f.size = 0;
        Counters::add(&self.w.stats.rotations, 1);
        if let Err(e) = self.open(i) {
            tracing::warn!(target: "clawvisor::logs", "opening {}: {e}", self.files[i].path.display());
        }
        let _ = self.w.archive.send(Job::Rotated(to));
    }
}
