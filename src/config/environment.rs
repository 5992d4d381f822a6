//! Checks of the config against this machine (users, files), separate from its syntax.
//! A missing tests file or token file is a warning: clawvisor still supervises the gateway,
//! and that part of the watching reports the problem when it runs.

use super::Config;

impl Config {
    /// (key path, problem) pairs worth a warning at `check` and at start-up.
    pub(super) fn environment_warnings(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(path) = &self.quality.tests
            && let Err(e) = crate::health::quality::load_tests(path)
        {
            out.push(("quality.tests".into(), e));
        }
        if let Some(c) = &self.probes.completion
            && let Err(e) = crate::health::completion::resolve_token(c)
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
        self.alerts.environment_warnings(&mut out);
        out
    }
}
