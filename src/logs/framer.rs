//! Line framing: split on `\n`, cap line length, add the optional prefix.
//!
//! The fast path (no prefix, no over-long line) hands the reader's buffer on unchanged;
//! only lines that need a prefix or a cut are copied.

use std::time::SystemTime;

use super::Stream;
use super::stamp::{STAMP_LEN, StampCache};

/// Ends every piece of an over-long line except the last.
pub const CONTINUED: &[u8] = b" [continued]";

pub struct Framer {
    stream: Stream,
    max_line: usize,
    timestamps: bool,
    stream_prefix: bool,
    stamps: StampCache,
}

impl Framer {
    pub fn new(stream: Stream, max_line: usize, timestamps: bool, stream_prefix: bool) -> Framer {
        Framer {
            stream,
            max_line: max_line.max(1),
            timestamps,
            stream_prefix,
            stamps: StampCache::default(),
        }
    }

    pub fn max_line(&self) -> usize {
        self.max_line
    }

    pub fn prefix_len(&self) -> usize {
        let mut n = 0;
        if self.timestamps {
            n += STAMP_LEN + 1;
        }
        if self.stream_prefix {
            n += 4;
        }
        n
    }

    /// Counts the lines of `complete` (whole lines, ending in `\n`) and says whether they
    /// can be written as they are (no prefix to add, no line to cut).
    pub fn scan(&self, complete: &[u8]) -> (u64, bool) {
        let mut lines = 0u64;
        let mut start = 0usize;
        let mut fits = true;
        for nl in memchr::memchr_iter(b'\n', complete) {
            lines += 1;
            if nl - start > self.max_line {
                fits = false;
            }
            start = nl + 1;
        }
        (lines, fits && self.prefix_len() == 0)
    }

    fn prefix(&mut self, at: SystemTime, out: &mut Vec<u8>) {
        if self.timestamps {
            out.extend_from_slice(&self.stamps.format(at));
            out.push(b' ');
        }
        if self.stream_prefix {
            out.extend_from_slice(self.stream.name().as_bytes());
            out.push(b' ');
        }
    }

    /// Appends one line (without its `\n`) to `out`, cut into pieces of `max_line`, each
    /// with the prefix; returns how many lines that made.
    pub fn push_line(&mut self, line: &[u8], at: SystemTime, out: &mut Vec<u8>) -> u64 {
        if line.len() <= self.max_line {
            self.prefix(at, out);
            out.extend_from_slice(line);
            out.push(b'\n');
            return 1;
        }
        let mut n = 0;
        let mut pieces = line.chunks(self.max_line).peekable();
        while let Some(piece) = pieces.next() {
            self.prefix(at, out);
            out.extend_from_slice(piece);
            if pieces.peek().is_some() {
                out.extend_from_slice(CONTINUED);
            }
            out.push(b'\n');
            n += 1;
        }
        n
    }

    /// Appends the pieces of the start of an unfinished line that is already longer than
    /// `max_line`; returns (lines made, bytes of `partial` consumed). At least one byte is
    /// left, so the line's last piece (without the marker) comes with its `\n`.
    pub fn push_overflow(
        &mut self,
        partial: &[u8],
        at: SystemTime,
        out: &mut Vec<u8>,
    ) -> (u64, usize) {
        let mut used = 0;
        let mut n = 0;
        while partial.len() - used > self.max_line {
            self.prefix(at, out);
            out.extend_from_slice(&partial[used..used + self.max_line]);
            out.extend_from_slice(CONTINUED);
            out.push(b'\n');
            used += self.max_line;
            n += 1;
        }
        (n, used)
    }

    /// Frames whole lines (`complete` ends in `\n`) into `out`; returns the line count.
    pub fn push_lines(&mut self, complete: &[u8], at: SystemTime, out: &mut Vec<u8>) -> u64 {
        let body = complete.strip_suffix(b"\n").unwrap_or(complete);
        let mut n = 0;
        for line in body.split(|b| *b == b'\n') {
            n += self.push_line(line, at, out);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_with_a_marker_on_all_but_the_last_piece() {
        let mut f = Framer::new(Stream::Out, 4, false, false);
        let mut out = Vec::new();
        let n = f.push_lines(b"abcdefghij\nxy\nabcd\n", SystemTime::now(), &mut out);
        assert_eq!(n, 5);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "abcd [continued]\nefgh [continued]\nij\nxy\nabcd\n"
        );
    }

    #[test]
    fn scan_counts_lines_and_spots_the_need_to_copy() {
        let f = Framer::new(Stream::Out, 4, false, false);
        assert_eq!(f.scan(b"ab\ncd\n"), (2, true));
        assert_eq!(f.scan(b"ab\ncdefg\n"), (2, false));
        let g = Framer::new(Stream::Err, 4, true, true);
        assert_eq!(g.scan(b"ab\n"), (1, false));
    }

    #[test]
    fn prefix_has_timestamp_and_stream() {
        let mut f = Framer::new(Stream::Err, 100, true, true);
        let mut out = Vec::new();
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_500);
        f.push_lines(b"hi\n", at, &mut out);
        assert_eq!(out, b"1970-01-01T00:00:01.500Z err hi\n");
        assert_eq!(f.prefix_len(), 29);
    }
}
