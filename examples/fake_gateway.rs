//! `fake-gateway`: a stand-in for `openclaw gateway`, used by the demo and by
//! integration tests. std only (plus clap, signal-hook, serde_json, libc,
//! chrono, humantime, bytesize).
//!
//! HTTP (one request per connection, `Connection: close`):
//! - `GET /healthz`  -> 200 `{"ok":true,"status":"live"}`
//! - `GET /startupz` -> 200 `{"ok":true,"status":"started","version":"fake","uptimeMs":N}`
//! - `GET /readyz`   -> 200 `{"ready":true,"failing":[]}` or 503 `{"ready":false,"failing":["startup"]}`
//! - any other `GET` -> 200 HTML page (control UI fallback)
//! - `POST /v1/chat/completions` -> OpenAI chat completion (also `"stream":true` SSE);
//!   answers "2" when the last user message contains "1+1=", else `--answer`
//! - `POST /v1/completions` and other POSTs -> 404
//!
//! Flags (durations: "2s", "500ms" or plain seconds; sizes: "50MiB"):
//! - `--port N` (18789), `--host ADDR` (127.0.0.1)
//! - `--startup-delay DUR`: print "starting", sleep, then listen
//! - `--ready-delay DUR`: /readyz is not ready for DUR after listening
//! - `--exit-after DUR` / `--exit-code C` (1): exit with C after DUR
//! - `--crash-every DUR`: exit with `--exit-code` after a random delay in [DUR/2, DUR*1.5]
//! - `--ignore-term`: ignore SIGTERM/SIGINT (default: "received SIGTERM, draining", exit 0)
//! - `--usr2-exit` (or env OPENCLAW_SUPERVISOR_MODE=external): SIGUSR2 -> "restart requested", exit 0
//! - `--spawn-setsid-child` / `--spawn-child`: spawn a sleeping grandchild (own session / same group)
//! - `--leak-rate SIZE` (per second, e.g. "50MiB") / `--leak-max SIZE`: allocate and touch memory
//! - `--log-copy PATH`: record each spammed line ("out 17"/"err 17") in PATH after writing it
//! - `--log-rate N` / `--log-lines N` / `--log-stderr-rate N`: N log lines per second
//! - `--print TEXT`, `--print-err TEXT` (repeatable), `--print-after DUR`
//! - `--hang-after DUR`: then accept connections but never answer
//! - `--slow-completion DUR`, `--wrong-answers` ("3"), `--answer TEXT`, `--token TOKEN`,
//!   `--token-file PATH`, `--answer-file PATH`
//! - `--pid-file PATH`, `--env-dump PATH`, `--close-stdout-after DUR`
//! - `--json-style compact|spaced|reordered|wrong-value`: how the health endpoints write JSON

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use serde_json::{Value, json};

#[derive(Parser, Debug, Clone)]
#[command(
    name = "fake-gateway",
    about = "A fake openclaw gateway for tests and demos"
)]
struct Args {
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 18789)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Print "starting", sleep this long, then listen (a model load).
    #[arg(long, value_parser = parse_dur)]
    startup_delay: Option<Duration>,
    /// /readyz answers 503 for this long after listening.
    #[arg(long, value_parser = parse_dur)]
    ready_delay: Option<Duration>,
    /// Exit with --exit-code this long after start.
    #[arg(long, value_parser = parse_dur)]
    exit_after: Option<Duration>,
    /// Exit code for --exit-after and --crash-every.
    #[arg(long, default_value_t = 1)]
    exit_code: i32,
    /// Exit with --exit-code after a random delay in [DUR/2, DUR*1.5].
    #[arg(long, value_parser = parse_dur)]
    crash_every: Option<Duration>,
    /// Ignore SIGTERM and SIGINT (default: print "received SIGTERM, draining", exit 0).
    #[arg(long)]
    ignore_term: bool,
    /// On SIGUSR2 print "restart requested" and exit 0 (also env OPENCLAW_SUPERVISOR_MODE=external).
    #[arg(long)]
    usr2_exit: bool,
    /// Spawn a sleeping grandchild in its own session.
    #[arg(long)]
    spawn_setsid_child: bool,
    /// Spawn a sleeping grandchild in the same process group.
    #[arg(long)]
    spawn_child: bool,
    /// Allocate and touch this much memory per second (e.g. "50MiB").
    #[arg(long, value_parser = parse_size)]
    leak_rate: Option<u64>,
    /// Stop leaking at this total.
    #[arg(long, value_parser = parse_size)]
    leak_max: Option<u64>,
    /// Print this many log lines per second to stdout.
    #[arg(long)]
    log_rate: Option<f64>,
    /// Stop after this many log lines.
    #[arg(long)]
    log_lines: Option<u64>,
    /// Print this many log lines per second to stderr.
    #[arg(long)]
    log_stderr_rate: Option<f64>,
    /// Also append every --log-rate/--log-stderr-rate line's id to this file, after the line
    /// went out: a soak's record of what was written, to compare with what was captured.
    #[arg(long)]
    log_copy: Option<std::path::PathBuf>,
    /// Print this line to stdout at start (repeatable).
    #[arg(long = "print")]
    print: Vec<String>,
    /// Print this line to stderr at start (repeatable).
    #[arg(long = "print-err")]
    print_err: Vec<String>,
    /// Print the --print/--print-err lines after this delay instead.
    #[arg(long, value_parser = parse_dur)]
    print_after: Option<Duration>,
    /// After this long, accept connections but never answer.
    #[arg(long, value_parser = parse_dur)]
    hang_after: Option<Duration>,
    /// Wait this long before answering a chat completion.
    #[arg(long, value_parser = parse_dur)]
    slow_completion: Option<Duration>,
    /// Answer "3" to "1+1=".
    #[arg(long)]
    wrong_answers: bool,
    /// The answer to prompts other than "1+1=".
    #[arg(long, default_value = "I am a fake gateway.")]
    answer: String,
    /// Read the answer from this file instead (kept out of argv).
    #[arg(long)]
    answer_file: Option<String>,
    /// Require this bearer token on chat completions (else 401).
    #[arg(long)]
    token: Option<String>,
    /// Require the bearer token in this file (surrounding whitespace ignored), so the token is
    /// in neither this process's argv nor its environment.
    #[arg(long, conflicts_with = "token")]
    token_file: Option<String>,
    /// Write the pid to this file.
    #[arg(long)]
    pid_file: Option<String>,
    /// Write the environment to this file at start.
    #[arg(long)]
    env_dump: Option<String>,
    /// Close stdout after this long.
    #[arg(long, value_parser = parse_dur)]
    close_stdout_after: Option<Duration>,
    /// How /healthz, /startupz and /readyz write their JSON: compact
    /// (`{"failing":[],"ready":true}`), spaced (`{ "failing": [], "ready": true }`),
    /// reordered (spaced, keys reversed) or wrong-value (`ok`/`ready` false, status 200).
    #[arg(long, value_enum, default_value = "compact")]
    json_style: JsonStyle,
    /// Internal: run as a sleeping grandchild.
    #[arg(long, hide = true)]
    grandchild: bool,
    /// Internal: the grandchild calls setsid() first.
    #[arg(long, hide = true)]
    grandchild_setsid: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum JsonStyle {
    Compact,
    Spaced,
    Reordered,
    WrongValue,
}

fn parse_dur(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(Duration::from_secs_f64(secs));
        }
        return Err(format!("invalid duration {s:?}"));
    }
    humantime::parse_duration(s).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim().trim_end_matches("/s").trim();
    t.parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("invalid size {s:?}: {e}"))
}

// ---------------------------------------------------------------- output

static OUT_LOCK: Mutex<bool> = Mutex::new(false); // true once stdout is closed

fn stamp() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn log(msg: &str) {
    let closed = OUT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if *closed {
        return;
    }
    let line = format!("{} [gateway] {msg}\n", stamp());
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
}

fn elog(msg: &str) {
    let line = format!("{} [gateway] {msg}\n", stamp());
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line.as_bytes());
    let _ = err.flush();
}

fn close_stdout() {
    let mut closed = OUT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let _ = std::io::stdout().flush();
    // Point fd 1 at /dev/null: the pipe's write end is closed, and a later
    // open() can never land on fd 1 by accident.
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        use std::os::fd::AsRawFd;
        unsafe { libc::dup2(null.as_raw_fd(), 1) };
    } else {
        unsafe { libc::close(1) };
    }
    *closed = true;
}

fn after(d: Duration, f: impl FnOnce() + Send + 'static) {
    thread::spawn(move || {
        thread::sleep(d);
        f();
    });
}

fn rand_u64() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    let mut x = nanos ^ ((std::process::id() as u64) << 32) ^ 0x9E37_79B9_7F4A_7C15;
    for _ in 0..4 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

// ---------------------------------------------------------------- state

struct State {
    args: Args,
    started: Instant,
    ready_at: OnceLock<Instant>,
    hung: AtomicBool,
}

fn main() {
    let mut args = Args::parse();
    if let Some(p) = args.token_file.take() {
        let t = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("--token-file {p}: {e}"));
        args.token = Some(t.trim().to_string());
    }
    if let Some(p) = args.answer_file.take() {
        let a = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("--answer-file {p}: {e}"));
        args.answer = a.trim_end().to_string();
    }
    if args.grandchild {
        if args.grandchild_setsid {
            unsafe { libc::setsid() };
        }
        loop {
            thread::sleep(Duration::from_secs(3600));
        }
    }
    let pid = std::process::id();
    if let Some(p) = &args.pid_file {
        let _ = std::fs::write(p, format!("{pid}\n"));
    }
    if let Some(p) = &args.env_dump {
        let dump: String = std::env::vars_os()
            .map(|(k, v)| format!("{}={}\n", k.to_string_lossy(), v.to_string_lossy()))
            .collect();
        let _ = std::fs::write(p, dump);
    }
    let state = Arc::new(State {
        args: args.clone(),
        started: Instant::now(),
        ready_at: OnceLock::new(),
        hung: AtomicBool::new(false),
    });
    install_signals(&args);

    match args.print_after {
        None => {
            args.print.iter().for_each(|t| log(t));
            args.print_err.iter().for_each(|t| elog(t));
        }
        Some(d) => {
            let (p, pe) = (args.print.clone(), args.print_err.clone());
            after(d, move || {
                p.iter().for_each(|t| log(t));
                pe.iter().for_each(|t| elog(t));
            });
        }
    }
    if let Some(d) = args.exit_after {
        let code = args.exit_code;
        after(d, move || exit_now(code));
    }
    if let Some(d) = args.crash_every {
        let (lo, span) = (d.as_secs_f64() / 2.0, d.as_secs_f64());
        let frac = (rand_u64() % 1_000_000) as f64 / 1_000_000.0;
        let delay = Duration::from_secs_f64(lo + span * frac);
        let code = args.exit_code;
        after(delay, move || exit_now(code));
    }
    if let Some(d) = args.close_stdout_after {
        after(d, || {
            close_stdout();
            elog("closed stdout");
        });
    }
    if args.spawn_setsid_child {
        spawn_grandchild(true);
    }
    if args.spawn_child {
        spawn_grandchild(false);
    }
    if let Some(rate) = args.leak_rate {
        let max = args.leak_max.unwrap_or(u64::MAX);
        thread::spawn(move || leak(rate, max));
    }
    let copy = args.log_copy.as_ref().map(|p| {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap_or_else(|e| panic!("--log-copy {}: {e}", p.display()));
        Arc::new(Mutex::new(f))
    });
    if let Some(rate) = args.log_rate {
        let (limit, copy) = (args.log_lines, copy.clone());
        thread::spawn(move || log_spam(rate, limit, false, copy));
    }
    if let Some(rate) = args.log_stderr_rate {
        let (limit, copy) = (args.log_lines, copy.clone());
        thread::spawn(move || log_spam(rate, limit, true, copy));
    }

    log("starting");
    if let Some(d) = args.startup_delay {
        thread::sleep(d);
    }
    let addr = format!("{}:{}", args.host, args.port);
    let listener = match TcpListener::bind(&addr) {
        Ok(l) => l,
        Err(e) => {
            elog(&format!(
                "failed to bind {addr}: {e} (another gateway instance may be listening)"
            ));
            thread::sleep(Duration::from_millis(200));
            std::process::exit(1);
        }
    };
    log(&format!("fake-gateway listening on {addr} pid={pid}"));
    let ready_delay = args.ready_delay.unwrap_or_default();
    let _ = state.ready_at.set(Instant::now() + ready_delay);
    if !ready_delay.is_zero() {
        after(ready_delay, || log("ready"));
    } else {
        log("ready");
    }
    if let Some(d) = args.hang_after {
        let st = state.clone();
        after(d, move || {
            st.hung.store(true, Ordering::SeqCst);
            log("event loop stalled (hang simulated)");
        });
    }
    for conn in listener.incoming() {
        let Ok(stream) = conn else { continue };
        let st = state.clone();
        thread::spawn(move || handle(stream, &st));
    }
}

fn exit_now(code: i32) -> ! {
    elog(&format!("exiting with code {code}"));
    std::process::exit(code);
}

fn install_signals(args: &Args) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR2};
    let external = std::env::var("OPENCLAW_SUPERVISOR_MODE").is_ok_and(|v| v == "external");
    let usr2_exit = args.usr2_exit || external;
    let ignore = args.ignore_term;
    let mut signals = match signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGUSR2, SIGHUP])
    {
        Ok(s) => s,
        Err(e) => {
            elog(&format!("cannot install signal handlers: {e}"));
            return;
        }
    };
    thread::spawn(move || {
        for sig in signals.forever() {
            let name = match sig {
                SIGTERM => "SIGTERM",
                SIGINT => "SIGINT",
                SIGUSR2 => "SIGUSR2",
                _ => "SIGHUP",
            };
            match sig {
                SIGTERM | SIGINT if ignore => log(&format!("received {name}, ignoring")),
                SIGTERM | SIGINT => {
                    log(&format!("received {name}, draining"));
                    thread::sleep(Duration::from_millis(100));
                    log("shutdown complete");
                    std::process::exit(0);
                }
                SIGUSR2 if usr2_exit => {
                    log("restart requested");
                    std::process::exit(0);
                }
                SIGUSR2 => log("in-process restart"),
                _ => log("received SIGHUP, reloading config"),
            }
        }
    });
}

fn spawn_grandchild(setsid: bool) {
    let exe = std::env::current_exe().unwrap_or_else(|_| "fake-gateway".into());
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--grandchild");
    if setsid {
        cmd.arg("--grandchild-setsid");
    }
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    match cmd.spawn() {
        Ok(child) => log(&format!("grandchild pid={} setsid={setsid}", child.id())),
        Err(e) => elog(&format!("failed to spawn grandchild: {e}")),
    }
}

fn leak(rate: u64, max: u64) {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    let mut total: u64 = 0;
    let mut last_report = Instant::now();
    let step = (rate / 10).max(1);
    while total < max {
        let n = step.min(max - total) as usize;
        let mut block = vec![0u8; n];
        for i in (0..n).step_by(4096) {
            block[i] = 1; // touch every page so it counts towards RSS
        }
        hoard.push(block);
        total += n as u64;
        if last_report.elapsed() >= Duration::from_secs(1) {
            log(&format!("cache grew to {} MiB", total >> 20));
            last_report = Instant::now();
        }
        thread::sleep(Duration::from_millis(100));
    }
    log(&format!("cache size capped at {} MiB", total >> 20));
    loop {
        thread::sleep(Duration::from_secs(3600));
        std::hint::black_box(&hoard);
    }
}

fn log_spam(rate: f64, limit: Option<u64>, stderr: bool, copy: Option<Arc<Mutex<std::fs::File>>>) {
    let start = Instant::now();
    let mut n: u64 = 0;
    let limit = limit.unwrap_or(u64::MAX);
    const METHODS: [&str; 4] = ["chat.send", "sessions.list", "health", "agent.run"];
    while n < limit {
        let due = ((start.elapsed().as_secs_f64() * rate) as u64).min(limit);
        while n < due {
            let line = format!(
                "[ws] res id={n} method={} session=agent:main:main durationMs={} status=ok client=webchat/2026.11.1 conn={:08x}",
                METHODS[(n % 4) as usize],
                (n * 37) % 900 + 3,
                n.wrapping_mul(2_654_435_761) & 0xffff_ffff
            );
            if stderr {
                elog(&line)
            } else {
                log(&line)
            }
            if let Some(copy) = &copy {
                let tag = if stderr { "err" } else { "out" };
                let mut f = copy.lock().unwrap_or_else(|e| e.into_inner());
                let _ = f.write_all(format!("{tag} {n}\n").as_bytes());
            }
            n += 1;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------- http

struct Request {
    method: String,
    path: String,
    auth: Option<String>,
    body: Vec<u8>,
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?;
    let path = target.split('?').next().unwrap_or("/").to_string();
    let (mut len, mut auth) = (0usize, None);
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "content-length" {
                len = v.parse().ok()?;
            } else if k == "authorization" {
                auth = Some(v.to_string());
            }
        }
    }
    let mut body = vec![0u8; len.min(16 << 20)];
    r.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        auth,
        body,
    })
}

fn respond(mut s: &TcpStream, code: u16, ctype: &str, body: &str) {
    let reason = match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let msg = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(msg.as_bytes());
    let _ = s.flush();
}

/// A health endpoint's body in the chosen `--json-style`.
fn health_resp(s: &TcpStream, st: &State, code: u16, mut v: Value) {
    let spaced = |v: &Value, reverse: bool| {
        let Value::Object(m) = v else {
            return v.to_string();
        };
        let mut items: Vec<String> = m
            .iter()
            .map(|(k, x)| format!("{}: {x}", Value::from(k.as_str())))
            .collect();
        if reverse {
            items.reverse();
        }
        format!("{{ {} }}", items.join(", "))
    };
    let body = match st.args.json_style {
        JsonStyle::Compact => v.to_string(),
        JsonStyle::Spaced => spaced(&v, false),
        JsonStyle::Reordered => spaced(&v, true),
        JsonStyle::WrongValue => {
            for k in ["ok", "ready"] {
                if v.get(k) == Some(&Value::Bool(true)) {
                    v[k] = Value::Bool(false);
                }
            }
            spaced(&v, false)
        }
    };
    respond(s, code, "application/json; charset=utf-8", &body);
}

fn json_resp(s: &TcpStream, code: u16, v: Value) {
    respond(s, code, "application/json; charset=utf-8", &v.to_string());
}

fn oai_error(s: &TcpStream, code: u16, kind: &str, msg: &str) {
    json_resp(s, code, json!({"error": {"message": msg, "type": kind}}));
}

fn handle(stream: TcpStream, st: &State) {
    if st.hung.load(Ordering::SeqCst) {
        // Accept, never answer; hold the connection open until the peer gives up.
        let mut buf = [0u8; 1024];
        let _ = stream.set_read_timeout(None);
        while matches!((&stream).read(&mut buf), Ok(n) if n > 0) {}
        loop {
            thread::sleep(Duration::from_secs(3600));
        }
    }
    let Some(req) = read_request(&stream) else {
        return;
    };
    let s = &stream;
    match (req.method.as_str(), req.path.as_str()) {
        ("GET" | "HEAD", "/healthz" | "/health") => {
            health_resp(s, st, 200, json!({"ok": true, "status": "live"}))
        }
        ("GET" | "HEAD", "/startupz") => {
            let up = st.started.elapsed().as_millis() as u64;
            let v = json!({"ok": true, "status": "started", "version": "fake", "uptimeMs": up});
            health_resp(s, st, 200, v)
        }
        ("GET" | "HEAD", "/readyz") => {
            if st.ready_at.get().is_some_and(|t| Instant::now() >= *t) {
                health_resp(s, st, 200, json!({"ready": true, "failing": []}))
            } else {
                health_resp(s, st, 503, json!({"ready": false, "failing": ["startup"]}))
            }
        }
        ("GET" | "HEAD", _) => respond(
            s,
            200,
            "text/html; charset=utf-8",
            "<!doctype html><html><head><title>OpenClaw Control</title></head>\
             <body><div id=\"app\">fake gateway control UI</div></body></html>\n",
        ),
        ("POST", "/v1/chat/completions") => chat(s, st, &req),
        ("POST", _) => oai_error(s, 404, "not_found", "Not Found"),
        _ => oai_error(s, 405, "method_not_allowed", "Method Not Allowed"),
    }
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(t) => t.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

fn chat(s: &TcpStream, st: &State, req: &Request) {
    let a = &st.args;
    let authorized = match &a.token {
        Some(tok) => req.auth.as_deref() == Some(format!("Bearer {tok}").as_str()),
        None => true,
    };
    if !authorized {
        return oai_error(s, 401, "unauthorized", "Unauthorized");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return oai_error(s, 400, "invalid_request_error", "invalid JSON body");
    };
    let user = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| {
            m.iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        })
        .map(|m| text_of(m.get("content").unwrap_or(&Value::Null)));
    let Some(user) = user else {
        return oai_error(
            s,
            400,
            "invalid_request_error",
            "Missing user message in `messages`.",
        );
    };
    if let Some(d) = a.slow_completion {
        thread::sleep(d);
    }
    let answer = if user.contains("1+1=") {
        if a.wrong_answers { "3" } else { "2" }.to_string()
    } else {
        a.answer.clone()
    };
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("openclaw")
        .to_string();
    let id = format!("chatcmpl-{:016x}", rand_u64());
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let stream = body.get("stream").and_then(Value::as_bool) == Some(true);
    log(&format!(
        "[openai] chat completion model={model} stream={stream}"
    ));
    if !stream {
        let (pt, ct) = (
            user.split_whitespace().count().max(1),
            answer.split_whitespace().count(),
        );
        return json_resp(
            s,
            200,
            json!({"id": id, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                    "finish_reason": "stop"}],
                "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}}),
        );
    }
    let mut w = s;
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";
    if w.write_all(head.as_bytes()).is_err() {
        return;
    }
    let chunk = |delta: Value, finish: Value| {
        json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut events = vec![chunk(json!({"role": "assistant"}), Value::Null)];
    for piece in answer.split_inclusive(' ') {
        events.push(chunk(json!({"content": piece}), Value::Null));
    }
    events.push(chunk(json!({}), json!("stop")));
    for ev in events {
        if w.write_all(format!("data: {ev}\n\n").as_bytes()).is_err() {
            return;
        }
        let _ = w.flush();
    }
    let _ = w.write_all(b"data: [DONE]\n\n");
    let _ = w.flush();
}
