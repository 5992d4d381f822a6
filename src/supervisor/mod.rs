//! The brain: a pure decision core (`decide`), its state, events and actions, and what it
//! reports (status, notices, the persisted pause). `runtime` is the shell that executes it.

mod backoff;
mod decide;
mod event;
mod exit;
mod pause;
pub mod persist;
pub mod reload_scope;
pub mod restart_reason;
mod state;
mod state_trust;
pub mod wall_time;

pub use decide::decide;
pub use event::{Action, AlertAbout, Command, Event, Reaction};
pub use exit::{Exit, ExitRecord};
pub use pause::PauseRecord;
pub use state::{AfterStop, KILL_GRACE, Now, Phase, RESUME_HINT, Rules, State};
mod input;
mod status;
pub use input::{Inbox, Input};
pub use status::Status;
mod view;
pub use view::GatewayView;
mod notice;
pub use notice::{Notice, NoticeSender};
#[cfg(test)]
mod decide_props;
#[cfg(test)]
mod decide_tests;
pub mod start_job;
