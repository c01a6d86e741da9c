//! The spec's optional `[simulation]` table: knobs only the simulator reads. A live run ignores it, so one
//! spec file describes an experiment and its simulated twin.

use serde::{Deserialize, Serialize};

/// `[simulation]`: how to simulate the spec's experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Simulation {
    /// Arrivals counted per point, over all nodes (0: `traffic.duration_s` of arrivals). Sets the
    /// simulated duration to arrivals / Σλ; `traffic.warmup_s` still comes first.
    pub arrivals: u64,
    /// Batches for the batch-means 95% confidence intervals (2–1000; the measured period is cut into
    /// this many equal spans of arrival time).
    pub batches: usize,
    /// Per-node speed factors: node i serves in (service time / speed\[i\]); empty: all 1.
    pub speed: Vec<f64>,
    /// Time a probe round trip takes on top of two link delays (`cluster.link_delay_ms`), ms.
    pub probe_delay_ms: f64,
    /// How often each node refreshes its cached view of every peer's load (the node's
    /// `peers.refresh_interval_ms`), ms; 0: the view is always exact. Probes and forwarded answers
    /// also refresh the entry of the peer they came from, as on real nodes.
    pub view_refresh_ms: f64,
    /// Service times measured live, in ms, one per line (or the first column of a CSV; `#` comments
    /// and a header are skipped), drawn uniformly with replacement instead of
    /// `function.distribution`. Relative to the working directory.
    pub service_file: Option<String>,
    /// Probability that a probe fails (the prober gets no load from that peer), 0–1.
    pub probe_failure: f64,
    /// Probability that a forward fails (a connection error, seen after one round trip; the node
    /// falls back to running the job itself: `peer_failed`), 0–1.
    pub forward_failure: f64,
    /// Probability that a forward gets no answer within `forward_timeout_ms` (`peer_timeout`), 0–1.
    pub forward_timeout: f64,
    /// The node's `peers.forward_timeout_ms`: how long a timed-out forward takes to fail, ms.
    pub forward_timeout_ms: f64,
    /// Mean time between crashes of each node, s (exponential; 0: nodes do not crash at random).
    pub mtbf_s: f64,
    /// Mean time to repair a crashed node, s (exponential).
    pub mttr_s: f64,
    /// Crashes at fixed times, on top of the random ones.
    pub crash: Vec<Crash>,
}

/// `[[simulation.crash]]`: node `node` crashes `at_s` after the start (warm-up included) and stays
/// down `down_s` seconds (0: for the rest of the point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Crash {
    /// Node index.
    pub node: usize,
    /// When, s from the start of the point.
    pub at_s: f64,
    /// How long it stays down, s (0: for good).
    #[serde(default)]
    pub down_s: f64,
}

impl Default for Simulation {
    fn default() -> Self {
        Self {
            arrivals: 0,
            batches: 20,
            speed: Vec::new(),
            probe_delay_ms: 0.0,
            view_refresh_ms: 1000.0,
            service_file: None,
            probe_failure: 0.0,
            forward_failure: 0.0,
            forward_timeout: 0.0,
            forward_timeout_ms: 30_000.0,
            mtbf_s: 0.0,
            mttr_s: 10.0,
            crash: Vec::new(),
        }
    }
}

impl Simulation {
    /// Checks the knobs for a cluster of `nodes`; the error names the field.
    pub fn validate(&self, nodes: usize) -> Result<(), (&'static str, String)> {
        let ms = |v: f64| v.is_finite() && (0.0..=3.6e6).contains(&v);
        if !(2..=1000).contains(&self.batches) {
            return Err((
                "simulation.batches",
                format!("2 to 1000, got {}", self.batches),
            ));
        }
        if !self.speed.is_empty() && self.speed.len() != nodes {
            return Err((
                "simulation.speed",
                format!("{} values for {nodes} nodes", self.speed.len()),
            ));
        }
        if !self.speed.iter().all(|s| s.is_finite() && *s > 0.0) {
            return Err(("simulation.speed", "numbers > 0".to_owned()));
        }
        if !ms(self.probe_delay_ms) {
            return Err(("simulation.probe_delay_ms", "0 to 3600000".to_owned()));
        }
        if !ms(self.view_refresh_ms) {
            return Err(("simulation.view_refresh_ms", "0 to 3600000".to_owned()));
        }
        let p = |v: f64| v.is_finite() && (0.0..=1.0).contains(&v);
        for (field, v) in [
            ("simulation.probe_failure", self.probe_failure),
            ("simulation.forward_failure", self.forward_failure),
            ("simulation.forward_timeout", self.forward_timeout),
        ] {
            if !p(v) {
                return Err((field, format!("a probability from 0 to 1, got {v}")));
            }
        }
        if self.forward_failure + self.forward_timeout > 1.0 {
            return Err((
                "simulation.forward_timeout",
                "forward_failure + forward_timeout must not exceed 1".to_owned(),
            ));
        }
        if !ms(self.forward_timeout_ms) {
            return Err(("simulation.forward_timeout_ms", "0 to 3600000".to_owned()));
        }
        let s = |v: f64| v.is_finite() && (0.0..=1e7).contains(&v);
        if !s(self.mtbf_s) {
            return Err(("simulation.mtbf_s", "0 to 1e7 seconds".to_owned()));
        }
        if !s(self.mttr_s) || (self.mtbf_s > 0.0 && self.mttr_s <= 0.0) {
            return Err((
                "simulation.mttr_s",
                "above 0 (with mtbf_s) and at most 1e7 seconds".to_owned(),
            ));
        }
        for c in &self.crash {
            if c.node >= nodes {
                return Err((
                    "simulation.crash.node",
                    format!("{} is not a node (the cluster has {nodes})", c.node),
                ));
            }
            if !s(c.at_s) || !s(c.down_s) {
                return Err((
                    "simulation.crash.at_s",
                    "at_s and down_s: 0 to 1e7 seconds".to_owned(),
                ));
            }
        }
        Ok(())
    }
}
