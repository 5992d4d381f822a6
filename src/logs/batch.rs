//! A batch: whole lines read from one stream in one go, handed from a reader to the writer,
//! the pattern matcher, the tee and the ring buffer (shared, never copied).

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::Stream;

/// Read buffers handed on as batches come back here when the batch is dropped, so a
/// burst reuses a few warm buffers instead of allocating (and page-faulting) new ones.
pub struct BufferPool {
    free: Mutex<Vec<Vec<u8>>>,
    size: usize,
    keep: usize,
}

impl BufferPool {
    pub fn new(size: usize, keep: usize) -> Arc<BufferPool> {
        Arc::new(BufferPool {
            free: Mutex::new(Vec::new()),
            size,
            keep,
        })
    }

    /// An empty buffer with capacity for one read.
    pub fn get(&self) -> Vec<u8> {
        self.free
            .lock()
            .unwrap()
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.size))
    }

    fn put(&self, mut v: Vec<u8>) {
        if v.capacity() != self.size {
            return;
        }
        let mut free = self.free.lock().unwrap();
        if free.len() < self.keep {
            v.clear();
            free.push(v);
        }
    }
}

pub struct Batch {
    pub stream: Stream,
    /// Whole lines, each ending in `\n`, each starting with `prefix_len` bytes of prefix
    /// (timestamp, stream tag) that clawvisor added.
    pub data: Vec<u8>,
    pub lines: u64,
    pub prefix_len: usize,
    /// When the reader got these bytes.
    pub at: SystemTime,
    /// Where `data` goes back when this batch is done with (read buffers only).
    pub pool: Option<Arc<BufferPool>>,
}

impl Drop for Batch {
    fn drop(&mut self) {
        if let Some(p) = self.pool.take() {
            p.put(std::mem::take(&mut self.data));
        }
    }
}

impl Batch {
    /// Memory the batch holds, which is what the queue bounds.
    pub fn footprint(&self) -> usize {
        self.data.capacity()
    }

    /// The lines without their `\n` and without clawvisor's prefix.
    pub fn lines(&self) -> impl DoubleEndedIterator<Item = &[u8]> {
        let body = self.data.strip_suffix(b"\n").unwrap_or(&self.data);
        let p = self.prefix_len;
        body.split(|b| *b == b'\n')
            .filter(move |_| !self.data.is_empty())
            .map(move |l| l.get(p..).unwrap_or(l))
    }
}
