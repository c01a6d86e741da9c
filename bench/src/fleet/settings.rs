//! What the runner changes on a node and puts back: the scheduler (`/configuration/scheduler`), K and Q
//! (`/configuration`), the learner's parameters (`/learner/parameters`) and its learned weights (read
//! as a weight file from `GET /learner/weights/file`, put back with `POST /learner/weights`), plus a
//! learner reset before each run of a learning scheduler. Changes go through the signed admin API;
//! after each change the runner reads the settings back until the node reports them.

use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::client::{CallError, Client};
use crate::experiment::spec::{Scheduler, Spec};

/// How long a node has to report a change.
const SETTLE: Duration = Duration::from_secs(5);

/// A node's settings as it reported them.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `{"name", "parameters"}`.
    pub scheduler: Value,
    /// `{"parallel_running_functions_max", "queue_length_max", "queue_enabled"}`.
    pub queue: Value,
    /// The learner's parameters object.
    pub learner: Value,
}

/// Reads a node's current settings.
pub fn read(c: &Client) -> Result<Settings, CallError> {
    Ok(Settings {
        scheduler: c.get_json("/configuration/scheduler")?,
        queue: c.get_json("/configuration")?,
        learner: c
            .get_json("/learner/parameters")?
            .get("parameters")
            .cloned()
            .unwrap_or(Value::Null),
    })
}

/// Reads a node's learned weights as a weight file (an admin route: the file is its whole policy).
pub fn read_weights(c: &Client) -> Result<Vec<u8>, CallError> {
    Ok(c.admin_bytes("GET", "/learner/weights/file", b"")?.body)
}

/// Replaces a node's learned weights with a weight file; the node refuses one of another shape (400
/// naming the field) and then keeps its own.
pub fn load_weights(c: &Client, file: &[u8]) -> Result<(), CallError> {
    c.admin_bytes("POST", "/learner/weights", file).map(drop)
}

/// What one (scheduler, seed) run sets on every node.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The descriptor.
    pub scheduler: Value,
    /// K and Q.
    pub queue: Value,
    /// Learner parameters to merge (from the spec's `[learner.parameters]`), if any.
    pub learner: Option<serde_json::Map<String, Value>>,
    /// Reset the learner first (a fresh learner per run, as local runs start fresh nodes).
    pub reset_learner: bool,
}

impl Target {
    /// The settings of `scheduler` under `spec`, with the learner patch `learner`.
    pub fn new(
        spec: &Spec,
        scheduler: &Scheduler,
        learner: Option<serde_json::Map<String, Value>>,
    ) -> Self {
        let c = &spec.cluster;
        Self {
            scheduler: json!({"name": scheduler.name, "parameters": scheduler.parameters}),
            queue: json!({
                "parallel_running_functions_max": c.slots,
                "queue_length_max": c.queue_len,
                "queue_enabled": c.queue_len > 0,
            }),
            learner,
            reset_learner: scheduler.name == "LearningScheduler",
        }
    }
}

/// Applies `t` to one node and waits until it reports it.
pub fn apply(c: &Client, t: &Target) -> Result<(), CallError> {
    c.admin("POST", "/configuration", &t.queue)?;
    if let Some(patch) = &t.learner {
        c.admin("POST", "/learner/parameters", &Value::Object(patch.clone()))?;
    }
    c.admin("POST", "/configuration/scheduler", &t.scheduler)?;
    if t.reset_learner {
        c.admin("GET", "/learner/reset", &Value::Null)?;
    }
    settle(c, |now| {
        same(&now.scheduler, &t.scheduler)
            && same(&now.queue, &t.queue)
            && t.learner.as_ref().is_none_or(|p| contains(&now.learner, p))
    })
}

/// Puts `original` and the weight file `weights` back on one node (the learner's parameters only when
/// `learner` is set: the run changed them) and waits until it reports the settings. The weights go
/// last: a scheduler or parameter change that reshapes the learner's state starts its table over.
pub fn restore(
    c: &Client,
    original: &Settings,
    learner: bool,
    weights: &[u8],
) -> Result<(), CallError> {
    c.admin("POST", "/configuration/scheduler", &original.scheduler)?;
    c.admin("POST", "/configuration", &original.queue)?;
    if learner && let Value::Object(map) = &original.learner {
        c.admin("POST", "/learner/parameters", &Value::Object(map.clone()))?;
    }
    load_weights(c, weights)?;
    settle(c, |now| {
        same(&now.scheduler, &original.scheduler)
            && same(&now.queue, &original.queue)
            && (!learner || now.learner == original.learner)
    })
}

/// Polls the node's settings until `done` holds, for up to [`SETTLE`].
fn settle(c: &Client, done: impl Fn(&Settings) -> bool) -> Result<(), CallError> {
    let deadline = Instant::now() + SETTLE;
    loop {
        let now = read(c)?;
        if done(&now) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(CallError::NotReported(format!(
                "the node still reports scheduler {} and {} after {SETTLE:?}",
                now.scheduler, now.queue
            )));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Whether every key of `want` has the same value in `have` (numbers compared as numbers).
fn same(have: &Value, want: &Value) -> bool {
    match want {
        Value::Object(m) => contains(have, m),
        _ => have == want,
    }
}

fn contains(have: &Value, want: &serde_json::Map<String, Value>) -> bool {
    want.iter().all(|(k, w)| match (have.get(k), w) {
        (Some(h), Value::Number(n)) => h
            .as_f64()
            .zip(n.as_f64())
            // The node stores f32 parameters: 0.1 comes back as 0.10000000149.
            .is_some_and(|(a, b)| (a - b).abs() <= 1e-6 * b.abs().max(1.0)),
        (Some(h), w) => h == w,
        (None, _) => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_compare_by_value() {
        let have = json!({"alpha": 0.100_000_001_490_116_12, "actions_n": 3, "x": true});
        let want = json!({"alpha": 0.1, "actions_n": 3});
        assert!(same(&have, &want));
        assert!(!same(&have, &json!({"alpha": 0.2})));
        assert!(!same(&have, &json!({"missing": 1})));
        assert!(same(
            &json!({"name": "NoScheduler", "parameters": ["true"]}),
            &json!({"name": "NoScheduler", "parameters": ["true"]})
        ));
    }
}
