//! The discrete-event engine of one point: a binary heap of timed events, a virtual clock in ns, N nodes
//! each with the node's admission rule (`queue::rule::Sequential` plus a FIFO of job ids) and its own
//! instance of the node's `Scheduler`, and a slab of jobs. It calls the schedulers exactly as the node's
//! invoke path does (`decide`, probes, Tau, `after_probe`, forward, one fallback on a refusal, reward)
//! and owns no scheduling rule itself. Nothing here allocates per event once the slab and heap are warm.

use std::collections::VecDeque;
use std::time::Duration;

use p2pfaas_core::admission::{Sequential, Verdict};
use p2pfaas_core::scheduler::{
    Admission, Decision, JobMeta, Learning, MAX_PROBES, NodeView, Note, PeerId, PeerLoad, PeerView,
    ProbeResult, Scheduler, TypeLoad,
};
use rand::rngs::SmallRng;

use super::batch::Batches;
use super::event::{Calendar, Ev};
use super::service::Service;
use crate::arrivals::Schedule;
use crate::experiment::report::Accumulator;
use crate::load::record::Record;

/// Answered with the function's result.
const OK: u16 = 200;
/// Refused by admission (`Error::Overloaded`).
const OVERLOADED: u16 = 429;
/// Refused by the scheduler (`Error::Rejected`).
const REJECTED: u16 = 503;

/// Longest path a job can travel: every node once.
const MAX_PATH: usize = 64;

/// Rewards of a learning decision, as `[learner]` sets them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rewards {
    pub(crate) met: f32,
    pub(crate) missed: f32,
    pub(crate) rejected: f32,
}

/// One node's fixed inputs.
pub(crate) struct NodeSetup {
    pub(crate) speed: f64,
    pub(crate) arrivals: Option<Schedule>,
    pub(crate) classes: SmallRng,
}

/// Everything a point needs besides the nodes.
pub(crate) struct Setup<'a> {
    pub(crate) slots: usize,
    pub(crate) queue_len: usize,
    pub(crate) task_types: usize,
    pub(crate) link_ns: u64,
    pub(crate) probe_extra_ns: u64,
    pub(crate) refresh_ns: u64,
    pub(crate) warmup_ns: u64,
    pub(crate) end_ns: u64,
    pub(crate) batches: usize,
    pub(crate) service: &'a Service,
    /// Per class: cumulative weight, task type, deadline in ns.
    pub(crate) classes: &'a [(f64, u16, Option<u64>)],
    pub(crate) rewards: Rewards,
    pub(crate) rng: SmallRng,
    pub(crate) service_rng: SmallRng,
}

struct Node {
    adm: Sequential,
    fifo: VecDeque<u32>,
    speed: f64,
    arrivals: Option<Schedule>,
    classes: SmallRng,
    /// This node's view of every node's load and when it was last heard (ns).
    cache: Vec<(PeerLoad, u64)>,
}

#[derive(Clone, Copy)]
struct Job {
    arrived: u64,
    /// When the job reached the node deciding it (Tau counts from here).
    here_since: u64,
    probe_started: u64,
    seq: u64,
    class: u16,
    task_type: u16,
    len: u8,
    nprobes: u8,
    /// Service time drawn when it started (0 if it never ran).
    service_ns: u64,
    mask: u64,
    path: [u8; MAX_PATH],
    probes: [ProbeResult; MAX_PROBES],
    learning: Option<Learning>,
}

impl Job {
    fn at(&self) -> usize {
        usize::from(self.path[usize::from(self.len) - 1])
    }
    fn hops(&self) -> u32 {
        u32::from(self.len) - 1
    }
}

/// An empty entry of the peer view buffer.
const NO_PEER: PeerView<'static> = PeerView {
    id: PeerId(0),
    addr: "",
    load: None,
    age: Duration::ZERO,
};

/// One point's simulation. Build with [`Engine::new`], then [`Engine::run`].
pub(crate) struct Engine<'a> {
    setup: Setup<'a>,
    nodes: Vec<Node>,
    /// The nodes' schedulers, kept by the caller across points (a learning agent keeps learning).
    scheds: &'a mut [Box<dyn Scheduler>],
    /// Per node × task type: running and queued jobs.
    types: Vec<TypeLoad>,
    needs_peers: bool,
    needs_types: bool,
    jobs: Vec<Job>,
    free: Vec<u32>,
    calendar: Calendar,
    next_job: u64,
    peers: Vec<PeerView<'static>>,
    acc: Accumulator,
    batches: Batches,
    /// Arrivals simulated, warm-up included.
    pub(crate) arrivals: u64,
}

impl<'a> Engine<'a> {
    /// One node per entry of `nodes`, node i deciding with `scheds[i]`.
    pub(crate) fn new(
        setup: Setup<'a>,
        nodes: Vec<NodeSetup>,
        scheds: &'a mut [Box<dyn Scheduler>],
        acc: Accumulator,
    ) -> Self {
        let n = nodes.len();
        let needs_peers = scheds.first().is_some_and(|s| s.needs_peers());
        let needs_types = scheds.first().is_some_and(|s| s.needs_type_loads());
        let mut state = Vec::with_capacity(n);
        for s in nodes {
            state.push(Node {
                adm: Sequential::new(setup.slots, setup.queue_len),
                fifo: VecDeque::with_capacity(setup.queue_len),
                speed: s.speed,
                arrivals: s.arrivals,
                classes: s.classes,
                cache: vec![(idle(setup.slots), 0); n],
            });
        }
        Self {
            types: vec![TypeLoad::default(); n * setup.task_types.max(1)],
            batches: Batches::new(setup.warmup_ns, setup.end_ns, setup.batches),
            setup,
            nodes: state,
            scheds,
            needs_peers,
            needs_types,
            jobs: Vec::new(),
            free: Vec::new(),
            calendar: Calendar::default(),
            next_job: 0,
            peers: vec![NO_PEER; n],
            acc,
            arrivals: 0,
        }
    }

    /// Runs until every arrival before the end has been answered; returns the figures and the
    /// per-batch counts.
    pub(crate) fn run(mut self) -> (Accumulator, Batches, u64) {
        let n = self.nodes.len();
        for i in 0..n {
            self.next_arrival(i);
            if self.setup.refresh_ns > 0 && self.needs_peers {
                // Spread the refreshes over the interval, as independent nodes would.
                let phase = self.setup.refresh_ns * i as u64 / n as u64;
                self.push(phase, Ev::Refresh(node_id(i)));
            }
        }
        while let Some((at, ev)) = self.calendar.pop() {
            match ev {
                Ev::Arrival(i) => self.arrival(usize::from(i), at),
                Ev::Reach(id) => self.reach(id, at),
                Ev::Probed(id) => self.probed(id, at),
                Ev::Decide(id) => self.after_probe(id, at),
                Ev::Done(id) => self.done(id, at),
                Ev::Refused(id) => {
                    let at_node = self.jobs[id as usize].at();
                    self.admit(id, at_node, Admission::Queue, at);
                }
                Ev::Answer(id, status) => self.record_at(id, status, at),
                Ev::Refresh(i) => self.refresh(usize::from(i), at),
            }
        }
        (self.acc, self.batches, self.arrivals)
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.calendar.push(at, ev);
    }

    fn next_arrival(&mut self, i: usize) {
        let next = self.nodes[i].arrivals.as_mut().and_then(Iterator::next);
        if let Some(t) = next {
            let t = u64::try_from(t.as_nanos()).unwrap_or(u64::MAX);
            if t < self.setup.end_ns {
                self.push(t, Ev::Arrival(node_id(i)));
            }
        }
    }

    fn arrival(&mut self, i: usize, now: u64) {
        self.arrivals += 1;
        self.next_arrival(i);
        let class = pick(self.setup.classes, &mut self.nodes[i].classes);
        let (_, task_type, _) = self.setup.classes[usize::from(class)];
        let mut path = [0; MAX_PATH];
        path[0] = node_id(i) as u8;
        let job = Job {
            arrived: now,
            here_since: now,
            probe_started: now,
            seq: self.next_job,
            class,
            task_type,
            len: 1,
            nprobes: 0,
            service_ns: 0,
            mask: 1 << i,
            path,
            probes: [ProbeResult {
                id: PeerId(0),
                load: None,
            }; MAX_PROBES],
            learning: None,
        };
        self.next_job += 1;
        let id = match self.free.pop() {
            Some(id) => {
                self.jobs[id as usize] = job;
                id
            }
            None => {
                self.jobs.push(job);
                u32::try_from(self.jobs.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.decide(id, i, now);
    }

    /// Fills the peer view of node `i` for a job that has visited `mask`.
    fn fill_peers(&mut self, i: usize, mask: u64, now: u64) -> usize {
        if !self.needs_peers {
            return 0;
        }
        let mut len = 0;
        let exact = self.setup.refresh_ns == 0;
        for (m, node) in self.nodes.iter().enumerate() {
            if mask & (1 << m) != 0 {
                continue;
            }
            let (load, at) = if exact {
                (load_of(node), now)
            } else {
                self.nodes[i].cache[m]
            };
            self.peers[len] = PeerView {
                id: PeerId(m as u32),
                addr: "",
                load: Some(load),
                age: Duration::from_nanos(now.saturating_sub(at)),
            };
            len += 1;
        }
        len
    }

    fn meta(&self, id: u32) -> JobMeta {
        let job = &self.jobs[id as usize];
        JobMeta {
            task_type: usize::from(job.task_type),
            external: job.len > 1,
            hops: job.hops(),
        }
    }

    fn decide(&mut self, id: u32, i: usize, now: u64) {
        let meta = self.meta(id);
        let len = self.fill_peers(i, self.jobs[id as usize].mask, now);
        let t = self.setup.task_types.max(1);
        let per_type = if self.needs_types {
            &self.types[i * t..(i + 1) * t]
        } else {
            &[]
        };
        let view = node_view(&self.nodes[i].adm, per_type, &self.peers[..len]);
        let mut note = Note::default();
        let d = self.scheds[i].decide(&meta, &view, &mut self.setup.rng, &mut note);
        if note.learning.is_some() {
            self.jobs[id as usize].learning = note.learning;
        }
        if let Decision::Probe(p) = d {
            let job = &mut self.jobs[id as usize];
            job.nprobes = p.peers().len() as u8;
            for (slot, &peer) in job.probes.iter_mut().zip(p.peers()) {
                *slot = ProbeResult {
                    id: peer,
                    load: None,
                };
            }
            job.probe_started = now;
            let link = self.setup.link_ns;
            if link == 0 {
                self.probed(id, now);
            } else {
                self.push(now + link, Ev::Probed(id));
            }
        } else {
            self.act(id, i, d, now);
        }
    }

    /// The probed peers answer with their load at this moment.
    fn probed(&mut self, id: u32, now: u64) {
        let job = &mut self.jobs[id as usize];
        let i = job.at();
        for p in &mut job.probes[..usize::from(job.nprobes)] {
            let load = load_of(&self.nodes[p.id.0 as usize]);
            p.load = Some(load);
            // Every answer carries the peer's load into the table.
            self.nodes[i].cache[p.id.0 as usize] = (load, now);
        }
        let (started, here_since) = (job.probe_started, job.here_since);
        let answered = started + 2 * self.setup.link_ns + self.setup.probe_extra_ns;
        let tau = self.scheds[i].decision_delay().map_or(0, |d| {
            here_since + u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
        });
        let at = answered.max(tau);
        if at <= now {
            self.after_probe(id, now);
        } else {
            self.push(at, Ev::Decide(id));
        }
    }

    fn after_probe(&mut self, id: u32, now: u64) {
        let meta = self.meta(id);
        let job = self.jobs[id as usize];
        let i = job.at();
        let len = self.fill_peers(i, job.mask, now);
        let t = self.setup.task_types.max(1);
        let per_type = if self.needs_types {
            &self.types[i * t..(i + 1) * t]
        } else {
            &[]
        };
        let view = node_view(&self.nodes[i].adm, per_type, &self.peers[..len]);
        let probes = &job.probes[..usize::from(job.nprobes)];
        let d = self.scheds[i].after_probe(
            &meta,
            &view,
            probes,
            &mut self.setup.rng,
            &mut Note::default(),
        );
        self.act(id, i, d, now);
    }

    /// Carries out a decision made at node `i`, as the node's `invoke::run` does.
    fn act(&mut self, id: u32, i: usize, d: Decision, now: u64) {
        match d {
            Decision::RunLocal(mode) => self.admit(id, i, mode, now),
            Decision::Reject(_) => self.refuse(id, now, REJECTED),
            Decision::Forward(peer) => {
                let job = &mut self.jobs[id as usize];
                let to = peer.0 as usize;
                job.path[usize::from(job.len)] = node_id(to) as u8;
                job.len += 1;
                job.mask |= 1 << to;
                let link = self.setup.link_ns;
                if link == 0 {
                    self.reach(id, now);
                } else {
                    self.push(now + link, Ev::Reach(id));
                }
            }
            // `after_probe` never probes again; the node treats a second probe as "keep it here".
            Decision::Probe(_) => self.admit(id, i, Admission::Queue, now),
        }
    }

    fn reach(&mut self, id: u32, now: u64) {
        let job = &mut self.jobs[id as usize];
        job.here_since = now;
        let i = job.at();
        self.decide(id, i, now);
    }

    fn admit(&mut self, id: u32, i: usize, mode: Admission, now: u64) {
        let t = self.setup.task_types.max(1);
        let ty = i * t + usize::from(self.jobs[id as usize].task_type).min(t - 1);
        match self.nodes[i].adm.admit(mode) {
            Verdict::Run => self.start(id, i, ty, now),
            Verdict::Wait => {
                self.types[ty].queued += 1;
                self.nodes[i].fifo.push_back(id);
            }
            // Also after a peer's refusal: the node answers its own capacity reject (429).
            Verdict::Full => self.refuse(id, now, OVERLOADED),
        }
    }

    fn start(&mut self, id: u32, i: usize, ty: usize, now: u64) {
        self.types[ty].running += 1;
        let service = self.setup.service.sample(&mut self.setup.service_rng) / self.nodes[i].speed;
        let service_ns = service.max(0.0) as u64;
        self.jobs[id as usize].service_ns = service_ns;
        self.push(now + service_ns, Ev::Done(id));
    }

    fn done(&mut self, id: u32, now: u64) {
        let job = self.jobs[id as usize];
        let i = job.at();
        let t = self.setup.task_types.max(1);
        let ty = |task: u16| i * t + usize::from(task).min(t - 1);
        self.types[ty(job.task_type)].running -= 1;
        if self.nodes[i].adm.release()
            && let Some(next) = self.nodes[i].fifo.pop_front()
        {
            let next_ty = ty(self.jobs[next as usize].task_type);
            self.types[next_ty].queued -= 1;
            self.start(next, i, next_ty, now);
        }
        if job.len > 1 {
            // The answer carries the executor's load back to the node that forwarded it.
            let prev = usize::from(job.path[usize::from(job.len) - 2]);
            self.nodes[prev].cache[i] = (load_of(&self.nodes[i]), now);
        }
        self.answer(
            id,
            OK,
            now + self.setup.link_ns * u64::from(job.hops()),
            now,
        );
    }

    /// The node the job is at refuses it: the origin answers `status`; a peer's refusal goes back one
    /// hop, where the node falls back once to running it itself.
    fn refuse(&mut self, id: u32, now: u64, status: u16) {
        let job = &mut self.jobs[id as usize];
        if job.len == 1 {
            self.answer(id, status, now, now);
            return;
        }
        let here = job.at();
        job.len -= 1;
        job.mask &= !(1 << here);
        let link = self.setup.link_ns;
        if link == 0 {
            let prev = job.at();
            self.admit(id, prev, Admission::Queue, now);
        } else {
            self.push(now + link, Ev::Refused(id));
        }
    }

    /// The client gets `status` at `at`; a learning decision is rewarded when the answer reaches its
    /// origin.
    fn answer(&mut self, id: u32, status: u16, at: u64, now: u64) {
        if at > now && self.jobs[id as usize].learning.is_some() {
            self.push(at, Ev::Answer(id, status));
        } else {
            self.record_at(id, status, at);
        }
    }

    fn record_at(&mut self, id: u32, status: u16, at: u64) {
        let job = self.jobs[id as usize];
        let latency = at - job.arrived;
        let (_, _, deadline) = self.setup.classes[usize::from(job.class)];
        let ok = status == OK;
        let met = deadline.map(|d| ok && latency <= d);
        if let (Some(learning), Some(met)) = (&job.learning, met) {
            let r = self.setup.rewards;
            let reward = if met {
                r.met
            } else if status == REJECTED {
                r.rejected
            } else {
                r.missed
            };
            self.scheds[usize::from(job.path[0])].observe(learning, reward);
        }
        if job.arrived >= self.setup.warmup_ns {
            self.batches.add(
                job.arrived,
                ok,
                matches!(status, OVERLOADED | REJECTED),
                latency,
                met,
            );
        }
        self.acc.add(&Record {
            target: u16::from(job.path[0]),
            seq: job.seq,
            intended: Duration::from_nanos(job.arrived),
            send_error_ns: 0,
            status,
            latency: Duration::from_nanos(latency),
            reject_reason: None,
            hops: Some(u16::from(job.len) - 1),
            executor: String::new(),
            error: None,
            class: job.class,
            execution: Some(Duration::from_nanos(job.service_ns)),
            queue: None,
        });
        self.free.push(id);
    }

    fn refresh(&mut self, i: usize, now: u64) {
        for m in 0..self.nodes.len() {
            let load = load_of(&self.nodes[m]);
            self.nodes[i].cache[m] = (load, now);
        }
        if now < self.setup.end_ns {
            self.push(now + self.setup.refresh_ns, Ev::Refresh(node_id(i)));
        }
    }
}

/// What a node's scheduler sees: its admission counts, per-type loads and eligible peers (no load
/// sample: the simulator has no machine to measure).
fn node_view<'v>(
    adm: &Sequential,
    per_type: &'v [TypeLoad],
    peers: &'v [PeerView<'static>],
) -> NodeView<'v> {
    NodeView {
        running: adm.running(),
        queued: adm.queued(),
        slots: adm.slots(),
        queue_len: adm.queue_len(),
        per_type,
        peers,
        sample: None,
    }
}

/// A node's load as it reports it.
fn load_of(node: &Node) -> PeerLoad {
    let u = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    PeerLoad {
        running: u(node.adm.running()),
        queued: u(node.adm.queued()),
        slots: u(node.adm.slots()),
    }
}

fn idle(slots: usize) -> PeerLoad {
    PeerLoad {
        running: 0,
        queued: 0,
        slots: u32::try_from(slots).unwrap_or(u32::MAX),
    }
}

/// Node indices are below 64 (the spec checks it).
fn node_id(i: usize) -> u16 {
    u16::try_from(i).unwrap_or(u16::MAX)
}

/// A class index by weight.
fn pick(classes: &[(f64, u16, Option<u64>)], rng: &mut SmallRng) -> u16 {
    if classes.len() <= 1 {
        return 0;
    }
    let total = classes.last().map_or(1.0, |c| c.0);
    let x = rand::Rng::r#gen::<f64>(rng) * total;
    let i = classes.partition_point(|c| c.0 <= x);
    u16::try_from(i.min(classes.len() - 1)).unwrap_or(0)
}
