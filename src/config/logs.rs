//! `[logs]` and `[[logs.patterns]]`: capture of the child's stdout/stderr, rotation,
//! compression, retention, and rules that react to what the child prints.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use super::Reaction;
use super::units::{Dur, Size};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogsConfig {
    /// Directory for the gateway's captured logs. Created if missing.
    pub dir: PathBuf,
    /// `"split"`: one file per stream, `gateway.out.log` and `gateway.err.log`.
    /// `"merged"`: one file, `gateway.log`, each line tagged `out ` or `err `.
    pub layout: LogLayout,
    /// Prefix every line with the time clawvisor read it: RFC 3339 UTC with milliseconds,
    /// e.g. `2026-11-24T13:05:01.123Z `. Off by default: openclaw stamps its own lines.
    pub timestamps: bool,
    /// Prefix every line with its stream name (`out ` / `err `). Always on with
    /// `layout = "merged"`.
    pub stream_prefix: bool,
    /// Longest line kept whole. A longer line is cut into pieces of this size; every piece
    /// but the last ends with ` [continued]`. Default "64KiB" (or `max_size`, when only that
    /// is written and smaller).
    pub max_line: Size,
    /// Rotate a file before it grows past this size. `"0"` turns size rotation off. Default
    /// "100MiB" (or `max_line` when only that is written and larger; or half of
    /// `max_total_size` when only that is written and smaller).
    pub max_size: Size,
    /// Rotate on a time boundary too: `"daily"` (at midnight), `"hourly"`, `"never"`, or a
    /// duration such as `"6h"` (boundaries counted from midnight). Whichever of this and
    /// `max_size` comes first wins. Empty files are never rotated.
    pub rotate_every: RotateEvery,
    /// Which midnight the time boundaries are aligned to: `"local"` or `"utc"`. Rotated file
    /// names always carry the UTC time, so they sort by time.
    pub rotate_timezone: RotateTimezone,
    /// Compress rotated files with gzip, in the background (the capture never waits for it).
    /// The writer keeps `max_size` (at most 5% of the filesystem) free for the compression;
    /// below that, lines are dropped and counted as on a full disk.
    pub compress: bool,
    /// gzip level, 1 (fastest) to 9 (smallest).
    pub compress_level: u32,
    /// Keep the newest rotated file uncompressed (logrotate's `delaycompress`).
    pub delay_compress: bool,
    /// Rotated files kept per stream; the oldest beyond this are deleted (after every
    /// rotation, also during bursts, and at shutdown). `0` keeps none.
    pub keep_files: u32,
    /// Rotated files older than this are deleted. `"0s"` turns the age limit off.
    pub max_age: Dur,
    /// All rotated files together (both streams, compressed or not) stay below this size;
    /// the oldest are deleted first. Unset: no limit.
    pub max_total_size: Option<Size>,
    /// Permission bits of the log files, in octal (`"0640"`). The files belong to
    /// `gateway.user`/`gateway.group` when those are set.
    pub file_mode: FileMode,
    /// fsync a rotated file (in the background) before it is compressed or kept.
    pub fsync_on_rotate: bool,
    /// Memory between the pipe readers and the disk writer. While the disk makes progress a
    /// full queue makes the child wait (nothing is lost); see `stall_timeout`.
    pub queue_size: Size,
    /// When the disk fails (ENOSPC, EIO) or makes no progress for this long, whole lines are
    /// dropped and counted instead of blocking the child. A marker line records the gap.
    pub stall_timeout: Dur,
    /// Also copy the child's lines to clawvisor's own stdout/stderr (containers, journald).
    /// Lossy by design: a blocked terminal never slows the capture.
    pub tee: bool,
    /// Recent lines kept in memory for `ctl logs` and the pause record. Memory is bounded
    /// too: at most 4 MiB of recent output (plus the last read, up to 1 MiB) whatever
    /// `max_line` is, so with very long lines fewer than `ring_lines` are kept.
    pub ring_lines: u32,
    /// Include the built-in rules (OutOfMemoryError, ModelNotResponding, InvalidAPIResponse,
    /// "CUDA out of memory", EADDRINUSE; each an alert with a 5 minute cooldown) before
    /// the ones in `[[logs.patterns]]`.
    pub default_patterns: bool,
    /// Rules matched against every line; see `[[logs.patterns]]`.
    pub patterns: Vec<PatternRule>,
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            dir: PathBuf::from("/var/log/clawvisor"),
            layout: LogLayout::Split,
            timestamps: false,
            stream_prefix: false,
            max_line: Size::kib(64),
            max_size: Size::mib(100),
            rotate_every: RotateEvery::Daily,
            rotate_timezone: RotateTimezone::Local,
            compress: true,
            compress_level: 6,
            delay_compress: false,
            keep_files: 30,
            max_age: Dur::secs(30 * 86400),
            max_total_size: None,
            file_mode: FileMode(0o640),
            fsync_on_rotate: true,
            queue_size: Size::mib(4),
            stall_timeout: Dur::secs(2),
            tee: false,
            ring_lines: 1000,
            default_patterns: true,
            patterns: Vec::new(),
        }
    }
}

/// One `[[logs.patterns]]` rule. Exactly one of `literal` and `regex`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PatternRule {
    /// A name for alerts and `ctl status`. Default: the literal or regex itself.
    #[serde(default)]
    pub name: Option<String>,
    /// Match lines containing this exact text.
    #[serde(default)]
    pub literal: Option<String>,
    /// Match lines matching this regular expression (Rust `regex` syntax).
    #[serde(default)]
    pub regex: Option<String>,
    /// Only look at this stream: `"out"` or `"err"`. Default: both.
    #[serde(default)]
    pub stream: Option<super::Stream>,
    /// `"alert"`, `"restart"` or `"pause"`.
    #[serde(default = "default_action")]
    pub action: Reaction,
    /// After a match, further matches of this rule are counted but not acted on for this long.
    #[serde(default = "default_cooldown")]
    pub cooldown: Dur,
}

fn default_action() -> Reaction {
    Reaction::Alert
}

fn default_cooldown() -> Dur {
    Dur::secs(300)
}

impl PatternRule {
    /// A literal rule with the defaults (alert, 5 minute cooldown).
    pub fn literal(text: &str) -> PatternRule {
        PatternRule {
            name: None,
            literal: Some(text.to_string()),
            regex: None,
            stream: None,
            action: default_action(),
            cooldown: default_cooldown(),
        }
    }

    /// The rule's name as shown in alerts.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.literal.clone())
            .or_else(|| self.regex.clone())
            .unwrap_or_default()
    }
}

/// The seed article's grep list plus two failures openclaw is known for.
pub fn default_pattern_rules() -> Vec<PatternRule> {
    [
        "OutOfMemoryError",
        "ModelNotResponding",
        "InvalidAPIResponse",
        "CUDA out of memory",
        "EADDRINUSE",
    ]
    .iter()
    .map(|t| PatternRule::literal(t))
    .collect()
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogLayout {
    Split,
    Merged,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RotateTimezone {
    Local,
    Utc,
}

/// When time-based rotation happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RotateEvery {
    Never,
    Hourly,
    Daily,
    /// Boundaries every this long, counted from midnight.
    Every(std::time::Duration),
}

impl std::str::FromStr for RotateEvery {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "never" => Ok(RotateEvery::Never),
            "hourly" => Ok(RotateEvery::Hourly),
            "daily" => Ok(RotateEvery::Daily),
            other => match humantime::parse_duration(other) {
                Ok(d) if d.is_zero() => Err("a rotation period must be longer than 0s".into()),
                Ok(d) => Ok(RotateEvery::Every(d)),
                Err(_) => Err(format!(
                    "{s:?} is not a rotation period (try \"daily\", \"hourly\", \"never\" or \"6h\")"
                )),
            },
        }
    }
}

impl std::fmt::Display for RotateEvery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RotateEvery::Never => f.write_str("never"),
            RotateEvery::Hourly => f.write_str("hourly"),
            RotateEvery::Daily => f.write_str("daily"),
            RotateEvery::Every(d) => write!(f, "{}", humantime::format_duration(*d)),
        }
    }
}

impl<'de> Deserialize<'de> for RotateEvery {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

impl Serialize for RotateEvery {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// Unix permission bits written in octal, as in `"0640"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileMode(pub u32);

impl<'de> Deserialize<'de> for FileMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        u32::from_str_radix(s.trim(), 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .map(FileMode)
            .ok_or_else(|| {
                de::Error::custom(format!("{s:?} is not an octal file mode (try \"0640\")"))
            })
    }
}

impl Serialize for FileMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:04o}", self.0))
    }
}

impl LogsConfig {
    /// The rules in force: the built-in ones (unless `default_patterns = false`), then the
    /// configured ones.
    pub fn effective_patterns(&self) -> Vec<PatternRule> {
        let mut v = if self.default_patterns {
            default_pattern_rules()
        } else {
            Vec::new()
        };
        v.extend(self.patterns.iter().cloned());
        v
    }

    pub fn validate(&self, out: &mut Vec<(String, String)>) {
        if self.max_line.bytes() < 128 {
            out.push((
                "logs.max_line".into(),
                format!("{} is too small (at least 128B)", self.max_line),
            ));
        }
        if !(1..=9).contains(&self.compress_level) {
            out.push((
                "logs.compress_level".into(),
                format!("{} must be between 1 and 9", self.compress_level),
            ));
        }
        if self.queue_size.bytes() < 64 * 1024 {
            out.push((
                "logs.queue_size".into(),
                format!("{} is too small (at least 64KiB)", self.queue_size),
            ));
        }
        if self.stall_timeout.get().is_zero() {
            out.push(("logs.stall_timeout".into(), "must be longer than 0s".into()));
        }
        for (i, p) in self.patterns.iter().enumerate() {
            let key = format!("logs.patterns.{i}");
            match (&p.literal, &p.regex) {
                (Some(_), Some(_)) => {
                    out.push((key, "set either literal or regex, not both".into()))
                }
                (None, None) => out.push((key, "needs a literal or a regex".into())),
                (Some(l), None) if l.is_empty() => {
                    out.push((format!("{key}.literal"), "must not be empty".into()))
                }
                (None, Some(r)) => {
                    if let Err(e) = regex::bytes::Regex::new(r) {
                        out.push((
                            format!("{key}.regex"),
                            format!("{r:?} is not a valid regex: {e}"),
                        ));
                    } else if regex::bytes::Regex::new(r).is_ok_and(|re| re.is_match(b"")) {
                        out.push((format!("{key}.regex"), format!("{r:?} matches every line")));
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotate_every_parses_words_and_durations() {
        assert_eq!("daily".parse::<RotateEvery>().unwrap(), RotateEvery::Daily);
        assert_eq!(
            "15m".parse::<RotateEvery>().unwrap(),
            RotateEvery::Every(std::time::Duration::from_secs(900))
        );
        assert!(
            "weekly"
                .parse::<RotateEvery>()
                .unwrap_err()
                .contains("not a rotation period")
        );
    }
}
