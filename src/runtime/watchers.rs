//! [`Watchers`]: starts the samplers and probes the config asks for, and answers the runner
//! (status parts, reload, the VRAM-release wait, `ctl probe quality`).

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::{Config, HttpProbeKind, QualityConfig};
use crate::health::quality::{answer_limit, load_tests};
use crate::health::tasks::{self, QualityRequest};
use crate::process::command_runner::CommandRunner;
use crate::supervisor::Inbox;
use crate::watch::gpu::GpuTracker;
use crate::watch::gpu_open::open_gpu_source;
use crate::watch::gpu_reader::GpuReader;
use crate::watch::gpu_source::GpuSource;
use crate::watch::gpu_task::{self, GpuState};
use crate::watch::samplers;
use crate::watch::shared::Shared;

pub struct Watchers {
    shared: Arc<Shared>,
    inner: Mutex<Running>,
}

struct Running {
    tasks: Vec<JoinHandle<()>>,
    /// The NVML thread and the tracker, while `gpu.enabled`. NVML itself is opened (and
    /// retried) on that thread by the GPU task, never here: a hung `nvmlInit` must not keep
    /// the gateway from starting.
    gpu: Option<GpuState>,
    /// A source handed in by a test, used when the GPU state is first made.
    gpu_source: Option<Box<dyn GpuSource>>,
    gpu_release_timeout: std::time::Duration,
    quality: Option<mpsc::UnboundedSender<QualityRequest>>,
    /// The `[quality]` the running quality task uses: bounds how long an answer may take.
    quality_cfg: QualityConfig,
}

impl Watchers {
    /// Starts every configured watcher and probe on the current tokio runtime. `child`
    /// carries the gateway's pid (None while it is down); a new pid is a new child. Exec
    /// probes run through `runner`: in clawvisor the process layer's `AuxRunner`, which
    /// cooperates with the one reaper.
    pub fn start_with_runner(
        cfg: &Config,
        inbox: Inbox,
        child: watch::Receiver<Option<i32>>,
        runner: Arc<dyn CommandRunner>,
    ) -> Watchers {
        Watchers::start_with(cfg, inbox, child, runner, None)
    }

    /// As [`Watchers::start_with_runner`], reading the GPU from `gpu` instead of NVML (tests).
    pub fn start_with(
        cfg: &Config,
        inbox: Inbox,
        child: watch::Receiver<Option<i32>>,
        runner: Arc<dyn CommandRunner>,
        gpu: Option<Box<dyn GpuSource>>,
    ) -> Watchers {
        let shared = Arc::new(Shared::new(
            inbox,
            child,
            cfg.probes.startup_timeout.get(),
            runner,
        ));
        let w = Watchers {
            shared,
            inner: Mutex::new(Running {
                tasks: Vec::new(),
                gpu: None,
                gpu_source: gpu,
                gpu_release_timeout: cfg.gpu.release_timeout.get(),
                quality: None,
                quality_cfg: cfg.quality.clone(),
            }),
        };
        w.spawn_all(cfg);
        w
    }

    /// Whether a probe decides when a new gateway is ready; otherwise it is ready once it runs.
    pub fn gates_readiness(&self) -> bool {
        self.shared.gates_readiness()
    }

    /// The shared readings (GPU, memory, ...): scheduled jobs read their GPU gate here and
    /// publish their own part.
    pub fn readings(&self) -> crate::watch::readings::Readings {
        self.shared.readings.clone()
    }

    /// The latest reading of every watcher and probe, each with its age, for `Status.parts`.
    pub fn snapshot(&self) -> Map<String, Value> {
        self.shared.readings.snapshot()
    }

    /// Applies a reloaded config: every task restarts with the new settings (probe failure
    /// counts start again; the startup grace of the running child is kept).
    pub fn reconfigure(&self, cfg: &Config) {
        self.shared
            .set_startup_timeout(cfg.probes.startup_timeout.get());
        self.spawn_all(cfg);
    }

    /// Resolves once the old gateway tree's GPU memory is released, or after
    /// `gpu.release_timeout`; at once when GPU watching is off. Await it before respawning
    /// after a crash.
    pub fn wait_gpu_released(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let (gpu, timeout) = {
            let r = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            (r.gpu.clone(), r.gpu_release_timeout)
        };
        async move {
            match gpu {
                Some(gpu) if !timeout.is_zero() => gpu_task::wait_released(gpu, timeout).await,
                _ => {}
            }
        }
    }

    /// Runs the quality tests now (`ctl probe quality`); resolves to the report, or to why
    /// not. Always resolves, within [`answer_limit`]: a control client waiting on it holds a
    /// slot of `[control] max_clients`.
    pub fn run_quality_now(
        &self,
    ) -> impl std::future::Future<Output = Result<Value, String>> + Send + 'static {
        let (tx, cfg) = {
            let r = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            (r.quality.clone(), r.quality_cfg.clone())
        };
        async move {
            let tx = tx.ok_or("quality testing is off: set quality.tests in the config")?;
            // Counted off the runtime's threads; a file that does not load fails fast anyway.
            let path = cfg.tests.clone().unwrap_or_default();
            let tests =
                tokio::task::spawn_blocking(move || load_tests(&path).map_or(1, |t| t.len()))
                    .await
                    .unwrap_or(1);
            let limit = answer_limit(cfg.timeout.get(), tests);
            let (reply, answer) = oneshot::channel();
            tx.send(reply)
                .map_err(|_| "the quality task has stopped".to_string())?;
            match tokio::time::timeout(limit, answer).await {
                Ok(Ok(report)) => report,
                Ok(Err(_)) => Err("the quality run was abandoned (reload?)".to_string()),
                Err(_) => Err(format!(
                    "the quality run did not finish within {} ({tests} tests of quality.timeout {})",
                    humantime::format_duration(limit),
                    cfg.timeout
                )),
            }
        }
    }

    /// Stops every task (on shutdown; also done on drop).
    pub fn stop(&self) {
        let mut r = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for t in r.tasks.drain(..) {
            t.abort();
        }
    }

    fn spawn_all(&self, cfg: &Config) {
        let mut r = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for t in r.tasks.drain(..) {
            t.abort();
        }
        let sh = &self.shared;
        let mut spawn = |f: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>| {
            r.tasks.push(tokio::spawn(f));
        };
        if cfg.memory.enabled {
            spawn(Box::pin(samplers::memory_task(
                sh.clone(),
                cfg.memory.clone(),
            )));
        }
        if cfg.disk.enabled {
            spawn(Box::pin(samplers::disk_task(
                sh.clone(),
                cfg.disk.clone(),
                cfg.logs.dir.clone(),
                cfg.state.dir.clone(),
            )));
        }
        let p = &cfg.probes;
        let has_life_probe = p.startup.is_some()
            || p.liveness.is_some()
            || p.readiness.is_some()
            || p.completion.is_some();
        sh.set_life_probes(has_life_probe);
        sh.set_ready_probe(p.readiness.is_some());
        if has_life_probe {
            spawn(Box::pin(tasks::startup_gate_task(sh.clone())));
        }
        let gated = p.startup.is_some();
        let http = [
            (HttpProbeKind::Startup, &p.startup),
            (HttpProbeKind::Liveness, &p.liveness),
            (HttpProbeKind::Readiness, &p.readiness),
        ];
        for (kind, probe) in http {
            if let Some(c) = probe {
                let gated = gated && kind != HttpProbeKind::Startup;
                spawn(Box::pin(tasks::http_probe_task(
                    sh.clone(),
                    kind,
                    c.clone(),
                    gated,
                    p.startup_period.get(),
                )));
            }
        }
        if let Some(c) = &p.completion {
            let gated = p.startup.is_some() || p.liveness.is_some() || p.readiness.is_some();
            spawn(Box::pin(tasks::completion_task(
                sh.clone(),
                c.clone(),
                gated,
                p.startup_period.get(),
            )));
        }
        for e in &p.exec {
            spawn(Box::pin(tasks::exec_probe_task(
                sh.clone(),
                e.clone(),
                p.startup_period.get(),
            )));
        }
        let quality = if cfg.quality.tests.is_some() {
            let (tx, rx) = mpsc::unbounded_channel();
            let completion = p.completion.clone().unwrap_or_default();
            spawn(Box::pin(tasks::quality_task(
                sh.clone(),
                cfg.quality.clone(),
                completion,
                rx,
            )));
            Some(tx)
        } else {
            sh.readings.publish("quality", json!({"enabled": false}));
            None
        };
        r.quality = quality;
        r.quality_cfg = cfg.quality.clone();
        r.gpu_release_timeout = cfg.gpu.release_timeout.get();
        self.start_gpu(&mut r, cfg);
    }

    fn start_gpu(&self, r: &mut Running, cfg: &Config) {
        if !cfg.gpu.enabled {
            // Dropping the state ends the NVML thread (and closes NVML).
            r.gpu = None;
            self.shared.readings.publish(
                "gpu",
                json!({"enabled": false, "why": "gpu.enabled = false"}),
            );
            return;
        }
        match &r.gpu {
            Some(gpu) => {
                // A reload: try NVML again if it failed, keep what must still be released.
                gpu.reader.retry_now();
                let mut tracker = GpuTracker::new(&cfg.gpu);
                tracker.remember(&gpu.tracker());
                *gpu.tracker() = tracker;
            }
            None => {
                let reader = match r.gpu_source.take() {
                    Some(source) => GpuReader::with_source(source),
                    None => GpuReader::start(open_gpu_source),
                };
                match reader {
                    Ok(reader) => {
                        r.gpu = Some(GpuState {
                            reader,
                            tracker: Arc::new(Mutex::new(GpuTracker::new(&cfg.gpu))),
                        })
                    }
                    Err(e) => {
                        tracing::warn!("GPU watching is off: cannot start the NVML thread: {e}");
                        self.shared.readings.publish(
                            "gpu",
                            json!({"enabled": true, "error": format!("cannot start the NVML thread: {e}")}),
                        );
                    }
                }
            }
        }
        if let Some(gpu) = &r.gpu {
            let task = gpu_task::gpu_task(self.shared.clone(), cfg.gpu.clone(), gpu.clone());
            r.tasks.push(tokio::spawn(task));
        }
    }
}

impl Drop for Watchers {
    fn drop(&mut self) {
        self.stop();
    }
}
