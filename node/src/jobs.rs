//! At most once, the node's side: the ids it gives the jobs it originates, and the table of ids it
//! received from peers (the sans-IO [`JobTable`] of `p2pfaas-core` behind a lock, on this node's
//! clock). Only peer jobs and cancels touch the lock; a client job takes one atomic increment.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use p2pfaas_core::jobs::{Arrival, Executed, JobTable};

/// Ids remembered at most: about 15 MB at worst, minutes of forwarded traffic at thousands per second.
const CAPACITY: usize = 100_000;

/// Longest a received id is remembered: far past any job's life here (its answer deadline).
const MIN_TTL: Duration = Duration::from_secs(120);

/// Longest a job id may be (bytes); a longer one from a peer is bad input.
pub const MAX_ID_LEN: usize = 256;

/// The job ids of one node.
#[derive(Debug)]
pub struct Jobs {
    table: Mutex<JobTable>,
    started: Instant,
    /// This node's part of the ids it originates (its machine id), fixed at the first id.
    origin: OnceLock<Box<str>>,
    /// The next sequence number. It starts at the boot time in microseconds, so a restarted node
    /// never reuses an id of its previous life.
    next: AtomicU64,
}

impl Jobs {
    /// A fresh table (a restart forgets every id: see [`JobTable::new`]); received ids are kept
    /// for at least `forward_timeout` × 4 and two minutes.
    pub fn new(forward_timeout: Duration) -> Self {
        let boot = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        Self {
            table: Mutex::new(JobTable::new(
                CAPACITY,
                MIN_TTL.max(forward_timeout * 4),
                Duration::ZERO,
            )),
            started: Instant::now(),
            origin: OnceLock::new(),
            next: AtomicU64::new(boot),
        }
    }

    /// Writes a new id for a job this node originates, `<machine id>/<sequence>`, into `out` (cleared
    /// first): the caller reuses the buffer, so a call allocates nothing.
    pub fn write_next_id(&self, machine_id: impl FnOnce() -> String, out: &mut Vec<u8>) {
        let origin = self.origin.get_or_init(|| machine_id().into_boxed_str());
        out.clear();
        out.extend_from_slice(origin.as_bytes());
        out.push(b'/');
        let mut seq = itoa::Buffer::new();
        out.extend_from_slice(seq.format(self.next.fetch_add(1, Relaxed)).as_bytes());
    }

    fn table(&self) -> std::sync::MutexGuard<'_, JobTable> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `at` on the table's clock.
    fn since_start(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.started)
    }

    /// A peer's job with this id arrived at `at` (the caller's clock read of the arrival: the table's
    /// times need no precision beyond its time-to-live, so no clock read of its own).
    pub fn arrive(&self, id: &str, at: Instant) -> Arrival {
        let now = self.since_start(at);
        self.table().arrive(id, now)
    }

    /// The job is about to call its function here (at `at`): false when it was cancelled.
    pub fn start(&self, id: &str, at: Instant) -> bool {
        let now = self.since_start(at);
        self.table().start(id, now)
    }

    /// The job is about to go on to another peer (at `at`): false when it was cancelled.
    pub fn forward(&self, id: &str, at: Instant) -> bool {
        let now = self.since_start(at);
        self.table().forward(id, now)
    }

    /// The job was answered with `status` (it ran if it started).
    pub fn end(&self, id: &str, status: u16) {
        self.table().end(id, status);
    }

    /// The origin gave up on the job: whether it ran here.
    pub fn cancel(&self, id: &str) -> Executed {
        let now = self.since_start(Instant::now());
        self.table().cancel(id, now)
    }
}

/// Checks a job id from a peer: 1 to [`MAX_ID_LEN`] visible ASCII characters.
pub fn valid_id(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.iter().all(u8::is_ascii_graphic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_origin_and_sequence_and_never_repeat() {
        let next_id = |jobs: &Jobs, name: &str| {
            let mut id = Vec::new();
            jobs.write_next_id(|| name.into(), &mut id);
            String::from_utf8(id).expect("UTF-8")
        };
        let jobs = Jobs::new(Duration::from_secs(1));
        let a = next_id(&jobs, "n0");
        let b = next_id(&jobs, "other");
        assert!(a.starts_with("n0/") && b.starts_with("n0/"), "{a} {b}");
        assert_ne!(a, b);
        // A restarted node starts past the previous life's numbers.
        let later = next_id(&Jobs::new(Duration::from_secs(1)), "n0");
        let seq = |id: &str| id.rsplit('/').next().and_then(|s| s.parse::<u64>().ok());
        assert!(seq(&later) > seq(&a));
        assert!(valid_id(a.as_bytes()));
        assert!(!valid_id(b"a b") && !valid_id(b"") && !valid_id(&[b'a'; 300]));
    }
}
