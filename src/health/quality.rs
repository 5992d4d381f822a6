//! Layer 3: reasoning tests in the seed's format, run on a schedule and on demand.
//!
//! `{"tests": [{"type": "...", "prompt": "...", "expected_keywords": ["..."]}]}`. A test
//! passes when the answer contains any expected keyword (the seed's rule), or all of them
//! with `"match": "all"`. Matching ignores ASCII case.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::chat::{ChatError, ChatRequest, ask};
use super::client::excerpt;
use crate::config::QualityConfig;
use crate::watch::Verdict;

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QualityTest {
    #[serde(rename = "type", default)]
    pub kind: String,
    pub prompt: String,
    pub expected_keywords: Vec<String>,
    #[serde(default, rename = "match")]
    pub match_rule: MatchRule,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MatchRule {
    #[default]
    Any,
    All,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    tests: Vec<QualityTest>,
}

/// Reads and checks a tests file; errors name the file and the problem.
pub fn load_tests(path: &Path) -> Result<Vec<QualityTest>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_tests(&text, &path.display().to_string())
}

/// Checks a tests file's text; `origin` (the file's name) starts every error.
pub fn parse_tests(text: &str, origin: &str) -> Result<Vec<QualityTest>, String> {
    let file: TestFile = serde_json::from_str(text)
        .map_err(|e| format!("{origin}:{}:{}: {e}", e.line(), e.column()))?;
    if file.tests.is_empty() {
        return Err(format!("{origin}: \"tests\" is empty"));
    }
    for (i, t) in file.tests.iter().enumerate() {
        if t.expected_keywords.iter().all(|k| k.trim().is_empty()) {
            return Err(format!(
                "{origin}: tests[{i}] ({}) has no expected_keywords",
                t.kind
            ));
        }
    }
    Ok(file.tests)
}

/// The expected keywords that `answer` contains, in the test's order (shown by `ctl probe
/// quality`, so a person sees what a pass rested on).
pub fn matched_keywords(test: &QualityTest, answer: &str) -> Vec<String> {
    let lower = answer.to_lowercase();
    test.expected_keywords
        .iter()
        .filter(|k| lower.contains(&k.to_lowercase()))
        .cloned()
        .collect()
}

/// The keywords missing from `answer` (empty when the test passes).
pub fn missing_keywords(test: &QualityTest, answer: &str) -> Vec<String> {
    let lower = answer.to_lowercase();
    let found = |k: &String| lower.contains(&k.to_lowercase());
    let missing: Vec<String> = test
        .expected_keywords
        .iter()
        .filter(|k| !found(k))
        .cloned()
        .collect();
    let passes = match test.match_rule {
        MatchRule::Any => missing.len() < test.expected_keywords.len(),
        MatchRule::All => missing.is_empty(),
    };
    if passes { Vec::new() } else { missing }
}

#[derive(Clone, Debug, Serialize)]
pub struct TestResult {
    #[serde(rename = "type")]
    pub kind: String,
    pub passed: bool,
    /// The expected keywords the answer contained.
    pub matched: Vec<String>,
    pub detail: String,
    pub latency_ms: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct QualityReport {
    pub pass_rate: f64,
    pub passed: usize,
    pub total: usize,
    pub results: Vec<TestResult>,
}

impl QualityReport {
    pub fn to_json(&self, min_pass_rate: f64) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["min_pass_rate"] = json!(min_pass_rate);
        v["ok"] = json!(self.pass_rate >= min_pass_rate);
        v
    }
}

pub struct Endpoint<'a> {
    pub url: &'a str,
    pub model: &'a str,
    pub token: Option<&'a str>,
}

/// Runs every test one after another (a single-slot model server would queue them anyway).
pub async fn run_tests(
    client: &reqwest::Client,
    tests: &[QualityTest],
    endpoint: &Endpoint<'_>,
    cfg: &QualityConfig,
) -> QualityReport {
    let mut results = Vec::new();
    for t in tests {
        let req = ChatRequest {
            url: endpoint.url,
            model: endpoint.model,
            prompt: &t.prompt,
            max_tokens: cfg.max_tokens,
            stream: false,
            token: endpoint.token,
            timeout: cfg.timeout.get(),
        };
        let (passed, matched, detail, latency) = match ask(client, &req).await {
            Ok(a) => {
                let missing = missing_keywords(t, &a.content);
                let detail = if missing.is_empty() {
                    "ok".to_string()
                } else {
                    format!("missing {missing:?} in {:?}", excerpt(&a.content))
                };
                let matched = matched_keywords(t, &a.content);
                (missing.is_empty(), matched, detail, a.total)
            }
            Err(ChatError::Timeout(m) | ChatError::Refused(m) | ChatError::Failed(m)) => {
                (false, Vec::new(), m, Duration::ZERO)
            }
        };
        results.push(TestResult {
            kind: t.kind.clone(),
            passed,
            matched,
            detail,
            latency_ms: latency.as_millis() as u64,
        });
    }
    let passed = results.iter().filter(|r| r.passed).count();
    QualityReport {
        pass_rate: passed as f64 / results.len().max(1) as f64,
        passed,
        total: results.len(),
        results,
    }
}

/// Slack on top of the tests' own timeouts for an on-demand answer (connecting, queueing).
const ANSWER_MARGIN: Duration = Duration::from_secs(30);

/// How long an on-demand run (`ctl probe quality`) may take before its caller gives up:
/// each test may use its whole `quality.timeout`, and a scheduled run may be under way with
/// ours queued behind it, hence twice.
pub fn answer_limit(per_test: Duration, tests: usize) -> Duration {
    let runs = u32::try_from(tests.max(1).saturating_mul(2)).unwrap_or(u32::MAX);
    per_test.saturating_mul(runs).saturating_add(ANSWER_MARGIN)
}

/// The verdict on a report: below the floor → the configured reaction (alert or pause).
pub fn judge(report: &QualityReport, cfg: &QualityConfig) -> Option<Verdict> {
    if report.pass_rate >= cfg.min_pass_rate {
        return None;
    }
    let failed: Vec<&str> = report
        .results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.kind.as_str())
        .collect();
    Some(Verdict::new(
        cfg.on_failure,
        format!(
            "quality pass rate {}/{} ({:.0}%) is below quality.min_pass_rate ({:.0}%); failed: {}",
            report.passed,
            report.total,
            report.pass_rate * 100.0,
            cfg.min_pass_rate * 100.0,
            failed.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(keys: &[&str], rule: MatchRule) -> QualityTest {
        QualityTest {
            kind: "x".into(),
            prompt: "p".into(),
            expected_keywords: keys.iter().map(|s| s.to_string()).collect(),
            match_rule: rule,
        }
    }

    #[test]
    fn any_and_all_keyword_rules() {
        let any = t(&["实例", "Class"], MatchRule::Any);
        assert!(missing_keywords(&any, "a class method").is_empty());
        assert_eq!(missing_keywords(&any, "nothing"), ["实例", "Class"]);
        let all = t(&["实例", "class"], MatchRule::All);
        assert_eq!(missing_keywords(&all, "CLASS only"), ["实例"]);
        assert!(missing_keywords(&all, "实例 and class").is_empty());
        assert_eq!(matched_keywords(&all, "CLASS only"), ["class"]);
    }

    #[test]
    fn loads_the_shipped_example_and_reports_bad_files() {
        let ex = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/reasoning_tests.json");
        let tests = load_tests(&ex).unwrap();
        assert!(tests.len() >= 3);
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"tests\": [{\"prompt\": 1}]}").unwrap();
        let e = load_tests(&bad).unwrap_err();
        assert!(e.contains("bad.json:1:"), "{e}");
        std::fs::write(
            &bad,
            "{\"tests\": [{\"type\":\"a\",\"prompt\":\"p\",\"expected_keywords\":[]}]}",
        )
        .unwrap();
        assert!(
            load_tests(&bad)
                .unwrap_err()
                .contains("no expected_keywords")
        );
        assert!(load_tests(&dir.path().join("none.json")).is_err());
    }

    #[test]
    fn an_answer_may_take_every_tests_timeout_twice() {
        let five_min = Duration::from_secs(300);
        assert_eq!(answer_limit(five_min, 1), Duration::from_secs(630));
        assert_eq!(answer_limit(five_min, 0), Duration::from_secs(630));
        assert_eq!(answer_limit(five_min, 3), Duration::from_secs(1830));
    }

    #[test]
    fn judges_the_pass_rate_against_the_floor() {
        let cfg = QualityConfig {
            min_pass_rate: 0.75,
            on_failure: crate::supervisor::Reaction::Pause,
            ..QualityConfig::default()
        };
        let r = |p: usize, n: usize| QualityReport {
            pass_rate: p as f64 / n as f64,
            passed: p,
            total: n,
            results: (0..n)
                .map(|i| TestResult {
                    kind: format!("t{i}"),
                    passed: i < p,
                    matched: Vec::new(),
                    detail: String::new(),
                    latency_ms: 0,
                })
                .collect(),
        };
        assert!(judge(&r(3, 4), &cfg).is_none());
        let v = judge(&r(1, 4), &cfg).unwrap();
        assert_eq!(v.reaction, crate::supervisor::Reaction::Pause);
        assert!(
            v.reason.contains("1/4") && v.reason.contains("t3"),
            "{}",
            v.reason
        );
    }
}
