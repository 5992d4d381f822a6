//! Alerts that reach a person: webhook presets, SMTP and exec channels, with dedup,
//! grouping, reminders, recovery and inhibition, delivered off the brain.
//!
//! - [`alert`]: the [`Alert`] any subsystem raises (kind, severity, subject, summary, details).
//! - [`policy`]: the pure rules that turn alerts into messages ([`Notification`]s).
//! - [`format`] and [`text`]: what each receiver reads.
//! - [`router`]: the handle the brain holds; [`sender`]: one queue and task per channel,
//!   with [`retry`] rules; [`webhook`], [`smtp`], [`exec`]: the transports.
//!
//! It meets the rest of clawvisor only through [`AlertRouter::raise`] (and the status
//! snapshot), and imports nothing but the config.

pub mod alert;
pub mod channel;
pub mod exec;
pub mod format;
pub mod policy;
pub mod queue;
pub mod retry;
pub mod router;
pub mod sender;
pub mod smtp;
pub mod text;
pub mod webhook;

pub use alert::{Alert, Details, Notification, Severity, Status};
pub use exec::{HookResult, HookRunner};
pub use router::{AlertRouter, TestResult};
pub use sender::ChannelStats;
