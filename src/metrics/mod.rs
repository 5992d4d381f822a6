//! The read-only HTTP listener (`[metrics] listen`): Prometheus metrics at /metrics, a
//! status page with charts at /, clawvisor's own liveness at /healthz and the gateway's
//! readiness at /readyz. It meets the brain only through `Input::Status` (the snapshot
//! `ctl status` also reads) and the notice broadcast; nothing here changes state.

mod chart;
mod families;
mod health;
mod history;
mod html;
mod http;
mod page;
mod read;
mod sampler;
mod tally;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::task::JoinHandle;

pub use families::CONTENT_TYPE;
pub use history::Sample;

use crate::config::Config;
use crate::supervisor::{Inbox, NoticeSender};

/// Unix seconds of a wall time.
pub(crate) fn unix(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

pub(crate) fn unix_now() -> f64 {
    unix(SystemTime::now())
}

/// A bound, not yet serving, metrics listener.
pub struct MetricsServer {
    listener: std::net::TcpListener,
    addr: SocketAddr,
    constants: families::Constants,
    sample_every: std::time::Duration,
    capacity: usize,
    max_connections: usize,
}

impl MetricsServer {
    /// Binds `[metrics] listen` (at start-up, so a taken port stops clawvisor before the
    /// gateway is spawned). None when the section does not ask for a listener.
    pub fn bind(cfg: &Config) -> Result<Option<MetricsServer>, String> {
        let m = &cfg.metrics;
        let Some(addr) = m.listen else {
            return Ok(None);
        };
        let listener = std::net::TcpListener::bind(addr)
            .and_then(|l| l.set_nonblocking(true).map(|_| l))
            .map_err(|e| format!("metrics.listen {addr}: cannot listen: {e}"))?;
        let addr = listener.local_addr().unwrap_or(addr);
        if !addr.ip().is_loopback() {
            tracing::warn!(
                %addr,
                "metrics.listen is not a loopback address: the status page (pause reasons, the gateway's last log lines) is open to that network"
            );
        }
        Ok(Some(MetricsServer {
            listener,
            addr,
            constants: families::Constants {
                version: env!("CARGO_PKG_VERSION"),
                start_time: unix_now(),
                memory_warn_bytes: nonzero(cfg.memory.warn_above.0),
                memory_restart_bytes: nonzero(cfg.memory.restart_above.0),
                history_capacity: m.history_samples(),
            },
            sample_every: m.sample_every.get(),
            capacity: m.history_samples(),
            max_connections: m.max_connections,
        }))
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts the sampler and the listener on the current tokio runtime.
    pub fn serve(self, inbox: Inbox, notices: &NoticeSender) -> JoinHandle<()> {
        let shared = Arc::new(sampler::Shared {
            inbox,
            history: Mutex::new(history::History::new(self.capacity)),
            tally: Mutex::new(tally::Tally::default()),
        });
        let rx = notices.subscribe();
        let every = self.sample_every;
        let addr = self.addr;
        let ctx = Arc::new(http::Ctx {
            shared: shared.clone(),
            constants: self.constants,
        });
        let max = self.max_connections;
        let listener = self.listener;
        tokio::spawn(async move {
            let listener = match tokio::net::TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!(%addr, "metrics listener unusable: {e}");
                    return;
                }
            };
            tracing::info!(%addr, "metrics listening: /metrics, /, /healthz, /readyz");
            let sampler = tokio::spawn(sampler::run(shared, rx, every));
            http::serve(listener, ctx, max).await;
            sampler.abort();
        })
    }
}

/// A threshold of 0 means "off".
fn nonzero(v: u64) -> Option<u64> {
    (v > 0).then_some(v)
}
