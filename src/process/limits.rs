//! Words for the resource limits behind an error: "Too many open files" alone does not say
//! which limit, how high it is, or what to raise, and "Resource temporarily unavailable"
//! from a fork or exec does not even say it is a limit.

use std::io;

/// A limit's soft value, as a word ("unlimited" or the number).
fn soft_limit(resource: libc::__rlimit_resource_t) -> String {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(resource, &mut r) } != 0 {
        return "unknown".into();
    }
    if r.rlim_cur == libc::RLIM_INFINITY {
        "unlimited".into()
    } else {
        r.rlim_cur.to_string()
    }
}

/// How many descriptors clawvisor has open now.
fn open_fds() -> Option<usize> {
    // read_dir itself needs a descriptor: when none is left this says nothing.
    std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count())
}

/// The limit an errno points at, in words to append to its message; empty for others.
/// `nproc_uid` is the user whose processes count against RLIMIT_NPROC (the gateway's).
pub fn hint(errno: Option<i32>, nproc_uid: Option<u32>) -> String {
    match errno {
        Some(libc::EMFILE) => {
            let open = open_fds().map_or(String::new(), |n| format!("{n} open, "));
            format!(
                " (EMFILE: clawvisor's descriptors are used up: {open}RLIMIT_NOFILE is {}; raise LimitNOFILE= or ulimit -n)",
                soft_limit(libc::RLIMIT_NOFILE)
            )
        }
        Some(libc::ENFILE) => {
            " (ENFILE: the system-wide table of open files is full; see fs.file-max)".into()
        }
        Some(libc::EAGAIN) => {
            let who = nproc_uid.map_or(String::new(), |u| format!(" for uid {u}"));
            format!(
                " (EAGAIN: the process limit is reached: RLIMIT_NPROC is {}{who}; raise LimitNPROC= or ulimit -u, or memory is short)",
                soft_limit(libc::RLIMIT_NPROC)
            )
        }
        _ => String::new(),
    }
}

/// `e`'s message with [`hint`]'s words.
pub fn explain(e: &io::Error) -> String {
    format!("{e}{}", hint(e.raw_os_error(), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_limit_and_its_value() {
        let h = hint(Some(libc::EMFILE), None);
        assert!(
            h.contains("RLIMIT_NOFILE is ") && h.contains("open, "),
            "{h}"
        );
        let h = hint(Some(libc::EAGAIN), Some(65534));
        assert!(
            h.contains("RLIMIT_NPROC is ") && h.contains("uid 65534"),
            "{h}"
        );
        assert_eq!(hint(Some(libc::ENOENT), None), "");
        let e = io::Error::from_raw_os_error(libc::EMFILE);
        assert!(explain(&e).starts_with("Too many open files"));
    }
}
