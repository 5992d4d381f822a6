//! Pattern rules: every rule (literal or regex) is searched in one pass over a whole batch,
//! on a thread of its own fed by a small queue. If matching falls behind, batches are
//! skipped (counted): matching never slows the capture. A match becomes an
//! `Event::Trouble` for `decide()`, at most once per rule per cooldown.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use regex::bytes::{Regex, RegexSet};

use super::batch::Batch;
use super::stats::Counters;
use crate::config::PatternRule;
use crate::supervisor::{Event, Inbox, Reaction};

/// Batches waiting for the matcher (each up to about 1 MiB: this bounds its memory).
const MATCH_QUEUE: usize = 4;
/// Longest excerpt of the matching line put in the event.
const REASON_CHARS: usize = 300;

struct Compiled {
    rules: Vec<PatternRule>,
    /// Any rule; finds candidate lines in a whole batch at once.
    any: Regex,
    /// Which rules a candidate line matches.
    set: RegexSet,
    last_fired: Vec<Option<Instant>>,
    /// Some rule anchors to the line start: with a prefix in front of every line, those
    /// lines must be searched one by one.
    anchored: bool,
}

fn rule_regex(r: &PatternRule) -> String {
    match (&r.literal, &r.regex) {
        (Some(l), _) => regex::escape(l),
        (None, Some(re)) => re.clone(),
        (None, None) => String::from("[^\\s\\S]"),
    }
}

fn compile(rules: Vec<PatternRule>) -> Result<Option<Compiled>, regex::Error> {
    if rules.is_empty() {
        return Ok(None);
    }
    let parts: Vec<String> = rules.iter().map(rule_regex).collect();
    let any = Regex::new(&format!(
        "(?m){}",
        parts
            .iter()
            .map(|p| format!("(?:{p})"))
            .collect::<Vec<_>>()
            .join("|")
    ))?;
    let set = RegexSet::new(&parts)?;
    Ok(Some(Compiled {
        anchored: parts.iter().any(|p| p.contains('^')),
        last_fired: vec![None; rules.len()],
        rules,
        any,
        set,
    }))
}

pub struct Matcher {
    tx: SyncSender<Arc<Batch>>,
    new_rules: Arc<Mutex<Option<Vec<PatternRule>>>>,
}

impl Matcher {
    /// Starts the matcher thread; None when there are no rules.
    pub fn start(rules: Vec<PatternRule>, inbox: Inbox, stats: Arc<Counters>) -> Matcher {
        let compiled = compile(rules).unwrap_or_else(|e| {
            // Validation compiles every regex first; this is a last resort.
            tracing::error!(target: "clawvisor::logs", "log patterns disabled: {e}");
            None
        });
        let (tx, rx) = sync_channel(MATCH_QUEUE);
        let new_rules = Arc::new(Mutex::new(None));
        let nr = new_rules.clone();
        std::thread::Builder::new()
            .name("log-patterns".into())
            .spawn(move || run(rx, compiled, nr, inbox, stats))
            .expect("spawn log pattern thread");
        Matcher { tx, new_rules }
    }

    /// Hands a batch over without waiting; a full queue means this batch is not matched.
    pub fn offer(&self, b: &Arc<Batch>, stats: &Counters) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(b.clone()) {
            Counters::add(&stats.pattern_skipped_lines, b.lines);
        }
    }

    /// Replaces the rules (config reload); takes effect with the next batch.
    pub fn replace(&self, rules: Vec<PatternRule>) {
        *self.new_rules.lock().unwrap() = Some(rules);
    }
}

fn run(
    rx: Receiver<Arc<Batch>>,
    mut compiled: Option<Compiled>,
    new_rules: Arc<Mutex<Option<Vec<PatternRule>>>>,
    inbox: Inbox,
    stats: Arc<Counters>,
) {
    while let Ok(b) = rx.recv() {
        if let Some(rules) = new_rules.lock().unwrap().take() {
            match compile(rules) {
                Ok(c) => compiled = c,
                Err(e) => {
                    tracing::error!(target: "clawvisor::logs", "new log patterns rejected: {e}")
                }
            }
        }
        if let Some(c) = compiled.as_mut() {
            scan(c, &b, &inbox, &stats);
        }
    }
}

fn scan(c: &mut Compiled, b: &Batch, inbox: &Inbox, stats: &Counters) {
    if b.prefix_len == 0 || !c.anchored {
        // One search over the whole batch finds candidate lines; each candidate line is
        // then checked rule by rule, and the search goes on after that line.
        let data = &b.data;
        let mut pos = 0;
        while pos < data.len() {
            let Some(m) = c.any.find_at(data, pos) else {
                break;
            };
            let start = memchr::memrchr(b'\n', &data[..m.start()]).map_or(0, |i| i + 1);
            let end =
                memchr::memchr(b'\n', &data[m.start()..]).map_or(data.len(), |i| m.start() + i);
            let line = &data[start..end];
            check_line(c, b, line.get(b.prefix_len..).unwrap_or(line), inbox, stats);
            pos = end + 1;
        }
    } else {
        for line in b.lines() {
            if c.any.is_match(line) {
                check_line(c, b, line, inbox, stats);
            }
        }
    }
}

fn check_line(c: &mut Compiled, b: &Batch, line: &[u8], inbox: &Inbox, stats: &Counters) {
    for i in c.set.matches(line).iter() {
        let rule = &c.rules[i];
        if rule.stream.is_some_and(|s| s != b.stream) {
            continue;
        }
        Counters::add(&stats.pattern_matches, 1);
        let now = Instant::now();
        if c.last_fired[i].is_some_and(|t| now.duration_since(t) < rule.cooldown.get()) {
            Counters::add(&stats.pattern_suppressed, 1);
            continue;
        }
        c.last_fired[i] = Some(now);
        let text: String = String::from_utf8_lossy(line)
            .chars()
            .take(REASON_CHARS)
            .collect();
        let name = rule.display_name();
        let reaction = rule.action;
        tracing::info!(target: "clawvisor::logs", "log pattern {name:?} matched on std{} ({}): {text}",
            b.stream.name(), reaction_name(reaction));
        inbox.event(Event::Trouble {
            source: format!("logs.pattern:{name}"),
            reason: format!("std{} printed {text:?}", b.stream.name()),
            reaction,
        });
    }
}

fn reaction_name(r: Reaction) -> &'static str {
    match r {
        Reaction::Alert => "alert",
        Reaction::Restart => "restart",
        Reaction::Pause => "pause",
    }
}
