//! Counting dropped lines, the marker line that records a gap, and the (rate-limited)
//! warning and event for the decision core.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use super::Stream;
use super::stamp::rfc3339_millis;
use crate::supervisor::{Event, Inbox, Reaction};

/// At most one drop event per this long (the marker line still records every gap).
const EVENT_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
pub struct Gap {
    pub lines: u64,
    pub bytes: u64,
    pub first: SystemTime,
    pub last: SystemTime,
    pub reason: String,
}

impl Gap {
    /// The marker line written when writing works again.
    pub fn marker(&self, stream: Stream) -> String {
        format!(
            "clawvisor: dropped {} lines ({} bytes) of std{} between {} and {}: {}\n",
            self.lines,
            self.bytes,
            stream.name(),
            rfc3339_millis(self.first),
            rfc3339_millis(self.last),
            self.reason
        )
    }
}

pub struct Drops {
    gaps: Mutex<[Option<Gap>; 2]>,
    last_event: Mutex<Option<Instant>>,
    inbox: Inbox,
}

fn slot(s: Stream) -> usize {
    match s {
        Stream::Out => 0,
        Stream::Err => 1,
    }
}

impl Drops {
    pub fn new(inbox: Inbox) -> Drops {
        Drops {
            gaps: Mutex::new([None, None]),
            last_event: Mutex::new(None),
            inbox,
        }
    }

    pub fn record(&self, stream: Stream, lines: u64, bytes: u64, at: SystemTime, reason: &str) {
        let starts_gap = {
            let mut g = self.gaps.lock().unwrap();
            match &mut g[slot(stream)] {
                Some(gap) => {
                    gap.lines += lines;
                    gap.bytes += bytes;
                    gap.last = at;
                    false
                }
                none => {
                    *none = Some(Gap {
                        lines,
                        bytes,
                        first: at,
                        last: at,
                        reason: reason.to_string(),
                    });
                    true
                }
            }
        };
        if starts_gap {
            let mut last = self.last_event.lock().unwrap();
            if last.is_none_or(|t| t.elapsed() >= EVENT_INTERVAL) {
                *last = Some(Instant::now());
                let msg = format!("dropping std{} lines: {reason}", stream.name());
                tracing::warn!(target: "clawvisor::logs", "{msg}");
                self.inbox.event(Event::Trouble {
                    source: "logs".into(),
                    reason: msg,
                    reaction: Reaction::Alert,
                });
            }
        }
    }

    /// The gap to record for `stream`, if lines were dropped since the last marker.
    pub fn take(&self, stream: Stream) -> Option<Gap> {
        self.gaps.lock().unwrap()[slot(stream)].take()
    }

    /// Puts back a gap whose marker could not be written.
    pub fn restore(&self, stream: Stream, gap: Gap) {
        let mut g = self.gaps.lock().unwrap();
        let s = &mut g[slot(stream)];
        *s = Some(match s.take() {
            None => gap,
            Some(newer) => Gap {
                lines: gap.lines + newer.lines,
                bytes: gap.bytes + newer.bytes,
                first: gap.first,
                last: newer.last,
                reason: gap.reason,
            },
        });
    }

    pub fn pending(&self) -> bool {
        self.gaps.lock().unwrap().iter().any(|g| g.is_some())
    }
}
