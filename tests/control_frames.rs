//! `[control] read_timeout`, `max_clients` and the frame rules: bad clients get an error (or
//! a timeout) and the connection closes; clawvisor and its gateway carry on.

mod common;
mod control_support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use clawvisor::control::client::Client;
use clawvisor::control::{MAX_FRAME, Request, Response};
use control_support::*;

fn connect(cv: &common::Clawvisor) -> UnixStream {
    let c = UnixStream::connect(socket(cv)).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    c
}

/// Reads the one frame the server sends before closing; returns it as JSON, and checks the
/// server then closed the connection.
fn last_answer(mut c: UnixStream) -> serde_json::Value {
    let mut header = [0u8; 4];
    c.read_exact(&mut header)
        .expect("an answer before the close");
    let mut body = vec![0u8; u32::from_be_bytes(header) as usize];
    c.read_exact(&mut body).unwrap();
    // Then the end: EOF, or a reset when the server left some of our bytes unread.
    let mut rest = [0u8; 1];
    match c.read(&mut rest) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the connection should be closed after the error, got {other:?}"),
    }
    serde_json::from_slice(&body).unwrap()
}

fn framed(payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

fn assert_error(v: &serde_json::Value, kind: &str, needle: &str) {
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["kind"], kind, "{v}");
    assert!(v["message"].as_str().unwrap().contains(needle), "{v}");
}

#[test]
fn garbage_truncated_oversized_and_silent_clients_do_not_hurt_clawvisor() {
    let cv = start(&[], "read_timeout = \"1s\"");
    let pid = running_pid(&cv);

    // A framed request that is not JSON.
    let mut c = connect(&cv);
    c.write_all(&framed(b"hello, clawvisor")).unwrap();
    assert_error(&last_answer(c), "bad_request", "not JSON");

    // JSON, but an unknown command, and a wrong protocol version.
    let mut c = connect(&cv);
    c.write_all(&framed(br#"{"version":1,"command":"format_disk"}"#))
        .unwrap();
    assert_error(&last_answer(c), "bad_request", "format_disk");
    let mut c = connect(&cv);
    c.write_all(&framed(br#"{"version":7,"command":"status"}"#))
        .unwrap();
    assert_error(&last_answer(c), "version", "version 7");

    // Something that is not our protocol at all: its first bytes read as a huge length.
    let mut c = connect(&cv);
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_error(&last_answer(c), "too_large", "larger than");

    // An announced 2 MiB frame is refused before it is sent.
    let mut c = connect(&cv);
    c.write_all(&((2 * MAX_FRAME) as u32).to_be_bytes())
        .unwrap();
    assert_error(&last_answer(c), "too_large", &format!("{}", 2 * MAX_FRAME));

    // A frame cut short, then the client hangs up its sending side.
    let mut c = connect(&cv);
    let mut half = framed(br#"{"version":1,"command":"status"}"#);
    half.truncate(12);
    c.write_all(&half).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    assert_error(&last_answer(c), "bad_request", "middle of a frame");

    // A frame cut short and the client just waits: the read timeout ends it.
    let mut c = connect(&cv);
    c.write_all(&half).unwrap();
    let t0 = Instant::now();
    assert_error(&last_answer(c), "timeout", "read_timeout");
    assert!(t0.elapsed() < T);

    // A client that connects and says nothing at all.
    let c = connect(&cv);
    assert_error(&last_answer(c), "timeout", "no complete request");

    // A client that connects and leaves at once.
    drop(connect(&cv));

    // Through all that, clawvisor answered and its gateway was never touched.
    let st = status(&cv);
    assert_eq!(st["state"], "running", "{st}");
    assert_eq!(st["pid"], pid, "{st}");
    assert_eq!(st["restarts"], 0, "{st}");
}

#[test]
fn one_connection_may_carry_several_requests() {
    let cv = start(&[], "");
    running_pid(&cv);
    let mut client = Client::connect(&socket(&cv), Some(T)).unwrap();
    for _ in 0..5 {
        assert!(matches!(
            client.call(&Request::Status).unwrap(),
            Response::Status { .. }
        ));
    }
    let r = client.call(&Request::Start).unwrap();
    assert!(matches!(r, Response::Error { .. }), "{r:?}");
    assert!(matches!(
        client.call(&Request::Status).unwrap(),
        Response::Status { .. }
    ));
}

#[test]
fn a_hundred_concurrent_clients_all_get_their_status() {
    let cv = start(&[], "");
    let pid = running_pid(&cv);
    let path = socket(&cv);
    let n = 100;
    let barrier = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let (path, barrier) = (path.clone(), barrier.clone());
            std::thread::spawn(move || {
                // Everyone connected first, then everyone asks at once.
                let mut c = Client::connect(&path, Some(Duration::from_secs(60))).unwrap();
                barrier.wait();
                match c.call(&Request::Status).unwrap() {
                    Response::Status { status } => status.pid,
                    other => panic!("unexpected answer {other:?}"),
                }
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), Some(pid as i32));
    }
}

#[test]
fn clients_beyond_max_clients_are_told_busy() {
    let cv = start(&[], "max_clients = 2\nread_timeout = \"1m\"");
    running_pid(&cv);
    // Two idle clients hold both slots (a third ctl waits for none of them).
    let held: Vec<UnixStream> = (0..2).map(|_| connect(&cv)).collect();
    // The server takes a slot when it accepts: give it a moment to accept both.
    assert!(common::eventually(T, || {
        let (code, _, err) = ctl(&cv, &["status"]);
        code == 1 && err.contains("too many control clients")
    }));
    drop(held);
    assert!(common::eventually(T, || ctl(&cv, &["status"]).0 == 0));
}
