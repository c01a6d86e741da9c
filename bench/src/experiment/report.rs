//! What an experiment produces: one [`Row`] per (scheduler, seed, ρ) point, the [`Report`] around them
//! with provenance (commit, machine, date, the spec), and its renderings (JSON, CSV, markdown). Live runs
//! and the simulator fill the same types, so the two can be compared field by field.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::spec::Spec;
use crate::load::record::{Record, percentile};
use crate::theory;

pub mod curve;
mod nodes;

pub use curve::CurvePoint;
pub use nodes::NodeRow;

/// Version of the report's JSON; bump when a field changes meaning.
pub const SCHEMA: &str = "p2pfaas-bench-experiment/1";

/// A whole experiment's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: String,
    /// `live` (real nodes) or `simulated`.
    pub mode: String,
    /// `git describe --always --dirty` of the tree that ran it, or `unknown`.
    pub commit: String,
    /// Host name, kernel and CPU count.
    pub machine: String,
    /// UTC, RFC 3339.
    pub date: String,
    /// The spec as run (defaults filled in).
    pub spec: Spec,
    /// One row per (scheduler, seed, ρ), in run order.
    pub rows: Vec<Row>,
}

/// The measured figures of one point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// `Name(p1, p2)`.
    pub scheduler: String,
    /// Seed of this replication.
    pub seed: u64,
    /// Sweep point: offered load per unit of weight.
    pub rho: f64,
    /// Intended λ per node, requests per second.
    pub lambda: Vec<f64>,
    /// Requests counted (sent after the warm-up).
    pub sent: u64,
    /// Answered with 2xx.
    pub ok: u64,
    /// Refused (429 or 503).
    pub rejected: u64,
    /// No answer within the timeout, or a network error, or another status.
    pub failed: u64,
    /// rejected / answered.
    pub reject_rate: f64,
    /// 2xx answers per second of counted arrivals (the cluster's goodput).
    #[serde(default)]
    pub throughput: f64,
    /// Share of requests with a deadline that got a 2xx within it (rejects and failures count as
    /// missed); `None` when no class has a deadline.
    pub deadline_met: Option<f64>,
    /// Latency percentiles of 2xx answers, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Mean latency of 2xx answers, ms.
    pub mean_ms: f64,
    /// Mean time the function ran, as the executors reported it (`X-P2pfaas-Timing-Execution-Time-
    /// Seconds`), ms: the service time the queueing models need. `None` when no answer carried it.
    #[serde(default)]
    pub service_ms: Option<f64>,
    /// Share of 2xx answers run by another node than the one called (hops ≥ 1).
    pub forwarded: f64,
    /// p99 of the generator's send-time error, µs (live runs; 0 when simulated).
    pub send_error_p99_us: f64,
    /// Where each node's load measure came from (`ebpf`, `psi`, `procfs`; `simulated`).
    pub load_sources: Vec<String>,
    /// Queueing theory for this point, single-node experiments only.
    pub theory: Option<Theory>,
    /// Half-width of the 95% confidence interval of `reject_rate` (simulated: batch means).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reject_rate_ci95: Option<f64>,
    /// Half-width of the 95% confidence interval of `deadline_met`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_met_ci95: Option<f64>,
    /// Half-width of the 95% confidence interval of `mean_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_ms_ci95: Option<f64>,
    /// Counted requests by fallback reason (`X-P2pfaas-Scheduler-Fallback`: why the job did not go
    /// where the scheduler chose, e.g. `peer_refused`, `peer_failed`, `no_peer`); live and simulated
    /// runs give the same reasons.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fallbacks: BTreeMap<String, u64>,
    /// One entry per node (`n0`…): its λ, the outcome of the requests called there, the work it ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeRow>,
    /// Deadline outcomes over time in [`curve::SPANS`] spans, warm-up included (requests with a
    /// deadline only; empty without deadlines): the learning curve.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curve: Vec<CurvePoint>,
}

/// The single-node model's blocking next to the measured value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Theory {
    /// Offered load a = λ/μ with the spec's μ, Erlangs.
    pub a: f64,
    /// Blocking of M/M/K/K+Q at `a` (Erlang-B when Q = 0).
    pub blocking: f64,
    /// Offered load with the service time the node really held a slot for: measured arrival rate ×
    /// mean execution time the node reported (else mean latency of admitted jobs); equals `a` for an
    /// ideal node.
    pub a_effective: f64,
    /// Blocking at `a_effective`.
    pub blocking_effective: f64,
}

/// Folds one point's request records into a [`Row`].
pub struct Accumulator {
    warmup_ns: u128,
    deadlines: Vec<Option<f64>>,
    sent: u64,
    ok: u64,
    rejected: u64,
    failed: u64,
    with_deadline: u64,
    met: u64,
    forwarded: u64,
    latencies_ns: Vec<i64>,
    send_errors_ns: Vec<i64>,
    service_ns: f64,
    service_n: u64,
    first_ns: u128,
    last_ns: u128,
    fallbacks: BTreeMap<Cow<'static, str>, u64>,
    nodes: Vec<nodes::NodeAcc>,
    /// (arrival ns, outcome) of every request with a deadline, warm-up included.
    outcomes: Vec<(u64, u8)>,
}

impl Accumulator {
    /// Records intended before `warmup_s` are ignored; `deadlines` is per class.
    pub fn new(warmup_s: f64, deadlines: Vec<Option<f64>>) -> Self {
        Self {
            warmup_ns: (warmup_s * 1e9) as u128,
            deadlines,
            sent: 0,
            ok: 0,
            rejected: 0,
            failed: 0,
            with_deadline: 0,
            met: 0,
            forwarded: 0,
            latencies_ns: Vec::new(),
            send_errors_ns: Vec::new(),
            service_ns: 0.0,
            service_n: 0,
            first_ns: u128::MAX,
            last_ns: 0,
            fallbacks: BTreeMap::new(),
            nodes: Vec::new(),
            outcomes: Vec::new(),
        }
    }

    /// Adds one request; its executor is read from `r.executor` (`n<i>`, the runner's names).
    pub fn add(&mut self, r: &Record) {
        self.add_ran_on(r, nodes::executor(r));
    }

    /// Adds one request that ran (when answered) on node `ran_on`.
    pub fn add_ran_on(&mut self, r: &Record, ran_on: Option<usize>) {
        let at = r.intended.as_nanos();
        let ok = (200..300).contains(&r.status);
        if let Some(Some(deadline_ms)) = self.deadlines.get(usize::from(r.class)) {
            let code = if ok && r.latency.as_nanos() as f64 <= deadline_ms * 1e6 {
                curve::MET
            } else if r.is_rejected() {
                curve::REJECTED
            } else {
                curve::MISSED
            };
            self.outcomes
                .push((u64::try_from(at).unwrap_or(u64::MAX), code));
        }
        if at < self.warmup_ns {
            return;
        }
        self.first_ns = self.first_ns.min(at);
        self.last_ns = self.last_ns.max(at);
        self.sent += 1;
        self.send_errors_ns.push(r.send_error_ns);
        if let Some(reason) = &r.fallback {
            // A new key only allocates the first time a reason is seen.
            match self.fallbacks.get_mut(reason.as_ref()) {
                Some(n) => *n += 1,
                None => {
                    self.fallbacks.insert(reason.clone(), 1);
                }
            }
        }
        let latency_ns = i64::try_from(r.latency.as_nanos()).unwrap_or(i64::MAX);
        if ok {
            self.ok += 1;
            self.latencies_ns.push(latency_ns);
            if let Some(e) = r.execution {
                self.service_ns += e.as_nanos() as f64;
                self.service_n += 1;
            }
            if r.hops.unwrap_or(0) > 0 {
                self.forwarded += 1;
            }
        } else if r.is_rejected() {
            self.rejected += 1;
        } else {
            self.failed += 1;
        }
        let met = match self.deadlines.get(usize::from(r.class)) {
            Some(Some(deadline_ms)) => Some(ok && (latency_ns as f64) <= deadline_ms * 1e6),
            _ => None,
        };
        if let Some(met) = met {
            self.with_deadline += 1;
            self.met += u64::from(met);
        }
        nodes::add(&mut self.nodes, r, ok, met, ran_on);
    }

    /// The row for this point; `theory_for` gives the single-node model (K, Q, μ) when it applies.
    pub fn finish(
        mut self,
        scheduler: String,
        seed: u64,
        rho: f64,
        lambda: Vec<f64>,
        model: Option<(u32, u32, f64)>,
    ) -> Row {
        self.latencies_ns.sort_unstable();
        self.send_errors_ns.sort_unstable();
        let ms = |ns: i64| ns as f64 / 1e6;
        let l = &self.latencies_ns;
        let answered = self.ok + self.rejected;
        let share = |n: u64, of: u64| if of == 0 { 0.0 } else { n as f64 / of as f64 };
        let mean_ms = if l.is_empty() {
            0.0
        } else {
            l.iter().map(|&v| v as f64).sum::<f64>() / l.len() as f64 / 1e6
        };
        let service_ms =
            (self.service_n > 0).then(|| self.service_ns / self.service_n as f64 / 1e6);
        // From the first to the last counted arrival.
        let span_s = (self.last_ns.saturating_sub(self.first_ns)) as f64 / 1e9;
        let throughput = if span_s > 0.0 {
            self.ok as f64 / span_s
        } else {
            0.0
        };
        let theory = model.and_then(|(k, q, mu)| {
            let lambda_total: f64 = lambda.iter().sum();
            let measured_lambda = if span_s > 0.0 && self.sent > 1 {
                (self.sent - 1) as f64 / span_s
            } else {
                lambda_total
            };
            // The node's own report of how long jobs ran; else the latency of admitted jobs, which
            // also counts the round trip (and any queueing, so only meaningful without a queue).
            let a_effective = measured_lambda * service_ms.unwrap_or(mean_ms) / 1e3;
            let blocking = theory::mmkq(lambda_total, mu, k, q).ok()?.blocking;
            let blocking_effective = if a_effective > 0.0 {
                theory::mmkq(a_effective, 1.0, k, q).ok()?.blocking
            } else {
                0.0
            };
            Some(Theory {
                a: lambda_total / mu,
                blocking,
                a_effective,
                blocking_effective,
            })
        });
        let nodes = nodes::finish(std::mem::take(&mut self.nodes), &lambda);
        let curve = curve::spans(&self.outcomes);
        Row {
            scheduler,
            seed,
            rho,
            nodes,
            curve,
            lambda,
            sent: self.sent,
            ok: self.ok,
            rejected: self.rejected,
            failed: self.failed,
            reject_rate: share(self.rejected, answered),
            throughput,
            deadline_met: (self.with_deadline > 0).then(|| share(self.met, self.with_deadline)),
            p50_ms: ms(percentile(l, 50.0)),
            p95_ms: ms(percentile(l, 95.0)),
            p99_ms: ms(percentile(l, 99.0)),
            mean_ms,
            service_ms,
            forwarded: share(self.forwarded, self.ok),
            send_error_p99_us: percentile(&self.send_errors_ns, 99.0) as f64 / 1e3,
            load_sources: Vec::new(),
            theory,
            reject_rate_ci95: None,
            deadline_met_ci95: None,
            mean_ms_ci95: None,
            fallbacks: self
                .fallbacks
                .into_iter()
                .map(|(k, v)| (k.into_owned(), v))
                .collect(),
        }
    }
}

/// The CSV header of [`Report::csv`].
pub const CSV_HEADER: &str = "scheduler,seed,rho,lambda_total,sent,ok,rejected,failed,reject_rate,\
throughput,deadline_met,p50_ms,p95_ms,p99_ms,mean_ms,service_ms,forwarded,send_error_p99_us,theory_blocking,theory_blocking_effective";

impl Report {
    /// One line per row, [`CSV_HEADER`] first.
    pub fn csv(&self) -> String {
        let mut out = format!("{CSV_HEADER}\n");
        let opt = |v: Option<f64>| v.map(|v| format!("{v:.5}")).unwrap_or_default();
        for r in &self.rows {
            let _ = writeln!(
                out,
                "{},{},{},{:.3},{},{},{},{},{:.5},{:.3},{},{:.3},{:.3},{:.3},{:.3},{},{:.4},{:.1},{},{}",
                r.scheduler.replace(',', ";"),
                r.seed,
                r.rho,
                r.lambda.iter().sum::<f64>(),
                r.sent,
                r.ok,
                r.rejected,
                r.failed,
                r.reject_rate,
                r.throughput,
                opt(r.deadline_met),
                r.p50_ms,
                r.p95_ms,
                r.p99_ms,
                r.mean_ms,
                opt(r.service_ms),
                r.forwarded,
                r.send_error_p99_us,
                opt(r.theory.as_ref().map(|t| t.blocking)),
                opt(r.theory.as_ref().map(|t| t.blocking_effective)),
            );
        }
        out
    }

    /// The results table in markdown, with provenance on top.
    pub fn markdown(&self) -> String {
        let s = &self.spec;
        let mut out = format!(
            "# {} ({})\n\n{}\n\ncommit `{}` · {} · {}\n\n",
            s.name, self.mode, s.description, self.commit, self.machine, self.date
        );
        let theory = self.rows.iter().any(|r| r.theory.is_some());
        let deadlines = self.rows.iter().any(|r| r.deadline_met.is_some());
        // A live row is trustworthy only when its generator sent on time (a starved load generator
        // shows here, not in the results); a simulation has no send error.
        let sends = self.mode != "simulated";
        out.push_str("| scheduler | ρ | seed | λ/s | sent | reject | ok/s | ");
        if theory {
            out.push_str("Erlang-B/M/M/K/K+Q | at measured a | ");
        }
        if deadlines {
            out.push_str("deadline met | ");
        }
        out.push_str("forwarded | p50 ms | p95 ms | p99 ms | failed | load |");
        if sends {
            out.push_str(" send error p99 µs |");
        }
        out.push_str("\n|---|---|---|---|---|---|---|");
        if theory {
            out.push_str("---|---|");
        }
        if deadlines {
            out.push_str("---|");
        }
        out.push_str("---|---|---|---|---|---|");
        if sends {
            out.push_str("---|");
        }
        out.push('\n');
        for r in &self.rows {
            let _ = write!(
                out,
                "| {} | {} | {} | {:.1} | {} | {:.4}{} | {:.1} | ",
                r.scheduler,
                r.rho,
                r.seed,
                r.lambda.iter().sum::<f64>(),
                r.sent,
                r.reject_rate,
                r.reject_rate_ci95
                    .map(|ci| format!(" ± {ci:.4}"))
                    .unwrap_or_default(),
                r.throughput
            );
            if theory {
                match &r.theory {
                    Some(t) => {
                        let _ = write!(out, "{:.4} | {:.4} | ", t.blocking, t.blocking_effective);
                    }
                    None => out.push_str("– | – | "),
                }
            }
            if deadlines {
                match r.deadline_met {
                    Some(d) => {
                        let _ = write!(out, "{d:.3} | ");
                    }
                    None => out.push_str("– | "),
                }
            }
            let _ = write!(
                out,
                "{:.0}% | {:.1} | {:.1} | {:.1} | {} | {} |",
                r.forwarded * 100.0,
                r.p50_ms,
                r.p95_ms,
                r.p99_ms,
                r.failed,
                sources(&r.load_sources)
            );
            if sends {
                let _ = write!(out, " {:.0} |", r.send_error_p99_us);
            }
            out.push('\n');
        }
        if self.rows.iter().any(|r| !r.fallbacks.is_empty()) {
            // Why jobs did not go where the scheduler chose (`X-P2pfaas-Scheduler-Fallback`).
            out.push_str(
                "
| scheduler | ρ | seed | fallbacks |
|---|---|---|---|
",
            );
            for r in self.rows.iter().filter(|r| !r.fallbacks.is_empty()) {
                let list: Vec<String> = r
                    .fallbacks
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect();
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    r.scheduler,
                    r.rho,
                    r.seed,
                    list.join(", ")
                );
            }
        }
        nodes::markdown(&self.rows, &mut out);
        out
    }
}

/// `ebpf ×3` for three nodes with the same source, else the list.
fn sources(list: &[String]) -> String {
    match list {
        [] => "–".to_owned(),
        [first, rest @ ..] if rest.iter().all(|s| s == first) => {
            if list.len() == 1 {
                first.clone()
            } else {
                format!("{first} ×{}", list.len())
            }
        }
        _ => list.join(" "),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn record(at_ms: u64, status: u16, latency_ms: u64, hops: Option<u16>, class: u16) -> Record {
        let ok = status == 200;
        Record {
            target: 0,
            seq: at_ms,
            intended: Duration::from_millis(at_ms),
            send_error_ns: 1000,
            status,
            latency: Duration::from_millis(latency_ms),
            reject_reason: None,
            hops,
            executor: "n0".into(),
            error: None,
            class,
            // The node reports a little less than the client sees.
            execution: ok.then(|| Duration::from_millis(latency_ms) - Duration::from_micros(100)),
            queue: None,
            fallback: None,
            job_id: None,
        }
    }

    #[test]
    fn accumulator_skips_warmup_and_judges_deadlines_per_class() {
        let mut acc = Accumulator::new(1.0, vec![Some(50.0), None]);
        acc.add(&record(500, 429, 1, None, 0)); // warm-up: ignored
        acc.add(&record(1000, 200, 40, None, 0)); // met
        acc.add(&record(1100, 200, 60, Some(1), 0)); // late
        acc.add(&record(1200, 429, 1, None, 0)); // rejected: missed
        acc.add(&record(1300, 200, 500, None, 1)); // no deadline
        acc.add(&record(1400, 0, 0, None, 1)); // failed
        let row = acc.finish("X()".into(), 1, 0.5, vec![10.0], None);
        assert_eq!((row.sent, row.ok, row.rejected, row.failed), (5, 3, 1, 1));
        assert!((row.reject_rate - 0.25).abs() < 1e-12);
        assert_eq!(row.deadline_met, Some(1.0 / 3.0));
        assert!((row.forwarded - 1.0 / 3.0).abs() < 1e-12);
        assert!((row.p50_ms - 60.0).abs() < 1e-9, "{}", row.p50_ms);
        assert!(row.theory.is_none());
    }

    #[test]
    fn the_per_node_table_follows_each_request_to_where_it_ran() {
        let mut acc = Accumulator::new(0.0, vec![Some(50.0)]);
        let at = |target: u16, status: u16, hops: Option<u16>, executor: &str, ms: u64| Record {
            target,
            executor: executor.into(),
            ..record(0, status, ms, hops, 0)
        };
        acc.add(&at(0, 200, None, "n0", 10)); // n0 ran its own, met
        acc.add(&at(0, 200, Some(1), "n2", 80)); // n0 → n2, late
        acc.add(&at(0, 429, None, "", 1)); // refused at n0
        acc.add(&at(1, 200, Some(1), "n2", 30)); // n1 → n2, met
        acc.add(&at(2, 200, None, "", 20)); // no name, no hop: ran where called
        let row = acc.finish("X()".into(), 1, 0.5, vec![4.0, 2.0, 1.0], None);
        let n = &row.nodes;
        assert_eq!(n.len(), 3);
        assert_eq!(
            (n[0].sent, n[0].ok, n[0].rejected, n[0].forwarded_out),
            (3, 2, 1, 1)
        );
        assert_eq!((n[0].executed, n[0].forwarded_in), (1, 0));
        assert_eq!(n[0].deadline_met, Some(1.0 / 3.0));
        assert_eq!((n[2].executed, n[2].forwarded_in), (3, 2));
        // Execution is what the executor reports: 0.1 ms below the latency.
        let e = n[2].execution_ms.expect("ran");
        assert!((e - (80.0 + 30.0 + 20.0 - 0.3) / 3.0).abs() < 1e-9, "{e}");
        assert_eq!(
            (n[1].lambda, n[1].forwarded_out, n[1].executed),
            (2.0, 1, 0)
        );
        assert_eq!(n[1].execution_ms, None);
        let report = Report {
            schema: SCHEMA.into(),
            mode: "test".into(),
            commit: "c".into(),
            machine: "m".into(),
            date: "d".into(),
            spec: Spec::parse(
                "name = \"t\"\n[cluster]\nnodes = 3\nslots = 1\n[function]\nbuiltin = \"sleep\"\n\
                 mean_ms = 1\n[traffic]\nrho = [0.5]\nduration_s = 1\n[[scheduler]]\nname = \"X\"",
            )
            .expect("spec"),
            rows: vec![row],
        };
        let md = report.markdown();
        assert!(md.contains("## Per node"), "{md}");
        // A live report shows whether its generator sent on time; a simulated one has no such column.
        assert!(md.contains("| load | send error p99 µs |\n"), "{md}");
        let simulated = Report {
            mode: "simulated".into(),
            ..report.clone()
        };
        assert!(!simulated.markdown().contains("send error"));
        assert!(
            md.contains("| X() | 0.5 | 1 | n0 | 4.0 | 3 | 2 | 1 | 1 | 0 | 1 | 0.333 | 9.90 |"),
            "{md}"
        );
        assert!(
            md.contains("| X() | 0.5 | 1 | n2 | 1.0 | 1 | 1 | 0 | 0 | 2 | 3 | 1.000 | 43.23 |"),
            "{md}"
        );
        let json = serde_json::to_string(&report).expect("json");
        let back: Report = serde_json::from_str(&json).expect("back");
        assert_eq!(back.rows[0].nodes, report.rows[0].nodes);
    }

    #[test]
    fn theory_uses_a_over_mu_and_the_measured_holding_time() {
        let mut acc = Accumulator::new(0.0, vec![None]);
        // 101 arrivals 10 ms apart: 100/s; admitted jobs held 20 ms.
        for i in 0..=100 {
            acc.add(&record(i * 10, 200, 20, None, 0));
        }
        // λ = 100/s, μ = 50/s: a = 2 Erlangs on K = 4.
        let row = acc.finish(
            "NoScheduler(true)".into(),
            1,
            0.5,
            vec![100.0],
            Some((4, 0, 50.0)),
        );
        let t = row.theory.expect("single node");
        assert!((t.a - 2.0).abs() < 1e-12);
        let b = theory::erlang_b(2.0, 4).expect("valid");
        assert!((t.blocking - b).abs() < 1e-12);
        // Held 19.9 ms as the node reports it, at 100/s: a = 1.99.
        assert!((t.a_effective - 1.99).abs() < 1e-9, "{}", t.a_effective);
        assert_eq!(row.service_ms, Some(19.9));
        let b_eff = theory::erlang_b(1.99, 4).expect("valid");
        assert!((t.blocking_effective - b_eff).abs() < 1e-9);
    }
}
