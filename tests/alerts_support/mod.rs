//! Real receivers for the alert tests, started by the tests themselves: an HTTP server that
//! records requests and answers from a script, a test CA with a leaf for TLS, an aiosmtpd
//! mail sink, and a TCP server that accepts and never says a word.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("the body is UTF-8")
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }
}

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }
    pub fn with_header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn with_body(mut self, b: &str) -> Reply {
        self.body = b.into();
        self
    }
}

/// An HTTP server on an ephemeral port: records every request and answers with the next
/// scripted reply (the last one repeats).
pub struct Recorder {
    pub port: u16,
    requests: Arc<Mutex<Vec<Received>>>,
}

impl Recorder {
    pub fn start(script: Vec<Reply>) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let reply = script[n.min(script.len() - 1)].clone();
                n += 1;
                if let Some(r) = serve(conn, &reply) {
                    seen.lock().unwrap().push(r);
                }
            }
        });
        Recorder { port, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests came; returns them all.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let r = self.requests();
            if r.len() >= n {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "port {}: {} request(s), wanted {n}: {r:?}",
                self.port,
                r.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn serve(mut conn: TcpStream, reply: &Reply) -> Option<Received> {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    let at = Instant::now();
    let reason = match reply.status {
        200 => "OK",
        400 => "Bad Request",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        _ => "Whatever",
    };
    let mut out = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&reply.body);
    let _ = conn.write_all(out.as_bytes());
    Some(Received {
        method,
        path,
        headers,
        body,
        at,
    })
}

/// A port with nothing listening (bound, then closed).
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A server that accepts connections and never sends a byte (an SMTP server that never
/// greets). Connections stay open for the life of the test.
pub struct Silent {
    pub port: u16,
    pub accepted: Arc<Mutex<usize>>,
}

impl Silent {
    pub fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(Mutex::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for c in listener.incoming().flatten() {
                *count.lock().unwrap() += 1;
                held.push(c);
            }
        });
        Silent { port, accepted }
    }
}

/// A test CA and a leaf for "localhost" (CA:FALSE, SAN localhost + 127.0.0.1), as PEM files.
pub struct TestPki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn make_pki(dir: &Path) -> TestPki {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "clawvisor test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let mut leaf =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.use_authority_key_identifier_extension = true;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();

    let pki = TestPki {
        ca: dir.join("ca.pem"),
        cert: dir.join("leaf.pem"),
        key: dir.join("leaf.key"),
    };
    std::fs::write(&pki.ca, ca_cert.pem()).unwrap();
    std::fs::write(&pki.cert, leaf_cert.pem()).unwrap();
    std::fs::write(&pki.key, leaf_key.serialize_pem()).unwrap();
    pki
}

/// aiosmtpd on an ephemeral port, writing each mail as JSON into `out`; killed on drop.
pub struct SmtpSink {
    pub port: u16,
    pub out: PathBuf,
    child: Child,
}

/// "plain", "starttls" (required) or "tls" (implicit).
pub fn smtp_sink(mode: &str, pki: &TestPki, out: &Path) -> SmtpSink {
    smtp_sink_with_auth(mode, pki, out, None)
}

/// As [`smtp_sink`], requiring SMTP AUTH with `auth` = (login, password) when given; each
/// mail's record then says which login authenticated (`auth_login`).
pub fn smtp_sink_with_auth(
    mode: &str,
    pki: &TestPki,
    out: &Path,
    auth: Option<(&str, &str)>,
) -> SmtpSink {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/alerts_support/smtp_sink.py");
    std::fs::create_dir_all(out).unwrap();
    let port = crate::common::free_port();
    let mut child = Command::new("python3")
        .arg(&script)
        .args(["--port", &port.to_string(), "--mode", mode])
        .arg("--cert")
        .arg(&pki.cert)
        .arg("--key")
        .arg(&pki.key)
        .arg("--out")
        .arg(out)
        .args(auth.map(|(l, p)| format!("--auth={l}:{p}")))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("python3 is needed for the SMTP tests: {e}"));
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    if first.trim() != "ready" {
        let _ = child.kill();
        panic!(
            "the SMTP sink did not start (is aiosmtpd installed? .ci/run installs \
             python3-aiosmtpd): {first:?}"
        );
    }
    SmtpSink {
        port,
        out: out.to_path_buf(),
        child,
    }
}

impl SmtpSink {
    /// Mails received so far, as the sink recorded them.
    pub fn mails(&self) -> Vec<serde_json::Value> {
        let mut files: Vec<_> = std::fs::read_dir(&self.out)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
