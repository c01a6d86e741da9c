//! Per-worker state: everything one thread-per-core runtime owns. It is `!Send` and lives in an `Rc`;
//! borrows of its `RefCell`s are always short and never held across an `.await`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use p2pfaas_core::invocation::{Override, Overrides};
use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};

use crate::http::client::Pool;
use crate::metrics::WorkerMetrics;
use crate::node::Node;
use crate::peers::path::Path;
use crate::peers::{MAX_VIEW, Snapshot};
use crate::registry::{Function, Table};
use crate::scheduler::{self, Learning, Needs, NodeView, PeerId, PeerView, Scheduler, TypeLoad};

/// This worker's copy of the scheduler, rebuilt when the node publishes a new descriptor.
struct LocalScheduler {
    generation: u64,
    inner: Box<dyn Scheduler>,
}

/// State owned by one worker thread.
pub struct Worker {
    /// Worker number, 0-based.
    pub index: usize,
    /// Shared node state.
    pub node: Arc<Node>,
    /// This worker's counters.
    pub metrics: Arc<WorkerMetrics>,
    /// Seeded per worker (`seed + index`), so runs are reproducible.
    pub rng: RefCell<SmallRng>,
    /// Open connections on this worker (drained at shutdown).
    pub connections: Cell<usize>,
    /// Keep-alive connections to HTTP functions, owned by this worker.
    pub pool: Pool,
    /// How late this worker's runtime timers fire, on average (see [`crate::backend::TimerLateness`]).
    pub timer_lateness: crate::backend::TimerLateness,
    scheduler: RefCell<LocalScheduler>,
    /// The schedulers the override headers select, built once.
    overrides: RefCell<Overrides>,
    /// Scratch for the per-task-type loads, one entry per counted type.
    type_loads: RefCell<Vec<TypeLoad>>,
    /// This worker's copy of the function table and its generation.
    table: RefCell<(u64, Arc<Table>)>,
    /// This worker's copy of the peer table and its generation.
    peers: RefCell<(u64, Arc<Snapshot>)>,
    /// Rotates where the peer view starts, so large tables are seen evenly.
    view_offset: Cell<usize>,
    /// The external agent that picks the learning actions (`learner.external`), if any.
    agent: Option<crate::agent::Link>,
    /// Byte buffers lent out by [`Worker::scratch`].
    scratch: RefCell<Vec<Vec<u8>>>,
}

/// A byte buffer lent to one task for a call's transient values (a request target, a path list):
/// taken from the worker and given back, cleared, when dropped. Its capacity is reused by the next
/// call, so the peer path does not allocate for them in steady state, and no `RefCell` borrow is held
/// across an `.await`.
pub struct Scratch<'w> {
    buf: Vec<u8>,
    free: &'w RefCell<Vec<Vec<u8>>>,
}

impl std::ops::Deref for Scratch<'_> {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.buf
    }
}

impl std::ops::DerefMut for Scratch<'_> {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
}

impl Drop for Scratch<'_> {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        self.free.borrow_mut().push(buf);
    }
}

/// An empty entry for the fixed-size peer view.
const NO_PEER: PeerView<'static> = PeerView {
    id: PeerId(0),
    addr: "",
    load: None,
    age: std::time::Duration::ZERO,
};

impl Worker {
    /// Creates the state of worker `index`.
    pub fn new(index: usize, node: Arc<Node>) -> Rc<Self> {
        let (generation, desc) = node.scheduler();
        let agent = crate::agent::Link::from_node(&node, index);
        // The descriptor was validated before it was published; fall back to local execution if not.
        let inner = build(agent.as_ref(), &desc, &node.scheduler_context())
            .unwrap_or_else(|_| Box::new(scheduler::NoScheduler::new(false)));
        let metrics = node
            .metrics
            .get(index)
            .cloned()
            .unwrap_or_else(|| Arc::new(WorkerMetrics::new()));
        let table = RefCell::new(node.registry.snapshot());
        let peers = RefCell::new(node.peers.snapshot());
        Rc::new(Self {
            index,
            rng: RefCell::new(seeded(&node, index)),
            metrics,
            connections: Cell::new(0),
            pool: Pool::new(),
            timer_lateness: crate::backend::TimerLateness::default(),
            scheduler: RefCell::new(LocalScheduler { generation, inner }),
            overrides: RefCell::new(Overrides::default()),
            type_loads: RefCell::new(vec![TypeLoad::default(); node.task_types.len()]),
            table,
            peers,
            view_offset: Cell::new(index),
            agent,
            scratch: RefCell::new(Vec::new()),
            node,
        })
    }

    /// The external agent's background task (connection upkeep, transition batches), if any.
    pub fn agent_task(&self) -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>> {
        self.agent
            .as_ref()
            .map(|a| a.task(Arc::clone(&self.node), self.index))
    }

    /// The external agent that takes the first decision of a job `job` with override `over`, if one
    /// does: an agent is configured and the job is a client's, without an override.
    pub fn agent_for(
        &self,
        over: Option<Override>,
        job: &scheduler::JobMeta,
    ) -> Option<&crate::agent::Link> {
        self.agent
            .as_ref()
            .filter(|_| over.is_none() && !job.external)
    }

    /// The first decision of a client's job `job` (`function`, `path`) through the external agent
    /// `link` ([`Worker::agent_for`]): swaps in the scheduler the node published last, fills the node's
    /// view once, asks the agent about the learning state of that view (awaited, at most
    /// `learner.external_timeout_ms`, without blocking the worker; counted as a decision or by its
    /// fallback reason), then runs `f` as [`Worker::with_decider`] does, with the same view: the state
    /// the agent answered is the one decided on.
    pub async fn decide_with_agent<R>(
        &self,
        link: &crate::agent::Link,
        job: &scheduler::JobMeta,
        function: &str,
        path: Path<'_>,
        f: impl FnOnce(&mut dyn Scheduler, &NodeView<'_>, &mut dyn RngCore) -> R,
    ) -> R {
        self.refresh_scheduler();
        let needs = needs_of(&*self.scheduler.borrow().inner);
        // Owned here, not in the worker's scratch: the view is held across the agent's answer.
        let mut loads = [TypeLoad::default(); crate::config::MAX_TASK_TYPES];
        let types = self.node.task_types.len().min(loads.len());
        let snapshot = needs.peers.then(|| self.peers());
        let mut buf = [NO_PEER; MAX_VIEW];
        let mut view = self.view(needs.type_loads.then_some(&mut loads[..types]));
        let peers = snapshot.as_deref().map(|s| (s, &mut buf));
        self.fill_view(needs, peers, function, path, &mut view);
        let mut state = [0.0; crate::learning::MAX_DIMS];
        let dims = link.with_learning(|l| l.map(|l| l.state(job, &view, &mut state)));
        if let Some(dims) = dims {
            let m = &self.metrics;
            match link.ask(job.task_type, &state[..dims]).await {
                crate::agent::Pick::Action { .. } => {
                    m.agent_decisions
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                crate::agent::Pick::Fallback(reason) => {
                    m.agent_fallbacks[reason as usize]
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                crate::agent::Pick::None => {}
            }
        }
        let mut sched = self.scheduler.borrow_mut();
        let mut rng = self.rng.borrow_mut();
        let r = f(&mut *sched.inner, &view, &mut *rng);
        // An answer the job's first decision did not take must not reach the next job.
        link.clear();
        r
    }

    /// Refreshes the scheduler copy if the node published a new one, and restarts this worker's random
    /// stream from its seed: a run that begins with a scheduler change (a fleet point) draws the same
    /// choices and service times as a freshly started node does.
    fn refresh_scheduler(&self) {
        let current = self.node.scheduler_generation();
        if self.scheduler.borrow().generation == current {
            return;
        }
        let (generation, desc) = self.node.scheduler();
        if let Ok(inner) = build(self.agent.as_ref(), &desc, &self.node.scheduler_context()) {
            *self.scheduler.borrow_mut() = LocalScheduler { generation, inner };
            *self.rng.borrow_mut() = seeded(&self.node, self.index);
        }
    }

    /// The current function table (swapped in when the registry published a new one).
    pub fn functions(&self) -> Arc<Table> {
        self.refresh_functions();
        Arc::clone(&self.table.borrow().1)
    }

    fn refresh_functions(&self) {
        let current = self.node.registry.generation();
        if self.table.borrow().0 != current {
            *self.table.borrow_mut() = self.node.registry.snapshot();
        }
    }

    /// Looks a function up by name in the current table (without taking a reference to the table: one
    /// reference count less per request).
    pub fn function(&self, name: &str) -> Option<Arc<Function>> {
        self.refresh_functions();
        self.table.borrow().1.get(name).cloned()
    }

    /// The node's view for scheduling; `per_type` is filled in from the task counters when given.
    pub fn view<'a>(&self, per_type: Option<&'a mut [TypeLoad]>) -> NodeView<'a> {
        let a = &self.node.admission;
        let per_type: &'a [TypeLoad] = match per_type {
            Some(loads) => {
                let to_u32 = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
                for (load, counter) in loads.iter_mut().zip(&self.node.task_types) {
                    load.running =
                        to_u32(counter.running.load(std::sync::atomic::Ordering::Relaxed));
                    load.queued = to_u32(counter.queued.load(std::sync::atomic::Ordering::Relaxed));
                }
                loads
            }
            None => &[],
        };
        NodeView {
            running: a.running(),
            queued: a.queued(),
            slots: a.slots(),
            queue_len: a.queue_len(),
            per_type,
            peers: &[],
            sample: None,
        }
    }

    /// The current peer table (swapped in when the node published a new one).
    pub fn peers(&self) -> Arc<Snapshot> {
        let current = self.node.peers.generation();
        if self.peers.borrow().0 != current {
            *self.peers.borrow_mut() = self.node.peers.snapshot();
        }
        Arc::clone(&self.peers.borrow().1)
    }

    /// A cleared byte buffer, lent until the returned guard is dropped (a new one only when more are
    /// lent at once than ever before).
    pub fn scratch(&self) -> Scratch<'_> {
        let buf = self.scratch.borrow_mut().pop().unwrap_or_default();
        Scratch {
            buf,
            free: &self.scratch,
        }
    }

    /// Runs `f` with the node's view for a call of `function` whose path so far is `path`, filling the
    /// per-type loads and the eligible peers only when `sched` needs them.
    fn with_view<S: Scheduler + ?Sized, R>(
        &self,
        sched: &mut S,
        function: &str,
        path: Path<'_>,
        f: impl FnOnce(&mut S, &NodeView<'_>) -> R,
    ) -> R {
        let needs = needs_of(sched);
        let mut loads = self.type_loads.borrow_mut();
        let mut view = self.view(needs.type_loads.then_some(&mut loads[..]));
        let snapshot = needs.peers.then(|| self.peers());
        // Initialised only when peers are read: most decisions (local schedulers) need none.
        let mut buf;
        let peers = match &snapshot {
            Some(snapshot) => {
                buf = [NO_PEER; MAX_VIEW];
                Some((&**snapshot, &mut buf))
            }
            None => None,
        };
        self.fill_view(needs, peers, function, path, &mut view);
        f(sched, &view)
    }

    /// Completes `view` (the node's counts, per-type loads as given) with what `needs` asks beyond
    /// them: the load sample, and, given `peers` (a snapshot and a buffer), the peers eligible for a call
    /// of `function` whose path so far is `path`.
    fn fill_view<'a>(
        &self,
        needs: Needs,
        peers: Option<(&'a Snapshot, &'a mut [PeerView<'a>; MAX_VIEW])>,
        function: &str,
        path: Path<'_>,
        view: &mut NodeView<'a>,
    ) {
        if needs.load_sample {
            view.sample = Some(self.node.load());
        }
        if let Some((snapshot, buf)) = peers {
            let offset = self.view_offset.get().wrapping_add(1);
            self.view_offset.set(offset);
            let n = snapshot.fill_view(function, path, self.node.peers.now_ms(), offset, buf);
            view.peers = &buf[..n];
        }
    }

    /// Runs `f` with the scheduler that decides a job with override `over` (the override's, else the
    /// current one), the node's view for a call of `function` whose path so far is `path`, and this
    /// worker's RNG: what each step of a `p2pfaas_core::invocation::Invocation` needs. `fresh` first swaps in the
    /// scheduler the node published last (at a job's first decision only, so a job's probe is answered
    /// by the scheduler that asked for it).
    pub fn with_decider<R>(
        &self,
        over: Option<Override>,
        fresh: bool,
        function: &str,
        path: Path<'_>,
        f: impl FnOnce(&mut dyn Scheduler, &NodeView<'_>, &mut dyn RngCore) -> R,
    ) -> R {
        if fresh {
            self.refresh_scheduler();
        }
        let mut sched = self.scheduler.borrow_mut();
        let mut overrides = self.overrides.borrow_mut();
        let mut rng = self.rng.borrow_mut();
        let s = overrides.select(over, &mut *sched.inner);
        let r = self.with_view(s, function, path, |s, view| f(s, view, &mut *rng));
        if fresh {
            // An answer the job's first decision did not take must not reach the next job.
            if let Some(a) = &self.agent {
                a.clear();
            }
        }
        r
    }

    /// Reports the reward of a job decided with `learning` to the current scheduler.
    pub fn observe(&self, learning: &Learning, reward: f32) {
        self.scheduler.borrow_mut().inner.observe(learning, reward);
    }

    /// Display name of the current scheduler.
    pub fn scheduler_name(&self) -> String {
        self.refresh_scheduler();
        self.scheduler.borrow().inner.full_name().to_owned()
    }
}

/// Worker `index`'s random generator at its start.
fn seeded(node: &Node, index: usize) -> SmallRng {
    SmallRng::seed_from_u64(node.config.node.seed.wrapping_add(index as u64))
}

/// What `sched`'s view must hold (its trait methods, which a scheduler may override).
fn needs_of<S: Scheduler + ?Sized>(sched: &S) -> Needs {
    Needs {
        peers: sched.needs_peers(),
        type_loads: sched.needs_type_loads(),
        load_sample: sched.needs_load_sample(),
    }
}

/// The scheduler `desc` builds on a worker: with an external agent, a learning descriptor builds the
/// agent's [`crate::agent::Decider`].
fn build(
    agent: Option<&crate::agent::Link>,
    desc: &scheduler::Descriptor,
    ctx: &scheduler::Context<'_>,
) -> Result<Box<dyn Scheduler>, scheduler::DescriptorError> {
    match agent {
        Some(a) => a.build(desc, ctx),
        None => scheduler::build(desc, ctx),
    }
}
