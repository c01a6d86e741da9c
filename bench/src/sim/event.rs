//! The event calendar: timed events in a binary heap, earliest first, ties in the order they were
//! scheduled (so a run is deterministic). Events name nodes and jobs by index; nothing is boxed.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use p2pfaas_core::invocation::ForwardOutcome;

/// What happens at a point of virtual time. Job events carry the job's epoch: a job cut by a
/// crash ignores what was scheduled for it before.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ev {
    /// A client request reaches node `.0`.
    Arrival(u16),
    /// A forwarded job reaches its target.
    Reach(u32, u32),
    /// Probes reach the probed peers, which read their load.
    Probed(u32, u32),
    /// The probe answers are back at the deciding node.
    ProbesIn(u32, u32),
    /// The Tau wait is over.
    Decide(u32, u32),
    /// How a forward ended reaches the node that sent it.
    Forwarded(u32, u32, ForwardOutcome),
    /// Service ends.
    Done(u32, u32),
    /// The answer of a learning decision reaches its origin (reward time).
    Answer(u32, u32),
    /// A node refreshes its cached view of every peer.
    Refresh(u16),
    /// A node crashes.
    Crash(u16),
    /// A crashed node is back, empty.
    Repair(u16),
}

struct Entry {
    at: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Earliest first (the heap is a max-heap); ties in insertion order.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Pending events.
#[derive(Default)]
pub(super) struct Calendar {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

impl Calendar {
    /// Schedules `ev` at `at` ns.
    pub(super) fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.heap.push(Entry {
            at,
            seq: self.seq,
            ev,
        });
    }

    /// The earliest event and its time.
    pub(super) fn pop(&mut self) -> Option<(u64, Ev)> {
        self.heap.pop().map(|e| (e.at, e.ev))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_then_in_scheduling_order() {
        let mut c = Calendar::default();
        c.push(5, Ev::Done(1, 0));
        c.push(3, Ev::Done(2, 0));
        c.push(5, Ev::Done(3, 0));
        c.push(3, Ev::Done(4, 0));
        let order: Vec<u32> = std::iter::from_fn(|| c.pop())
            .map(|(_, ev)| match ev {
                Ev::Done(id, _) => id,
                _ => 0,
            })
            .collect();
        assert_eq!(order, [2, 4, 1, 3]);
    }
}
