//! A blocking client for the control socket (what `clawvisor ctl` uses; scripts in Rust
//! can use it too).

use std::io;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::frame::{FrameError, read_frame_blocking, write_frame_blocking};
use super::protocol::{Request, Response, encode_request};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens there: clawvisor is not running, or uses another socket.
    #[error("clawvisor is not reachable at {}: {}", path.display(), unreachable_hint(source))]
    Unreachable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The socket's file permissions keep this user out.
    #[error(
        "permission denied on {path} (run as root, as clawvisor's user, or as a member of `[control] group`)"
    )]
    PermissionDenied { path: PathBuf },
    #[error("no answer from clawvisor within {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error("clawvisor closed the connection without an answer")]
    Closed,
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("{0}")]
    Io(#[from] io::Error),
}

fn unreachable_hint(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => {
            "no socket there (is clawvisor running? is this its --socket or --config?)".into()
        }
        io::ErrorKind::ConnectionRefused => {
            "nothing listens there (a stale socket: clawvisor is not running)".into()
        }
        _ => e.to_string(),
    }
}

impl From<FrameError> for ClientError {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::Io(e) => e.into(),
            other => ClientError::Protocol(other.to_string()),
        }
    }
}

pub struct Client {
    conn: UnixStream,
    timeout: Option<Duration>,
}

impl Client {
    /// Connects; `timeout` bounds each wait for an answer (`None`: wait forever, for streams).
    pub fn connect(path: &Path, timeout: Option<Duration>) -> Result<Client, ClientError> {
        let conn = UnixStream::connect(path).map_err(|source| match source.kind() {
            io::ErrorKind::PermissionDenied => ClientError::PermissionDenied {
                path: path.to_path_buf(),
            },
            _ => ClientError::Unreachable {
                path: path.to_path_buf(),
                source,
            },
        })?;
        conn.set_read_timeout(timeout)?;
        conn.set_write_timeout(timeout)?;
        Ok(Client { conn, timeout })
    }

    /// Sends a request; read its answer(s) with [`Client::recv`].
    pub fn send(&mut self, req: &Request) -> Result<(), ClientError> {
        write_frame_blocking(&mut self.conn, &encode_request(req))
            .map_err(|e| self.timed_out(e.into()))
    }

    /// The next response; `Ok(None)` when the server has closed the connection.
    pub fn recv(&mut self) -> Result<Option<Response>, ClientError> {
        match read_frame_blocking(&mut self.conn) {
            Ok(Some(bytes)) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| ClientError::Protocol(format!("unreadable response: {e}"))),
            Ok(None) => Ok(None),
            Err(e) => Err(self.timed_out(e.into())),
        }
    }

    /// One request, one response.
    pub fn call(&mut self, req: &Request) -> Result<Response, ClientError> {
        if let Err(e) = self.send(req) {
            // The server may have answered and hung up before reading (a refused uid, too
            // many clients): its reason is worth more than our broken pipe.
            return match self.recv() {
                Ok(Some(r)) => Ok(r),
                _ => Err(e),
            };
        }
        self.recv()?.ok_or(ClientError::Closed)
    }

    /// Lets the stream wait without a deadline (after its first answer arrived).
    pub fn wait_forever(&mut self) -> Result<(), ClientError> {
        self.conn.set_read_timeout(None)?;
        Ok(())
    }

    fn timed_out(&self, e: ClientError) -> ClientError {
        match (e, self.timeout) {
            (ClientError::Io(io), Some(t))
                if matches!(
                    io.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                ClientError::Timeout(t)
            }
            (e, _) => e,
        }
    }
}

/// One request over a fresh connection: what `clawvisor ctl` does for plain commands.
pub fn request(path: &Path, req: &Request, timeout: Duration) -> Result<Response, ClientError> {
    Client::connect(path, Some(timeout))?.call(req)
}
