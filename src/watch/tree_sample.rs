//! One memory sample of the gateway's whole process tree, read straight from /proc.
//!
//! Cost: one readdir of /proc and one read of /proc/PID/stat per process on the machine (that
//! single read gives parent, session and RSS), plus one /proc/PID/smaps_rollup read per tree
//! member for PSS. `scripts/bench_tree.sh` measures it.
//!
//! Membership: the descendants of the child, plus processes that were orphaned out of the
//! tree and re-parented to clawvisor (the subreaper). An orphan is recognised because it
//! was a member at the previous sample, or because it is still in the child's session or
//! process group. The spawn-broker calls setsid, so groups and sessions alone would miss
//! it; parentage finds it.

use std::collections::{HashMap, HashSet};
use std::fs;

use serde::Serialize;

/// What /proc/PID/stat says about one process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcStat {
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    pub rss_pages: u64,
}

/// The sums over one tree.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TreeSample {
    /// Processes in the tree, the child included.
    pub processes: usize,
    pub rss_bytes: u64,
    /// PSS summed over the processes whose smaps_rollup could be read, plus the RSS of those
    /// whose could not (so it is never an undercount).
    pub pss_bytes: u64,
    /// Processes whose PSS could not be read (another user's process without privileges).
    pub pss_unreadable: usize,
    /// The pids in the tree, child first.
    #[serde(skip)]
    pub pids: Vec<i32>,
}

/// Samples the tree under the current child, remembering members across samples.
#[derive(Debug, Default)]
pub struct TreeSampler {
    root: Option<i32>,
    members: HashSet<i32>,
    /// Read PSS (smaps_rollup) too; it costs a page-table walk in the kernel per process.
    pub read_pss: bool,
}

impl TreeSampler {
    pub fn new(read_pss: bool) -> TreeSampler {
        TreeSampler {
            read_pss,
            ..TreeSampler::default()
        }
    }

    /// Samples the tree of `root` (the current child). `adopter` is the pid orphans are
    /// re-parented to (clawvisor itself); `exclude` are its own helper processes (exec
    /// probes, alert commands), never part of the gateway's tree.
    pub fn sample(&mut self, root: i32, adopter: i32, exclude: &HashSet<i32>) -> TreeSample {
        if self.root != Some(root) {
            self.root = Some(root);
            self.members.clear();
        }
        let stats = read_all_stats();
        let pids = tree_members(&stats, root, adopter, &self.members, exclude);
        self.members = pids.iter().copied().collect();
        let page = page_size();
        let mut sample = TreeSample {
            processes: pids.len(),
            ..TreeSample::default()
        };
        for &pid in &pids {
            let rss = stats.get(&pid).map_or(0, |s| s.rss_pages * page);
            sample.rss_bytes += rss;
            if self.read_pss {
                match read_pss(pid) {
                    Some(pss) => sample.pss_bytes += pss,
                    None => {
                        sample.pss_bytes += rss;
                        sample.pss_unreadable += 1;
                    }
                }
            }
        }
        if !self.read_pss {
            sample.pss_bytes = sample.rss_bytes;
            sample.pss_unreadable = sample.processes;
        }
        sample.pids = pids;
        sample
    }
}

/// Members of the tree under `root` in a snapshot of /proc: see the module comment.
pub fn tree_members(
    stats: &HashMap<i32, ProcStat>,
    root: i32,
    adopter: i32,
    previous: &HashSet<i32>,
    exclude: &HashSet<i32>,
) -> Vec<i32> {
    let mut roots = Vec::new();
    if stats.contains_key(&root) {
        roots.push(root);
    }
    for (&pid, s) in stats {
        let adopted = s.ppid == adopter && pid != root && !exclude.contains(&pid);
        if adopted && (previous.contains(&pid) || s.session == root || s.pgrp == root) {
            roots.push(pid);
        }
    }
    let parents: HashMap<i32, i32> = stats.iter().map(|(&p, s)| (p, s.ppid)).collect();
    // `descendants_in` never returns a root, so the two lists do not overlap.
    let mut out = roots.clone();
    out.extend(crate::process::tree::descendants_in(
        &parents, &roots, exclude,
    ));
    out
}

/// /proc/PID/stat of every process on the machine.
pub fn read_all_stats() -> HashMap<i32, ProcStat> {
    let mut buf = String::with_capacity(512);
    crate::process::tree::all_pids()
        .filter_map(|pid| read_stat(pid, &mut buf).map(|s| (pid, s)))
        .collect()
}

fn read_stat(pid: i32, buf: &mut String) -> Option<ProcStat> {
    use std::io::Read;
    buf.clear();
    fs::File::open(format!("/proc/{pid}/stat"))
        .ok()?
        .read_to_string(buf)
        .ok()?;
    parse_stat(buf)
}

/// Parses /proc/PID/stat. The command name (field 2) is in parentheses and may contain
/// spaces and parentheses itself, so fields are counted from the last ')'.
pub fn parse_stat(stat: &str) -> Option<ProcStat> {
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    // After the name: state(3) ppid(4) pgrp(5) session(6) ... rss(24).
    let f: Vec<&str> = rest.split(' ').take(22).collect();
    Some(ProcStat {
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        session: f.get(3)?.parse().ok()?,
        rss_pages: f.get(21)?.parse().ok()?,
    })
}

/// PSS in bytes from /proc/PID/smaps_rollup (the line `Pss:   1234 kB`).
pub fn read_pss(pid: i32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    parse_pss_kib(&text).map(|k| k * 1024)
}

fn parse_pss_kib(smaps_rollup: &str) -> Option<u64> {
    smaps_rollup
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n as u64 } else { 4096 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(ppid: i32, pgrp: i32, session: i32) -> ProcStat {
        ProcStat {
            ppid,
            pgrp,
            session,
            rss_pages: 1,
        }
    }

    #[test]
    fn parses_stat_with_odd_command_names() {
        let s = "42 (we (ird) name) S 7 42 42 0 -1 4194304 100 0 0 0 1 2 0 0 20 0 3 0 555 1000000 250 18446744073709551615";
        assert_eq!(
            parse_stat(s),
            Some(ProcStat {
                ppid: 7,
                pgrp: 42,
                session: 42,
                rss_pages: 250
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn parses_pss_from_smaps_rollup() {
        let t = "00400000-7ffd [rollup]\nRss:     2048 kB\nPss:     1536 kB\nPss_Anon: 10 kB\n";
        assert_eq!(parse_pss_kib(t), Some(1536));
    }

    #[test]
    fn membership_follows_parentage_and_keeps_adopted_orphans() {
        // 1 = clawvisor, 10 = the child, 11 its worker, 12 a setsid broker adopted by 1
        // after its parent died, 20 an exec probe of clawvisor, 30 unrelated.
        let stats: HashMap<i32, ProcStat> = [
            (10, st(1, 10, 10)),
            (11, st(10, 10, 10)),
            (12, st(1, 12, 12)),
            (13, st(12, 12, 12)),
            (20, st(1, 1, 1)),
            (30, st(5, 30, 30)),
        ]
        .into_iter()
        .collect();
        let none = HashSet::new();
        let mut m = tree_members(&stats, 10, 1, &none, &none);
        m.sort();
        assert_eq!(
            m,
            [10, 11],
            "an unknown adopted orphan in its own session is not ours"
        );
        let previous: HashSet<i32> = [10, 11, 12].into_iter().collect();
        let mut m = tree_members(&stats, 10, 1, &previous, &none);
        m.sort();
        assert_eq!(
            m,
            [10, 11, 12, 13],
            "a former member stays ours after adoption"
        );
        // An orphan still in the child's group counts even if never seen before.
        let mut stats2 = stats.clone();
        stats2.insert(14, st(1, 10, 10));
        let mut m = tree_members(&stats2, 10, 1, &none, &none);
        m.sort();
        assert_eq!(m, [10, 11, 14]);
        // Exec probes of clawvisor are excluded even when in the child's session.
        stats2.insert(20, st(1, 10, 10));
        let excl: HashSet<i32> = [20].into_iter().collect();
        assert!(!tree_members(&stats2, 10, 1, &none, &excl).contains(&20));
    }

    #[test]
    fn samples_a_real_tree() {
        let me = std::process::id() as i32;
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30 & wait"])
            .spawn()
            .unwrap();
        let root = child.id() as i32;
        let mut sampler = TreeSampler::new(true);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut sample = sampler.sample(root, me, &HashSet::new());
        while sample.processes < 3 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
            sample = sampler.sample(root, me, &HashSet::new());
        }
        let pids = sample.pids.clone();
        for p in &pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = child.wait();
        assert_eq!(sample.processes, 3, "{sample:?}");
        assert!(sample.rss_bytes > 0);
        assert!(sample.pss_bytes > 0 && sample.pss_bytes <= sample.rss_bytes + 4096 * 3);
    }
}
