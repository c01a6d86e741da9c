//! Per-request accounting of one scenario ([`Tally`]), its row with the verdict ([`Row`]), and the
//! suite's report (markdown table and JSON). No I/O beyond [`Report::write`].

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::Serialize;

use super::{Error, Spec};
use crate::load::record::{Record, percentile};

/// Counts of one scenario's requests, as they arrive from the load generator.
#[derive(Debug, Default)]
pub struct Tally {
    seen: HashSet<(u16, u64)>,
    /// Highest sequence number per target: every number below it was sent and must have a record.
    last_seq: BTreeMap<u16, u64>,
    sent: u64,
    ok: u64,
    rejected: u64,
    errors: u64,
    lost: u64,
    hung: u64,
    duplicates: u64,
    /// Answers that met the forward timeout: a 504 `forward_timeout`/`forward_lost`, or a local run
    /// after the peer answered the cancel with "not run" (fallback `peer_timeout`).
    forward_timeouts: u64,
    /// Rejected or failed answers without `X-P2pfaas-Reject-Reason` and a JSON body's worth of reason.
    unexplained: u64,
    latencies_ns: Vec<i64>,
    statuses: BTreeMap<String, u64>,
}

impl Tally {
    /// Adds one record.
    pub fn add(&mut self, r: &Record) {
        if !self.seen.insert((r.target, r.seq)) {
            self.duplicates += 1;
            return;
        }
        let last = self.last_seq.entry(r.target).or_insert(0);
        *last = (*last).max(r.seq);
        self.sent += 1;
        let key = match r.error {
            Some(e) => e.to_owned(),
            None => r.status.to_string(),
        };
        *self.statuses.entry(key).or_default() += 1;
        let timed_out = matches!(
            r.reject_reason.as_deref(),
            Some("forward_timeout" | "forward_lost")
        ) || r.fallback.as_deref() == Some("peer_timeout");
        self.forward_timeouts += u64::from(timed_out);
        match (r.status, r.error) {
            (0, Some("timeout")) => self.hung += 1,
            // The connection was closed (or broke) with the request on it and no answer.
            (0, Some("read" | "bad_response" | "write")) => self.lost += 1,
            // The client could not send (no connection): an error, but not the node's silence.
            (0, _) => self.errors += 1,
            (s, _) => {
                self.latencies_ns
                    .push(i64::try_from(r.latency.as_nanos()).unwrap_or(i64::MAX));
                if (200..300).contains(&s) {
                    self.ok += 1;
                } else if r.is_rejected() {
                    self.rejected += 1;
                } else {
                    self.errors += 1;
                }
                if s >= 400 && r.reject_reason.is_none() && s != 413 {
                    self.unexplained += 1;
                }
            }
        }
    }

    /// Requests with a sequence number below a target's highest that never produced a record.
    fn missing(&self) -> u64 {
        self.last_seq
            .iter()
            .map(|(&t, &last)| {
                let have = self.seen.iter().filter(|(tt, _)| *tt == t).count() as u64;
                (last + 1).saturating_sub(have)
            })
            .sum()
    }
}

/// What a scenario allows and expects, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Allowance {
    /// Lost requests allowed.
    pub lost: u64,
    /// Hung requests allowed: always 0 (a timeout beyond the configured bound is never acceptable).
    pub hung: u64,
    /// Whether some requests must succeed (false when the fault makes every call fail).
    pub needs_ok: bool,
    /// The reasoning, for the report.
    pub why: &'static str,
}

/// What the scenario's counting function saw, across every node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Executions {
    /// Executions started.
    pub total: u64,
    /// Executions beyond the first of a job id (must be 0: at most once).
    pub duplicates: u64,
    /// Executions without a job id (must be 0: every node sends one).
    pub without_id: u64,
}

/// One scenario's result.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Scenario name.
    pub scenario: String,
    /// What was done.
    pub fault: String,
    /// Requests sent (records received, duplicates excluded).
    pub sent: u64,
    /// 2xx answers.
    pub ok: u64,
    /// 429/503 answers.
    pub rejected: u64,
    /// Other answers (502, 504, …) and requests the client could not send.
    pub errors: u64,
    /// Closed without an answer, or never accounted for.
    pub lost: u64,
    /// No answer within the client timeout.
    pub hung: u64,
    /// Requests answered twice (must be 0).
    pub duplicates: u64,
    /// Seconds of traffic.
    pub seconds: f64,
    /// Requests that met the forward timeout (504 `forward_timeout`/`forward_lost`, or run at the
    /// origin after the peer's "not run").
    pub forward_timeouts: u64,
    /// Jobs executed more than once anywhere in the cluster (executions beyond the first), where the
    /// scenario's function counts (`null` where it cannot: the function is the fault).
    pub duplicate_executions: Option<u64>,
    /// The counting function's totals, where it counts.
    pub executions: Option<Executions>,
    /// 4xx/5xx answers without `X-P2pfaas-Reject-Reason`.
    pub unexplained: u64,
    /// p99 latency of answered requests, ms.
    pub p99_ms: f64,
    /// Slowest answer, ms.
    pub max_ms: f64,
    /// Answers by status (or client error), e.g. `{"200": 90, "502": 3}`.
    pub statuses: BTreeMap<String, u64>,
    /// What was allowed.
    pub allowed: Allowance,
    /// Checks specific to the scenario that failed (empty when they passed), and other findings.
    pub findings: Vec<String>,
    /// The scenario's own checks passed and lost/hung are within the allowance.
    pub passed: bool,
}

impl Row {
    /// Closes a scenario: totals, percentiles and the verdict.
    pub fn new(
        scenario: String,
        fault: String,
        tally: Tally,
        allowed: Allowance,
        mut findings: Vec<String>,
    ) -> Self {
        let missing = tally.missing();
        let mut latencies = tally.latencies_ns;
        latencies.sort_unstable();
        let ms = |ns: i64| ns as f64 / 1e6;
        let lost = tally.lost + missing;
        if missing > 0 {
            findings.push(format!("{missing} requests sent but never accounted for"));
        }
        if tally.duplicates > 0 {
            findings.push(format!("{} requests answered twice", tally.duplicates));
        }
        if allowed.needs_ok && tally.ok == 0 {
            findings.push("no request succeeded".to_owned());
        }
        let passed = findings.is_empty() && lost <= allowed.lost && tally.hung <= allowed.hung;
        Self {
            scenario,
            fault,
            sent: tally.sent,
            ok: tally.ok,
            rejected: tally.rejected,
            errors: tally.errors,
            lost,
            hung: tally.hung,
            duplicates: tally.duplicates,
            seconds: 0.0,
            forward_timeouts: tally.forward_timeouts,
            duplicate_executions: None,
            executions: None,
            unexplained: tally.unexplained,
            p99_ms: ms(percentile(&latencies, 99.0)),
            max_ms: ms(latencies.last().copied().unwrap_or(0)),
            statuses: tally.statuses,
            allowed,
            findings,
            passed,
        }
    }

    /// Adds what the counting function saw (where it counts): a job executed twice, or an
    /// execution without an id, fails the row.
    pub fn count_executions(&mut self, executions: Option<Executions>) {
        self.executions = executions;
        self.duplicate_executions = executions.map(|e| e.duplicates);
        let Some(e) = executions else {
            return;
        };
        if e.duplicates > 0 {
            self.findings
                .push(format!("{} duplicate executions", e.duplicates));
            self.passed = false;
        }
        if e.without_id > 0 {
            self.findings
                .push(format!("{} executions without a job id", e.without_id));
            self.passed = false;
        }
    }

    /// One progress line.
    pub fn line(&self) -> String {
        format!(
            "{:<12} {} sent {} ok {} rejected {} errors {} lost {} hung {} fwd-timeouts {} \
             dup-exec {} p99 {:.1} ms {:?}{}",
            self.scenario,
            if self.passed { "PASS" } else { "FAIL" },
            self.sent,
            self.ok,
            self.rejected,
            self.errors,
            self.lost,
            self.hung,
            self.forward_timeouts,
            dup(self.duplicate_executions),
            self.p99_ms,
            self.statuses,
            if self.findings.is_empty() {
                String::new()
            } else {
                format!(" — {}", self.findings.join("; "))
            }
        )
    }
}

/// A duplicate-execution count, or `–` where the function cannot count.
fn dup(n: Option<u64>) -> String {
    n.map_or_else(|| "–".to_owned(), |n| n.to_string())
}

/// The suite's results with their provenance.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Schema of this JSON.
    pub schema: &'static str,
    /// `git describe` of the working directory.
    pub commit: String,
    /// Host, kernel, CPUs.
    pub machine: String,
    /// UTC.
    pub date: String,
    /// What ran.
    pub spec: Spec,
    /// One per scenario, in order.
    pub rows: Vec<Row>,
}

impl Report {
    /// A report of `rows`, stamped now.
    pub fn new(spec: Spec, rows: Vec<Row>) -> Self {
        Self {
            schema: "p2pfaas-bench-chaos/2",
            commit: crate::experiment::commit(),
            machine: crate::experiment::machine(),
            date: crate::experiment::utc_now(),
            spec,
            rows,
        }
    }

    /// Every scenario passed.
    pub fn passed(&self) -> bool {
        self.rows.iter().all(|r| r.passed)
    }

    /// The fault table.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "# Fault suite\n\n{} · {} · {} · at least {} s and {} requests per scenario, {:?}\n\n\
             | scenario | fault | s | sent | ok | rejected | errors | lost | hung | fwd timeouts | dup exec | p99 ms | max ms | verdict |\n\
             |---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n",
            self.date,
            self.commit,
            self.machine,
            self.spec.seconds,
            self.spec.min_requests,
            self.spec.network
        );
        for r in &self.rows {
            out.push_str(&format!(
                "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {} |\n",
                r.scenario,
                r.fault,
                r.seconds,
                r.sent,
                r.ok,
                r.rejected,
                r.errors,
                r.lost,
                r.hung,
                r.forward_timeouts,
                dup(r.duplicate_executions),
                r.p99_ms,
                r.max_ms,
                if r.passed { "pass" } else { "**FAIL**" }
            ));
        }
        out.push_str("\nAllowed (lost / hung) and why:\n\n");
        for r in &self.rows {
            out.push_str(&format!(
                "- {}: {} / {} — {} Answers: {:?}.{}\n",
                r.scenario,
                r.allowed.lost,
                r.allowed.hung,
                r.allowed.why,
                r.statuses,
                if r.findings.is_empty() {
                    String::new()
                } else {
                    format!(" Findings: {}.", r.findings.join("; "))
                }
            ));
        }
        out
    }

    /// The suite on one self-contained page: the table and the allowances, then the spec as run.
    pub fn html(&self) -> String {
        let mut page = crate::experiment::html::Page::new("Fault suite");
        page.markdown(&self.markdown());
        page.section("Spec as run");
        page.pre(&serde_json::to_string_pretty(&self.spec).unwrap_or_default());
        page.finish()
    }

    /// Writes `chaos.md`, `chaos.json` and `report.html` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), Error> {
        let files = [
            ("chaos.md".to_owned(), self.markdown()),
            ("report.html".to_owned(), self.html()),
            (
                "chaos.json".to_owned(),
                serde_json::to_string_pretty(self).unwrap_or_default(),
            ),
        ];
        crate::experiment::write_files(dir, files)
            .map_err(|(path, source)| Error::Write { path, source })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn record(seq: u64, status: u16, error: Option<&'static str>) -> Record {
        Record {
            target: 0,
            seq,
            intended: Duration::ZERO,
            send_error_ns: 0,
            status,
            latency: Duration::from_millis(seq + 1),
            reject_reason: (status == 429).then(|| "no_free_slot".to_owned()),
            hops: None,
            executor: "n0".into(),
            error,
            class: 0,
            execution: None,
            queue: None,
            fallback: None,
            job_id: None,
        }
    }

    #[test]
    fn every_outcome_lands_in_one_column() {
        let mut t = Tally::default();
        t.add(&record(0, 200, None));
        t.add(&record(1, 429, None));
        t.add(&record(2, 502, None));
        t.add(&record(3, 0, Some("read")));
        t.add(&record(4, 0, Some("timeout")));
        t.add(&record(4, 0, Some("timeout")));
        // 5 never arrives.
        t.add(&record(6, 0, Some("no_connection")));
        let allow = Allowance {
            lost: 0,
            hung: 0,
            needs_ok: true,
            why: "test",
        };
        let row = Row::new("t".into(), "none".into(), t, allow, Vec::new());
        assert_eq!(
            (
                row.sent,
                row.ok,
                row.rejected,
                row.errors,
                row.lost,
                row.hung
            ),
            (6, 1, 1, 2, 2, 1)
        );
        assert_eq!((row.duplicates, row.unexplained), (1, 1));
        assert!(!row.passed);
        assert!(row.findings.iter().any(|f| f.contains("never accounted")));
    }

    #[test]
    fn forward_timeouts_are_counted_and_a_duplicate_execution_fails_the_row() {
        let mut t = Tally::default();
        t.add(&record(0, 200, None));
        let mut timed_out = record(1, 504, None);
        timed_out.reject_reason = Some("forward_timeout".into());
        t.add(&timed_out);
        let mut ran_here = record(2, 200, None);
        ran_here.fallback = Some("peer_timeout".into());
        t.add(&ran_here);
        let allow = Allowance {
            lost: 0,
            hung: 0,
            needs_ok: true,
            why: "test",
        };
        let mut row = Row::new("t".into(), "none".into(), t, allow, Vec::new());
        assert_eq!(row.forward_timeouts, 2);
        assert!(row.passed);
        let clean = Executions {
            total: 3,
            duplicates: 0,
            without_id: 0,
        };
        row.count_executions(Some(clean));
        assert!(row.passed);
        assert_eq!(row.duplicate_executions, Some(0));
        row.count_executions(Some(Executions {
            duplicates: 1,
            ..clean
        }));
        assert!(!row.passed);
        assert_eq!(row.duplicate_executions, Some(1));
    }
}
