//! The gateway's process group left behind by a clawvisor that died without stopping it
//! (SIGKILL, OOM kill, power cut of the supervisor alone).
//!
//! The gateway itself dies with clawvisor (its parent-death signal), but workers in its
//! process group do not: they are re-parented to init and keep the port, the GPU memory or
//! the model files busy, and the next gateway fails to start. So every start records who
//! the gateway is (pid, start time, uid, boot) in `<state dir>/gateway-group.json`, and the
//! next clawvisor ends what is left of that group before it starts a new gateway.
//!
//! That file is not state.json: the record means nothing after a reboot, so it needs no
//! fsync (the page cache outlives a killed clawvisor, which is all that counts), and a
//! record written at every start must not wait on a disk busy with the gateway's logs (a
//! clawvisor killed during that fsync would lose it) nor risk the durable pause record.
//!
//! A pid read from a file is only a claim: state.json could be stale (the pid reused by an
//! unrelated process) or tampered with. Nothing is killed unless /proc confirms it is the
//! same group: same boot, the leader (if still there) with the recorded start time and uid,
//! and each member in the leader's own session, of the recorded uid, started no earlier
//! than the leader. pid 1, clawvisor itself and its ancestors are never touched.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::tree;

/// Who the last gateway was, as saved in state.json.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildRecord {
    /// The gateway's pid, which is also its process group and session id (it calls setsid).
    pub pid: i32,
    /// Its start time in clock ticks after boot (/proc/PID/stat field 22): a reused pid has
    /// another.
    pub start_ticks: u64,
    /// Its real uid (the gateway's user).
    pub uid: u32,
    /// The kernel's boot id: pids and start times mean nothing after a reboot.
    pub boot_id: String,
}

/// The record's file, in the state dir.
pub const RECORD_FILE: &str = "gateway-group.json";
/// A record is a few dozen bytes; anything much larger is not one.
const MAX_RECORD_BYTES: u64 = 4096;

pub fn record_path(state_dir: &Path) -> PathBuf {
    state_dir.join(RECORD_FILE)
}

/// Writes the record (a temporary file renamed over it, mode 0600), or removes it for
/// `None`. No fsync: see the module's comment.
pub fn save_record(state_dir: &Path, rec: Option<&ChildRecord>) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let path = record_path(state_dir);
    let Some(rec) = rec else {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(state_dir)?;
    let tmp = state_dir.join(format!(".{RECORD_FILE}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    // O_EXCL after the removal: never writes through a link planted in its place.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(&serde_json::to_vec(rec)?)?;
    drop(f);
    std::fs::rename(&tmp, &path)
}

/// Reads the record; `Ok(None)` when there is none. Not followed through a symlink, and
/// refused unless it is a small regular file of clawvisor's own user: the pids in it are
/// about to be signalled (after the /proc checks of [`verified_members`]).
pub fn load_record(state_dir: &Path) -> Result<Option<ChildRecord>, String> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let path = record_path(state_dir);
    let shown = path.display();
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{shown}: {e}")),
    };
    let meta = file.metadata().map_err(|e| format!("{shown}: {e}"))?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if !meta.is_file() || meta.uid() != me || meta.len() > MAX_RECORD_BYTES {
        return Err(format!(
            "{shown} is not a small regular file of uid {me}; ignored"
        ));
    }
    let mut text = String::new();
    file.take(MAX_RECORD_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| format!("{shown}: {e}"))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("{shown} is not a gateway record ({e}); ignored"))
}

/// The fields of /proc/PID/stat and /proc/PID/status this module needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcInfo {
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    pub start_ticks: u64,
    pub zombie: bool,
    pub uid: u32,
}

/// Reads `pid`'s info from /proc; None when it is gone (or unreadable).
pub fn proc_info(pid: i32) -> Option<ProcInfo> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    // After the parenthesised command name (which may hold spaces and parentheses):
    // state ppid pgrp session ... with starttime the 20th field from here.
    let f: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(ProcInfo {
        zombie: *f.first()? == "Z",
        ppid: f.get(1)?.parse().ok()?,
        pgid: f.get(2)?.parse().ok()?,
        sid: f.get(3)?.parse().ok()?,
        start_ticks: f.get(19)?.parse().ok()?,
        uid,
    })
}

/// This boot's id; empty when the kernel does not say (then no record ever matches).
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The record of a gateway that just started (its exec succeeded, so its credentials are
/// final); None when it is already gone.
pub fn record_of(pid: i32) -> Option<ChildRecord> {
    let info = proc_info(pid)?;
    Some(ChildRecord {
        pid,
        start_ticks: info.start_ticks,
        uid: info.uid,
        boot_id: boot_id(),
    })
}

/// What became of a recorded group.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// These verified members were SIGKILLed (and are gone, unless `survivors`).
    Ended { pids: Vec<i32>, survivors: Vec<i32> },
    /// Nothing of the group is left.
    Gone,
    /// The record does not describe a group of ours; nothing was killed.
    NotOurs(String),
}

/// The pids of `rec`'s group that /proc confirms are ours, or why the record is refused.
/// `uid` is the user the gateway runs as now: a record naming another user's processes
/// is refused whatever else matches. Pure over `procs` (pid → info), `protected` and
/// `boot`, so it is tested without killing anything.
pub fn verified_members(
    rec: &ChildRecord,
    uid: u32,
    procs: &[(i32, ProcInfo)],
    protected: &HashSet<i32>,
    boot: &str,
) -> Result<Vec<i32>, String> {
    if rec.pid <= 1 || protected.contains(&rec.pid) {
        return Err(format!(
            "pid {} is init, clawvisor or one of its ancestors",
            rec.pid
        ));
    }
    if rec.uid != uid {
        return Err(format!(
            "the record names uid {}, and the gateway runs as uid {uid}",
            rec.uid
        ));
    }
    if boot.is_empty() || rec.boot_id != boot {
        // Recorded before a reboot: the group cannot have survived it.
        return Ok(Vec::new());
    }
    if let Some((_, leader)) = procs.iter().find(|(p, _)| *p == rec.pid) {
        if leader.start_ticks != rec.start_ticks {
            return Err(format!(
                "pid {} was reused (started at tick {}, the record says {})",
                rec.pid, leader.start_ticks, rec.start_ticks
            ));
        }
        if leader.uid != rec.uid {
            return Err(format!(
                "pid {} belongs to uid {}, the record says uid {}",
                rec.pid, leader.uid, rec.uid
            ));
        }
        if leader.sid != rec.pid || leader.pgid != rec.pid {
            return Err(format!(
                "pid {} does not lead its own session and process group",
                rec.pid
            ));
        }
    }
    Ok(procs
        .iter()
        .filter(|(p, i)| {
            *p > 1
                && !protected.contains(p)
                && !i.zombie
                && i.pgid == rec.pid
                && i.sid == rec.pid
                && i.uid == rec.uid
                && i.start_ticks >= rec.start_ticks
        })
        .map(|(p, _)| *p)
        .collect())
}

/// clawvisor and its ancestors: never a leftover, whatever a file says.
fn protected_pids() -> HashSet<i32> {
    let mut out = HashSet::from([1, std::process::id() as i32]);
    let mut p = std::process::id() as i32;
    while let Some(parent) = tree::read_ppid(p) {
        if parent <= 1 || !out.insert(parent) {
            break;
        }
        p = parent;
    }
    out
}

/// Ends what is left of `rec`'s group (if its processes are `uid`'s): SIGKILL to each verified member (the leader already
/// died by SIGKILL, so the group is past a clean stop, and the next gateway needs its port
/// and memory now), then waits up to `wait` for them to go. Blocking: /proc reads and waits.
pub fn end_group(rec: &ChildRecord, uid: u32, wait: Duration) -> Verdict {
    let procs: Vec<(i32, ProcInfo)> = tree::all_pids()
        .filter_map(|p| proc_info(p).map(|i| (p, i)))
        .collect();
    let pids = match verified_members(rec, uid, &procs, &protected_pids(), &boot_id()) {
        Ok(p) if p.is_empty() => return Verdict::Gone,
        Ok(p) => p,
        Err(why) => return Verdict::NotOurs(why),
    };
    for &p in &pids {
        // SAFETY: a plain syscall on a pid verified just above.
        unsafe { libc::kill(p, libc::SIGKILL) };
    }
    let still = |p: &i32| proc_info(*p).is_some_and(|i| !i.zombie && i.pgid == rec.pid);
    let deadline = Instant::now() + wait;
    while pids.iter().any(still) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let survivors = pids.iter().copied().filter(still).collect();
    Verdict::Ended { pids, survivors }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(pgid: i32, sid: i32, start: u64, uid: u32) -> ProcInfo {
        ProcInfo {
            ppid: 1,
            pgid,
            sid,
            start_ticks: start,
            zombie: false,
            uid,
        }
    }

    fn rec(pid: i32) -> ChildRecord {
        ChildRecord {
            pid,
            start_ticks: 100,
            uid: 1000,
            boot_id: "b".into(),
        }
    }

    #[test]
    fn members_of_a_dead_leader_are_found_and_strangers_left_alone() {
        let procs = [
            (50, info(40, 40, 120, 1000)),  // a worker of the old gateway 40
            (51, info(40, 40, 90, 1000)),   // started before the gateway: not its worker
            (52, info(40, 40, 130, 0)),     // another uid
            (53, info(53, 53, 130, 1000)),  // another group
            (54, info(40, 777, 130, 1000)), // another session
        ];
        let got = verified_members(&rec(40), 1000, &procs, &HashSet::from([1]), "b");
        assert_eq!(got, Ok(vec![50]));
        // After a reboot nothing is ours.
        let got = verified_members(&rec(40), 1000, &procs, &HashSet::from([1]), "other");
        assert_eq!(got, Ok(vec![]));
    }

    #[test]
    fn a_reused_or_foreign_leader_refuses_the_record() {
        let reused = [(40, info(40, 40, 555, 1000)), (50, info(40, 40, 600, 1000))];
        let e = verified_members(&rec(40), 1000, &reused, &HashSet::new(), "b").unwrap_err();
        assert!(e.contains("reused"), "{e}");
        let foreign = [(40, info(40, 40, 100, 0))];
        let e = verified_members(&rec(40), 1000, &foreign, &HashSet::new(), "b").unwrap_err();
        assert!(e.contains("uid 0"), "{e}");
        let not_leader = [(40, info(7, 7, 100, 1000))];
        assert!(verified_members(&rec(40), 1000, &not_leader, &HashSet::new(), "b").is_err());
        for pid in [-5, 0, 1] {
            assert!(verified_members(&rec(pid), 1000, &[], &HashSet::new(), "b").is_err());
        }
        assert!(verified_members(&rec(9), 1000, &[], &HashSet::from([9]), "b").is_err());
        // A record of another user's process, whatever else matches.
        let e = verified_members(&rec(40), 0, &[], &HashSet::new(), "b").unwrap_err();
        assert!(e.contains("runs as uid 0"), "{e}");
    }

    #[test]
    fn the_record_file_round_trips_and_refuses_links() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        assert_eq!(load_record(&state), Ok(None));
        save_record(&state, Some(&rec(40))).unwrap();
        assert_eq!(load_record(&state), Ok(Some(rec(40))));
        save_record(&state, None).unwrap();
        assert_eq!(load_record(&state), Ok(None));
        save_record(&state, None).unwrap();
        // A symlink planted as the record is not followed.
        let elsewhere = dir.path().join("elsewhere.json");
        std::fs::write(&elsewhere, serde_json::to_string(&rec(40)).unwrap()).unwrap();
        std::os::unix::fs::symlink(&elsewhere, record_path(&state)).unwrap();
        assert!(load_record(&state).is_err());
        std::fs::remove_file(record_path(&state)).unwrap();
        std::fs::write(record_path(&state), "x".repeat(10_000)).unwrap();
        assert!(
            load_record(&state)
                .unwrap_err()
                .contains("small regular file")
        );
    }

    #[test]
    fn reads_a_real_process() {
        let me = std::process::id() as i32;
        let i = proc_info(me).unwrap();
        assert_eq!(i.uid, unsafe { libc::getuid() });
        assert!(i.start_ticks > 0);
        let r = record_of(me).unwrap();
        assert_eq!(r.start_ticks, i.start_ticks);
        assert!(!r.boot_id.is_empty());
    }
}
