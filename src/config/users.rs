//! User and group names of the config resolved against this machine's passwd and group
//! databases, once, before any fork (name lookups are not safe between fork and exec).

use std::ffi::CString;

use nix::unistd::{Gid, Group, Uid, User};

#[derive(Clone, Debug)]
pub struct Credentials {
    pub uid: Uid,
    pub gid: Gid,
    pub groups: Vec<Gid>,
}

/// A user's name, or their numeric id when the passwd database has none.
pub fn user_name(uid: Uid) -> String {
    match User::from_uid(uid) {
        Ok(Some(u)) => u.name,
        _ => uid.to_string(),
    }
}

/// Looks up `user` and `group` (names or numeric ids) and the user's supplementary groups.
pub fn resolve_credentials(
    user: Option<&str>,
    group: Option<&str>,
) -> Result<Option<Credentials>, String> {
    if user.is_none() && group.is_none() {
        return Ok(None);
    }
    let u = match user {
        Some(name) => Some(lookup_user(name)?),
        None => None,
    };
    let gid = match group {
        Some(g) => lookup_group(g)?,
        None => u.as_ref().map(|u| u.gid).unwrap_or_else(Gid::current),
    };
    let uid = u.as_ref().map(|u| u.uid).unwrap_or_else(Uid::current);
    let groups = match &u {
        Some(u) => {
            let cname = CString::new(u.name.as_str()).map_err(|e| e.to_string())?;
            nix::unistd::getgrouplist(&cname, gid).unwrap_or_else(|_| vec![gid])
        }
        None => vec![gid],
    };
    Ok(Some(Credentials { uid, gid, groups }))
}

fn lookup_user(name: &str) -> Result<User, String> {
    let found = match name.parse::<u32>() {
        Ok(n) => User::from_uid(Uid::from_raw(n)),
        Err(_) => User::from_name(name),
    };
    found
        .map_err(|e| format!("gateway.user {name:?}: {e}"))?
        .ok_or_else(|| format!("gateway.user {name:?}: no such user"))
}

fn lookup_group(name: &str) -> Result<Gid, String> {
    if let Ok(n) = name.parse::<u32>() {
        return Ok(Gid::from_raw(n));
    }
    Group::from_name(name)
        .map_err(|e| format!("gateway.group {name:?}: {e}"))?
        .map(|g| g.gid)
        .ok_or_else(|| format!("gateway.group {name:?}: no such group"))
}
