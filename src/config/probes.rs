//! `[probes.*]` and `[quality]`: layer-2 and layer-3 checks.
//!
//! Every probe is off unless its section is present: clawvisor may supervise something other
//! than openclaw, and a probe aimed at the wrong port would restart a healthy child. The
//! example config turns them on with openclaw's endpoints.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Reaction;
use super::units::Dur;

/// The gateway's default address (openclaw listens on loopback port 18789).
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:18789";

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ProbesConfig {
    /// Startup grace: until a probe first passes, or this long after a spawn, failing probes
    /// do not restart the child (a model load can take minutes). When it runs out without
    /// any probe passing, the child is restarted. Default "5m".
    pub startup_timeout: Dur,
    /// Until a probe first passes after a spawn, it retries this often instead of at its own
    /// `period` (never less often than `period`), so a gateway that answers 15 s after its
    /// spawn is seen ready within seconds even by a probe whose period is minutes. Failures
    /// before that first pass still count at most once per `period`. Default "2s".
    pub startup_period: Dur,
    /// `GET /startupz`; the grace ends when it passes. Keys as in `[probes.liveness]`.
    pub startup: Option<HttpProbeConfig>,
    /// `GET /healthz`; `failure_threshold` failures in a row (after the grace) restart.
    pub liveness: Option<HttpProbeConfig>,
    /// `GET /readyz` (a JSON body's `ready` must be `true`); failures alert, never restart.
    pub readiness: Option<HttpProbeConfig>,
    /// A tiny chat completion that must contain the expected answer.
    pub completion: Option<CompletionProbeConfig>,
    /// Commands whose exit status is a probe (`[[probes.exec]]`).
    pub exec: Vec<ExecProbeConfig>,
}

impl Default for ProbesConfig {
    fn default() -> Self {
        ProbesConfig {
            startup_timeout: Dur::secs(300),
            startup_period: Dur::secs(2),
            startup: None,
            liveness: None,
            readiness: None,
            completion: None,
            exec: Vec::new(),
        }
    }
}

/// Which HTTP probe a `[probes.*]` section configures; decides its defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpProbeKind {
    Startup,
    Liveness,
    Readiness,
}

impl HttpProbeKind {
    pub fn name(self) -> &'static str {
        match self {
            HttpProbeKind::Startup => "startup",
            HttpProbeKind::Liveness => "liveness",
            HttpProbeKind::Readiness => "readiness",
        }
    }
    fn default_path(self) -> &'static str {
        match self {
            HttpProbeKind::Startup => "/startupz",
            HttpProbeKind::Liveness => "/healthz",
            HttpProbeKind::Readiness => "/readyz",
        }
    }
    /// A 200 alone proves nothing on openclaw (unknown paths answer 200 HTML): check the body.
    fn default_expect(self) -> &'static str {
        match self {
            HttpProbeKind::Startup => "\"ok\":true",
            HttpProbeKind::Liveness => "\"ok\":true",
            HttpProbeKind::Readiness => "\"ready\":true",
        }
    }
    fn default_reaction(self) -> Reaction {
        match self {
            HttpProbeKind::Readiness => Reaction::Alert,
            _ => Reaction::Restart,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpProbeConfig {
    /// The URL to GET. Default `http://127.0.0.1:18789` plus `/startupz`, `/healthz` or
    /// `/readyz`. Loopback targets bypass any http_proxy variable.
    pub url: Option<String>,
    /// What the response body must hold (besides status 200). Default `"ok":true` for
    /// startup and liveness, `"ready":true` for readiness. Written as JSON members like
    /// these, it is compared as JSON values when the body is JSON (`{"ready": true}` and
    /// `{"failing":[],"ready":true}` both pass), else searched as text; any other text is
    /// searched as written. `""` accepts any body.
    pub expect: Option<String>,
    /// Fields a JSON body must have, with their values, e.g. `{ ready = true }` or
    /// `{ "status.state" = "live" }` (a dotted key reaches into objects). Key order and
    /// whitespace do not matter; a body that is not JSON fails. Overrides `expect`.
    pub expect_json: Option<serde_json::Map<String, serde_json::Value>>,
    /// Time between probes. Default "10s".
    pub period: Dur,
    /// A probe not answered within this fails. Default "5s".
    pub timeout: Dur,
    /// Failures in a row before the probe counts as failed. Default 3.
    pub failure_threshold: u32,
    /// Successes in a row before a failed probe counts as passing again. Default 1.
    pub success_threshold: u32,
    /// `"alert"`, `"restart"` or `"pause"` when the probe fails. Default "restart" for
    /// startup and liveness, "alert" for readiness.
    pub on_failure: Option<Reaction>,
}

impl Default for HttpProbeConfig {
    fn default() -> Self {
        HttpProbeConfig {
            url: None,
            expect: None,
            expect_json: None,
            period: Dur::secs(10),
            timeout: Dur::secs(5),
            failure_threshold: 3,
            success_threshold: 1,
            on_failure: None,
        }
    }
}

impl HttpProbeConfig {
    pub fn url(&self, kind: HttpProbeKind) -> String {
        self.url
            .clone()
            .unwrap_or_else(|| format!("{DEFAULT_BASE_URL}{}", kind.default_path()))
    }
    pub fn expect(&self, kind: HttpProbeKind) -> String {
        self.expect
            .clone()
            .unwrap_or_else(|| kind.default_expect().to_string())
    }
    pub fn reaction(&self, kind: HttpProbeKind) -> Reaction {
        self.on_failure.unwrap_or(kind.default_reaction())
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CompletionProbeConfig {
    /// The chat completions endpoint. Default `http://127.0.0.1:18789/v1/chat/completions`
    /// (openclaw answers 404 on the seed's `/v1/completions`).
    pub url: String,
    /// The model name sent. Default "openclaw".
    pub model: String,
    /// The user message. Default "1+1=".
    pub prompt: String,
    /// `max_tokens` of the request. Default 64.
    pub max_tokens: u32,
    /// The answer must contain this text. Default "2".
    pub expect: String,
    /// The bearer token, written in the config (prefer `token_file` or `token_env`).
    pub token: Option<String>,
    /// An environment variable of clawvisor's holding the bearer token.
    pub token_env: Option<String>,
    /// A file holding the bearer token (surrounding whitespace is ignored).
    pub token_file: Option<PathBuf>,
    /// Time between probes. Default "5m".
    pub period: Dur,
    /// A probe not finished within this times out. Default "60s".
    pub timeout: Dur,
    /// Failures in a row before the probe counts as failed. Default 3.
    pub failure_threshold: u32,
    /// Busy is not hung: a probe that times out while liveness still answers counts as
    /// "slow" (alerted, shown in status). Slow probes restart only once their failures span
    /// this long (or when liveness fails too). Default "15m".
    pub slow_window: Dur,
    /// Ask for a streamed answer, to measure time to first token. Default true.
    pub stream: bool,
    /// Alert (as slow) when the first token takes longer than this. Unset: no floor.
    pub max_first_token: Option<Dur>,
    /// Alert (as slow) when generation is slower than this many tokens per second.
    pub min_tokens_per_sec: Option<f64>,
    /// `"alert"`, `"restart"` or `"pause"` when the probe fails. Default "restart".
    pub on_failure: Reaction,
}

impl Default for CompletionProbeConfig {
    fn default() -> Self {
        CompletionProbeConfig {
            url: format!("{DEFAULT_BASE_URL}/v1/chat/completions"),
            model: "openclaw".into(),
            prompt: "1+1=".into(),
            max_tokens: 64,
            expect: "2".into(),
            token: None,
            token_env: None,
            token_file: None,
            period: Dur::secs(300),
            timeout: Dur::secs(60),
            failure_threshold: 3,
            slow_window: Dur::secs(900),
            stream: true,
            max_first_token: None,
            min_tokens_per_sec: None,
            on_failure: Reaction::Restart,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ExecProbeConfig {
    /// A name for status and alerts. Default: the program's name.
    pub name: Option<String>,
    /// The argv to run; exit status 0 passes. Required.
    pub command: Vec<String>,
    /// Time between runs. Default "30s".
    pub period: Dur,
    /// A run not finished within this is killed and fails. Default "10s".
    pub timeout: Dur,
    /// Failures in a row before the probe counts as failed. Default 3.
    pub failure_threshold: u32,
    /// `"alert"`, `"restart"` or `"pause"` when the probe fails. Default "alert".
    pub on_failure: Reaction,
}

impl Default for ExecProbeConfig {
    fn default() -> Self {
        ExecProbeConfig {
            name: None,
            command: Vec::new(),
            period: Dur::secs(30),
            timeout: Dur::secs(10),
            failure_threshold: 3,
            on_failure: Reaction::Alert,
        }
    }
}

impl ExecProbeConfig {
    pub fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            let prog = self.command.first().map(String::as_str).unwrap_or("exec");
            prog.rsplit('/').next().unwrap_or(prog).to_string()
        })
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QualityConfig {
    /// A reasoning-tests file (`{"tests":[{"type","prompt","expected_keywords":[...]}]}`).
    /// Quality testing is off while this is unset.
    pub tests: Option<PathBuf>,
    /// Time between runs (also on `ctl probe quality`). The first run is one `every` after
    /// the child becomes ready. Default "6h".
    pub every: Dur,
    /// The lowest acceptable pass rate, 0.0–1.0. Default 0.8.
    pub min_pass_rate: f64,
    /// `"alert"` or `"pause"` (auto-pause until `ctl resume`) when the pass rate is below
    /// `min_pass_rate`. Default "alert".
    pub on_failure: Reaction,
    /// Time allowed for one test's answer. Default "5m" (reasoning takes a while).
    pub timeout: Dur,
    /// `max_tokens` of each request. Default 1024.
    pub max_tokens: u32,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            tests: None,
            every: Dur::secs(6 * 3600),
            min_pass_rate: 0.8,
            on_failure: Reaction::Alert,
            timeout: Dur::secs(300),
            max_tokens: 1024,
        }
    }
}

impl ProbesConfig {
    pub fn validate(&self, out: &mut Vec<(String, String)>) {
        if self.startup_period.get().is_zero() {
            out.push((
                "probes.startup_period".into(),
                "must be longer than 0s".into(),
            ));
        }
        let kinds = [
            (HttpProbeKind::Startup, &self.startup),
            (HttpProbeKind::Liveness, &self.liveness),
            (HttpProbeKind::Readiness, &self.readiness),
        ];
        for (kind, probe) in kinds {
            let Some(p) = probe else { continue };
            let at = |k: &str| format!("probes.{}.{k}", kind.name());
            check_url(&p.url(kind), at("url"), out);
            check_timing(p.period, p.timeout, p.failure_threshold, &at, out);
            if p.success_threshold == 0 {
                out.push((at("success_threshold"), "must be at least 1".into()));
            }
        }
        if let Some(c) = &self.completion {
            let at = |k: &str| format!("probes.completion.{k}");
            check_url(&c.url, at("url"), out);
            check_timing(c.period, c.timeout, c.failure_threshold, &at, out);
            if c.max_tokens == 0 {
                out.push((at("max_tokens"), "must be at least 1".into()));
            }
        }
        for (i, e) in self.exec.iter().enumerate() {
            let at = |k: &str| format!("probes.exec.{i}.{k}");
            if e.command.is_empty() || e.command[0].is_empty() {
                out.push((at("command"), "must name a program".into()));
            }
            check_timing(e.period, e.timeout, e.failure_threshold, &at, out);
        }
    }
}

impl QualityConfig {
    pub fn validate(&self, out: &mut Vec<(String, String)>) {
        if !(0.0..=1.0).contains(&self.min_pass_rate) {
            out.push((
                "quality.min_pass_rate".into(),
                format!("{} must be between 0 and 1 (0.8 = 80%)", self.min_pass_rate),
            ));
        }
        if self.on_failure == Reaction::Restart {
            out.push((
                "quality.on_failure".into(),
                "must be \"alert\" or \"pause\": a restart does not make a model smarter".into(),
            ));
        }
        if self.every.get().is_zero() {
            out.push(("quality.every".into(), "must be longer than 0s".into()));
        }
    }
}

fn check_url(url: &str, key: String, out: &mut Vec<(String, String)>) {
    // Probes target the gateway on this machine; clawvisor is built without TLS.
    if !url.starts_with("http://") {
        out.push((key, format!("{url:?} is not an http:// URL")));
    }
}

fn check_timing(
    period: Dur,
    timeout: Dur,
    failures: u32,
    at: &dyn Fn(&str) -> String,
    out: &mut Vec<(String, String)>,
) {
    if period.get().is_zero() {
        out.push((at("period"), "must be longer than 0s".into()));
    }
    if timeout.get().is_zero() {
        out.push((at("timeout"), "must be longer than 0s".into()));
    }
    if failures == 0 {
        out.push((at("failure_threshold"), "must be at least 1".into()));
    }
}
