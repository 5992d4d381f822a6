//! `[memory]`, `[gpu]`, `[disk]`: layer-1 samplers.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use super::units::{Dur, Size};

/// Which memory figure the thresholds compare against.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MemoryMeasure {
    /// Resident set size summed over the tree (counts shared pages once per process).
    Rss,
    /// Proportional set size from /proc/PID/smaps_rollup (shared pages split between their
    /// users); falls back to RSS for processes whose smaps_rollup cannot be read.
    Pss,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryConfig {
    /// Sample the memory of the gateway's whole process tree (descendants that moved to their
    /// own session or group included). Default true.
    pub enabled: bool,
    /// How often the tree is sampled. Default "5s".
    pub interval: Dur,
    /// `"rss"` or `"pss"`: the figure `warn_above` and `restart_above` compare against. Both
    /// are always reported in status. Default "rss" (what `ps` and the seed's script show).
    pub measure: MemoryMeasure,
    /// Alert when the tree uses more than this. "0" turns the warning off. Default "10GiB",
    /// or five sixths of `restart_above` when only that is written.
    pub warn_above: Size,
    /// Restart gracefully when the tree stays above this for `restart_after`. "0" turns it
    /// off. Default "12GiB" (the seed's emergency threshold), or six fifths of `warn_above`
    /// when only that is written and above 12GiB.
    pub restart_above: Size,
    /// How long the tree must stay above `restart_above` before the restart. Default "30s".
    pub restart_after: Dur,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            enabled: true,
            interval: Dur::secs(5),
            measure: MemoryMeasure::Rss,
            warn_above: Size::gib(10),
            restart_above: Size::gib(12),
            restart_after: Dur::secs(30),
        }
    }
}

impl MemoryConfig {
    pub fn validate(&self, out: &mut Vec<(String, String)>) {
        if self.interval.get().is_zero() {
            out.push(("memory.interval".into(), "must be longer than 0s".into()));
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GpuConfig {
    /// Watch the GPU through NVML. Without an NVML library or a GPU, GPU watching is off with
    /// one info line, never an error; NVML that is there but fails to start is a warning,
    /// retried every 60s and on reload. Default true.
    pub enabled: bool,
    /// How often NVML is read. Default "10s".
    pub interval: Dur,
    /// Alert when a device's utilisation stays above this percentage (0–100) for
    /// `held_for`. Unset: no utilisation alert.
    pub warn_utilization_above: Option<Percent>,
    /// Alert when the gateway tree's GPU memory (summed over its processes) exceeds this.
    /// Unset: five sixths of `restart_memory_above` when that is set, else no alert.
    pub warn_memory_above: Option<Size>,
    /// Restart gracefully when the tree's GPU memory stays above this for `held_for`.
    pub restart_memory_above: Option<Size>,
    /// How long a GPU threshold must be exceeded before it counts. Default "30s".
    pub held_for: Dur,
    /// Before starting a new child after a crash, wait at most this long for the old tree's
    /// GPU memory to be released. "0s" does not wait. Default "60s".
    pub release_timeout: Dur,
    /// The GPUs that utilisation alerts and `ctl wait-idle` judge: NVML indexes ("0"), MIG
    /// slices ("0:1") or UUIDs ("GPU-…", "MIG-…"). Empty (the default): the GPUs the
    /// gateway tree has a process on, or every GPU while it has none.
    pub devices: Vec<String>,
}

impl Default for GpuConfig {
    fn default() -> Self {
        GpuConfig {
            enabled: true,
            interval: Dur::secs(10),
            warn_utilization_above: None,
            warn_memory_above: None,
            restart_memory_above: None,
            held_for: Dur::secs(30),
            release_timeout: Dur::secs(60),
            devices: Vec::new(),
        }
    }
}

impl GpuConfig {
    pub fn validate(&self, out: &mut Vec<(String, String)>) {
        if self.interval.get().is_zero() {
            out.push(("gpu.interval".into(), "must be longer than 0s".into()));
        }
        for (i, d) in self.devices.iter().enumerate() {
            if d.trim().is_empty() {
                out.push((format!("gpu.devices[{i}]"), "must name a GPU".into()));
            }
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DiskConfig {
    /// Watch the filesystems holding `logs.dir` and `state.dir`. Default true.
    pub enabled: bool,
    /// How often usage is read. Default "60s".
    pub interval: Dur,
    /// Alert when a filesystem is fuller than this (a percentage, `90` or `"90%"`).
    /// Default 90 (the seed's threshold).
    pub warn_above: Percent,
    /// When the logs' filesystem is above `warn_above`, delete the oldest rotated logs until
    /// it is below, even inside the logs' retention. Every deletion is logged. Default true.
    pub clean_rotated_logs: bool,
}

impl Default for DiskConfig {
    fn default() -> Self {
        DiskConfig {
            enabled: true,
            interval: Dur::secs(60),
            warn_above: Percent(90.0),
            clean_rotated_logs: true,
        }
    }
}

impl DiskConfig {
    pub fn validate(&self, out: &mut Vec<(String, String)>) {
        if self.interval.get().is_zero() {
            out.push(("disk.interval".into(), "must be longer than 0s".into()));
        }
    }
}

/// A percentage from 0 to 100, written `90`, `87.5` or `"90%"`.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Default)]
pub struct Percent(pub f64);

impl std::str::FromStr for Percent {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let n = t.strip_suffix('%').unwrap_or(t).trim();
        n.parse::<f64>()
            .map_err(|_| format!("{s:?} is not a percentage (try 90 or \"90%\")"))
            .and_then(Percent::checked)
    }
}

impl Percent {
    fn checked(v: f64) -> Result<Percent, String> {
        if (0.0..=100.0).contains(&v) {
            Ok(Percent(v))
        } else {
            Err(format!("{v} is not a percentage between 0 and 100"))
        }
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Percent;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a percentage such as 90 or \"90%\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Percent, E> {
                Percent::checked(v as f64).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Percent, E> {
                Percent::checked(v as f64).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Percent, E> {
                Percent::checked(v).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Percent, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0)
    }
}
