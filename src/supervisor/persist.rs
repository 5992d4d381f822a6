//! state.json: what must survive a restart of clawvisor (the pause record), written atomically.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::pause::PauseRecord;

pub const STATE_FILE: &str = "state.json";

/// Unknown fields are tolerated (no `deny_unknown_fields`): a newer version may add some,
/// and an older one must still load the pause. Nothing here names a process or a command:
/// this file can keep the gateway down, never make clawvisor run or signal anything.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PersistedState {
    pub version: u32,
    pub pause: Option<PauseRecord>,
}

pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(STATE_FILE)
}

/// A state file larger than this is not read. Records are capped far below it now, but
/// older versions saved up to 50 lines of `max_line` each (about 3 MiB with the defaults),
/// and those must still load (and be capped then).
pub const MAX_STATE_BYTES: u64 = 16 * 1024 * 1024;

/// Reads state.json; a missing file is an empty state. A file that cannot be used (not a
/// regular file, too large, corrupt) is an error the caller reports (and then treats as
/// "paused", never as "run": a person should look). A corrupt or oversized file is first
/// set aside as `state.json.corrupt-<time>`, so the next save does not overwrite it.
///
/// Blocking: call it off the async runtime, with a timeout (a hung mount blocks `open`).
pub fn load(dir: &Path) -> io::Result<PersistedState> {
    use std::io::Read;
    let path = path_in(dir);
    // O_NONBLOCK: opening a FIFO must not wait for a writer; the check below rejects it.
    // O_NOFOLLOW: a link planted here is refused (and, like any unusable file, read as
    // "paused" by the caller), never followed to a file someone else chose.
    let file = match crate::nofollow::open_read(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(PersistedState::default()),
        // Already says which path (a refused link).
        Err(e) if e.to_string().contains(&*path.to_string_lossy()) => return Err(e),
        Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is not a regular file ({}); move it away",
                path.display(),
                file_kind(&meta)
            ),
        ));
    }
    // Before its content: a file others could write is not clawvisor's record. Not set
    // aside (it is not corrupt, and moving it would hide it from the person who must look).
    if let Some(why) = super::state_trust::distrust(&meta, nix::unistd::geteuid().as_raw()) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} {why}: clawvisor does not trust a state file others could have written; \
                 check its content, then `chown` it to clawvisor's user and `chmod 600` it (or \
                 remove it)",
                path.display()
            ),
        ));
    }
    if meta.len() > MAX_STATE_BYTES {
        let kept = set_aside(&path);
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is {} bytes, more than the {MAX_STATE_BYTES} a state file may have{kept}",
                path.display(),
                meta.len()
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_STATE_BYTES + 1).read_to_end(&mut bytes)?;
    serde_json::from_slice::<PersistedState>(&bytes).map_err(|e| {
        let kept = set_aside(&path);
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is corrupt: {e}{kept}", path.display()),
        )
    })
}

fn file_kind(meta: &fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a plain file"
    }
}

/// Renames an unusable state file to `state.json.corrupt-<UTC time>`; says where it went.
fn set_aside(path: &Path) -> String {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let to = path.with_file_name(format!("{STATE_FILE}.corrupt-{stamp}"));
    match fs::rename(path, &to) {
        Ok(()) => format!(" (kept as {})", to.display()),
        Err(e) => format!(" (could not set it aside: {e})"),
    }
}

/// Writes state.json atomically: a temporary file, fsync, rename, fsync of the directory.
/// The file is 0600 and a directory it creates 0750: it holds the gateway's last lines.
pub fn save(dir: &Path, state: &PersistedState) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)?;
    let tmp = dir.join(format!(".{STATE_FILE}.tmp"));
    // Not through a link planted at the temporary name (root would truncate its target).
    let mut f = crate::nofollow::open_truncate(&tmp, 0o600)?;
    // A leftover temporary file keeps its old mode through open(); set it.
    f.set_permissions(fs::Permissions::from_mode(0o600))?;
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

/// A write of some other small file of the state dir (the last gateway's record), done
/// by the writer thread in order with state.json's.
pub type Job = Box<dyn FnOnce() -> io::Result<()> + Send>;

/// What the writer thread writes: state.json, or another file beside it.
enum Payload {
    State(PersistedState),
    Job(Job),
}

type WriteRequest = (
    PathBuf,
    Payload,
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
                for (dir, payload, done) in rx {
                    let result = match payload {
                        Payload::State(state) => save(&dir, &state),
                        Payload::Job(job) => job(),
                    };
                    // Nobody waits for a posted write: its error is logged here.
                    if let Err(std::sync::mpsc::SendError(Err(e))) = done.send(result) {
                        tracing::warn!("cannot write the state in {}: {e}", dir.display());
                    }
                }
            })
            .expect("spawn the state writer thread");
        StateWriter { tx }
    }

    pub fn save(&self, dir: &Path, pause: Option<PauseRecord>) -> io::Result<()> {
        let state = PersistedState { version: 1, pause };
        self.write(dir, Payload::State(state))
    }

    /// Queues `job` (a write in `dir`) without waiting for it: the gateway's record at
    /// every start, which must not wait behind an fsync of state.json on a disk busy with
    /// logs. A failure is logged by the writer thread.
    pub fn post(&self, dir: &Path, job: Job) {
        let (done, _) = std::sync::mpsc::sync_channel(1);
        let _ = self.tx.send((dir.to_path_buf(), Payload::Job(job), done));
    }

    /// Runs `job` after every earlier write and waits for it (as [`StateWriter::save`]).
    pub fn run(&self, dir: &Path, job: Job) -> io::Result<()> {
        self.write(dir, Payload::Job(job))
    }

    fn write(&self, dir: &Path, payload: Payload) -> io::Result<()> {
        let (done, result) = std::sync::mpsc::sync_channel(1);
        self.tx
            .send((dir.to_path_buf(), payload, done))
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
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("corrupt") && err.contains("kept as"), "{err}");
        // Set aside, not lost: the next save cannot overwrite it.
        let kept: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("state.json.corrupt-")
            })
            .collect();
        assert_eq!(kept.len(), 1);
        assert_eq!(fs::read_to_string(kept[0].path()).unwrap(), "{not json");
        assert!(load(dir.path()).unwrap().pause.is_none());
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
        // Other files' writes: posted, then in order with the waited-for writes.
        let other = dir.path().join("other");
        let o = other.clone();
        w.post(dir.path(), Box::new(move || fs::write(&o, "posted")));
        w.save(dir.path(), None).unwrap();
        assert_eq!(fs::read_to_string(&other).unwrap(), "posted");
        let o = other.clone();
        w.run(dir.path(), Box::new(move || fs::remove_file(&o)))
            .unwrap();
        assert!(!other.exists());
    }
}
