//! Text from the gateway (log lines, pause records) shown on a terminal: control characters
//! are written as escapes, as journalctl does, so a line that carries bytes from the network
//! (a request path) cannot move the cursor, retitle the window or ring the bell.
//! `--json` output needs none of this (JSON escapes them itself).

use std::borrow::Cow;
use std::fmt::Write;

/// `s` with every control character but TAB written as `\xNN` (C0, DEL) or `\u{NN}` (C1).
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if !needs_escape(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control() && c != '\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_text_is_kept() {
        assert!(matches!(printable("plain é\ttext"), Cow::Borrowed(_)));
        assert_eq!(
            printable("GET /\u{1b}]0;pwned\u{7}\r\0\u{7f}\u{9b}x"),
            "GET /\\x1b]0;pwned\\x07\\x0d\\x00\\x7f\\u{9b}x"
        );
    }
}
