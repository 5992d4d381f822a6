//! Plain (one-answer) requests: each becomes an [`Input`] for the supervisor or a call on
//! the log pipeline. The handlers are thin on purpose: the decision stays in `decide()`.

use tokio::sync::oneshot;

use super::connection::{ControlContext, Limits};
use super::peer::Peer;
use super::protocol::{ErrorKind, JobsOp, MAX_FRAME, ProbeKind, Request, Response};
use crate::config::SignalName;
use crate::logs::LogLine;
use crate::supervisor::{Command, Event, Input};

pub(crate) async fn answer(
    req: Request,
    ctx: &ControlContext,
    peer: Peer,
    limits: Limits,
) -> Response {
    match req {
        Request::Status => status(ctx, limits).await,
        Request::Pause { reason } => command(ctx, Command::Pause { reason }, limits).await,
        Request::Resume => command(ctx, Command::Resume, limits).await,
        Request::Restart => command(ctx, Command::Restart, limits).await,
        Request::Stop => command(ctx, Command::Stop, limits).await,
        Request::Start => command(ctx, Command::Start, limits).await,
        Request::Shutdown => {
            let who = match peer.pid {
                Some(pid) => format!("uid {}, pid {pid}", peer.uid),
                None => format!("uid {}", peer.uid),
            };
            if ctx
                .inbox
                .0
                .send(Input::Shutdown {
                    why: format!("`clawvisor ctl shutdown` ({who})"),
                })
                .is_err()
            {
                return unavailable();
            }
            ok("shutting down: stopping the gateway, then clawvisor exits")
        }
        Request::Signal { name } => match name.parse::<SignalName>() {
            Ok(SignalName(sig)) => {
                if ctx
                    .inbox
                    .0
                    .send(Input::Event(Event::Forward { signal: sig as i32 }))
                    .is_err()
                {
                    return unavailable();
                }
                ok(format!(
                    "sent {} to the gateway's process group",
                    sig.as_str()
                ))
            }
            Err(e) => Response::error(ErrorKind::BadRequest, e),
        },
        Request::Logs { lines, stream, .. } => {
            let logs = ctx.logs.clone();
            let tail = tokio::task::spawn_blocking(move || logs.tail(lines, stream))
                .await
                .unwrap_or_default();
            logs_response(tail)
        }
        Request::Rotate => {
            let logs = ctx.logs.clone();
            match tokio::task::spawn_blocking(move || logs.rotate()).await {
                Ok(()) => ok("log files rotated"),
                Err(e) => Response::error(ErrorKind::Refused, format!("rotation failed: {e}")),
            }
        }
        Request::Reload => {
            let (tx, rx) = oneshot::channel();
            if ctx.inbox.0.send(Input::Reload { reply: Some(tx) }).is_err() {
                return unavailable();
            }
            reply(rx, limits).await
        }
        Request::Probe {
            kind: ProbeKind::Quality,
        } => probe_quality(ctx).await,
        Request::Jobs { op, name, lines } => jobs(ctx, op, name, lines).await,
        Request::AlertTest { channel } => alert_test(ctx, channel).await,
        // Streams are handled by `stream`; reaching here is a bug, answered politely.
        Request::Events => Response::error(ErrorKind::BadRequest, "events is a stream"),
    }
}

async fn status(ctx: &ControlContext, limits: Limits) -> Response {
    let (tx, rx) = oneshot::channel();
    if ctx.inbox.0.send(Input::Status { reply: tx }).is_err() {
        return unavailable();
    }
    match tokio::time::timeout(limits.reply_timeout, rx).await {
        Ok(Ok(mut status)) => {
            // The log pipeline keeps its own counters; read them here, off the brain's task.
            if !status.parts.contains_key("logs") {
                status.parts.insert("logs".into(), ctx.logs.stats());
            }
            Response::Status {
                status: Box::new(status),
            }
        }
        Ok(Err(_)) => unavailable(),
        Err(_) => timed_out(limits),
    }
}

async fn command(ctx: &ControlContext, command: Command, limits: Limits) -> Response {
    let (tx, rx) = oneshot::channel();
    if ctx
        .inbox
        .0
        .send(Input::Command { command, reply: tx })
        .is_err()
    {
        return unavailable();
    }
    reply(rx, limits).await
}

async fn reply(rx: oneshot::Receiver<Result<String, String>>, limits: Limits) -> Response {
    match tokio::time::timeout(limits.reply_timeout, rx).await {
        Ok(Ok(Ok(message))) => Response::Ok { message },
        Ok(Ok(Err(message))) => Response::error(ErrorKind::Refused, message),
        Ok(Err(_)) => unavailable(),
        Err(_) => timed_out(limits),
    }
}

/// Runs the quality tests and answers with the report. Not bounded by `reply_timeout`: a run
/// takes as long as the model needs; `Watchers::run_quality_now` bounds it (each test's
/// `quality.timeout`, plus slack) and always answers.
async fn probe_quality(ctx: &ControlContext) -> Response {
    let (tx, rx) = oneshot::channel();
    if ctx.inbox.0.send(Input::ProbeQuality { reply: tx }).is_err() {
        return unavailable();
    }
    match rx.await {
        Ok(Ok(report)) => Response::QualityReport { report },
        Ok(Err(message)) => Response::error(ErrorKind::Refused, message),
        Err(_) => unavailable(),
    }
}

/// `ctl jobs ...`: answered by the job scheduler's task, never by the brain.
async fn jobs(ctx: &ControlContext, op: JobsOp, name: Option<String>, lines: usize) -> Response {
    use crate::jobs::JobsRequest;
    let Some(handle) = &ctx.jobs else {
        return match op {
            JobsOp::List => Response::Jobs {
                op,
                data: serde_json::json!({ "jobs": [] }),
            },
            _ => Response::error(ErrorKind::Refused, "no [[jobs]] are configured"),
        };
    };
    let need_name = || {
        name.clone()
            .ok_or_else(|| Response::error(ErrorKind::BadRequest, "this jobs op needs \"name\""))
    };
    let req = match op {
        JobsOp::List => JobsRequest::List,
        JobsOp::Run => match need_name() {
            Ok(name) => JobsRequest::Run { name },
            Err(r) => return r,
        },
        JobsOp::History => match need_name() {
            Ok(name) => JobsRequest::History { name, limit: lines },
            Err(r) => return r,
        },
        JobsOp::Logs => match need_name() {
            Ok(name) => JobsRequest::Logs { name, lines },
            Err(r) => return r,
        },
    };
    match handle.ask(req).await {
        Ok(data) => Response::Jobs { op, data },
        Err(e) => Response::error(ErrorKind::Refused, e),
    }
}

/// Sends a test alert and answers each channel's result. Not bounded by `reply_timeout`:
/// each channel's own timeout bounds its attempt.
async fn alert_test(ctx: &ControlContext, channel: Option<String>) -> Response {
    let (tx, rx) = oneshot::channel();
    if ctx
        .inbox
        .0
        .send(Input::AlertTest { channel, reply: tx })
        .is_err()
    {
        return unavailable();
    }
    match rx.await {
        Ok(Ok(results)) => Response::AlertResults { results },
        Ok(Err(message)) => Response::error(ErrorKind::Refused, message),
        Err(_) => unavailable(),
    }
}

/// The tail as one response, without the oldest lines that would not fit in a frame.
pub(crate) fn logs_response(mut lines: Vec<LogLine>) -> Response {
    // `{"type":"logs","lines":[...]}` plus a comma per line.
    let mut size = 64 + lines.len();
    let sizes: Vec<usize> = lines
        .iter()
        .map(|l| serde_json::to_vec(l).map_or(0, |v| v.len()))
        .collect();
    size += sizes.iter().sum::<usize>();
    let mut skip = 0;
    while size > MAX_FRAME && skip < lines.len() {
        size -= sizes[skip] + 1;
        skip += 1;
    }
    lines.drain(..skip);
    Response::Logs { lines }
}

fn ok(message: impl Into<String>) -> Response {
    Response::Ok {
        message: message.into(),
    }
}

fn unavailable() -> Response {
    Response::error(
        ErrorKind::Unavailable,
        "clawvisor is shutting down and takes no more commands",
    )
}

fn timed_out(limits: Limits) -> Response {
    Response::error(
        ErrorKind::Timeout,
        format!(
            "the supervisor did not answer within {} (reply_timeout)",
            humantime::format_duration(limits.reply_timeout)
        ),
    )
}
