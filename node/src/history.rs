//! The last five minutes of this node, always kept: one compact [`Record`] per second in a fixed ring
//! ([`Ring`]), so that a dashboard opened now draws load against K, rejects per second, the share of
//! deadlines met and latency p99 back to five minutes ago (`GET /events/history`), not only from the
//! moment it opened.
//!
//! A record is derived, not a snapshot: the owner (worker 0's recorder task, `http/history.rs`) keeps the
//! previous cumulative [`Totals`] and stores what changed over the second — eight 32-bit words, so the
//! ring is [`LEN`] × 32 = 9,600 bytes, allocated once at start and never grown.
//!
//! One writer, any number of readers, no lock: the ring is a seqlock over atomic words (as
//! `load::publish`). The writer makes the sequence odd, stores one record, makes it even again; a reader
//! copies the ring and retries if the sequence moved under it. A write happens once per second and takes
//! nanoseconds, so a reader practically never retries, and the writer never waits. Nothing here is on the
//! request path, does I/O or reads a clock: time comes in as arguments.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::metrics::LATENCY_BOUNDS;
use crate::snapshot::{BUCKETS, Totals, Unreachable};

/// Records kept: five minutes at one per second.
pub const LEN: usize = 300;
/// 32-bit words per record.
const WORDS: usize = 8;
/// `p99_us` of an interval without an answered call.
const NO_P99: u32 = u32::MAX;

/// What changed on this node over one interval (about a second), and its admission state at the end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Record {
    /// When the interval ended, Unix seconds (rounded).
    pub t_s: u32,
    /// How long the interval was (the page divides counts by it).
    pub interval_ms: u32,
    /// Jobs running plus queued at the end of the interval (saturates at 65,535).
    pub load: u16,
    /// K at the end of the interval (saturates at 65,535).
    pub slots: u16,
    /// Invocations that ended in the interval, by any outcome.
    pub calls: u32,
    /// Of them, refused: no slot and no queue space (429) or rejected by the scheduler (503).
    pub rejected: u32,
    /// Invocations with a deadline answered within it.
    pub deadline_met: u32,
    /// Invocations with a deadline that were late, rejected or failed.
    pub deadline_missed: u32,
    /// Latency p99 of the answered calls, µs, interpolated inside its histogram bucket and capped at the
    /// last bound (5 s); `None` without answered calls.
    pub p99_us: Option<u32>,
}

/// The admission state the recorder reads at the end of an interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Jobs holding a slot.
    pub running: usize,
    /// Jobs waiting for one.
    pub queued: usize,
    /// K.
    pub slots: usize,
}

impl Record {
    /// The record of the interval from `prev` to `cur` (cumulative counters), `interval` long, ending at
    /// `end_ms` (Unix ms). Counters that went backwards (a function removed with its counters) count 0.
    pub fn between(
        prev: &Totals,
        cur: &Totals,
        gauges: Gauges,
        end_ms: u64,
        interval: Duration,
    ) -> Self {
        let delta = |a: u64, b: u64| u32::try_from(b.saturating_sub(a)).unwrap_or(u32::MAX);
        let sum = |t: &Totals| {
            let c = &t.calls;
            (
                c.ok + c.overloaded + c.rejected + c.timeout + c.failed,
                c.overloaded + c.rejected,
            )
        };
        let ((calls0, rejected0), (calls1, rejected1)) = (sum(prev), sum(cur));
        let latency: [u64; BUCKETS] =
            std::array::from_fn(|i| cur.latency[i].saturating_sub(prev.latency[i]));
        let small = |v: usize| u16::try_from(v).unwrap_or(u16::MAX);
        Self {
            t_s: u32::try_from(end_ms.saturating_add(500) / 1000).unwrap_or(u32::MAX),
            interval_ms: u32::try_from(interval.as_millis()).unwrap_or(u32::MAX),
            load: small(gauges.running.saturating_add(gauges.queued)),
            slots: small(gauges.slots),
            calls: delta(calls0, calls1),
            rejected: delta(rejected0, rejected1),
            deadline_met: delta(prev.deadline_met, cur.deadline_met),
            deadline_missed: delta(prev.deadline_missed, cur.deadline_missed),
            // At most 5 s in µs: the cast cannot truncate.
            p99_us: quantile(&latency, 0.99).map(|s| (s * 1e6).round() as u32),
        }
    }

    fn encode(&self) -> [u32; WORDS] {
        [
            self.t_s,
            self.interval_ms,
            u32::from(self.load) << 16 | u32::from(self.slots),
            self.calls,
            self.rejected,
            self.deadline_met,
            self.deadline_missed,
            self.p99_us.unwrap_or(NO_P99),
        ]
    }

    fn decode(w: &[u32; WORDS]) -> Self {
        let (load, slots) = ((w[2] >> 16) as u16, w[2] as u16);
        Self {
            t_s: w[0],
            interval_ms: w[1],
            load,
            slots,
            calls: w[3],
            rejected: w[4],
            deadline_met: w[5],
            deadline_missed: w[6],
            p99_us: (w[7] != NO_P99).then_some(w[7]),
        }
    }
}

/// The `q`-quantile (seconds) of the latencies counted in `delta` (answered calls per bucket of
/// [`LATENCY_BOUNDS`], +Inf last), interpolated linearly inside its bucket as the page does; beyond the
/// last bound it is that bound. `None` without calls.
pub fn quantile(delta: &[u64; BUCKETS], q: f64) -> Option<f64> {
    let total: u64 = delta.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut seen = 0.0;
    for (i, &n) in delta.iter().enumerate() {
        let n = n as f64;
        if n > 0.0 && seen + n >= rank {
            let Some(&hi) = LATENCY_BOUNDS.get(i) else {
                break;
            };
            let lo = if i == 0 { 0.0 } else { LATENCY_BOUNDS[i - 1] };
            return Some(lo + (hi - lo) * ((rank - seen) / n));
        }
        seen += n;
    }
    LATENCY_BOUNDS.last().copied()
}

/// The last [`LEN`] records; see the module docs for the publication scheme.
#[derive(Debug)]
pub struct Ring {
    /// Twice the records written so far, plus one while a write is in progress.
    seq: AtomicU64,
    /// Record `n` lives at `n % LEN`.
    words: Box<[[AtomicU32; WORDS]; LEN]>,
}

impl Default for Ring {
    fn default() -> Self {
        Self::new()
    }
}

impl Ring {
    /// An empty ring (its whole memory is allocated here).
    pub fn new() -> Self {
        Self {
            seq: AtomicU64::new(0),
            words: Box::new(std::array::from_fn(|_| {
                std::array::from_fn(|_| AtomicU32::new(0))
            })),
        }
    }

    /// Appends a record, overwriting the oldest once full. Only one thread may call this (the
    /// recorder); concurrent pushes would tear records.
    pub fn push(&self, record: &Record) {
        let seq = self.seq.load(Ordering::Relaxed);
        let slot = &self.words[usize::try_from(seq / 2).unwrap_or(0) % LEN];
        self.seq.store(seq | 1, Ordering::Relaxed);
        fence(Ordering::Release);
        for (word, value) in slot.iter().zip(record.encode()) {
            word.store(value, Ordering::Relaxed);
        }
        self.seq.store((seq | 1) + 1, Ordering::Release);
    }

    /// Records written since start (not bounded by [`LEN`]).
    pub fn written(&self) -> u64 {
        self.seq.load(Ordering::Acquire) / 2
    }

    /// The records kept, oldest first, into `out` (cleared first; at most [`LEN`]). Never blocks the
    /// writer; retries while a write overlaps the copy.
    pub fn read_into(&self, out: &mut Vec<Record>) {
        loop {
            out.clear();
            let before = self.seq.load(Ordering::Acquire);
            if before & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let written = before / 2;
            let kept = written.min(LEN as u64);
            for n in written - kept..written {
                let slot = &self.words[usize::try_from(n % LEN as u64).unwrap_or(0)];
                let words: [u32; WORDS] = std::array::from_fn(|i| slot[i].load(Ordering::Relaxed));
                out.push(Record::decode(&words));
            }
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == before {
                return;
            }
        }
    }
}

/// One node's history as `GET /events/history` sends it: columns of equal length, oldest first (a
/// column of 300 numbers is a third of the size of 300 objects).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Series {
    /// `machine_id`.
    pub id: String,
    /// Advertised `host:port`.
    pub addr: String,
    /// [`Record::t_s`] of each record.
    pub t: Vec<u32>,
    /// [`Record::interval_ms`].
    pub interval_ms: Vec<u32>,
    /// [`Record::load`].
    pub load: Vec<u16>,
    /// [`Record::slots`].
    pub slots: Vec<u16>,
    /// [`Record::calls`].
    pub calls: Vec<u32>,
    /// [`Record::rejected`].
    pub rejected: Vec<u32>,
    /// [`Record::deadline_met`].
    pub deadline_met: Vec<u32>,
    /// [`Record::deadline_missed`].
    pub deadline_missed: Vec<u32>,
    /// [`Record::p99_us`] (`null`: no answered call).
    pub p99_us: Vec<Option<u32>>,
}

impl Series {
    /// The columns of `records`.
    pub fn new(id: String, addr: String, records: &[Record]) -> Self {
        let col = |f: fn(&Record) -> u32| records.iter().map(f).collect();
        Self {
            id,
            addr,
            t: col(|r| r.t_s),
            interval_ms: col(|r| r.interval_ms),
            load: records.iter().map(|r| r.load).collect(),
            slots: records.iter().map(|r| r.slots).collect(),
            calls: col(|r| r.calls),
            rejected: col(|r| r.rejected),
            deadline_met: col(|r| r.deadline_met),
            deadline_missed: col(|r| r.deadline_missed),
            p99_us: records.iter().map(|r| r.p99_us).collect(),
        }
    }
}

/// What `GET /events/cluster/history` sends: the serving node's [`Series`] first, then each peer's that
/// answered in time; the others apart (the page shows them without history).
#[derive(Debug, Serialize)]
pub struct Cluster<'a> {
    /// The serving node's `machine_id`.
    #[serde(rename = "self")]
    pub own: &'a str,
    /// Series, this node's first.
    pub nodes: Vec<&'a Value>,
    /// Members whose history did not arrive.
    pub unreachable: Vec<Unreachable<'a>>,
}

#[cfg(test)]
mod tests;
