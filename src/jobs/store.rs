//! What a job keeps in `<state dir>/jobs/`: `<name>.json` (where its schedule stands and the
//! runs still to do, written atomically) and `<name>.history.jsonl` (one line per finished,
//! interrupted or skipped run, the newest `history` kept).

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A job's persisted position.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobState {
    /// The schedule these slots belong to (expression and zone).
    pub signature: String,
    /// The newest slot already handled (run, queued or recorded as missed).
    pub anchor: Option<Timestamp>,
    /// Runs to do, oldest first; the head may be running.
    pub queue: VecDeque<PendingRun>,
    /// Slots missed since the job was created (catch-up, overlap, gate time-outs).
    pub missed_total: u64,
}

/// One run (a job and a slot), through all its attempts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingRun {
    /// `<job>-<slot, UTC>`: the same for every attempt of this run.
    pub run_id: String,
    pub slot: Timestamp,
    /// Started by `ctl jobs run`.
    #[serde(default)]
    pub manual: bool,
    /// The attempt to run next (1-based).
    pub attempt: u32,
    #[serde(default)]
    pub retries_used: u32,
    #[serde(default)]
    pub interruptions: u32,
    /// An earlier attempt was interrupted: the job should resume from its checkpoint.
    #[serde(default)]
    pub resume: bool,
    /// A retry waits until then.
    #[serde(default)]
    pub not_before: Option<Timestamp>,
    /// Set while an attempt runs; still set at start-up means clawvisor died under it.
    #[serde(default)]
    pub started: Option<Timestamp>,
    /// Slots skipped by catch-up in favour of this run.
    #[serde(default)]
    pub missed_before: u32,
}

impl PendingRun {
    pub fn new(job: &str, slot: Timestamp, manual: bool, missed_before: u32) -> PendingRun {
        let stamp = slot.strftime("%Y%m%dT%H%M%SZ").to_string();
        let run_id = if manual {
            format!("{job}-manual-{stamp}")
        } else {
            format!("{job}-{stamp}")
        };
        PendingRun {
            run_id,
            slot,
            manual,
            attempt: 1,
            retries_used: 0,
            interruptions: 0,
            resume: false,
            not_before: None,
            started: None,
            missed_before,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
    TimedOut,
    Interrupted,
    Skipped,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed out",
            Outcome::Interrupted => "interrupted",
            Outcome::Skipped => "skipped",
        }
    }
}

/// One line of history: an attempt that ended, or a slot that was not run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub slot: Timestamp,
    pub attempt: u32,
    pub outcome: Outcome,
    pub start: Option<Timestamp>,
    pub end: Timestamp,
    /// "exit code 0", "killed by SIGKILL".
    pub exit: Option<String>,
    /// The exit code, or 128+signal.
    pub exit_code: Option<i32>,
    /// Seconds spent waiting for the gateway, then for the GPU, before this attempt.
    pub waited_gateway_secs: f64,
    pub waited_gpu_secs: f64,
    /// Why: what interrupted it, why it was skipped, why it failed.
    pub cause: Option<String>,
    /// Slots skipped by catch-up in favour of this run.
    pub missed: u32,
    pub manual: bool,
}

pub fn dir_in(state_dir: &Path) -> PathBuf {
    state_dir.join("jobs")
}

fn state_path(dir: &Path, job: &str) -> PathBuf {
    dir.join(format!("{job}.json"))
}

fn history_path(dir: &Path, job: &str) -> PathBuf {
    dir.join(format!("{job}.history.jsonl"))
}

/// The job's state; a missing file is a new job. A corrupt one is an error naming it.
pub fn load(dir: &Path, job: &str) -> Result<Option<JobState>, String> {
    let path = state_path(dir, job);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

pub fn save(dir: &Path, job: &str, state: &JobState) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(state).map_err(io::Error::other)?;
    atomic_write(&state_path(dir, job), &bytes)
}

/// tmp in the same dir, fsync, rename, fsync the dir: a crash leaves the old or the new.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    {
        // Not through a link planted at the temporary name (see `nofollow`).
        let mut f = crate::nofollow::open_truncate(&tmp, 0o600)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

/// Appends one record; when the file holds twice `keep`, it is cut to the newest `keep`.
pub fn append_history(dir: &Path, job: &str, rec: &RunRecord, keep: usize) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let path = history_path(dir, job);
    let mut line = serde_json::to_vec(rec).map_err(io::Error::other)?;
    line.push(b'\n');
    let mut f = crate::nofollow::open_append(&path, 0o600)?;
    f.write_all(&line)?;
    f.sync_data()?;
    let lines = read_lines(&path)?;
    if lines.len() > keep.max(1) * 2 {
        let kept = lines[lines.len() - keep..].join("\n") + "\n";
        atomic_write(&path, kept.as_bytes())?;
    }
    Ok(())
}

/// The newest `n` records, oldest first. Unreadable lines (a torn last write) are skipped.
pub fn history(dir: &Path, job: &str, n: usize) -> Vec<RunRecord> {
    let lines = read_lines(&history_path(dir, job)).unwrap_or_default();
    let recs: Vec<RunRecord> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let skip = recs.len().saturating_sub(n);
    recs.into_iter().skip(skip).collect()
}

fn read_lines(path: &Path) -> io::Result<Vec<String>> {
    match crate::nofollow::open_read(path) {
        Ok(f) => io::BufReader::new(f).lines().collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u32) -> RunRecord {
        RunRecord {
            run_id: format!("r{i}"),
            slot: Timestamp::UNIX_EPOCH,
            attempt: i,
            outcome: Outcome::Succeeded,
            start: None,
            end: Timestamp::UNIX_EPOCH,
            exit: None,
            exit_code: Some(0),
            waited_gateway_secs: 0.0,
            waited_gpu_secs: 0.0,
            cause: None,
            missed: 0,
            manual: false,
        }
    }

    #[test]
    fn state_round_trips_and_history_is_trimmed() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(load(d.path(), "a").unwrap(), None);
        let mut s = JobState {
            signature: "cron @daily UTC".into(),
            anchor: Some(Timestamp::UNIX_EPOCH),
            ..JobState::default()
        };
        s.queue
            .push_back(PendingRun::new("a", Timestamp::UNIX_EPOCH, false, 2));
        save(d.path(), "a", &s).unwrap();
        assert_eq!(load(d.path(), "a").unwrap(), Some(s.clone()));
        assert_eq!(s.queue[0].run_id, "a-19700101T000000Z");
        for i in 0..25 {
            append_history(d.path(), "a", &rec(i), 10).unwrap();
        }
        let h = history(d.path(), "a", 100);
        assert!(h.len() >= 10 && h.len() <= 20, "{}", h.len());
        assert_eq!(h.last().unwrap().attempt, 24);
        assert_eq!(history(d.path(), "a", 3).len(), 3);
        fs::write(state_path(d.path(), "b"), "{not json").unwrap();
        assert!(load(d.path(), "b").unwrap_err().contains("b.json"));
    }
}
