//! What a rule asks the brain for when it fires.

/// What a rule (log pattern, probe, threshold) asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reaction {
    Alert,
    Restart,
    Pause,
}
