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

/// Runs the probe once: the outcome and the measurements for status.
pub async fn probe_completion(
    client: &reqwest::Client,
    cfg: &CompletionProbeConfig,
) -> (Outcome, Value) {
    let token = match resolve_token(cfg) {
        Ok(t) => t,
        Err(e) => return (Outcome::Warn(e), json!({})),
    };
    let req = ChatRequest {
        url: &cfg.url,
        model: &cfg.model,
        prompt: &cfg.prompt,
        max_tokens: cfg.max_tokens,
        stream: cfg.stream,
        token: token.as_deref(),
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
