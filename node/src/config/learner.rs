//! `[learner]`: the learning agent's rewards, initial parameters, extra state features and the
//! original learner's address, and their validation.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use super::raw::RawLearner;
use super::{ConfigError, field_err, optional_addr};
use crate::scheduler::Descriptor;

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
    pub weights_file: Option<PathBuf>,
    /// Initial parameters (a persisted `/learner/parameters` overrides them at start).
    pub parameters: crate::learning::Parameters,
    /// Extra components of `LearningScheduler`'s state, after the original's.
    pub state_features: Vec<crate::learning::Feature>,
    /// An external agent that chooses `LearningScheduler`'s actions instead of the in-process one
    /// (`docs/external-agent.md`).
    pub external: Option<External>,
    /// How long a decision waits for the external agent's action before it falls back.
    pub external_timeout: Duration,
    /// The scheduler that decides when the external agent does not answer in time, is disconnected
    /// or answers nonsense; `None` is `PowerOfNScheduler(1, K−1, false, 1)` for this node's K.
    pub external_fallback: Option<Descriptor>,
}

/// Where the external agent listens (`learner.external`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum External {
    /// `unix:/path.sock`: the binary protocol over a Unix stream socket.
    Unix(PathBuf),
    /// `tcp:host:port`: the binary protocol over TCP.
    Tcp(SocketAddr),
    /// `http://host:port`: an original-style learner service (`GET /act`, `POST /train_batch`).
    Http(super::HttpTarget),
}

impl External {
    /// Parses `unix:/path`, `tcp:host:port` or `http://host:port`; the error says what is expected.
    fn parse(text: &str) -> Result<Self, String> {
        let addr = |a: &str| {
            a.to_socket_addrs()
                .ok()
                .and_then(|mut it| it.next())
                .ok_or_else(|| format!("{a:?} is not a host:port address"))
        };
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("unix: needs a socket path, e.g. unix:/run/agent.sock".into());
            }
            Ok(Self::Unix(PathBuf::from(path)))
        } else if let Some(a) = text.strip_prefix("tcp:") {
            addr(a).map(Self::Tcp)
        } else if text.starts_with("http://") {
            super::functions::parse_http_url(text.trim_end_matches('/')).map(Self::Http)
        } else {
            Err(format!(
                "expected unix:/path.sock, tcp:host:port or http://host:port, got {text:?}"
            ))
        }
    }
}

/// Parses a descriptor written as `Name(p1, p2, …)` (or a bare `Name`).
fn descriptor(text: &str) -> Result<Descriptor, String> {
    let text = text.trim();
    let (name, params) = match text.split_once('(') {
        Some((name, rest)) => {
            let inner = rest
                .strip_suffix(')')
                .ok_or_else(|| format!("{text:?}: missing the closing parenthesis"))?;
            let params = inner
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect();
            (name.trim(), params)
        }
        None => (text, Vec::new()),
    };
    let desc = Descriptor {
        name: name.to_owned(),
        parameters: params,
    };
    crate::scheduler::parse(&desc, crate::learning::MAX_TASK_TYPES).map_err(|e| e.to_string())?;
    Ok(desc)
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
    let external = raw
        .external
        .as_deref()
        .map(External::parse)
        .transpose()
        .map_err(|e| field_err("learner.external", e))?;
    let external_timeout = match raw.external_timeout_ms {
        None => Duration::from_millis(2),
        Some(ms @ 1..=60_000) => Duration::from_millis(ms),
        Some(ms) => {
            return Err(field_err(
                "learner.external_timeout_ms",
                format!("must be from 1 to 60000, got {ms}"),
            ));
        }
    };
    let external_fallback = raw
        .external_fallback
        .as_deref()
        .map(descriptor)
        .transpose()
        .map_err(|e| field_err("learner.external_fallback", e))?;
    Ok(LearnerConfig {
        listen,
        external,
        external_timeout,
        external_fallback,
        state_features,
        reward_met: reward("learner.reward_met", raw.reward_met, 1.0)?,
        reward_missed: reward("learner.reward_missed", raw.reward_missed, 0.0)?,
        reward_rejected: reward("learner.reward_rejected", raw.reward_rejected, 0.0)?,
        reward_refused: reward("learner.reward_refused", raw.reward_refused, 0.5)?,
        weights_file: raw.weights_file.map(PathBuf::from),
        parameters,
    })
}
