//! The dashboard's data (`/ui`, `/events`): one node's state at one instant as plain data
//! ([`NodeSnapshot`]), the cluster frame that `/events` sends each second (this node's snapshot plus the
//! latest one of each peer), and the Server-Sent Events framing.
//!
//! Counters are cumulative since start; the page turns two consecutive snapshots into rates and latency
//! quantiles. So building a snapshot keeps no state, any number of readers can share one, and a reader
//! that misses a second loses nothing but resolution. Nothing here does I/O: `http/events.rs` gathers the
//! inputs from the node and owns the connections.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::load::LoadSample;
use crate::metrics::{FunctionMetrics, LATENCY_BOUNDS, WorkerMetrics};

/// Latency histogram buckets: one per bound of [`LATENCY_BOUNDS`] plus +Inf.
pub const BUCKETS: usize = LATENCY_BOUNDS.len() + 1;

/// One node at one instant. Field names are short but whole words: the page and `jq` read them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeSnapshot {
    /// `machine_id`.
    pub id: String,
    /// Advertised `host:port`.
    pub addr: String,
    /// When it was taken, milliseconds since the Unix epoch (the page divides counter deltas by this).
    pub t: u64,
    /// Seconds since the node started (a restart resets the counters; the page notices).
    pub uptime_s: f64,
    /// Jobs holding a slot.
    pub running: usize,
    /// Jobs waiting for a slot.
    pub queued: usize,
    /// K.
    pub slots: usize,
    /// Q in force.
    pub queue_len: usize,
    /// Cumulative counters (flattened into the snapshot's JSON).
    #[serde(flatten)]
    pub counters: Totals,
    /// Display name of the scheduler in use.
    pub scheduler: String,
    /// io driver (`io_uring` or `epoll`).
    pub driver: String,
    /// The latest load sample.
    pub load: Load,
    /// The learning agent.
    pub learner: Learner,
    /// Peers as this node's membership sees them, with the jobs it forwarded to each.
    pub peers: Vec<Link>,
}

/// Invocations by outcome (the labels of `p2pfaas_invocations_total`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calls {
    /// The function answered.
    pub ok: u64,
    /// 429: no slot and no queue space.
    pub overloaded: u64,
    /// 503: the scheduler rejected it.
    pub rejected: u64,
    /// 504: the function timed out.
    pub timeout: u64,
    /// 502: the function was unreachable or failed.
    pub failed: u64,
}

/// The parts of a [`LoadSample`] the page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Load {
    /// `ebpf`, `psi`, `procfs` or `none`.
    pub source: String,
    /// Busy share of all CPUs (0..1).
    pub utilisation: f64,
    /// Busy share of the busiest CPU (0..1).
    pub utilisation_max_cpu: f64,
    /// Median wake-to-run delay (µs), eBPF only.
    pub runq_p50_us: Option<f64>,
    /// 99th percentile wake-to-run delay (µs), eBPF only.
    pub runq_p99_us: Option<f64>,
    /// PSI CPU "some" pressure (0..1), when available.
    pub cpu_pressure: Option<f64>,
    /// One-minute load average.
    pub load_avg_1m: f64,
}

impl From<&LoadSample> for Load {
    fn from(s: &LoadSample) -> Self {
        Self {
            source: s.source.as_str().to_owned(),
            utilisation: s.utilisation,
            utilisation_max_cpu: s.utilisation_max_cpu,
            runq_p50_us: s.runq_latency_p50_us,
            runq_p99_us: s.runq_latency_p99_us,
            cpu_pressure: s.cpu_pressure,
            load_avg_1m: s.load_avg_1m,
        }
    }
}

/// The learning agent's convergence indicators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Learner {
    /// Exploration rate ε.
    pub epsilon: f32,
    /// Average-reward estimate R̄.
    pub average_reward: f32,
    /// Rewards received, cumulative.
    pub rewards: u64,
    /// Sum of the rewards received, cumulative (the page shows the mean reward per interval).
    pub reward_sum: f64,
    /// Actions chosen, cumulative.
    pub inferences: u64,
}

impl From<&crate::learning::Stats> for Learner {
    fn from(s: &crate::learning::Stats) -> Self {
        Self {
            epsilon: s.epsilon,
            average_reward: s.average_reward,
            rewards: s.rewards,
            reward_sum: s.reward_sum,
            inferences: s.inferences,
        }
    }
}

/// One peer as the snapshot's node sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Its `machine_id`, or its address until it is known.
    pub id: String,
    /// `host:port`.
    pub addr: String,
    /// Whether it answers.
    pub up: bool,
    /// Jobs forwarded to it that it answered, cumulative (the width of the flow arrow).
    pub forwarded: u64,
}

/// Counters summed over every worker's shard, cumulative since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Invocations by outcome.
    pub calls: Calls,
    /// Answered invocations per latency bucket (not cumulative across buckets).
    pub latency: [u64; BUCKETS],
    /// Jobs sent to a peer that answered.
    pub forwarded: u64,
    /// Forwards that failed or were refused.
    pub forward_failed: u64,
    /// Jobs received from peers.
    pub peer_jobs: u64,
    /// Invocations with a deadline answered within it.
    pub deadline_met: u64,
    /// Invocations with a deadline that were late, rejected or failed.
    pub deadline_missed: u64,
}

/// Sums the workers' counters and every function's shards.
pub fn totals<'a>(
    workers: &[&WorkerMetrics],
    functions: impl IntoIterator<Item = &'a FunctionMetrics>,
) -> Totals {
    use std::sync::atomic::Ordering::Relaxed;
    let mut t = Totals::default();
    for f in functions {
        let [ok, overloaded, rejected, timeout, failed] = f.outcome_counts();
        t.calls.ok += ok;
        t.calls.overloaded += overloaded;
        t.calls.rejected += rejected;
        t.calls.timeout += timeout;
        t.calls.failed += failed;
        for (sum, n) in t.latency.iter_mut().zip(f.latency().counts()) {
            *sum += n;
        }
    }
    for w in workers {
        t.forwarded += w.forwarded.load(Relaxed);
        t.forward_failed += w.forward_failed.load(Relaxed);
        t.peer_jobs += w.peer_jobs.load(Relaxed);
        t.deadline_met += w.deadline_met.load(Relaxed);
        t.deadline_missed += w.deadline_missed.load(Relaxed);
    }
    t
}

/// One peer's latest snapshot as the serving node holds it.
#[derive(Debug, Clone)]
pub struct PeerState<'a> {
    /// Its `machine_id` (or address).
    pub id: &'a str,
    /// `host:port`.
    pub addr: &'a str,
    /// Its last snapshot (or, for `/events/cluster/history`, its history), if one arrived recently
    /// enough.
    pub snapshot: Option<&'a Value>,
}

/// What `/events` sends each second: everything the page draws.
#[derive(Debug, Serialize)]
pub struct Frame<'a> {
    /// The serving node's `machine_id`.
    #[serde(rename = "self")]
    pub own: &'a str,
    /// Whether admin calls need a signature (the page then asks for the key).
    pub signed: bool,
    /// Upper bounds (seconds) of the latency buckets; the last bucket is +Inf.
    pub bounds: &'static [f64],
    /// This node first, then each peer that answered recently.
    pub nodes: Vec<&'a Value>,
    /// Peers known to the membership whose snapshot is missing or stale.
    pub unreachable: Vec<Unreachable<'a>>,
}

/// A peer without a fresh snapshot.
#[derive(Debug, Serialize)]
pub struct Unreachable<'a> {
    /// Its `machine_id` (or address).
    pub id: &'a str,
    /// `host:port`.
    pub addr: &'a str,
}

/// Builds the cluster frame from this node's snapshot and its peers' states.
pub fn frame<'a>(
    own: &'a Value,
    own_id: &'a str,
    signed: bool,
    peers: &[PeerState<'a>],
) -> Frame<'a> {
    let (nodes, unreachable) = split(own, peers);
    Frame {
        own: own_id,
        signed,
        bounds: &LATENCY_BOUNDS,
        nodes,
        unreachable,
    }
}

/// This node's value first, then each peer's that is present; the peers without one apart.
pub fn split<'a>(
    own: &'a Value,
    peers: &[PeerState<'a>],
) -> (Vec<&'a Value>, Vec<Unreachable<'a>>) {
    let mut nodes = vec![own];
    let mut unreachable = Vec::new();
    for p in peers {
        match p.snapshot {
            Some(s) => nodes.push(s),
            None => unreachable.push(Unreachable {
                id: p.id,
                addr: p.addr,
            }),
        }
    }
    (nodes, unreachable)
}

/// Appends one Server-Sent Event carrying `data` to `out`. Each line of `data` becomes a `data:` field
/// (compact JSON has none, but the framing must not depend on it) and a blank line ends the event.
pub fn sse_event(out: &mut Vec<u8>, data: &[u8]) {
    for line in data.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.push(b'\n');
}

/// The head of the `/events` response: an event stream delimited by the connection's close (no length,
/// no chunking), never cached, readable from any origin (it is as public as `/metrics`), and a retry
/// hint for `EventSource` after a disconnect.
pub const SSE_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\n\
Content-Type: text/event-stream\r\n\
Cache-Control: no-store\r\n\
Access-Control-Allow-Origin: *\r\n\
X-Accel-Buffering: no\r\n\
Connection: close\r\n\r\n\
retry: 2000\n\n";

#[cfg(test)]
mod tests;
