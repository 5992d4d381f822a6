//! state.json: what must survive a restart of clawvisor (the pause record), written atomically.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::pause::PauseRecord;

pub const STATE_FILE: &str = "state.json";

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PersistedState {
    pub version: u32,
    pub pause: Option<PauseRecord>,
}

pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(STATE_FILE)
}

/// Reads state.json; a missing file is an empty state. A corrupt file is an error the caller
/// reports (and then treats as "paused", never as "run": a person should look).
pub fn load(dir: &Path) -> io::Result<PersistedState> {
    match fs::read(path_in(dir)) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is corrupt: {e}", path_in(dir).display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(PersistedState::default()),
        Err(e) => Err(e),
    }
}

/// Writes state.json atomically: a temporary file, fsync, rename, fsync of the directory.
pub fn save(dir: &Path, state: &PersistedState) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{STATE_FILE}.tmp"));
    let mut f = File::create(&tmp)?;
    let mut body = serde_json::to_vec_pretty(&PersistedState {
        version: 1,
        pause: state.pause.clone(),
    })?;
    body.push(b'\n');
    f.write_all(&body)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path_in(dir))?;
    File::open(dir)?.sync_all()
}

type WriteRequest = (
    PathBuf,
    PersistedState,
    std::sync::mpsc::SyncSender<io::Result<()>>,
);

/// Writes state.json on a thread of its own, in order, so a hung disk cannot hold the
/// supervisor: `save` waits at most `WAIT` for the write, then goes on (the write still lands
/// when the disk recovers).
pub struct StateWriter {
    tx: std::sync::mpsc::Sender<WriteRequest>,
}

impl StateWriter {
    const WAIT: std::time::Duration = std::time::Duration::from_secs(1);

    pub fn start() -> StateWriter {
        let (tx, rx) = std::sync::mpsc::channel::<WriteRequest>();
        std::thread::Builder::new()
            .name("state-writer".into())
            .spawn(move || {
                for (dir, state, done) in rx {
                    let _ = done.send(save(&dir, &state));
                }
            })
            .expect("spawn the state writer thread");
        StateWriter { tx }
    }

    pub fn save(&self, dir: &Path, pause: Option<PauseRecord>) -> io::Result<()> {
        let (done, result) = std::sync::mpsc::sync_channel(1);
        let state = PersistedState { version: 1, pause };
        self.tx
            .send((dir.to_path_buf(), state, done))
            .map_err(|_| io::Error::other("the state writer thread is gone"))?;
        result.recv_timeout(Self::WAIT).unwrap_or_else(|_| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "still writing after {:?}; it goes on in the background",
                    Self::WAIT
                ),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    #[test]
    fn round_trip_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().pause.is_none());
        let since = UNIX_EPOCH + Duration::from_millis(1_790_000_000_123);
        let st = PersistedState {
            version: 1,
            pause: Some(PauseRecord {
                reason: "crash loop".into(),
                since,
                last_exit: None,
                last_lines: vec!["boom".into()],
            }),
        };
        save(dir.path(), &st).unwrap();
        let back = load(dir.path()).unwrap().pause.unwrap();
        assert_eq!(back.reason, "crash loop");
        assert_eq!(back.since, since);
        assert_eq!(back.last_lines, ["boom"]);
        let _ = SystemTime::now();
    }

    #[test]
    fn corrupt_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(path_in(dir.path()), "{not json").unwrap();
        assert!(
            load(dir.path())
                .unwrap_err()
                .to_string()
                .contains("corrupt")
        );
    }

    #[test]
    fn the_writer_thread_saves_in_order_and_reports_errors() {
        let dir = tempfile::tempdir().unwrap();
        let w = StateWriter::start();
        let rec = |reason: &str| PauseRecord {
            reason: reason.into(),
            since: SystemTime::now(),
            last_exit: None,
            last_lines: vec![],
        };
        w.save(dir.path(), Some(rec("first"))).unwrap();
        w.save(dir.path(), Some(rec("second"))).unwrap();
        assert_eq!(load(dir.path()).unwrap().pause.unwrap().reason, "second");
        w.save(dir.path(), None).unwrap();
        assert!(load(dir.path()).unwrap().pause.is_none());
        assert!(w.save(Path::new("/proc/no/such/dir"), None).is_err());
    }
}
