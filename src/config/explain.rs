//! Parser jargon into sentences a person can act on: the common TOML mistakes get the key,
//! their place (kept from the parser) and the fix, written as the line they should write.

use super::error::ConfigError;

/// Sections whose entries are a list of tables (`[[name]]`).
const TABLE_LISTS: &[&str] = &[
    "logs.patterns",
    "probes.exec",
    "alerts.webhook",
    "alerts.exec",
    "jobs",
];

/// Rewrites `e` in place when its message is one of the known jargon forms. `text` is the
/// whole config file.
pub(super) fn explain(e: &mut ConfigError, text: &str) {
    let line = e
        .line_col
        .and_then(|(l, _)| text.lines().nth(l.saturating_sub(1)))
        .unwrap_or("");
    let msg = e.message.clone();
    let leaf = e
        .key
        .as_deref()
        .map(|k| k.rsplit('.').next().unwrap_or(k).to_string());

    // `[logs.patterns]` for `[[logs.patterns]]`: serde sees a map where a list belongs.
    if msg.starts_with("invalid type: map, expected a sequence") {
        if let Some((n, name)) = single_bracket_list(text) {
            e.key = Some(name.to_string());
            e.line_col = Some((n + 1, 1));
            e.message =
                format!("[{name}] is a list: write [[{name}]] (double brackets), once per entry");
        }
        return;
    }
    if let Some(rest) = msg.strip_prefix("invalid type: string ")
        && msg.ends_with("expected a sequence")
    {
        let s = rest.split(", expected").next().unwrap_or(rest);
        let words: Vec<String> = s
            .trim_matches('"')
            .split_whitespace()
            .map(|w| format!("{w:?}"))
            .collect();
        let k = leaf.as_deref().unwrap_or("key");
        e.message = format!(
            "{s} is a string; write an array: {k} = [{}]",
            words.join(", ")
        );
        return;
    }
    if msg.starts_with("invalid type: sequence, expected a map") {
        let k = leaf.as_deref().unwrap_or("key");
        e.message = format!("is a list; write a table: {k} = {{ NAME = \"value\" }}");
        return;
    }
    if let Some(found) = msg.strip_prefix("unknown variant `") {
        let (got, choices) = found.split_once("`, expected ").unwrap_or((found, ""));
        let got = got.trim_end_matches('`');
        let choices = choices.trim_start_matches("one of ").replace('`', "\"");
        e.message = format!("{got:?} is not a choice here: write one of {choices}");
        return;
    }
    if let Some(what) = integer_expected(&msg) {
        let k = leaf.as_deref().unwrap_or("key");
        e.message = match what {
            Got::QuotedNumber(n) => {
                format!("must be a whole number without quotes: {k} = {n}")
            }
            Got::Negative(n) => format!("must be a whole number, 0 or more (got {n})"),
            Got::Other(g) => format!("must be a whole number (got {g})"),
        };
        return;
    }
    if msg.starts_with("duplicate key") {
        let t = line.trim();
        if t.starts_with('[') {
            let name = t.trim_matches(|c| c == '[' || c == ']');
            e.key = Some(name.to_string());
            e.message =
                format!("[{name}] appears twice: put all its keys under one [{name}] header");
        } else if let Some((k, _)) = t.split_once('=') {
            let k = k.trim();
            let key = qualified(text, e.line_col.map_or(0, |(l, _)| l), k);
            e.message = format!("{key} is set twice: keep one");
            e.key = Some(key);
        }
        return;
    }
    if msg.contains("leading zero")
        && let Some((k, v)) = line.split_once('=')
    {
        let k = k.trim();
        let v = v.split('#').next().unwrap_or("").trim();
        e.key = Some(qualified(text, e.line_col.map_or(0, |(l, _)| l), k));
        e.message = format!(
            "{v} is not a TOML number (no leading zeros); an octal value is a string: {k} = \"{v}\""
        );
        return;
    }
    if let Some(rest) = msg.strip_prefix("unknown field `")
        && e.key.as_deref().is_some_and(|k| !k.contains('.'))
    {
        let field = rest.split('`').next().unwrap_or("");
        if let Some(section) = section_with(field) {
            e.message = format!(
                "{field} is not a section; it belongs in [{section}]: put it under the [{section}] header"
            );
        } else {
            e.message = format!(
                "unknown section or key {field:?}; {}",
                rest.split_once(", ")
                    .map_or(String::new(), |(_, exp)| exp.replace('`', ""))
            );
        }
    }
}

/// A `[name]` header (single brackets) for a section that is a list of tables, with its
/// 0-based line number.
fn single_bracket_list(text: &str) -> Option<(usize, &'static str)> {
    text.lines().enumerate().find_map(|(n, l)| {
        let t = l.trim();
        let inner = t.strip_prefix('[')?.strip_suffix(']')?;
        if inner.starts_with('[') {
            return None;
        }
        TABLE_LISTS
            .iter()
            .find(|name| **name == inner.trim())
            .map(|name| (n, *name))
    })
}

/// `key` qualified with the section whose header comes last before 1-based `line`.
fn qualified(text: &str, line: usize, key: &str) -> String {
    let section = text
        .lines()
        .take(line.saturating_sub(1))
        .filter_map(|l| {
            let t = l.trim();
            t.starts_with('[')
                .then(|| t.trim_matches(|c| c == '[' || c == ']').trim().to_string())
        })
        .last();
    match section {
        Some(s) => format!("{s}.{key}"),
        None => key.to_string(),
    }
}

enum Got {
    QuotedNumber(String),
    Negative(String),
    Other(String),
}

/// serde's "expected u32" family, with what was found instead.
fn integer_expected(msg: &str) -> Option<Got> {
    let (found, expected) = msg.rsplit_once(", expected ")?;
    if !matches!(
        expected,
        "u8" | "u16" | "u32" | "u64" | "usize" | "i32" | "i64" | "an integer"
    ) {
        return None;
    }
    if let Some(s) = found.strip_prefix("invalid type: string ") {
        let inner = s.trim_matches('"');
        if inner.parse::<i64>().is_ok() {
            return Some(Got::QuotedNumber(inner.to_string()));
        }
        return Some(Got::Other(s.to_string()));
    }
    if let Some(s) = found.strip_prefix("invalid value: integer `") {
        let n = s.trim_end_matches('`');
        if n.starts_with('-') {
            return Some(Got::Negative(n.to_string()));
        }
        return Some(Got::Other(format!("{n}, too large")));
    }
    found
        .strip_prefix("invalid type: ")
        .map(|g| Got::Other(g.replace('`', "")))
}

/// The section whose default config has a key named `field` (`command` -> `gateway`).
fn section_with(field: &str) -> Option<String> {
    let defaults = toml::Value::try_from(super::Config::default()).ok()?;
    let table = defaults.as_table()?;
    let mut found = None;
    for (name, section) in table {
        if let Some(t) = section.as_table()
            && t.contains_key(field)
        {
            if found.is_some() {
                return None; // in several sections: no single suggestion
            }
            found = Some(name.clone());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    fn first(text: &str) -> String {
        Config::parse(text, "c.toml").unwrap_err().0[0].to_string()
    }

    #[test]
    fn common_mistakes_get_the_fix() {
        assert_eq!(
            first("[gateway]\ncommand = \"openclaw gateway\"\n"),
            "gateway.command at c.toml:2:11: \"openclaw gateway\" is a string; write an array: command = [\"openclaw\", \"gateway\"]"
        );
        assert_eq!(
            first("[logs]\ntee = true\n[logs.patterns]\nliteral = \"x\"\n"),
            "logs.patterns at c.toml:3:1: [logs.patterns] is a list: write [[logs.patterns]] (double brackets), once per entry"
        );
        assert_eq!(
            first("[gateway]\numask = 022\n"),
            "gateway.umask at c.toml:2:9: 022 is not a TOML number (no leading zeros); an octal value is a string: umask = \"022\""
        );
        assert_eq!(
            first("command = [\"x\"]\n"),
            "command at c.toml:1:1: command is not a section; it belongs in [gateway]: put it under the [gateway] header"
        );
        assert_eq!(
            first("[gateway]\ncommand = [\"sh\"]\n[stop]\n[gateway]\ncwd = \"/\"\n"),
            "gateway at c.toml:4:2: [gateway] appears twice: put all its keys under one [gateway] header"
        );
        assert_eq!(
            first("[restart]\npolicy = \"sometimes\"\n"),
            "restart.policy at c.toml:2:10: \"sometimes\" is not a choice here: write one of \"always\", \"on-failure\", \"never\""
        );
        assert_eq!(
            first("[restart]\nmax_restarts = \"5\"\n"),
            "restart.max_restarts at c.toml:2:16: must be a whole number without quotes: max_restarts = 5"
        );
        assert_eq!(
            first("[restart]\nmax_restarts = -1\n"),
            "restart.max_restarts at c.toml:2:16: must be a whole number, 0 or more (got -1)"
        );
    }
}
