//! Which rotated files to delete: beyond `keep_files` per stream, older than `max_age`,
//! or, oldest first, until all of them fit in `max_total_size`. Pure: the archiver lists
//! the directory and deletes.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

#[derive(Clone, Debug)]
pub struct Archived {
    pub path: PathBuf,
    pub base: String,
    /// Sorts by rotation time.
    pub stamp: String,
    pub size: u64,
    pub modified: SystemTime,
}

pub struct Limits {
    pub keep_files: u32,
    /// Zero: no age limit.
    pub max_age: Duration,
    pub max_total: Option<u64>,
}

/// Indices into `files` to delete, each with the limit that deletes it (`keep_files`,
/// `max_age` or `max_total_size`). "Oldest" is by stamp, the order of rotation: the writer
/// keeps stamps increasing even when the clock is behind, so a wrong clock never makes the
/// newest files look old (mtimes would).
pub fn to_delete(
    files: &[Archived],
    limits: &Limits,
    now: SystemTime,
) -> Vec<(usize, &'static str)> {
    let mut order: Vec<usize> = (0..files.len()).collect();
    // Newest first.
    order.sort_by(|a, b| files[*b].stamp.cmp(&files[*a].stamp));
    let mut doomed: Vec<Option<&'static str>> = vec![None; files.len()];
    let mut seen: std::collections::HashMap<&str, u32> = Default::default();
    for &i in &order {
        let n = seen.entry(files[i].base.as_str()).or_default();
        *n += 1;
        if *n > limits.keep_files {
            doomed[i] = Some("keep_files");
        }
        let too_old = !limits.max_age.is_zero()
            && now.duration_since(files[i].modified).unwrap_or_default() > limits.max_age;
        if too_old && doomed[i].is_none() {
            doomed[i] = Some("max_age");
        }
    }
    if let Some(max) = limits.max_total {
        let mut total: u64 = (0..files.len())
            .filter(|i| doomed[*i].is_none())
            .map(|i| files[i].size)
            .sum();
        for &i in order.iter().rev() {
            if total <= max {
                break;
            }
            if doomed[i].is_none() {
                doomed[i] = Some("max_total_size");
                total -= files[i].size;
            }
        }
    }
    (0..files.len())
        .filter_map(|i| doomed[i].map(|why| (i, why)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(base: &str, stamp: &str, size: u64, age_s: u64, now: SystemTime) -> Archived {
        Archived {
            path: PathBuf::from(format!("{base}.{stamp}.log")),
            base: base.into(),
            stamp: stamp.into(),
            size,
            modified: now - Duration::from_secs(age_s),
        }
    }

    #[test]
    fn count_age_and_total_size_delete_oldest_first() {
        let now = SystemTime::now();
        let files = vec![
            f("a", "3", 10, 30, now),
            f("a", "1", 10, 100, now),
            f("a", "2", 10, 50, now),
            f("b", "1", 10, 100, now),
        ];
        let lim = |k, age, tot| Limits {
            keep_files: k,
            max_age: Duration::from_secs(age),
            max_total: tot,
        };
        assert_eq!(
            to_delete(&files, &lim(2, 0, None), now),
            vec![(1, "keep_files")]
        );
        assert_eq!(
            to_delete(&files, &lim(9, 60, None), now),
            vec![(1, "max_age"), (3, "max_age")]
        );
        let mut by_total = to_delete(&files, &lim(9, 0, Some(20)), now);
        by_total.sort();
        assert_eq!(by_total, vec![(1, "max_total_size"), (3, "max_total_size")]);
    }
}
