//! `clawvisor ctl`'s exit codes, shared by every subcommand: 0 done, 1 failed, 2 bad usage,
//! 3 clawvisor unreachable (scripts retry on 3 and give up on 1).

use super::client::ClientError;
use super::protocol::ErrorKind;

pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_UNREACHABLE: i32 = 3;

/// The exit code for an error answer from clawvisor.
pub fn server_exit_code(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::Timeout | ErrorKind::Unavailable => EXIT_UNREACHABLE,
        _ => EXIT_FAILED,
    }
}

/// The exit code for a request that got no answer.
pub fn client_exit_code(e: &ClientError) -> i32 {
    match e {
        ClientError::Unreachable { .. } | ClientError::Timeout(_) | ClientError::Closed => {
            EXIT_UNREACHABLE
        }
        ClientError::PermissionDenied { .. } | ClientError::Protocol(_) | ClientError::Io(_) => {
            EXIT_FAILED
        }
    }
}
