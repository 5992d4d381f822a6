//! Defaults that follow the keys a user wrote, for pairs of related thresholds.
//!
//! A config whose only memory line is `restart_above = "400MiB"` must not be rejected
//! because the default `warn_above` (10 GiB) is above it: the user never wrote `warn_above`.
//! So, for each pair (a lower and an upper threshold), a default that is not written
//! follows the written key, and "lower is above upper" is an error only when the user wrote
//! both (the message names both with their places).

use std::time::Duration;

use super::Config;
use super::units::{Dur, Size};

/// How an unwritten key follows a written one: the written value × `num` / `den`.
#[derive(Clone, Copy, Debug)]
pub enum Follow {
    /// Always (a documented fraction, e.g. `memory.warn_above` = 5/6 of `restart_above`).
    Always(u64, u64),
    /// Only when the default would be on the wrong side of the written value.
    WhenInverted(u64, u64),
    /// Never (an unset key means "off": nothing to conflict with).
    Never,
}

/// Two related thresholds: `lower` must not be above `upper`.
pub struct Pair {
    pub lower: &'static str,
    pub upper: &'static str,
    /// The lower key's default when only the upper one is written.
    pub lower_follows: Follow,
    /// The upper key's default when only the lower one is written.
    pub upper_follows: Follow,
    /// Why the order matters, for the error.
    pub why: &'static str,
    /// The values in a common unit (bytes, milliseconds); None when off or unset.
    get: fn(&Config) -> (Option<u64>, Option<u64>),
    set_lower: fn(&mut Config, u64),
    set_upper: fn(&mut Config, u64),
    show: fn(u64) -> String,
}

fn on(v: u64) -> Option<u64> {
    (v > 0).then_some(v)
}

fn ms(d: Dur) -> u64 {
    d.get().as_millis() as u64
}

fn dur(v: u64) -> Dur {
    Dur(Duration::from_millis(v))
}

fn show_size(v: u64) -> String {
    Size(v).to_string()
}

fn show_dur(v: u64) -> String {
    dur(v).to_string()
}

/// Every pair of related thresholds.
pub const PAIRS: &[Pair] = &[
    Pair {
        lower: "memory.warn_above",
        upper: "memory.restart_above",
        lower_follows: Follow::Always(5, 6),
        upper_follows: Follow::WhenInverted(6, 5),
        why: "the warning would never come first",
        get: |c| (on(c.memory.warn_above.0), on(c.memory.restart_above.0)),
        set_lower: |c, v| c.memory.warn_above = Size(v),
        set_upper: |c, v| c.memory.restart_above = Size(v),
        show: show_size,
    },
    Pair {
        lower: "gpu.warn_memory_above",
        upper: "gpu.restart_memory_above",
        lower_follows: Follow::Always(5, 6),
        upper_follows: Follow::Never,
        why: "the warning would never come first",
        get: |c| {
            (
                c.gpu.warn_memory_above.map(|s| s.0),
                c.gpu.restart_memory_above.map(|s| s.0),
            )
        },
        set_lower: |c, v| c.gpu.warn_memory_above = Some(Size(v)),
        set_upper: |c, v| c.gpu.restart_memory_above = Some(Size(v)),
        show: show_size,
    },
    Pair {
        lower: "logs.max_line",
        upper: "logs.max_size",
        lower_follows: Follow::WhenInverted(1, 1),
        upper_follows: Follow::WhenInverted(1, 1),
        why: "a whole line would not fit in a file",
        get: |c| (Some(c.logs.max_line.0), on(c.logs.max_size.0)),
        set_lower: |c, v| c.logs.max_line = Size(v),
        set_upper: |c, v| c.logs.max_size = Size(v),
        show: show_size,
    },
    Pair {
        lower: "logs.max_size",
        upper: "logs.max_total_size",
        lower_follows: Follow::WhenInverted(1, 2),
        upper_follows: Follow::Never,
        why: "a single rotated file would be over the total",
        get: |c| (on(c.logs.max_size.0), c.logs.max_total_size.map(|s| s.0)),
        set_lower: |c, v| c.logs.max_size = Size(v),
        set_upper: |c, v| c.logs.max_total_size = Some(Size(v)),
        show: show_size,
    },
    Pair {
        lower: "restart.backoff.initial",
        upper: "restart.backoff.max",
        lower_follows: Follow::WhenInverted(1, 1),
        upper_follows: Follow::WhenInverted(1, 1),
        why: "the delay could never start below its maximum",
        get: |c| {
            (
                Some(ms(c.restart.backoff.initial)),
                Some(ms(c.restart.backoff.max)),
            )
        },
        set_lower: |c, v| c.restart.backoff.initial = dur(v),
        set_upper: |c, v| c.restart.backoff.max = dur(v),
        show: show_dur,
    },
];

fn scaled(v: u64, (num, den): (u64, u64)) -> u64 {
    (u128::from(v) * u128::from(num) / u128::from(den)) as u64
}

/// Fills the unwritten key of each pair from the written one. `written(key)`: the user
/// wrote this dotted key.
pub fn apply(cfg: &mut Config, written: &dyn Fn(&str) -> bool) {
    for p in PAIRS {
        let (lw, uw) = (written(p.lower), written(p.upper));
        let (lower, upper) = (p.get)(cfg);
        match (lw, uw, lower, upper) {
            (false, true, _, Some(u)) => match p.lower_follows {
                Follow::Always(n, d) => (p.set_lower)(cfg, scaled(u, (n, d))),
                Follow::WhenInverted(n, d) if lower.is_some_and(|l| l > u) => {
                    (p.set_lower)(cfg, scaled(u, (n, d)))
                }
                _ => {}
            },
            (true, false, Some(l), Some(u)) if l > u => {
                if let Follow::WhenInverted(n, d) | Follow::Always(n, d) = p.upper_follows {
                    (p.set_upper)(cfg, scaled(l, (n, d)).max(l));
                }
            }
            _ => {}
        }
    }
}

/// "lower is above upper" where the user wrote both: (lower key, upper key, problem).
pub fn conflicts(cfg: &Config, written: &dyn Fn(&str) -> bool) -> Vec<(String, String, String)> {
    PAIRS
        .iter()
        .filter(|p| written(p.lower) && written(p.upper))
        .filter_map(|p| match (p.get)(cfg) {
            (Some(l), Some(u)) if l > u => Some((
                p.lower.to_string(),
                p.upper.to_string(),
                format!(
                    "{} is above {} ({}): {}",
                    (p.show)(l),
                    p.upper,
                    (p.show)(u),
                    p.why
                ),
            )),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row per pair: the value written alone for each key, and what the other key
    /// becomes; then both written the wrong way round.
    struct Row {
        pair: &'static str,
        section: &'static str,
        upper_alone: (&'static str, &'static str, &'static str),
        lower_alone: (&'static str, &'static str, &'static str),
        inverted: (&'static str, &'static str),
    }

    const ROWS: &[Row] = &[
        Row {
            pair: "memory.warn_above",
            section: "memory",
            upper_alone: ("restart_above", "\"400MiB\"", "333.3 MiB"),
            lower_alone: ("warn_above", "\"20GiB\"", "24.0 GiB"),
            inverted: ("warn_above = \"2GiB\"", "restart_above = \"1GiB\""),
        },
        Row {
            pair: "gpu.warn_memory_above",
            section: "gpu",
            upper_alone: ("restart_memory_above", "\"12GiB\"", "10.0 GiB"),
            lower_alone: ("warn_memory_above", "\"20GiB\"", "-"),
            inverted: (
                "warn_memory_above = \"2GiB\"",
                "restart_memory_above = \"1GiB\"",
            ),
        },
        Row {
            pair: "logs.max_line",
            section: "logs",
            upper_alone: ("max_size", "\"16KiB\"", "16.0 KiB"),
            lower_alone: ("max_line", "\"200MiB\"", "200.0 MiB"),
            inverted: ("max_line = \"64KiB\"", "max_size = \"32KiB\""),
        },
        Row {
            pair: "logs.max_size",
            section: "logs",
            upper_alone: ("max_total_size", "\"40MiB\"", "20.0 MiB"),
            lower_alone: ("max_size", "\"1GiB\"", "-"),
            inverted: ("max_size = \"50MiB\"", "max_total_size = \"10MiB\""),
        },
        Row {
            pair: "restart.backoff.initial",
            section: "restart.backoff",
            upper_alone: ("max", "\"500ms\"", "500ms"),
            lower_alone: ("initial", "\"10m\"", "10m"),
            inverted: ("initial = \"1m\"", "max = \"10s\""),
        },
    ];

    fn value(cfg: &Config, key: &str) -> String {
        let p = PAIRS
            .iter()
            .find(|p| p.lower == key || p.upper == key)
            .unwrap();
        let (l, u) = (p.get)(cfg);
        let v = if p.lower == key { l } else { u };
        v.map_or("-".into(), p.show)
    }

    #[test]
    fn every_pair_follows_the_written_key_and_errs_only_when_both_are_written() {
        assert_eq!(ROWS.len(), PAIRS.len(), "a row for every pair");
        for (row, pair) in ROWS.iter().zip(PAIRS) {
            assert_eq!(row.pair, pair.lower);
            let other = |k: &str| {
                if format!("{}.{k}", row.section) == pair.lower {
                    pair.upper
                } else {
                    pair.lower
                }
            };
            for (key, v, want) in [row.upper_alone, row.lower_alone] {
                let text = format!("[{}]\n{key} = {v}\n", row.section);
                let cfg = Config::parse(&text, "t.toml")
                    .unwrap_or_else(|e| panic!("{}: {text} rejected: {e}", row.pair));
                assert_eq!(value(&cfg, other(key)), want, "{text}");
            }
            let text = format!(
                "[{}]\n{}\n{}\n",
                row.section, row.inverted.0, row.inverted.1
            );
            let errs = Config::parse(&text, "t.toml").unwrap_err();
            let shown = errs.to_string();
            assert_eq!(errs.0.len(), 1, "{shown}");
            assert!(
                shown.starts_with(&format!("{} at t.toml:2:", pair.lower))
                    && shown.contains(&format!("{} at t.toml:3:", pair.upper)),
                "{shown}"
            );
        }
    }

    #[test]
    fn the_defaults_themselves_are_in_order() {
        let cfg = Config::default();
        assert!(conflicts(&cfg, &|_| true).is_empty());
    }
}
