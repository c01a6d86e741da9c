//! What a simulated node takes from the spec's `cluster.node_config`: the task types it counts and its
//! learner's parameters, state features and rewards. The rest of that table (listen addresses,
//! functions, discovery…) only means something to a live node and is not read here; the live run
//! checks it by starting the nodes. Values are checked with the decision core's own rules
//! (`p2pfaas_core::learning`), so a value the node refuses is refused here too, naming the field.

use p2pfaas_core::learning::{Feature, MAX_FEATURES, Parameters, Rewards, WINDOW_CAPACITY};
use serde::Deserialize;

/// The node's default `queue.task_types`.
const TASK_TYPES: usize = 8;
/// The node's largest `queue.task_types`.
const MAX_TASK_TYPES: usize = 64;

/// The simulated node's settings.
#[derive(Debug, Clone)]
pub(crate) struct Host {
    pub(crate) task_types: usize,
    pub(crate) features: Vec<Feature>,
    pub(crate) parameters: Parameters,
    pub(crate) rewards: Rewards,
}

#[derive(Debug, Default, Deserialize)]
struct Raw {
    #[serde(default)]
    queue: RawQueue,
    #[serde(default)]
    learner: RawLearner,
}

#[derive(Debug, Default, Deserialize)]
struct RawQueue {
    task_types: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
struct RawLearner {
    state_features: Option<Vec<String>>,
    reward_met: Option<f64>,
    reward_missed: Option<f64>,
    reward_rejected: Option<f64>,
    reward_refused: Option<f64>,
    parameters: Option<toml::Table>,
}

/// Reads `node_config` (TOML); the error names the field.
pub(crate) fn parse(node_config: &str) -> Result<Host, String> {
    let raw: Raw = toml::from_str(node_config).map_err(|e| e.to_string())?;
    let task_types = raw.queue.task_types.unwrap_or(TASK_TYPES);
    if !(1..=MAX_TASK_TYPES).contains(&task_types) {
        return Err(format!(
            "queue.task_types: must be between 1 and {MAX_TASK_TYPES}, got {task_types}"
        ));
    }
    let l = raw.learner;
    let mut parameters = Parameters::default();
    if let Some(table) = l.parameters {
        let field = |e: String| format!("learner.parameters: {e}");
        if let serde_json::Value::Object(map) =
            serde_json::to_value(&table).map_err(|e| field(e.to_string()))?
        {
            parameters.merge(&map).map_err(field)?;
        }
        parameters.validate(WINDOW_CAPACITY).map_err(field)?;
    }
    let names = l.state_features.unwrap_or_default();
    if names.len() > MAX_FEATURES {
        return Err(format!(
            "learner.state_features: at most {MAX_FEATURES} features"
        ));
    }
    let features = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            Feature::parse(n)
                .ok_or_else(|| format!("learner.state_features[{i}]: unknown feature {n:?}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let reward = |field: &str, v: Option<f64>, default: f32| match v {
        None => Ok(default),
        Some(r) if r.is_finite() && r.abs() <= 1e6 => Ok(r as f32),
        Some(r) => Err(format!(
            "learner.{field}: must be a finite number within ±1e6, got {r}"
        )),
    };
    Ok(Host {
        task_types,
        features,
        parameters,
        rewards: Rewards {
            met: reward("reward_met", l.reward_met, 1.0)?,
            missed: reward("reward_missed", l.reward_missed, 0.0)?,
            rejected: reward("reward_rejected", l.reward_rejected, 0.0)?,
            refused: reward("reward_refused", l.reward_refused, 0.5)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_checked_fields() {
        let h = parse("[node]\nlisten = \"127.0.0.1:0\"\n").expect("other tables are ignored");
        assert_eq!(h.task_types, 8);
        assert!(h.features.is_empty());
        assert_eq!(h.rewards.met, 1.0);
        let h = parse(
            "[queue]\ntask_types = 2\n[learner]\nstate_features = [\"utilisation\"]\n\
             reward_missed = -1.0\n[learner.parameters]\nactions_n = 5\n",
        )
        .expect("valid");
        assert_eq!((h.task_types, h.parameters.actions_n), (2, 5));
        assert_eq!(h.features, [Feature::Utilisation]);
        assert_eq!(h.rewards.missed, -1.0);
        for (bad, field) in [
            ("[queue]\ntask_types = 0\n", "queue.task_types"),
            (
                "[learner]\nstate_features = [\"nope\"]\n",
                "learner.state_features[0]",
            ),
            ("[learner]\nreward_met = 1e9\n", "learner.reward_met"),
            (
                "[learner.parameters]\nactions_n = 0\n",
                "learner.parameters",
            ),
        ] {
            let err = parse(bad).err().unwrap_or_default();
            assert!(err.starts_with(field), "{bad}: {err}");
        }
    }
}
