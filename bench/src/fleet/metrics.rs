//! A node's `/metrics` page (Prometheus text format) read into series, and the per-node figures of one
//! point: counter differences between a scrape before and one after, gauges and labels from the one
//! after. Pure: text in, figures out.

use serde::{Deserialize, Serialize};

/// One scrape: `(name, labels as written, value)` per series line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape {
    series: Vec<(String, String, f64)>,
}

impl Scrape {
    /// Parses the exposition text; comment and malformed lines are skipped.
    pub fn parse(text: &str) -> Self {
        let series = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|line| {
                let (key, value) = line.trim().rsplit_once(' ')?;
                let value: f64 = value.parse().ok()?;
                let (name, labels) = match key.split_once('{') {
                    Some((n, rest)) => (n, rest.strip_suffix('}')?),
                    None => (key, ""),
                };
                Some((name.to_owned(), labels.to_owned(), value))
            })
            .collect();
        Self { series }
    }

    /// Sum of every series of `name` whose labels contain `filter` (`""`: all).
    pub fn sum(&self, name: &str, filter: &str) -> f64 {
        self.series
            .iter()
            .filter(|(n, l, _)| n == name && l.contains(filter))
            .map(|(_, _, v)| v)
            .sum()
    }

    /// The value of an unlabelled gauge, when present.
    pub fn gauge(&self, name: &str) -> Option<f64> {
        self.series
            .iter()
            .find(|(n, l, _)| n == name && l.is_empty())
            .map(|(_, _, v)| *v)
    }

    /// Label `label` of the first series of an info metric `name` (`p2pfaas_scheduler_info{name="…"}`).
    pub fn label(&self, name: &str, label: &str) -> Option<String> {
        let (_, labels, _) = self.series.iter().find(|(n, _, _)| n == name)?;
        let start = labels.find(&format!("{label}=\""))? + label.len() + 2;
        let rest = &labels[start..];
        // Values are escaped (`\"`); stop at the first unescaped quote.
        let mut value = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => value.extend(chars.next()),
                '"' => return Some(value),
                c => value.push(c),
            }
        }
        None
    }
}

/// One node's figures over one point, from its own metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodePoint {
    /// The fleet node's name.
    pub node: String,
    /// `Name(p, …)` of the spec's scheduler for this point.
    pub scheduler: String,
    /// Seed of the replication.
    pub seed: u64,
    /// Sweep point.
    pub rho: f64,
    /// The scheduler the node reported (`p2pfaas_scheduler_info`) before the point.
    pub scheduler_before: String,
    /// … and after it.
    pub scheduler_after: String,
    /// Invocations answered by the function (2xx or the function's own status).
    pub ok: u64,
    /// 429: no slot and no queue place.
    pub overloaded: u64,
    /// 503: refused by the scheduler.
    pub rejected: u64,
    /// 504 and 502: the function timed out or failed.
    pub errors: u64,
    /// Jobs this node sent to a peer that took them.
    pub forwarded_out: u64,
    /// Jobs peers sent to this node.
    pub peer_jobs_in: u64,
    /// Forwards that failed or were refused, after which the job fell back to this node.
    pub fallbacks: u64,
    /// Admin or peer calls refused by the cluster-key check during the point.
    pub auth_failures: u64,
    /// Busy share of all CPUs at the end of the point (0..1).
    pub cpu_utilisation: Option<f64>,
    /// Where the node's load sample comes from (`ebpf`, `psi`, `procfs`).
    pub load_source: String,
    /// p99 of the run-queue latency at the end of the point, µs (eBPF only).
    pub runq_latency_p99_us: Option<f64>,
    /// Learner ε at the end of the point.
    pub epsilon: Option<f64>,
}

/// The scheduler a scrape names.
pub fn scheduler(s: &Scrape) -> String {
    s.label("p2pfaas_scheduler_info", "name")
        .unwrap_or_default()
}

impl NodePoint {
    /// The differences between `before` and `after` for node `node` at this point.
    pub fn between(
        node: &str,
        (scheduler, seed, rho): (&str, u64, f64),
        before: &Scrape,
        after: &Scrape,
    ) -> Self {
        let delta = |name: &str, filter: &str| {
            let d = after.sum(name, filter) - before.sum(name, filter);
            // A counter that went down means the node restarted: report what it has now.
            if d < 0.0 { after.sum(name, filter) } else { d }.round() as u64
        };
        let outcome = |o: &str| delta("p2pfaas_invocations_total", &format!("outcome=\"{o}\""));
        Self {
            node: node.to_owned(),
            scheduler: scheduler.to_owned(),
            seed,
            rho,
            scheduler_before: self::scheduler(before),
            scheduler_after: self::scheduler(after),
            ok: outcome("ok"),
            overloaded: outcome("overloaded"),
            rejected: outcome("rejected"),
            errors: outcome("timeout") + outcome("function_error"),
            forwarded_out: delta("p2pfaas_forwarded_total", ""),
            peer_jobs_in: delta("p2pfaas_peer_jobs_total", ""),
            fallbacks: delta("p2pfaas_forward_failures_total", ""),
            auth_failures: delta("p2pfaas_auth_failures_total", ""),
            cpu_utilisation: after.gauge("p2pfaas_load_cpu_utilisation"),
            load_source: after
                .label("p2pfaas_load_source_info", "source")
                .unwrap_or_else(|| "?".to_owned()),
            runq_latency_p99_us: after
                .gauge("p2pfaas_load_runq_latency_p99_seconds")
                .map(|s| s * 1e6),
            epsilon: after.gauge("p2pfaas_learner_epsilon"),
        }
    }
}

/// The per-node table in markdown.
pub fn markdown(points: &[NodePoint]) -> String {
    let mut out = String::from(
        "| scheduler | seed | ρ | node | scheduler on node | ok | 429 | 503 | errors | forwarded out | peer jobs in | fallbacks | auth failures | CPU | load | run-queue p99 µs | ε |\n\
         |---|--:|--:|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|\n",
    );
    let opt = |v: Option<f64>, scale: f64, digits: usize| {
        v.map_or_else(|| "–".to_owned(), |v| format!("{:.digits$}", v * scale))
    };
    for p in points {
        let on_node = if p.scheduler_before == p.scheduler_after {
            p.scheduler_before.clone()
        } else {
            format!("{} → {}", p.scheduler_before, p.scheduler_after)
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {on_node} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            p.scheduler,
            p.seed,
            p.rho,
            p.node,
            p.ok,
            p.overloaded,
            p.rejected,
            p.errors,
            p.forwarded_out,
            p.peer_jobs_in,
            p.fallbacks,
            p.auth_failures,
            opt(p.cpu_utilisation, 100.0, 0) + if p.cpu_utilisation.is_some() { "%" } else { "" },
            p.load_source,
            opt(p.runq_latency_p99_us, 1.0, 0),
            opt(p.epsilon, 1.0, 3),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "\
# HELP p2pfaas_invocations_total Function invocations by outcome.
# TYPE p2pfaas_invocations_total counter
p2pfaas_invocations_total{function=\"work\",outcome=\"ok\"} 10
p2pfaas_invocations_total{function=\"work\",outcome=\"overloaded\"} 2
p2pfaas_invocations_total{function=\"echo\",outcome=\"ok\"} 5
p2pfaas_forwarded_total 3
p2pfaas_scheduler_info{name=\"NoScheduler(true)\"} 1
p2pfaas_load_source_info{source=\"psi\",reason=\"no \\\"bpf\\\" rights\"} 1
";

    const AFTER: &str = "\
p2pfaas_invocations_total{function=\"work\",outcome=\"ok\"} 40
p2pfaas_invocations_total{function=\"work\",outcome=\"overloaded\"} 7
p2pfaas_invocations_total{function=\"work\",outcome=\"timeout\"} 1
p2pfaas_invocations_total{function=\"echo\",outcome=\"ok\"} 6
p2pfaas_forwarded_total 9
p2pfaas_peer_jobs_total 4
p2pfaas_scheduler_info{name=\"PowerOfNScheduler(1, 1, true, 1)\"} 1
p2pfaas_load_source_info{source=\"psi\",reason=\"no \\\"bpf\\\" rights\"} 1
p2pfaas_load_cpu_utilisation 0.25
p2pfaas_learner_epsilon 0.1
";

    #[test]
    fn differences_sum_functions_and_read_labels() {
        let (b, a) = (Scrape::parse(BEFORE), Scrape::parse(AFTER));
        assert_eq!(
            a.label("p2pfaas_load_source_info", "reason").as_deref(),
            Some("no \"bpf\" rights")
        );
        let p = NodePoint::between("n0", ("X", 1, 0.5), &b, &a);
        assert_eq!((p.ok, p.overloaded, p.rejected, p.errors), (31, 5, 0, 1));
        assert_eq!((p.forwarded_out, p.peer_jobs_in, p.fallbacks), (6, 4, 0));
        assert_eq!(p.scheduler_before, "NoScheduler(true)");
        assert_eq!(p.scheduler_after, "PowerOfNScheduler(1, 1, true, 1)");
        assert_eq!(p.load_source, "psi");
        assert_eq!(p.cpu_utilisation, Some(0.25));
        assert_eq!(p.runq_latency_p99_us, None);
        assert_eq!(p.epsilon, Some(0.1));
        let table = markdown(&[p]);
        assert!(
            table.contains("| NoScheduler(true) → PowerOfNScheduler(1, 1, true, 1) | 31 | 5 |"),
            "{table}"
        );
        assert!(table.contains("| 25% | psi | – | 0.100 |"), "{table}");
    }

    #[test]
    fn a_restarted_node_reports_what_it_has() {
        let p = NodePoint::between(
            "n",
            ("X", 1, 1.0),
            &Scrape::parse(AFTER),
            &Scrape::parse(BEFORE),
        );
        assert_eq!(p.ok, 15);
    }
}
