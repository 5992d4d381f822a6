//! The latest reading of every watcher and probe, with its age, for `ctl status`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use serde_json::{Map, Value};

/// A part's latest value, when it was published (monotonic for the age, wall for display).
type Reading = (Instant, SystemTime, Value);

#[derive(Clone, Default)]
pub struct Readings(Arc<Mutex<BTreeMap<String, Reading>>>);

impl Readings {
    pub fn publish(&self, part: &str, value: Value) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.insert(part.to_string(), (Instant::now(), SystemTime::now(), value));
    }

    pub fn get(&self, part: &str) -> Option<Value> {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.get(part).map(|(_, _, v)| v.clone())
    }

    /// Every part's latest value; objects get `age_secs` and `at` (RFC 3339) added.
    pub fn snapshot(&self) -> Map<String, Value> {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Map::new();
        for (name, (at, wall, value)) in m.iter() {
            let mut v = value.clone();
            if let Value::Object(o) = &mut v {
                let age = (at.elapsed().as_secs_f64() * 10.0).round() / 10.0;
                o.insert("age_secs".into(), age.into());
                let wall: chrono::DateTime<chrono::Utc> = (*wall).into();
                o.insert("at".into(), wall.to_rfc3339().into());
            }
            out.insert(name.clone(), v);
        }
        out
    }
}
