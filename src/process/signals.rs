//! OS signals to clawvisor, turned into inbox messages by one thread. As PID 1 the kernel
//! gives no default action to signals without a handler, so every one we care about has one.

use signal_hook::consts::*;
use signal_hook::iterator::Signals;

use crate::supervisor::{Inbox, Input};

/// Signals that clawvisor handles itself or may forward to the child.
const HANDLED: &[i32] = &[
    SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM,
];

pub fn start(inbox: Inbox) -> std::io::Result<()> {
    let mut signals = Signals::new(HANDLED)?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                let name = nix::sys::signal::Signal::try_from(sig).map_or("?", |s| s.as_str());
                let input = match sig {
                    SIGTERM | SIGINT | SIGQUIT => Input::Shutdown {
                        why: format!("received {name}"),
                    },
                    SIGHUP => Input::Reload { reply: None },
                    _ => Input::Signal { signal: sig },
                };
                inbox.send(input);
            }
        })?;
    Ok(())
}
