//! Reading numbers out of `Status.parts` (the JSON each watcher, probe and the log pipeline
//! publishes). A missing or null field reads as `None`: the families decide what that means
//! (NaN for an unknown gauge, 0 for a counter that has not started).

use serde_json::Value;

use crate::supervisor::Status;

/// The probes whose series exist from the start, whether configured or not.
pub const PROBES: [&str; 4] = ["startup", "liveness", "readiness", "completion"];

/// A part of the snapshot by name ("memory", "gpu", "probes.liveness", ...).
pub fn part<'a>(s: &'a Status, name: &str) -> Option<&'a Value> {
    s.parts.get(name).filter(|v| v.is_object())
}

/// A number at `key` of a part.
pub fn num(v: Option<&Value>, key: &str) -> Option<f64> {
    v?.get(key)?.as_f64()
}

/// A part's number, or NaN when it is unknown.
pub fn num_or_nan(v: Option<&Value>, key: &str) -> f64 {
    num(v, key).unwrap_or(f64::NAN)
}

/// The wall time a part was published (`at`, RFC 3339), as Unix seconds.
pub fn at_secs(v: Option<&Value>) -> Option<f64> {
    let at = v?.get("at")?.as_str()?;
    let t = chrono::DateTime::parse_from_rfc3339(at).ok()?;
    Some(t.timestamp_millis() as f64 / 1000.0)
}

/// The probes in the snapshot: the fixed four first, then any other `probes.*` part
/// (exec probes; their names come from the config, so the set stays bounded).
pub fn probe_names(s: &Status) -> Vec<String> {
    let mut out: Vec<String> = PROBES.iter().map(|p| p.to_string()).collect();
    for key in s.parts.keys() {
        if let Some(name) = key.strip_prefix("probes.")
            && !out.iter().any(|p| p == name)
        {
            out.push(name.to_string());
        }
    }
    out
}

/// GPU devices as (index label, device JSON).
pub fn gpu_devices(s: &Status) -> Vec<(String, &Value)> {
    let Some(devs) = part(s, "gpu").and_then(|g| g.get("devices")?.as_array()) else {
        return Vec::new();
    };
    devs.iter()
        .enumerate()
        .map(|(i, d)| {
            let index = d.get("index").and_then(Value::as_u64).unwrap_or(i as u64);
            (index.to_string(), d)
        })
        .collect()
}

/// Sum of a GPU field over every device; None when no device reports it.
pub fn gpu_sum(s: &Status, key: &str) -> Option<f64> {
    let vals: Vec<f64> = gpu_devices(s)
        .iter()
        .filter_map(|(_, d)| d.get(key)?.as_f64())
        .collect();
    (!vals.is_empty()).then(|| vals.iter().sum())
}
