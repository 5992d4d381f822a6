//! Counters shared by the pipeline's threads, read by `stats()` for `ctl status`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Default)]
pub struct Counters {
    pub lines_read: AtomicU64,
    pub bytes_read: AtomicU64,
    pub lines_written: AtomicU64,
    pub bytes_written: AtomicU64,
    pub lines_dropped: AtomicU64,
    pub bytes_dropped: AtomicU64,
    pub write_errors: AtomicU64,
    /// Rotations whose rename failed (also counted in `write_errors`).
    pub rotate_errors: AtomicU64,
    pub rotations: AtomicU64,
    pub files_compressed: AtomicU64,
    pub compress_backlog: AtomicU64,
    pub files_deleted: AtomicU64,
    pub pattern_matches: AtomicU64,
    pub pattern_suppressed: AtomicU64,
    pub pattern_skipped_lines: AtomicU64,
    pub tee_dropped_lines: AtomicU64,
    /// Batches accepted by the queue, and batches the writer has finished with.
    pub batches_queued: AtomicU64,
    pub batches_done: AtomicU64,
}

impl Counters {
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Relaxed);
    }

    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Relaxed)
    }

    pub fn to_json(&self) -> serde_json::Value {
        let g = Self::get;
        serde_json::json!({
            "lines_read": g(&self.lines_read),
            "bytes_read": g(&self.bytes_read),
            "lines_written": g(&self.lines_written),
            "bytes_written": g(&self.bytes_written),
            "lines_dropped": g(&self.lines_dropped),
            "bytes_dropped": g(&self.bytes_dropped),
            "write_errors": g(&self.write_errors),
            "rotate_errors": g(&self.rotate_errors),
            "rotations": g(&self.rotations),
            "files_compressed": g(&self.files_compressed),
            "compress_backlog": g(&self.compress_backlog),
            "files_deleted": g(&self.files_deleted),
            "pattern_matches": g(&self.pattern_matches),
            "pattern_suppressed": g(&self.pattern_suppressed),
            "pattern_skipped_lines": g(&self.pattern_skipped_lines),
            "tee_dropped_lines": g(&self.tee_dropped_lines),
        })
    }
}
