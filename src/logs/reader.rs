//! A pipe reader: one thread per stream that always drains the pipe in big reads, frames
//! the bytes into whole lines and hands each read's lines on as one batch.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use super::Core;
use super::Stream;
use super::batch::{Batch, BufferPool};
use super::framer::Framer;

/// Bytes asked for per read(), and the pipe's capacity we ask the kernel for: fewer,
/// bigger reads are most of why one write per batch beats one write per line.
const READ_SIZE: usize = 1 << 20;
/// A complete run of lines at least this big is handed on in the read buffer itself
/// instead of being copied out of it.
const HAND_OVER: usize = 256 * 1024;
/// Spare read buffers kept warm (per pipeline).
const POOL_KEEP: usize = 6;

pub fn pool() -> std::sync::Arc<BufferPool> {
    BufferPool::new(READ_SIZE, POOL_KEEP)
}

pub fn run(core: Arc<Core>, stream: Stream, pipe: File) {
    // SAFETY: fcntl on a pipe fd we own; failure (not a pipe, over the limit) is harmless.
    unsafe {
        libc::fcntl(
            pipe.as_raw_fd(),
            libc::F_SETPIPE_SZ,
            READ_SIZE as libc::c_int,
        );
    }
    let cfg = &core.cfg;
    let merged = cfg.layout == crate::config::LogLayout::Merged;
    let mut framer = Framer::new(
        stream,
        cfg.max_line.bytes() as usize,
        cfg.timestamps,
        cfg.stream_prefix || merged,
    );
    let mut buf: Vec<u8> = core.pool.get();
    loop {
        if buf.capacity() - buf.len() < HAND_OVER {
            // A long unfinished line: grow (this buffer then no longer goes to the pool).
            buf.reserve(READ_SIZE);
        }
        let spare = buf.spare_capacity_mut();
        // SAFETY: reads into the Vec's spare capacity; only the bytes read are exposed.
        let n = unsafe { libc::read(pipe.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        if n == 0 {
            break;
        }
        let old = buf.len();
        // SAFETY: the kernel wrote `n` bytes after `old`.
        unsafe { buf.set_len(old + n as usize) };
        let at = core.clock.now();
        if let Some(p) = memchr::memrchr(b'\n', &buf[old..]) {
            let end = old + p + 1;
            let (lines, as_is) = framer.scan(&buf[..end]);
            let data = if as_is && end >= HAND_OVER {
                let rest = buf[end..].to_vec();
                buf.truncate(end);
                let data = std::mem::replace(&mut buf, core.pool.get());
                buf.extend_from_slice(&rest);
                emit_pooled(&core, stream, data, lines, at);
                continue;
            } else if as_is {
                buf[..end].to_vec()
            } else {
                let mut out = Vec::with_capacity(end + lines as usize * framer.prefix_len() + 64);
                let n = framer.push_lines(&buf[..end], at, &mut out);
                buf.drain(..end);
                emit(&core, stream, out, n, framer.prefix_len(), at);
                overflow(&core, stream, &mut framer, &mut buf, at);
                continue;
            };
            buf.drain(..end);
            emit(&core, stream, data, lines, 0, at);
        }
        overflow(&core, stream, &mut framer, &mut buf, at);
    }
    // End of file: a last line without `\n` is kept (with one added).
    if !buf.is_empty() {
        let at = core.clock.now();
        let mut out = Vec::with_capacity(buf.len() + 64);
        let n = framer.push_line(&buf, at, &mut out);
        emit(&core, stream, out, n, framer.prefix_len(), at);
    }
}

/// Cuts an unfinished line that is already longer than `max_line`.
fn overflow(
    core: &Arc<Core>,
    stream: Stream,
    framer: &mut Framer,
    buf: &mut Vec<u8>,
    at: std::time::SystemTime,
) {
    if buf.len() <= framer.max_line() {
        return;
    }
    let mut out = Vec::new();
    let (n, used) = framer.push_overflow(buf, at, &mut out);
    buf.drain(..used);
    emit(core, stream, out, n, framer.prefix_len(), at);
}

fn emit(
    core: &Arc<Core>,
    stream: Stream,
    data: Vec<u8>,
    lines: u64,
    prefix_len: usize,
    at: std::time::SystemTime,
) {
    if data.is_empty() {
        return;
    }
    let b = Arc::new(Batch {
        stream,
        data,
        lines,
        prefix_len,
        at,
        pool: None,
    });
    core.accept(b);
}

/// A read buffer handed on as it is; it returns to the pool when every user is done.
fn emit_pooled(
    core: &Arc<Core>,
    stream: Stream,
    data: Vec<u8>,
    lines: u64,
    at: std::time::SystemTime,
) {
    let b = Arc::new(Batch {
        stream,
        data,
        lines,
        prefix_len: 0,
        at,
        pool: Some(core.pool.clone()),
    });
    core.accept(b);
}
