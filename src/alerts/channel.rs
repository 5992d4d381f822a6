//! A channel: one configured receiver (a webhook, a mail relay, a program) with its filter.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::alert::{Notification, Severity};
use super::retry::SendError;
use crate::config::AlertFilter;

/// Delivers one message, once; retries and the hard timeout are the sender's business.
pub trait Transport: Send + Sync + 'static {
    fn send<'a>(
        &'a self,
        n: &'a Notification,
    ) -> Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;
}

/// Which alerts a channel takes, resolved from its config.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    kinds: Vec<String>,
    min_severity: Option<Severity>,
}

impl Filter {
    pub fn from_config(f: &AlertFilter) -> Filter {
        Filter {
            kinds: f.kinds.clone(),
            min_severity: f.min_severity.as_deref().and_then(Severity::parse),
        }
    }

    pub fn accepts(&self, n: &Notification) -> bool {
        if n.test {
            return true;
        }
        let a = &n.alert;
        (self.kinds.is_empty() || self.kinds.contains(&a.kind))
            && self.min_severity.is_none_or(|m| a.severity >= m)
    }
}

/// What the sender needs to know about a channel.
pub struct ChannelSpec {
    pub name: String,
    /// "webhook:slack", "smtp", "exec".
    pub kind: String,
    pub filter: Filter,
    /// Hard bound on one attempt.
    pub timeout: Duration,
    pub transport: Box<dyn Transport>,
}
