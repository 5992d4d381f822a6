//! `[metrics]`: the read-only HTTP listener (/metrics, the status page, /healthz, /readyz).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::units::Dur;

/// The most samples the history ring may hold (`history / sample_every`): 56 bytes each,
/// so the ring stays under ~1.1 MiB whatever the config says.
pub const MAX_HISTORY_SAMPLES: u64 = 20_000;

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// The address to serve on, an IP and port such as `"127.0.0.1:9820"`. Absent: no
    /// listener. Everything it serves is read-only, but the status page shows pause reasons
    /// and the gateway's last log lines: keep it on loopback unless a firewall or a
    /// reverse proxy with authentication stands in front (`"0.0.0.0:9820"` opens it to
    /// every network the host is on).
    pub listen: Option<SocketAddr>,
    /// How often the status page's history takes a sample (memory, GPU, probe latency).
    pub sample_every: Dur,
    /// How far back the status page's charts reach; the ring holds
    /// `history / sample_every` samples (at most 20000).
    pub history: Dur,
    /// Most connections served at once; more wait in the kernel's queue.
    pub max_connections: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: None,
            sample_every: Dur::secs(10),
            history: Dur::secs(6 * 3600),
            max_connections: 16,
        }
    }
}

impl MetricsConfig {
    /// Samples the history ring holds at its full size.
    pub fn history_samples(&self) -> usize {
        let every = self.sample_every.get().as_secs_f64().max(0.001);
        (self.history.get().as_secs_f64() / every).ceil().max(1.0) as usize
    }

    pub(super) fn validate(&self, out: &mut Vec<(String, String)>) {
        if self.sample_every.get().is_zero() {
            out.push((
                "metrics.sample_every".into(),
                "must be longer than 0s".into(),
            ));
        } else if self.history.get() < self.sample_every.get() {
            out.push((
                "metrics.history".into(),
                format!(
                    "must be at least metrics.sample_every ({})",
                    self.sample_every
                ),
            ));
        } else if self.history_samples() as u64 > MAX_HISTORY_SAMPLES {
            out.push((
                "metrics.history".into(),
                format!(
                    "{} / {} is {} samples; at most {MAX_HISTORY_SAMPLES} (sample less often)",
                    self.history,
                    self.sample_every,
                    self.history_samples()
                ),
            ));
        }
        if self.max_connections == 0 {
            out.push((
                "metrics.max_connections".into(),
                "must be at least 1".into(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn errors(text: &str) -> String {
        match Config::parse(text, "t.toml") {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn off_by_default_and_checked_when_set() {
        let cfg = Config::parse("", "t.toml").unwrap();
        assert_eq!(cfg.metrics.listen, None);
        assert_eq!(cfg.metrics.history_samples(), 2160);
        let cfg = Config::parse("[metrics]\nlisten = \"127.0.0.1:9820\"", "t.toml").unwrap();
        assert_eq!(cfg.metrics.listen.unwrap().port(), 9820);
        let e = errors("[metrics]\nlisten = \"localhost\"");
        assert!(e.contains("metrics.listen") || e.contains("listen"), "{e}");
        let e = errors("[metrics]\nsample_every = \"1ms\"\nhistory = \"1h\"");
        assert!(
            e.contains("metrics.history") && e.contains("at most 20000"),
            "{e}"
        );
        let e = errors("[metrics]\nsample_every = \"0s\"");
        assert!(e.contains("metrics.sample_every"), "{e}");
        let e = errors("[metrics]\nmax_connections = 0");
        assert!(e.contains("metrics.max_connections"), "{e}");
    }
}
