//! The HTTP side: a hyper HTTP/1.1 server with strict limits, read-only (GET and HEAD),
//! one task per connection. Limits: at most `max_connections` served at once (the rest
//! wait in the kernel's accept queue), 16 KiB of request head, 5 s to send it, 30 s per
//! connection, no keep-alive, request bodies never read.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::families::{self, Constants};
use super::health;
use super::page::{self, PageInput};
use super::sampler::{ANSWER_TIMEOUT, Shared, lock};

const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_HEAD: usize = 16 * 1024;

pub struct Ctx {
    pub shared: Arc<Shared>,
    pub constants: Constants,
}

pub async fn serve(listener: TcpListener, ctx: Arc<Ctx>, max_connections: usize) {
    let slots = Arc::new(Semaphore::new(max_connections));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (conn, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and friends: wait for descriptors to come back, don't spin.
                tracing::warn!("metrics listener: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req| {
                let ctx = ctx.clone();
                async move { Ok::<_, Infallible>(route(req, &ctx).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_buf_size(MAX_HEAD)
                .keep_alive(false)
                .serve_connection(TokioIo::new(conn), service);
            let _ = tokio::time::timeout(CONNECTION_TIMEOUT, conn).await;
        });
    }
}

type Reply = Response<Full<Bytes>>;

fn reply(code: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = code;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn text(code: StatusCode, body: String) -> Reply {
    reply(code, "text/plain; charset=utf-8", body + "\n")
}

fn not_answering() -> Reply {
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "clawvisor's decision loop did not answer within {}s",
            ANSWER_TIMEOUT.as_secs()
        ),
    )
}

async fn route(req: Request<Incoming>, ctx: &Ctx) -> Reply {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "read-only: only GET and HEAD".into(),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match req.uri().path() {
        "/metrics" => {
            let Some(s) = ctx.shared.observed_snapshot().await else {
                return not_answering();
            };
            let len = lock(&ctx.shared.history).len();
            let body = {
                let tally = lock(&ctx.shared.tally);
                families::render(&s, &tally, &ctx.constants, len)
            };
            reply(StatusCode::OK, families::CONTENT_TYPE, body)
        }
        "/" => {
            let Some(s) = ctx.shared.snapshot().await else {
                return not_answering();
            };
            let body = {
                let history = lock(&ctx.shared.history);
                page::render(&PageInput {
                    status: &s,
                    history: &history,
                    constants: &ctx.constants,
                    now: super::unix_now(),
                })
            };
            let mut r = reply(StatusCode::OK, "text/html; charset=utf-8", body);
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(page::CSP),
            );
            h.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            r
        }
        "/healthz" => {
            let asked = Instant::now();
            match ctx.shared.snapshot().await {
                Some(_) => text(
                    StatusCode::OK,
                    format!(
                        "ok: clawvisor's decision loop answered in {:.1} ms",
                        asked.elapsed().as_secs_f64() * 1000.0
                    ),
                ),
                None => not_answering(),
            }
        }
        "/readyz" => match ctx.shared.snapshot().await {
            Some(s) => match health::readiness(&s) {
                Ok(m) => text(StatusCode::OK, m),
                Err(m) => text(StatusCode::SERVICE_UNAVAILABLE, m),
            },
            None => not_answering(),
        },
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /, /metrics, /healthz or /readyz".into(),
        ),
    }
}
