//! The brain: a pure decision core (`decide`) and the shell that executes its actions.

mod alerting;
mod backoff;
mod decide;
mod event;
mod exit;
pub mod hint;
mod pause;
pub mod persist;
mod reload_scope;
pub mod restart_reason;
mod state;
mod state_trust;
pub mod wall_time;

pub use decide::{RESUME_HINT, decide};
pub use event::{Action, AlertAbout, Command, Event, Reaction};
pub use exit::{Exit, ExitRecord};
pub use pause::PauseRecord;
pub use state::{AfterStop, KILL_GRACE, Now, Phase, Rules, State};
mod input;
mod status;
pub use input::{Inbox, Input};
pub use status::Status;
mod view;
pub use view::GatewayView;
mod notice;
pub use notice::{Notice, NoticeSender};
mod runner;
mod start_job;
pub use runner::{Parts, Runner};
#[cfg(test)]
mod decide_props;
#[cfg(test)]
mod decide_tests;
