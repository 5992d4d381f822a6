//! Warnings about files parts of the watching read later: the quality tests file and the
//! completion probe's token. clawvisor still starts without them (the part that needs one
//! reports the problem when it runs), so they are warnings for `check` and start-up, placed
//! at their key in the config file like its own problems.

use crate::config::Config;
use crate::health::completion::resolve_token;
use crate::health::quality::load_tests;

/// (key path, problem) pairs.
pub fn warnings(cfg: &Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(path) = &cfg.quality.tests
        && let Err(e) = load_tests(path)
    {
        out.push(("quality.tests".into(), e));
    }
    if let Some(c) = &cfg.probes.completion
        && let Err(e) = resolve_token(c)
    {
        let key = if c.token_file.is_some() {
            "token_file"
        } else {
            "token_env"
        };
        let key = format!("probes.completion.{key}");
        let e = e.strip_prefix(&format!("{key} ")).unwrap_or(&e).to_string();
        out.push((key, e));
    }
    out
}
