//! The discrete-event engine of one point: a binary heap of timed events, a virtual clock in ns, N nodes
//! each with the node's admission rule (`admission::Sequential` plus a FIFO of job ids) and its own
//! instance of the node's `Scheduler`, and slabs of jobs and of invocation state machines. Each node a
//! job reaches runs the decision core's `Invocation` for it, exactly as the node's `http::invoke`
//! drives it: the engine performs the machine's steps (probes, the Tau wait, forwards, local runs) in
//! virtual time and feeds back their results — including the faults of `[simulation]` — and owns no
//! scheduling rule itself. Nothing here allocates per event once the slabs and heap are warm.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::time::Duration;

use p2pfaas_core::admission::{Sequential, Verdict};
use p2pfaas_core::invocation::{End, ForwardOutcome, Invocation, Step};
use p2pfaas_core::jobs::Executed;
use p2pfaas_core::learning::Rewards;
use p2pfaas_core::load::{LoadSample, Source};
use p2pfaas_core::scheduler::{
    Admission, JobMeta, MAX_PROBES, NodeView, PeerId, PeerLoad, PeerView, ProbeResult, Scheduler,
    TypeLoad,
};
use rand::Rng;
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
/// A forward failed and the fallback found no room either (`Error::PeerFailed`).
const PEER_FAILED: u16 = 502;
/// Refused by the scheduler (`Error::Rejected`).
const REJECTED: u16 = 503;
/// A forward that timed out on a peer that may have run the job (at most once: no fallback).
const FORWARD_TIMEOUT: u16 = 504;

/// Longest path a job can travel: the origin and the schedulers' largest `MaxHops` (64) hops.
const MAX_PATH: usize = 65;
/// Most peers in one decision's view, as on a node (`peers::MAX_VIEW`): beyond it the view is a
/// window of the cluster that rotates from one decision to the next.
const MAX_VIEW: usize = 64;
/// How often a simulated node renews its load sample: the node's default `load.sample_interval_ms`.
const SAMPLE_NS: u64 = 100_000_000;
/// No machine (the bottom of a job's stack).
const NONE: u32 = u32::MAX;

/// The faults `[simulation]` injects.
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults {
    /// Probability that a probe fails (its answer has no load).
    pub(crate) probe_failure: f64,
    /// Probability that a forward fails (connection error, seen after a round trip).
    pub(crate) forward_failure: f64,
    /// Probability that a forward gets no answer within `forward_timeout_ns`.
    pub(crate) forward_timeout: f64,
    pub(crate) forward_timeout_ns: u64,
    /// Mean time between a node's crashes and mean time to repair, ns (exponential; 0: no crashes).
    pub(crate) mtbf_ns: f64,
    pub(crate) mttr_ns: f64,
    /// Scheduled crashes: node, when, how long it stays down (0: for good).
    pub(crate) crashes: Vec<(usize, u64, u64)>,
}

/// One node's fixed inputs.
pub(crate) struct NodeSetup {
    pub(crate) speed: f64,
    /// K and Q of this node (`[[node]]`, else the cluster's).
    pub(crate) slots: usize,
    pub(crate) queue_len: usize,
    pub(crate) arrivals: Option<Schedule>,
    pub(crate) classes: SmallRng,
}

/// Everything a point needs besides the nodes.
pub(crate) struct Setup<'a> {
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
    pub(crate) faults: &'a Faults,
    pub(crate) rng: SmallRng,
    pub(crate) service_rng: SmallRng,
    /// Fault draws only, so that a point without faults draws exactly what it drew before faults
    /// existed.
    pub(crate) fault_rng: SmallRng,
}

/// What one node knows about another: its last reported load, when, and whether it is up.
#[derive(Debug, Clone, Copy)]
struct Known {
    load: PeerLoad,
    at: u64,
    up: bool,
}

struct Node {
    adm: Sequential,
    fifo: VecDeque<u32>,
    speed: f64,
    arrivals: Option<Schedule>,
    classes: SmallRng,
    /// This node's view of every node.
    cache: Vec<Known>,
    /// Where its next peer view starts, in clusters larger than a view.
    view_offset: usize,
    up: bool,
    /// Time-integrals for the load sample: busy slot-ns, and ns with somebody waiting (PSI "some").
    busy_ns: f64,
    waiting_ns: f64,
    changed_at: u64,
    /// The current sample and the integrals when it was taken.
    sample: LoadSample,
    sampled_at: u64,
    busy_then: f64,
    waiting_then: f64,
}

impl Node {
    fn new(cache: Vec<Known>, s: NodeSetup) -> Self {
        Self {
            adm: Sequential::new(s.slots, s.queue_len),
            fifo: VecDeque::with_capacity(s.queue_len),
            speed: s.speed,
            arrivals: s.arrivals,
            classes: s.classes,
            cache,
            view_offset: 0,
            up: true,
            busy_ns: 0.0,
            waiting_ns: 0.0,
            changed_at: 0,
            sample: LoadSample::EMPTY,
            sampled_at: 0,
            busy_then: 0.0,
            waiting_then: 0.0,
        }
    }

    /// Accounts the time since the last change before the counts change.
    fn touch(&mut self, now: u64) {
        let dt = now.saturating_sub(self.changed_at) as f64;
        self.busy_ns += self.adm.running() as f64 * dt;
        if self.adm.queued() > 0 {
            self.waiting_ns += dt;
        }
        self.changed_at = now;
    }

    /// The load sample a scheduler reads at `now`: renewed every [`SAMPLE_NS`] from the node's own
    /// busy slots (each slot a CPU) and waiting jobs, as the node's sampler renews it from the kernel.
    fn sample(&mut self, now: u64) -> LoadSample {
        if now.saturating_sub(self.sampled_at) >= SAMPLE_NS {
            self.touch(now);
            let dt = (now - self.sampled_at) as f64;
            let busy = (self.busy_ns - self.busy_then) / dt;
            let slots = self.adm.slots().max(1) as f64;
            let utilisation = (busy / slots).clamp(0.0, 1.0);
            self.sample = LoadSample {
                source: Source::None,
                utilisation,
                // The busiest "CPU" is busy whenever at least one job runs; with `busy` jobs on
                // average, at least min(busy, 1) of the time.
                utilisation_max_cpu: busy.clamp(0.0, 1.0),
                function_cpu_share: utilisation,
                cpu_pressure: Some(((self.waiting_ns - self.waiting_then) / dt).clamp(0.0, 1.0)),
                cpus: u32::try_from(self.adm.slots()).unwrap_or(u32::MAX),
                interval_ms: dt / 1e6,
                timestamp_ms: now / 1_000_000,
                ..LoadSample::EMPTY
            };
            self.sampled_at = now;
            self.busy_then = self.busy_ns;
            self.waiting_then = self.waiting_ns;
        }
        self.sample
    }
}

#[derive(Clone, Copy)]
struct Job {
    arrived: u64,
    /// When the job reached the node deciding it (the machine's time origin, as on a node).
    here_since: u64,
    probe_started: u64,
    seq: u64,
    class: u16,
    task_type: u16,
    len: u8,
    /// Where a forward in flight goes (the path grows when it arrives).
    to: u16,
    nprobes: u8,
    /// Bumped when the job is cut by a crash: events scheduled before carry the old value.
    epoch: u32,
    live: bool,
    /// The part of the path before the job was cut away by a crash: finish it without answering.
    orphan: bool,
    /// The answer is decided (only the reward is pending).
    answered: bool,
    /// Service time drawn when it started (0 if it never ran).
    service_ns: u64,
    path: [u16; MAX_PATH],
    /// The machine of the node at the end of the path; each machine links to the one below.
    top: u32,
    probes: [ProbeResult; MAX_PROBES],
    /// What the origin answered (for the reward and the record).
    status: u16,
    fallback: Option<&'static str>,
}

impl Job {
    fn at(&self) -> usize {
        usize::from(self.path[usize::from(self.len) - 1])
    }
    fn hops(&self) -> u32 {
        u32::from(self.len) - 1
    }
}

/// One node's invocation state machine for a job, and the machine of the node before it.
#[derive(Clone, Copy)]
struct Frame {
    inv: Invocation,
    below: u32,
}

/// An empty entry of the peer view buffer.
const NO_PEER: PeerView<'static> = PeerView {
    id: PeerId(0),
    addr: "",
    load: None,
    age: Duration::ZERO,
};

const NO_PROBE: ProbeResult = ProbeResult {
    id: PeerId(0),
    load: None,
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
    needs_sample: bool,
    jobs: Vec<Job>,
    free: Vec<u32>,
    frames: Vec<Frame>,
    free_frames: Vec<u32>,
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
        let needs_sample = scheds.first().is_some_and(|s| s.needs_load_sample());
        // Every node starts knowing every peer idle, with that peer's own K.
        let known: Vec<Known> = nodes
            .iter()
            .map(|s| Known {
                load: idle(s.slots),
                at: 0,
                up: true,
            })
            .collect();
        let state = nodes
            .into_iter()
            .map(|s| Node::new(known.clone(), s))
            .collect();
        Self {
            types: vec![TypeLoad::default(); n * setup.task_types.max(1)],
            batches: Batches::new(setup.warmup_ns, setup.end_ns, setup.batches),
            setup,
            nodes: state,
            scheds,
            needs_peers,
            needs_types,
            needs_sample,
            jobs: Vec::new(),
            free: Vec::new(),
            frames: Vec::new(),
            free_frames: Vec::new(),
            calendar: Calendar::default(),
            next_job: 0,
            peers: vec![NO_PEER; n.min(MAX_VIEW)],
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
            self.next_crash(i, 0);
        }
        let faults = self.setup.faults;
        for &(i, at, _) in &faults.crashes {
            if i < n && at < self.setup.end_ns {
                self.push(at, Ev::Crash(node_id(i)));
            }
        }
        while let Some((at, ev)) = self.calendar.pop() {
            match ev {
                Ev::Arrival(i) => self.arrival(usize::from(i), at),
                Ev::Crash(i) => self.crash(usize::from(i), at),
                Ev::Repair(i) => self.repair(usize::from(i), at),
                Ev::Refresh(i) => self.refresh(usize::from(i), at),
                Ev::Reach(id, g) if self.current(id, g) => self.reach(id, at),
                Ev::Probed(id, g) if self.current(id, g) => self.probed(id, at),
                Ev::ProbesIn(id, g) if self.current(id, g) => self.probes_in(id, at),
                Ev::Decide(id, g) if self.current(id, g) => self.waited(id, at),
                Ev::Forwarded(id, g, o) if self.current(id, g) => self.forwarded(id, o, at),
                Ev::Done(id, g) if self.current(id, g) => self.done(id, at),
                Ev::Answer(id, g) if self.current(id, g) => self.record(id, at),
                // Events of a job cut by a crash since they were scheduled.
                _ => {}
            }
        }
        debug_assert!(
            self.jobs.iter().all(|j| !j.live),
            "every job ends answered (or cut off by a crash)"
        );
        (self.acc, self.batches, self.arrivals)
    }

    fn current(&self, id: u32, epoch: u32) -> bool {
        let job = &self.jobs[id as usize];
        job.live && job.epoch == epoch
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.calendar.push(at, ev);
    }

    /// Schedules `ev(id, epoch)` `delay` from `now`.
    fn after(&mut self, delay: u64, now: u64, ev: fn(u32, u32) -> Ev, id: u32) {
        let epoch = self.jobs[id as usize].epoch;
        self.push(now + delay, ev(id, epoch));
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
        path[0] = node_id(i);
        let job = Job {
            arrived: now,
            here_since: now,
            probe_started: now,
            seq: self.next_job,
            class,
            task_type,
            len: 1,
            to: 0,
            nprobes: 0,
            epoch: 0,
            live: true,
            orphan: false,
            answered: false,
            service_ns: 0,
            path,
            top: NONE,
            probes: [NO_PROBE; MAX_PROBES],
            status: 0,
            fallback: None,
        };
        self.next_job += 1;
        let id = self.alloc_job(job);
        if !self.nodes[i].up {
            // The client cannot connect to a crashed node.
            self.jobs[id as usize].status = 0;
            self.record(id, now);
            return;
        }
        self.enter(id, now);
    }

    fn alloc_job(&mut self, job: Job) -> u32 {
        match self.free.pop() {
            Some(id) => {
                let epoch = self.jobs[id as usize].epoch.wrapping_add(1);
                self.jobs[id as usize] = Job { epoch, ..job };
                id
            }
            None => {
                self.jobs.push(job);
                u32::try_from(self.jobs.len() - 1).unwrap_or(u32::MAX)
            }
        }
    }

    fn free_job(&mut self, id: u32) {
        let mut f = self.jobs[id as usize].top;
        while f != NONE {
            self.free_frames.push(f);
            f = self.frames[f as usize].below;
        }
        let job = &mut self.jobs[id as usize];
        job.top = NONE;
        job.live = false;
        self.free.push(id);
    }

    /// The job reached the node at the end of its path: a new machine there, and its first step.
    fn enter(&mut self, id: u32, now: u64) {
        let job = &self.jobs[id as usize];
        let meta = JobMeta {
            task_type: usize::from(job.task_type),
            external: job.len > 1,
            hops: job.hops(),
            deadline: self.setup.classes[usize::from(job.class)]
                .2
                .map(std::time::Duration::from_nanos),
        };
        let below = job.top;
        let f = match self.free_frames.pop() {
            Some(f) => {
                let frame = &mut self.frames[f as usize];
                frame.inv = Invocation::new(meta, None);
                frame.below = below;
                f
            }
            None => {
                self.frames.push(Frame {
                    inv: Invocation::new(meta, None),
                    below,
                });
                u32::try_from(self.frames.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let job = &mut self.jobs[id as usize];
        job.top = f;
        job.here_since = now;
        let step = self.with_machine(id, now, |inv, s, view, rng| inv.start(s, view, rng));
        self.step(id, step, now);
    }

    /// Runs `f` on the job's current machine with its node's scheduler, view and the decision RNG.
    fn with_machine(
        &mut self,
        id: u32,
        now: u64,
        f: impl FnOnce(
            &mut Invocation,
            &mut dyn Scheduler,
            &NodeView<'_>,
            &mut dyn rand::RngCore,
        ) -> Step,
    ) -> Step {
        let (i, top) = {
            let job = &self.jobs[id as usize];
            (job.at(), job.top)
        };
        let len = self.fill_peers(i, id, now);
        let sample = self.needs_sample.then(|| self.nodes[i].sample(now));
        let t = self.setup.task_types.max(1);
        let per_type = if self.needs_types {
            &self.types[i * t..(i + 1) * t]
        } else {
            &[]
        };
        let adm = &self.nodes[i].adm;
        let view = NodeView {
            running: adm.running(),
            queued: adm.queued(),
            slots: adm.slots(),
            queue_len: adm.queue_len(),
            per_type,
            peers: &self.peers[..len],
            sample,
        };
        let inv = &mut self.frames[top as usize].inv;
        f(inv, &mut *self.scheds[i], &view, &mut self.setup.rng)
    }

    /// Fills the peer view of node `i` for job `id`: the nodes it believes up and not on the job's
    /// path, at most [`MAX_VIEW`] of them (a window starting at a rotating offset in larger clusters).
    fn fill_peers(&mut self, i: usize, id: u32, now: u64) -> usize {
        if !self.needs_peers {
            return 0;
        }
        let Self {
            nodes, jobs, peers, ..
        } = self;
        let exact = self.setup.refresh_ns == 0;
        let n = nodes.len();
        let offset = if n > MAX_VIEW {
            let o = (nodes[i].view_offset + 1) % n;
            nodes[i].view_offset = o;
            o
        } else {
            0
        };
        let job = &jobs[id as usize];
        let path = &job.path[..usize::from(job.len)];
        // Up to 64 nodes the path is a bit set (one test per candidate); beyond, a scan of its few hops.
        let mask = if n <= 64 {
            path.iter().fold(0u64, |m, &p| m | 1 << p)
        } else {
            0
        };
        let mut len = 0;
        for k in 0..n {
            if len == MAX_VIEW {
                break;
            }
            let m = if offset + k >= n {
                offset + k - n
            } else {
                offset + k
            };
            let on_path = if n <= 64 {
                mask & (1 << m) != 0
            } else {
                path.contains(&node_id(m))
            };
            if on_path {
                continue;
            }
            let known = if exact {
                let node = &nodes[m];
                Known {
                    load: load_of(node),
                    at: now,
                    up: node.up,
                }
            } else {
                nodes[i].cache[m]
            };
            if !known.up {
                continue;
            }
            peers[len] = PeerView {
                id: peer_id(i, m),
                addr: "",
                load: Some(known.load),
                age: Duration::from_nanos(now.saturating_sub(known.at)),
            };
            len += 1;
        }
        len
    }

    /// Performs one step of the job's current machine.
    fn step(&mut self, id: u32, step: Step, now: u64) {
        match step {
            Step::Probe(p) => {
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
                    self.after(link, now, Ev::Probed, id);
                }
            }
            Step::WaitUntil(at) => {
                let at = self.jobs[id as usize].here_since + ns(at);
                if at <= now {
                    self.waited(id, now);
                } else {
                    self.after(at - now, now, Ev::Decide, id);
                }
            }
            Step::Forward(peer) => {
                let to = peer_index(self.jobs[id as usize].at(), peer);
                self.forward(id, to, now);
            }
            // A simulated timeout is a forward that never reached the peer: the cancel answers "not
            // run" and the machine falls back, as a node does after that answer.
            Step::Cancel(_) => {
                let top = self.jobs[id as usize].top;
                let step = self.frames[top as usize].inv.cancelled(Executed::No);
                self.step(id, step, now);
            }
            Step::Done(End::RunLocal(mode)) => self.admit(id, mode, now),
            Step::Done(End::Reject(_)) => self.reply(id, REJECTED, now),
            // The peer's own answer (not a success: `done` answers a whole path at once, e.g. a 502
            // after its forward failed and its fallback found no room) is this node's answer too.
            Step::Done(End::Answered) => {
                let status = self.jobs[id as usize].status;
                self.reply(id, status, now);
            }
            // Never reached here (see `Step::Cancel`); a node answers it 504.
            Step::Done(End::Unanswered(_)) => self.reply(id, FORWARD_TIMEOUT, now),
        }
    }

    /// The probed peers read their load (one link delay after the probes left).
    fn probed(&mut self, id: u32, now: u64) {
        let job = &mut self.jobs[id as usize];
        let i = job.at();
        let p = self.setup.faults.probe_failure;
        for r in &mut job.probes[..usize::from(job.nprobes)] {
            let (up, load) = {
                let peer = &self.nodes[peer_index(i, r.id)];
                (peer.up, load_of(peer))
            };
            let fails = p > 0.0 && self.setup.fault_rng.r#gen::<f64>() < p;
            r.load = (up && !fails).then_some(load);
            let cache = &mut self.nodes[i].cache[peer_index(i, r.id)];
            match r.load {
                // Every answer carries the peer's load into the table.
                Some(load) => {
                    *cache = Known {
                        load,
                        at: now,
                        up: true,
                    }
                }
                // A crashed peer refuses the connection: the node stops using it.
                None if !up => cache.up = false,
                None => {}
            }
        }
        let job = &self.jobs[id as usize];
        let answered = job.probe_started + 2 * self.setup.link_ns + self.setup.probe_extra_ns;
        if answered <= now {
            self.probes_in(id, now);
        } else {
            self.after(answered - now, now, Ev::ProbesIn, id);
        }
    }

    /// The probe answers are back at the deciding node.
    fn probes_in(&mut self, id: u32, now: u64) {
        let job = self.jobs[id as usize];
        let since = now - job.here_since;
        let probes = job.probes;
        let n = usize::from(job.nprobes);
        let step = self.with_machine(id, now, |inv, s, view, rng| {
            inv.probed(&probes[..n], Duration::from_nanos(since), s, view, rng)
        });
        self.step(id, step, now);
    }

    fn waited(&mut self, id: u32, now: u64) {
        let step = self.with_machine(id, now, |inv, s, view, rng| inv.waited(s, view, rng));
        self.step(id, step, now);
    }

    /// Sends the job from the node at the end of its path to `to`, with the forward faults.
    fn forward(&mut self, id: u32, to: usize, now: u64) {
        let link = self.setup.link_ns;
        let f = self.setup.faults;
        let draw = |p: f64, rng: &mut SmallRng| p > 0.0 && rng.r#gen::<f64>() < p;
        if draw(f.forward_failure, &mut self.setup.fault_rng) {
            self.after(2 * link, now, failed, id);
            return;
        }
        if draw(f.forward_timeout, &mut self.setup.fault_rng) {
            self.after(f.forward_timeout_ns, now, timed_out, id);
            return;
        }
        self.jobs[id as usize].to = node_id(to);
        if link == 0 {
            self.reach(id, now);
        } else {
            self.after(link, now, Ev::Reach, id);
        }
    }

    /// The forwarded job reaches its target, which decides it again as an external job.
    fn reach(&mut self, id: u32, now: u64) {
        let job = &mut self.jobs[id as usize];
        let to = usize::from(job.to);
        if !self.nodes[to].up {
            // A crashed peer refuses the connection: the sender learns it one link delay later.
            let from = job.at();
            self.nodes[from].cache[to].up = false;
            self.after(self.setup.link_ns, now, failed, id);
            return;
        }
        job.path[usize::from(job.len)] = job.to;
        job.len += 1;
        self.enter(id, now);
    }

    /// How the forward of the job's current machine ended.
    fn forwarded(&mut self, id: u32, outcome: ForwardOutcome, now: u64) {
        let top = self.jobs[id as usize].top;
        let step = self.frames[top as usize].inv.forwarded(outcome);
        self.step(id, step, now);
    }

    fn admit(&mut self, id: u32, mode: Admission, now: u64) {
        let job = &self.jobs[id as usize];
        let i = job.at();
        let t = self.setup.task_types.max(1);
        let ty = i * t + usize::from(job.task_type).min(t - 1);
        self.nodes[i].touch(now);
        match self.nodes[i].adm.admit(mode) {
            Verdict::Run => self.start(id, i, ty, now),
            Verdict::Wait => {
                self.types[ty].queued += 1;
                self.nodes[i].fifo.push_back(id);
            }
            // After a failed forward the node answers why the peer failed (502); otherwise (also
            // after a refusal) its own capacity reject (429: the cluster is busy, not broken).
            Verdict::Full => {
                let failed = self.frames[job.top as usize]
                    .inv
                    .outcome()
                    .and_then(|o| o.forward)
                    .is_some_and(|(_, o)| {
                        matches!(o, ForwardOutcome::Failed | ForwardOutcome::TimedOut)
                    });
                self.reply(id, if failed { PEER_FAILED } else { OVERLOADED }, now);
            }
        }
    }

    fn start(&mut self, id: u32, i: usize, ty: usize, now: u64) {
        self.types[ty].running += 1;
        let service = self.setup.service.sample(&mut self.setup.service_rng) / self.nodes[i].speed;
        let service_ns = service.max(0.0) as u64;
        self.jobs[id as usize].service_ns = service_ns;
        self.after(service_ns, now, Ev::Done, id);
    }

    fn done(&mut self, id: u32, now: u64) {
        let job = self.jobs[id as usize];
        let i = job.at();
        let t = self.setup.task_types.max(1);
        let ty = |task: u16| i * t + usize::from(task).min(t - 1);
        self.types[ty(job.task_type)].running -= 1;
        self.nodes[i].touch(now);
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
            self.nodes[prev].cache[i] = Known {
                load: load_of(&self.nodes[i]),
                at: now,
                up: true,
            };
        }
        // The answer goes back hop by hop; each forwarding node's machine ends with it.
        let mut f = self.frames[job.top as usize].below;
        while f != NONE {
            let step = self.frames[f as usize].inv.forwarded(ForwardOutcome::Done);
            debug_assert_eq!(step, Step::Done(End::Answered));
            f = self.frames[f as usize].below;
        }
        self.answer(
            id,
            OK,
            now + self.setup.link_ns * u64::from(job.hops()),
            now,
        );
    }

    /// The node at the end of the path answers `status` itself (a reject, or no room): to the client
    /// at the origin; else one hop back, where that node's machine learns how its forward ended.
    fn reply(&mut self, id: u32, status: u16, now: u64) {
        let job = &mut self.jobs[id as usize];
        if job.len == 1 {
            self.answer(id, status, now, now);
            return;
        }
        let (top, class, here) = (job.top, job.class, job.at());
        // A peer's double decision that refused the job learns so now (its machine ends here).
        if let Some(learning) = self.frames[top as usize].inv.learning()
            && self.setup.classes[usize::from(class)].2.is_some()
        {
            let reward = self.setup.rewards.of_learning(&learning, false, true);
            self.scheds[here].observe(&learning, reward);
        }
        let job = &mut self.jobs[id as usize];
        job.top = self.frames[top as usize].below;
        self.free_frames.push(top);
        job.len -= 1;
        if job.orphan && job.top == NONE {
            // Nobody waits for this answer any more (a node before it crashed).
            self.free_job(id);
            return;
        }
        // 429, 503 (and 508) are a working peer declining the job; anything else is its answer.
        self.jobs[id as usize].status = status;
        let outcome = if matches!(status, OVERLOADED | REJECTED) {
            ForwardOutcome::Refused
        } else {
            ForwardOutcome::Done
        };
        let link = self.setup.link_ns;
        if link == 0 {
            self.forwarded(id, outcome, now);
        } else {
            let epoch = self.jobs[id as usize].epoch;
            self.push(now + link, Ev::Forwarded(id, epoch, outcome));
        }
    }

    /// The client gets `status` at `at`; a learning decision is rewarded when the answer reaches its
    /// origin.
    fn answer(&mut self, id: u32, status: u16, at: u64, now: u64) {
        let job = &mut self.jobs[id as usize];
        if job.orphan {
            self.free_job(id);
            return;
        }
        job.status = status;
        job.answered = true;
        // The origin's machine is the bottom of the stack.
        let mut f = job.top;
        while f != NONE && self.frames[f as usize].below != NONE {
            f = self.frames[f as usize].below;
        }
        if f != NONE {
            let origin = &self.frames[f as usize].inv;
            job.fallback = origin.note().fallback;
            if origin.learning().is_some() && at > now {
                let epoch = job.epoch;
                self.push(at, Ev::Answer(id, epoch));
                return;
            }
        }
        self.record(id, at);
    }

    fn record(&mut self, id: u32, at: u64) {
        let job = self.jobs[id as usize];
        let latency = at - job.arrived;
        let (_, _, deadline) = self.setup.classes[usize::from(job.class)];
        let status = job.status;
        let ok = status == OK;
        let met = deadline.map(|d| ok && latency <= d);
        if let Some(met) = met {
            // Every machine on the stack that learned is rewarded: the origin's decision, and a peer's
            // double decision that accepted the job (levels up from the origin, path order).
            let mut level = usize::from(job.len);
            let mut f = job.top;
            while f != NONE {
                level -= 1;
                if let Some(learning) = self.frames[f as usize].inv.learning() {
                    let reward = self
                        .setup
                        .rewards
                        .of_learning(&learning, met, status == REJECTED);
                    self.scheds[usize::from(job.path[level])].observe(&learning, reward);
                }
                f = self.frames[f as usize].below;
            }
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
        let ran_on = ok.then(|| usize::from(job.path[usize::from(job.len) - 1]));
        self.acc.add_ran_on(
            &Record {
                target: job.path[0],
                seq: job.seq,
                intended: Duration::from_nanos(job.arrived),
                send_error_ns: 0,
                status,
                latency: Duration::from_nanos(latency),
                reject_reason: None,
                hops: Some(u16::from(job.len) - 1),
                executor: String::new(),
                error: (status == 0).then_some("connect"),
                class: job.class,
                execution: Some(Duration::from_nanos(job.service_ns)),
                queue: None,
                fallback: job.fallback.map(Cow::Borrowed),
                job_id: None,
            },
            ran_on,
        );
        self.free_job(id);
    }

    /// Node `i` refreshes its cached view: every peer in a cluster that fits one view; in a larger one
    /// the peers of its next two view windows (what its bounded views will read before the next
    /// refresh), so a refresh costs the same at 100 nodes as at 10,000.
    fn refresh(&mut self, i: usize, now: u64) {
        let n = self.nodes.len();
        let (start, count) = if n > MAX_VIEW {
            (self.nodes[i].view_offset, (2 * MAX_VIEW).min(n))
        } else {
            (0, n)
        };
        for k in 0..count {
            let m = (start + k) % n;
            let known = Known {
                load: load_of(&self.nodes[m]),
                at: now,
                up: self.nodes[m].up,
            };
            self.nodes[i].cache[m] = known;
        }
        if now < self.setup.end_ns {
            self.push(now + self.setup.refresh_ns, Ev::Refresh(node_id(i)));
        }
    }

    /// Schedules node `i`'s next random crash after `now`, if crashes are on.
    fn next_crash(&mut self, i: usize, now: u64) {
        let mtbf = self.setup.faults.mtbf_ns;
        if mtbf > 0.0 {
            let at = now + exponential(mtbf, &mut self.setup.fault_rng);
            if at < self.setup.end_ns {
                self.push(at, Ev::Crash(node_id(i)));
            }
        }
    }

    /// Node `c` crashes: its slots, queue and every job it holds are lost. A client of `c` gets no
    /// answer; a node that forwarded a job to `c` sees its forward fail one link delay later and falls
    /// back; a job `c` had forwarded on keeps running where it is, but its answer has nowhere to go.
    fn crash(&mut self, c: usize, now: u64) {
        if !self.nodes[c].up {
            return;
        }
        let node = &mut self.nodes[c];
        node.touch(now);
        node.up = false;
        node.adm = Sequential::new(node.adm.slots(), node.adm.queue_len());
        node.fifo.clear();
        let t = self.setup.task_types.max(1);
        self.types[c * t..(c + 1) * t].fill(TypeLoad::default());
        for id in 0..self.jobs.len() {
            let job = self.jobs[id];
            if !job.live || job.answered || job.orphan {
                continue;
            }
            if let Some(k) = job.path[..usize::from(job.len)]
                .iter()
                .position(|&p| p == node_id(c))
            {
                self.cut(id as u32, k, now);
            }
        }
        let faults = self.setup.faults;
        let down = faults
            .crashes
            .iter()
            .find(|&&(i, at, _)| i == c && at == now);
        let repair_after = match down {
            Some(&(_, _, d)) => (d > 0).then_some(d),
            None => Some(exponential(faults.mttr_ns, &mut self.setup.fault_rng)),
        };
        if let Some(d) = repair_after {
            self.push(now + d, Ev::Repair(node_id(c)));
        }
    }

    fn repair(&mut self, i: usize, now: u64) {
        let node = &mut self.nodes[i];
        node.up = true;
        node.changed_at = now;
        node.sampled_at = now;
        self.next_crash(i, now);
    }

    /// Cuts job `id` at path position `k`, whose node crashed.
    fn cut(&mut self, id: u32, k: usize, now: u64) {
        let job = self.jobs[id as usize];
        let len = usize::from(job.len);
        // Frames from the top down: position len-1 first.
        let mut f = job.top;
        let mut at_k1 = NONE;
        for pos in (k + 1..len).rev() {
            if pos == k + 1 {
                at_k1 = f;
            }
            f = self.frames[f as usize].below;
        }
        // `f` is the crashed node's frame; the one below it continues upstream.
        let below = self.frames[f as usize].below;
        self.free_frames.push(f);
        let link = self.setup.link_ns;
        if at_k1 != NONE {
            // The job lives on beyond the crashed node: it finishes there unanswered, and the upstream
            // part becomes a job of its own.
            self.frames[at_k1 as usize].below = NONE;
            self.jobs[id as usize].orphan = true;
            if k == 0 {
                let lost = Job {
                    top: NONE,
                    status: 0,
                    ..job
                };
                let nid = self.alloc_job(lost);
                self.record(nid, now);
                return;
            }
            let upstream = Job {
                top: below,
                len: k as u8,
                live: true,
                ..job
            };
            let nid = self.alloc_job(upstream);
            self.after(link, now, failed, nid);
            return;
        }
        let job = &mut self.jobs[id as usize];
        job.epoch = job.epoch.wrapping_add(1);
        job.top = below;
        if k == 0 {
            // The client's connection to the crashed node dies.
            job.status = 0;
            self.record(id, now);
            return;
        }
        job.len = k as u8;
        self.after(link, now, failed, id);
    }
}

fn failed(id: u32, epoch: u32) -> Ev {
    Ev::Forwarded(id, epoch, ForwardOutcome::Failed)
}

fn timed_out(id: u32, epoch: u32) -> Ev {
    Ev::Forwarded(id, epoch, ForwardOutcome::TimedOut)
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// An exponential draw with this mean, ns.
fn exponential(mean_ns: f64, rng: &mut SmallRng) -> u64 {
    let u: f64 = rng.r#gen();
    (-mean_ns * (1.0 - u).ln()).max(1.0) as u64
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

/// Node `at`'s stable id for node `m`, numbered as a live node numbers its peers: by slot in its peer
/// table, which the live runner fills with the other nodes in index order (`init_servers`), so `at`
/// itself takes no slot. A learned "forward to peer `i`" action then means the same node in simulation
/// and live, and weights carry over.
fn peer_id(at: usize, m: usize) -> PeerId {
    PeerId(u32::try_from(m - usize::from(m > at)).unwrap_or(u32::MAX))
}

/// The node index of node `at`'s peer `id` (the inverse of [`peer_id`]).
fn peer_index(at: usize, id: PeerId) -> usize {
    let k = id.0 as usize;
    k + usize::from(k >= at)
}

/// Node indices fit (the spec allows at most 10,000 nodes).
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

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn peers_are_numbered_as_a_live_node_numbers_them() {
        // Node 2 of 5 lists n0, n1, n3, n4 in its peer table: ids 0, 1, 2, 3.
        let ids: Vec<u32> = [0, 1, 3, 4].iter().map(|&m| peer_id(2, m).0).collect();
        assert_eq!(ids, [0, 1, 2, 3]);
        for at in 0..5 {
            for m in (0..5).filter(|&m| m != at) {
                assert_eq!(peer_index(at, peer_id(at, m)), m, "node {at}, peer n{m}");
            }
        }
    }

    #[test]
    fn the_load_sample_comes_from_busy_slots_and_waiting_jobs() {
        let setup = NodeSetup {
            speed: 1.0,
            slots: 4,
            queue_len: 2,
            arrivals: None,
            classes: SmallRng::seed_from_u64(1),
        };
        let mut node = Node::new(Vec::new(), setup);
        let ms = 1_000_000;
        assert_eq!(
            node.sample(50 * ms),
            LoadSample::EMPTY,
            "renewed every 100 ms"
        );
        // Two of four slots busy for the whole first interval, a third job waiting for its second half.
        node.touch(0);
        node.adm.admit(Admission::Queue);
        node.adm.admit(Admission::Queue);
        node.touch(50 * ms);
        node.adm.admit(Admission::Queue);
        node.adm.admit(Admission::Queue);
        node.adm.admit(Admission::Queue);
        let s = node.sample(100 * ms);
        assert!((s.utilisation - 0.75).abs() < 1e-9, "{}", s.utilisation);
        assert!((s.utilisation_max_cpu - 1.0).abs() < 1e-9);
        assert!((s.cpu_pressure.unwrap_or(0.0) - 0.5).abs() < 1e-9);
        assert_eq!((s.cpus, s.interval_ms), (4, 100.0));
        // Unchanged until the next interval ends.
        assert_eq!(node.sample(150 * ms), s);
        let s = node.sample(200 * ms);
        assert!((s.utilisation - 1.0).abs() < 1e-9, "{}", s.utilisation);
        assert!((s.cpu_pressure.unwrap_or(0.0) - 1.0).abs() < 1e-9);
    }
}
