//! The status page's memory: a bounded ring of compact samples taken from the status
//! snapshot every `metrics.sample_every`, plus the last notices (recent events). Its size is
//! fixed at start (`metrics.history / metrics.sample_every` samples, at most 20000 of
//! [`Sample::BYTES`] (56) each: 2160 samples, 118 KiB, by default; 1.1 MiB at most).

use std::collections::VecDeque;

use super::read::{self, num, part};
use crate::supervisor::{Notice, Status};

/// One point of every chart. f32 keeps it small; NaN means "no reading" (a gap).
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Unix seconds.
    pub t: f64,
    pub rss: f32,
    pub pss: f32,
    pub gpu_used: f32,
    pub gpu_total: f32,
    pub gpu_tree: f32,
    /// 0 to 100, the busiest device.
    pub gpu_util: f32,
    pub liveness_ms: f32,
    pub readiness_ms: f32,
    pub completion_ms: f32,
    pub ttft_ms: f32,
    pub restarts: u32,
    pub state: State,
}

/// The gateway's state, as far as the charts care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Up,
    Paused,
    Down,
}

impl Sample {
    pub const BYTES: usize = std::mem::size_of::<Sample>();

    pub fn from_status(s: &Status, t: f64) -> Sample {
        let m = part(s, "memory");
        let f = |v: Option<f64>| v.map_or(f32::NAN, |v| v as f32);
        let probe = |name: &str| f(num(part(s, &format!("probes.{name}")), "latency_ms"));
        let util = read::gpu_devices(s)
            .iter()
            .filter_map(|(_, d)| d.get("utilization_percent")?.as_f64())
            .fold(f64::NAN, f64::max);
        let running = s.pid.is_some();
        // Readings of a gateway that is gone are stale: leave a gap instead.
        let live = |v: f32| if running { v } else { f32::NAN };
        Sample {
            t,
            rss: live(f(num(m, "rss_bytes"))),
            pss: live(f(num(m, "pss_bytes"))),
            gpu_used: f(read::gpu_sum(s, "memory_used")),
            gpu_total: f(read::gpu_sum(s, "memory_total")),
            gpu_tree: f(num(part(s, "gpu"), "gateway_memory")),
            gpu_util: util as f32,
            liveness_ms: live(probe("liveness")),
            readiness_ms: live(probe("readiness")),
            completion_ms: live(probe("completion")),
            ttft_ms: live(f(num(part(s, "probes.completion"), "first_token_ms"))),
            restarts: s.restarts.min(u64::from(u32::MAX)) as u32,
            state: if s.pause.is_some() {
                State::Paused
            } else if running {
                State::Up
            } else {
                State::Down
            },
        }
    }
}

/// Recent events kept for the page.
pub const EVENTS: usize = 30;

#[derive(Debug)]
pub struct History {
    samples: VecDeque<Sample>,
    capacity: usize,
    events: VecDeque<Notice>,
}

impl History {
    pub fn new(capacity: usize) -> History {
        History {
            samples: VecDeque::with_capacity(capacity),
            capacity,
            events: VecDeque::with_capacity(EVENTS),
        }
    }

    pub fn push(&mut self, s: Sample) {
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back(s);
    }

    pub fn event(&mut self, n: Notice) {
        if self.events.len() == EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(n);
    }

    pub fn samples(&self) -> &VecDeque<Sample> {
        &self.samples
    }

    pub fn events(&self) -> impl DoubleEndedIterator<Item = &Notice> {
        self.events.iter()
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes the sample ring holds at its full size.
    pub fn full_bytes(&self) -> usize {
        self.capacity * Sample::BYTES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: f64) -> Sample {
        Sample {
            t,
            rss: 1.0,
            pss: f32::NAN,
            gpu_used: f32::NAN,
            gpu_total: f32::NAN,
            gpu_tree: f32::NAN,
            gpu_util: f32::NAN,
            liveness_ms: f32::NAN,
            readiness_ms: f32::NAN,
            completion_ms: f32::NAN,
            ttft_ms: f32::NAN,
            restarts: 0,
            state: State::Up,
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_capacity_samples() {
        let mut h = History::new(3);
        for t in 0..10 {
            h.push(sample(t as f64));
        }
        let ts: Vec<f64> = h.samples().iter().map(|s| s.t).collect();
        assert_eq!(ts, [7.0, 8.0, 9.0]);
        assert_eq!(h.full_bytes(), 3 * Sample::BYTES);
        // The size the docs promise (config/metrics.rs, README).
        assert_eq!(Sample::BYTES, 56);
    }
}
