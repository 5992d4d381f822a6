//! Where clawvisor's own secrets come from, so that the rest can keep them out of the
//! children it starts: a variable clawvisor reads a token or password from is clawvisor's,
//! not the gateway's (openclaw runs plugins and tools that may print or forward their
//! environment).

use super::Config;

impl Config {
    /// The environment variables named by `token_env` / `password_env` anywhere in the
    /// config. They are removed from the gateway's and the jobs' environment; a value the
    /// user writes in `[gateway] env` is still passed (that is an explicit choice).
    pub fn secret_env_vars(&self) -> Vec<String> {
        let completion = self
            .probes
            .completion
            .as_ref()
            .and_then(|c| c.token_env.clone());
        let webhooks = self
            .alerts
            .webhook
            .iter()
            .filter_map(|w| w.token_env.clone());
        let smtp = self
            .alerts
            .smtp
            .iter()
            .filter_map(|m| m.password_env.clone());
        let mut v: Vec<String> = completion.into_iter().chain(webhooks).chain(smtp).collect();
        v.sort();
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_env_secret_is_named_once() {
        let cfg = Config::parse(
            r#"
[probes.completion]
token_env = "GW_TOKEN"
[[alerts.webhook]]
url = "http://127.0.0.1:1/"
token_env = "HOOK_TOKEN"
[[alerts.webhook]]
url = "http://127.0.0.1:2/"
token_env = "GW_TOKEN"
[[alerts.smtp]]
server = "localhost"
username = "u"
password_env = "MAIL_PASSWORD"
from = "a@example.com"
to = ["b@example.com"]
"#,
            "test",
        )
        .unwrap();
        assert_eq!(
            cfg.secret_env_vars(),
            ["GW_TOKEN", "HOOK_TOKEN", "MAIL_PASSWORD"]
        );
        assert!(Config::default().secret_env_vars().is_empty());
    }
}
