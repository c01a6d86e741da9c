//! The node's table of peers: who they are, where they are, which functions they serve, which protocol
//! they speak and their last reported load. Schedulers see it through [`Snapshot::fill_view`].
//!
//! Each peer gets a stable [`PeerId`] (its slot) the first time it is seen; slots are never reused, so a
//! learning action keeps addressing the same peer. Identity and functions change rarely and are published
//! as immutable snapshots (workers compare a generation number, like the function registry); loads change
//! all the time and live in atomics shared by every snapshot, so a report never republishes anything.

pub mod gossip;
pub mod path;
pub mod wire;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::config::{HttpTarget, parse_http_url};
use crate::peers::path::{Path, Quoted};
use crate::scheduler::{PeerId, PeerLoad, PeerView};

/// Most peers one decision looks at (a stack array; larger clusters are seen through a rotating window).
pub const MAX_VIEW: usize = 64;
/// Failed refreshes after which a peer is considered down (until it answers again).
const DOWN_AFTER_FAILURES: u32 = 3;

/// What changes often about a peer, shared by all snapshots.
#[derive(Debug)]
pub struct Live {
    running: AtomicU32,
    queued: AtomicU32,
    slots: AtomicU32,
    /// Milliseconds since the node started at the last report, 0 = never.
    reported_ms: AtomicU64,
    failures: AtomicU32,
    native: AtomicBool,
    /// Forgotten by `/discovery/reset` until it is added again.
    removed: AtomicBool,
    /// A SWIM member: liveness and load come from gossip, not from refreshes.
    gossiping: AtomicBool,
    /// Round trip of the last answered probe or gossip message, in microseconds (0 = none yet).
    rtt_us: AtomicU32,
    /// Its group (`machine_group_name`), as it last reported it.
    group: Mutex<String>,
    /// Jobs this node forwarded to it and it answered (the dashboard's flow arrows).
    forwarded: AtomicU64,
}

/// One peer as a snapshot holds it.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Stable id.
    pub id: PeerId,
    /// `host:port`.
    pub addr: String,
    /// Parsed address for the HTTP client.
    pub target: HttpTarget,
    /// Its `machine_id`, once known.
    pub machine_id: Option<String>,
    /// Functions it serves, once known (a node never forwards a function a peer does not advertise).
    pub functions: Option<Arc<BTreeSet<String>>>,
    /// Another address of a node already listed (a seed given by host name, say), or this node itself:
    /// never a target and not listed, so one node is never counted twice.
    pub alias: bool,
    /// Loads and health.
    pub live: Arc<Live>,
}

impl Peer {
    /// Whether it answered recently enough to be used.
    pub fn is_up(&self) -> bool {
        self.live.failures.load(Relaxed) < DOWN_AFTER_FAILURES && !self.live.removed.load(Relaxed)
    }

    /// Whether gossip keeps it current (no load probes needed).
    pub fn is_gossiping(&self) -> bool {
        self.live.gossiping.load(Relaxed)
    }

    /// Whether `/discovery/reset` forgot it.
    pub fn is_removed(&self) -> bool {
        self.live.removed.load(Relaxed)
    }

    /// Whether it has ever answered (a claimed address is trusted only then).
    pub fn has_answered(&self) -> bool {
        self.live.reported_ms.load(Relaxed) > 0
    }

    /// Failed refreshes in a row (the original's `dead_polls`).
    pub fn failures(&self) -> u32 {
        self.live.failures.load(Relaxed)
    }

    /// Milliseconds since the table was created at its last report (0 = never).
    pub fn reported_ms(&self) -> u64 {
        self.live.reported_ms.load(Relaxed)
    }

    /// Round trip of its last answered probe or gossip message (the original's `ping`).
    pub fn rtt(&self) -> Option<Duration> {
        let us = self.live.rtt_us.load(Relaxed);
        (us > 0).then(|| Duration::from_micros(u64::from(us)))
    }

    /// Its group, as it last reported it (empty when unknown).
    pub fn group(&self) -> String {
        self.live
            .group
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Jobs this node forwarded to it and it answered.
    pub fn forwarded(&self) -> u64 {
        self.live.forwarded.load(Relaxed)
    }

    /// Whether it has shown it speaks the native protocol.
    pub fn speaks_native(&self) -> bool {
        self.live.native.load(Relaxed)
    }

    /// Whether it serves `function` (an alias serves nothing).
    pub fn serves(&self, function: &str) -> bool {
        !self.alias
            && self
                .functions
                .as_ref()
                .is_some_and(|f| f.contains(function))
    }

    /// Whether this peer is the node named by an id or address on a job's path.
    pub fn is_on(&self, path: Path<'_>) -> bool {
        path.members()
            .any(|p| p == self.addr || self.machine_id.as_deref() == Some(&*p))
    }
}

/// This node's own identity: never added as a peer. Published with the snapshot, so a worker reads it
/// from its cached copy without a lock; it changes only at bind time and through `/discovery/configuration`.
#[derive(Debug, Default)]
pub struct Own {
    /// Machine id.
    pub id: String,
    /// Advertised address (`ip:port`).
    pub addr: String,
    /// The three as JSON strings, for the path lists every forwarded job carries: `id`, `addr`, and
    /// the address's bare host.
    json: [Quoted; 3],
}

impl Own {
    /// This node's identity as `id` at `addr`.
    pub fn new(id: String, addr: String) -> Self {
        let json = [
            Quoted::new(&id),
            Quoted::new(&addr),
            Quoted::new(wire::bare_host(&addr)),
        ];
        Self { id, addr, json }
    }

    /// `id` as a JSON string.
    pub fn json_id(&self) -> &Quoted {
        &self.json[0]
    }

    /// `addr` as a JSON string.
    pub fn json_addr(&self) -> &Quoted {
        &self.json[1]
    }

    /// The bare host of `addr` (see [`wire::bare_host`]) as a JSON string.
    pub fn json_host(&self) -> &Quoted {
        &self.json[2]
    }
}

/// An immutable view of the table.
#[derive(Debug, Default)]
pub struct Snapshot {
    peers: Vec<Peer>,
    own: Arc<Own>,
}

impl Snapshot {
    /// This node's identity when the snapshot was published.
    pub fn own(&self) -> &Own {
        &self.own
    }

    fn with_peers(&self, peers: Vec<Peer>) -> Arc<Self> {
        Arc::new(Self {
            peers,
            own: Arc::clone(&self.own),
        })
    }

    /// Every peer, in slot order.
    pub fn peers(&self) -> &[Peer] {
        &self.peers
    }

    /// The peer in slot `id`.
    pub fn get(&self, id: PeerId) -> Option<&Peer> {
        self.peers.get(usize::try_from(id.0).ok()?)
    }

    /// Fills `out` with the peers that may take a call of `function` whose path so far is `path` (ids and
    /// addresses): up, serving it, not on the path. Starts at `offset` (rotated per call) so that large
    /// tables are seen evenly through the fixed-size window; returns how many were written.
    pub fn fill_view<'a>(
        &'a self,
        function: &str,
        path: Path<'_>,
        now_ms: u64,
        offset: usize,
        out: &mut [PeerView<'a>; MAX_VIEW],
    ) -> usize {
        let n = self.peers.len();
        let mut len = 0;
        for i in 0..n {
            let p = &self.peers[(offset + i) % n];
            if len == MAX_VIEW {
                break;
            }
            if !p.is_up() || !p.serves(function) || p.is_on(path) {
                continue;
            }
            let reported = p.live.reported_ms.load(Relaxed);
            out[len] = PeerView {
                id: p.id,
                addr: &p.addr,
                load: (reported > 0).then(|| PeerLoad {
                    running: p.live.running.load(Relaxed),
                    queued: p.live.queued.load(Relaxed),
                    slots: p.live.slots.load(Relaxed),
                }),
                age: Duration::from_millis(now_ms.saturating_sub(reported)),
            };
            len += 1;
        }
        len
    }
}

/// The table.
#[derive(Debug)]
pub struct PeerTable {
    started: Instant,
    state: Mutex<Arc<Snapshot>>,
    generation: AtomicU64,
    /// Membership reports of two live nodes claiming one machine id (`p2pfaas_identity_conflicts_total`).
    identity_conflicts: AtomicU64,
}

impl PeerTable {
    /// An empty table for a node that calls itself `machine_id` at `advertise`.
    pub fn new(machine_id: String, advertise: String) -> Self {
        Self {
            started: Instant::now(),
            state: Mutex::new(Arc::new(Snapshot {
                peers: Vec::new(),
                own: Arc::new(Own::new(machine_id, advertise)),
            })),
            generation: AtomicU64::new(1),
            identity_conflicts: AtomicU64::new(0),
        }
    }

    /// Counts one report of two live nodes using one machine id.
    pub fn count_identity_conflict(&self) {
        self.identity_conflicts.fetch_add(1, Relaxed);
    }

    /// Identity conflicts reported so far.
    pub fn identity_conflicts(&self) -> u64 {
        self.identity_conflicts.load(Relaxed)
    }

    /// This node's identity (the hot path reads it from a worker's cached snapshot instead).
    pub fn own(&self) -> Arc<Own> {
        Arc::clone(&self.snapshot().1.own)
    }

    /// Sets this node's identity (the advertised address is known only once the port is bound) and
    /// publishes it with a new snapshot.
    pub fn set_own(&self, machine_id: String, advertise: String) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        *state = Arc::new(Snapshot {
            peers: state.peers.clone(),
            own: Arc::new(Own::new(machine_id, advertise)),
        });
        self.generation.fetch_add(1, Relaxed);
    }

    /// Milliseconds since the table was created (the clock of load reports).
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The current snapshot and its generation.
    pub fn snapshot(&self) -> (u64, Arc<Snapshot>) {
        let guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        (self.generation.load(Relaxed), Arc::clone(&guard))
    }

    /// Generation of the current snapshot.
    pub fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    /// Adds a peer by address (or returns the one already there). Ignores this node's own address.
    pub fn add(&self, addr: &str) -> Option<PeerId> {
        let own = self.own();
        if addr == own.addr || addr == own.id {
            return None;
        }
        let target = parse_http_url(&format!("http://{addr}")).ok()?;
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(p) = state.peers.iter().find(|p| p.addr == addr) {
            p.live.removed.store(false, Relaxed);
            return Some(p.id);
        }
        let id = PeerId(u32::try_from(state.peers.len()).ok()?);
        let mut peers = state.peers.clone();
        peers.push(Peer {
            id,
            addr: addr.to_owned(),
            target,
            machine_id: None,
            functions: None,
            alias: false,
            live: Arc::new(Live {
                running: AtomicU32::new(0),
                queued: AtomicU32::new(0),
                slots: AtomicU32::new(0),
                reported_ms: AtomicU64::new(0),
                failures: AtomicU32::new(0),
                native: AtomicBool::new(false),
                removed: AtomicBool::new(false),
                gossiping: AtomicBool::new(false),
                rtt_us: AtomicU32::new(0),
                group: Mutex::new(String::new()),
                forwarded: AtomicU64::new(0),
            }),
        });
        *state = state.with_peers(peers);
        self.generation.fetch_add(1, Relaxed);
        Some(id)
    }

    /// Forgets every peer (the original's `/reset`); their slots stay reserved, and adding one again
    /// brings it back under the same id.
    pub fn remove_all(&self) {
        let (_, snapshot) = self.snapshot();
        for p in snapshot.peers() {
            p.live.removed.store(true, Relaxed);
        }
    }

    /// When the table was created, as Unix seconds (to turn report times into the original's timestamps).
    pub fn unix_at_start(&self) -> u64 {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        since
            .as_secs()
            .saturating_sub(self.started.elapsed().as_secs())
    }

    /// Records a load report from peer `id` (a probe, a refresh or a piggybacked response).
    pub fn report_load(&self, live: &Live, load: PeerLoad) {
        live.running.store(load.running, Relaxed);
        live.queued.store(load.queued, Relaxed);
        live.slots.store(load.slots, Relaxed);
        live.reported_ms.store(self.now_ms().max(1), Relaxed);
        live.failures.store(0, Relaxed);
    }

    /// Marks peer `id` as kept current by gossip (or not).
    pub fn mark_gossiping(&self, id: PeerId, on: bool) {
        if let Some(p) = self.snapshot().1.get(id) {
            p.live.gossiping.store(on, Relaxed);
        }
    }

    /// Takes the peer at `addr` out of every view (membership says the member `machine_id` there is dead
    /// or gone) until it reports a load again; unless the peer there now answers under another id.
    pub fn mark_down_if(&self, addr: &str, machine_id: &str) {
        let (_, snapshot) = self.snapshot();
        if let Some(p) = snapshot.peers().iter().find(|p| p.addr == addr)
            && p.machine_id.as_deref().is_none_or(|id| id == machine_id)
        {
            p.live.failures.store(DOWN_AFTER_FAILURES, Relaxed);
            if p.machine_id.is_some() && !p.alias {
                // Another address of the same node (it moved) may now be the one to use.
                self.reselect(machine_id);
            }
        }
    }

    /// Re-runs the choice among the entries answering as `machine_id` and republishes if it changed.
    fn reselect(&self, machine_id: &str) {
        let own = self.own();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut peers = state.peers.clone();
        mark_aliases(&mut peers, machine_id, &own.id);
        if peers
            .iter()
            .zip(state.peers.iter())
            .any(|(a, b)| a.alias != b.alias)
        {
            *state = state.with_peers(peers);
            self.generation.fetch_add(1, Relaxed);
        }
    }

    /// Records the round trip of an answered probe or gossip message.
    pub fn report_rtt(live: &Live, rtt: Duration) {
        let us = u32::try_from(rtt.as_micros()).unwrap_or(u32::MAX).max(1);
        live.rtt_us.store(us, Relaxed);
    }

    /// Records the round trip of a message answered by the peer at `addr`, if it is known.
    pub fn report_rtt_at(&self, addr: &str, rtt: Duration) {
        let (_, snapshot) = self.snapshot();
        if let Some(p) = snapshot.peers().iter().find(|p| p.addr == addr) {
            Self::report_rtt(&p.live, rtt);
        }
    }

    /// Records the group a peer reported (gossip or its load report).
    pub fn report_group(live: &Live, group: &str) {
        let mut g = live.group.lock().unwrap_or_else(PoisonError::into_inner);
        if *g != group {
            group.clone_into(&mut g);
        }
    }

    /// Records that a peer did not answer.
    pub fn report_failure(live: &Live) {
        live.failures.fetch_add(1, Relaxed);
    }

    /// Counts one job forwarded to a peer that answered.
    pub fn count_forward(live: &Live) {
        live.forwarded.fetch_add(1, Relaxed);
    }

    /// Records that a peer speaks the native protocol.
    pub fn report_native(live: &Live) {
        live.native.store(true, Relaxed);
    }

    /// Updates a peer's identity and functions when they changed; republishes only then. A peer that
    /// turns out to be this node (same machine id) is given no functions, so nothing is sent to it.
    pub fn report_identity(&self, id: PeerId, machine_id: &str, functions: BTreeSet<String>) {
        let own = self.own();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(p) = state.get(id) else { return };
        if p.machine_id.as_deref() == Some(machine_id) && p.functions.as_deref() == Some(&functions)
        {
            return;
        }
        let mut peers = state.peers.clone();
        if let Some(p) = usize::try_from(id.0).ok().and_then(|i| peers.get_mut(i)) {
            p.machine_id = Some(machine_id.to_owned());
            p.functions = Some(Arc::new(functions));
        }
        mark_aliases(&mut peers, machine_id, &own.id);
        *state = state.with_peers(peers);
        self.generation.fetch_add(1, Relaxed);
    }
}

/// Among the entries that answered as `machine_id`, keeps one usable — one that is up, then the one
/// membership gossips about (its advertised address), else the oldest — and marks the rest as aliases;
/// all of them when `machine_id` is this node's own.
fn mark_aliases(peers: &mut [Peer], machine_id: &str, own_id: &str) {
    let same = |p: &Peer| p.machine_id.as_deref() == Some(machine_id) && !p.is_removed();
    let keep = if machine_id == own_id {
        None
    } else {
        peers
            .iter()
            .filter(|p| same(p))
            .min_by_key(|p| (!p.is_up(), !p.is_gossiping(), p.id.0))
            .map(|p| p.id)
    };
    for p in peers.iter_mut().filter(|p| same(p)) {
        p.alias = Some(p.id) != keep;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn slots_are_stable_and_self_is_ignored() {
        let t = PeerTable::new("me".into(), "127.0.0.1:1".into());
        assert_eq!(t.add("127.0.0.1:1"), None);
        assert_eq!(t.add("127.0.0.1:2"), Some(PeerId(0)));
        assert_eq!(t.add("127.0.0.1:3"), Some(PeerId(1)));
        assert_eq!(t.add("127.0.0.1:2"), Some(PeerId(0)));
        assert_eq!(t.add("not an address"), None);
        assert_eq!(t.snapshot().1.peers().len(), 2);
    }

    #[test]
    fn view_holds_only_peers_that_may_take_the_job() {
        let t = PeerTable::new("me".into(), "127.0.0.1:1".into());
        let a = t.add("127.0.0.1:2").expect("added");
        let b = t.add("127.0.0.1:3").expect("added");
        let c = t.add("127.0.0.1:4").expect("added");
        t.report_identity(a, "a", set(&["echo"]));
        t.report_identity(b, "b", set(&["echo", "sleep"]));
        // c never reported its functions: never a target.
        let (_, snap) = t.snapshot();
        let live = |id: PeerId| Arc::clone(&snap.get(id).expect("present").live);
        t.report_load(
            &live(b),
            PeerLoad {
                running: 2,
                queued: 1,
                slots: 4,
            },
        );
        let ids = |f: &str, path: &[u8]| {
            let path = Path::parse(path).expect("a path");
            let (_, snap) = t.snapshot();
            let mut out = [PeerView {
                id: PeerId(0),
                addr: "",
                load: None,
                age: Duration::ZERO,
            }; MAX_VIEW];
            let n = snap.fill_view(f, path, t.now_ms(), 0, &mut out);
            let loads: Vec<Option<u32>> =
                out[..n].iter().map(|p| p.load.map(|l| l.jobs())).collect();
            (out[..n].iter().map(|p| p.id).collect::<Vec<_>>(), loads)
        };
        assert_eq!(ids("echo", b"[]").0, vec![a, b]);
        assert_eq!(ids("sleep", b"[]"), (vec![b], vec![Some(3)]));
        assert_eq!(ids("echo", br#"["b"]"#).0, vec![a]);
        assert_eq!(ids("echo", br#"["127.0.0.1:2"]"#).0, vec![b]);
        // Three failed refreshes take a peer out until it answers again.
        for _ in 0..3 {
            PeerTable::report_failure(&live(a));
        }
        assert_eq!(ids("echo", b"[]").0, vec![b]);
        let _ = c;
    }

    #[test]
    fn a_second_address_of_a_known_node_or_of_this_node_is_an_alias() {
        let t = PeerTable::new("me".into(), "127.0.0.1:1".into());
        let seed = t.add("localhost:2").expect("added");
        let me = t.add("localhost:1").expect("added");
        let real = t.add("127.0.0.1:2").expect("added");
        t.report_identity(seed, "b", set(&["echo"]));
        t.report_identity(me, "me", set(&["echo"]));
        let aliases = || -> Vec<bool> { t.snapshot().1.peers().iter().map(|p| p.alias).collect() };
        // Only the seed has answered as b so far: it is b.
        assert_eq!(aliases(), vec![false, true, false]);
        // b's advertised address answers too, and gossip vouches for it: it takes over.
        t.mark_gossiping(real, true);
        t.report_identity(real, "b", set(&["echo"]));
        assert_eq!(aliases(), vec![true, true, false]);
        let (_, snap) = t.snapshot();
        assert!(!snap.get(seed).expect("present").serves("echo"));
        assert!(snap.get(real).expect("present").serves("echo"));
    }
}
