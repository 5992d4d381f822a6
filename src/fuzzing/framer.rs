//! The log framer: whatever bytes arrive, in whatever chunks, every byte comes out once, in
//! order, in lines no longer than `max_line` (plus prefix and the continuation marker).

use std::time::{Duration, SystemTime};

use crate::logs::{CONTINUED, Framer, Stream};

pub fn check(data: &[u8]) {
    let [shape, chunking, rest @ ..] = data else {
        return;
    };
    let max_line = 1 + (*shape as usize % 48);
    let timestamps = shape & 0x40 != 0;
    let prefix = shape & 0x80 != 0;
    let mut framer = Framer::new(Stream::Err, max_line, timestamps, prefix);
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);

    // Feed it as the reader does: chunks of 1..=32 bytes, whole lines framed, an unfinished
    // line longer than max_line cut early, the last unterminated line kept at the end.
    let step = 1 + (*chunking as usize % 32);
    let (mut buf, mut out, mut lines) = (Vec::new(), Vec::new(), 0u64);
    for chunk in rest.chunks(step) {
        buf.extend_from_slice(chunk);
        if let Some(p) = memchr::memrchr(b'\n', &buf) {
            let end = p + 1;
            let (counted, _) = framer.scan(&buf[..end]);
            assert_eq!(
                counted,
                buf[..end].iter().filter(|b| **b == b'\n').count() as u64
            );
            lines += framer.push_lines(&buf[..end], at, &mut out);
            buf.drain(..end);
        }
        if buf.len() > framer.max_line() {
            let (n, used) = framer.push_overflow(&buf, at, &mut out);
            assert!(
                used < buf.len(),
                "an overflow must leave the line's last byte"
            );
            lines += n;
            buf.drain(..used);
        }
    }
    if !buf.is_empty() {
        lines += framer.push_line(&buf, at, &mut out);
    }

    // Read it back: strip prefixes and markers, and get the input (with a final `\n`).
    let plen = framer.prefix_len();
    let mut back = Vec::with_capacity(rest.len() + 1);
    let mut seen = 0u64;
    let body = out.strip_suffix(b"\n").unwrap_or(&out);
    if !out.is_empty() {
        for line in body.split(|b| *b == b'\n') {
            seen += 1;
            assert!(line.len() >= plen, "a line shorter than its prefix");
            let content = &line[plen..];
            if content.len() > max_line {
                assert!(
                    content.len() == max_line + CONTINUED.len() && content.ends_with(CONTINUED),
                    "a line of {} bytes over max_line {max_line}",
                    content.len()
                );
                back.extend_from_slice(&content[..max_line]);
            } else {
                back.extend_from_slice(content);
                back.push(b'\n');
            }
        }
    }
    assert_eq!(seen, lines, "the line count differs from the lines written");
    let mut want = rest.to_vec();
    if !want.is_empty() && !want.ends_with(b"\n") {
        want.push(b'\n');
    }
    assert!(
        back == want,
        "the framed output does not read back as the input"
    );
}
