//! `ctl status` round-trip latency over the control socket, with 1 and 100 concurrent
//! clients, against a running clawvisor (see scripts/bench_control.sh, which starts one).
//!
//! Each request is what `clawvisor ctl status` does minus process start-up: connect, send
//! the framed request, read the framed answer (a full Status with log stats). The baseline,
//! measured in the same run with the same clients, is a bare Unix-socket server that answers
//! every frame with a canned frame of the same size from a thread per connection: the cost
//! of the socket itself. The ratio is clawvisor's overhead over that floor.
//!
//! Usage: control_latency SOCKET [REQUESTS_PER_CLIENT]

use std::io::Write;
use std::os::unix::net::UnixStream;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

use clawvisor::control::client::request;
use clawvisor::control::frame::{frame, read_frame, read_frame_blocking};
use clawvisor::control::protocol::{Request, Response, encode_request};

const TIMEOUT: Duration = Duration::from_secs(60);

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let Some(sock) = args.next().map(PathBuf::from) else {
        eprintln!(
            "usage: control_latency SOCKET [REQUESTS_PER_CLIENT] (scripts/bench_control.sh runs it)"
        );
        std::process::exit(2);
    };
    let per_client: usize = args.next().map_or(200, |n| n.parse().expect("a number"));

    // The canned answer for the baseline: a real status answer, so both move the same bytes.
    let answer = match request(&sock, &Request::Status, TIMEOUT) {
        Ok(r @ Response::Status { .. }) => serde_json::to_vec(&r).unwrap(),
        other => panic!(
            "clawvisor at {} did not answer status: {other:?}",
            sock.display()
        ),
    };
    let dir = tempfile::tempdir().unwrap();
    let echo = dir.path().join("baseline.sock");
    start_baseline(&echo, answer.clone());

    println!(
        "control status round trip, fresh connection per request, {} bytes answered",
        answer.len()
    );
    println!(
        "{:>8} {:>9} {:>12} {:>12} {:>12} {:>12} {:>8} {:>8}",
        "clients", "requests", "p50", "p99", "base p50", "base p99", "p50 x", "p99 x"
    );
    for clients in [1, 100] {
        // Warm up both (page cache, allocator), then measure.
        run(clients, 5, || status_once(&sock));
        run(clients, 5, || baseline_once(&echo));
        // One client gets as many requests as a tenth of the crowd, so its p99 is not noise.
        let n = if clients == 1 {
            per_client * 10
        } else {
            per_client
        };
        let (ours, wall) = run(clients, n, || status_once(&sock));
        let (base, _) = run(clients, n, || baseline_once(&echo));
        let (p50, p99) = (pct(&ours, 50.0), pct(&ours, 99.0));
        let (b50, b99) = (pct(&base, 50.0), pct(&base, 99.0));
        println!(
            "{clients:>8} {:>9} {:>12} {:>12} {:>12} {:>12} {:>8.1} {:>8.1}",
            ours.len(),
            us(p50),
            us(p99),
            us(b50),
            us(b99),
            p50.as_secs_f64() / b50.as_secs_f64(),
            p99.as_secs_f64() / b99.as_secs_f64(),
        );
        println!(
            "{:>8} throughput {:.0} status/s",
            "",
            ours.len() as f64 / wall.as_secs_f64()
        );
    }
}

fn status_once(sock: &Path) {
    match request(sock, &Request::Status, TIMEOUT) {
        Ok(Response::Status { .. }) => {}
        other => panic!("status failed: {other:?}"),
    }
}

fn baseline_once(sock: &Path) {
    let mut c = UnixStream::connect(sock).unwrap();
    c.write_all(&frame(&encode_request(&Request::Status)))
        .unwrap();
    let body = read_frame_blocking(&mut c).unwrap().unwrap();
    assert!(!body.is_empty());
}

/// The floor: a tokio server shaped like clawvisor's (2 workers, a task per connection,
/// length-prefixed frames) that answers every frame with `answer` without parsing it and
/// without asking a supervisor.
fn start_baseline(path: &Path, answer: Vec<u8>) {
    let std_listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let reply = Arc::new(frame(&answer));
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::UnixListener::from_std(std_listener).unwrap();
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    continue;
                };
                let reply = reply.clone();
                tokio::spawn(async move {
                    while let Ok(Some(_)) = read_frame(&mut conn).await {
                        if conn.write_all(&reply).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
    });
}

/// `clients` threads, each doing `per_client` calls back to back; every call's latency.
fn run(clients: usize, per_client: usize, call: impl Fn() + Sync) -> (Vec<Duration>, Duration) {
    let barrier = Barrier::new(clients);
    let t0 = Instant::now();
    let mut all: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    (0..per_client)
                        .map(|_| {
                            let t = Instant::now();
                            call();
                            t.elapsed()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let wall = t0.elapsed();
    all.sort();
    (all, wall)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i]
}

fn us(d: Duration) -> String {
    format!("{:.0}µs", d.as_secs_f64() * 1e6)
}
