//! Counters and histograms. Each worker owns one `WorkerMetrics` and is its only writer (relaxed atomics on
//! cache lines no other core writes), so recording costs a few nanoseconds; a scrape reads every worker's
//! set and sums them. `render` writes the Prometheus text exposition format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// How one invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The function answered (any status).
    Ok,
    /// 429: no capacity.
    Overloaded,
    /// 503: deliberate rejection.
    Rejected,
    /// 504: function timeout.
    Timeout,
    /// 502: function unreachable or failed.
    FunctionError,
}

impl Outcome {
    const ALL: [Self; 5] = [
        Self::Ok,
        Self::Overloaded,
        Self::Rejected,
        Self::Timeout,
        Self::FunctionError,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Overloaded => "overloaded",
            Self::Rejected => "rejected",
            Self::Timeout => "timeout",
            Self::FunctionError => "function_error",
        }
    }
}

/// Upper bounds (seconds) of the latency histogram buckets; the last bucket is +Inf.
pub const LATENCY_BOUNDS: [f64; 14] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A fixed-bucket histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BOUNDS.len() + 1],
    sum_ns: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let idx = LATENCY_BOUNDS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(LATENCY_BOUNDS.len());
        self.buckets[idx].fetch_add(1, Relaxed);
        self.sum_ns
            .fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }
}

/// Per-function counters of one worker.
#[derive(Debug, Default)]
pub struct FunctionMetrics {
    outcomes: [AtomicU64; Outcome::ALL.len()],
    /// End-to-end latency of answered invocations.
    latency: Histogram,
}

impl Histogram {
    /// Observations per bucket (not cumulative), the +Inf bucket last.
    pub fn counts(&self) -> [u64; LATENCY_BOUNDS.len() + 1] {
        std::array::from_fn(|i| self.buckets[i].load(Relaxed))
    }
}

impl FunctionMetrics {
    /// Invocations so far by outcome (in `Outcome` order: ok, overloaded, rejected, timeout,
    /// function_error).
    pub fn outcome_counts(&self) -> [u64; Outcome::ALL.len()] {
        std::array::from_fn(|i| self.outcomes[i].load(Relaxed))
    }

    /// The latency histogram of answered invocations.
    pub fn latency(&self) -> &Histogram {
        &self.latency
    }

    /// Records how an invocation ended and, for answered ones, its latency.
    pub fn record(&self, outcome: Outcome, latency: Duration) {
        self.outcomes[outcome as usize].fetch_add(1, Relaxed);
        if outcome == Outcome::Ok {
            self.latency.observe(latency);
        }
    }
}

/// Everything one worker counts.
#[derive(Debug)]
pub struct WorkerMetrics {
    /// Requests parsed and routed.
    pub http_requests: AtomicU64,
    /// Requests refused as malformed HTTP.
    pub http_malformed: AtomicU64,
    /// Connections accepted.
    pub connections_accepted: AtomicU64,
    /// Connections closed.
    pub connections_closed: AtomicU64,
    /// Jobs this node sent to a peer that answered.
    pub forwarded: AtomicU64,
    /// Forwards that failed or were refused (the job fell back here).
    pub forward_failed: AtomicU64,
    /// Jobs received from peers.
    pub peer_jobs: AtomicU64,
    /// Membership messages sent, and their bytes.
    pub gossip_sent: AtomicU64,
    /// Bytes of the membership messages sent (bodies).
    pub gossip_bytes: AtomicU64,
    /// Invocations with a deadline answered (2xx) within it.
    pub deadline_met: AtomicU64,
    /// Invocations with a deadline that were late, rejected or failed.
    pub deadline_missed: AtomicU64,
    /// Decisions an external agent answered (`learner.external`).
    pub agent_decisions: AtomicU64,
    /// Decisions that fell back, by [`crate::agent::Fallback`] reason.
    pub agent_fallbacks: [AtomicU64; 5],
    /// Connections made to the external agent (the first and every reconnect).
    pub agent_connects: AtomicU64,
    /// Answers that came after their decision had fallen back.
    pub agent_late_answers: AtomicU64,
    /// Transitions sent to the agent, and dropped (no connection, agent too slow, post failed).
    pub agent_transitions: AtomicU64,
    /// See `agent_transitions`.
    pub agent_transitions_dropped: AtomicU64,
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl WorkerMetrics {
    /// All counters zero. Per-function counters live with each function (`registry::Function`).
    pub fn new() -> Self {
        Self {
            http_requests: AtomicU64::new(0),
            http_malformed: AtomicU64::new(0),
            connections_accepted: AtomicU64::new(0),
            connections_closed: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
            forward_failed: AtomicU64::new(0),
            peer_jobs: AtomicU64::new(0),
            gossip_sent: AtomicU64::new(0),
            gossip_bytes: AtomicU64::new(0),
            deadline_met: AtomicU64::new(0),
            deadline_missed: AtomicU64::new(0),
            agent_decisions: AtomicU64::new(0),
            agent_fallbacks: std::array::from_fn(|_| AtomicU64::new(0)),
            agent_connects: AtomicU64::new(0),
            agent_late_answers: AtomicU64::new(0),
            agent_transitions: AtomicU64::new(0),
            agent_transitions_dropped: AtomicU64::new(0),
        }
    }
}

/// One function's name and the metrics shards of all workers.
pub type FunctionShards<'a> = (&'a str, Vec<&'a FunctionMetrics>);

/// Node-level gauges read at scrape time.
#[derive(Debug, Clone, Copy)]
pub struct Gauges<'a> {
    /// Jobs running.
    pub running: usize,
    /// Jobs waiting.
    pub queued: usize,
    /// K.
    pub slots: usize,
    /// Q in force.
    pub queue_len: usize,
    /// io driver name (`io_uring` or `epoll`).
    pub driver: &'a str,
    /// io_uring setup flags in force (empty for epoll).
    pub driver_flags: &'a str,
    /// Worker threads.
    pub workers: usize,
    /// Current scheduler display name.
    pub scheduler: &'a str,
    /// Seconds since start.
    pub uptime_seconds: f64,
}

/// Renders the exposition text for all workers and functions plus the gauges.
pub fn render(
    workers: &[&WorkerMetrics],
    functions: &[FunctionShards<'_>],
    g: &Gauges<'_>,
) -> String {
    let mut out = String::with_capacity(4096);
    let sum = |f: &dyn Fn(&WorkerMetrics) -> &AtomicU64| -> u64 {
        workers.iter().map(|w| f(w).load(Relaxed)).sum()
    };
    let mut counter = |name: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    };
    counter(
        "p2pfaas_http_requests_total",
        "HTTP requests parsed and routed.",
        sum(&|w| &w.http_requests),
    );
    counter(
        "p2pfaas_http_malformed_requests_total",
        "Requests refused as malformed HTTP (4xx, connection closed).",
        sum(&|w| &w.http_malformed),
    );
    counter(
        "p2pfaas_connections_accepted_total",
        "TCP connections accepted.",
        sum(&|w| &w.connections_accepted),
    );
    counter(
        "p2pfaas_connections_closed_total",
        "TCP connections closed.",
        sum(&|w| &w.connections_closed),
    );
    counter(
        "p2pfaas_forwarded_total",
        "Jobs sent to a peer that answered.",
        sum(&|w| &w.forwarded),
    );
    counter(
        "p2pfaas_forward_failures_total",
        "Forwards that failed or were refused; the job fell back to this node.",
        sum(&|w| &w.forward_failed),
    );
    counter(
        "p2pfaas_peer_jobs_total",
        "Jobs received from peers.",
        sum(&|w| &w.peer_jobs),
    );
    counter(
        "p2pfaas_gossip_messages_sent_total",
        "Membership messages sent.",
        sum(&|w| &w.gossip_sent),
    );
    counter(
        "p2pfaas_gossip_bytes_sent_total",
        "Bytes of membership message bodies sent.",
        sum(&|w| &w.gossip_bytes),
    );
    counter(
        "p2pfaas_deadline_met_total",
        "Invocations with a deadline answered (2xx) within it.",
        sum(&|w| &w.deadline_met),
    );
    counter(
        "p2pfaas_deadline_missed_total",
        "Invocations with a deadline that were late, rejected or failed.",
        sum(&|w| &w.deadline_missed),
    );
    counter(
        "p2pfaas_agent_decisions_total",
        "Learning decisions answered by the external agent.",
        sum(&|w| &w.agent_decisions),
    );
    counter(
        "p2pfaas_agent_connects_total",
        "Connections made to the external agent (first and reconnects).",
        sum(&|w| &w.agent_connects),
    );
    counter(
        "p2pfaas_agent_late_answers_total",
        "External agent answers that came after their decision fell back.",
        sum(&|w| &w.agent_late_answers),
    );
    counter(
        "p2pfaas_agent_transitions_total",
        "Transitions (state, action, reward) sent to the external agent.",
        sum(&|w| &w.agent_transitions),
    );
    counter(
        "p2pfaas_agent_transitions_dropped_total",
        "Transitions not sent: no connection, the agent reading too slowly, or a failed post.",
        sum(&|w| &w.agent_transitions_dropped),
    );
    let _ = writeln!(
        out,
        "# HELP p2pfaas_agent_fallbacks_total Learning decisions the fallback scheduler made, by why the external agent's action was missing.\n# TYPE p2pfaas_agent_fallbacks_total counter"
    );
    for reason in crate::agent::Fallback::ALL {
        let _ = writeln!(
            out,
            "p2pfaas_agent_fallbacks_total{{reason=\"{}\"}} {}",
            reason.as_str().trim_start_matches("agent_"),
            sum(&|w| &w.agent_fallbacks[reason as usize])
        );
    }

    let _ = writeln!(
        out,
        "# HELP p2pfaas_invocations_total Function invocations by outcome.\n# TYPE p2pfaas_invocations_total counter"
    );
    for (name, fns) in functions {
        for outcome in Outcome::ALL {
            let v: u64 = fns
                .iter()
                .map(|f| f.outcomes[outcome as usize].load(Relaxed))
                .sum();
            let _ = writeln!(
                out,
                "p2pfaas_invocations_total{{function=\"{name}\",outcome=\"{}\"}} {v}",
                outcome.label()
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP p2pfaas_invocation_duration_seconds End-to-end latency of answered invocations.\n# TYPE p2pfaas_invocation_duration_seconds histogram"
    );
    for (name, fns) in functions {
        let mut cumulative = 0u64;
        for (b, bound) in LATENCY_BOUNDS.iter().enumerate() {
            cumulative += fns
                .iter()
                .map(|f| f.latency.buckets[b].load(Relaxed))
                .sum::<u64>();
            let _ = writeln!(
                out,
                "p2pfaas_invocation_duration_seconds_bucket{{function=\"{name}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        cumulative += fns
            .iter()
            .map(|f| f.latency.buckets[LATENCY_BOUNDS.len()].load(Relaxed))
            .sum::<u64>();
        let sum_ns: u64 = fns.iter().map(|f| f.latency.sum_ns.load(Relaxed)).sum();
        let _ = writeln!(
            out,
            "p2pfaas_invocation_duration_seconds_bucket{{function=\"{name}\",le=\"+Inf\"}} {cumulative}\n\
             p2pfaas_invocation_duration_seconds_sum{{function=\"{name}\"}} {}\n\
             p2pfaas_invocation_duration_seconds_count{{function=\"{name}\"}} {cumulative}",
            sum_ns as f64 / 1e9
        );
    }

    let mut gauge = |name: &str, help: &str, value: String| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    };
    gauge(
        "p2pfaas_jobs_running",
        "Jobs holding an execution slot.",
        g.running.to_string(),
    );
    gauge(
        "p2pfaas_jobs_queued",
        "Jobs waiting for a slot.",
        g.queued.to_string(),
    );
    gauge("p2pfaas_slots", "Execution slots (K).", g.slots.to_string());
    gauge(
        "p2pfaas_queue_length_max",
        "Wait-queue length in force (Q).",
        g.queue_len.to_string(),
    );
    gauge(
        "p2pfaas_workers",
        "Worker threads (one runtime each).",
        g.workers.to_string(),
    );
    gauge(
        "p2pfaas_uptime_seconds",
        "Seconds since the node started.",
        format!("{:.3}", g.uptime_seconds),
    );
    let _ = writeln!(
        out,
        "# HELP p2pfaas_runtime_driver_info io driver in use by the workers.\n# TYPE p2pfaas_runtime_driver_info gauge\np2pfaas_runtime_driver_info{{driver=\"{}\",flags=\"{}\"}} 1",
        g.driver, g.driver_flags
    );
    let _ = writeln!(
        out,
        "# HELP p2pfaas_scheduler_info Scheduler in use (label name).\n# TYPE p2pfaas_scheduler_info gauge\np2pfaas_scheduler_info{{name=\"{}\"}} 1",
        g.scheduler.replace('"', "'")
    );
    out
}

/// Appends the peer and authentication metrics: peers by state, identity conflicts, and refused calls by
/// reason.
pub fn render_peers(
    out: &mut String,
    up: usize,
    known: usize,
    identity_conflicts: u64,
    auth_failures: &[(&str, u64)],
) {
    let _ = writeln!(
        out,
        "# HELP p2pfaas_peers Known peers by state.\n# TYPE p2pfaas_peers gauge\n\
         p2pfaas_peers{{state=\"up\"}} {up}\np2pfaas_peers{{state=\"down\"}} {}",
        known - up.min(known)
    );
    let _ = writeln!(
        out,
        "# HELP p2pfaas_identity_conflicts_total Reports of two live nodes using one machine_id.\n\
         # TYPE p2pfaas_identity_conflicts_total counter\np2pfaas_identity_conflicts_total {identity_conflicts}"
    );
    let _ = writeln!(
        out,
        "# HELP p2pfaas_auth_failures_total Peer and admin calls refused by the cluster-key check.\n\
         # TYPE p2pfaas_auth_failures_total counter"
    );
    for (reason, n) in auth_failures {
        let _ = writeln!(
            out,
            "p2pfaas_auth_failures_total{{reason=\"{reason}\"}} {n}"
        );
    }
}

/// Appends the learning agent's counters and gauges.
pub fn render_learner(out: &mut String, s: &crate::learning::Stats) {
    let mut metric = |name: &str, kind: &str, help: &str, value: &dyn std::fmt::Display| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    metric(
        "p2pfaas_learner_inferences_total",
        "counter",
        "Actions chosen by the learning agent.",
        &s.inferences,
    );
    metric(
        "p2pfaas_learner_trained_items_total",
        "counter",
        "Transitions trained.",
        &s.trained_items,
    );
    metric(
        "p2pfaas_learner_rewards_total",
        "counter",
        "Rewards received (computed by the node or sent to /train).",
        &s.rewards,
    );
    metric(
        "p2pfaas_learner_reward_sum",
        "counter",
        "Sum of the rewards received.",
        &s.reward_sum,
    );
    metric(
        "p2pfaas_learner_epsilon",
        "gauge",
        "Exploration rate of the ε-greedy policy.",
        &s.epsilon,
    );
    metric(
        "p2pfaas_learner_average_reward",
        "gauge",
        "Average-reward estimate R̄ of differential Sarsa.",
        &s.average_reward,
    );
    metric(
        "p2pfaas_learner_pending_entries",
        "gauge",
        "Learning entries waiting in the EID window.",
        &s.pending_entries,
    );
    metric(
        "p2pfaas_learner_states",
        "gauge",
        "States in the Q-table.",
        &s.states,
    );
    metric(
        "p2pfaas_learner_states_rejected_total",
        "counter",
        "New states refused because the Q-table was full.",
        &s.states_rejected,
    );
    metric(
        "p2pfaas_learner_gaps_skipped_total",
        "counter",
        "Missing EIDs skipped after waiting.",
        &s.gaps_skipped,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learner_block_has_counters_and_gauges() {
        let mut out = String::new();
        render_learner(
            &mut out,
            &crate::learning::Stats {
                inferences: 12,
                epsilon: 0.5,
                ..crate::learning::Stats::default()
            },
        );
        assert!(out.contains("# TYPE p2pfaas_learner_inferences_total counter\np2pfaas_learner_inferences_total 12\n"), "{out}");
        assert!(out.contains("p2pfaas_learner_epsilon 0.5\n"), "{out}");
    }

    #[test]
    fn render_sums_workers_and_is_cumulative() {
        let a = WorkerMetrics::new();
        let b = WorkerMetrics::new();
        let (fa, fb) = (FunctionMetrics::default(), FunctionMetrics::default());
        fa.record(Outcome::Ok, Duration::from_micros(50));
        fb.record(Outcome::Ok, Duration::from_millis(30));
        fb.record(Outcome::Overloaded, Duration::ZERO);
        a.http_requests.fetch_add(2, Relaxed);
        b.http_requests.fetch_add(1, Relaxed);
        let text = render(
            &[&a, &b],
            &[("echo", vec![&fa, &fb])],
            &Gauges {
                running: 1,
                queued: 2,
                slots: 4,
                queue_len: 4,
                driver: "io_uring",
                driver_flags: "single_issuer,defer_taskrun",
                workers: 2,
                scheduler: "NoScheduler",
                uptime_seconds: 1.0,
            },
        );
        assert!(text.contains("p2pfaas_http_requests_total 3\n"), "{text}");
        assert!(text.contains("p2pfaas_invocations_total{function=\"echo\",outcome=\"ok\"} 2\n"));
        assert!(
            text.contains(
                "p2pfaas_invocations_total{function=\"echo\",outcome=\"overloaded\"} 1\n"
            )
        );
        assert!(text.contains(
            "p2pfaas_invocation_duration_seconds_bucket{function=\"echo\",le=\"0.0001\"} 1\n"
        ));
        assert!(text.contains(
            "p2pfaas_invocation_duration_seconds_bucket{function=\"echo\",le=\"0.05\"} 2\n"
        ));
        assert!(text.contains("p2pfaas_invocation_duration_seconds_count{function=\"echo\"} 2\n"));
        assert!(text.contains(
            "p2pfaas_runtime_driver_info{driver=\"io_uring\",flags=\"single_issuer,defer_taskrun\"} 1\n"
        ), "{text}");
        assert!(text.contains("p2pfaas_jobs_queued 2\n"));
    }
}
