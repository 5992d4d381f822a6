//! What the snapshot holds only as "the latest": probe results and latencies, counted as
//! each new reading is seen, so histograms and result counters accumulate. The sampler
//! feeds it every poll; a reading is counted once (by its publication time).

use std::collections::BTreeMap;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

use super::read;
use crate::supervisor::Status;

pub type Labels = Vec<(String, String)>;

/// Probe latency buckets, 5 ms to ~164 s: a liveness check answers in milliseconds, a
/// completion on a loaded model may take minutes.
fn probe_buckets() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.005, 2.0, 16,
    ))
}

/// Time-to-first-token buckets, 50 ms to ~102 s.
fn ttft_buckets() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.05, 2.0, 12,
    ))
}

#[derive(Clone)]
pub struct Tally {
    pub probe_duration: Family<Labels, Histogram, fn() -> Histogram>,
    pub probe_results: Family<Labels, Counter>,
    pub ttft: Histogram,
    /// The `at` of the last reading counted, per probe.
    seen: BTreeMap<String, String>,
}

impl Default for Tally {
    fn default() -> Self {
        let t = Tally {
            probe_duration: Family::new_with_constructor(probe_buckets as fn() -> Histogram),
            probe_results: Family::default(),
            ttft: ttft_buckets(),
            seen: BTreeMap::new(),
        };
        // Every series exists from the start: a probe that never ran reads 0.
        for p in read::PROBES {
            t.touch(p);
        }
        t
    }
}

impl Tally {
    fn touch(&self, probe: &str) {
        let _ = self.probe_duration.get_or_create(&probe_label(probe));
        for result in ["pass", "fail"] {
            let _ = self
                .probe_results
                .get_or_create(&result_labels(probe, result));
        }
    }

    /// Counts every probe reading not counted yet.
    pub fn observe(&mut self, s: &Status) {
        for name in read::probe_names(s) {
            self.touch(&name);
            let Some(v) = read::part(s, &format!("probes.{name}")) else {
                continue;
            };
            let (Some(last), Some(at)) = (
                v.get("last").and_then(|l| l.as_str()),
                v.get("at").and_then(|a| a.as_str()),
            ) else {
                continue;
            };
            if self.seen.get(&name).is_some_and(|s| s == at) {
                continue;
            }
            self.seen.insert(name.clone(), at.to_string());
            let result = if last == "pass" { "pass" } else { "fail" };
            self.probe_results
                .get_or_create(&result_labels(&name, result))
                .inc();
            if let Some(ms) = read::num(Some(v), "latency_ms") {
                self.probe_duration
                    .get_or_create(&probe_label(&name))
                    .observe(ms / 1000.0);
            }
            if let Some(ms) = read::num(Some(v), "first_token_ms") {
                self.ttft.observe(ms / 1000.0);
            }
        }
    }
}

pub fn probe_label(probe: &str) -> Labels {
    vec![("probe".into(), probe.into())]
}

fn result_labels(probe: &str, result: &str) -> Labels {
    vec![
        ("probe".into(), probe.into()),
        ("result".into(), result.into()),
    ]
}
