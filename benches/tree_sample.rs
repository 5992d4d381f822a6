//! Cost of one memory sample of the gateway's process tree, for a tree of 1 and of ~1000
//! processes, against a baseline measured in the same run: sysinfo refreshing every
//! process's memory (what "use sysinfo" would cost per sample).
//!
//! Run with `scripts/bench_tree.sh` (or `cargo bench --bench tree_sample`).

use std::collections::HashSet;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clawvisor::watch::tree_sample::TreeSampler;
use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};

fn per_call(iters: u32, mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    let t0 = Instant::now();
    for _ in 0..iters {
        f();
    }
    t0.elapsed() / iters
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn bench_tree(label: &str, root: i32, expect: usize, iters: u32) {
    let me = std::process::id() as i32;
    let none = HashSet::new();
    let mut rss_only = TreeSampler::new(false);
    let mut with_pss = TreeSampler::new(true);
    // Wait until the whole tree exists.
    let deadline = Instant::now() + Duration::from_secs(120);
    while rss_only.sample(root, me, &none).processes < expect && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let n = rss_only.sample(root, me, &none).processes;
    let mut sys = System::new().expect("sysinfo supports this platform");
    let baseline = per_call(iters, || {
        sys.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing().with_memory(),
        );
    });
    let rss = per_call(iters, || {
        rss_only.sample(root, me, &none);
    });
    let pss = per_call(iters, || {
        with_pss.sample(root, me, &none);
    });
    let on_machine = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|s| s.parse::<u32>().is_ok())
                })
                .count()
        })
        .unwrap_or(0);
    println!(
        "{label}: tree of {n} ({on_machine} processes on the machine), {iters} samples each\n  \
         baseline sysinfo refresh (all processes, memory): {:>9.1} µs\n  \
         TreeSampler RSS only:                            {:>9.1} µs  ({:.2}x baseline)\n  \
         TreeSampler RSS + PSS (default):                 {:>9.1} µs  ({:.2}x baseline)",
        us(baseline),
        us(rss),
        us(rss) / us(baseline),
        us(pss),
        us(pss) / us(baseline),
    );
}

fn main() {
    // A tree of one process.
    let mut one = Command::new("sleep").arg("600").spawn().unwrap();
    bench_tree("tree of 1", one.id() as i32, 1, 200);
    let _ = one.kill();
    let _ = one.wait();

    // A tree of ~1000: a shell with 999 sleeping children, in its own process group.
    let mut big = Command::new("sh")
        .args([
            "-c",
            "i=0; while [ $i -lt 999 ]; do sleep 600 & i=$((i+1)); done; wait",
        ])
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = big.id() as i32;
    bench_tree("tree of ~1000", pgid, 1000, 20);
    // SAFETY: kill(2) on our own process group.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    let _ = big.wait();
}
