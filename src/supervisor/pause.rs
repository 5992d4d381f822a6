//! The pause record: why the child is held down until a person runs `clawvisor ctl resume`.
//!
//! The record travels in one `ctl status` frame (1 MiB at most) and is saved in
//! state.json, so it is capped by bytes when it is built and again when it is loaded (a
//! file written by an older version, or by hand, may hold more).

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::exit::ExitRecord;

/// The longest line kept in a pause record; a longer one is cut (at a character boundary)
/// and says how much was cut.
pub const LINE_MAX_BYTES: usize = 2048;
/// All kept lines together; the oldest go first.
pub const LINES_MAX_BYTES: usize = 32 * 1024;
/// The reason is text clawvisor builds, but may quote a child's output or an error.
const REASON_MAX_BYTES: usize = 4096;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PauseRecord {
    pub reason: String,
    #[serde(with = "super::wall_time")]
    pub since: SystemTime,
    pub last_exit: Option<ExitRecord>,
    /// The child's last lines of output before the pause (filled in by the shell).
    #[serde(default)]
    pub last_lines: Vec<String>,
}

impl PauseRecord {
    /// Cuts the record down to its byte caps; says in the record what was cut.
    pub fn capped(mut self) -> PauseRecord {
        self.reason = cut_line(&self.reason, REASON_MAX_BYTES);
        let mut lines: Vec<String> = self
            .last_lines
            .iter()
            .map(|l| cut_line(l, LINE_MAX_BYTES))
            .collect();
        let mut total: usize = lines.iter().map(String::len).sum();
        let mut dropped = 0usize;
        while total > LINES_MAX_BYTES && !lines.is_empty() {
            total -= lines.remove(0).len();
            dropped += 1;
        }
        if dropped > 0 {
            lines.insert(
                0,
                format!("[clawvisor: {dropped} earlier lines trimmed to fit the record]"),
            );
        }
        self.last_lines = lines;
        self
    }
}

fn cut_line(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} [clawvisor: trimmed {} bytes]", &s[..end], s.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_and_many_bytes_are_cut_and_say_so() {
        let rec = PauseRecord {
            reason: "r".repeat(10_000),
            since: SystemTime::UNIX_EPOCH,
            last_exit: None,
            last_lines: (0..50)
                .map(|i| format!("{i} {}", "é".repeat(30_000)))
                .collect(),
        };
        let c = rec.capped();
        assert!(c.reason.len() < REASON_MAX_BYTES + 64);
        assert!(c.last_lines[0].contains("earlier lines trimmed"));
        let total: usize = c.last_lines.iter().map(String::len).sum();
        assert!(total <= LINES_MAX_BYTES + 100, "{total}");
        let last = c.last_lines.last().unwrap();
        assert!(
            last.starts_with("49 ") && last.ends_with("bytes]"),
            "{last}"
        );
        let short = PauseRecord {
            reason: "crash loop".into(),
            since: SystemTime::UNIX_EPOCH,
            last_exit: None,
            last_lines: vec!["boom".into()],
        };
        assert_eq!(short.clone().capped(), short);
    }
}
