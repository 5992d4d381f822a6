//! A channel's bounded queue. On overflow it drops reminders (newest first), never the first
//! message of a condition or a recovery; those may go past the bound by a fixed slack, which
//! the policy keeps small (one firing and one recovery per condition).

use std::collections::VecDeque;

use super::alert::Notification;

/// How far protected messages may go past the bound before even they are refused.
const PROTECTED_SLACK: usize = 4;

#[derive(Debug)]
pub struct BoundedQueue {
    items: VecDeque<Notification>,
    cap: usize,
}

/// What happened to a push.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// Queued, and this many older reminders made room for it.
    QueuedDropping(u64),
    /// Refused (counted as dropped).
    Dropped,
}

impl BoundedQueue {
    pub fn new(cap: usize) -> BoundedQueue {
        BoundedQueue {
            items: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn pop(&mut self) -> Option<Notification> {
        self.items.pop_front()
    }

    pub fn push(&mut self, n: Notification) -> Pushed {
        if self.items.len() < self.cap {
            self.items.push_back(n);
            return Pushed::Queued;
        }
        if !n.is_protected() {
            return Pushed::Dropped;
        }
        // Make room by dropping the newest reminder queued.
        if let Some(i) = self.items.iter().rposition(|q| !q.is_protected()) {
            self.items.remove(i);
            self.items.push_back(n);
            return Pushed::QueuedDropping(1);
        }
        if self.items.len() < self.cap + PROTECTED_SLACK * self.cap {
            self.items.push_back(n);
            return Pushed::Queued;
        }
        Pushed::Dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::alert::{Alert, Severity, Status};
    use std::time::SystemTime;

    fn n(reminder: bool, status: Status) -> Notification {
        let a = Alert::new("crash", Severity::Warning, "gateway", "x");
        Notification {
            fingerprint: a.fingerprint(),
            alert: a,
            status,
            occurrences: 1,
            started_at: SystemTime::UNIX_EPOCH,
            reminder,
            test: false,
            host: "h".into(),
        }
    }

    #[test]
    fn overflow_drops_reminders_never_firsts_or_recoveries() {
        let mut q = BoundedQueue::new(2);
        assert_eq!(q.push(n(true, Status::Firing)), Pushed::Queued);
        assert_eq!(q.push(n(true, Status::Firing)), Pushed::Queued);
        // Full: another reminder is refused...
        assert_eq!(q.push(n(true, Status::Firing)), Pushed::Dropped);
        // ...a first occurrence and a recovery push reminders out.
        assert_eq!(q.push(n(false, Status::Firing)), Pushed::QueuedDropping(1));
        assert_eq!(q.push(n(true, Status::Resolved)), Pushed::QueuedDropping(1));
        assert!(q.items.iter().all(Notification::is_protected));
        // With only protected ones queued they still get in, up to the slack.
        let mut kept = 0;
        for _ in 0..100 {
            if q.push(n(false, Status::Firing)) != Pushed::Dropped {
                kept += 1;
            }
        }
        assert_eq!(q.len(), 2 + 2 * PROTECTED_SLACK);
        assert_eq!(kept, 2 * PROTECTED_SLACK);
    }
}
