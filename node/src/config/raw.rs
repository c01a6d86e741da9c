//! Raw configuration: the TOML file, `P2PFAAS_*` environment variables and command-line flags mapped 1:1
//! onto optional fields. Nothing here checks ranges or meaning; `config::Config::from_raw` does that once.

#![allow(
    missing_docs,
    reason = "fields mirror the TOML keys and flags, documented in the README config reference"
)]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::source::Source;

/// Environment variable names (the original's where one existed).
pub mod env {
    /// Listen address, `host:port`.
    pub const LISTEN: &str = "P2PFAAS_LISTEN";
    /// Data directory (the original's name).
    pub const DATA_PATH: &str = "P2PFAAS_DATA_PATH";
    /// Worker thread count.
    pub const WORKERS: &str = "P2PFAAS_WORKERS";
    /// I/O driver: `auto`, `io-uring` or `epoll`.
    pub const DRIVER: &str = "P2PFAAS_DRIVER";
    /// monoio's own switch to force the epoll driver; honoured as `driver = "epoll"`.
    pub const MONOIO_FORCE_LEGACY: &str = "MONOIO_FORCE_LEGACY_DRIVER";
    /// K, the execution slots.
    pub const SLOTS: &str = "P2PFAAS_SLOTS";
    /// Q, the wait-queue length.
    pub const QUEUE_LEN: &str = "P2PFAAS_QUEUE_LEN";
    /// Log format: `text` or `json`.
    pub const LOG_FORMAT: &str = "P2PFAAS_LOG_FORMAT";
    /// Log level filter (tracing `EnvFilter` syntax).
    pub const LOG_LEVEL: &str = "P2PFAAS_LOG_LEVEL";
    /// The original's log switch: `development` means debug level.
    pub const LOG_ENV: &str = "P2PFAAS_LOG_ENV";
    /// Seed for the node's random number generators.
    pub const SEED: &str = "P2PFAAS_SEED";
    /// `learner.external`, the external agent's address; empty means none (the in-process agent).
    pub const LEARNER_EXTERNAL: &str = "P2PFAAS_LEARNER_EXTERNAL";
    /// `learner.external_timeout_ms`.
    pub const LEARNER_EXTERNAL_TIMEOUT_MS: &str = "P2PFAAS_LEARNER_EXTERNAL_TIMEOUT_MS";
    /// `learner.external_fallback`, a descriptor such as `PowerOfNScheduler(1, 3, false, 1)`.
    pub const LEARNER_EXTERNAL_FALLBACK: &str = "P2PFAAS_LEARNER_EXTERNAL_FALLBACK";
    /// `learner.reward_met`.
    pub const LEARNER_REWARD_MET: &str = "P2PFAAS_LEARNER_REWARD_MET";
    /// `learner.reward_missed`.
    pub const LEARNER_REWARD_MISSED: &str = "P2PFAAS_LEARNER_REWARD_MISSED";
    /// `learner.reward_rejected`.
    pub const LEARNER_REWARD_REJECTED: &str = "P2PFAAS_LEARNER_REWARD_REJECTED";
    /// `learner.reward_refused`.
    pub const LEARNER_REWARD_REFUSED: &str = "P2PFAAS_LEARNER_REWARD_REFUSED";
    /// `learner.weights_file`, the weights a device starts from.
    pub const LEARNER_WEIGHTS_FILE: &str = "P2PFAAS_LEARNER_WEIGHTS_FILE";
}

/// The whole file, every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    #[serde(default)]
    pub node: RawNode,
    #[serde(default)]
    pub http: RawHttp,
    #[serde(default)]
    pub queue: RawQueue,
    #[serde(default)]
    pub scheduler: RawScheduler,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub learner: RawLearner,
    #[serde(default)]
    pub discovery: RawDiscovery,
    #[serde(default)]
    pub peers: RawPeers,
    #[serde(default)]
    pub auth: RawAuth,
    #[serde(default)]
    pub load: RawLoad,
    #[serde(default)]
    pub compat: RawCompat,
    #[serde(default)]
    pub functions: BTreeMap<String, RawFunction>,
}

/// `[discovery]` (the original discovery service's configuration names).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDiscovery {
    pub listen: Option<String>,
    pub probe_period_ms: Option<u64>,
    pub suspicion_min_ms: Option<u64>,
    pub machine_id: Option<String>,
    pub advertise: Option<String>,
    pub init_servers: Option<Vec<String>>,
    pub group_name: Option<String>,
}

/// `[compat]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCompat {
    pub reject_status: Option<u16>,
}

/// `[peers]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPeers {
    pub forward_timeout_ms: Option<u64>,
    pub probe_timeout_ms: Option<u64>,
    pub refresh_interval_ms: Option<u64>,
    pub protocol: Option<String>,
}

/// `[auth]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    pub cluster_key_file: Option<String>,
    pub replay_window_ms: Option<u64>,
}

/// `[learner]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLearner {
    pub listen: Option<String>,
    pub state_features: Option<Vec<String>>,
    pub reward_met: Option<f64>,
    pub reward_missed: Option<f64>,
    pub reward_rejected: Option<f64>,
    pub reward_refused: Option<f64>,
    pub weights_file: Option<String>,
    pub parameters: Option<toml::Table>,
    pub external: Option<String>,
    pub external_timeout_ms: Option<u64>,
    pub external_fallback: Option<String>,
}

/// `[node]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNode {
    pub listen: Option<String>,
    pub data_dir: Option<String>,
    pub workers: Option<usize>,
    pub driver: Option<String>,
    pub pin_cpus: Option<bool>,
    pub blocking_threads: Option<usize>,
    pub seed: Option<u64>,
    pub speed: Option<f64>,
}

/// `[http]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    pub max_head_bytes: Option<usize>,
    pub max_body_bytes: Option<usize>,
    pub max_response_bytes: Option<usize>,
    pub idle_timeout_ms: Option<u64>,
    pub request_timeout_ms: Option<u64>,
    pub shutdown_grace_ms: Option<u64>,
}

/// `[queue]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQueue {
    pub slots: Option<usize>,
    pub queue_len: Option<usize>,
    pub enabled: Option<bool>,
    pub task_types: Option<usize>,
}

/// `[scheduler]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScheduler {
    pub name: Option<String>,
    pub parameters: Option<Vec<String>>,
}

/// `[log]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub format: Option<String>,
    pub level: Option<String>,
}

/// `[load]`: the load sampler (`node::load`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLoad {
    pub source: Option<String>,
    pub sample_interval_ms: Option<u64>,
    pub pin_dir: Option<String>,
    pub runq_latency: Option<bool>,
    pub ebpf_programs: Option<String>,
}

/// `[functions.<name>]`; also the JSON body of `POST /system/functions` (plus `name`) and what the
/// registry persists, so one schema serves the file, the API and the data directory.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawFunction {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    // builtin
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builtin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distribution: Option<String>,
    /// Service-time divisor (`config::speed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    // process
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    // http and openfaas
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_function: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth_file: Option<String>,
    // limits
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_inflight: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
}

/// Command-line flags, as parsed by `main`; they override the environment, which overrides the file.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub config: Option<String>,
    pub listen: Option<String>,
    pub data_dir: Option<String>,
    pub workers: Option<String>,
    pub driver: Option<String>,
    pub slots: Option<String>,
    pub queue_len: Option<String>,
    pub log_format: Option<String>,
    pub log_level: Option<String>,
    pub seed: Option<String>,
}

impl Raw {
    /// Parses the TOML text of a config file; unknown keys are errors so typos do not pass silently.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            message: e.to_string(),
        })
    }

    /// Overlays environment variables on the file's values.
    pub fn apply_env(&mut self, src: &dyn Source) -> Result<(), ConfigError> {
        set_str(&mut self.node.listen, src.get(env::LISTEN));
        set_str(&mut self.node.data_dir, src.get(env::DATA_PATH));
        set_num(&mut self.node.workers, src.get(env::WORKERS), env::WORKERS)?;
        set_str(&mut self.node.driver, src.get(env::DRIVER));
        if src.get(env::MONOIO_FORCE_LEGACY).is_some_and(|v| v == "1") {
            self.node.driver = Some("epoll".into());
        }
        set_num(&mut self.queue.slots, src.get(env::SLOTS), env::SLOTS)?;
        set_num(
            &mut self.queue.queue_len,
            src.get(env::QUEUE_LEN),
            env::QUEUE_LEN,
        )?;
        set_num(&mut self.node.seed, src.get(env::SEED), env::SEED)?;
        set_str(&mut self.log.format, src.get(env::LOG_FORMAT));
        if src.get(env::LOG_ENV).is_some_and(|v| v == "development") {
            self.log.level = Some("debug".into());
        }
        set_str(&mut self.log.level, src.get(env::LOG_LEVEL));
        self.apply_learner_env(src)
    }

    /// The `[learner]` fields a device sets for itself (its agent, its rewards, its weights).
    fn apply_learner_env(&mut self, src: &dyn Source) -> Result<(), ConfigError> {
        let l = &mut self.learner;
        // Empty turns off an agent the file sets: a fleet variable can be blanked on one device.
        if let Some(v) = src.get(env::LEARNER_EXTERNAL) {
            l.external = (!v.trim().is_empty()).then_some(v);
        }
        set_num(
            &mut l.external_timeout_ms,
            src.get(env::LEARNER_EXTERNAL_TIMEOUT_MS),
            env::LEARNER_EXTERNAL_TIMEOUT_MS,
        )?;
        set_str(
            &mut l.external_fallback,
            src.get(env::LEARNER_EXTERNAL_FALLBACK),
        );
        for (slot, var) in [
            (&mut l.reward_met, env::LEARNER_REWARD_MET),
            (&mut l.reward_missed, env::LEARNER_REWARD_MISSED),
            (&mut l.reward_rejected, env::LEARNER_REWARD_REJECTED),
            (&mut l.reward_refused, env::LEARNER_REWARD_REFUSED),
        ] {
            set_parsed(slot, src.get(var), var, "a number")?;
        }
        set_str(&mut l.weights_file, src.get(env::LEARNER_WEIGHTS_FILE));
        Ok(())
    }

    /// Overlays command-line flags (highest precedence).
    pub fn apply_flags(&mut self, flags: &Flags) -> Result<(), ConfigError> {
        set_str(&mut self.node.listen, flags.listen.clone());
        set_str(&mut self.node.data_dir, flags.data_dir.clone());
        set_num(&mut self.node.workers, flags.workers.clone(), "--workers")?;
        set_str(&mut self.node.driver, flags.driver.clone());
        set_num(&mut self.queue.slots, flags.slots.clone(), "--slots")?;
        set_num(
            &mut self.queue.queue_len,
            flags.queue_len.clone(),
            "--queue-len",
        )?;
        set_num(&mut self.node.seed, flags.seed.clone(), "--seed")?;
        set_str(&mut self.log.format, flags.log_format.clone());
        set_str(&mut self.log.level, flags.log_level.clone());
        Ok(())
    }
}

fn set_str(slot: &mut Option<String>, value: Option<String>) {
    if value.is_some() {
        *slot = value;
    }
}

fn set_num<T: std::str::FromStr>(
    slot: &mut Option<T>,
    value: Option<String>,
    field: &str,
) -> Result<(), ConfigError> {
    set_parsed(slot, value, field, "a non-negative integer")
}

/// Parses `value` into `slot` when given; the error names `field` and what was `expected`.
fn set_parsed<T: std::str::FromStr>(
    slot: &mut Option<T>,
    value: Option<String>,
    field: &str,
    expected: &str,
) -> Result<(), ConfigError> {
    if let Some(v) = value {
        let parsed = v.trim().parse().map_err(|_| ConfigError::Field {
            field: field.to_owned(),
            problem: format!("expected {expected}, got {v:?}"),
        })?;
        *slot = Some(parsed);
    }
    Ok(())
}
