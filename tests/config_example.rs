//! examples/clawvisor.toml (what `clawvisor init` prints) tells the truth: every value it
//! shows without an `# example` mark is the code's default, in switched-on sections too.
//! A key whose comment says its default is "derived" (it follows another key) is not held
//! to a fixed value.

mod common;

use clawvisor::config::Config;
use common::*;

/// Whether a config line is a `key = value` line (not a header, not prose).
fn is_key_line(line: &str) -> bool {
    line.split_once(" = ").is_some_and(|(k, _)| {
        let k = k.trim();
        !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
    })
}

/// The comment after a value, if any (good enough for this file: no '#' inside strings).
fn trailing_comment(line: &str) -> &str {
    line.split_once(" = ")
        .and_then(|(_, v)| v.split_once(" #"))
        .map_or("", |(_, c)| c)
}

/// Every leaf of a TOML value as (dotted path, value).
fn leaves(prefix: &str, v: &toml::Value, out: &mut Vec<(String, toml::Value)>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&p, v, out);
            }
        }
        toml::Value::Array(a) if a.iter().all(|x| x.is_table()) && !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                leaves(&format!("{prefix}.{i}"), x, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

#[test]
fn every_value_the_example_shows_is_the_default() {
    let (code, init, _) = run_cli(&["init"]);
    assert_eq!(code, 0);
    assert_eq!(init, include_str!("../examples/clawvisor.toml"));

    // The example as printed: its active values are the defaults of a config without the
    // commented-out sections.
    let shown = Config::parse(&init, "init").expect("the example parses");
    assert_eq!(
        shown.probes,
        Config::default().probes,
        "probes are off unless switched on"
    );

    // Switched on: all values, versus only the example-marked ones (the rest defaulted).
    let all_on = example_config_all_on();
    let mut derived = Vec::new();
    let mut minimal = String::new();
    let mut section = String::new();
    for line in all_on.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            section = t.trim_matches(|c| c == '[' || c == ']').to_string();
        }
        if is_key_line(line) {
            let comment = trailing_comment(line);
            let key = line.split_once(" = ").unwrap().0.trim();
            if comment.contains("derived") {
                derived.push(format!("{section}.{key}"));
            }
            if !comment.contains("example") {
                continue;
            }
        }
        minimal.push_str(line);
        minimal.push('\n');
    }
    let all = Config::parse(&all_on, "all-on").expect("the example, switched on, parses");
    let defaults = Config::parse(&minimal, "minimal").expect("the example lines alone parse");
    let (mut a, mut d) = (Vec::new(), Vec::new());
    leaves("", &toml::Value::try_from(&all).unwrap(), &mut a);
    leaves("", &toml::Value::try_from(&defaults).unwrap(), &mut d);
    let d: std::collections::BTreeMap<_, _> = d.into_iter().collect();
    let mut wrong = Vec::new();
    for (path, value) in &a {
        let section_key = path
            .split('.')
            .filter(|p| p.parse::<usize>().is_err())
            .collect::<Vec<_>>()
            .join(".");
        if derived.contains(&section_key) {
            continue;
        }
        if d.get(path) != Some(value) {
            wrong.push(format!(
                "{path}: the example shows {value}, the default is {}",
                d.get(path).map_or("(absent)".into(), |v| v.to_string())
            ));
        }
    }
    assert!(wrong.is_empty(), "not the defaults:\n{}", wrong.join("\n"));
}
