//! At most once: an executor's memory of the forwarded jobs it received, by job id (origin id +
//! sequence), so that no id runs twice and a cancel from the origin gets a truthful answer.
//!
//! ```text
//! arrive ─▶ Waiting ─┬─ start ─▶ Running ─ end(ran) ─▶ Ended{ran}
//!                    ├─ forwarded ─▶ Forwarded ─ (cancel) ─▶ Forwarded{cancelled}
//!                    ├─ end(not run) ─▶ Ended{not ran}
//!                    └─ cancel ─▶ Cancelled  (start and forwarded now say no)
//! cancel of an id never seen ─▶ Cancelled tombstone (a late arrival is refused)
//! ```
//!
//! The table is bounded (`capacity` ids) and time-limited (an id is forgotten `ttl` after it was first
//! seen; `ttl` must outlast any job's life on the executor, i.e. be far longer than the forward
//! timeout). While an id that may have been seen could have been forgotten — for `ttl` after the table
//! was created (the executor restarted: whatever it ran before is unknown) and for `ttl` after an id
//! was evicted early because the table was full — a cancel for an unknown id answers
//! [`Executed::Unknown`], never [`Executed::No`]. Time is the caller's (`now`, on any monotonic clock
//! that starts at or before the table's creation).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// Whether a job ran on the executor, as far as the executor can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Executed {
    /// It did not run and never will (cancelled, refused, or never received after a clean start).
    No,
    /// It ran or is running.
    Yes,
    /// The executor cannot tell (it may have run before a restart, or it went on to another peer).
    Unknown,
}

impl Executed {
    /// The wire form (`X-P2pfaas-Executed`): `no`, `yes` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::No => "no",
            Self::Yes => "yes",
            Self::Unknown => "unknown",
        }
    }

    /// Parses the wire form; anything else is `None`.
    pub fn parse(raw: &[u8]) -> Option<Self> {
        match raw {
            b"no" => Some(Self::No),
            b"yes" => Some(Self::Yes),
            b"unknown" => Some(Self::Unknown),
            _ => None,
        }
    }
}

/// What the executor does with an arriving job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// A new id: take the job.
    New,
    /// The id was seen before: refuse this copy, saying what became of the first (its status when it
    /// ended, if it has).
    Duplicate {
        /// Whether the first copy ran.
        executed: Executed,
        /// The first copy's status, once it ended.
        status: Option<u16>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Received; deciding or queued.
    Waiting,
    /// Sent on to another peer; `cancelled` once the origin gave up on it.
    Forwarded { cancelled: bool },
    /// Running here.
    Running,
    /// Answered with `status`; `ran` says whether the function was called.
    Ended { ran: bool, status: u16 },
    /// Cancelled before it started (or before it arrived): it never runs.
    Cancelled,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    phase: Phase,
    since: Duration,
}

/// The executor's table of recent job ids. Not thread-safe on its own: the node keeps it behind a
/// lock, touched only by peer jobs and cancels.
#[derive(Debug)]
pub struct JobTable {
    entries: HashMap<Box<str>, Entry>,
    /// Ids in the order first seen, for expiry and eviction.
    order: VecDeque<(Box<str>, Duration)>,
    capacity: usize,
    ttl: Duration,
    /// Until then an unknown id may have been seen and forgotten.
    blind_until: Duration,
}

impl JobTable {
    /// An empty table created at `now` (a fresh start of the executor: ids it saw before are
    /// unknown for `ttl`). `capacity` is at least 1.
    pub fn new(capacity: usize, ttl: Duration, now: Duration) -> Self {
        Self {
            entries: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            ttl,
            blind_until: now + ttl,
        }
    }

    /// Ids remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A job with this id arrived at `now`.
    pub fn arrive(&mut self, id: &str, now: Duration) -> Arrival {
        self.expire(now);
        if let Some(e) = self.entries.get(id) {
            let (executed, status) = match e.phase {
                Phase::Waiting | Phase::Forwarded { .. } => (Executed::Unknown, None),
                Phase::Running => (Executed::Yes, None),
                Phase::Ended { ran, status } => {
                    (if ran { Executed::Yes } else { Executed::No }, Some(status))
                }
                Phase::Cancelled => (Executed::No, None),
            };
            return Arrival::Duplicate { executed, status };
        }
        self.insert(id, Phase::Waiting, now);
        Arrival::New
    }

    /// The job is about to call its function here: true when it may (false: it was cancelled).
    pub fn start(&mut self, id: &str, now: Duration) -> bool {
        self.advance(id, now, Phase::Running)
    }

    /// The job is about to be sent on to another peer: true when it may (false: it was cancelled).
    pub fn forward(&mut self, id: &str, now: Duration) -> bool {
        self.advance(id, now, Phase::Forwarded { cancelled: false })
    }

    /// The job was answered with `status` (it ran if it [started](Self::start)).
    pub fn end(&mut self, id: &str, status: u16) {
        if let Some(e) = self.entries.get_mut(id) {
            let ran = match e.phase {
                Phase::Running => true,
                Phase::Waiting => false,
                // A cancelled job stays cancelled; one sent on is the next peer's to tell.
                _ => return,
            };
            e.phase = Phase::Ended { ran, status };
        }
    }

    /// The origin gave up on the job at `now`: a job that has not started never will; the answer
    /// says whether it ran.
    pub fn cancel(&mut self, id: &str, now: Duration) -> Executed {
        self.expire(now);
        let Some(e) = self.entries.get_mut(id) else {
            // Never seen, or seen and forgotten: remember the cancel so a late arrival is refused.
            let executed = if now < self.blind_until {
                Executed::Unknown
            } else {
                Executed::No
            };
            self.insert(id, Phase::Cancelled, now);
            return executed;
        };
        match e.phase {
            Phase::Waiting | Phase::Cancelled => {
                e.phase = Phase::Cancelled;
                Executed::No
            }
            Phase::Forwarded { .. } => {
                e.phase = Phase::Forwarded { cancelled: true };
                Executed::Unknown
            }
            Phase::Running | Phase::Ended { ran: true, .. } => Executed::Yes,
            Phase::Ended { ran: false, .. } => Executed::No,
        }
    }

    fn advance(&mut self, id: &str, now: Duration, to: Phase) -> bool {
        self.expire(now);
        match self.entries.get_mut(id) {
            Some(e) => match e.phase {
                // Still to start, or a forward that fell back here.
                Phase::Waiting | Phase::Forwarded { cancelled: false } | Phase::Running => {
                    e.phase = to;
                    true
                }
                // Cancelled, or over: an ended job is never started again.
                Phase::Cancelled | Phase::Forwarded { cancelled: true } | Phase::Ended { .. } => {
                    false
                }
            },
            // Forgotten while waiting (the table overflowed): nobody cancelled it since.
            None => {
                self.insert(id, to, now);
                true
            }
        }
    }

    fn insert(&mut self, id: &str, phase: Phase, now: Duration) {
        while self.entries.len() >= self.capacity {
            let Some((old, since)) = self.order.pop_front() else {
                break;
            };
            if self.entries.remove(&old).is_some() {
                self.blind_until = self.blind_until.max(since + self.ttl);
            }
        }
        self.entries.insert(id.into(), Entry { phase, since: now });
        self.order.push_back((id.into(), now));
    }

    fn expire(&mut self, now: Duration) {
        while let Some((id, since)) = self.order.front() {
            if *since + self.ttl > now {
                break;
            }
            if self.entries.get(id).is_some_and(|e| e.since == *since) {
                self.entries.remove(id);
            }
            self.order.pop_front();
        }
    }
}

#[cfg(test)]
mod tests;
