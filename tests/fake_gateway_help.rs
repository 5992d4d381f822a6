//! `fake-gateway --help` describes each flag (the README points users at it).

mod common;

#[test]
fn every_flag_has_a_description() {
    let out = std::process::Command::new(common::FAKE_GATEWAY)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = help.lines().map(str::trim_start).collect();
    let mut flags = 0;
    for (i, line) in lines.iter().enumerate() {
        if !line.starts_with("--") || line.starts_with("--help") || line.starts_with("--version") {
            continue;
        }
        flags += 1;
        // Either "--port <PORT>  Port to ..." or the description on the next line.
        // "[default: 18789]" alone is not a description.
        let words = |d: &str| !d.split('[').next().unwrap_or("").trim().is_empty();
        let same_line = line.split_once("  ").is_some_and(|(_, d)| words(d));
        let next_line = lines
            .get(i + 1)
            .is_some_and(|n| !n.starts_with('-') && words(n));
        assert!(same_line || next_line, "no description: {line:?}\n{help}");
    }
    assert!(flags >= 25, "{help}");
    assert!(help.contains("--json-style"), "{help}");
}
