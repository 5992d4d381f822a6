//! `[alerts]`: who is told when a person is needed, and how often.
//!
//! `[[alerts.webhook]]`, `[alerts.smtp]` (or `[[alerts.smtp]]` for several) and `[[alerts.exec]]`
//! are channels; the keys of `[alerts]` itself are the policy shared by all of them (grouping,
//! reminders, queue size).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::units::Dur;

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// How long the first occurrence of an alert waits for more of the same before it is sent,
    /// so a burst (a restart storm) becomes one message and a flap that clears within it sends
    /// nothing. A pause is never held back. Default "10s".
    pub group_wait: Dur,
    /// While an alert keeps firing, reminders go out after these intervals (since the previous
    /// message); the last one repeats. Empty: no reminders. Default ["1h", "4h", "24h"].
    pub reminders: Vec<Dur>,
    /// Messages waiting per channel; beyond it repeats and reminders are dropped (and counted),
    /// never a first occurrence or a recovery. Default 64.
    pub queue: usize,
    /// Attempts per message on a retryable failure (5xx, 429, network, timeout). Default 4.
    pub attempts: u32,
    /// Shown as the host in messages. Default: this machine's hostname.
    pub host: Option<String>,
    /// HTTP(S) receivers (`[[alerts.webhook]]`).
    pub webhook: Vec<WebhookChannelConfig>,
    /// Mail (`[alerts.smtp]`, or `[[alerts.smtp]]` for several relays).
    #[serde(deserialize_with = "one_or_many", serialize_with = "as_many")]
    pub smtp: Vec<SmtpChannelConfig>,
    /// Programs run for each message (`[[alerts.exec]]`).
    pub exec: Vec<ExecChannelConfig>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            group_wait: Dur::secs(10),
            reminders: vec![Dur::secs(3600), Dur::secs(4 * 3600), Dur::secs(24 * 3600)],
            queue: 64,
            attempts: 4,
            host: None,
            webhook: Vec::new(),
            smtp: Vec::new(),
            exec: Vec::new(),
        }
    }
}

/// Which alerts a channel gets (its `kinds` and `min_severity` keys).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct AlertFilter {
    /// Only these kinds ("pause", "crash", "restart", "exit", "memory", "gpu", "disk",
    /// "probe", "pattern", "logs", "quality", "config", "test", ...); empty: all.
    pub kinds: Vec<String>,
    /// Only alerts at least this severe; None: all.
    pub min_severity: Option<String>,
}

/// The severities, least severe first.
pub const SEVERITIES: [&str; 3] = ["info", "warning", "critical"];

/// What a webhook's body looks like: what that receiver reads.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// clawvisor's own versioned JSON (see the README's "Alert JSON").
    #[default]
    Json,
    /// Slack incoming webhook: `{"text": ...}`.
    Slack,
    /// Discord webhook: `{"content": ...}`, at most 2000 characters.
    Discord,
    /// ntfy: the text as body, Title/Priority/Tags headers, at most 4096 bytes.
    Ntfy,
    /// Gotify `POST /message`: `{"title", "message", "priority"}`.
    Gotify,
}

impl WebhookFormat {
    pub fn name(self) -> &'static str {
        match self {
            WebhookFormat::Json => "json",
            WebhookFormat::Slack => "slack",
            WebhookFormat::Discord => "discord",
            WebhookFormat::Ntfy => "ntfy",
            WebhookFormat::Gotify => "gotify",
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookChannelConfig {
    /// Shown in status and `ctl alert test --channel`. Default "webhook-N" (1-based).
    #[serde(default)]
    pub name: Option<String>,
    /// Where to POST (http:// or https://). Treated as a secret: never shown.
    pub url: String,
    /// "json", "slack", "discord", "ntfy" or "gotify". Default "json".
    #[serde(default)]
    pub format: WebhookFormat,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A file holding a bearer token (sent as `Authorization: Bearer`).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// An environment variable of clawvisor's holding the bearer token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// Hard bound on one attempt (connect, send, answer). Default "10s".
    #[serde(default = "ten_seconds")]
    pub timeout: Dur,
    /// Only these alert kinds ("pause", "crash", ...). Default: all.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Only alerts at least this severe: "info", "warning" or "critical". Default "info".
    #[serde(default)]
    pub min_severity: Option<String>,
}

/// How an SMTP connection is secured.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection, then STARTTLS, which must succeed (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS at all: only for a relay on this machine.
    None,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SmtpChannelConfig {
    /// Shown in status and `ctl alert test --channel`. Default "smtp" ("smtp-N" for several).
    #[serde(default)]
    pub name: Option<String>,
    /// The mail server's host name (also the name its certificate must carry).
    pub server: String,
    /// Default: 587 for "starttls", 465 for "tls", 25 for "none".
    #[serde(default)]
    pub port: Option<u16>,
    /// "starttls", "tls" or "none". Default "starttls".
    #[serde(default)]
    pub security: SmtpSecurity,
    /// A PEM file of extra CA certificates to trust (a private CA). Default: the built-in roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Login name; the password comes from `password_file` or `password_env`.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    #[serde(default)]
    pub password_env: Option<String>,
    /// The sender, e.g. "clawvisor <clawvisor@example.com>".
    pub from: String,
    /// One or more recipients.
    pub to: Vec<String>,
    /// Hard bound on one attempt, greeting to QUIT (lettre's own timeout covers only the
    /// connect). Default "30s".
    #[serde(default = "thirty_seconds")]
    pub timeout: Dur,
    /// Only these alert kinds ("pause", "crash", ...). Default: all.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Only alerts at least this severe: "info", "warning" or "critical". Default "info".
    #[serde(default)]
    pub min_severity: Option<String>,
}

impl SmtpChannelConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        })
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExecChannelConfig {
    /// Shown in status and `ctl alert test --channel`. Default "exec-N" (1-based).
    #[serde(default)]
    pub name: Option<String>,
    /// argv, no shell. Gets `CLAWVISOR_ALERT_*` variables and the alert JSON on stdin.
    pub command: Vec<String>,
    /// Its process group is killed after this. Default "30s".
    #[serde(default = "thirty_seconds")]
    pub timeout: Dur,
    /// Only these alert kinds ("pause", "crash", ...). Default: all.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Only alerts at least this severe: "info", "warning" or "critical". Default "info".
    #[serde(default)]
    pub min_severity: Option<String>,
}

fn ten_seconds() -> Dur {
    Dur::secs(10)
}

fn thirty_seconds() -> Dur {
    Dur::secs(30)
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<SmtpChannelConfig>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Box<SmtpChannelConfig>),
        Many(Vec<SmtpChannelConfig>),
    }
    // Untagged errors lose the field's message; try the table form first for a precise one.
    let value = toml::Value::deserialize(d)?;
    if value.is_table() {
        return SmtpChannelConfig::deserialize(value)
            .map(|c| vec![c])
            .map_err(serde::de::Error::custom);
    }
    match OneOrMany::deserialize(value).map_err(serde::de::Error::custom)? {
        OneOrMany::One(c) => Ok(vec![*c]),
        OneOrMany::Many(v) => Ok(v),
    }
}

fn as_many<S: serde::Serializer>(v: &[SmtpChannelConfig], s: S) -> Result<S::Ok, S::Error> {
    v.serialize(s)
}

impl AlertsConfig {
    /// Channel names in config order: (key path, name).
    pub fn channel_names(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, w) in self.webhook.iter().enumerate() {
            let name = w.name.clone().unwrap_or(format!("webhook-{}", i + 1));
            out.push((format!("alerts.webhook.{i}"), name));
        }
        let several = self.smtp.len() > 1;
        for (i, m) in self.smtp.iter().enumerate() {
            let default = if several {
                format!("smtp-{}", i + 1)
            } else {
                "smtp".into()
            };
            out.push((
                format!("alerts.smtp.{i}"),
                m.name.clone().unwrap_or(default),
            ));
        }
        for (i, e) in self.exec.iter().enumerate() {
            let name = e.name.clone().unwrap_or(format!("exec-{}", i + 1));
            out.push((format!("alerts.exec.{i}"), name));
        }
        out
    }

    pub fn validate(&self, out: &mut Vec<(String, String)>) {
        if self.queue == 0 {
            out.push(("alerts.queue".into(), "must be at least 1".into()));
        }
        if self.attempts == 0 {
            out.push(("alerts.attempts".into(), "must be at least 1".into()));
        }
        for (i, r) in self.reminders.iter().enumerate() {
            if r.get().is_zero() {
                out.push((
                    format!("alerts.reminders.{i}"),
                    "must be longer than 0s".into(),
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (key, name) in self.channel_names() {
            if !seen.insert(name.clone()) {
                out.push((
                    format!("{key}.name"),
                    format!("{name:?} names two channels"),
                ));
            }
        }
        for (i, w) in self.webhook.iter().enumerate() {
            let at = |k: &str| format!("alerts.webhook.{i}.{k}");
            match reqwest::Url::parse(&w.url) {
                Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
                // The URL may hold a token (Slack, Discord): never echo it.
                Ok(u) => out.push((
                    at("url"),
                    format!("is a {}: URL, not http:// or https://", u.scheme()),
                )),
                Err(e) => out.push((at("url"), format!("is not a URL ({e})"))),
            }
            if w.token_file.is_some() && w.token_env.is_some() {
                out.push((
                    at("token_file"),
                    "set token_file or token_env, not both".into(),
                ));
            }
            for k in w.headers.keys() {
                if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err() {
                    out.push((at("headers"), format!("{k:?} is not a header name")));
                }
            }
            check_common(&w.filter(), w.timeout, &at, out);
        }
        for (i, m) in self.smtp.iter().enumerate() {
            let at = |k: &str| format!("alerts.smtp.{i}.{k}");
            if m.server.trim().is_empty() {
                out.push((at("server"), "must name a mail server".into()));
            }
            if m.from.parse::<lettre::message::Mailbox>().is_err() {
                out.push((at("from"), format!("{:?} is not a mail address", m.from)));
            }
            if m.to.is_empty() {
                out.push((at("to"), "needs at least one recipient".into()));
            }
            for t in &m.to {
                if t.parse::<lettre::message::Mailbox>().is_err() {
                    out.push((at("to"), format!("{t:?} is not a mail address")));
                }
            }
            if m.password_file.is_some() && m.password_env.is_some() {
                out.push((
                    at("password_file"),
                    "set password_file or password_env, not both".into(),
                ));
            }
            if (m.password_file.is_some() || m.password_env.is_some()) && m.username.is_none() {
                out.push((at("username"), "a password needs a username".into()));
            }
            check_common(&m.filter(), m.timeout, &at, out);
        }
        for (i, e) in self.exec.iter().enumerate() {
            let at = |k: &str| format!("alerts.exec.{i}.{k}");
            if e.command.is_empty() || e.command[0].is_empty() {
                out.push((at("command"), "must name a program".into()));
            }
            check_common(&e.filter(), e.timeout, &at, out);
        }
    }

    /// Problems of this machine, not of the text: a token or password file that cannot be
    /// read, an environment variable that is not set, a program that does not exist.
    pub fn environment_warnings(&self, out: &mut Vec<(String, String)>) {
        for (i, w) in self.webhook.iter().enumerate() {
            let at = |k: &str| format!("alerts.webhook.{i}.{k}");
            check_secret(
                w.token_file.as_ref(),
                w.token_env.as_deref(),
                "token",
                &at,
                out,
            );
        }
        for (i, m) in self.smtp.iter().enumerate() {
            let at = |k: &str| format!("alerts.smtp.{i}.{k}");
            check_secret(
                m.password_file.as_ref(),
                m.password_env.as_deref(),
                "password",
                &at,
                out,
            );
            if let Some(ca) = &m.ca_file
                && let Err(e) = std::fs::read(ca)
            {
                out.push((at("ca_file"), format!("{}: {e}", ca.display())));
            }
        }
        for (i, e) in self.exec.iter().enumerate() {
            let Some(prog) = e.command.first().filter(|p| !p.is_empty()) else {
                continue;
            };
            if prog.contains('/') && !std::path::Path::new(prog).exists() {
                out.push((
                    format!("alerts.exec.{i}.command"),
                    format!("{prog} does not exist"),
                ));
            }
        }
    }
}

fn check_common(
    filter: &AlertFilter,
    timeout: Dur,
    at: &dyn Fn(&str) -> String,
    out: &mut Vec<(String, String)>,
) {
    if timeout.get().is_zero() {
        out.push((at("timeout"), "must be longer than 0s".into()));
    }
    if let Some(s) = &filter.min_severity
        && !SEVERITIES.contains(&s.as_str())
    {
        out.push((
            at("min_severity"),
            format!("{s:?} is not one of \"info\", \"warning\", \"critical\""),
        ));
    }
}

fn check_secret(
    file: Option<&PathBuf>,
    env: Option<&str>,
    what: &str,
    at: &dyn Fn(&str) -> String,
    out: &mut Vec<(String, String)>,
) {
    if let Some(path) = file
        && let Err(e) = std::fs::read_to_string(path)
    {
        out.push((
            at(&format!("{what}_file")),
            format!("{}: {e}", path.display()),
        ));
    }
    if let Some(var) = env
        && std::env::var_os(var).is_none()
    {
        out.push((at(&format!("{what}_env")), format!("${var} is not set")));
    }
}

macro_rules! filter_of {
    ($($t:ty),*) => {$(
        impl $t {
            /// Which alerts this channel gets.
            pub fn filter(&self) -> AlertFilter {
                AlertFilter {
                    kinds: self.kinds.clone(),
                    min_severity: self.min_severity.clone(),
                }
            }
        }
    )*};
}
filter_of!(WebhookChannelConfig, SmtpChannelConfig, ExecChannelConfig);
