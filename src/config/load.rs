//! Turning TOML text into a [`Config`], collecting every error with its location.
//!
//! serde stops at the first error, so we deserialize, record the error with its span, comment
//! out the offending lines (keeping byte offsets unchanged) and try again, until the text
//! deserializes or an error cannot be isolated. Cross-field checks run on the result.

use std::ops::Range;
use std::path::Path;

use toml::de::{DeTable, DeValue};

use super::Config;
use super::error::{ConfigError, ConfigErrors};

pub(super) fn load_file(path: &Path) -> Result<Config, ConfigErrors> {
    load_file_with_warnings(path).map(|(cfg, _)| cfg)
}

pub(super) fn load_file_with_warnings(
    path: &Path,
) -> Result<(Config, Vec<ConfigError>), ConfigErrors> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            origin: origin.clone(),
            line_col: None,
            key: None,
            message: format!("cannot read the config: {e}"),
        }])
    })?;
    let mut cfg = parse_text(&text, &origin)?;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    if let Some(dir) = absolute.parent() {
        cfg.resolve_relative(dir);
    }
    cfg.source = Some(absolute);
    let warnings = match DeTable::parse(&text) {
        Ok(doc) => cfg
            .environment_warnings()
            .into_iter()
            .map(|(key, message)| ConfigError {
                origin: origin.clone(),
                line_col: span_of(doc.get_ref(), &key).map(|r| line_col(&text, r.start)),
                key: Some(key),
                message,
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    Ok((cfg, warnings))
}

/// Places problems found outside this module (the preflight's (key, message) pairs) in the
/// config file's text, with file:line:col where the key is written.
pub fn locate(source: Option<&Path>, problems: Vec<(String, String)>) -> ConfigErrors {
    let origin = source.map_or_else(
        || "built-in defaults".to_string(),
        |p| p.display().to_string(),
    );
    let text = source
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    let doc = DeTable::parse(&text).ok();
    ConfigErrors(
        problems
            .into_iter()
            .map(|(key, message)| ConfigError {
                origin: origin.clone(),
                line_col: doc
                    .as_ref()
                    .and_then(|d| span_of(d.get_ref(), &key))
                    .map(|r| line_col(&text, r.start)),
                key: Some(key),
                message,
            })
            .collect(),
    )
}

pub(super) fn parse_text(text: &str, origin: &str) -> Result<Config, ConfigErrors> {
    let err = |range: Option<Range<usize>>, key: Option<String>, message: String| ConfigError {
        origin: origin.to_string(),
        line_col: range.map(|r| line_col(text, r.start)),
        key,
        message,
    };
    // Syntax first: a document that does not parse has one error and nothing to go on.
    let doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let mut one = err(e.span(), None, first_line(e.message()));
            super::explain::explain(&mut one, text);
            super::redact::redact(&mut one);
            return Err(ConfigErrors(vec![one]));
        }
    };

    let mut errors = Vec::new();
    let mut work = text.to_string();
    let mut seen_spans = Vec::new();
    let config = loop {
        match toml::from_str::<Config>(&work) {
            Ok(cfg) => break Some(cfg),
            Err(e) => {
                let span = e.span();
                let key = span.clone().and_then(|s| key_at(doc.get_ref(), &s));
                errors.push(err(span.clone(), key, first_line(e.message())));
                match span {
                    Some(s) if !seen_spans.contains(&s) && comment_out(&mut work, &s) => {
                        seen_spans.push(s)
                    }
                    _ => break None,
                }
            }
        }
    };

    // Defaults that depend on another key follow what the user wrote (see `derive`).
    let written = |key: &str| span_of(doc.get_ref(), key).is_some();
    let config = config.map(|mut cfg| {
        super::derive::apply(&mut cfg, &written);
        cfg
    });
    if let Some(cfg) = &config {
        for (key, message) in cfg.validate() {
            let range = span_of(doc.get_ref(), &key);
            errors.push(err(range, Some(key), message));
        }
        for (lower, upper, message) in super::derive::conflicts(cfg, &written) {
            let place = span_of(doc.get_ref(), &upper).map(|r| line_col(text, r.start));
            let message = match place {
                Some((l, c)) => format!("{message} ({upper} at {origin}:{l}:{c})"),
                None => message,
            };
            let range = span_of(doc.get_ref(), &lower);
            errors.push(err(range, Some(lower), message));
        }
    }
    for e in &mut errors {
        super::explain::explain(e, text);
        super::redact::redact(e);
    }
    match config {
        Some(cfg) if errors.is_empty() => Ok(cfg),
        _ => Err(ConfigErrors(errors)),
    }
}

fn first_line(msg: &str) -> String {
    msg.trim().lines().next().unwrap_or("").to_string()
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..offset].chars().count() + 1)
}

/// Comments out every line the span touches, keeping byte offsets. A span on a table header
/// (an unknown section) takes the whole table with it, up to the next header.
fn comment_out(work: &mut String, span: &Range<usize>) -> bool {
    let start = work[..span.start.min(work.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let end = span.end.max(span.start + 1).min(work.len());
    let mut end = work[end..].find('\n').map_or(work.len(), |i| end + i);
    if work[start..end].trim_start().starts_with('[') {
        let mut pos = end;
        while pos < work.len() {
            let next = work[pos + 1..]
                .find('\n')
                .map_or(work.len(), |i| pos + 1 + i);
            if work[pos + 1..next].trim_start().starts_with('[') {
                break;
            }
            pos = next;
        }
        end = pos;
    } else if work[start..end]
        .lines()
        .any(|l| l.trim_start().starts_with('['))
    {
        return false;
    }
    let region = &work[start..end];
    let mut out = String::with_capacity(region.len());
    for (i, line) in region.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match line.find(|c: char| !c.is_whitespace()) {
            // Replace one ASCII byte by '#' so offsets do not move; a line that starts with a
            // multi-byte character gets '#' plus padding of the same byte length.
            Some(p) => {
                let ch = line[p..].chars().next().unwrap();
                out.push_str(&line[..p]);
                out.push('#');
                out.push_str(&" ".repeat(ch.len_utf8() - 1));
                out.push_str(&line[p + ch.len_utf8()..]);
            }
            None => out.push_str(line),
        }
    }
    work.replace_range(start..end, &out);
    true
}

/// A table entry or array element: its name, its value, and its key's span (tables only).
type Child<'a, 'i> = (String, &'a toml::Spanned<DeValue<'i>>, Option<Range<usize>>);

/// The dotted path of the innermost key whose key or value contains `span`.
fn key_at(table: &DeTable<'_>, span: &Range<usize>) -> Option<String> {
    fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
        outer.start <= inner.start && inner.start < outer.end.max(outer.start + 1)
    }
    // Table spans do not always cover their body (a `[section]` header), so search every
    // table and array depth-first instead of pruning by span.
    fn walk(value: &DeValue<'_>, span: &Range<usize>, path: &mut Vec<String>) -> bool {
        let children: Vec<Child<'_, '_>> = match value {
            DeValue::Table(t) => t
                .iter()
                .map(|(k, v)| (k.get_ref().to_string(), v, Some(k.span())))
                .collect(),
            DeValue::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v, None))
                .collect(),
            _ => return false,
        };
        for (name, v, key_span) in children {
            path.push(name);
            if key_span.is_some_and(|ks| contains(&ks, span)) || walk(v.get_ref(), span, path) {
                return true;
            }
            if !matches!(v.get_ref(), DeValue::Table(_) | DeValue::Array(_))
                && contains(&v.span(), span)
            {
                return true;
            }
            if matches!(v.get_ref(), DeValue::Array(_)) && contains(&v.span(), span) {
                return true;
            }
            path.pop();
        }
        false
    }
    let mut path = Vec::new();
    let root = DeValue::Table(table.clone());
    walk(&root, span, &mut path);
    (!path.is_empty()).then(|| path.join("."))
}

/// The span of a dotted key path's value, if the key is written in the document.
fn span_of(table: &DeTable<'_>, key: &str) -> Option<Range<usize>> {
    let mut parts = key.split('.');
    let first = parts.next()?;
    let mut cur = table.get(first)?;
    for p in parts {
        cur = match cur.get_ref() {
            DeValue::Table(t) => t.get(p)?,
            DeValue::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur.span())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_config_is_valid() {
        let cfg = Config::parse(
            r#"
[gateway]
command = ["openclaw", "gateway"]
[state]
dir = "/tmp/s"
[logs]
dir = "/tmp/l"
[control]
socket = "/tmp/c.sock"
"#,
            "t.toml",
        )
        .unwrap();
        assert_eq!(cfg.restart.max_restarts, 5);
        assert_eq!(cfg.stop.timeout, crate::config::Dur::secs(30));
    }

    #[test]
    fn every_error_is_reported_with_its_place() {
        let text = "[restart]\npolicy = \"sometimes\"\nmax_restarts = 3\n\n[stop]\ntimeout = \"soon\"\nbogus = 1\n\n[restart.backoff]\nmultiplier = 0.5\n";
        let errs = Config::parse(text, "c.toml").unwrap_err().0;
        let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with("restart.policy at c.toml:2:")),
            "{shown:#?}"
        );
        assert!(shown.iter().any(|s| s.starts_with("stop.timeout at c.toml:6:") && s.contains("not a duration")), "{shown:#?}");
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with("stop.bogus at c.toml:7:1") && s.contains("unknown field")),
            "{shown:#?}"
        );
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with("restart.backoff.multiplier at c.toml:10:14")),
            "{shown:#?}"
        );
        assert_eq!(errs.len(), 4, "{shown:#?}");
        let fixed = "[restart.backoff]\nmultiplier = 0.5\njitter = 2.0\n";
        let errs = Config::parse(fixed, "c.toml").unwrap_err().0;
        assert_eq!(errs.len(), 2);
        assert!(
            errs[0]
                .to_string()
                .starts_with("restart.backoff.multiplier at c.toml:2:14"),
            "{}",
            errs[0]
        );
    }

    #[test]
    fn syntax_error_names_line() {
        let errs = Config::parse("[gateway\ncommand = 1", "x.toml")
            .unwrap_err()
            .0;
        assert_eq!(errs.len(), 1);
        assert!(errs[0].to_string().starts_with("x.toml:1:"), "{}", errs[0]);
    }
}
