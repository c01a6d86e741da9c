//! The event calendar: timed events in a binary heap, earliest first, ties in the order they were
//! scheduled (so a run is deterministic). Events name nodes and jobs by index; nothing is boxed.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// What happens at a point of virtual time.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ev {
    /// A client request reaches node `.0`.
    Arrival(u16),
    /// A forwarded job reaches the last node of its path.
    Reach(u32),
    /// Probes reach the probed peers, which report their load.
    Probed(u32),
    /// Probe answers are in and Tau has passed: `after_probe`.
    Decide(u32),
    /// Service ends.
    Done(u32),
    /// A refusal reaches the node before the last one on the path.
    Refused(u32),
    /// The answer of a learning decision reaches its origin (reward time).
    Answer(u32, u16),
    /// A node refreshes its cached view of every peer.
    Refresh(u16),
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
        c.push(5, Ev::Done(1));
        c.push(3, Ev::Done(2));
        c.push(5, Ev::Done(3));
        c.push(3, Ev::Done(4));
        let order: Vec<u32> = std::iter::from_fn(|| c.pop())
            .map(|(_, ev)| match ev {
                Ev::Done(id) => id,
                _ => 0,
            })
            .collect();
        assert_eq!(order, [2, 4, 1, 3]);
    }
}
