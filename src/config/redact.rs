//! Config errors about keys that hold secrets must not quote the value: `check` output and
//! start-up errors end up in terminals, CI logs and journals. A value in the wrong place
//! (`[probes] completion = "<token>"`, `headers = "Authorization: Bearer <token>"`) would
//! otherwise be echoed by the parser's "invalid type: string \"...\"".

use super::error::ConfigError;

/// Key path segments under which any quoted value in a message is hidden: the secrets
/// themselves and the tables that hold them (a value written in place of the table).
const SECRET_BEARING: &[&str] = &[
    "token",
    "password",
    "headers",
    "url",
    "completion",
    "webhook",
    "smtp",
];

pub(super) const HIDDEN: &str = "\"(hidden: this key may hold a secret)\"";

/// Replaces every double-quoted part of `e`'s message by [`HIDDEN`] when its key path
/// names a secret-bearing key.
pub(super) fn redact(e: &mut ConfigError) {
    let Some(key) = &e.key else { return };
    if !key.split('.').any(|seg| SECRET_BEARING.contains(&seg)) {
        return;
    }
    e.message = hide_quoted(&e.message);
}

fn hide_quoted(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut chars = msg.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            out.push(c);
            continue;
        }
        // Skip to the closing quote, past escaped ones; an unclosed quote hides the rest.
        let mut escaped = false;
        for q in chars.by_ref() {
            match (escaped, q) {
                (false, '\\') => escaped = true,
                (false, '"') => break,
                _ => escaped = false,
            }
        }
        out.push_str(HIDDEN);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_are_hidden_escapes_and_all() {
        assert_eq!(
            hide_quoted(r#"invalid type: string "a\"b c", expected a map"#),
            format!("invalid type: string {HIDDEN}, expected a map")
        );
        assert_eq!(hide_quoted(r#"x "unclosed"#), format!("x {HIDDEN}"));
        assert_eq!(hide_quoted("no quotes"), "no quotes");
    }
}
