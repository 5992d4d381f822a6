//! The control server: accepts connections on its own task, checks who is calling, reads
//! framed requests with a timeout, and hands each one to [`super::dispatch`].
//!
//! A connection may carry several plain requests in a row; a stream (`logs --follow`,
//! `events`) keeps it until the client hangs up. A bad frame gets an error response and
//! then the connection is closed: after garbage there is no telling where the next frame
//! begins. No client can hurt another or the supervisor: each has its own task, its own
//! timeouts, and a slot out of `max_clients`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixStream;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::connection::{ControlContext, Limits, send};
use super::dispatch::answer;
use super::error::ControlError;
use super::frame::{FrameError, read_frame};
use super::peer::{Access, Peer, peer_groups};
use super::protocol::{ErrorKind, Request, Response, decode_request};
use super::socket_file::{self, Ownership, SocketFile};
use super::socket_path;
use super::stream::stream;
use crate::config::ControlConfig;

/// A bound, not yet serving, control socket. Dropping it (or the task [`serve`] returns,
/// e.g. by `abort()`) removes the socket file.
///
/// [`serve`]: ControlServer::serve
#[derive(Debug)]
pub struct ControlServer {
    listener: std::os::unix::net::UnixListener,
    file: SocketFile,
    access: Access,
    limits: Limits,
}

impl ControlServer {
    /// Claims the socket (at start-up, before the child is spawned): resolves the path and
    /// the allowed group, replaces a stale socket, refuses a live one, sets mode 0600
    /// (0660 and the group's ownership when `[control] group` is set).
    pub fn bind(cfg: &ControlConfig) -> Result<ControlServer, ControlError> {
        let access = Access::resolve(cfg.group.as_deref())?;
        let own = Ownership {
            mode: if access.group_gid().is_some() {
                0o660
            } else {
                0o600
            },
            gid: access.group_gid(),
        };
        let (listener, file) = socket_file::bind(&socket_path(cfg), &own)?;
        Ok(ControlServer {
            listener,
            file,
            access,
            limits: Limits {
                read_timeout: cfg.read_timeout.get(),
                reply_timeout: cfg.reply_timeout.get(),
                max_clients: cfg.max_clients,
            },
        })
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Starts answering on a task of the current tokio runtime. Abort the handle (or let
    /// the runtime end) at shutdown: that removes the socket file.
    pub fn serve(self, ctx: ControlContext) -> JoinHandle<()> {
        tokio::spawn(self.accept_loop(ctx))
    }

    /// Removes the socket file without serving (start-up failed after bind).
    pub fn close(self) {}

    async fn accept_loop(self, ctx: ControlContext) {
        let ControlServer {
            listener,
            file,
            access,
            limits,
        } = self;
        let listener = match tokio::net::UnixListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(socket = %file.path().display(), "control socket unusable: {e}");
                return;
            }
        };
        tracing::info!(socket = %file.path().display(), "control socket listening");
        let shared = Arc::new(Shared {
            ctx,
            access,
            limits,
            slots: Arc::new(Semaphore::new(limits.max_clients)),
        });
        // `file` lives as long as this loop: aborting the task removes the socket.
        let _file = file;
        loop {
            match listener.accept().await {
                Ok((conn, _)) => {
                    tokio::spawn(serve_connection(conn, shared.clone()));
                }
                Err(e) => {
                    // EMFILE and friends: wait for descriptors to come back, don't spin.
                    tracing::warn!("control socket accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

struct Shared {
    ctx: ControlContext,
    access: Access,
    limits: Limits,
    slots: Arc<Semaphore>,
}

async fn serve_connection(mut conn: UnixStream, shared: Arc<Shared>) {
    let limits = shared.limits;
    let Ok(_slot) = shared.slots.clone().try_acquire_owned() else {
        let msg = format!(
            "too many control clients (max_clients = {}); try again",
            limits.max_clients
        );
        let _ = send(&mut conn, &Response::error(ErrorKind::Busy, msg), limits).await;
        return;
    };
    let peer = match conn.peer_cred() {
        Ok(c) => Peer {
            uid: c.uid(),
            gid: c.gid(),
            pid: c.pid(),
        },
        Err(e) => {
            tracing::warn!("control socket: cannot read the peer's credentials: {e}");
            return;
        }
    };
    if !shared.access.allows(peer, peer_groups(&conn).as_deref()) {
        tracing::warn!(
            uid = peer.uid,
            gid = peer.gid,
            pid = peer.pid,
            "control socket: refused a client whose uid may not use it"
        );
        let msg = format!(
            "uid {} may not use this control socket (allowed: root, the user clawvisor runs as, \
             and members of `[control] group`)",
            peer.uid
        );
        let _ = send(
            &mut conn,
            &Response::error(ErrorKind::PermissionDenied, msg),
            limits,
        )
        .await;
        return;
    }
    loop {
        let bytes = match tokio::time::timeout(limits.read_timeout, read_frame(&mut conn)).await {
            Ok(Ok(Some(b))) => b,
            Ok(Ok(None)) => return,
            Err(_) => {
                let msg = format!(
                    "no complete request within {} (read_timeout)",
                    humantime::format_duration(limits.read_timeout)
                );
                let _ = send(&mut conn, &Response::error(ErrorKind::Timeout, msg), limits).await;
                return;
            }
            Ok(Err(FrameError::Io(_))) => return,
            Ok(Err(e @ FrameError::TooLarge(_))) => {
                let _ = send(
                    &mut conn,
                    &Response::error(ErrorKind::TooLarge, e.to_string()),
                    limits,
                )
                .await;
                return;
            }
            Ok(Err(e @ FrameError::Truncated { .. })) => {
                let _ = send(
                    &mut conn,
                    &Response::error(ErrorKind::BadRequest, e.to_string()),
                    limits,
                )
                .await;
                return;
            }
        };
        let request: Request = match decode_request(&bytes) {
            Ok(r) => r,
            Err((kind, msg)) => {
                tracing::debug!(uid = peer.uid, "control socket: bad request: {msg}");
                let _ = send(&mut conn, &Response::error(kind, msg), limits).await;
                return;
            }
        };
        tracing::debug!(
            uid = peer.uid,
            pid = peer.pid,
            command = request.name(),
            "control request"
        );
        if request.is_stream() {
            stream(conn, request, &shared.ctx, limits).await;
            return;
        }
        let response = answer(request, &shared.ctx, peer, limits).await;
        if send(&mut conn, &response, limits).await.is_err() {
            return;
        }
    }
}
