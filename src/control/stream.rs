//! Streaming answers: `logs --follow` and `events`. They hold the connection until the
//! client hangs up or clawvisor exits. A reader that falls behind is told how much it
//! missed (`Lagged`) instead of slowing the log pipeline or the supervisor.

use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;
use tokio::sync::broadcast::{self, error::RecvError};

use super::connection::{ControlContext, Limits, send};
use super::dispatch::logs_response;
use super::protocol::{Request, Response};

pub(crate) async fn stream(
    mut conn: UnixStream,
    req: Request,
    ctx: &ControlContext,
    limits: Limits,
) {
    match req {
        Request::Logs { lines, stream, .. } => {
            // Subscribe before taking the tail, so no line falls between the two (one may
            // appear in both).
            let rx = ctx.logs.subscribe();
            let logs = ctx.logs.clone();
            let tail = tokio::task::spawn_blocking(move || logs.tail(lines, stream))
                .await
                .unwrap_or_default();
            if send(&mut conn, &logs_response(tail), limits).await.is_err() {
                return;
            }
            forward(conn, rx, limits, |line| {
                if stream.is_none_or(|s| s == line.stream) {
                    Some(Response::Line { line })
                } else {
                    None
                }
            })
            .await;
        }
        Request::Events => {
            let rx = ctx.notices.subscribe();
            if send(&mut conn, &Response::Subscribed, limits)
                .await
                .is_err()
            {
                return;
            }
            forward(conn, rx, limits, |notice| Some(Response::Notice { notice })).await;
        }
        _ => {}
    }
}

/// Sends what the channel carries until the client leaves or the channel closes.
async fn forward<T: Clone>(
    mut conn: UnixStream,
    mut rx: broadcast::Receiver<T>,
    limits: Limits,
    to_response: impl Fn(T) -> Option<Response>,
) {
    let mut scratch = [0u8; 256];
    loop {
        let response = tokio::select! {
            item = rx.recv() => match item {
                Ok(v) => match to_response(v) {
                    Some(r) => r,
                    None => continue,
                },
                Err(RecvError::Lagged(missed)) => Response::Lagged { missed },
                Err(RecvError::Closed) => return,
            },
            // A streaming client has nothing more to say; reading only notices hang-up.
            n = conn.read(&mut scratch) => match n {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            },
        };
        if send(&mut conn, &response, limits).await.is_err() {
            return;
        }
    }
}
