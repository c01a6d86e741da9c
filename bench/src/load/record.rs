//! One row per request, the results file's CSV schema, and the end-of-run summary. No I/O beyond the
//! `Write` it is handed.

use std::borrow::Cow;
use std::io::{self, Write};
use std::time::Duration;

/// Version of the results CSV; bump when a column changes meaning.
pub const SCHEMA: &str = "p2pfaas-bench-load/5";

/// The CSV header line (without the leading `#` comment that names schema, host and date).
pub const HEADER: &str = "target,seq,intended_ns,send_error_ns,status,latency_ns,reject_reason,hops,executor,error,class,execution_ns,queue_ns,fallback,job_id";

/// What happened to one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// Index of the target (order of `--target`).
    pub target: u16,
    /// Sequence number within the target's schedule.
    pub seq: u64,
    /// Intended send time, from the run's start.
    pub intended: Duration,
    /// Actual − intended send time, nanoseconds (negative would mean early; the sender never is).
    pub send_error_ns: i64,
    /// HTTP status, or 0 when there was no response (see `error`).
    pub status: u16,
    /// From the first byte written to the end of the response body.
    pub latency: Duration,
    /// `X-P2pfaas-Reject-Reason`, when the node refused the job.
    pub reject_reason: Option<String>,
    /// `X-P2pfaas-Hops`, when present.
    pub hops: Option<u16>,
    /// The node that ran (or refused) the job: last of `X-P2pfaas-Peers-List-Id`, else the target's id.
    pub executor: String,
    /// Client-side failure (`timeout`, `connect`, `write`, `read`, `bad_response`, `no_connection`).
    pub error: Option<&'static str>,
    /// Index of the request's class in the mix.
    pub class: u16,
    /// How long the function ran on the executor (`X-P2pfaas-Timing-Execution-Time-Seconds`).
    pub execution: Option<Duration>,
    /// How long the job waited for a slot on the executor (`X-P2pfaas-Timing-Queue-Seconds`).
    pub queue: Option<Duration>,
    /// `X-P2pfaas-Scheduler-Fallback`: why the job did not go where the scheduler chose (the decision
    /// core's reasons; the simulator's are the same strings, borrowed).
    pub fallback: Option<Cow<'static, str>>,
    /// `X-P2pfaas-Job-Id`: the id the origin gave the job (origin machine id / sequence).
    pub job_id: Option<String>,
}

impl Record {
    /// Whether the node refused the job for capacity or by decision: 429 or 503, or 500 with a reject
    /// reason (a capacity reject under `compat.reject_status = 500`, the original's status; a 500
    /// without a reason is an error).
    pub fn is_rejected(&self) -> bool {
        matches!(self.status, 429 | 503) || (self.status == 500 && self.reject_reason.is_some())
    }

    /// One CSV line, newline included. Free-text fields never contain commas: node ids and reject
    /// reasons are tokens, and anything else is replaced rather than quoted, to keep parsing trivial.
    pub fn write_csv(&self, out: &mut impl Write) -> io::Result<()> {
        let clean = |s: &str| s.replace([',', '\n', '\r', '"'], "_");
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            self.target,
            self.seq,
            self.intended.as_nanos(),
            self.send_error_ns,
            self.status,
            self.latency.as_nanos(),
            self.reject_reason.as_deref().map(clean).unwrap_or_default(),
            self.hops.map(|h| h.to_string()).unwrap_or_default(),
            clean(&self.executor),
            self.error.unwrap_or_default(),
            self.class,
            ns(self.execution),
            ns(self.queue),
            self.fallback.as_deref().map(clean).unwrap_or_default(),
            self.job_id.as_deref().map(clean).unwrap_or_default(),
        )
    }
}

/// Nanoseconds, or an empty field.
fn ns(d: Option<Duration>) -> String {
    d.map(|d| d.as_nanos().to_string()).unwrap_or_default()
}

/// Nearest-rank percentile of sorted values (`p` in 0–100); 0 for an empty slice.
pub fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Totals of a finished run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Requests written to a connection (or attempted, for `no_connection`/`write` errors).
    pub sent: u64,
    /// Requests that got an HTTP response.
    pub answered: u64,
    /// Responses with status 429 or 503.
    pub rejected: u64,
    /// Responses with status 2xx.
    pub ok: u64,
    /// Requests without a response (timeouts and network errors).
    pub failed: u64,
    /// Send-time error (actual − intended), nanoseconds, sorted ascending.
    pub send_errors_ns: Vec<i64>,
    /// Latency of answered requests, nanoseconds, sorted ascending.
    pub latencies_ns: Vec<i64>,
    /// Connections opened after the start because none was idle (each one may delay a send).
    pub connections_opened_late: u64,
    /// Wall time from the first intended send to the last response.
    pub elapsed: Duration,
}

impl Summary {
    /// Adds one record to the totals (call `finish` before reading percentiles).
    pub fn add(&mut self, r: &Record) {
        self.sent += 1;
        self.send_errors_ns.push(r.send_error_ns);
        if r.status == 0 {
            self.failed += 1;
            return;
        }
        self.answered += 1;
        if r.is_rejected() {
            self.rejected += 1;
        }
        if (200..300).contains(&r.status) {
            self.ok += 1;
        }
        self.latencies_ns
            .push(i64::try_from(r.latency.as_nanos()).unwrap_or(i64::MAX));
    }

    /// Sorts the samples for `percentile`.
    pub fn finish(&mut self) {
        self.send_errors_ns.sort_unstable();
        self.latencies_ns.sort_unstable();
    }

    /// Share of answered requests that were rejected (the measured blocking probability).
    pub fn rejected_share(&self) -> f64 {
        if self.answered == 0 {
            0.0
        } else {
            self.rejected as f64 / self.answered as f64
        }
    }

    /// The end-of-run report.
    pub fn render(&self) -> String {
        let us = |ns: i64| ns as f64 / 1e3;
        let e = &self.send_errors_ns;
        let l = &self.latencies_ns;
        format!(
            "sent {} answered {} ok {} rejected {} ({:.4}) failed {} in {:.2} s ({:.1} req/s); \
             connections opened late {}\n\
             send error µs (actual − intended): p50 {:.1} p90 {:.1} p99 {:.1} p99.9 {:.1} max {:.1}\n\
             latency ms: p50 {:.3} p90 {:.3} p99 {:.3} max {:.3}",
            self.sent,
            self.answered,
            self.ok,
            self.rejected,
            self.rejected_share(),
            self.failed,
            self.elapsed.as_secs_f64(),
            self.sent as f64 / self.elapsed.as_secs_f64().max(1e-9),
            self.connections_opened_late,
            us(percentile(e, 50.0)),
            us(percentile(e, 90.0)),
            us(percentile(e, 99.0)),
            us(percentile(e, 99.9)),
            us(e.last().copied().unwrap_or(0)),
            us(percentile(l, 50.0)) / 1e3,
            us(percentile(l, 90.0)) / 1e3,
            us(percentile(l, 99.0)) / 1e3,
            us(l.last().copied().unwrap_or(0)) / 1e3,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_under_either_reject_status() {
        let at = |status: u16, reason: Option<&str>| Record {
            status,
            reject_reason: reason.map(str::to_owned),
            ..Record::default()
        };
        assert!(at(429, Some("queue_full")).is_rejected());
        assert!(at(503, Some("reject_header")).is_rejected());
        assert!(at(500, Some("queue_full")).is_rejected());
        assert!(!at(500, None).is_rejected(), "a plain 500 is an error");
        assert!(!at(502, Some("function_failed")).is_rejected());
        assert!(!at(200, None).is_rejected());
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&v, 0.0), 1);
        assert_eq!(percentile(&[], 50.0), 0);
    }

    #[test]
    fn csv_row_is_one_clean_line() {
        let r = Record {
            target: 1,
            seq: 7,
            intended: Duration::from_micros(1500),
            send_error_ns: 2100,
            status: 429,
            latency: Duration::from_micros(80),
            reject_reason: Some("no_free_slot".into()),
            hops: None,
            executor: "node,a".into(),
            error: None,
            class: 2,
            execution: Some(Duration::from_millis(20)),
            queue: None,
            fallback: Some("peer_refused".into()),
            job_id: Some("a/17".into()),
        };
        let mut out = Vec::new();
        r.write_csv(&mut out).expect("to a Vec");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "1,7,1500000,2100,429,80000,no_free_slot,,node_a,,2,20000000,,peer_refused,a/17\n"
        );
        assert_eq!(HEADER.split(',').count(), 15);
        let mut s = Summary::default();
        s.add(&r);
        s.finish();
        assert_eq!((s.sent, s.answered, s.rejected, s.ok), (1, 1, 1, 0));
        assert_eq!(s.rejected_share(), 1.0);
    }
}
