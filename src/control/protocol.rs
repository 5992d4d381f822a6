//! The control protocol: one typed request enum, one typed response enum, shared by the
//! server and `clawvisor ctl`, so the two cannot drift.
//!
//! On the wire every message is a frame (see `control::frame`) holding one JSON object. A
//! request carries the protocol version next to its command:
//! `{"version":1,"command":"pause","reason":"disk swap"}`. A response is tagged by `type`:
//! `{"type":"ok","message":"paused"}`. Scripts may speak it directly (`socat`, Python).

use serde::{Deserialize, Serialize};

use crate::logs::{LogLine, Stream};
use crate::supervisor::{Notice, Status};

/// Bumped when a request or response changes incompatibly.
pub const PROTOCOL_VERSION: u32 = 1;

/// The largest frame either side accepts; a bigger one is refused before it is read.
pub const MAX_FRAME: usize = 1024 * 1024;

/// What a client asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// A snapshot: state, pid, uptime, restarts, last exit, backoff, pause, log stats.
    Status,
    /// Stop the child gracefully and hold it down until `resume`.
    Pause {
        #[serde(default)]
        reason: Option<String>,
    },
    /// Clear a pause (and the crash-loop counter) and start the child.
    Resume,
    Restart,
    /// Stop the child only; it stays down until `start` or `resume`.
    Stop,
    Start,
    /// Stop the child and exit clawvisor.
    Shutdown,
    /// Send a signal (`"USR2"`, `"SIGHUP"`...) to the child's process group.
    Signal {
        name: String,
    },
    /// The last `lines` captured lines, then (with `follow`) new ones as they come.
    Logs {
        #[serde(default = "default_log_lines")]
        lines: usize,
        #[serde(default)]
        follow: bool,
        #[serde(default)]
        stream: Option<Stream>,
    },
    /// Rotate the log files now.
    Rotate,
    /// Re-read the config file.
    Reload,
    /// A stream of notices (state changes, alerts) until the client hangs up.
    Events,
    /// Run a probe now and answer with its report: `{"command":"probe","kind":"quality"}`.
    /// Slow on purpose: the answer comes when the run ends, not within `reply_timeout`.
    Probe {
        kind: ProbeKind,
    },
    /// Send a test alert to every alert channel, or the one named, and answer each one's
    /// result: `{"command":"alert_test","channel":"ops-slack"}`. Waits for the deliveries.
    AlertTest {
        #[serde(default)]
        channel: Option<String>,
    },
    /// Scheduled jobs: `{"command":"jobs"}` lists them; `"op"` is `"run"` (now, through the
    /// same gates), `"history"` or `"logs"`, each with `"name"`; `"lines"` bounds history and
    /// logs.
    Jobs {
        #[serde(default)]
        op: JobsOp,
        #[serde(default)]
        name: Option<String>,
        #[serde(default = "default_log_lines")]
        lines: usize,
    },
}

/// What `jobs` does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobsOp {
    #[default]
    List,
    Run,
    History,
    Logs,
}

/// What `probe` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// The `[quality]` reasoning tests.
    Quality,
}

fn default_log_lines() -> usize {
    50
}

impl Request {
    /// Whether the answer is a stream that holds the connection until the client leaves.
    pub fn is_stream(&self) -> bool {
        matches!(self, Request::Events | Request::Logs { follow: true, .. })
    }

    /// The command's name as written on the wire, for log lines.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Status => "status",
            Request::Pause { .. } => "pause",
            Request::Resume => "resume",
            Request::Restart => "restart",
            Request::Stop => "stop",
            Request::Start => "start",
            Request::Shutdown => "shutdown",
            Request::Signal { .. } => "signal",
            Request::Logs { .. } => "logs",
            Request::Rotate => "rotate",
            Request::Reload => "reload",
            Request::Events => "events",
            Request::Probe { .. } => "probe",
            Request::AlertTest { .. } => "alert_test",
            Request::Jobs { .. } => "jobs",
        }
    }
}

/// What the server answers. Plain commands get exactly one; `logs` gets `Logs` and then,
/// with `follow`, `Line`s; `events` gets `Subscribed` and then `Notice`s.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Response {
    /// The command was done (or accepted); `message` says what happened.
    Ok {
        message: String,
    },
    Status {
        status: Box<Status>,
    },
    /// The recent lines, oldest first.
    Logs {
        lines: Vec<LogLine>,
    },
    /// One new line of a followed log.
    Line {
        line: LogLine,
    },
    /// The events stream is live: notices from now on will arrive.
    Subscribed,
    Notice {
        notice: Notice,
    },
    /// A slow reader missed this many lines or notices.
    Lagged {
        missed: u64,
    },
    /// The report of a quality run (`probe quality`): pass rate, per-test results; the
    /// same JSON as the `quality` part of `status`.
    QualityReport {
        report: serde_json::Value,
    },
    /// Each alert channel's answer to `alert_test`.
    AlertResults {
        results: Vec<crate::alerts::TestResult>,
    },
    /// The answer to `jobs`: `{"jobs":[...]}` for list, `{"runs":[...]}` for history,
    /// `{"lines":[...]}` for logs, `{"message":...}` for run.
    Jobs {
        op: JobsOp,
        data: serde_json::Value,
    },
    Error {
        kind: ErrorKind,
        message: String,
    },
}

impl Response {
    pub fn error(kind: ErrorKind, message: impl Into<String>) -> Response {
        Response::Error {
            kind,
            message: message.into(),
        }
    }
}

/// Why a request failed; lets scripts tell "you may not" from "it said no" from "try later".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The supervisor refused the command (e.g. `start` while paused).
    Refused,
    /// The frame was not a valid request (bad JSON, unknown command, bad argument).
    BadRequest,
    /// The frame was larger than [`MAX_FRAME`].
    TooLarge,
    /// The request's protocol version is not [`PROTOCOL_VERSION`].
    Version,
    /// The peer's uid may not use this socket.
    PermissionDenied,
    /// The request (or the supervisor's answer) did not arrive in time.
    Timeout,
    /// Too many clients are connected.
    Busy,
    /// clawvisor is shutting down and no longer takes commands.
    Unavailable,
}

/// Encodes a request with the protocol version, as JSON bytes (without the frame header).
pub fn encode_request(req: &Request) -> Vec<u8> {
    let mut v = serde_json::to_value(req).expect("a request always serializes");
    v.as_object_mut()
        .expect("a request is a JSON object")
        .insert("version".into(), PROTOCOL_VERSION.into());
    serde_json::to_vec(&v).expect("a JSON value always serializes")
}

/// Decodes a request frame's JSON, checking the protocol version first, so an old or new
/// client learns about the mismatch rather than about a field it did not expect.
pub fn decode_request(bytes: &[u8]) -> Result<Request, (ErrorKind, String)> {
    let bad = |m: String| (ErrorKind::BadRequest, m);
    let mut v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| bad("a request must be a JSON object".into()))?;
    match obj.remove("version").map(|v| v.as_u64()) {
        Some(Some(n)) if n == u64::from(PROTOCOL_VERSION) => {}
        Some(Some(n)) => {
            return Err((
                ErrorKind::Version,
                format!(
                    "protocol version {n} is not supported; this clawvisor speaks {PROTOCOL_VERSION}"
                ),
            ));
        }
        Some(None) => return Err(bad("\"version\" must be a number".into())),
        None => {
            return Err(bad(format!(
                "missing \"version\" (this clawvisor speaks {PROTOCOL_VERSION})"
            )));
        }
    }
    let req: Request =
        serde_json::from_value(v.clone()).map_err(|e| bad(format!("not a valid request: {e}")))?;
    // serde ignores extra fields on commands without arguments (`status`); a typo such as
    // `{"command":"status","follow":true}` should not pass unnoticed.
    let known = serde_json::to_value(&req).expect("a request always serializes");
    if let (Some(given), Some(known)) = (v.as_object(), known.as_object())
        && let Some(extra) = given.keys().find(|k| !known.contains_key(*k))
    {
        return Err(bad(format!(
            "not a valid request: unknown field `{extra}` for command `{}`",
            req.name()
        )));
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_with_their_version() {
        let reqs = [
            Request::Status,
            Request::Pause {
                reason: Some("disk swap".into()),
            },
            Request::Signal {
                name: "USR2".into(),
            },
            Request::Logs {
                lines: 5,
                follow: true,
                stream: Some(Stream::Err),
            },
            Request::Events,
            Request::Probe {
                kind: ProbeKind::Quality,
            },
            Request::AlertTest {
                channel: Some("mail".into()),
            },
            Request::AlertTest { channel: None },
        ];
        for r in reqs {
            let bytes = encode_request(&r);
            assert!(String::from_utf8_lossy(&bytes).contains("\"version\":1"));
            assert_eq!(decode_request(&bytes).unwrap(), r);
        }
    }

    #[test]
    fn defaults_fill_optional_fields() {
        let r = decode_request(br#"{"version":1,"command":"logs"}"#).unwrap();
        assert_eq!(
            r,
            Request::Logs {
                lines: 50,
                follow: false,
                stream: None
            }
        );
    }

    #[test]
    fn probe_names_its_kind() {
        let bytes = encode_request(&Request::Probe {
            kind: ProbeKind::Quality,
        });
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.contains(r#""command":"probe""#) && text.contains(r#""kind":"quality""#),
            "{text}"
        );
        let (kind, _) =
            decode_request(br#"{"version":1,"command":"probe","kind":"x"}"#).unwrap_err();
        assert_eq!(kind, ErrorKind::BadRequest);
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let cases: [(&[u8], ErrorKind, &str); 6] = [
            (b"{not json", ErrorKind::BadRequest, "not JSON"),
            (b"[1,2]", ErrorKind::BadRequest, "JSON object"),
            (
                br#"{"command":"status"}"#,
                ErrorKind::BadRequest,
                "missing \"version\"",
            ),
            (
                br#"{"version":99,"command":"status"}"#,
                ErrorKind::Version,
                "version 99",
            ),
            (
                br#"{"version":1,"command":"explode"}"#,
                ErrorKind::BadRequest,
                "explode",
            ),
            (
                br#"{"version":1,"command":"status","x":1}"#,
                ErrorKind::BadRequest,
                "unknown field",
            ),
        ];
        for (bytes, kind, needle) in cases {
            let (k, m) = decode_request(bytes).unwrap_err();
            assert_eq!(k, kind, "{m}");
            assert!(m.contains(needle), "{m:?} should mention {needle:?}");
        }
    }
}
