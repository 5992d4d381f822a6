//! Who may talk to the control socket, decided from the peer's kernel-reported credentials
//! (SO_PEERCRED), never from anything the client says about itself.

use std::os::fd::AsRawFd;

use nix::unistd::{Gid, Group, Uid, User};

use super::error::ControlError;

/// The peer of a connection, as the kernel reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    pub gid: u32,
    pub pid: Option<i32>,
}

/// The access rule: root, the uid clawvisor runs as, and members of an optional group.
#[derive(Clone, Debug)]
pub struct Access {
    owner_uid: u32,
    group: Option<AllowedGroup>,
}

#[derive(Clone, Debug)]
struct AllowedGroup {
    gid: u32,
    /// Member names from the group database, for peers whose supplementary groups the
    /// kernel cannot tell us.
    members: Vec<String>,
}

impl Access {
    /// The rule for this process; `group` is looked up now, so a typo fails at start-up.
    pub fn resolve(group: Option<&str>) -> Result<Access, ControlError> {
        let group = match group {
            None => None,
            Some(name) => {
                let g = Group::from_name(name).ok().flatten().ok_or_else(|| {
                    ControlError::UnknownGroup {
                        group: name.to_string(),
                    }
                })?;
                Some(AllowedGroup {
                    gid: g.gid.as_raw(),
                    members: g.mem,
                })
            }
        };
        Ok(Access {
            owner_uid: Uid::effective().as_raw(),
            group,
        })
    }

    pub fn group_gid(&self) -> Option<u32> {
        self.group.as_ref().map(|g| g.gid)
    }

    /// Whether `peer` may use the socket. `supplementary` are the peer's other groups
    /// (SO_PEERGROUPS), when the kernel could say.
    pub fn allows(&self, peer: Peer, supplementary: Option<&[u32]>) -> bool {
        if peer.uid == 0 || peer.uid == self.owner_uid {
            return true;
        }
        let Some(g) = &self.group else {
            return false;
        };
        if peer.gid == g.gid {
            return true;
        }
        match supplementary {
            Some(groups) => groups.contains(&g.gid),
            None => User::from_uid(Uid::from_raw(peer.uid))
                .ok()
                .flatten()
                .is_some_and(|u| u.gid == Gid::from_raw(g.gid) || g.members.contains(&u.name)),
        }
    }
}

/// The peer's supplementary groups (SO_PEERGROUPS, Linux 4.13+); `None` if unavailable.
pub fn peer_groups(sock: &impl AsRawFd) -> Option<Vec<u32>> {
    let mut groups = vec![0 as libc::gid_t; 64];
    for _ in 0..2 {
        let mut len = (groups.len() * std::mem::size_of::<libc::gid_t>()) as libc::socklen_t;
        // SAFETY: the buffer is `len` bytes of gid_t, owned by us, and outlives the call.
        let rc = unsafe {
            libc::getsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let n = len as usize / std::mem::size_of::<libc::gid_t>();
        if rc == 0 {
            groups.truncate(n);
            return Some(groups);
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::ERANGE) {
            return None;
        }
        // The kernel told us the size it needs.
        groups.resize(n.max(groups.len() * 2), 0);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(uid: u32, gid: u32) -> Peer {
        Peer {
            uid,
            gid,
            pid: None,
        }
    }

    #[test]
    fn root_and_owner_are_allowed_others_are_not() {
        let a = Access {
            owner_uid: 1000,
            group: None,
        };
        assert!(a.allows(peer(0, 0), None));
        assert!(a.allows(peer(1000, 1000), None));
        assert!(!a.allows(peer(1001, 1000), Some(&[1000])));
    }

    #[test]
    fn a_configured_group_admits_its_members() {
        let a = Access {
            owner_uid: 0,
            group: Some(AllowedGroup {
                gid: 4242,
                members: vec![],
            }),
        };
        assert!(a.allows(peer(1001, 4242), Some(&[])));
        assert!(a.allows(peer(1002, 100), Some(&[100, 4242])));
        assert!(!a.allows(peer(1003, 100), Some(&[100])));
    }

    #[test]
    fn an_unknown_group_fails_at_start_up() {
        let e = Access::resolve(Some("no-such-group-clawvisor")).unwrap_err();
        assert!(e.to_string().contains("no-such-group-clawvisor"));
    }
}
