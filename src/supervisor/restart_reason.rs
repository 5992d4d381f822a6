//! Why a restart happened, from a fixed set: the label of `clawvisor_restarts_total` and
//! the keys of `Status::restarts_by_reason`. A fixed set keeps the metric's series bounded
//! and present from the start (a reason that never happened reads 0).

use std::collections::BTreeMap;

use super::exit::Exit;

/// Every reason, in the order status shows them.
pub const RESTART_REASONS: [&str; 11] = [
    "crash",
    "signal",
    "spawn_failed",
    "memory",
    "gpu",
    "probe",
    "log_pattern",
    "logs",
    "operator",
    "requested",
    "other",
];

/// A crash: the gateway ended on its own with a code, or was killed by a signal.
pub fn of_exit(exit: Exit) -> &'static str {
    match exit {
        Exit::Code(_) => "crash",
        Exit::Signal(_) => "signal",
    }
}

/// A rule's restart, by the trouble's source ("memory", "gpu", "probes.liveness",
/// "logs.pattern:oom", "logs").
pub fn of_source(source: &str) -> &'static str {
    let head = source.split(['.', ':']).next().unwrap_or("");
    match head {
        "memory" => "memory",
        "gpu" => "gpu",
        // "startup": nothing passed within probes.startup_timeout.
        "probes" | "quality" | "startup" => "probe",
        "logs" if source.starts_with("logs.pattern") => "log_pattern",
        "logs" => "logs",
        _ => "other",
    }
}

/// A count per reason with every reason present.
pub fn zeroed() -> BTreeMap<String, u64> {
    RESTART_REASONS.iter().map(|r| (r.to_string(), 0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_map_to_reasons() {
        assert_eq!(of_source("memory"), "memory");
        assert_eq!(of_source("gpu"), "gpu");
        assert_eq!(of_source("probes.liveness"), "probe");
        assert_eq!(of_source("startup"), "probe");
        assert_eq!(of_source("logs.pattern:oom"), "log_pattern");
        assert_eq!(of_source("logs"), "logs");
        assert_eq!(of_source("something new"), "other");
        assert_eq!(of_exit(Exit::Code(1)), "crash");
        assert_eq!(of_exit(Exit::Signal(9)), "signal");
        for r in [of_source("x"), of_exit(Exit::Code(0))] {
            assert!(RESTART_REASONS.contains(&r));
        }
    }
}
