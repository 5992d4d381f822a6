//! Records the git commit the binary is built from, for `clawvisor --version`.
//!
//! $CLAWVISOR_GIT_COMMIT wins (a container build copies the tree without `.git`); else
//! `git rev-parse`; else "unknown". Cargo reruns this when HEAD or the branch it points at
//! moves, not on every build.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=CLAWVISOR_GIT_COMMIT");
    let commit = match std::env::var("CLAWVISOR_GIT_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
        _ => {
            // HEAD, the ref it names, and packed-refs (where a ref lives after `git gc`).
            for path in ["HEAD", "packed-refs"] {
                if let Some(p) = git(&["rev-parse", "--git-path", path]) {
                    println!("cargo:rerun-if-changed={p}");
                }
            }
            if let Some(head_ref) = git(&["symbolic-ref", "-q", "HEAD"])
                && let Some(p) = git(&["rev-parse", "--git-path", &head_ref])
            {
                println!("cargo:rerun-if-changed={p}");
            }
            git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_string())
        }
    };
    println!("cargo:rustc-env=CLAWVISOR_GIT_COMMIT={commit}");
}
