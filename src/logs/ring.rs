//! The last N lines in memory, kept as the batches they came in (no per-line copy on the
//! capture path); lines are cut out only when someone asks (`ctl logs`, a pause record).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::batch::Batch;
use super::{LogLine, Stream};

pub struct Ring {
    inner: Mutex<(VecDeque<Arc<Batch>>, u64)>,
    cap: u64,
}

impl Ring {
    pub fn new(cap: u32) -> Ring {
        Ring {
            inner: Mutex::new((VecDeque::new(), 0)),
            cap: cap as u64,
        }
    }

    pub fn push(&self, b: Arc<Batch>) {
        if self.cap == 0 {
            return;
        }
        let mut g = self.inner.lock().unwrap();
        let (batches, lines) = &mut *g;
        *lines += b.lines;
        batches.push_back(b);
        while let Some(front) = batches.front() {
            if *lines - front.lines < self.cap {
                break;
            }
            *lines -= front.lines;
            batches.pop_front();
        }
    }

    /// The last `n` lines (of one stream, if given), oldest first.
    pub fn tail(&self, n: usize, stream: Option<Stream>) -> Vec<LogLine> {
        let n = n.min(self.cap as usize);
        let batches: Vec<Arc<Batch>> = self.inner.lock().unwrap().0.iter().cloned().collect();
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
