//! What every connection handler shares: the rest of clawvisor (the context), the limits a
//! client must keep, and how one reply is written.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

use super::frame::{HEADER_LEN, frame_json};
use super::protocol::{ErrorKind, MAX_FRAME, Response};
use crate::logs::LogPipeline;
use crate::supervisor::{Inbox, NoticeSender};

/// What the server needs from the rest of clawvisor.
#[derive(Clone)]
pub struct ControlContext {
    pub inbox: Inbox,
    pub logs: LogPipeline,
    pub notices: NoticeSender,
    /// The job scheduler, when `[[jobs]]` are configured.
    pub jobs: Option<crate::jobs::JobsHandle>,
}

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub read_timeout: Duration,
    pub reply_timeout: Duration,
    pub max_clients: usize,
}

/// Writes one response; a client that does not read for `read_timeout` is dropped. A reply
/// too large for one frame (the client would reject it) becomes an error that says so.
pub async fn send(conn: &mut UnixStream, r: &Response, limits: Limits) -> std::io::Result<()> {
    let mut bytes = frame_json(r);
    if bytes.len() - HEADER_LEN > MAX_FRAME {
        let msg = format!(
            "the reply ({} bytes) is larger than the {MAX_FRAME}-byte frame limit; it was not sent",
            bytes.len() - HEADER_LEN
        );
        tracing::warn!(target: "clawvisor::control", "{msg}");
        bytes = frame_json(&Response::error(ErrorKind::TooLarge, msg));
    }
    match tokio::time::timeout(limits.read_timeout, conn.write_all(&bytes)).await {
        Ok(res) => res,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}
