//! The fault suite (`p2pfaas-bench chaos [SPEC]`): one scenario at a time, a fresh 3-node cluster of
//! real `p2pfaas-node` processes, open-loop traffic into it, one fault injected and (where it can be)
//! healed mid-run, and every request accounted for: each one sent ends with exactly one answer
//! (success, reject with a reason, or error) within its timeout, or it is counted as *lost* (the
//! connection closed without an answer, or the request vanished) or *hung* (no answer in time).
//!
//! The traffic always enters through nodes that stay healthy; the fault sits behind them (a peer, a
//! link, a function, the disk). So a lost or hung request is a bug of the node that took it, and the
//! allowance for both is zero in every scenario (see [`scenario`] for what each one expects besides).
//!
//! - [`scenario`]: the scenarios, each a cluster, a traffic pattern and a fault timeline.
//! - [`counter`]: the counting function: every execution's job id, for the duplicate-execution count.
//! - [`fault`]: the injectors that are not a signal or a proxy: a full disk, a silent peer, a function
//!   server that answers garbage.
//! - [`report`]: the per-request accounting, the verdict, and the table (markdown and JSON).
//! - [`cli`]: the command line.

pub mod cli;
pub mod counter;
pub mod fault;
pub mod report;
pub mod scenario;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::experiment::spec::{Network, NodeSpec, SpecError, node};
pub use report::{Report, Row};
pub use scenario::Scenario;

/// What to run: a TOML file, every field optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Seconds of traffic per scenario; faults are injected at ¼ of it and healed at ⅗.
    #[serde(default = "default_seconds")]
    pub seconds: f64,
    /// Loopback, or network namespaces (root). The silent-peer and disk-full scenarios always run on
    /// loopback: admin calls without a cluster key are loopback-only, and the silent peer listens there.
    #[serde(default)]
    pub network: Network,
    /// Which scenarios, in order; all of them when absent.
    #[serde(default = "Scenario::all")]
    pub scenarios: Vec<Scenario>,
    /// Seed of the arrivals and of the nodes.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Per-node settings of the 3-node cluster, as in an experiment spec (`weight` is not read: the
    /// scenarios choose where traffic enters).
    #[serde(default, rename = "node", skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeSpec>,
    /// Fewest requests per scenario: a scenario runs longer than `seconds` when that is too short at
    /// its rate. 1,000 in release builds (rare races need runs of that size); 0 in debug builds, where
    /// the tests run the suite short.
    #[serde(default = "default_min_requests")]
    pub min_requests: u64,
}

fn default_min_requests() -> u64 {
    if cfg!(debug_assertions) { 0 } else { 1000 }
}

fn default_seconds() -> f64 {
    6.0
}

fn default_seed() -> u64 {
    7
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            seconds: default_seconds(),
            network: Network::default(),
            scenarios: Scenario::all(),
            seed: default_seed(),
            nodes: Vec::new(),
            min_requests: default_min_requests(),
        }
    }
}

impl Spec {
    /// Parses and checks a spec.
    pub fn parse(text: &str) -> Result<Self, Error> {
        // `[[node]]` first, so its errors name `node[i].key`.
        let table: toml::Table = text.parse().map_err(Error::Spec)?;
        let tables = match table.get("node") {
            None => Vec::new(),
            Some(toml::Value::Array(a)) => a.clone(),
            Some(other) => vec![other.clone()],
        };
        if tables.len() > 3 {
            return Err(Error::Invalid("node: at most 3 [[node]] tables (3 nodes)"));
        }
        // `cpu_max` is checked as on namespaces: a cgroup does not need one.
        node::parse(&tables, Network::Netns).map_err(Error::Node)?;
        let spec: Self = toml::from_str(text).map_err(Error::Spec)?;
        if !(spec.seconds.is_finite() && (1.0..=3600.0).contains(&spec.seconds)) {
            return Err(Error::Invalid("seconds: 1 to 3600"));
        }
        if spec.min_requests > 1_000_000 {
            return Err(Error::Invalid("min_requests: at most 1000000"));
        }
        if spec.scenarios.is_empty() {
            return Err(Error::Invalid("scenarios: at least one"));
        }
        Ok(spec)
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// `p2pfaas-node`.
    pub node_binary: PathBuf,
    /// Print a line per scenario to stderr.
    pub progress: bool,
    /// When set, every scenario's request records go here as `requests-<scenario>.csv`.
    pub requests_dir: Option<PathBuf>,
}

/// Why the suite could not run (a failed verdict is not an error: it is in the report).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec is not TOML or has an unknown field.
    #[error("spec")]
    Spec(#[source] toml::de::Error),
    /// The spec has a value out of range.
    #[error("spec: {0}")]
    Invalid(&'static str),
    /// A `[[node]]` table is wrong (the message names `node[i].key`).
    #[error("spec: {0}")]
    Node(SpecError),
    /// A scenario's cluster or injector could not start.
    #[error("scenario {scenario}")]
    Scenario {
        /// Which one.
        scenario: Scenario,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Writing results.
    #[error("writing {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Runs every scenario of `spec` in order and returns the report (see [`Report::passed`]).
pub fn run(spec: &Spec, options: &Options) -> Result<Report, Error> {
    let mut rows = Vec::new();
    for (i, &scenario) in spec.scenarios.iter().enumerate() {
        let seed = spec.seed.wrapping_add(i as u64 * 7919);
        let row = scenario::run(scenario, spec, seed, options)
            .map_err(|source| Error::Scenario { scenario, source })?;
        if options.progress {
            eprintln!("{}", row.line());
        }
        rows.push(row);
    }
    Ok(Report::new(spec.clone(), rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_tables_reach_the_suite_and_their_errors_name_the_key() {
        let spec = Spec::parse("seconds = 2\n[[node]]\n[[node]]\nspeed = 0.5\nslots = 3\n")
            .expect("valid");
        assert_eq!(spec.nodes.len(), 2);
        assert_eq!(
            (spec.nodes[1].speed, spec.nodes[1].slots),
            (Some(0.5), Some(3))
        );
        let err = Spec::parse("[[node]]\n[[node]]\nspeed = \"fast\"\n")
            .expect_err("bad speed")
            .to_string();
        assert!(err.contains("node[1].speed: a number"), "{err}");
        let err = Spec::parse(&"[[node]]\n".repeat(4))
            .expect_err("four nodes")
            .to_string();
        assert!(err.contains("at most 3"), "{err}");
    }
}
