//! The `[memory] [gpu] [disk] [probes.*] [quality]` keys: the commented example parses, a
//! config without them is valid with probes off, and bad values are named with their place.

mod common;

use clawvisor::config::{Config, HttpProbeKind, Size};
use clawvisor::supervisor::Reaction;

#[test]
fn the_example_sections_parse_and_defaults_are_sensible() {
    let text = common::example_config_all_on();
    let cfg = Config::parse(&text, "clawvisor.toml").unwrap_or_else(|e| panic!("{e}"));
    let live = cfg.probes.liveness.as_ref().unwrap();
    assert_eq!(
        live.url(HttpProbeKind::Liveness),
        "http://127.0.0.1:18789/healthz"
    );
    assert_eq!(live.reaction(HttpProbeKind::Liveness), Reaction::Restart);
    assert_eq!(cfg.probes.completion.as_ref().unwrap().expect, "2");
    assert!(cfg.quality.tests.is_some());

    let none = Config::parse("", "empty").unwrap();
    assert!(none.memory.enabled);
    assert_eq!(none.memory.restart_above, Size::gib(12));
    assert!(none.probes.liveness.is_none() && none.probes.completion.is_none());
    assert!(none.quality.tests.is_none());
    assert_eq!(none.disk.warn_above.0, 90.0);

    // An empty section turns a probe on with openclaw's defaults.
    let on = Config::parse("[probes.readiness]\n", "x").unwrap();
    let r = on.probes.readiness.unwrap();
    assert_eq!(
        r.url(HttpProbeKind::Readiness),
        "http://127.0.0.1:18789/readyz"
    );
    assert_eq!(r.expect(HttpProbeKind::Readiness), "\"ready\":true");
    assert_eq!(r.reaction(HttpProbeKind::Readiness), Reaction::Alert);
}

#[test]
fn bad_values_are_reported_with_key_and_place() {
    let text = r#"
[memory]
warn_above = "13GiB"
restart_above = "12GiB"
[disk]
warn_above = 120
[probes.liveness]
url = "ftp://127.0.0.1/healthz"
failure_threshold = 0
[quality]
on_failure = "restart"
min_pass_rate = 2.0
"#;
    let errs = Config::parse(text, "bad.toml").unwrap_err().to_string();
    for needle in [
        // Both written: the cross-field error names both places.
        "memory.warn_above at bad.toml:3:",
        "above memory.restart_above (12.0 GiB)",
        "(memory.restart_above at bad.toml:4:17)",
        "disk.warn_above at bad.toml:6:",
        "between 0 and 100",
        "probes.liveness.url at bad.toml:8:",
        "probes.liveness.failure_threshold at bad.toml:9:",
        "quality.on_failure at bad.toml:11:",
        "quality.min_pass_rate at bad.toml:12:",
    ] {
        assert!(errs.contains(needle), "missing {needle:?} in:\n{errs}");
    }
}
