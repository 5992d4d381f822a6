//! What a child is started with: argv, environment, credentials, umask, stdin.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use nix::unistd::{Uid, User};

use crate::config::{Credentials, GatewayConfig, SYSTEMD_ENV_VARS, resolve_credentials, user_name};

/// Everything needed to start the child, resolved before fork (name lookups are not safe
/// between fork and exec).
#[derive(Clone, Debug)]
pub struct ChildSpec {
    pub argv: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub env_clear: bool,
    pub env_remove: Vec<String>,
    pub env_set: Vec<(String, String)>,
    pub credentials: Option<Credentials>,
    pub umask: Option<u32>,
    /// Who the child runs as, for messages ("not found on PATH ... for user openclaw").
    pub user: String,
    /// A file to read stdin from (an alert hook's JSON); None: /dev/null.
    pub stdin: Option<std::sync::Arc<OwnedFd>>,
}

impl ChildSpec {
    /// `hidden`: clawvisor's secret variables (`Config::secret_env_vars`), never inherited;
    /// `cfg.env` is applied after, so a value written there explicitly is still passed.
    pub fn for_gateway(cfg: &GatewayConfig, hidden: &[String]) -> Result<ChildSpec, String> {
        let credentials = resolve_credentials(cfg.user.as_deref(), cfg.group.as_deref())?;
        let mut env_remove = cfg.env_remove.clone();
        env_remove.extend(hidden.iter().cloned());
        let mut env_set = Vec::new();
        // clawvisor's own systemd notify socket is never the gateway's to use.
        env_remove.extend(["NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC"].map(String::from));
        if cfg.external_supervisor {
            env_remove.extend(SYSTEMD_ENV_VARS.iter().map(|s| s.to_string()));
            env_set.push(("OPENCLAW_SUPERVISOR_MODE".into(), "external".into()));
        }
        if let (Some(c), Some(_)) = (&credentials, &cfg.user)
            && let Ok(Some(u)) = User::from_uid(c.uid)
        {
            env_set.push(("HOME".into(), u.dir.display().to_string()));
            env_set.push(("USER".into(), u.name.clone()));
            env_set.push(("LOGNAME".into(), u.name));
        }
        env_set.extend(cfg.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        let uid = credentials.as_ref().map_or_else(Uid::current, |c| c.uid);
        Ok(ChildSpec {
            user: user_name(uid),
            argv: cfg.command.clone(),
            cwd: cfg.cwd.clone(),
            env_clear: cfg.env_clear,
            env_remove,
            env_set,
            credentials,
            umask: cfg.umask.map(|u| u.0),
            stdin: None,
        })
    }

    /// An auxiliary command (exec probe, alert hook) in clawvisor's own environment.
    pub fn aux(argv: Vec<String>) -> ChildSpec {
        ChildSpec {
            argv,
            cwd: None,
            env_clear: false,
            env_remove: Vec::new(),
            env_set: Vec::new(),
            credentials: None,
            umask: None,
            user: user_name(Uid::current()),
            stdin: None,
        }
    }
}
