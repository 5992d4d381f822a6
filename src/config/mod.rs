//! The configuration: TOML sections, their defaults, and validation.
//!
//! Raw TOML is turned into a validated [`Config`] in one place ([`load`]); the rest of the
//! program never sees an unvalidated value. Every problem is reported at once, each with
//! the key and its file:line:column.

mod alerts;
mod control;
mod derive;
mod environment;
mod error;
mod explain;
mod gateway;
mod jobs;
mod load;
mod logs;
mod metrics;
mod paths;
mod probes;
mod reaction;
mod redact;
mod restart;
mod secrets;
mod state;
mod stop;
mod stream;
mod systemd;
pub mod units;
mod users;
mod watch;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use alerts::{
    AlertFilter, AlertsConfig, ExecChannelConfig, SEVERITIES, SmtpChannelConfig, SmtpSecurity,
    WebhookChannelConfig, WebhookFormat,
};
pub use control::{ControlConfig, MAX_SOCKET_PATH};
pub use error::{ConfigError, ConfigErrors};
pub use gateway::{GatewayConfig, SYSTEMD_ENV_VARS, Umask};
pub use jobs::{CatchUp, JobConfig, OnGatewayRestart, Overlap, Requires, cron_parser};
pub use load::locate;
pub use logs::{FileMode, LogLayout, LogsConfig, PatternRule, RotateEvery, RotateTimezone};
pub use metrics::MetricsConfig;
pub use probes::{
    CompletionProbeConfig, DEFAULT_BASE_URL, ExecProbeConfig, HttpProbeConfig, HttpProbeKind,
    ProbesConfig, QualityConfig,
};
pub use reaction::Reaction;
pub use restart::{BackoffConfig, RestartConfig, RestartPolicy};
pub use state::StateConfig;
pub use stop::StopConfig;
pub use stream::Stream;
pub use systemd::{ReadyWhen, SystemdConfig};
pub use units::{Dur, SignalName, Size};
pub use users::{Credentials, resolve_credentials, user_name};
pub use watch::{DiskConfig, GpuConfig, MemoryConfig, MemoryMeasure, Percent};

/// Where clawvisor looks for its config when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/clawvisor/clawvisor.toml";

/// The whole configuration. Every section may be left out; defaults suit openclaw.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub gateway: GatewayConfig,
    pub restart: RestartConfig,
    pub stop: StopConfig,
    pub state: StateConfig,
    pub logs: LogsConfig,
    pub control: ControlConfig,
    pub memory: MemoryConfig,
    pub gpu: GpuConfig,
    pub disk: DiskConfig,
    pub probes: ProbesConfig,
    pub quality: QualityConfig,
    pub alerts: AlertsConfig,
    pub metrics: MetricsConfig,
    /// Scheduled jobs (`[[jobs]]`), run by clawvisor when their gates pass.
    pub jobs: Vec<JobConfig>,
    pub systemd: SystemdConfig,
    /// The file this config was read from, for `reload` and for error messages.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

impl Config {
    /// Reads and validates a config file, reporting every problem at once.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        load::load_file(path)
    }

    /// As [`Config::load`], plus warnings about this machine (an alert channel's missing
    /// token or password file), each with its place.
    pub fn load_with_warnings(path: &Path) -> Result<(Config, Vec<ConfigError>), ConfigErrors> {
        load::load_file_with_warnings(path)
    }

    /// Parses and validates config text; `origin` names it in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigErrors> {
        load::parse_text(text, origin)
    }

    /// Cross-field checks that serde cannot express, as (key path, problem) pairs.
    fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        self.gateway.validate(&mut out);
        self.restart.validate(&mut out);
        self.memory.validate(&mut out);
        self.gpu.validate(&mut out);
        self.disk.validate(&mut out);
        self.probes.validate(&mut out);
        self.quality.validate(&mut out);
        self.logs.validate(&mut out);
        self.control.validate(&mut out);
        jobs::validate_jobs(&self.jobs, &mut out);
        self.alerts.validate(&mut out);
        self.metrics.validate(&mut out);
        if self.stop.timeout.get().is_zero() {
            out.push(("stop.timeout".into(), "must be longer than 0s".into()));
        }
        out
    }
}
