//! Webhook channels: an HTTP(S) POST in the receiver's format. The URL is a secret (Slack and
//! Discord put the token in it), so errors are reported without it.

use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

use super::alert::Notification;
use super::channel::Transport;
use super::format;
use super::retry::{SendError, classify_http};
use crate::config::{WebhookChannelConfig, WebhookFormat};

pub struct Webhook {
    client: reqwest::Client,
    url: reqwest::Url,
    format: WebhookFormat,
    headers: Vec<(String, String)>,
    token: TokenSource,
}

enum TokenSource {
    None,
    File(std::path::PathBuf),
    Env(String),
}

impl Webhook {
    pub fn new(cfg: &WebhookChannelConfig) -> Result<Webhook, String> {
        crate::tls::install_provider();
        let url = reqwest::Url::parse(&cfg.url).map_err(|e| format!("url: {e}"))?;
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout.get())
            .connect_timeout(cfg.timeout.get())
            .user_agent(concat!("clawvisor/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        let token = match (&cfg.token_file, &cfg.token_env) {
            (Some(f), _) => TokenSource::File(f.clone()),
            (None, Some(v)) => TokenSource::Env(v.clone()),
            _ => TokenSource::None,
        };
        Ok(Webhook {
            client,
            url,
            format: cfg.format,
            headers: cfg
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            token,
        })
    }

    /// Read at each send, so a rotated token applies without a restart.
    fn token(&self) -> Result<Option<String>, SendError> {
        match &self.token {
            TokenSource::None => Ok(None),
            TokenSource::File(p) => std::fs::read_to_string(p)
                .map(|t| Some(t.trim().to_string()))
                .map_err(|e| SendError::fatal(format!("token_file {}: {e}", p.display()))),
            TokenSource::Env(v) => std::env::var(v)
                .map(Some)
                .map_err(|_| SendError::fatal(format!("token_env: ${v} is not set"))),
        }
    }

    async fn post(&self, n: &Notification) -> Result<(), SendError> {
        let r = format::render(self.format, n);
        let mut req = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, r.content_type);
        for (k, v) in r.headers.iter().chain(&self.headers) {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(t) = self.token()? {
            req = req.bearer_auth(t);
        }
        let resp = req.body(r.body).send().await.map_err(|e| {
            // `without_url`: the URL may carry the receiver's secret.
            SendError::retryable(describe(&e.without_url()))
        })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let Some(retry) = classify_http(status.as_u16(), retry_after.as_deref(), SystemTime::now())
        else {
            return Ok(());
        };
        // A short piece of the answer says why (Slack: "invalid_payload").
        let body = resp.text().await.unwrap_or_default();
        let body: String = body.chars().take(200).collect();
        let mut message = format!("HTTP {status}");
        if !body.trim().is_empty() {
            message.push_str(&format!(": {}", body.trim()));
        }
        Err(SendError { message, retry })
    }
}

/// The error and its causes in one line ("error sending request: connection refused").
fn describe(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cause = c.source();
    }
    s
}

impl Transport for Webhook {
    fn send<'a>(
        &'a self,
        n: &'a Notification,
    ) -> Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>> {
        Box::pin(self.post(n))
    }
}
