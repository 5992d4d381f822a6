//! [`GpuReader`]: every NVML call (nvmlInit included) on one dedicated thread, each awaited
//! with a timeout.
//!
//! A GPU that fell off the bus can leave NVML's ioctls asleep for ever. Such a call then
//! holds only this thread: callers get [`GpuError::Hung`] after their timeout, and later
//! callers get it at once while the call is still out (calls are never queued behind a hung
//! one). The runtime's workers, the blocking pool (which the runtime's shutdown waits for)
//! and the brain never run NVML.
//!
//! The source is opened on first use, not before the gateway starts. When opening fails it
//! is retried at most every [`OPEN_RETRY`], and at once after [`GpuReader::retry_now`]
//! (reload).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::gpu_source::{GpuError, GpuRead, GpuSource};

/// How often a source that failed to open is tried again.
pub const OPEN_RETRY: Duration = Duration::from_secs(60);

type Opener = Box<dyn FnMut() -> Result<Box<dyn GpuSource>, GpuError> + Send>;
type Reply = oneshot::Sender<Result<GpuRead, GpuError>>;

/// A handle on the NVML thread; cheap to clone. The thread ends when every handle is gone
/// (after its current call returns, if ever).
#[derive(Clone)]
pub struct GpuReader {
    jobs: SyncSender<Reply>,
    /// When the call now out began; `None` while the thread is idle.
    busy: Arc<Mutex<Option<Instant>>>,
    /// One caller at a time hands a job over; the others wait here (bounded by their timeout).
    turn: Arc<tokio::sync::Mutex<()>>,
    retry: Arc<AtomicBool>,
}

impl GpuReader {
    /// Starts the thread; `open` runs on it, at the first read.
    pub fn start(
        open: impl FnMut() -> Result<Box<dyn GpuSource>, GpuError> + Send + 'static,
    ) -> std::io::Result<GpuReader> {
        let (jobs, rx) = sync_channel(1);
        let busy = Arc::new(Mutex::new(None));
        let retry = Arc::new(AtomicBool::new(false));
        let (b, r) = (busy.clone(), retry.clone());
        std::thread::Builder::new()
            .name("clawvisor-nvml".into())
            .spawn(move || worker(rx, Box::new(open), b, r))?;
        Ok(GpuReader {
            jobs,
            busy,
            turn: Arc::new(tokio::sync::Mutex::new(())),
            retry,
        })
    }

    /// A reader over a source that is already open (tests, the JSON fake).
    pub fn with_source(source: Box<dyn GpuSource>) -> std::io::Result<GpuReader> {
        let mut source = Some(source);
        GpuReader::start(move || {
            source
                .take()
                .ok_or_else(|| GpuError::Failed("the GPU source is gone".into()))
        })
    }

    /// Try opening again at the next read if it failed before (a reload).
    pub fn retry_now(&self) {
        self.retry.store(true, Ordering::Relaxed);
    }

    /// How long the call now out has been running, if one is.
    pub fn stuck_for(&self) -> Option<Duration> {
        lock(&self.busy).map(|t| t.elapsed())
    }

    /// One reading, or why not within `limit`.
    pub async fn read(&self, limit: Duration) -> Result<GpuRead, GpuError> {
        let t0 = Instant::now();
        let hung = || GpuError::Hung(self.stuck_for().unwrap_or_else(|| t0.elapsed()));
        let Ok(_turn) = tokio::time::timeout(limit, self.turn.lock()).await else {
            return Err(hung());
        };
        if let Some(since) = *lock(&self.busy) {
            return Err(GpuError::Hung(since.elapsed()));
        }
        let (tx, rx) = oneshot::channel();
        *lock(&self.busy) = Some(Instant::now());
        if self.jobs.try_send(tx).is_err() {
            *lock(&self.busy) = None;
            return Err(GpuError::Failed("the NVML thread has stopped".into()));
        }
        let left = limit.saturating_sub(t0.elapsed());
        match tokio::time::timeout(left, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(GpuError::Failed("the NVML thread has stopped".into())),
            Err(_) => Err(hung()),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn worker(
    jobs: Receiver<Reply>,
    mut open: Opener,
    busy: Arc<Mutex<Option<Instant>>>,
    retry: Arc<AtomicBool>,
) {
    let mut source: Option<Box<dyn GpuSource>> = None;
    // The last failure to open, and when it was.
    let mut failed: Option<(Instant, GpuError)> = None;
    while let Ok(reply) = jobs.recv() {
        if source.is_none() {
            let due = match &failed {
                None => true,
                Some((at, _)) => retry.swap(false, Ordering::Relaxed) || at.elapsed() >= OPEN_RETRY,
            };
            if due {
                match open() {
                    Ok(s) => {
                        if let Some((_, e)) = failed.take() {
                            tracing::info!("GPU watching is on again (it failed with: {e})");
                        }
                        source = Some(s);
                    }
                    Err(e) => {
                        let said = failed.as_ref().is_some_and(|(_, old)| *old == e);
                        if !said {
                            match &e {
                                GpuError::Off(why) => tracing::info!("GPU watching is off: {why}"),
                                e => tracing::warn!(
                                    "cannot open NVML: {e}; trying again every {}s and on reload",
                                    OPEN_RETRY.as_secs()
                                ),
                            }
                        }
                        failed = Some((Instant::now(), e));
                    }
                }
            }
        }
        let result = match (&mut source, &failed) {
            (Some(s), _) => s.read(),
            (None, Some((_, e))) => Err(e.clone()),
            (None, None) => Err(GpuError::Failed("NVML is not open".into())),
        };
        *lock(&busy) = None;
        let _ = reply.send(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::gpu_source::GpuDevice;

    /// Each read sleeps the given milliseconds, then answers.
    type Script = Vec<(u64, Result<GpuRead, GpuError>)>;

    struct Scripted(Arc<Mutex<Script>>);

    impl GpuSource for Scripted {
        fn read(&mut self) -> Result<GpuRead, GpuError> {
            let (ms, r) = lock(&self.0).remove(0);
            std::thread::sleep(Duration::from_millis(ms));
            r
        }
    }

    fn reading() -> GpuRead {
        GpuRead {
            devices: vec![GpuDevice::default()],
            ..GpuRead::default()
        }
    }

    #[tokio::test]
    async fn a_hung_call_times_out_and_later_calls_fail_fast_until_it_returns() {
        let script = Arc::new(Mutex::new(vec![(1500, Ok(reading())), (0, Ok(reading()))]));
        let r = GpuReader::with_source(Box::new(Scripted(script))).unwrap();
        let t0 = Instant::now();
        let e = r.read(Duration::from_millis(200)).await.unwrap_err();
        assert!(matches!(e, GpuError::Hung(_)), "{e:?}");
        assert!(
            t0.elapsed() < Duration::from_millis(1200),
            "{:?}",
            t0.elapsed()
        );
        // Still out: answered at once, not queued.
        let t1 = Instant::now();
        let e = r.read(Duration::from_secs(5)).await.unwrap_err();
        assert!(
            matches!(e, GpuError::Hung(d) if d >= Duration::from_millis(200)),
            "{e:?}"
        );
        assert!(t1.elapsed() < Duration::from_millis(500));
        // Once it returns, reads work again.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(r.read(Duration::from_secs(5)).await, Ok(reading()));
    }

    #[tokio::test]
    async fn opening_is_retried_on_request_after_a_failure() {
        let tries = Arc::new(Mutex::new(0));
        let t = tries.clone();
        let r = GpuReader::start(move || {
            *lock(&t) += 1;
            if *lock(&t) == 1 {
                Err(GpuError::Failed("version mismatch".into()))
            } else {
                let s = Arc::new(Mutex::new(vec![(0, Ok(reading()))]));
                Ok(Box::new(Scripted(s)) as Box<dyn GpuSource>)
            }
        })
        .unwrap();
        let long = Duration::from_secs(5);
        assert_eq!(
            r.read(long).await,
            Err(GpuError::Failed("version mismatch".into()))
        );
        // Not due yet: the failure is answered without trying again.
        assert!(r.read(long).await.is_err());
        assert_eq!(*lock(&tries), 1);
        r.retry_now();
        assert_eq!(r.read(long).await, Ok(reading()));
        assert_eq!(*lock(&tries), 2);
    }
}
