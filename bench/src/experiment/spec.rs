//! The experiment spec: a TOML file naming the cluster, the function, the traffic and the schedulers to
//! compare. `p2pfaas-bench run` runs it on real nodes; the simulator reads the same file. Every error
//! names the field (`traffic.weights: …`).

use serde::{Deserialize, Serialize};

use crate::arrivals::Process;
use crate::load::Class;

pub mod node;

pub use node::NodeSpec;

/// Most nodes a spec may describe (simulated; each node's view is bounded, not the cluster).
pub const MAX_NODES: usize = 10_000;
/// Most nodes a live run starts (`p2pfaas-bench run`: one process each on this machine).
pub const MAX_LIVE_NODES: usize = 64;

/// A whole experiment: one cluster per (scheduler, seed), swept over `traffic.rho`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Short name, used in result file names.
    pub name: String,
    /// What the experiment shows, for the report.
    #[serde(default)]
    pub description: String,
    /// Nodes and their admission.
    pub cluster: Cluster,
    /// The one function every node serves (`/function/work`).
    pub function: Function,
    /// Arrivals.
    pub traffic: Traffic,
    /// Request classes drawn per request by weight; one plain class when empty.
    #[serde(default)]
    pub mix: Vec<MixClass>,
    /// Schedulers to compare, each set on every node.
    #[serde(rename = "scheduler")]
    pub schedulers: Vec<Scheduler>,
    /// Knobs only the simulator reads (`[simulation]`); a live run ignores them.
    #[serde(default)]
    pub simulation: crate::sim::knobs::Simulation,
    /// Per-node settings (`[[node]]`, the i-th for node `n<i>`); the rest take the cluster's.
    #[serde(default, rename = "node", skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeSpec>,
}

/// The nodes: all alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// How many nodes, named `n0`, `n1`, …: 1–64 for a live run, up to 10,000 simulated.
    pub nodes: usize,
    /// K: execution slots per node.
    pub slots: usize,
    /// Q: waiting places per node (0: a loss system).
    #[serde(default)]
    pub queue_len: usize,
    /// Worker threads per node.
    #[serde(default = "one")]
    pub workers: usize,
    /// Where nodes run: all on loopback, or each in its own network namespace (root only).
    #[serde(default)]
    pub network: Network,
    /// One-way delay added to every node-to-node message, in ms (a userspace proxy in front of each
    /// node's peer address; 0: none). Client traffic is not delayed.
    #[serde(default)]
    pub link_delay_ms: f64,
    /// Extra TOML appended to every node's config (e.g. a `[learner]` table).
    #[serde(default)]
    pub node_config: String,
}

/// Where the node processes run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// Every node on 127.0.0.1 with its own port.
    #[default]
    Loopback,
    /// Every node in its own network namespace with its own address on a bridge.
    Netns,
}

/// The built-in function every node runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Function {
    /// `sleep` (holds a slot, no CPU) or `cpu-loop` (burns CPU).
    pub builtin: String,
    /// Mean service time in ms (1/μ).
    pub mean_ms: f64,
    /// `exponential` (M/M/… theory applies) or `fixed`.
    #[serde(default = "exponential")]
    pub distribution: String,
}

/// The arrival processes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    /// `poisson` or `deterministic`.
    #[serde(default)]
    pub process: ProcessName,
    /// The sweep: offered load per unit of weight, ρ = λ / (K μ). Node i gets λ_i = ρ · weight_i · K μ.
    pub rho: Vec<f64>,
    /// Per-node share of the load (uneven λ); all 1 when absent.
    #[serde(default)]
    pub weights: Vec<f64>,
    /// Measured seconds of arrivals per point.
    pub duration_s: f64,
    /// Seconds of arrivals before those, sent but not counted.
    #[serde(default)]
    pub warmup_s: f64,
    /// Per-request timeout in ms.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Replications: each seed gets fresh nodes and its own arrival streams.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
}

/// Serialisable name of an arrival process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcessName {
    /// Exponential gaps.
    #[default]
    Poisson,
    /// Equal gaps.
    Deterministic,
}

impl From<ProcessName> for Process {
    fn from(p: ProcessName) -> Self {
        match p {
            ProcessName::Poisson => Self::Poisson,
            ProcessName::Deterministic => Self::Deterministic,
        }
    }
}

/// One request class of the mix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixClass {
    /// Relative weight.
    #[serde(default = "one_f")]
    pub weight: f64,
    /// Another function to call than `[function]`'s (`work`): one the nodes get from
    /// `cluster.node_config` (e.g. `[functions.cpu]`). ρ is still computed from `[function]` alone.
    #[serde(default)]
    pub function: Option<String>,
    /// `X-P2pfaas-Scheduler-Learning-Task-Type`.
    #[serde(default)]
    pub task_type: Option<u32>,
    /// `X-P2pfaas-Deadline-Ms`, and what "deadline met" is judged against.
    #[serde(default)]
    pub deadline_ms: Option<f64>,
    /// Request body.
    #[serde(default = "default_payload")]
    pub payload: String,
}

/// A scheduler descriptor as the node takes it (contract §1.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scheduler {
    /// Algorithm name, e.g. `PowerOfNScheduler`.
    pub name: String,
    /// Parameters as strings, in the original's order.
    #[serde(default)]
    pub parameters: Vec<String>,
}

impl Scheduler {
    /// `Name(p1, p2)`, the label in tables and plots.
    pub fn label(&self) -> String {
        format!("{}({})", self.name, self.parameters.join(", "))
    }
}

fn one() -> usize {
    1
}
fn one_f() -> f64 {
    1.0
}
fn exponential() -> String {
    "exponential".to_owned()
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_seeds() -> Vec<u64> {
    vec![1]
}
fn default_payload() -> String {
    "x".to_owned()
}

/// Why a spec was refused.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// Not TOML, or a field of the wrong type or unknown (the message names it).
    #[error("{0}")]
    Parse(#[from] toml::de::Error),
    /// A field with a value out of range.
    #[error("{field}: {message}")]
    Invalid {
        /// Dotted path of the field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A `[[node]]` key with a bad value, or an unknown one (`node[2].speed: …`).
    #[error("{field}: {message}")]
    Node {
        /// `node[i].key`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(field: &'static str, message: impl Into<String>) -> SpecError {
    SpecError::Invalid {
        field,
        message: message.into(),
    }
}

impl Spec {
    /// Parses and checks a spec.
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        // `[[node]]` first, by hand, so its errors name `node[i].key`.
        let table: toml::Table = text.parse()?;
        let tables = table
            .get("node")
            .map(|v| v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]))
            .unwrap_or_default();
        let netns = table
            .get("cluster")
            .and_then(|c| c.get("network"))
            .and_then(toml::Value::as_str)
            == Some("netns");
        let network = if netns {
            Network::Netns
        } else {
            Network::Loopback
        };
        let nodes = node::parse(&tables, network)?;
        let mut spec: Self = toml::from_str(text)?;
        spec.validate()?;
        if nodes.len() > spec.cluster.nodes {
            return Err(SpecError::Node {
                field: "node".into(),
                message: format!(
                    "{} [[node]] tables for {} nodes",
                    nodes.len(),
                    spec.cluster.nodes
                ),
            });
        }
        spec.nodes = nodes;
        if spec.traffic.weights.is_empty() {
            spec.traffic.weights = vec![1.0; spec.cluster.nodes];
        }
        for (w, n) in spec.traffic.weights.iter_mut().zip(&spec.nodes) {
            *w = n.weight.unwrap_or(*w);
        }
        if spec.traffic.weights.iter().sum::<f64>() <= 0.0 {
            return Err(invalid("node.weight", "the weights are all 0"));
        }
        Ok(spec)
    }

    /// K of node `i`.
    pub fn slots(&self, i: usize) -> usize {
        self.node(i).slots.unwrap_or(self.cluster.slots)
    }

    /// Q of node `i`.
    pub fn queue_len(&self, i: usize) -> usize {
        self.node(i).queue_len.unwrap_or(self.cluster.queue_len)
    }

    /// The service-time divisor of node `i` (`[[node]] speed`, else 1).
    pub fn speed(&self, i: usize) -> f64 {
        self.node(i).speed.unwrap_or(1.0)
    }

    /// Node `i`'s `[[node]]` table, or the defaults.
    pub fn node(&self, i: usize) -> &NodeSpec {
        static DEFAULT: NodeSpec = NodeSpec {
            slots: None,
            queue_len: None,
            speed: None,
            weight: None,
            node_config: String::new(),
            cpu_max: None,
        };
        self.nodes.get(i).unwrap_or(&DEFAULT)
    }

    fn validate(&self) -> Result<(), SpecError> {
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if self.name.is_empty()
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err(invalid("name", "letters, digits, - _ . only"));
        }
        let c = &self.cluster;
        if !(1..=MAX_NODES).contains(&c.nodes) {
            return Err(invalid(
                "cluster.nodes",
                format!("1 to {MAX_NODES}, got {}", c.nodes),
            ));
        }
        if c.slots == 0 {
            return Err(invalid("cluster.slots", "must be ≥ 1"));
        }
        if !(1..=64).contains(&c.workers) {
            return Err(invalid("cluster.workers", "1 to 64"));
        }
        if !(c.link_delay_ms.is_finite() && (0.0..=10_000.0).contains(&c.link_delay_ms)) {
            return Err(invalid("cluster.link_delay_ms", "0 to 10000"));
        }
        if !["sleep", "cpu-loop"].contains(&self.function.builtin.as_str()) {
            return Err(invalid("function.builtin", "sleep or cpu-loop"));
        }
        if !positive(self.function.mean_ms) {
            return Err(invalid("function.mean_ms", "must be > 0"));
        }
        if !["exponential", "fixed"].contains(&self.function.distribution.as_str()) {
            return Err(invalid("function.distribution", "exponential or fixed"));
        }
        let t = &self.traffic;
        if t.rho.is_empty() || !t.rho.iter().all(|&r| positive(r)) {
            return Err(invalid("traffic.rho", "one or more numbers > 0"));
        }
        if !t.weights.is_empty() && t.weights.len() != c.nodes {
            return Err(invalid(
                "traffic.weights",
                format!("{} values for {} nodes", t.weights.len(), c.nodes),
            ));
        }
        if !t.weights.iter().all(|&w| w.is_finite() && w >= 0.0)
            || (!t.weights.is_empty() && t.weights.iter().sum::<f64>() <= 0.0)
        {
            return Err(invalid("traffic.weights", "numbers ≥ 0, not all 0"));
        }
        if !positive(t.duration_s) {
            return Err(invalid("traffic.duration_s", "must be > 0"));
        }
        if !(t.warmup_s.is_finite() && t.warmup_s >= 0.0) {
            return Err(invalid("traffic.warmup_s", "must be ≥ 0"));
        }
        if t.timeout_ms == 0 {
            return Err(invalid("traffic.timeout_ms", "must be > 0"));
        }
        if t.seeds.is_empty() {
            return Err(invalid("traffic.seeds", "at least one seed"));
        }
        for m in &self.mix {
            if m.function
                .as_deref()
                .is_some_and(|f| !crate::load::is_function_name(f))
            {
                return Err(invalid("mix.function", "letters, digits, - _ . only"));
            }
            if !positive(m.weight) {
                return Err(invalid("mix.weight", "must be > 0"));
            }
            if m.deadline_ms.is_some_and(|d| !positive(d)) {
                return Err(invalid("mix.deadline_ms", "must be > 0"));
            }
        }
        if self.schedulers.is_empty() {
            return Err(invalid("scheduler", "at least one [[scheduler]]"));
        }
        Ok(())
    }

    /// λ of every node at sweep point `rho`, requests per second.
    pub fn rates(&self, rho: f64) -> Vec<f64> {
        let capacity = self.cluster.slots as f64 * 1000.0 / self.function.mean_ms;
        self.traffic
            .weights
            .iter()
            .map(|w| rho * w * capacity)
            .collect()
    }

    /// The request classes for the load generator.
    pub fn classes(&self) -> Vec<Class> {
        if self.mix.is_empty() {
            return vec![Class {
                payload: default_payload().into_bytes(),
                ..Class::default()
            }];
        }
        self.mix
            .iter()
            .map(|m| Class {
                weight: m.weight,
                function: m.function.clone(),
                payload: m.payload.clone().into_bytes(),
                task_type: m.task_type,
                deadline_ms: m.deadline_ms,
                ..Class::default()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        name = "t"
        [cluster]
        nodes = 3
        slots = 2
        [function]
        builtin = "sleep"
        mean_ms = 40
        [traffic]
        rho = [0.5, 1.0]
        weights = [1.5, 0.2, 0.2]
        duration_s = 5
        [[scheduler]]
        name = "NoScheduler"
        parameters = ["true"]
    "#;

    #[test]
    fn minimal_spec_gets_defaults_and_rates() {
        let s = Spec::parse(MINIMAL).expect("valid");
        assert_eq!(s.cluster.workers, 1);
        assert_eq!(s.cluster.network, Network::Loopback);
        assert_eq!(s.traffic.seeds, vec![1]);
        // K μ = 2 × 25/s = 50/s per unit of weight.
        let r = s.rates(1.0);
        assert!(
            (r[0] - 75.0).abs() < 1e-9 && (r[1] - 10.0).abs() < 1e-9,
            "{r:?}"
        );
        assert_eq!(s.classes().len(), 1);
        assert_eq!(s.schedulers[0].label(), "NoScheduler(true)");
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                "weights = [1.5, 0.2, 0.2]",
                "weights = [1.0]",
                "traffic.weights: 1 values for 3 nodes",
            ),
            ("nodes = 3", "nodes = 0", "cluster.nodes: 1 to 10000, got 0"),
            ("rho = [0.5, 1.0]", "rho = []", "traffic.rho"),
            ("mean_ms = 40", "mean_ms = -1", "function.mean_ms"),
        ];
        for (from, to, want) in cases {
            let text = MINIMAL.replace(from, to);
            let err = Spec::parse(&text).expect_err(to).to_string();
            assert!(err.starts_with(want), "{to}: {err}");
        }
        let unknown = MINIMAL.replace("slots = 2", "slots = 2\nslotz = 3");
        let err = Spec::parse(&unknown)
            .expect_err("unknown field")
            .to_string();
        assert!(err.contains("slotz"), "{err}");
    }

    #[test]
    fn node_tables_override_the_cluster_for_their_node() {
        let text = format!(
            "{MINIMAL}\n[[node]]\nslots = 5\nspeed = 0.5\nweight = 3\n\
             [[node]]\nqueue_len = 2\nnode_config = \"[learner]\\nreward_met = 1.0\"\n"
        );
        let s = Spec::parse(&text).expect("valid");
        assert_eq!((s.slots(0), s.slots(1), s.slots(2)), (5, 2, 2));
        assert_eq!((s.queue_len(0), s.queue_len(1), s.queue_len(2)), (0, 2, 0));
        assert_eq!((s.speed(0), s.speed(1)), (0.5, 1.0));
        // n0's weight replaces its entry of traffic.weights; the others keep theirs.
        assert_eq!(s.traffic.weights, vec![3.0, 0.2, 0.2]);
        assert!(s.node(1).node_config.contains("[learner]"));
        // The spec as run (report.json) keeps the tables and reads back the same.
        let back: Spec =
            serde_json::from_str(&serde_json::to_string(&s).expect("json")).expect("back");
        assert_eq!(back.nodes, s.nodes);
        for (tail, want) in [
            ("[[node]]\nspeed = -2\n", "node[0].speed: from 0.001"),
            (
                "[[node]]\n[[node]]\nslotz = 1\n",
                "node[1].slotz: unknown key",
            ),
            (
                "[[node]]\n[[node]]\n[[node]]\n[[node]]\n",
                "node: 4 [[node]] tables for 3 nodes",
            ),
            (
                "[[node]]\ncpu_max = \"50000 100000\"\n",
                "node[0].cpu_max: needs cluster.network",
            ),
        ] {
            let err = Spec::parse(&format!("{MINIMAL}\n{tail}"))
                .expect_err(tail)
                .to_string();
            assert!(err.starts_with(want), "{tail}: {err}");
        }
    }

    #[test]
    fn shipped_specs_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("specs");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).expect("bench/specs") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("read");
            Spec::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
        assert!(n >= 3, "expected the shipped specs, found {n}");
    }
}
