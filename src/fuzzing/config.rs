//! Config loading and validation: any text gives a config or errors that name a place.

use crate::config::Config;

pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::parse(text, "fuzz.toml") {
        Ok(cfg) => {
            // What loads must also serialise back (status and `check` print it).
            let _ = format!("{cfg:?}");
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "a rejected config must say why");
            for e in &errors.0 {
                assert!(!e.message.is_empty(), "an error without a message");
                // Rendering must not panic (it slices the text around the span).
                let _ = e.to_string();
            }
        }
    }
}
