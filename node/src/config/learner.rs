//! `[learner]`: the learning agent's rewards, initial parameters, extra state features and the
//! original learner's address, and their validation.

use std::net::SocketAddr;

use super::raw::RawLearner;
use super::{ConfigError, field_err, optional_addr};

/// `[learner]`.
#[derive(Debug, Clone)]
pub struct LearnerConfig {
    /// Serve the original learner's routes at their original paths on this address too (port 19020).
    pub listen: Option<SocketAddr>,
    /// Reward of a job answered within its deadline.
    pub reward_met: f32,
    /// Reward of a job answered late, failed, or refused for lack of capacity.
    pub reward_missed: f32,
    /// Reward of a job the learner rejected.
    pub reward_rejected: f32,
    /// Reward of the double decision refusing a peer's job.
    pub reward_refused: f32,
    /// A weight file (e.g. from `p2pfaas-bench simulate --save-weights`) the agent starts from; it
    /// takes precedence over weights saved in the data directory, and a file of another shape stops
    /// the start with an error naming the mismatch.
    pub weights_file: Option<std::path::PathBuf>,
    /// Initial parameters (a persisted `/learner/parameters` overrides them at start).
    pub parameters: crate::learning::Parameters,
    /// Extra components of `LearningScheduler`'s state, after the original's.
    pub state_features: Vec<crate::learning::Feature>,
}

/// Validates `[learner]`.
pub(super) fn validate(raw: RawLearner) -> Result<LearnerConfig, ConfigError> {
    let listen = optional_addr("learner.listen", raw.listen.as_deref(), "0.0.0.0:19020")?;
    let reward = |field: &str, v: Option<f64>, default: f32| -> Result<f32, ConfigError> {
        match v {
            None => Ok(default),
            #[allow(clippy::cast_possible_truncation, reason = "rewards are stored as f32")]
            Some(r) if r.is_finite() && r.abs() <= 1e6 => Ok(r as f32),
            Some(r) => Err(field_err(
                field,
                format!("must be a finite number within ±1e6, got {r}"),
            )),
        }
    };
    let mut parameters = crate::learning::Parameters::default();
    if let Some(table) = raw.parameters {
        let json = serde_json::to_value(&table)
            .map_err(|e| field_err("learner.parameters", e.to_string()))?;
        if let serde_json::Value::Object(map) = json {
            let epsilon = parameters
                .merge(&map)
                .map_err(|e| field_err("learner.parameters", e))?;
            if epsilon.is_some() {
                return Err(field_err(
                    "learner.parameters.epsilon",
                    "the current ε is set at run time (POST /learner/parameters); \
                     the file sets epsilon_start",
                ));
            }
        }
        parameters
            .validate(crate::learning::WINDOW_CAPACITY)
            .map_err(|e| field_err("learner.parameters", e))?;
    }
    let names = raw.state_features.unwrap_or_default();
    if names.len() > crate::learning::MAX_FEATURES {
        return Err(field_err(
            "learner.state_features",
            format!("at most {} features", crate::learning::MAX_FEATURES),
        ));
    }
    let state_features = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            crate::learning::Feature::parse(n).ok_or_else(|| {
                let known: Vec<&str> = crate::learning::Feature::ALL
                    .iter()
                    .map(|(n, _)| *n)
                    .collect();
                field_err(
                    format!("learner.state_features[{i}]"),
                    format!("unknown feature {n:?} (known: {})", known.join(", ")),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(LearnerConfig {
        listen,
        state_features,
        reward_met: reward("learner.reward_met", raw.reward_met, 1.0)?,
        reward_missed: reward("learner.reward_missed", raw.reward_missed, 0.0)?,
        reward_rejected: reward("learner.reward_rejected", raw.reward_rejected, 0.0)?,
        reward_refused: reward("learner.reward_refused", raw.reward_refused, 0.5)?,
        weights_file: raw.weights_file.map(std::path::PathBuf::from),
        parameters,
    })
}
