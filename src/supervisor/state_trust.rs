//! Whether state.json may be believed. A pause record decides whether the gateway runs, so a
//! file someone else could have written is not taken as clawvisor's own: it must belong to
//! clawvisor's user (or root, who can write anything anyway) and be writable by nobody else.
//! Such a file is refused like a corrupt one, which the caller reads as "paused, a person
//! should look": refusing can only keep the gateway down, never start or signal anything.
//! (Nothing in state.json names a process or a command; unknown fields are ignored.)

use std::os::unix::fs::MetadataExt;

/// Why the file with this metadata is not trusted, in words; None when it is.
pub fn distrust(meta: &std::fs::Metadata, euid: u32) -> Option<String> {
    let (uid, mode) = (meta.uid(), meta.mode() & 0o7777);
    if uid != euid && uid != 0 {
        return Some(format!(
            "belongs to uid {uid}, not to clawvisor's user (uid {euid}) or root"
        ));
    }
    if mode & 0o022 != 0 {
        return Some(format!(
            "is writable by its group or by others (mode {mode:04o})"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn own_private_files_are_trusted_and_others_are_not() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state.json");
        std::fs::write(&p, "{}").unwrap();
        let me = nix::unistd::geteuid().as_raw();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!(distrust(&m, me), None);
        // Seen by another (non-root) user, a file of ours is someone else's.
        if m.uid() != 0 {
            assert!(
                distrust(&m, m.uid() + 1)
                    .unwrap()
                    .contains("belongs to uid")
            );
        }
        for mode in [0o620, 0o602, 0o666] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            let m = std::fs::metadata(&p).unwrap();
            assert!(distrust(&m, me).unwrap().contains("writable"), "{mode:o}");
        }
    }
}
