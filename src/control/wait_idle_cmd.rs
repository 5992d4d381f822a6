//! `clawvisor ctl wait-idle`: asks clawvisor for its status over the socket, again and again,
//! and lets [`wait_idle`] judge the `gpu` part. The waiting happens here, in the client: a
//! cron job's long wait holds no connection or slot in clawvisor.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

use super::client::request;
use super::exit_codes::{EXIT_FAILED, client_exit_code, server_exit_code};
use super::protocol::{Request, Response};
use crate::watch::wait_idle::{StatusUnavailable, WaitIdleOpts, wait_idle};

/// How long one status request may take; clawvisor answers status at once when it is well.
const STATUS_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits until idle or `opts.timeout`, printing what it saw; returns the exit code (0 idle,
/// 1 still busy, 3 clawvisor not reachable).
pub(crate) fn run(socket: &Path, opts: &WaitIdleOpts, out: &mut dyn Write) -> i32 {
    let code = wait_idle(|| status_parts(socket), opts, out);
    let _ = out.flush();
    code
}

fn status_parts(socket: &Path) -> Result<Map<String, Value>, StatusUnavailable> {
    match request(socket, &Request::Status, STATUS_TIMEOUT) {
        Ok(Response::Status { status }) => Ok(status.parts),
        Ok(Response::Error { kind, message }) => Err(StatusUnavailable {
            code: server_exit_code(kind),
            why: message,
        }),
        Ok(other) => Err(StatusUnavailable {
            code: EXIT_FAILED,
            why: format!("unexpected answer to status: {other:?}"),
        }),
        Err(e) => Err(StatusUnavailable {
            code: client_exit_code(&e),
            why: e.to_string(),
        }),
    }
}
