//! One attempt of a job: its checkpoint dir, its environment, its process (forked by the
//! spawner, reaped by the one reaper, kept out of the gateway's straggler clean-up), its
//! output into the job's log pipeline, and its end: exit, timeout, or interruption (TERM to
//! its group, `stop_grace`, SIGKILL to its tree).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use super::plan::Ended;
use super::store::PendingRun;
use crate::config::JobConfig;
use crate::config::{resolve_credentials, user_name};
use crate::logs::LogPipeline;
use crate::process::aux::AuxRunner;
use crate::process::kill;
use crate::process::spawn::ChildSpec;
use crate::supervisor::Exit;

/// How long a SIGKILLed job gets to be reaped before the attempt is given up on.
const REAP_AFTER_KILL: Duration = Duration::from_secs(5);

/// Everything one attempt needs.
pub struct Attempt {
    pub job: Arc<JobConfig>,
    pub run: PendingRun,
    pub checkpoint: PathBuf,
    pub gateway_url: String,
    /// clawvisor's secret variables (`Config::secret_env_vars`), never inherited.
    pub hidden_env: Arc<Vec<String>>,
    pub logs: LogPipeline,
    pub aux: AuxRunner,
}

/// The checkpoint dir of a run: the same for every attempt of it.
pub fn checkpoint_dir(state_jobs: &Path, job: &str, run_id: &str) -> PathBuf {
    state_jobs.join(format!("{job}.checkpoints")).join(run_id)
}

/// The `CLAWVISOR_*` contract, in the order it is set (the job's own `env` may override
/// only `CLAWVISOR_GATEWAY_URL`).
pub fn contract_env(a: &Attempt) -> Vec<(String, String)> {
    let mut env = vec![("CLAWVISOR_GATEWAY_URL".to_string(), a.gateway_url.clone())];
    env.extend(a.job.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let slot = a.run.slot.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    env.extend(
        [
            ("CLAWVISOR_JOB", a.job.name.clone()),
            ("CLAWVISOR_RUN_ID", a.run.run_id.clone()),
            ("CLAWVISOR_SCHEDULED_FOR", slot),
            ("CLAWVISOR_ATTEMPT", a.run.attempt.to_string()),
            (
                "CLAWVISOR_RESUME",
                if a.run.resume { "1" } else { "0" }.to_string(),
            ),
            (
                "CLAWVISOR_CHECKPOINT_DIR",
                a.checkpoint.display().to_string(),
            ),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );
    env
}

fn make_checkpoint_dir(a: &Attempt) -> std::io::Result<()> {
    std::fs::create_dir_all(&a.checkpoint)?;
    std::fs::set_permissions(&a.checkpoint, std::fs::Permissions::from_mode(0o700))?;
    if let Some(c) = resolve_credentials(a.job.user.as_deref(), a.job.group.as_deref())
        .ok()
        .flatten()
    {
        // The job must be able to write its own checkpoints.
        let _ = nix::unistd::chown(&a.checkpoint, Some(c.uid), Some(c.gid));
    }
    Ok(())
}

/// Runs the attempt to its end. `pid_slot` gets the pid once started; `cancel` carrying a
/// cause stops it as an interruption.
pub async fn run(
    a: Attempt,
    pid_slot: Arc<AtomicI32>,
    mut cancel: watch::Receiver<Option<String>>,
) -> Ended {
    if let Err(e) = make_checkpoint_dir(&a) {
        return Ended::SpawnFailed(format!(
            "cannot make the checkpoint dir {}: {e}",
            a.checkpoint.display()
        ));
    }
    let credentials = match resolve_credentials(a.job.user.as_deref(), a.job.group.as_deref()) {
        Ok(c) => c,
        Err(e) => return Ended::SpawnFailed(e),
    };
    let spec = ChildSpec {
        argv: a.job.command.clone(),
        cwd: a.job.cwd.clone(),
        env_clear: false,
        // clawvisor's own systemd notify socket is never the job's to use.
        env_remove: ["NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC"]
            .map(String::from)
            .into_iter()
            .chain(a.hidden_env.iter().cloned())
            .collect(),
        env_set: contract_env(&a),
        user: user_name(
            credentials
                .as_ref()
                .map_or_else(nix::unistd::Uid::current, |c| c.uid),
        ),
        credentials,
        umask: None,
        stdin: None,
    };
    let child = match a.aux.spawner.spawn(spec).await {
        Ok(c) => c,
        Err(e) => {
            return Ended::SpawnFailed(format!(
                "cannot run {:?}: {e}",
                a.job.command.first().map_or("", String::as_str)
            ));
        }
    };
    let pid = child.pid;
    // Not a straggler of the gateway: the gateway's clean-up leaves it alone.
    a.aux
        .aux
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(pid);
    let mut exited = a.aux.reaper.watch(pid);
    a.logs.attach(child.stdout, child.stderr);
    pid_slot.store(pid, Ordering::Relaxed);
    let timeout = a.job.timeout.map(|t| t.get());
    let grace = a.job.stop_grace.get();
    let sleep = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let ended = tokio::select! {
        r = &mut exited => match r {
            Ok(exit) => Ended::Exited(exit),
            Err(_) => Ended::SpawnFailed("the reaper is gone".into()),
        },
        _ = sleep => {
            let exit = stop(pid, grace, &mut exited).await;
            Ended::TimedOut(exit)
        }
        cause = wait_cancel(&mut cancel) => {
            let exit = stop(pid, grace, &mut exited).await;
            Ended::Interrupted { cause, exit: Some(exit) }
        }
    };
    a.aux
        .aux
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&pid);
    ended
}

async fn wait_cancel(cancel: &mut watch::Receiver<Option<String>>) -> String {
    loop {
        if let Some(c) = cancel.borrow_and_update().clone() {
            return c;
        }
        if cancel.changed().await.is_err() {
            // The scheduler is gone: clawvisor is exiting.
            return "clawvisor stop".into();
        }
    }
}

/// SIGTERM to the group, `grace`, then SIGKILL to the whole tree.
async fn stop(pid: i32, grace: Duration, exited: &mut oneshot::Receiver<Exit>) -> Exit {
    kill::signal_group(pid, libc::SIGTERM);
    if let Ok(Ok(exit)) = tokio::time::timeout(grace, &mut *exited).await {
        return exit;
    }
    tracing::warn!(pid, "job ignored SIGTERM for {grace:?}; sending SIGKILL");
    kill::kill_tree(pid);
    match tokio::time::timeout(REAP_AFTER_KILL, exited).await {
        Ok(Ok(exit)) => exit,
        _ => Exit::Signal(libc::SIGKILL),
    }
}
