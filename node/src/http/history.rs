//! The dashboard's last five minutes: the recorder task that fills this node's ring (`history.rs`) once
//! per second, `GET /events/history` (this node's series) and `GET /events/cluster/history` (the serving
//! node's and each peer's, what the page draws as soon as it opens).
//!
//! The recorder runs on worker 0 whether or not a dashboard is open — it is what makes the history exist
//! — and costs one pass over the counters per second (the same sums a snapshot makes, without the JSON).
//! The cluster form fetches each member's `/events/history` once, concurrently, through the dashboard's
//! peer fetch (`events::fetch`, its timeout and size limit); a peer that does not answer in time is
//! listed as unreachable. Pages opened within the same second on a worker share one round.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::events;
use super::respond::Response;
use crate::auth::unix_ms;
use crate::history::{self, Gauges, Record, Series};
use crate::snapshot::{self, PeerState};
use crate::worker::Worker;

/// Path of one node's history: what the serving node fetches from each peer.
pub const HISTORY_PATH: &str = "/events/history";

thread_local! {
    /// The last cluster history built on this worker and the Unix second it was built in.
    static LAST: RefCell<Option<(u64, Rc<Vec<u8>>)>> = const { RefCell::new(None) };
}

/// Records one [`Record`] per wall-clock second into the node's ring until shutdown. Only one task per
/// node may run this (worker 0's): the ring has a single writer.
pub async fn record(w: Rc<Worker>) {
    let node = &w.node;
    let mut prev = events::own_totals(&w);
    let mut prev_at = Instant::now();
    loop {
        monoio::select! {
            () = monoio::time::sleep(to_next_second(unix_ms(SystemTime::now()))) => {}
            () = node.shutdown.wait() => return,
        }
        let cur = events::own_totals(&w);
        let at = Instant::now();
        let a = &node.admission;
        let gauges = Gauges {
            running: a.running(),
            queued: a.queued(),
            slots: a.slots(),
        };
        let end_ms = unix_ms(SystemTime::now());
        node.history.push(&Record::between(
            &prev,
            &cur,
            gauges,
            end_ms,
            at.duration_since(prev_at),
        ));
        (prev, prev_at) = (cur, at);
    }
}

/// How long from `now_ms` (Unix ms) to the next second boundary, at least half a second away: a timer
/// that fired a little early does not make a record of a few milliseconds.
fn to_next_second(now_ms: u64) -> Duration {
    let wait = 1000 - now_ms % 1000;
    Duration::from_millis(if wait < 500 { wait + 1000 } else { wait })
}

/// This node's series now.
fn own_series(w: &Worker) -> Series {
    let mut records = Vec::with_capacity(history::LEN);
    w.node.history.read_into(&mut records);
    let own = w.node.peers.own();
    Series::new(own.id.clone(), own.addr.clone(), &records)
}

/// `GET /events/history`.
pub fn own(w: &Worker, resp: &mut Response) {
    resp.header("Cache-Control", b"no-store");
    resp.json(200, &own_series(w));
}

/// `GET /events/cluster/history`: this node's series and each member's, fetched now.
pub async fn cluster(w: &Rc<Worker>, resp: &mut Response) {
    let second = unix_ms(SystemTime::now()) / 1000;
    let cached = LAST.with_borrow(|last| {
        last.as_ref()
            .filter(|(at, _)| *at == second)
            .map(|(_, json)| Rc::clone(json))
    });
    let json = match cached {
        Some(json) => json,
        None => {
            let json = Rc::new(build(w).await);
            LAST.set(Some((second, Rc::clone(&json))));
            // Held for the rest of this second only: a large cluster's answer (~25 KB a node) is not
            // kept for nothing.
            monoio::spawn(async move {
                monoio::time::sleep(Duration::from_secs(1)).await;
                LAST.with_borrow_mut(|last| {
                    if last.as_ref().is_some_and(|(at, _)| *at == second) {
                        *last = None;
                    }
                });
            });
            json
        }
    };
    resp.header("Content-Type", b"application/json");
    resp.header("Cache-Control", b"no-store");
    resp.body.extend_from_slice(&json);
}

/// Asks every member for its history at once and builds the cluster answer (JSON).
async fn build(w: &Rc<Worker>) -> Vec<u8> {
    let table = w.peers();
    let members: Vec<(String, &str)> = events::members(&table)
        .map(|p| {
            (
                p.machine_id.clone().unwrap_or_else(|| p.addr.clone()),
                p.addr.as_str(),
            )
        })
        .collect();
    let rounds: Vec<_> = events::members(&table)
        .map(|p| {
            let (w, target) = (Rc::clone(w), p.target.clone());
            monoio::spawn(async move { events::fetch(&w, &target, HISTORY_PATH).await })
        })
        .collect();
    let mut answers: Vec<Option<Value>> = Vec::with_capacity(rounds.len());
    for round in rounds {
        answers.push(round.await);
    }
    let own = own_series(w);
    let own_value = serde_json::to_value(&own).unwrap_or(Value::Null);
    let states: Vec<PeerState<'_>> = members
        .iter()
        .zip(&answers)
        .map(|((id, addr), answer)| PeerState {
            id,
            addr,
            snapshot: answer.as_ref(),
        })
        .collect();
    let (nodes, unreachable) = snapshot::split(&own_value, &states);
    serde_json::to_vec(&history::Cluster {
        own: &own.id,
        nodes,
        unreachable,
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::to_next_second;
    use std::time::Duration;

    #[test]
    fn the_recorder_wakes_on_the_next_second_at_least_half_a_second_away() {
        assert_eq!(to_next_second(5_000), Duration::from_millis(1000));
        assert_eq!(to_next_second(5_010), Duration::from_millis(990));
        assert_eq!(to_next_second(5_500), Duration::from_millis(500));
        // Woken a little early: skip to the boundary after.
        assert_eq!(to_next_second(5_999), Duration::from_millis(1001));
    }
}
