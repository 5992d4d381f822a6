//! A systemd-style NOTIFY_SOCKET receiver: every datagram clawvisor sends, with its time.
#![allow(dead_code)]

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct NotifyReceiver {
    sock: UnixDatagram,
    pub path: PathBuf,
    pub t0: Instant,
    /// (time since `t0`, the datagram's text)
    pub got: Vec<(Duration, String)>,
}

impl NotifyReceiver {
    pub fn bind(dir: &Path) -> NotifyReceiver {
        let path = dir.join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        NotifyReceiver {
            sock,
            path,
            t0: Instant::now(),
            got: Vec::new(),
        }
    }

    /// `NOTIFY_SOCKET=...`, for the `env` wrapper of `Clawvisor::launch`.
    pub fn env(&self) -> String {
        format!("NOTIFY_SOCKET={}", self.path.display())
    }

    /// Receives until `done` holds on what was received (true) or `timeout` passes (false);
    /// `each` runs between reads (to poll something else meanwhile).
    pub fn until(
        &mut self,
        timeout: Duration,
        mut each: impl FnMut(Duration),
        done: impl Fn(&[(Duration, String)]) -> bool,
    ) -> bool {
        let end = Instant::now() + timeout;
        let mut buf = [0u8; 8192];
        while Instant::now() < end {
            if let Ok(n) = self.sock.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.got.push((self.t0.elapsed(), text));
            }
            each(self.t0.elapsed());
            if done(&self.got) {
                return true;
            }
        }
        false
    }

    /// The first datagram containing `needle`, with its time.
    pub fn first(&self, needle: &str) -> Option<&(Duration, String)> {
        self.got.iter().find(|(_, m)| m.contains(needle))
    }

    pub fn count(&self, needle: &str) -> usize {
        self.got.iter().filter(|(_, m)| m.contains(needle)).count()
    }

    /// Everything received, one datagram a line, for failure messages.
    pub fn dump(&self) -> String {
        self.got
            .iter()
            .map(|(t, m)| format!("{:>7.3}s {}", t.as_secs_f64(), m.replace('\n', " | ")))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

pub fn has(got: &[(Duration, String)], needle: &str) -> bool {
    got.iter().any(|(_, m)| m.contains(needle))
}
