//! What other parts (scheduled jobs) may know of the gateway: its pid, whether it is ready,
//! a counter that moves at every start, exit and in-place restart, and whether clawvisor is
//! shutting down. Published by the runner after every event, read through a watch channel.

use super::state::{AfterStop, Phase, State};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GatewayView {
    pub pid: Option<i32>,
    pub ready: bool,
    /// Moves at every spawn, exit and forwarded restart signal (SIGUSR2): work that began
    /// under another value saw the gateway restart under it.
    pub epoch: u64,
    /// clawvisor is stopping (SIGTERM, `ctl shutdown`): jobs stop too.
    pub shutting_down: bool,
}

impl GatewayView {
    /// The view after `state`, with the epoch already advanced by the caller. Pure.
    pub fn of(state: &State, epoch: u64) -> GatewayView {
        let (pid, ready) = match state.phase {
            Phase::Running { pid, ready, .. } => (Some(pid), ready),
            _ => (None, false),
        };
        GatewayView {
            pid,
            ready,
            epoch,
            shutting_down: matches!(
                state.phase,
                Phase::Exiting { .. }
                    | Phase::Stopping {
                        then: AfterStop::Exit,
                        ..
                    }
            ),
        }
    }
}
