//! The bounded queue (by bytes) between the pipe readers and the one disk writer.
//!
//! While the writer makes progress a full queue makes the reader wait (and so the child,
//! once its pipe is full): a burst loses nothing. When the writer has failed (ENOSPC, EIO)
//! or has not taken a batch for `stall_timeout`, a reader that finds the queue full drops
//! its batch instead, so a broken disk never stalls the gateway.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::batch::Batch;

pub enum Pushed {
    Queued,
    /// Not queued; the reason, for the drop marker.
    Dropped(&'static str),
}

pub enum Popped {
    Batch(Arc<Batch>),
    /// Nothing arrived within the wait: a chance to rotate on time.
    Idle,
    Closed,
}

struct State {
    items: VecDeque<Arc<Batch>>,
    bytes: usize,
    /// False from a failed write until the next successful one.
    writer_ok: bool,
    /// When the writer last took a batch or finished a write.
    progress: Instant,
    closed: bool,
}

pub struct Queue {
    state: Mutex<State>,
    not_empty: Condvar,
    not_full: Condvar,
    cap: usize,
    stall: Duration,
}

impl Queue {
    pub fn new(cap: usize, stall: Duration) -> Arc<Queue> {
        Arc::new(Queue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                bytes: 0,
                writer_ok: true,
                progress: Instant::now(),
                closed: false,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            cap,
            stall,
        })
    }

    pub fn push(&self, b: Arc<Batch>) -> Pushed {
        let len = b.footprint();
        let mut s = self.state.lock().unwrap();
        loop {
            if s.items.is_empty() || s.bytes + len <= self.cap {
                s.bytes += len;
                s.items.push_back(b);
                drop(s);
                self.not_empty.notify_one();
                return Pushed::Queued;
            }
            if s.closed {
                return Pushed::Dropped("the log writer has stopped");
            }
            if !s.writer_ok {
                return Pushed::Dropped("writing failed");
            }
            let stalled_at = s.progress + self.stall;
            let now = Instant::now();
            if now >= stalled_at {
                return Pushed::Dropped("the disk made no progress for logs.stall_timeout");
            }
            s = self.not_full.wait_timeout(s, stalled_at - now).unwrap().0;
        }
    }

    /// The next batch, waiting at most `wait`.
    pub fn pop(&self, wait: Duration) -> Popped {
        let mut s = self.state.lock().unwrap();
        let deadline = Instant::now() + wait;
        loop {
            if let Some(b) = s.items.pop_front() {
                s.bytes -= b.footprint();
                s.progress = Instant::now();
                drop(s);
                self.not_full.notify_all();
                return Popped::Batch(b);
            }
            if s.closed {
                return Popped::Closed;
            }
            let now = Instant::now();
            if now >= deadline {
                return Popped::Idle;
            }
            s = self.not_empty.wait_timeout(s, deadline - now).unwrap().0;
        }
    }

    /// The writer reports how its last write went.
    pub fn report(&self, ok: bool) {
        let mut s = self.state.lock().unwrap();
        s.progress = Instant::now();
        s.writer_ok = ok;
        drop(s);
        self.not_full.notify_all();
    }

    /// Wakes the writer (a rotation was asked for, or a flush).
    pub fn poke(&self) {
        self.not_empty.notify_all();
    }

    /// No more batches will come once the queue is empty; the writer ends after draining.
    pub fn close(&self) {
        self.state.lock().unwrap().closed = true;
        self.not_empty.notify_all();
        self.not_full.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.state.lock().unwrap().closed
    }

    pub fn queued_bytes(&self) -> usize {
        self.state.lock().unwrap().bytes
    }
}
