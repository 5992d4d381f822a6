//! The resume command clawvisor prints (its log, systemd's STATUS=, alerts): one that works
//! when pasted, so it names this clawvisor's config (or socket) and, when `clawvisor` on
//! PATH is not this binary, the binary itself.

use std::path::Path;

/// `clawvisor ctl --config /etc/clawvisor/clawvisor.toml resume`, or with `--socket` when
/// the config has no file (the demo), or plain when neither says anything.
pub fn resume_command(config: Option<&Path>, socket: Option<&Path>) -> String {
    let mut words = vec![program(), "ctl".to_string()];
    if let Some(c) = config {
        words.extend(["--config".to_string(), quote(&c.display().to_string())]);
    } else if let Some(s) = socket {
        words.extend(["--socket".to_string(), quote(&s.display().to_string())]);
    }
    words.push("resume".into());
    words.join(" ")
}

/// `clawvisor` when that name on PATH is this binary, else this binary's path.
fn program() -> String {
    let Ok(me) = std::env::current_exe().and_then(|p| p.canonicalize()) else {
        return "clawvisor".into();
    };
    let path = std::env::var_os("PATH");
    let on_path = crate::process::program::candidates("clawvisor", path.as_deref())
        .into_iter()
        .find(|c| c.is_file())
        .and_then(|c| c.canonicalize().ok());
    if on_path.as_deref() == Some(me.as_path()) {
        "clawvisor".into()
    } else {
        quote(&me.display().to_string())
    }
}

/// A shell word: as is when it is plain, else single-quoted.
pub fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_spaces_are_quoted() {
        assert_eq!(quote("/etc/x.toml"), "/etc/x.toml");
        assert_eq!(quote("/tmp/my dir/x's"), r"'/tmp/my dir/x'\''s'");
        let c = resume_command(Some(Path::new("/a b/c.toml")), None);
        assert!(c.ends_with(" ctl --config '/a b/c.toml' resume"), "{c}");
    }
}
