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
        Ok(())
    }
}
