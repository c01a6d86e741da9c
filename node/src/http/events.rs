//! `GET /events` (the dashboard's Server-Sent Events stream), `GET /events/cluster` (the same frame
//! once, for the page's first paint), `GET /events/snapshot` (this node's snapshot, once: what peers
//! fetch) and the per-worker hub between them.
//!
//! The serving node aggregates: while at least one `/events` stream is open on a worker, that worker
//! fetches each peer's `/events/snapshot` once per second, and every stream on it is sent the same
//! cluster frame (built at most once per second, shared by all dashboards). So the browser talks to one
//! origin only — no CORS, no need to reach every node, one place to check the cluster key — and a node
//! with no dashboard open does nothing at all.
//!
//! A stream is a task like any connection: it writes ~1–3 KB per second and sleeps in between, so it
//! never holds a worker. It ends when the client goes away (a write fails or stalls for
//! `WRITE_TIMEOUT`) or the node shuts down.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use monoio::io::AsyncWriteRentExt;
use monoio::net::TcpStream;
use serde_json::Value;

use super::client::ClientRequest;
use super::codec;
use super::respond::Response;
use crate::auth::unix_ms;
use crate::backend::{Headers, Output};
use crate::peers::{Peer, Snapshot};
use crate::snapshot::{self, NodeSnapshot, PeerState};
use crate::worker::Worker;

/// Path of the one-node snapshot peers serve.
pub const SNAPSHOT_PATH: &str = "/events/snapshot";
/// Time between frames, and between peer fetches.
const PERIOD: Duration = Duration::from_secs(1);
/// A peer snapshot older than this is shown as unreachable.
const STALE_AFTER: Duration = Duration::from_secs(5);
/// A peer that does not answer within this is asked again next period.
const FETCH_TIMEOUT: Duration = Duration::from_millis(900);
/// A client that has not taken a frame within this is gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest peer answer accepted (a 64-peer node's snapshot is ~10 KB, a full history ~25 KB).
const MAX_SNAPSHOT_BYTES: usize = 256 * 1024;

/// What the streams of one worker share.
#[derive(Default)]
struct Hub {
    /// Open `/events` streams on this worker.
    subscribers: Cell<usize>,
    /// Whether the peer-fetching task runs.
    fetching: Cell<bool>,
    /// When the peers were last asked (bounds one-off requests to one round per period).
    last_round: Cell<Option<Instant>>,
    /// Latest snapshot of each peer by address, and when it arrived.
    peers: RefCell<HashMap<String, (Value, Instant)>>,
    /// The last frame (JSON) and the Unix second it was built for.
    frame: RefCell<Option<(u64, Rc<Vec<u8>>)>>,
}

thread_local! {
    /// One hub per worker thread (workers are thread-per-core; nothing here crosses threads).
    static HUB: Rc<Hub> = Rc::new(Hub::default());
}

fn hub() -> Rc<Hub> {
    HUB.with(Rc::clone)
}

/// Counts an open stream for as long as it lives.
struct Subscription(Rc<Hub>);

impl Drop for Subscription {
    fn drop(&mut self) {
        self.0
            .subscribers
            .set(self.0.subscribers.get().saturating_sub(1));
    }
}

/// The members of the peer table: what the dashboard shows (aliases and removed peers are not).
pub(super) fn members(peers: &Snapshot) -> impl Iterator<Item = &Peer> {
    peers.peers().iter().filter(|p| !p.alias && !p.is_removed())
}

/// This node's cumulative counters now, summed over every worker and function.
pub fn own_totals(w: &Worker) -> snapshot::Totals {
    let workers: Vec<&crate::metrics::WorkerMetrics> =
        w.node.metrics.iter().map(AsRef::as_ref).collect();
    let table = w.functions();
    snapshot::totals(&workers, table.iter().flat_map(|f| f.all_metrics()))
}

/// This node's snapshot now.
pub fn own_snapshot(w: &Worker) -> NodeSnapshot {
    let node = &w.node;
    let own = node.peers.own();
    let (id, addr) = (own.id.clone(), own.addr.clone());
    let counters = own_totals(w);
    let a = &node.admission;
    let table = w.peers();
    let peers = members(&table)
        .map(|p| snapshot::Link {
            id: p.machine_id.clone().unwrap_or_else(|| p.addr.clone()),
            addr: p.addr.clone(),
            up: p.is_up() && p.has_answered(),
            forwarded: p.forwarded(),
        })
        .collect();
    NodeSnapshot {
        id,
        addr,
        t: unix_ms(SystemTime::now()),
        uptime_s: node.started.elapsed().as_secs_f64(),
        running: a.running(),
        queued: a.queued(),
        slots: a.slots(),
        queue_len: a.queue_len(),
        counters,
        scheduler: w.scheduler_name(),
        driver: node.driver.get().map_or("unknown", |d| d.name).to_owned(),
        load: snapshot::Load::from(&node.load()),
        learner: snapshot::Learner::from(&node.agent.stats()),
        peers,
    }
}

/// `GET /events/snapshot`.
pub fn snapshot(w: &Worker, resp: &mut Response) {
    resp.header("Cache-Control", b"no-store");
    resp.json(200, &own_snapshot(w));
}

/// `GET /events/cluster`: the current cluster frame, once, as plain JSON (the page's first paint; a
/// one-off request, unlike the stream). Without a stream open on this worker, the peers are asked first
/// (at most once per period, however often this is called).
pub async fn cluster(w: &Rc<Worker>, resp: &mut Response) {
    let hub = hub();
    let due = hub.last_round.get().is_none_or(|at| at.elapsed() >= PERIOD);
    if !hub.fetching.get() && due {
        for round in fetch_round(w, &hub) {
            round.await;
        }
        hub.frame.borrow_mut().take();
    }
    let frame = current_frame(w, &hub);
    resp.header("Content-Type", b"application/json");
    resp.header("Cache-Control", b"no-store");
    resp.body.extend_from_slice(&frame);
}

/// Serves `GET /events` on `stream` until the client leaves or the node shuts down. The request has been
/// read; this writes the whole response.
pub async fn stream(stream: &mut TcpStream, w: &Rc<Worker>) {
    let hub = hub();
    hub.subscribers.set(hub.subscribers.get() + 1);
    let _subscription = Subscription(Rc::clone(&hub));
    if !write(stream, snapshot::SSE_HEAD.to_vec()).await {
        return;
    }
    if !hub.fetching.get() {
        // The first stream on this worker: wait for the peers' first answers (bounded by
        // FETCH_TIMEOUT), so that its first frame shows the whole cluster, then keep them coming.
        hub.fetching.set(true);
        for round in fetch_round(w, &hub) {
            round.await;
        }
        hub.frame.borrow_mut().take();
        monoio::spawn(fetch_peers(Rc::clone(w), Rc::clone(&hub)));
    }
    let shutdown = &w.node.shutdown;
    loop {
        let frame = current_frame(w, &hub);
        let mut event = Vec::with_capacity(frame.len() + 16);
        snapshot::sse_event(&mut event, &frame);
        if !write(stream, event).await {
            return;
        }
        monoio::select! {
            () = monoio::time::sleep(PERIOD) => {}
            () = shutdown.wait() => return,
        }
    }
}

/// Writes `buf`; false when the client is gone or stalled.
async fn write(stream: &mut TcpStream, buf: Vec<u8>) -> bool {
    matches!(
        monoio::time::timeout(WRITE_TIMEOUT, stream.write_all(buf)).await,
        Ok((Ok(_), _))
    )
}

/// The cluster frame (JSON) for the current second, built by the first reader that asks for it.
fn current_frame(w: &Worker, hub: &Hub) -> Rc<Vec<u8>> {
    let second = unix_ms(SystemTime::now()) / 1000;
    if let Some((at, frame)) = hub.frame.borrow().as_ref()
        && *at == second
    {
        return Rc::clone(frame);
    }
    let own = own_snapshot(w);
    let own_value = serde_json::to_value(&own).unwrap_or(Value::Null);
    let now = Instant::now();
    let stored = hub.peers.borrow();
    let states: Vec<PeerState<'_>> = own
        .peers
        .iter()
        .map(|p| PeerState {
            id: &p.id,
            addr: &p.addr,
            snapshot: stored
                .get(&p.addr)
                .filter(|(_, at)| now.duration_since(*at) < STALE_AFTER)
                .map(|(v, _)| v),
        })
        .collect();
    let frame = snapshot::frame(&own_value, &own.id, w.node.auth.enabled(), &states);
    let json = Rc::new(serde_json::to_vec(&frame).unwrap_or_default());
    drop(stored);
    *hub.frame.borrow_mut() = Some((second, Rc::clone(&json)));
    json
}

/// Asks every peer for its snapshot once; each answer lands in the hub as it arrives.
fn fetch_round(w: &Rc<Worker>, hub: &Rc<Hub>) -> Vec<monoio::task::JoinHandle<()>> {
    hub.last_round.set(Some(Instant::now()));
    let peers = w.peers();
    let members: Vec<_> = members(&peers).collect();
    // Forget peers the membership dropped.
    hub.peers
        .borrow_mut()
        .retain(|addr, _| members.iter().any(|p| p.addr == *addr));
    members
        .into_iter()
        .map(|p| {
            let (w, hub, target, addr) = (
                Rc::clone(w),
                Rc::clone(hub),
                p.target.clone(),
                p.addr.clone(),
            );
            monoio::spawn(async move {
                if let Some(v) = fetch(&w, &target, SNAPSHOT_PATH).await {
                    hub.peers.borrow_mut().insert(addr, (v, Instant::now()));
                }
            })
        })
        .collect()
}

/// Asks the peers once per period while this worker has a stream open.
async fn fetch_peers(w: Rc<Worker>, hub: Rc<Hub>) {
    loop {
        monoio::select! {
            () = monoio::time::sleep(PERIOD) => {}
            () = w.node.shutdown.wait() => break,
        }
        if hub.subscribers.get() == 0 {
            break;
        }
        // Not awaited: a slow peer shows as stale instead of delaying the others.
        drop(fetch_round(&w, &hub));
    }
    hub.fetching.set(false);
    hub.peers.borrow_mut().clear();
}

/// A peer's answer to `GET path` (its snapshot or its history), if it answers in time with a JSON
/// object.
pub(super) async fn fetch(
    w: &Worker,
    target: &crate::config::HttpTarget,
    path: &str,
) -> Option<Value> {
    let req = ClientRequest {
        method: "GET",
        target: path.into(),
        headers: Headers::default(),
        authorization: None,
        content_type: None,
        body: b"",
        extra: &[],
    };
    let limits = codec::Limits {
        max_head_bytes: 16 * 1024,
        max_headers: codec::MAX_HEADERS,
        max_body_bytes: MAX_SNAPSHOT_BYTES,
    };
    let mut out = Output::default();
    let sent = monoio::time::timeout(FETCH_TIMEOUT, w.pool.send(target, &req, &mut out, &limits));
    if !matches!(sent.await, Ok(Ok(()))) || out.status != 200 {
        return None;
    }
    match serde_json::from_slice(&out.body) {
        Ok(v @ Value::Object(_)) => Some(v),
        _ => None,
    }
}
