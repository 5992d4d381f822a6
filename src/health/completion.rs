//! The completion probe: a tiny chat completion ("1+1=") whose answer must contain the
//! expected text, with time to first token and tokens per second against optional floors.

use serde_json::{Value, json};

use super::chat::{ChatError, ChatRequest, ask};
use super::client::excerpt;
use super::tracker::Outcome;
use crate::config::CompletionProbeConfig;

/// The bearer token: `token`, else `token_env`, else `token_file`; None when none is set.
pub fn resolve_token(cfg: &CompletionProbeConfig) -> Result<Option<String>, String> {
    if let Some(t) = &cfg.token {
        return Ok(Some(t.clone()));
    }
    if let Some(var) = &cfg.token_env {
        return std::env::var(var)
            .map(Some)
            .map_err(|_| format!("probes.completion.token_env: ${var} is not set"));
    }
    if let Some(path) = &cfg.token_file {
        return std::fs::read_to_string(path)
            .map(|t| Some(t.trim().to_string()))
            .map_err(|e| format!("probes.completion.token_file {}: {e}", path.display()));
    }
    Ok(None)
}

/// Runs the probe once: the outcome and the measurements for status. Whatever the gateway
/// sends back (an answer that repeats its prompt or headers, an error page quoting the
/// request) has the token cut out before it reaches status, events and alerts.
pub async fn probe_completion(
    client: &reqwest::Client,
    cfg: &CompletionProbeConfig,
) -> (Outcome, Value) {
    let token = match resolve_token(cfg) {
        Ok(t) => t,
        Err(e) => return (Outcome::Warn(e), json!({})),
    };
    let (outcome, details) = probe_with(client, cfg, token.as_deref()).await;
    match token.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => (redact_outcome(outcome, t), redact_value(details, t)),
        None => (outcome, details),
    }
}

const REDACTED: &str = "(token)";

fn redact_outcome(o: Outcome, token: &str) -> Outcome {
    let r = |m: String| m.replace(token, REDACTED);
    match o {
        Outcome::Pass => Outcome::Pass,
        Outcome::Fail(m) => Outcome::Fail(r(m)),
        Outcome::Slow(m) => Outcome::Slow(r(m)),
        Outcome::Warn(m) => Outcome::Warn(r(m)),
    }
}

fn redact_value(v: Value, token: &str) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace(token, REDACTED)),
        Value::Array(a) => Value::Array(a.into_iter().map(|x| redact_value(x, token)).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, x)| (k, redact_value(x, token)))
                .collect(),
        ),
        other => other,
    }
}

async fn probe_with(
    client: &reqwest::Client,
    cfg: &CompletionProbeConfig,
    token: Option<&str>,
) -> (Outcome, Value) {
    let req = ChatRequest {
        url: &cfg.url,
        model: &cfg.model,
        prompt: &cfg.prompt,
        max_tokens: cfg.max_tokens,
        stream: cfg.stream,
        token,
        timeout: cfg.timeout.get(),
    };
    let answer = match ask(client, &req).await {
        Ok(a) => a,
        Err(ChatError::Timeout(m)) => return (Outcome::Slow(m), json!({})),
        Err(ChatError::Refused(m)) => return (Outcome::Warn(m), json!({})),
        Err(ChatError::Failed(m)) => return (Outcome::Fail(m), json!({})),
    };
    let tps = answer.tokens_per_sec();
    let details = json!({
        "latency_ms": answer.total.as_millis() as u64,
        "first_token_ms": answer.first_token.map(|d| d.as_millis() as u64),
        "tokens": answer.tokens,
        "tokens_per_sec": tps.map(|t| (t * 10.0).round() / 10.0),
        "answer": excerpt(&answer.content),
    });
    if !answer.content.contains(&cfg.expect) {
        let m = format!(
            "{:?} answered {:?}, which lacks {:?}",
            cfg.prompt,
            excerpt(&answer.content),
            cfg.expect
        );
        return (Outcome::Fail(m), details);
    }
    let slow_first = cfg
        .max_first_token
        .zip(answer.first_token)
        .filter(|(floor, ft)| *ft > floor.get());
    if let Some((floor, ft)) = slow_first {
        let m = format!(
            "first token after {} ms, above probes.completion.max_first_token ({floor})",
            ft.as_millis()
        );
        return (Outcome::Warn(m), details);
    }
    let slow_gen = cfg
        .min_tokens_per_sec
        .zip(tps)
        .filter(|(floor, t)| t < floor);
    if let Some((floor, t)) = slow_gen {
        let m = format!("{t:.1} tokens/s, below probes.completion.min_tokens_per_sec ({floor})");
        return (Outcome::Warn(m), details);
    }
    (Outcome::Pass, details)
}
