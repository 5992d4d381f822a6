//! A batch: whole lines read from one stream in one go, handed from a reader to the writer,
//! the pattern matcher, the tee and the ring buffer (shared, never copied).

use std::time::SystemTime;

use super::Stream;

pub struct Batch {
    pub stream: Stream,
    /// Whole lines, each ending in `\n`, each starting with `prefix_len` bytes of prefix
    /// (timestamp, stream tag) that clawvisor added.
    pub data: Vec<u8>,
    pub lines: u64,
    pub prefix_len: usize,
    /// When the reader got these bytes.
    pub at: SystemTime,
}

impl Batch {
    /// The lines without their `\n` and without clawvisor's prefix.
    pub fn lines(&self) -> impl DoubleEndedIterator<Item = &[u8]> {
        let body = self.data.strip_suffix(b"\n").unwrap_or(&self.data);
        let p = self.prefix_len;
        body.split(|b| *b == b'\n')
            .filter(move |_| !self.data.is_empty())
            .map(move |l| l.get(p..).unwrap_or(l))
    }
}
