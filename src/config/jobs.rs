//! `[[jobs]]`: scheduled commands run by clawvisor itself, gated on the gateway being ready
//! (and optionally on an idle GPU), resumed after a gateway restart or a restart of
//! clawvisor, with their history kept in the state dir.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::units::{Dur, Size};
use super::watch::Percent;

/// One scheduled job.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JobConfig {
    /// Unique name: letters, digits, `-` and `_` (it names the job's state, history and log
    /// files).
    pub name: String,
    /// Program and arguments, run directly (no shell). `["sh", "-c", "..."]` for a shell.
    pub command: Vec<String>,
    /// A 5-field cron expression (`"30 2 * * *"`) or an alias (`"@daily"`, `"@hourly"`,
    /// `"@weekly"`, `"@monthly"`, `"@yearly"`), read in `timezone`. Seconds are not
    /// accepted (a 6-field line is an error, not a different meaning). Set this or `every`.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Run at a fixed interval instead of a cron schedule (`"15m"`): the first run one
    /// interval after the job is first seen, then every interval.
    #[serde(default)]
    pub every: Option<Dur>,
    /// IANA time zone of `schedule` (`"Europe/Berlin"`). Default: the system's zone.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Longest a run may take; then its group gets SIGTERM, `stop_grace`, SIGKILL, and the
    /// run counts as failed. Unset: no limit.
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// Working directory. Default: clawvisor's.
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// Extra environment variables (added to clawvisor's own environment).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Run as this user (name or uid; clawvisor must be root).
    #[serde(default)]
    pub user: Option<String>,
    /// Run with this group (name or gid).
    #[serde(default)]
    pub group: Option<String>,
    /// What the gateway must be before a run starts: `"ready"` (default; its readiness
    /// probe passed), `"running"` (its process is up) or `"none"` (the job does not use it:
    /// it is also not interrupted by gateway restarts).
    #[serde(default)]
    pub requires: Requires,
    /// GPU gate: start only while every device's utilisation is below this percentage.
    #[serde(default)]
    pub gpu_util_below: Option<Percent>,
    /// GPU gate: start only while every device has at least this much free memory.
    #[serde(default)]
    pub gpu_mem_free_above: Option<Size>,
    /// How long the GPU gate must hold before a run starts. Default "30s".
    #[serde(default = "default_gpu_held_for")]
    pub gpu_held_for: Dur,
    /// Longest a due run waits for its gates; then it is recorded as skipped and alerted.
    /// Default "1h".
    #[serde(default = "default_max_wait")]
    pub max_wait: Dur,
    /// Slots missed while clawvisor was down (or the clock jumped): `"latest"` (default: run
    /// once, record how many were skipped), `"all"` (run each, one after another) or
    /// `"none"` (run none, record them as missed).
    #[serde(default)]
    pub catch_up: CatchUp,
    /// A slot that comes while the previous run is still running or waiting: `"forbid"`
    /// (default: the late slot is recorded as skipped) or `"queue"` (it runs after the
    /// current one; at most one waits).
    #[serde(default)]
    pub overlap: Overlap,
    /// Re-runs after a failure (non-zero exit, signal, timeout). Default 0.
    #[serde(default)]
    pub retries: u32,
    /// Pause before a retry. Default "30s".
    #[serde(default = "default_retry_delay")]
    pub retry_delay: Dur,
    /// Re-runs after interruptions (gateway restart, clawvisor stop); counted apart from
    /// `retries`. Default 5.
    #[serde(default = "default_max_interruptions")]
    pub max_interruptions: u32,
    /// What a restart of the gateway does to a running job: `"rerun"` (default: stop it,
    /// re-run the same run with the attempt number raised once the gates pass again) or
    /// `"ignore"` (let it run on).
    #[serde(default)]
    pub on_gateway_restart: OnGatewayRestart,
    /// Between SIGTERM to the job's process group and SIGKILL. Default "10s".
    #[serde(default = "default_stop_grace")]
    pub stop_grace: Dur,
    /// Runs kept in the job's history. Default 50.
    #[serde(default = "default_history")]
    pub history: u32,
    /// healthchecks.io-style ping URL: `<url>/start` when a run starts, `<url>` on success,
    /// `<url>/<exit code>` on failure. Pings never block or fail the job. Unset: none.
    #[serde(default)]
    pub ping_url: Option<String>,
}

fn default_gpu_held_for() -> Dur {
    Dur::secs(30)
}
fn default_max_wait() -> Dur {
    Dur::secs(3600)
}
fn default_retry_delay() -> Dur {
    Dur::secs(30)
}
fn default_max_interruptions() -> u32 {
    5
}
fn default_stop_grace() -> Dur {
    Dur::secs(10)
}
fn default_history() -> u32 {
    50
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Requires {
    #[default]
    Ready,
    Running,
    None,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CatchUp {
    #[default]
    Latest,
    All,
    None,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Overlap {
    #[default]
    Forbid,
    Queue,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OnGatewayRestart {
    #[default]
    Rerun,
    Ignore,
}

/// Cron patterns are parsed without a seconds field: 5 fields or an alias.
pub fn cron_parser() -> croner::parser::CronParser {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .build()
}

/// Whether a parsed schedule has any slot at all.
fn fires(cron: &croner::Cron) -> bool {
    let from = jiff::Timestamp::from_second(946_684_800) // 2000-01-01, a leap year
        .expect("a valid timestamp")
        .to_zoned(jiff::tz::TimeZone::UTC);
    cron.find_next_occurrence(&from, false).is_ok()
}

impl JobConfig {
    /// The job's zone: `timezone`, else the system's.
    pub fn zone(&self) -> Result<jiff::tz::TimeZone, String> {
        match &self.timezone {
            Some(name) => jiff::tz::TimeZone::get(name)
                .map_err(|e| format!("{name:?} is not a known time zone: {e}")),
            None => Ok(jiff::tz::TimeZone::system()),
        }
    }

    fn validate(&self, i: usize, out: &mut Vec<(String, String)>) {
        let at = |k: &str| format!("jobs.{i}.{k}");
        let ok_name = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok_name {
            out.push((
                at("name"),
                format!(
                    "{:?}: use letters, digits, '-' and '_' only (it names files)",
                    self.name
                ),
            ));
        }
        if self.command.is_empty() || self.command[0].is_empty() {
            out.push((at("command"), "must name a program".into()));
        }
        match (&self.schedule, &self.every) {
            (Some(_), Some(_)) => {
                out.push((at("every"), "set `schedule` or `every`, not both".into()))
            }
            (None, None) => out.push((
                at("name"),
                format!(
                    "job {:?} needs a `schedule` (cron or @daily) or an `every` interval",
                    self.name
                ),
            )),
            (Some(s), None) => match cron_parser().parse(s) {
                Err(e) => out.push((
                    at("schedule"),
                    format!("{s:?} is not a 5-field cron expression or alias: {e}"),
                )),
                // A date that never comes (the 31st of June, the 30th of February) parses,
                // and the job would silently never run; croner would also search for
                // years of dates at every look. Asked once here, from a fixed day.
                Ok(cron) if !fires(&cron) => out.push((
                    at("schedule"),
                    format!(
                        "{s:?} never fires: no date matches it (a day of the month that the \
                         month named does not have?)"
                    ),
                )),
                Ok(_) => {}
            },
            (None, Some(d)) => {
                if d.get() < std::time::Duration::from_secs(1) {
                    out.push((at("every"), "must be at least 1s".into()));
                }
            }
        }
        if let Err(e) = self.zone() {
            out.push((at("timezone"), e));
        }
        if let Some(p) = self.gpu_util_below
            && !(0.0..=100.0).contains(&p.0)
        {
            out.push((at("gpu_util_below"), "must be between 0 and 100".into()));
        }
        if self.timeout.is_some_and(|t| t.get().is_zero()) {
            out.push((at("timeout"), "must be longer than 0s (or left out)".into()));
        }
        if self.history == 0 {
            out.push((at("history"), "must keep at least 1 run".into()));
        }
        if let Some(u) = &self.ping_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            out.push((at("ping_url"), format!("{u:?} is not an http(s) URL")));
        }
        // The names must exist here: a typo would otherwise fail every run at 3 a.m.
        if let Some(u) = &self.user
            && u.parse::<u32>().is_err()
            && !matches!(nix::unistd::User::from_name(u), Ok(Some(_)))
        {
            out.push((at("user"), format!("{u:?}: no such user")));
        }
        if let Some(g) = &self.group
            && g.parse::<u32>().is_err()
            && !matches!(nix::unistd::Group::from_name(g), Ok(Some(_)))
        {
            out.push((at("group"), format!("{g:?}: no such group")));
        }
        for k in self.env.keys() {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                out.push((
                    at(&format!("env.{k}")),
                    "is not a valid variable name".into(),
                ));
            }
        }
    }
}

/// Checks every job, and that names are unique.
pub fn validate_jobs(jobs: &[JobConfig], out: &mut Vec<(String, String)>) {
    let mut seen = std::collections::HashSet::new();
    for (i, j) in jobs.iter().enumerate() {
        j.validate(i, out);
        if !seen.insert(j.name.as_str()) {
            out.push((
                format!("jobs.{i}.name"),
                format!(
                    "{:?} is used by an earlier job; names must be unique",
                    j.name
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(extra: &str) -> Result<JobConfig, String> {
        let text = format!("name = \"n\"\ncommand = [\"true\"]\n{extra}");
        let j: JobConfig = toml::from_str(&text).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        validate_jobs(std::slice::from_ref(&j), &mut out);
        match out.first() {
            Some((k, m)) => Err(format!("{k}: {m}")),
            None => Ok(j),
        }
    }

    #[test]
    fn aliases_and_five_fields_parse_six_fields_do_not() {
        assert!(job("schedule = \"@daily\"").is_ok());
        assert!(job("schedule = \"30 2 * * *\"").is_ok());
        let e = job("schedule = \"0 */15 * * * *\"").unwrap_err();
        assert!(e.starts_with("jobs.0.schedule"), "{e}");
        for never in ["59 23 31 6 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *"] {
            let e = job(&format!("schedule = \"{never}\"")).unwrap_err();
            assert!(
                e.starts_with("jobs.0.schedule") && e.contains("never fires"),
                "{e}"
            );
        }
        assert!(job("schedule = \"0 0 29 2 *\"").is_ok(), "leap days come");
        assert!(job("schedule = \"0 0 L 2 *\"").is_ok());
    }

    #[test]
    fn schedule_or_every_exactly_once() {
        assert!(job("every = \"15m\"").is_ok());
        assert!(job("").unwrap_err().contains("needs a `schedule`"));
        assert!(job("every = \"1m\"\nschedule = \"@daily\"").is_err());
    }

    #[test]
    fn bad_zone_and_policies_are_named() {
        let e = job("schedule = \"@daily\"\ntimezone = \"Mars/Olympus\"").unwrap_err();
        assert!(e.starts_with("jobs.0.timezone"), "{e}");
        assert!(job("schedule = \"@daily\"\ncatch_up = \"some\"").is_err());
        let j = job("schedule = \"@daily\"\ncatch_up = \"all\"\noverlap = \"queue\"").unwrap();
        assert_eq!((j.catch_up, j.overlap), (CatchUp::All, Overlap::Queue));
        assert_eq!(j.requires, Requires::Ready);
        let e = job("schedule = \"@daily\"\nuser = \"no-such-user-here\"").unwrap_err();
        assert!(
            e.starts_with("jobs.0.user") && e.contains("no such user"),
            "{e}"
        );
    }
}
