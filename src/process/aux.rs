//! Auxiliary commands (exec probes, alert hooks): started by the spawner, reaped by the one
//! reaper, and kept out of the gateway's tree.

use std::collections::HashSet;
use std::io::{Read, Seek, Write};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::reaper::Reaper;
use super::spawn::{ChildSpec, Spawner};
use crate::supervisor::Exit;

/// Output kept from an auxiliary command (more is read and discarded).
const MAX_OUTPUT: usize = 64 * 1024;

/// Pids of running auxiliary processes, so straggler clean-up leaves them alone.
pub type AuxSet = Arc<Mutex<HashSet<i32>>>;

#[derive(Clone)]
pub struct AuxRunner {
    pub spawner: Spawner,
    pub reaper: Reaper,
    pub aux: AuxSet,
}

impl AuxRunner {
    /// Runs `argv` to completion, or SIGKILLs its group after `timeout`. Returns the exit and
    /// the first 64 KiB of its stdout and stderr combined.
    pub async fn run(
        &self,
        argv: Vec<String>,
        timeout: Duration,
    ) -> Result<(Exit, String), String> {
        self.run_spec(ChildSpec::aux(argv), timeout).await
    }

    /// As [`AuxRunner::run`], with extra environment variables and `input` on stdin (an
    /// alert hook's JSON).
    pub async fn run_with_input(
        &self,
        argv: Vec<String>,
        env: Vec<(String, String)>,
        input: Vec<u8>,
        timeout: Duration,
    ) -> Result<(Exit, String), String> {
        let mut spec = ChildSpec::aux(argv);
        spec.env_set = env;
        // A sealed-off temporary file rather than a pipe: nobody has to keep writing it
        // while the command runs, and a command that never reads stdin cannot block us.
        let file = tokio::task::spawn_blocking(move || stdin_file(&input))
            .await
            .map_err(|e| format!("cannot prepare stdin: {e}"))?
            .map_err(|e| format!("cannot prepare stdin: {e}"))?;
        spec.stdin = Some(Arc::new(file));
        self.run_spec(spec, timeout).await
    }

    async fn run_spec(&self, spec: ChildSpec, timeout: Duration) -> Result<(Exit, String), String> {
        let child = self
            .spawner
            .spawn(spec)
            .await
            .map_err(|e| format!("cannot run it: {e}"))?;
        let pid = child.pid;
        self.aux.lock().unwrap().insert(pid);
        let exited = self.reaper.watch(pid);
        let (mut out, mut err) = (
            std::fs::File::from(child.stdout),
            std::fs::File::from(child.stderr),
        );
        let reader = tokio::task::spawn_blocking(move || {
            let mut buf = Vec::new();
            let _ = (&mut out).take(MAX_OUTPUT as u64).read_to_end(&mut buf);
            let _ = (&mut err).take(MAX_OUTPUT as u64).read_to_end(&mut buf);
            let _ = std::io::copy(&mut out, &mut std::io::sink());
            buf.truncate(MAX_OUTPUT);
            String::from_utf8_lossy(&buf).into_owned()
        });
        let result = match tokio::time::timeout(timeout, exited).await {
            Ok(Ok(exit)) => Ok(exit),
            Ok(Err(_)) => Err("the reaper is gone".to_string()),
            Err(_) => {
                super::kill::kill_tree(pid);
                Err(format!(
                    "timed out after {}",
                    humantime::format_duration(timeout)
                ))
            }
        };
        self.aux.lock().unwrap().remove(&pid);
        let output = tokio::time::timeout(Duration::from_secs(1), reader)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        result.map(|exit| (exit, output))
    }
}

/// An unlinked temporary file holding `data`, positioned at its start.
fn stdin_file(data: &[u8]) -> std::io::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("clawvisor-input-{}-{n}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    // Gone from the directory at once; the open descriptor keeps the data.
    let _ = std::fs::remove_file(&path);
    f.write_all(data)?;
    f.rewind()?;
    Ok(f.into())
}
