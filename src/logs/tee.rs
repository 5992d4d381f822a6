//! `tee`: a copy of the child's lines on clawvisor's own stdout/stderr. Lossy on purpose:
//! a blocked terminal or journald fills this small queue, and then lines are skipped
//! (counted) rather than slowing the capture.

use std::io::Write;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use super::Stream;
use super::batch::Batch;
use super::stats::Counters;

/// Batches waiting for the terminal (each up to about 1 MiB).
const TEE_QUEUE: usize = 4;

pub fn start(stats: Arc<Counters>) -> SyncSender<Arc<Batch>> {
    let (tx, rx) = sync_channel(TEE_QUEUE);
    std::thread::Builder::new()
        .name("log-tee".into())
        .spawn(move || run(rx))
        .expect("spawn log tee thread");
    let _ = stats;
    tx
}

/// Hands a batch to the tee without waiting.
pub fn offer(tx: &SyncSender<Arc<Batch>>, b: &Arc<Batch>, stats: &Counters) {
    if let Err(TrySendError::Full(_)) = tx.try_send(b.clone()) {
        Counters::add(&stats.tee_dropped_lines, b.lines);
    }
}

fn run(rx: Receiver<Arc<Batch>>) {
    while let Ok(b) = rx.recv() {
        let _ = match b.stream {
            Stream::Out => std::io::stdout().lock().write_all(&b.data),
            Stream::Err => std::io::stderr().lock().write_all(&b.data),
        };
    }
}
