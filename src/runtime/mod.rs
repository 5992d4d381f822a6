//! The imperative shell around the brain: it starts the gateway, the log pipeline and the
//! watchers, feeds their events to `supervisor::decide` and carries out the actions.

mod alerting;
pub mod hint;
mod runner;
mod watchers;

pub use runner::{Parts, Runner};
pub use watchers::Watchers;
