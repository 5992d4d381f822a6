//! What a reload cannot apply at once, so `ctl reload` does not say "reloaded" while some
//! of the change waits: `[gateway]` applies at the gateway's next start; `[control]` and
//! `[logs]` (other than its patterns) when clawvisor itself restarts. The rest (restart
//! rules, stop, watchers, probes, quality, log patterns) applies now.

use crate::config::Config;

/// Lines such as "[logs] dir, max_size: when clawvisor restarts", one per section with
/// changes that wait.
pub fn not_applied_now(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let gateway = changed_keys(&old.gateway, &new.gateway, &[]);
    if !gateway.is_empty() {
        out.push(format!(
            "[gateway] {}: at the gateway's next start (`clawvisor ctl restart`)",
            gateway.join(", ")
        ));
    }
    let logs = changed_keys(&old.logs, &new.logs, &["patterns", "default_patterns"]);
    if !logs.is_empty() {
        out.push(format!(
            "[logs] {}: when clawvisor restarts",
            logs.join(", ")
        ));
    }
    let control = changed_keys(&old.control, &new.control, &[]);
    if !control.is_empty() {
        out.push(format!(
            "[control] {}: when clawvisor restarts",
            control.join(", ")
        ));
    }
    out
}

/// The top-level keys whose values differ between two sections, except `skip`.
fn changed_keys<T: serde::Serialize>(old: &T, new: &T, skip: &[&str]) -> Vec<String> {
    let as_map = |v: &T| match serde_json::to_value(v) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let (a, b) = (as_map(old), as_map(new));
    let mut keys: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| !skip.contains(&k.as_str()) && a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn waiting_changes_are_listed_by_section() {
        let old = Config::default();
        let mut new = old.clone();
        assert!(not_applied_now(&old, &new).is_empty());
        new.logs.dir = PathBuf::from("/elsewhere");
        new.logs.keep_files = 3;
        new.logs.default_patterns = !old.logs.default_patterns;
        new.control.max_clients = 9;
        new.gateway.command = vec!["x".into()];
        new.restart.max_restarts = 99;
        assert_eq!(
            not_applied_now(&old, &new),
            [
                "[gateway] command: at the gateway's next start (`clawvisor ctl restart`)",
                "[logs] dir, keep_files: when clawvisor restarts",
                "[control] max_clients: when clawvisor restarts",
            ]
        );
    }
}
