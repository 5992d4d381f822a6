//! The last N lines in memory, kept as the batches they came in (no per-line copy on the
//! capture path); lines are cut out only when someone asks (`ctl logs`, a pause record).
//!
//! Bounded by lines (`ring_lines`) and by memory ([`RING_MAX_BYTES`] of batches, plus the
//! newest batch, which is always kept): with maximum-length lines a line bound alone would
//! hold `ring_lines × max_line` (62 MiB with the defaults).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::batch::Batch;
use super::{LogLine, Stream};

/// The most batch memory the ring holds besides its newest batch (at most 1 MiB).
pub const RING_MAX_BYTES: usize = 4 * 1024 * 1024;

struct Kept {
    batches: VecDeque<Arc<Batch>>,
    lines: u64,
    bytes: usize,
}

pub struct Ring {
    inner: Mutex<Kept>,
    cap: u64,
    max_bytes: usize,
}

impl Ring {
    pub fn new(cap: u32) -> Ring {
        Ring::with_max_bytes(cap, RING_MAX_BYTES)
    }

    pub fn with_max_bytes(cap: u32, max_bytes: usize) -> Ring {
        Ring {
            inner: Mutex::new(Kept {
                batches: VecDeque::new(),
                lines: 0,
                bytes: 0,
            }),
            cap: cap as u64,
            max_bytes,
        }
    }

    pub fn push(&self, b: Arc<Batch>) {
        if self.cap == 0 {
            return;
        }
        let mut k = self.inner.lock().unwrap();
        k.lines += b.lines;
        k.bytes += b.footprint();
        k.batches.push_back(b);
        while k.batches.len() > 1 {
            let front = &k.batches[0];
            let over_lines = k.lines - front.lines >= self.cap;
            let over_bytes =
                k.bytes > self.max_bytes + k.batches.back().map_or(0, |b| b.footprint());
            if !over_lines && !over_bytes {
                break;
            }
            let (l, b) = (front.lines, front.footprint());
            k.lines -= l;
            k.bytes -= b;
            k.batches.pop_front();
        }
    }

    /// The last `n` lines (of one stream, if given), oldest first.
    pub fn tail(&self, n: usize, stream: Option<Stream>) -> Vec<LogLine> {
        let n = n.min(self.cap as usize);
        let batches: Vec<Arc<Batch>> = self.inner.lock().unwrap().batches.iter().cloned().collect();
        let mut out = Vec::new();
        'outer: for b in batches.iter().rev() {
            if stream.is_some_and(|s| s != b.stream) {
                continue;
            }
            for line in b.lines().rev() {
                if out.len() >= n {
                    break 'outer;
                }
                out.push(LogLine {
                    stream: b.stream,
                    text: String::from_utf8_lossy(line).into_owned(),
                    at: b.at,
                });
            }
        }
        out.reverse();
        out
    }
}
