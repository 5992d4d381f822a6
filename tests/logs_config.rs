//! `[logs]` config: the example section is valid, and bad values are named with their place.

mod common;

use clawvisor::config::Config;

const MINIMAL: &str = "[gateway]\ncommand = [\"openclaw\", \"gateway\"]\n[state]\ndir = \"/tmp/s\"\n[control]\nsocket = \"/tmp/c.sock\"\n";

#[test]
fn the_example_logs_section_is_valid() {
    let text = common::example_config_all_on();
    let cfg = Config::parse(&text, "clawvisor.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.logs.patterns.len(), 1);
    assert_eq!(cfg.logs.effective_patterns().len(), 6);
}

#[test]
fn bad_logs_values_are_reported_with_key_and_place() {
    let text = format!(
        "{MINIMAL}[logs]\ndir = \"/tmp/l\"\nrotate_every = \"weekly\"\nfile_mode = \"rw-r\"\n[[logs.patterns]]\nregex = \"(unclosed\"\naction = \"restart\"\n"
    );
    let errs = Config::parse(&text, "c.toml").unwrap_err().to_string();
    assert!(
        errs.contains("logs.rotate_every") && errs.contains("not a rotation period"),
        "{errs}"
    );
    let text = format!(
        "{MINIMAL}[logs]\ndir = \"/tmp/l\"\ncompress_level = 12\n[[logs.patterns]]\nregex = \"(unclosed\"\n"
    );
    let errs = Config::parse(&text, "c.toml").unwrap_err().to_string();
    assert!(
        errs.contains("logs.compress_level") && errs.contains("between 1 and 9"),
        "{errs}"
    );
    assert!(
        errs.contains("logs.patterns.0.regex") && errs.contains("not a valid regex"),
        "{errs}"
    );
    assert!(errs.contains("c.toml:"), "{errs}");
}
