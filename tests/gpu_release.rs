//! `gpu.release_timeout`: before a new child starts after a crash, the runner awaits
//! `Watchers::wait_gpu_released()`, which waits (bounded) until the old tree's GPU memory is
//! gone. Driven through the library with the fake GPU source.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clawvisor::config::{Config, Dur};
use clawvisor::health::StdRunner;
use clawvisor::runtime::Watchers;
use clawvisor::supervisor::{Event, Inbox, Input, Reaction};
use clawvisor::watch::gpu_fake::FakeGpuSource;

fn write_gpu(path: &Path, procs: &[(i32, u64)]) {
    let procs: Vec<String> = procs
        .iter()
        .map(|(pid, m)| format!(r#"{{"pid": {pid}, "memory_used": {m}}}"#))
        .collect();
    let text = format!(
        r#"{{"devices": [{{"index": 0, "utilization_percent": 5, "memory_total": 17179869184,
            "memory_used": 1073741824, "processes": [{}]}}]}}"#,
        procs.join(",")
    );
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn config(dir: &Path, release_timeout: u64) -> Config {
    let mut cfg = Config::default();
    cfg.logs.dir = dir.join("logs");
    cfg.state.dir = dir.join("state");
    cfg.memory.enabled = false;
    cfg.disk.enabled = false;
    cfg.gpu.interval = Dur::millis(50);
    cfg.gpu.release_timeout = Dur::secs(release_timeout);
    cfg
}

struct Sleeper(std::process::Child);

impl Sleeper {
    fn start() -> Sleeper {
        Sleeper(
            std::process::Command::new("sleep")
                .arg("120")
                .spawn()
                .unwrap(),
        )
    }
    fn pid(&self) -> i32 {
        self.0.id() as i32
    }
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts watchers on a child holding 1 GiB of VRAM and waits until they have seen it.
async fn watching_a_gpu_child(
    dir: &Path,
    release_timeout: u64,
) -> (
    Watchers,
    Sleeper,
    tokio::sync::watch::Sender<Option<i32>>,
    std::path::PathBuf,
) {
    let gpu = dir.join("gpu.json");
    let mut child = Sleeper::start();
    write_gpu(&gpu, &[(child.pid(), 1 << 30)]);
    let (inbox, _rx) = Inbox::channel();
    let (tx, rx) = tokio::sync::watch::channel(Some(child.pid()));
    let w = Watchers::start_with(
        &config(dir, release_timeout),
        inbox,
        rx,
        Arc::new(StdRunner),
        Some(Box::new(FakeGpuSource { path: gpu.clone() })),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let gpu_memory = |w: &Watchers| w.snapshot().get("gpu").map(|g| g["gateway_memory"].clone());
    while gpu_memory(&w) != Some(serde_json::json!(1u64 << 30)) {
        assert!(
            Instant::now() < deadline,
            "never saw the child's VRAM: {:?}",
            w.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The child crashes; the driver still lists its context for a while.
    child.kill();
    tx.send(None).unwrap();
    (w, child, tx, gpu)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_respawn_waits_until_the_old_trees_vram_is_released() {
    let d = tempfile::tempdir().unwrap();
    let (w, child, _tx, gpu) = watching_a_gpu_child(d.path(), 60).await;
    let old = child.pid();
    let released_at = Arc::new(std::sync::Mutex::new(None));
    let r = released_at.clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(800));
        *r.lock().unwrap() = Some(Instant::now());
        write_gpu(&gpu, &[(old + 1_000_000, 5)]);
    });
    w.wait_gpu_released().await;
    let done = Instant::now();
    writer.join().unwrap();
    let released = released_at
        .lock()
        .unwrap()
        .expect("the release was written");
    assert!(
        done >= released,
        "returned before the old tree's VRAM was released"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wait_is_bounded_by_release_timeout() {
    let d = tempfile::tempdir().unwrap();
    let (w, _child, _tx, _gpu) = watching_a_gpu_child(d.path(), 1).await;
    let t0 = Instant::now();
    tokio::time::timeout(Duration::from_secs(30), w.wait_gpu_released())
        .await
        .expect("the wait is bounded");
    assert!(
        t0.elapsed() >= Duration::from_secs(1),
        "gave up before the timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_gpu_the_wait_returns_at_once_and_thresholds_reach_the_brain() {
    let d = tempfile::tempdir().unwrap();
    let mut cfg = config(d.path(), 60);
    cfg.gpu.enabled = false;
    let (inbox, _rx) = Inbox::channel();
    let (_tx, rx) = tokio::sync::watch::channel(None);
    let w = Watchers::start_with(&cfg, inbox, rx, Arc::new(StdRunner), None);
    tokio::time::timeout(Duration::from_secs(5), w.wait_gpu_released())
        .await
        .expect("no GPU: no wait");
    assert_eq!(w.snapshot()["gpu"]["enabled"], false);

    // With the fake: a tree over gpu.restart_memory_above reaches the inbox as trouble.
    let gpu = d.path().join("gpu.json");
    let child = Sleeper::start();
    write_gpu(&gpu, &[(child.pid(), 3 << 30)]);
    let mut cfg = config(d.path(), 60);
    cfg.gpu.restart_memory_above = Some(clawvisor::config::Size::gib(2));
    cfg.gpu.held_for = Dur::millis(200);
    let (inbox, mut rx) = Inbox::channel();
    let (_tx, child_rx) = tokio::sync::watch::channel(Some(child.pid()));
    let _w = Watchers::start_with(
        &cfg,
        inbox,
        child_rx,
        Arc::new(StdRunner),
        Some(Box::new(FakeGpuSource { path: gpu })),
    );
    let got = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Some(Input::Event(Event::Trouble {
                source,
                reaction,
                reason,
            })) = rx.recv().await
            {
                return (source, reaction, reason);
            }
        }
    })
    .await
    .expect("a GPU verdict");
    assert_eq!(got.0, "gpu");
    assert_eq!(got.1, Reaction::Restart, "{}", got.2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_source_holds_neither_the_wait_nor_a_reload() {
    let d = tempfile::tempdir().unwrap();
    let (w, child, _tx, gpu) = watching_a_gpu_child(d.path(), 2).await;
    // The old pid is still listed, and the next read sleeps 30 s, as a hung driver call would.
    let text = format!(
        r#"{{"hang_ms": 30000, "devices": [{{"index": 0, "processes": [{{"pid": {}, "memory_used": 5}}]}}]}}"#,
        child.pid()
    );
    std::fs::write(&gpu, text).unwrap();
    let t0 = Instant::now();
    tokio::time::timeout(Duration::from_secs(20), w.wait_gpu_released())
        .await
        .expect("release_timeout holds while the source hangs");
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(1900), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    // A reload takes no lock the hung read holds.
    let t1 = Instant::now();
    w.reconfigure(&config(d.path(), 2));
    assert!(t1.elapsed() < Duration::from_secs(1), "{:?}", t1.elapsed());
    // The status says the reading is stale rather than repeating the last one.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let g = w.snapshot()["gpu"].clone();
        if g["stale"] == true {
            assert!(g["devices"].is_null(), "{g}");
            break;
        }
        assert!(Instant::now() < deadline, "never stale: {g}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
