//! The learner's run-time parameters under the original's JSON names (contract §2.4), their validation and
//! partial updates. Unlike the original, every key is checked (unknown keys and wrong types are refused with
//! the key named) and every value applies at once.

use p2pfaas_learner::config::{Config, Decay, Params};
use p2pfaas_learner::td::Form;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Largest action count (reject, local, probe, and up to 61 peers): the learner crate's row limit.
pub const MAX_ACTIONS: usize = 64;
/// Largest number of states the Q-table may hold.
pub const MAX_TABLE_CAPACITY: usize = 1 << 22;

/// The TD target, by its JSON name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Average-reward Sarsa (the original's, with the textbook `R̄` update).
    DifferentialSarsa,
    /// Discounted Sarsa.
    Sarsa,
    /// Q-learning.
    QLearning,
    /// Expected Sarsa.
    ExpectedSarsa,
}

impl Algorithm {
    /// The learner crate's form.
    pub fn form(self) -> Form {
        match self {
            Self::DifferentialSarsa => Form::DifferentialSarsa,
            Self::Sarsa => Form::Sarsa,
            Self::QLearning => Form::QLearning,
            Self::ExpectedSarsa => Form::ExpectedSarsa,
        }
    }
}

/// All parameters. Field names are the wire names; the first nine are the original's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Parameters {
    /// Number of actions: 0 reject, 1 local, 2 probe one peer, 3 + i forward to peer slot i.
    pub actions_n: usize,
    /// Step size α.
    pub alpha: f32,
    /// Average-reward step size β.
    pub beta: f32,
    /// W: consecutive entries that release a block of training.
    pub window_size: usize,
    /// ε at start and after a reset.
    pub epsilon_start: f32,
    /// ε floor.
    pub epsilon_min: f32,
    /// Multiplicative ε decay.
    pub epsilon_decay: f32,
    /// Whether ε decays at all.
    pub epsilon_decay_enabled: bool,
    /// Later entries to wait for before a missing EID is skipped.
    pub entry_missing_max_attempts: usize,
    /// New: decay ε after every decision (`step`, the original) or after every trained window (`episode`).
    pub epsilon_decay_per: DecayPer,
    /// New: discount γ for the discounted forms.
    pub gamma: f32,
    /// New: the TD target.
    pub algorithm: Algorithm,
    /// New: states the Q-table holds (fixed-capacity; new states beyond it are counted and not stored).
    pub table_capacity: usize,
}

/// When ε decays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecayPer {
    /// After every decision.
    Step,
    /// After every trained window.
    Episode,
}

impl Default for Parameters {
    /// The original learner's defaults.
    fn default() -> Self {
        Self {
            actions_n: 2,
            alpha: 0.01,
            beta: 0.01,
            window_size: 5,
            epsilon_start: 0.9,
            epsilon_min: 0.1,
            epsilon_decay: 0.99,
            epsilon_decay_enabled: true,
            entry_missing_max_attempts: 100,
            epsilon_decay_per: DecayPer::Step,
            gamma: 0.9,
            algorithm: Algorithm::DifferentialSarsa,
            table_capacity: 16_384,
        }
    }
}

impl Parameters {
    /// The learner crate's validated configuration; the error names the parameter.
    pub fn config(&self) -> Result<Config, String> {
        Config::try_new(Params {
            alpha: self.alpha,
            beta: self.beta,
            gamma: self.gamma,
            epsilon_start: self.epsilon_start,
            epsilon_min: self.epsilon_min,
            epsilon_decay: if self.epsilon_decay_enabled {
                self.epsilon_decay
            } else {
                1.0
            },
            decay: match self.epsilon_decay_per {
                DecayPer::Step => Decay::PerStep,
                DecayPer::Episode => Decay::PerEpisode,
            },
            temperature: 1.0,
        })
        .map_err(|e| e.to_string())
    }

    /// Checks everything, including the integer ranges the learner crate does not know about.
    pub fn validate(&self, window_capacity: usize) -> Result<Config, String> {
        if !(1..=MAX_ACTIONS).contains(&self.actions_n) {
            return Err(format!(
                "actions_n: must be between 1 and {MAX_ACTIONS}, got {}",
                self.actions_n
            ));
        }
        if !(1..window_capacity).contains(&self.window_size) {
            return Err(format!(
                "window_size: must be between 1 and {}, got {}",
                window_capacity - 1,
                self.window_size
            ));
        }
        if self.entry_missing_max_attempts >= window_capacity {
            return Err(format!(
                "entry_missing_max_attempts: must be below {window_capacity}, got {}",
                self.entry_missing_max_attempts
            ));
        }
        if !(1..=MAX_TABLE_CAPACITY).contains(&self.table_capacity) {
            return Err(format!(
                "table_capacity: must be between 1 and {MAX_TABLE_CAPACITY}, got {}",
                self.table_capacity
            ));
        }
        self.config()
    }

    /// Applies a JSON object of changes, key by key. An unknown key or a value of the wrong type is an
    /// error naming the key; ranges are checked afterwards by [`Parameters::validate`]. Returns the
    /// `epsilon` asked for, if any: not a parameter but the current ε (the original's configure script
    /// sends it), which the caller sets on the policy.
    pub fn merge(&mut self, patch: &serde_json::Map<String, Value>) -> Result<Option<f32>, String> {
        let mut epsilon = None;
        for (key, value) in patch {
            let bad = |want: &str| format!("{key}: expected {want}, got {value}");
            match key.as_str() {
                "actions_n" => self.actions_n = count(value).ok_or_else(|| bad("an integer"))?,
                "window_size" => {
                    self.window_size = count(value).ok_or_else(|| bad("an integer"))?;
                }
                "entry_missing_max_attempts" => {
                    self.entry_missing_max_attempts =
                        count(value).ok_or_else(|| bad("an integer"))?;
                }
                "table_capacity" => {
                    self.table_capacity = count(value).ok_or_else(|| bad("an integer"))?;
                }
                "alpha" => self.alpha = real(value).ok_or_else(|| bad("a number"))?,
                "beta" => self.beta = real(value).ok_or_else(|| bad("a number"))?,
                "gamma" => self.gamma = real(value).ok_or_else(|| bad("a number"))?,
                "epsilon_start" => {
                    self.epsilon_start = real(value).ok_or_else(|| bad("a number"))?;
                }
                "epsilon_min" => self.epsilon_min = real(value).ok_or_else(|| bad("a number"))?,
                "epsilon_decay" => {
                    self.epsilon_decay = real(value).ok_or_else(|| bad("a number"))?;
                }
                "epsilon_decay_enabled" => {
                    self.epsilon_decay_enabled =
                        value.as_bool().ok_or_else(|| bad("true or false"))?;
                }
                "epsilon_decay_per" => {
                    self.epsilon_decay_per = serde_json::from_value(value.clone())
                        .map_err(|_| bad("\"step\" or \"episode\""))?;
                }
                "algorithm" => {
                    self.algorithm = serde_json::from_value(value.clone()).map_err(|_| {
                        bad("\"differential_sarsa\", \"sarsa\", \"q_learning\" or \"expected_sarsa\"")
                    })?;
                }
                // The original's configure script sends it (its learner ignored it): the current ε.
                "epsilon" => {
                    epsilon = Some(
                        real(value)
                            .filter(|e| (0.0..=1.0).contains(e))
                            .ok_or_else(|| bad("a number from 0 to 1"))?,
                    );
                }
                _ => return Err(format!("{key}: unknown parameter")),
            }
        }
        Ok(epsilon)
    }
}

/// A non-negative integer (an integral float such as `14.0` too, as Python clients send).
fn count(v: &Value) -> Option<usize> {
    if let Some(n) = v.as_u64() {
        return usize::try_from(n).ok();
    }
    let f = v.as_f64()?;
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "checked integral, non-negative and below 2^32"
    )]
    (f.fract() == 0.0 && (0.0..4_294_967_296.0).contains(&f)).then_some(f as usize)
}

/// A finite number, narrowed to `f32`.
fn real(v: &Value) -> Option<f32> {
    #[allow(
        clippy::cast_possible_truncation,
        reason = "learning rates are stored as f32"
    )]
    v.as_f64().map(|f| f as f32).filter(|f| f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(json: &str) -> serde_json::Map<String, Value> {
        match serde_json::from_str(json) {
            Ok(Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        }
    }

    #[test]
    fn merge_names_unknown_keys_and_bad_types() {
        let mut p = Parameters::default();
        assert_eq!(p.merge(&patch(r#"{"epsilon": 0.9}"#)), Ok(Some(0.9)));
        assert_eq!(p, Parameters::default(), "the current ε is not a parameter");
        assert_eq!(
            p.merge(&patch(r#"{"epsilon": 1.5}"#)).err().as_deref(),
            Some("epsilon: expected a number from 0 to 1, got 1.5")
        );
        assert_eq!(
            p.merge(&patch(r#"{"gamm": 0.9}"#)).err().as_deref(),
            Some("gamm: unknown parameter")
        );
        assert_eq!(
            p.merge(&patch(r#"{"actions_n": "14"}"#)).err().as_deref(),
            Some("actions_n: expected an integer, got \"14\"")
        );
        assert_eq!(
            p.merge(&patch(r#"{"epsilon_decay_enabled": "False"}"#))
                .err()
                .as_deref(),
            Some("epsilon_decay_enabled: expected true or false, got \"False\"")
        );
    }

    #[test]
    fn merge_then_validate_names_the_range_error() {
        let mut p = Parameters::default();
        // configure_learner.py's exact body.
        let epsilon = p
            .merge(&patch(
                r#"{"actions_n": 14, "alpha": 0.001, "beta": 0.1, "window_size": 10,
                "epsilon": 0.9, "epsilon_min": 0.05, "epsilon_decay": 0.9995,
                "epsilon_decay_enabled": true, "entry_missing_max_attempts": 50}"#,
            ))
            .expect("the original experiment's parameters");
        assert_eq!(epsilon, Some(0.9));
        assert_eq!(p.actions_n, 14);
        assert!(p.validate(4096).is_ok());
        p.alpha = 0.0;
        assert!(p.validate(4096).err().is_some_and(|e| e.contains("alpha")));
        p.alpha = 0.1;
        p.window_size = 4096;
        assert!(
            p.validate(4096)
                .err()
                .is_some_and(|e| e.starts_with("window_size"))
        );
        p.window_size = 5;
        p.actions_n = 65;
        assert!(
            p.validate(4096)
                .err()
                .is_some_and(|e| e.starts_with("actions_n"))
        );
    }

    #[test]
    fn decay_can_be_disabled() {
        let p = Parameters {
            epsilon_decay_enabled: false,
            ..Parameters::default()
        };
        assert!(p.config().is_ok_and(|c| c.epsilon_decay() == 1.0));
    }
}
