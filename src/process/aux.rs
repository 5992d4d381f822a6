//! Auxiliary commands (exec probes, alert hooks): started by the spawner, reaped by the one
//! reaper, and kept out of the gateway's tree.

use std::collections::HashSet;
use std::io::Read;
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
        let child = self
            .spawner
            .spawn(ChildSpec::aux(argv.clone()))
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
