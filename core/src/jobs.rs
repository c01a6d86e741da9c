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

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::time::Duration;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

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

/// Ids up to this many bytes (every id a p2pfaas node makes from a machine id of up to 43
/// characters: `<machine id>/<sequence>`) are stored inline, so remembering one allocates nothing
/// once the table has grown to its working size. A longer id (peers may send up to the node's
/// limit) is stored on the heap: one allocation per such id, and otherwise the same behaviour.
pub const INLINE_ID_LEN: usize = 64;

/// A job id as stored: inline when it fits.
#[derive(Debug)]
enum Id {
    Inline { len: u8, bytes: [u8; INLINE_ID_LEN] },
    Spilled(Box<[u8]>),
}

impl Id {
    fn new(id: &[u8]) -> Self {
        match u8::try_from(id.len()) {
            Ok(len) if id.len() <= INLINE_ID_LEN => {
                let mut bytes = [0; INLINE_ID_LEN];
                bytes[..id.len()].copy_from_slice(id);
                Self::Inline { len, bytes }
            }
            _ => Self::Spilled(id.into()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Self::Spilled(id) => id,
        }
    }
}

/// One remembered id.
#[derive(Debug)]
struct Record {
    id: Id,
    /// Hash of `id`, kept so that finding, evicting and rehashing never hash an id again.
    hash: u64,
    phase: Phase,
    /// When it was first seen.
    since: Duration,
}

/// The executor's table of recent job ids. Not thread-safe on its own: the node keeps it behind a
/// lock, touched only by peer jobs and cancels.
///
/// Each id is stored once, in `records` (in the order first seen, which is also the order of
/// expiry and eviction); `index` finds it by id and holds only its sequence number. Both grow by
/// doubling up to the number of ids remembered at once and are reused after that: in steady state
/// the table allocates nothing (ids longer than [`INLINE_ID_LEN`] aside).
#[derive(Debug)]
pub struct JobTable {
    /// Oldest first; `records[i]` has sequence number `first + i`.
    records: VecDeque<Record>,
    /// Sequence number of `records[0]`.
    first: u64,
    /// Sequence numbers of every record, by the hash of its id.
    index: HashTable<u64>,
    /// Seeded per table (ids come from peers). foldhash, not std's SipHash: an id is hashed on every
    /// forwarded job, and SipHash cost more than the rest of the table's work.
    hasher: RandomState,
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
            records: VecDeque::new(),
            first: 0,
            index: HashTable::new(),
            hasher: RandomState::default(),
            capacity: capacity.max(1),
            ttl,
            blind_until: now + ttl,
        }
    }

    /// Ids remembered.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// A job with this id arrived at `now`.
    pub fn arrive(&mut self, id: &str, now: Duration) -> Arrival {
        self.expire(now);
        let hash = self.hasher.hash_one(id.as_bytes());
        if let Some(e) = self.find(hash, id) {
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
        self.insert(hash, id, Phase::Waiting, now);
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
        if let Some(e) = self.find(self.hasher.hash_one(id.as_bytes()), id) {
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
        let hash = self.hasher.hash_one(id.as_bytes());
        let Some(e) = self.find(hash, id) else {
            // Never seen, or seen and forgotten: remember the cancel so a late arrival is refused.
            let executed = if now < self.blind_until {
                Executed::Unknown
            } else {
                Executed::No
            };
            self.insert(hash, id, Phase::Cancelled, now);
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
        let hash = self.hasher.hash_one(id.as_bytes());
        match self.find(hash, id) {
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
                self.insert(hash, id, to, now);
                true
            }
        }
    }

    /// The record of `id` (whose hash is `hash`), if remembered.
    fn find(&mut self, hash: u64, id: &str) -> Option<&mut Record> {
        let id = id.as_bytes();
        let (records, first) = (&self.records, self.first);
        let seq = *self.index.find(hash, |&seq| {
            let r = &records[position(seq, first)];
            r.hash == hash && r.id.as_bytes() == id
        })?;
        Some(&mut self.records[position(seq, self.first)])
    }

    fn insert(&mut self, hash: u64, id: &str, phase: Phase, now: Duration) {
        while self.records.len() >= self.capacity {
            let Some(since) = self.pop_oldest() else {
                break;
            };
            self.blind_until = self.blind_until.max(since + self.ttl);
        }
        let seq = self.first + self.records.len() as u64;
        self.records.push_back(Record {
            id: Id::new(id.as_bytes()),
            hash,
            phase,
            since: now,
        });
        let (records, first) = (&self.records, self.first);
        let rehash = |&seq: &u64| records[position(seq, first)].hash;
        // Room for twice the ids held: the slots that removals leave deleted are then reclaimed by
        // rehashing in place, never by a larger table, so a table of steady size stops allocating.
        let len = records.len();
        if self.index.capacity() < 2 * len {
            self.index.reserve(len + 1, rehash);
        }
        self.index.insert_unique(hash, seq, rehash);
    }

    fn expire(&mut self, now: Duration) {
        while self
            .records
            .front()
            .is_some_and(|r| r.since + self.ttl <= now)
        {
            self.pop_oldest();
        }
    }

    /// Forgets the oldest id; returns when it was first seen.
    fn pop_oldest(&mut self) -> Option<Duration> {
        let oldest = self.records.pop_front()?;
        let first = self.first;
        if let Ok(entry) = self.index.find_entry(oldest.hash, |&seq| seq == first) {
            entry.remove();
        }
        self.first += 1;
        Some(oldest.since)
    }
}

/// Where sequence number `seq` sits in `records` when the oldest has `first`.
fn position(seq: u64, first: u64) -> usize {
    usize::try_from(seq - first).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests;
