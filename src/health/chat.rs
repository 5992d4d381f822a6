//! One chat completion against an OpenAI-compatible endpoint (openclaw's
//! `/v1/chat/completions`), streamed or not, with time to first token and tokens per second.
//! Shared by the completion probe and the quality tests.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::client::excerpt;
use super::http::{fmt, plain_error};

pub struct ChatRequest<'a> {
    pub url: &'a str,
    pub model: &'a str,
    pub prompt: &'a str,
    pub max_tokens: u32,
    pub stream: bool,
    pub token: Option<&'a str>,
    pub timeout: Duration,
}

#[derive(Clone, Debug, Default)]
pub struct Answer {
    /// The answer text (`content`; reasoning text is not part of it).
    pub content: String,
    /// Time to the first streamed token (reasoning or content); None when not streamed.
    pub first_token: Option<Duration>,
    pub total: Duration,
    /// Completion tokens: from `usage` when the server sends it, else streamed chunks.
    pub tokens: u64,
}

impl Answer {
    /// Generation speed after the first token (or over the whole call when not streamed).
    pub fn tokens_per_sec(&self) -> Option<f64> {
        let gen_time = self
            .total
            .saturating_sub(self.first_token.unwrap_or_default());
        (self.tokens > 1 && !gen_time.is_zero())
            .then(|| self.tokens as f64 / gen_time.as_secs_f64())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ChatError {
    /// No complete answer within the timeout: maybe busy, maybe hung.
    Timeout(String),
    /// The server refused us (401/403/404): a configuration problem, not a sick gateway.
    Refused(String),
    /// Anything else: connection refused, 5xx, garbage.
    Failed(String),
}

pub async fn ask(client: &reqwest::Client, req: &ChatRequest<'_>) -> Result<Answer, ChatError> {
    let start = Instant::now();
    let timed_out =
        || ChatError::Timeout(format!("no complete answer within {}", fmt(req.timeout)));
    match tokio::time::timeout(req.timeout, ask_inner(client, req, start)).await {
        Err(_) => Err(timed_out()),
        Ok(Err(ChatError::Failed(m))) if m.contains("operation timed out") => Err(timed_out()),
        Ok(r) => r,
    }
}

async fn ask_inner(
    client: &reqwest::Client,
    req: &ChatRequest<'_>,
    start: Instant,
) -> Result<Answer, ChatError> {
    let body = json!({
        "model": req.model,
        "messages": [{"role": "user", "content": req.prompt}],
        "max_tokens": req.max_tokens,
        "stream": req.stream,
    });
    let mut rb = client.post(req.url).json(&body);
    if let Some(t) = req.token {
        rb = rb.bearer_auth(t);
    }
    let failed = |e: reqwest::Error| {
        if e.is_timeout() {
            ChatError::Failed("operation timed out".into())
        } else {
            ChatError::Failed(plain_error(&e))
        }
    };
    let mut resp = rb.send().await.map_err(failed)?;
    let status = resp.status().as_u16();
    if status != 200 {
        let text = resp.text().await.unwrap_or_default();
        let msg = format!("HTTP {status}: {}", excerpt(&text));
        return Err(match status {
            401 | 403 => ChatError::Refused(format!("{msg} (check the token)")),
            404 => ChatError::Refused(format!("{msg} (check the url)")),
            _ => ChatError::Failed(msg),
        });
    }
    let mut answer = Answer::default();
    if !req.stream {
        let text = resp.text().await.map_err(failed)?;
        let v: Value = serde_json::from_str(&text).map_err(|e| {
            ChatError::Failed(format!(
                "POST {}: not JSON ({e}): {}",
                req.url,
                excerpt(&text)
            ))
        })?;
        answer.content = v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        answer.tokens = v["usage"]["completion_tokens"].as_u64().unwrap_or(0);
        answer.total = start.elapsed();
        return Ok(answer);
    }
    let mut sse = SseLines::default();
    let mut usage_tokens = None;
    let mut chunks = 0u64;
    'read: while let Some(bytes) = resp.chunk().await.map_err(failed)? {
        for data in sse.push(&bytes) {
            if data == "[DONE]" {
                break 'read;
            }
            let Ok(v) = serde_json::from_str::<Value>(&data) else {
                continue;
            };
            if let Some(n) = v["usage"]["completion_tokens"].as_u64() {
                usage_tokens = Some(n);
            }
            let delta = &v["choices"][0]["delta"];
            let content = delta["content"].as_str().unwrap_or_default();
            let reasoning = delta["reasoning_content"]
                .as_str()
                .or(delta["reasoning"].as_str())
                .unwrap_or_default();
            if !content.is_empty() || !reasoning.is_empty() {
                chunks += 1;
                answer.first_token.get_or_insert_with(|| start.elapsed());
            }
            answer.content.push_str(content);
        }
    }
    answer.total = start.elapsed();
    answer.tokens = usage_tokens.unwrap_or(chunks);
    Ok(answer)
}

/// Splits a server-sent-events byte stream into the payloads of its `data:` lines.
#[derive(Default)]
pub struct SseLines {
    buf: Vec<u8>,
}

impl SseLines {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=i).collect();
            let line = String::from_utf8_lossy(&line);
            if let Some(d) = line.trim_end().strip_prefix("data:") {
                out.push(d.trim_start().to_string());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_lines_survive_arbitrary_chunking() {
        let stream = "data: {\"a\":1}\n\n: comment\ndata: [DONE]\n\n";
        let mut s = SseLines::default();
        let mut got = Vec::new();
        for b in stream.as_bytes().chunks(3) {
            got.extend(s.push(b));
        }
        assert_eq!(got, ["{\"a\":1}", "[DONE]"]);
    }

    #[test]
    fn speed_is_measured_after_the_first_token() {
        let a = Answer {
            first_token: Some(Duration::from_secs(1)),
            total: Duration::from_secs(3),
            tokens: 10,
            ..Answer::default()
        };
        assert_eq!(a.tokens_per_sec(), Some(5.0));
        assert_eq!(Answer::default().tokens_per_sec(), None);
    }
}
