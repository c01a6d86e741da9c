//! What a job is, however it arrived (a client's call or a peer's, either protocol): its parts, the
//! original's header names, and which function headers reach the client. Plain data shared by the
//! invocation path (`invoke`), the peer client (`forward`) and the peer routes (`peer`), so none of
//! them imports another for it.

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::codec;
use crate::backend::Call;
use crate::peers::path::Path;

/// Header names of the original (contract §1.3, §1.5).
pub mod header {
    /// Node version, on every function response.
    pub const VERSION: &str = "X-P2pfaas-Version";
    /// Display name of the scheduler that handled the job.
    pub const SCHEDULER: &str = "X-P2pfaas-Scheduler";
    /// Client override: run locally (queue rules apply).
    pub const BYPASS: &str = "X-P2pfaas-Scheduler-Bypass";
    /// Client override: reject (503).
    pub const REJECT: &str = "X-P2pfaas-Scheduler-Reject";
    /// Client override: forward to a random peer (`ForwardScheduler(1)`).
    pub const FORWARD: &str = "X-P2pfaas-Scheduler-Forward";
    /// Task type of the job (integer).
    pub const TASK_TYPE: &str = "X-P2pfaas-Scheduler-Learning-Task-Type";
    /// Arrival → reply, per node, origin first.
    pub const TOTAL: &str = "X-P2pfaas-Timing-Total-Seconds-List";
    /// Arrival → decision, per node.
    pub const SCHEDULING: &str = "X-P2pfaas-Timing-Scheduling-Seconds-List";
    /// Duration of the function call on the executing node.
    pub const EXECUTION: &str = "X-P2pfaas-Timing-Execution-Time-Seconds";
    /// New: time spent waiting for a slot (the original measured it but never sent it).
    pub const QUEUE: &str = "X-P2pfaas-Timing-Queue-Seconds";
    /// New: the client's deadline in milliseconds; with a learning scheduler the node computes the reward.
    pub const DEADLINE_MS: &str = "X-P2pfaas-Deadline-Ms";
    /// Execution id of a learning decision.
    pub const LEARNING_EID: &str = "X-P2pfaas-Scheduler-Learning-Eid";
    /// State of a learning decision (comma-joined `%f`).
    pub const LEARNING_STATE: &str = "X-P2pfaas-Scheduler-Learning-State";
    /// Action of a learning decision (`%f`).
    pub const LEARNING_ACTION: &str = "X-P2pfaas-Scheduler-Learning-Action";
    /// ε of a learning decision (`%f`).
    pub const LEARNING_EPS: &str = "X-P2pfaas-Scheduler-Learning-Eps";
    /// New: why the job did not go where the scheduler chose (e.g. no peer for a forward action).
    pub const FALLBACK: &str = "X-P2pfaas-Scheduler-Fallback";
    /// New: the job's id (origin machine id + sequence), on every function response and on every
    /// forwarded job (native protocol; the JSON body's `job_id` in the original's).
    pub const JOB_ID: &str = "X-P2pfaas-Job-Id";
}

/// One job to decide and run, however it arrived: from a client (`/function/…`) or from a peer
/// (`/peer/function/…`, either protocol). Borrowed from the request where possible.
pub struct Invocation<'a> {
    /// The request as the function sees it (method, path after the function name, query, content
    /// type, the caller's headers, body). Its `job_id` is the id a peer gave the job (none for a
    /// client's job, or from a peer that sends none); the call a backend gets carries the job's own id.
    pub call: Call<'a>,
    /// Task type.
    pub task_type: usize,
    /// Deadline for the learning reward.
    pub deadline: Option<Duration>,
    /// Hops travelled (0 for client jobs).
    pub hops: u32,
    /// True when a peer sent it.
    pub external: bool,
    /// Machine ids of the nodes it passed, origin first (not this node).
    pub path_ids: Path<'a>,
    /// Their addresses, in the same order.
    pub path_addrs: Path<'a>,
    /// When its head was complete here.
    pub arrived: Instant,
    /// When this node must have answered.
    pub answer_by: Instant,
    /// Set when a peer answered the job and its route (the path and timing lists through that peer)
    /// went into the response; a peer's job that ran here gets a one-node path instead.
    pub routed: Cell<bool>,
}

/// Function headers that reach the client: end-to-end ones, minus those the node itself sets.
pub fn passes_through(name: &str) -> bool {
    // The node's own prefix first: a forwarded job's answer is mostly such headers.
    !is_own(name) && !name.eq_ignore_ascii_case("content-type") && !codec::is_hop_by_hop(name)
}

/// Whether `name` is one of the node's own (`X-P2pfaas-…`, any case).
#[inline]
pub fn is_own(name: &str) -> bool {
    // Two word compares instead of a case-folding loop: this runs twice for every header of every
    // forwarded answer. Or-ing 0x20 lower-cases a letter and maps nothing else onto a lower-case
    // letter, so it is applied where the prefix has letters only.
    const HEAD: u64 = u64::from_le_bytes(*b"x-p2pfaa");
    const HEAD_LETTERS: u64 = u64::from_le_bytes([0x20, 0, 0x20, 0, 0x20, 0x20, 0x20, 0x20]);
    const TAIL: u16 = u16::from_le_bytes(*b"s-");
    const TAIL_LETTERS: u16 = u16::from_le_bytes([0x20, 0]);
    let Some((head, rest)) = name.as_bytes().split_first_chunk::<8>() else {
        return false;
    };
    let Some(tail) = rest.first_chunk::<2>() else {
        return false;
    };
    u64::from_le_bytes(*head) | HEAD_LETTERS == HEAD
        && u16::from_le_bytes(*tail) | TAIL_LETTERS == TAIL
}

/// Whether `name` is `known` in any case; the exact spelling (what p2pfaas nodes send) is compared first.
#[inline]
pub fn is_named(name: &str, known: &str) -> bool {
    name.len() == known.len() && (name == known || name.eq_ignore_ascii_case(known))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_names_in_any_case_and_nothing_else() {
        for own in [
            "X-P2pfaas-Hops",
            "x-p2pfaas-",
            "X-P2PFAAS-Load",
            "x-P2pFaAs-z",
        ] {
            assert!(is_own(own), "{own}");
        }
        for other in [
            "X-P2pfaas",
            "X-P2pfog-Queue-Length",
            "X_P2pfaas-Hops",
            "X-P3pfaas-Hops",
            "Y-P2pfaas-a",
            "X-P2pfaas_Hops",
            "X\rP2pfaas-a",
            "8-P2pfaas-a",
            "",
            "Content-Type",
        ] {
            assert!(!is_own(other), "{other}");
        }
        // Against the plain definition, over every byte at every position of the prefix.
        let prefix = *b"x-p2pfaas-";
        for at in 0..prefix.len() {
            for b in 0..=127u8 {
                let mut name = prefix;
                name[at] = b;
                let name = std::str::from_utf8(&name).unwrap_or_default();
                let plain = name.len() == 10 && name.eq_ignore_ascii_case("x-p2pfaas-");
                assert_eq!(is_own(name), plain, "{name:?}");
            }
        }
        assert!(is_named("X-P2pfaas-Load", "x-p2pfaas-load") && !is_named("X-Load", "X-Loa"));
    }
}
