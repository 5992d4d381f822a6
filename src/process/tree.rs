//! The process tree under a pid, read straight from /proc (cheap: one readdir and one small
//! read per process). Descendants that called setsid are still found: parentage, not
//! sessions or groups, defines the tree (the subreaper keeps orphans parented to us).

use std::collections::{HashMap, HashSet};
use std::fs;

/// Every pid in /proc (processes, not threads).
pub fn all_pids() -> impl Iterator<Item = i32> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
}

/// pid → parent pid of every process visible in /proc.
pub fn parent_map() -> HashMap<i32, i32> {
    all_pids()
        .filter_map(|pid| read_ppid(pid).map(|ppid| (pid, ppid)))
        .collect()
}

/// The parent pid from /proc/PID/stat (field 4, after the parenthesised command name,
/// which may itself contain spaces and parentheses).
pub fn read_ppid(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    after.split(' ').nth(1)?.parse().ok()
}

/// Every descendant of `root` (not `root` itself), parents before children.
pub fn descendants(root: i32) -> Vec<i32> {
    descendants_in(&parent_map(), &[root], &HashSet::new())
}

/// Descendants of any of `roots` in `parents`, skipping the subtrees of `exclude`.
pub fn descendants_in(
    parents: &HashMap<i32, i32>,
    roots: &[i32],
    exclude: &HashSet<i32>,
) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for (&pid, &ppid) in parents {
        children.entry(ppid).or_default().push(pid);
    }
    let mut out = Vec::new();
    let mut queue: Vec<i32> = roots.to_vec();
    let mut seen: HashSet<i32> = roots.iter().copied().collect();
    while let Some(p) = queue.pop() {
        for &c in children.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
            if !exclude.contains(&c) && seen.insert(c) {
                out.push(c);
                queue.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_children_and_skips_excluded_subtrees() {
        let parents: HashMap<i32, i32> = [(10, 1), (11, 10), (12, 11), (13, 10), (20, 1), (21, 13)]
            .into_iter()
            .collect();
        let mut d = descendants_in(&parents, &[10], &HashSet::new());
        d.sort();
        assert_eq!(d, [11, 12, 13, 21]);
        let mut d = descendants_in(&parents, &[10], &[13].into_iter().collect());
        d.sort();
        assert_eq!(d, [11, 12]);
    }

    #[test]
    fn finds_a_real_child() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let me = std::process::id() as i32;
        assert_eq!(read_ppid(child.id() as i32), Some(me));
        assert!(descendants(me).contains(&(child.id() as i32)));
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
