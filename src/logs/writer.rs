//! The one disk writer: owns the live files, writes each batch with one write(), rotates
//! by size and time (rename + reopen, never copy-then-truncate), writes drop markers, and
//! hands rotated files to the archiver. Never waits for compression.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant, SystemTime};

use super::archive::Job;
use super::batch::Batch;
use super::clock::Clock;
use super::drops::Drops;
use super::naming;
use super::naming::bases;
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
/// After a failed rotation (the rename failed: a read-only remount, EPERM on the directory,
/// an immutable file) the file is written past `max_size` and the rename is tried again
/// after this, doubling up to [`ROTATE_RETRY_MAX`]. Trying at every write would spin.
const ROTATE_RETRY_FIRST: Duration = Duration::from_secs(1);
const ROTATE_RETRY_MAX: Duration = Duration::from_secs(60);
/// At most one warning about failed rotations per this long (each failure is counted).
const ROTATE_WARN_EVERY: Duration = Duration::from_secs(60);

struct LiveFile {
    base: String,
    path: PathBuf,
    file: Option<File>,
    size: u64,
    /// After a failed rotation: when to try again, and the current back-off.
    rotate_retry: Option<(Instant, Duration)>,
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

struct Run {
    w: Writer,
    files: Vec<LiveFile>,
    next_time: Option<SystemTime>,
    /// The newest rotated name so far (seeded from the directory at start): new names sort
    /// after it even when the clock is behind, so retention never takes them as older.
    last_stamp: String,
    clock_behind_warned: bool,
    /// The clock at the last look, to notice a backward step.
    last_now: SystemTime,
    rotate_warned: Option<Instant>,
    rotate_failures_unwarned: u64,
}

/// The newest stamp among the rotated files of `bases` in `dir` ("" when none).
fn newest_stamp(dir: &std::path::Path, bases: &[&str]) -> String {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            Some(naming::parse_rotated(&name, bases)?.stamp)
        })
        .max()
        .unwrap_or_default()
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
                rotate_retry: None,
            })
            .collect();
        let owned = bases(self.cfg.layout, &self.stem);
        let names: Vec<&str> = owned.iter().map(String::as_str).collect();
        let last_stamp = newest_stamp(&self.cfg.dir, &names);
        let now = self.clock.now();
        let mut run = Run {
            next_time: schedule::next_boundary(
                now,
                self.cfg.rotate_every,
                self.cfg.rotate_timezone,
            ),
            w: self,
            files,
            last_stamp,
            clock_behind_warned: false,
            last_now: now,
            rotate_warned: None,
            rotate_failures_unwarned: 0,
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
                // Asked for by a person: try even while a failed rotation backs off.
                for i in 0..run.files.len() {
                    run.try_rotate(i, true);
                }
            }
        }
        run.write_pending_markers();
        for stream in [Stream::Out, Stream::Err] {
            if let Some(gap) = run.w.drops.take(stream) {
                tracing::error!(target: "clawvisor::logs", lines = gap.lines, bytes = gap.bytes,
                    "{} lines ({} bytes) of std{} never reached the log files (from {} to {}): {}",
                    gap.lines, gap.bytes, stream.name(),
                    super::stamp::rfc3339_millis(gap.first), super::stamp::rfc3339_millis(gap.last),
                    gap.reason);
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
            self.end_torn_line(i);
            let stale = std::fs::metadata(&self.files[i].path)
                .and_then(|m| m.modified())
                .is_ok_and(|m| start.is_some_and(|s| m < s));
            if stale {
                self.rotate(i);
            }
        }
    }

    /// A live file whose last line has no newline (clawvisor was killed in the middle of
    /// a write, or the child's last line had none) gets one, so this run's first line does
    /// not run on from it.
    fn end_torn_line(&mut self, i: usize) {
        use std::os::unix::fs::FileExt;
        let path = &self.files[i].path;
        let torn = crate::nofollow::open_read(path).and_then(|f| {
            let len = f.metadata()?.len();
            let mut last = [0u8; 1];
            Ok(len > 0 && f.read_at(&mut last, len - 1)? == 1 && last[0] != b'\n')
        });
        if torn.unwrap_or(false) {
            match self.append(i, b"\n") {
                Ok(()) => tracing::warn!(target: "clawvisor::logs",
                    "{} ended in the middle of a line (the previous run was killed?); ended it with a newline",
                    self.files[i].path.display()),
                Err(e) => tracing::warn!(target: "clawvisor::logs",
                    "{} ends in the middle of a line and cannot be fixed: {e}", self.files[i].path.display()),
            }
        }
    }

    fn open(&mut self, i: usize) -> io::Result<()> {
        let f = &mut self.files[i];
        if f.file.is_some() {
            return Ok(());
        }
        let mode = self.w.cfg.file_mode.0;
        // Not through a symlink someone planted at the live name (see `nofollow`).
        let file = crate::nofollow::open_append(&f.path, mode)?;
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
            let room = if max == 0 || self.rotation_backing_off(i) {
                u64::MAX
            } else {
                max.saturating_sub(size)
            };
            let (chunk, then_rotate) = if rest.len() as u64 <= room {
                (rest.len(), false)
            } else {
                match memchr::memrchr(b'\n', &rest[..room as usize]) {
                    Some(p) => (p + 1, true),
                    None if size > 0 => {
                        self.rotate(i);
                        continue;
                    }
                    // A line longer than max_size in an empty file: the whole line, then rotate.
                    None => (
                        memchr::memchr(b'\n', rest).map_or(rest.len(), |p| p + 1),
                        true,
                    ),
                }
            };
            if let Some(why) = self.short_of_space(chunk as u64) {
                result = Err(io::Error::new(io::ErrorKind::StorageFull, why));
                break;
            }
            result = self.append(i, &rest[..chunk]);
            if result.is_ok() {
                rest = &rest[chunk..];
                if then_rotate {
                    self.rotate(i);
                }
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
                // At shutdown nothing is gained by waiting: what is left is dropped (and
                // counted) at the speed of failing writes, so stopping is not held up.
                if !self.w.queue.is_closed() {
                    std::thread::sleep(RETRY_PAUSE);
                }
            }
        }
    }

    /// With compression on, the writer leaves room on the disk for the archiver: on a full
    /// disk a fast writer would otherwise take every byte that is freed, and compression
    /// (which frees most of a rotated file) could never write its `.gz.tmp`. The reserve is
    /// one rotated file's worth (`max_size`), at most 5% of the filesystem. A write of
    /// `len` bytes that would eat into it is not made: its lines are dropped and counted
    /// like on ENOSPC.
    fn short_of_space(&self, len: u64) -> Option<String> {
        if !self.w.cfg.compress {
            return None;
        }
        let st = nix::sys::statvfs::statvfs(&self.w.cfg.dir).ok()?;
        let frag = st.fragment_size() as u64;
        let total = st.blocks() as u64 * frag;
        let avail = st.blocks_available() as u64 * frag;
        let max = self.w.cfg.max_size.bytes();
        let reserve = if max == 0 {
            total / 20
        } else {
            max.min(total / 20)
        };
        (avail < reserve.saturating_add(len)).then(|| {
            format!(
                "{} has less than {} free beyond what is kept for compressing rotated logs",
                self.w.cfg.dir.display(),
                crate::config::Size(len)
            )
        })
    }

    fn rotate_on_time(&mut self) {
        let Some(next) = self.next_time else { return };
        let now = self.w.clock.now();
        // After a backward clock step the boundary computed before it may lie much more
        // than one period ahead: take the next boundary from the clock as it is now.
        let stepped_back = now < self.last_now;
        self.last_now = now;
        if stepped_back
            && let Some(fresh) =
                schedule::next_boundary(now, self.w.cfg.rotate_every, self.w.cfg.rotate_timezone)
            && fresh < next
        {
            tracing::info!(target: "clawvisor::logs",
                "the clock went back; next time rotation at {}", naming::stamp(fresh));
            self.next_time = Some(fresh);
            return;
        }
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

    /// A name later than every earlier one (of this run and, through the seed, of earlier
    /// runs), even if the clock stepped back.
    fn fresh_stamp(&mut self) -> String {
        let now = naming::stamp(self.w.clock.now());
        if now > self.last_stamp {
            self.last_stamp = now;
            return self.last_stamp.clone();
        }
        let last = naming::parse_stamp(&self.last_stamp).unwrap_or(SystemTime::UNIX_EPOCH);
        let next = naming::stamp(last + Duration::from_millis(1));
        if !self.clock_behind_warned
            && naming::parse_stamp(&now).is_some_and(|n| n + Duration::from_secs(1) < last)
        {
            self.clock_behind_warned = true;
            tracing::warn!(target: "clawvisor::logs",
                "the clock ({now}) is behind the newest rotated log ({}); rotated names go on from there so that retention keeps the newest files",
                self.last_stamp);
        }
        self.last_stamp = next;
        self.last_stamp.clone()
    }

    fn rotation_backing_off(&self, i: usize) -> bool {
        self.files[i]
            .rotate_retry
            .is_some_and(|(at, _)| Instant::now() < at)
    }

    fn rotate(&mut self, i: usize) -> bool {
        self.try_rotate(i, false)
    }

    /// Renames the live file to a rotated name and opens a new one. False when the file
    /// is not rotated: backing off after a failure (unless `forced`), or the rename failed.
    fn try_rotate(&mut self, i: usize, forced: bool) -> bool {
        if !forced && self.rotation_backing_off(i) {
            return false;
        }
        let size = match &self.files[i].file {
            Some(_) => self.files[i].size,
            None => std::fs::metadata(&self.files[i].path).map_or(0, |m| m.len()),
        };
        if size == 0 {
            return true; // notifempty
        }
        let stamp = self.fresh_stamp();
        let to = self
            .w
            .cfg
            .dir
            .join(naming::rotated_name(&self.files[i].base, &stamp));
        // Never over an existing name: a file or link there is not ours to replace.
        if let Err(e) = crate::nofollow::rename_noreplace(&self.files[i].path, &to) {
            self.rotation_failed(i, &e);
            return false;
        }
        let f = &mut self.files[i];
        f.rotate_retry = None;
        f.file = None;
        f.size = 0;
        Counters::add(&self.w.stats.rotations, 1);
        if let Err(e) = self.open(i) {
            tracing::warn!(target: "clawvisor::logs", "opening {}: {e}", self.files[i].path.display());
        }
        let _ = self.w.archive.send(Job::Rotated(to));
        // Retention right here, at the writer's priority: the archiver runs at the lowest
        // one and lags behind a burst on a busy machine, and `keep_files` must hold at all
        // times. Cheap: a listing and, usually, one unlink per rotation.
        super::archive::enforce_retention(
            &self.w.cfg,
            &self.w.stem,
            &self.w.stats,
            self.w.clock.now(),
        );
        true
    }

    /// Counts a failed rotation as a write error, backs off, and warns (rate-limited).
    fn rotation_failed(&mut self, i: usize, e: &io::Error) {
        Counters::add(&self.w.stats.write_errors, 1);
        Counters::add(&self.w.stats.rotate_errors, 1);
        let f = &mut self.files[i];
        let wait = f
            .rotate_retry
            .map_or(ROTATE_RETRY_FIRST, |(_, d)| (d * 2).min(ROTATE_RETRY_MAX));
        f.rotate_retry = Some((Instant::now() + wait, wait));
        self.rotate_failures_unwarned += 1;
        if self
            .rotate_warned
            .is_none_or(|t| t.elapsed() >= ROTATE_WARN_EVERY)
        {
            tracing::warn!(target: "clawvisor::logs",
                "rotating {} failed: {e}; writing on past logs.max_size, next try in {} ({} failed rotations since the last warning)",
                f.path.display(), humantime::format_duration(wait), self.rotate_failures_unwarned);
            self.rotate_warned = Some(Instant::now());
            self.rotate_failures_unwarned = 0;
        }
    }
}
