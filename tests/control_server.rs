//! `[control] reply_timeout`: the server in-process, with a stand-in for the supervisor, for
//! the cases the real one never shows (a brain that does not answer, or is gone).

use std::time::Duration;

use clawvisor::config::{ControlConfig, Dur, LogsConfig};
use clawvisor::control::client::{Client, request};
use clawvisor::control::{ControlContext, ControlServer, ErrorKind, Request, Response};
use clawvisor::logs::LogPipeline;
use clawvisor::supervisor::{Command, Inbox, Input};

const T: Duration = Duration::from_secs(30);

struct Setup {
    _dir: tempfile::TempDir,
    sock: std::path::PathBuf,
    rx: tokio::sync::mpsc::UnboundedReceiver<Input>,
    server: tokio::task::JoinHandle<()>,
}

fn setup(reply_timeout: Dur) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("c.sock");
    let cfg = ControlConfig {
        socket: Some(sock.clone()),
        reply_timeout,
        ..ControlConfig::default()
    };
    let (inbox, rx) = Inbox::channel();
    // `..default()` keeps compiling when the log pipeline grows keys.
    #[allow(clippy::needless_update)]
    let logs = LogPipeline::start(
        &LogsConfig {
            dir: dir.path().join("logs"),
            ..LogsConfig::default()
        },
        inbox.clone(),
    )
    .unwrap();
    let server = ControlServer::bind(&cfg).unwrap().serve(ControlContext {
        inbox,
        logs,
        notices: tokio::sync::broadcast::channel(16).0,
        jobs: None,
    });
    Setup {
        _dir: dir,
        sock,
        rx,
        server,
    }
}

/// Runs a blocking client call off the runtime.
async fn call(sock: &std::path::Path, req: Request) -> Response {
    let sock = sock.to_path_buf();
    tokio::task::spawn_blocking(move || request(&sock, &req, T).unwrap())
        .await
        .unwrap()
}

fn assert_error(r: &Response, want: ErrorKind, needle: &str) {
    match r {
        Response::Error { kind, message } => {
            assert_eq!(*kind, want, "{message}");
            assert!(message.contains(needle), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_reach_the_inbox_and_replies_come_back() {
    let mut s = setup(Dur::secs(10));
    let sock = s.sock.clone();
    let client = tokio::spawn(async move {
        call(
            &sock,
            Request::Pause {
                reason: Some("why not".into()),
            },
        )
        .await
    });
    match tokio::time::timeout(T, s.rx.recv()).await.unwrap().unwrap() {
        Input::Command { command, reply } => {
            assert_eq!(
                command,
                Command::Pause {
                    reason: Some("why not".into())
                }
            );
            reply.send(Err("not today".into())).unwrap();
        }
        _ => panic!("expected a command"),
    }
    assert_error(&client.await.unwrap(), ErrorKind::Refused, "not today");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_that_does_not_answer_is_a_timeout_not_a_hang() {
    let s = setup(Dur::millis(300));
    // `s.rx` is kept but never read: the brain is stuck.
    let r = call(&s.sock, Request::Status).await;
    assert_error(&r, ErrorKind::Timeout, "reply_timeout");
    let r = call(&s.sock, Request::Resume).await;
    assert_error(&r, ErrorKind::Timeout, "did not answer");
    drop(s.rx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_that_is_gone_is_unavailable_and_aborting_removes_the_socket() {
    let s = setup(Dur::secs(10));
    drop(s.rx);
    for req in [
        Request::Status,
        Request::Stop,
        Request::Reload,
        Request::Shutdown,
    ] {
        assert_error(
            &call(&s.sock, req).await,
            ErrorKind::Unavailable,
            "shutting down",
        );
    }
    // Log commands don't need the supervisor.
    assert!(matches!(
        call(
            &s.sock,
            Request::Logs {
                lines: 5,
                follow: false,
                stream: None
            }
        )
        .await,
        Response::Logs { .. }
    ));
    assert!(s.sock.exists());
    s.server.abort();
    let _ = s.server.await;
    assert!(!s.sock.exists(), "the socket file outlived the server");
    let sock = s.sock.clone();
    let err = tokio::task::spawn_blocking(move || Client::connect(&sock, Some(T)).err())
        .await
        .unwrap();
    assert!(err.unwrap().to_string().contains("not reachable"));
}
