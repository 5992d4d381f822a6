//! The runner against a recording fake of the process operations: what it does to
//! processes, in which order, without forking anything (the shape of watchexec's test child).

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clawvisor::config::Config;
use clawvisor::health::StdRunner;
use clawvisor::process::ops::{ProcessOps, Spawning};
use clawvisor::process::spawn::{ChildSpec, SpawnedChild};
use clawvisor::runtime::Runner;
use clawvisor::supervisor::{Command, Exit, Input};
use tokio::sync::oneshot;

#[derive(Clone, Debug, PartialEq)]
enum Call {
    Spawn(i32),
    Signal(i32, i32),
    KillTree(i32),
}

/// Records every call; the test decides when a "child" writes and exits.
#[derive(Default)]
struct FakeOps {
    calls: Mutex<Vec<Call>>,
    next_pid: Mutex<i32>,
    exits: Mutex<HashMap<i32, oneshot::Sender<Exit>>>,
    stdout: Mutex<HashMap<i32, OwnedFd>>,
}

impl FakeOps {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Waits until `want` has been called; returns all calls so far.
    async fn wait_for(&self, want: Call) -> Vec<Call> {
        for _ in 0..500 {
            if self.calls().contains(&want) {
                return self.calls();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{want:?} never happened; calls: {:?}", self.calls());
    }

    fn say(&self, pid: i32, line: &str) {
        let fds = self.stdout.lock().unwrap();
        nix::unistd::write(&fds[&pid], line.as_bytes()).unwrap();
    }

    /// The child exits: its pipes close, then the reaper reports it.
    fn exit(&self, pid: i32, exit: Exit) {
        self.stdout.lock().unwrap().remove(&pid);
        let tx = self.exits.lock().unwrap().remove(&pid).expect("watched");
        tx.send(exit).unwrap();
    }
}

impl ProcessOps for FakeOps {
    fn spawn(&self, _spec: ChildSpec) -> Spawning {
        let pid = {
            let mut next = self.next_pid.lock().unwrap();
            *next += 1;
            4_100_000 + *next
        };
        let (out_r, out_w) = nix::unistd::pipe().unwrap();
        let (err_r, _err_w) = nix::unistd::pipe().unwrap();
        self.stdout.lock().unwrap().insert(pid, out_w);
        self.calls.lock().unwrap().push(Call::Spawn(pid));
        Box::pin(async move {
            Ok(SpawnedChild {
                pid,
                stdout: out_r,
                stderr: err_r,
            })
        })
    }

    fn exited(&self, pid: i32) -> oneshot::Receiver<Exit> {
        let (tx, rx) = oneshot::channel();
        self.exits.lock().unwrap().insert(pid, tx);
        rx
    }

    fn signal_group(&self, pid: i32, signal: i32) {
        self.calls.lock().unwrap().push(Call::Signal(pid, signal));
    }

    fn kill_tree(&self, pid: i32) {
        self.calls.lock().unwrap().push(Call::KillTree(pid));
    }

    fn stragglers(&self) -> Vec<i32> {
        Vec::new()
    }

    fn end_stragglers(&self, _pids: Vec<i32>, _grace: Duration) {}
}

fn config(dir: &std::path::Path, extra: &str) -> Config {
    let text = format!(
        "[state]\ndir = \"{d}/state\"\n[logs]\ndir = \"{d}/logs\"\n[control]\nsocket = \"{d}/c.sock\"\n[disk]\nenabled = false\n[memory]\nenabled = false\n{extra}",
        d = dir.display()
    );
    Config::parse(&text, "test").unwrap()
}

async fn start(
    extra: &str,
) -> (
    Arc<FakeOps>,
    clawvisor::runtime::Parts,
    tokio::task::JoinHandle<i32>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(FakeOps::default());
    let (runner, parts) =
        Runner::start_with(config(dir.path(), extra), fake.clone(), Arc::new(StdRunner)).unwrap();
    let run = tokio::spawn(runner.run());
    (fake, parts, run, dir)
}

const FIRST: i32 = 4_100_001;
const SECOND: i32 = 4_100_002;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_signals_the_group_then_exits_with_the_childs_code() {
    let (fake, parts, run, _dir) = start("").await;
    fake.wait_for(Call::Spawn(FIRST)).await;
    parts.inbox.send(Input::Shutdown { why: "test".into() });
    fake.wait_for(Call::Signal(FIRST, libc::SIGTERM)).await;
    fake.exit(FIRST, Exit::Code(3));
    assert_eq!(run.await.unwrap(), 3);
    assert_eq!(
        fake.calls(),
        [Call::Spawn(FIRST), Call::Signal(FIRST, libc::SIGTERM)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_that_ignores_the_stop_signal_gets_its_tree_killed() {
    let (fake, parts, run, _dir) = start("[stop]\ntimeout = \"200ms\"\n").await;
    fake.wait_for(Call::Spawn(FIRST)).await;
    parts.inbox.send(Input::Shutdown { why: "test".into() });
    let calls = fake.wait_for(Call::KillTree(FIRST)).await;
    assert_eq!(
        calls,
        [
            Call::Spawn(FIRST),
            Call::Signal(FIRST, libc::SIGTERM),
            Call::KillTree(FIRST)
        ]
    );
    fake.exit(FIRST, Exit::Signal(libc::SIGKILL));
    assert_eq!(run.await.unwrap(), 128 + libc::SIGKILL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_is_respawned_after_the_backoff() {
    let (fake, parts, run, _dir) =
        start("[restart.backoff]\ninitial = \"100ms\"\njitter = 0.0\n").await;
    fake.wait_for(Call::Spawn(FIRST)).await;
    let t0 = tokio::time::Instant::now();
    fake.exit(FIRST, Exit::Code(1));
    fake.wait_for(Call::Spawn(SECOND)).await;
    assert!(
        t0.elapsed() >= Duration::from_millis(100),
        "{:?}",
        t0.elapsed()
    );
    parts.inbox.send(Input::Shutdown { why: "test".into() });
    fake.wait_for(Call::Signal(SECOND, libc::SIGTERM)).await;
    fake.exit(SECOND, Exit::Code(0));
    assert_eq!(run.await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_78_pauses_with_the_last_line_in_the_record_and_resume_respawns() {
    let (fake, parts, run, dir) = start("").await;
    fake.wait_for(Call::Spawn(FIRST)).await;
    fake.say(FIRST, "invalid config: gateway.mode is missing\n");
    fake.exit(FIRST, Exit::Code(78));
    let state = dir.path().join("state/state.json");
    for _ in 0..300 {
        if state.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(
        text.contains("EX_CONFIG") && text.contains("gateway.mode is missing"),
        "{text}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        fake.calls(),
        [Call::Spawn(FIRST)],
        "paused: nothing started"
    );

    let (tx, rx) = oneshot::channel();
    parts.inbox.send(Input::Command {
        command: Command::Resume,
        reply: tx,
    });
    assert!(rx.await.unwrap().is_ok());
    fake.wait_for(Call::Spawn(SECOND)).await;
    assert!(
        !std::fs::read_to_string(&state)
            .unwrap()
            .contains("EX_CONFIG"),
        "pause cleared"
    );
    parts.inbox.send(Input::Shutdown { why: "test".into() });
    fake.wait_for(Call::Signal(SECOND, libc::SIGTERM)).await;
    fake.exit(SECOND, Exit::Code(0));
    assert_eq!(run.await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctl_restart_stops_then_starts_at_once() {
    let (fake, parts, run, _dir) =
        start("[restart.backoff]\ninitial = \"1h\"\nmax = \"2h\"\n").await;
    fake.wait_for(Call::Spawn(FIRST)).await;
    let (tx, rx) = oneshot::channel();
    parts.inbox.send(Input::Command {
        command: Command::Restart,
        reply: tx,
    });
    assert_eq!(rx.await.unwrap(), Ok("restarting".to_string()));
    fake.wait_for(Call::Signal(FIRST, libc::SIGTERM)).await;
    fake.exit(FIRST, Exit::Code(0));
    // No backoff (it would be an hour): a requested restart is not a failure.
    fake.wait_for(Call::Spawn(SECOND)).await;
    parts.inbox.send(Input::Shutdown { why: "test".into() });
    fake.wait_for(Call::Signal(SECOND, libc::SIGTERM)).await;
    fake.exit(SECOND, Exit::Code(0));
    assert_eq!(run.await.unwrap(), 0);
}
