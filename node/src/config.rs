//! Typed, validated configuration. Raw input (file, `P2PFAAS_*` environment, flags; see `config/raw.rs`)
//! is checked once, before any socket is bound, into the plain structs below; every error names the field.
//! After start-up nothing reads the environment again: run-time changes go through the admin routes.
//!
//! This module holds [`Config`], the order in which its sections are validated, and the checks they
//! share. Each TOML section's typed struct and its validation live in a module named after it
//! (`node`, `http`, `queue`, `log`, `learner`, `discovery`, `peers`, `auth`, `load`, `compat`,
//! `functions`), re-exported here so every type keeps its `config::` path.

mod auth;
mod compat;
mod discovery;
mod functions;
mod http;
mod learner;
mod load;
mod log;
mod node;
mod peers;
mod queue;
pub mod raw;
pub mod source;
mod speed;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use crate::scheduler::Descriptor;

pub use auth::AuthConfig;
pub use compat::CompatConfig;
pub use discovery::{DiscoveryConfig, check_peer_addr};
pub use functions::{
    BackendConfig, Builtin, Distribution, FunctionConfig, HttpTarget, OpenFaasConfig,
    ProcessConfig, function, is_valid_function_name, parse_http_url,
};
pub use http::HttpConfig;
pub use learner::{External, LearnerConfig};
pub use load::{EbpfPrograms, LoadConfig, LoadSourceChoice};
pub use log::{LogConfig, LogFormat};
pub use node::{DriverChoice, NodeConfig};
pub use peers::{PeerProtocol, PeersConfig};
pub use queue::{MAX_SLOTS, MAX_TASK_TYPES, QueueConfig};
pub use raw::{Flags, Raw};

/// A configuration problem; start-up exits with status 64 (`EX_USAGE`) on any of them.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A field has an invalid value.
    #[error("invalid config: {field}: {problem}")]
    Field {
        /// Dotted path of the field (`queue.slots`) or the flag/env name that set it.
        field: String,
        /// What is wrong, including the value that was given.
        problem: String,
    },
    /// The TOML file does not parse (the message names the key and position).
    #[error("invalid config file: {message}")]
    Parse {
        /// The parser's message.
        message: String,
    },
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The path given with `--config`.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

fn field_err(field: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError::Field {
        field: field.into(),
        problem: problem.into(),
    }
}

/// The complete, validated configuration. Cloned into each worker; never mutated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Process-level settings.
    pub node: NodeConfig,
    /// HTTP limits and timeouts.
    pub http: HttpConfig,
    /// Admission defaults (a persisted `/configuration` overrides them at start).
    pub queue: QueueConfig,
    /// Scheduler at start (a persisted `/configuration/scheduler` overrides it).
    pub scheduler: Descriptor,
    /// Logging.
    pub log: LogConfig,
    /// The learning agent.
    pub learner: LearnerConfig,
    /// Who this node is to its peers, and where to find them.
    pub discovery: DiscoveryConfig,
    /// Forwarding and probing.
    pub peers: PeersConfig,
    /// Cluster key.
    pub auth: AuthConfig,
    /// The load sampler.
    pub load: LoadConfig,
    /// What clients and original nodes see where the original behaved differently.
    pub compat: CompatConfig,
    /// Declared functions, sorted by name.
    pub functions: Vec<FunctionConfig>,
}

impl Config {
    /// Reads the file named by `flags.config` (if any), overlays environment and flags, and validates.
    pub fn load(flags: &Flags, env: &dyn source::Source) -> Result<Self, ConfigError> {
        let mut raw = match &flags.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                Raw::from_toml(&text)?
            }
            None => Raw::default(),
        };
        raw.apply_env(env)?;
        raw.apply_flags(flags)?;
        Self::from_raw(raw)
    }

    /// Validates raw values into a `Config`; the first problem found is returned, naming its field.
    pub fn from_raw(raw: Raw) -> Result<Self, ConfigError> {
        let node = node::validate(&raw.node)?;
        let http = http::validate(&raw.http)?;
        let queue = queue::validate(&raw.queue)?;
        let scheduler = Descriptor {
            name: raw.scheduler.name.unwrap_or_else(|| "NoScheduler".into()),
            parameters: raw
                .scheduler
                .parameters
                .unwrap_or_else(|| vec!["false".into()]),
        };
        // Fail at start-up rather than on the first request.
        crate::scheduler::parse(&scheduler, queue.task_types)
            .map_err(|e| field_err("scheduler", e.to_string()))?;
        let learner = learner::validate(raw.learner)?;
        let discovery = discovery::validate(raw.discovery)?;
        let auth = auth::validate(&raw.auth)?;
        let peers = peers::validate(&raw.peers)?;
        let log = log::validate(raw.log)?;
        let load = load::validate(&raw.load)?;
        let compat = compat::validate(&raw.compat)?;
        let functions = raw
            .functions
            .into_iter()
            .map(|(name, mut f)| {
                // The node's speed for every built-in that does not set its own.
                f.speed = f.speed.or(raw.node.speed);
                function(&name, &f, http.max_body_bytes)
            })
            .collect::<Result<Vec<_>, _>>()?;

        Ok(Self {
            node,
            http,
            queue,
            scheduler,
            log,
            learner,
            discovery,
            peers,
            auth,
            load,
            compat,
            functions,
        })
    }
}

/// An optional `host:port` to listen on; the error names `field` and shows `example`.
fn optional_addr(
    field: &str,
    text: Option<&str>,
    example: &str,
) -> Result<Option<SocketAddr>, ConfigError> {
    text.map(|t| {
        t.parse().map_err(|_| {
            field_err(
                field,
                format!("expected host:port such as {example}, got {t:?}"),
            )
        })
    })
    .transpose()
}

fn bounded(field: &str, value: usize, min: usize, max: usize) -> Result<usize, ConfigError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(field_err(
            field,
            format!("must be between {min} and {max}, got {value}"),
        ))
    }
}

fn millis(field: &str, ms: u64) -> Result<Duration, ConfigError> {
    if ms == 0 || ms > 86_400_000 {
        return Err(field_err(
            field,
            format!("must be 1..=86400000 ms, got {ms}"),
        ));
    }
    Ok(Duration::from_millis(ms))
}

fn nonzero(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN)
}

#[cfg(test)]
mod tests;
