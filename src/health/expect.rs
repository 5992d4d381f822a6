//! What a probe's response body must hold. JSON bodies are compared as values (key order and
//! whitespace do not matter); plain text is searched for as written.

use serde_json::{Map, Value};

use super::client::excerpt;

#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    /// Any body passes (`expect = ""`).
    Any,
    /// The body must contain this text.
    Text(String),
    /// A JSON body must have these fields (dotted keys reach into objects) with these values;
    /// a body that is not JSON must contain `text` instead, when there is one.
    Fields {
        fields: Map<String, Value>,
        text: Option<String>,
    },
}

impl Expect {
    /// From a probe's `expect_json` table or its `expect` text. A text that is a JSON member
    /// list (`"ready":true`, the default and the seed's form) is also compared as values
    /// when the body is JSON, so `{"ready": true}` passes too.
    pub fn new(fields: Option<&Map<String, Value>>, text: &str) -> Expect {
        if let Some(f) = fields {
            return Expect::Fields {
                fields: f.clone(),
                text: None,
            };
        }
        if text.is_empty() {
            return Expect::Any;
        }
        match serde_json::from_str::<Value>(&format!("{{{text}}}")) {
            Ok(Value::Object(fields)) if !fields.is_empty() => Expect::Fields {
                fields,
                text: Some(text.to_string()),
            },
            _ => Expect::Text(text.to_string()),
        }
    }

    /// None when the body meets the expectation, else why not in plain words.
    pub fn unmet(&self, body: &str) -> Option<String> {
        match self {
            Expect::Any => None,
            Expect::Text(t) => (!body.contains(t.as_str()))
                .then(|| format!("the body lacks {t:?}: {}", excerpt(body))),
            Expect::Fields { fields, text } => match serde_json::from_str::<Value>(body) {
                Ok(v) => fields.iter().find_map(|(k, want)| field_unmet(&v, k, want)),
                Err(_) => match text {
                    Some(t) if body.contains(t.as_str()) => None,
                    Some(t) => Some(format!("the body lacks {t:?}: {}", excerpt(body))),
                    None => Some(format!("the body is not JSON: {}", excerpt(body))),
                },
            },
        }
    }
}

fn field_unmet(body: &Value, key: &str, want: &Value) -> Option<String> {
    let got = key.split('.').try_fold(body, |v, k| v.get(k));
    match got {
        Some(g) if g == want => None,
        Some(g) => Some(format!("\"{key}\" is {g}, not {want}")),
        None => Some(format!("the JSON body has no \"{key}\" (expected {want})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bodies_compare_values_not_bytes() {
        let ready = Expect::new(None, "\"ready\":true");
        for body in [
            r#"{"ready":true,"failing":[]}"#,
            r#"{"ready": true, "failing": []}"#,
            "{\n  \"failing\": [],\n  \"ready\" : true\n}",
        ] {
            assert_eq!(ready.unmet(body), None, "{body}");
        }
        let wrong = ready.unmet(r#"{"ready": "true"}"#).unwrap();
        assert_eq!(wrong, r#""ready" is "true", not true"#);
        assert!(
            ready
                .unmet(r#"{"ok":true}"#)
                .unwrap()
                .contains("no \"ready\"")
        );
        // Not JSON: the text is searched as written.
        assert_eq!(ready.unmet(r#"x "ready":true y"#), None);
        assert!(ready.unmet("<html>").unwrap().contains("lacks"));
    }

    #[test]
    fn own_fields_reach_into_objects_and_plain_text_stays_text() {
        let m: Map<String, Value> =
            serde_json::from_str(r#"{"status.state": "live", "ok": true}"#).unwrap();
        let e = Expect::new(Some(&m), "ignored");
        assert_eq!(e.unmet(r#"{"ok":true,"status":{"state":"live"}}"#), None);
        assert!(
            e.unmet(r#"{"ok":true,"status":{"state":"dead"}}"#)
                .is_some()
        );
        assert!(e.unmet("live").unwrap().contains("not JSON"));
        assert_eq!(Expect::new(None, ""), Expect::Any);
        let t = Expect::new(None, "pong");
        assert_eq!(t, Expect::Text("pong".into()));
        assert_eq!(t.unmet("pong!"), None);
    }
}
