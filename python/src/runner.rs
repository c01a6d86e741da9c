//! The bridge between a simulation on its own thread and a caller that makes the learning decisions of
//! some of its nodes: the simulation blocks in [`Policy::decide`] until the caller answers, so the
//! caller sees one decision at a time, in simulated-time order, and steps the simulation by answering.
//! A [`Batch`] runs many independent episodes side by side and steps them all with one call.
//!
//! Rewards come two ways: summed per node since the previous decision (what a step "earned"), and
//! credited to the decision they judge ([`Credit`]: the simulator's execution id `eid` of that
//! decision, 1, 2, … per driven node and episode), since a job's reward is known only when it ends,
//! after later decisions.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use p2pfaas_bench::experiment::report::Report;
use p2pfaas_bench::experiment::spec::Spec;
use p2pfaas_bench::sim::{self, External, Policy, Shape, SimOptions};
use p2pfaas_core::learning::MAX_DIMS;

/// The spec `p2pfaas/Cluster-v0` runs by default: `bench/specs/hetero-deadline.toml` itself, built in
/// (not a copy), so the environment has the bench study's shape and follows its changes.
pub const DEFAULT_SPEC: &str = include_str!("../../bench/specs/hetero-deadline.toml");

/// How the environment is cut out of a spec.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Nodes whose decisions the caller makes (indices); empty: node 0.
    pub nodes: Vec<usize>,
    /// The one ρ an episode runs at; `None`: the spec's first.
    pub rho: Option<f64>,
    /// Measured arrivals per episode (all nodes); `None`: the spec's `simulation.arrivals`.
    pub arrivals: Option<u64>,
}

/// A spec prepared for episodes: its first `LearningScheduler` on every node, one ρ, one seed per
/// episode.
#[derive(Debug, Clone)]
pub struct Cluster {
    spec: Spec,
    shape: Shape,
    nodes: Vec<usize>,
    arrivals: Option<u64>,
}

impl Cluster {
    /// Parses and checks `spec_text`; the error names the problem.
    pub fn new(spec_text: &str, options: &Options) -> Result<Self, String> {
        let mut spec = Spec::parse(spec_text).map_err(|e| format!("spec: {e}"))?;
        let shape = sim::learning_shape(&spec)
            .map_err(|e| format!("spec: {e}"))?
            .ok_or("spec: no [[scheduler]] is a LearningScheduler; the environment drives its decisions")?;
        let first = spec
            .schedulers
            .iter()
            .position(|s| s.name == "LearningScheduler")
            .ok_or("spec: no LearningScheduler")?;
        spec.schedulers = vec![spec.schedulers.swap_remove(first)];
        let rho = match options.rho {
            Some(r) if r.is_finite() && r > 0.0 => r,
            Some(r) => return Err(format!("rho: {r} is not a load > 0")),
            None => *spec
                .traffic
                .rho
                .first()
                .ok_or("spec: traffic.rho is empty")?,
        };
        spec.traffic.rho = vec![rho];
        let nodes = if options.nodes.is_empty() {
            vec![0]
        } else {
            options.nodes.clone()
        };
        if let Some(&bad) = nodes.iter().find(|&&n| n >= spec.cluster.nodes) {
            return Err(format!(
                "nodes: {bad} is not a node of this {}-node cluster",
                spec.cluster.nodes
            ));
        }
        if shape.dims > MAX_DIMS {
            return Err(format!("spec: state of {} values > {MAX_DIMS}", shape.dims));
        }
        Ok(Self {
            spec,
            shape,
            nodes,
            arrivals: options.arrivals,
        })
    }

    /// State length and number of actions.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Nodes in the cluster.
    pub fn cluster_nodes(&self) -> usize {
        self.spec.cluster.nodes
    }

    /// The controlled nodes.
    pub fn nodes(&self) -> &[usize] {
        &self.nodes
    }

    /// Starts one episode with `seed` (the spec's `traffic.seeds` replaced by it).
    pub fn episode(&self, seed: u64) -> Episode {
        let mut spec = self.spec.clone();
        spec.traffic.seeds = vec![seed];
        let k = self.spec.cluster.nodes;
        let shared = Arc::new(Shared {
            to_main: Mutex::new(ToMain {
                decide: None,
                done: None,
                rewards: vec![0.0; k],
                credits: Vec::new(),
            }),
            main_ready: AtomicBool::new(false),
            main: Mutex::new(std::thread::current()),
            action: Mutex::new(None),
            sim_ready: AtomicBool::new(false),
            sim: Mutex::new(None),
            gone: AtomicBool::new(false),
        });
        let external = External {
            policy: Arc::new(Bridge(Arc::clone(&shared))),
            nodes: self.nodes.clone(),
        };
        let options = SimOptions {
            arrivals: self.arrivals,
            progress: false,
            threads: 1,
            save_weights: None,
        };
        let bridge = Arc::clone(&shared);
        // Detached: when the caller drops the episode, the policy answers `None` (run locally) and
        // the simulation finishes on its own.
        let thread = std::thread::spawn(move || {
            // A panic (a bug) ends the episode with an error instead of leaving the caller waiting.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                sim::run_with(&spec, &options, Some(&external))
            }))
            .map_err(|_| "the simulation panicked (a bug)".to_owned())
            .and_then(|r| r.map(|(report, _)| report).map_err(|e| e.to_string()));
            if let Ok(mut m) = bridge.to_main.lock() {
                m.done = Some(result);
            }
            bridge.signal_main();
        });
        if let Ok(mut sim) = shared.sim.lock() {
            *sim = Some(thread.thread().clone());
        }
        Episode {
            shared,
            report: None,
        }
    }
}

/// A reward and the decision it judges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Credit {
    /// The node that decided.
    pub node: u32,
    /// The decision's id (see [`Pending`]).
    pub decision: u64,
    /// The node's reward rule's verdict.
    pub reward: f32,
}

/// The decision the simulation waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// The deciding node.
    pub node: u32,
    /// Its id: the simulator's `eid`, 1, 2, … per node and episode; the [`Credit`] of its reward names it.
    pub decision: u64,
}

/// What the simulation thread leaves for the caller.
struct ToMain {
    decide: Option<(Pending, [f32; MAX_DIMS])>,
    done: Option<Result<Report, String>>,
    rewards: Vec<f32>,
    /// Rewards since the caller's last look; kept (cleared, not freed) so pushing does not allocate.
    credits: Vec<Credit>,
}

/// The hand-off between the caller and one simulation thread. Each side sets its `*_ready` flag
/// and wakes the other; the waiting side spins briefly (yielding the core, so on one core the other
/// side runs at once) and then parks. A channel per message costed a sleep and a wake-up per decision
/// (about 10× slower on one core).
struct Shared {
    to_main: Mutex<ToMain>,
    main_ready: AtomicBool,
    main: Mutex<std::thread::Thread>,
    action: Mutex<Option<u32>>,
    sim_ready: AtomicBool,
    sim: Mutex<Option<std::thread::Thread>>,
    /// The caller dropped the episode: decisions run locally from now on.
    gone: AtomicBool,
}

impl Shared {
    fn signal_main(&self) {
        self.main_ready.store(true, Ordering::Release);
        if let Ok(main) = self.main.lock() {
            main.unpark();
        }
    }

    fn signal_sim(&self) {
        self.sim_ready.store(true, Ordering::Release);
        if let Ok(Some(sim)) = self.sim.lock().as_deref() {
            sim.unpark();
        }
    }
}

/// Waits until `flag` is set, and clears it.
fn wait(flag: &AtomicBool) {
    for _ in 0..SPINS {
        if flag.swap(false, Ordering::Acquire) {
            return;
        }
        std::thread::yield_now();
    }
    // The other side is slow (a Python policy thinking): sleep until woken; the timeout only bounds
    // the cost of a wake-up lost to the race between the check and the park.
    while !flag.swap(false, Ordering::Acquire) {
        std::thread::park_timeout(std::time::Duration::from_millis(1));
    }
}

/// Yields before parking: enough for a simulation step and for a NumPy policy call on a batch.
const SPINS: u32 = 2000;

/// The policy the simulation thread sees: hands each state out and waits for the action.
struct Bridge(Arc<Shared>);

impl Policy for Bridge {
    fn decide(&self, node: usize, eid: u64, state: &[f32]) -> Option<u32> {
        let shared = &self.0;
        if shared.gone.load(Ordering::Relaxed) {
            return None;
        }
        let mut s = [0.0; MAX_DIMS];
        s[..state.len()].copy_from_slice(state);
        let node = u32::try_from(node).ok()?;
        let pending = Pending {
            node,
            decision: eid,
        };
        shared.to_main.lock().ok()?.decide = Some((pending, s));
        shared.signal_main();
        wait(&shared.sim_ready);
        shared.action.lock().ok()?.take()
    }

    fn reward(&self, node: usize, eid: u64, reward: f32) {
        if let Ok(mut m) = self.0.to_main.lock()
            && let Some(r) = m.rewards.get_mut(node)
            && let Ok(node) = u32::try_from(node)
        {
            *r += reward;
            m.credits.push(Credit {
                node,
                decision: eid,
                reward,
            });
        }
    }
}

/// One running episode.
pub struct Episode {
    shared: Arc<Shared>,
    report: Option<Result<Report, String>>,
}

impl Drop for Episode {
    fn drop(&mut self) {
        self.shared.gone.store(true, Ordering::Relaxed);
        if let Ok(mut a) = self.shared.action.lock() {
            *a = None;
        }
        self.shared.signal_sim();
    }
}

impl Episode {
    /// Runs to the next decision of a controlled node, writes its state into `state` and returns it;
    /// adds every reward delivered meanwhile to `rewards[node]` and appends it to `credits`. `None`
    /// when the episode has ended ([`Episode::report`] then has its report).
    pub fn advance(
        &mut self,
        state: &mut [f32],
        rewards: &mut [f32],
        credits: &mut Vec<Credit>,
    ) -> Option<Pending> {
        if self.report.is_some() {
            return None;
        }
        if let Ok(mut main) = self.shared.main.lock()
            && main.id() != std::thread::current().id()
        {
            *main = std::thread::current();
        }
        wait(&self.shared.main_ready);
        let Ok(mut m) = self.shared.to_main.lock() else {
            self.report = Some(Err("the simulation thread died".to_owned()));
            return None;
        };
        for (sum, r) in rewards.iter_mut().zip(m.rewards.iter_mut()) {
            *sum += std::mem::take(r);
        }
        credits.append(&mut m.credits);
        if let Some((pending, s)) = m.decide.take() {
            let n = state.len();
            state.copy_from_slice(&s[..n]);
            return Some(pending);
        }
        self.report = Some(
            m.done
                .take()
                .unwrap_or_else(|| Err("woken without a decision or a report".to_owned())),
        );
        None
    }

    /// Answers the pending decision (call after [`Episode::advance`] returned a node).
    pub fn act(&self, action: u32) {
        if let Ok(mut a) = self.shared.action.lock() {
            *a = Some(action);
        }
        self.shared.signal_sim();
    }

    /// The report, once the episode has ended.
    pub fn report(&self) -> Option<&Result<Report, String>> {
        self.report.as_ref()
    }
}

/// `n` episodes stepped together; an ended episode is replaced by a new one with the next seed.
pub struct Batch {
    cluster: Cluster,
    episodes: Vec<Episode>,
    next_seed: u64,
    reports: Vec<Option<String>>,
    /// The pending decisions' ids.
    decisions: Vec<u64>,
    /// Environment `i`'s credits of the last step are `credits[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<u32>,
    credits: Vec<Credit>,
}

impl Batch {
    /// `n` environments (not started until [`Batch::reset`]).
    pub fn new(cluster: Cluster, n: usize) -> Self {
        Self {
            cluster,
            episodes: Vec::with_capacity(n),
            next_seed: 0,
            reports: vec![None; n],
            decisions: vec![0; n],
            offsets: vec![0; n + 1],
            credits: Vec::new(),
        }
    }

    /// Environments.
    pub fn len(&self) -> usize {
        self.reports.len()
    }

    /// True for a batch of none.
    pub fn is_empty(&self) -> bool {
        self.reports.is_empty()
    }

    /// The cluster.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// The report (JSON) of environment `i`'s last ended episode.
    pub fn report(&self, i: usize) -> Option<&str> {
        self.reports.get(i)?.as_deref()
    }

    /// The ids of the pending decisions, one per environment (of the node [`Batch::step`] names).
    pub fn decisions(&self) -> &[u64] {
        &self.decisions
    }

    /// The rewards the last [`Batch::step`] delivered, each with the decision it judges:
    /// environment `i`'s are `credits[offsets[i]..offsets[i + 1]]` (`offsets` has `len + 1`
    /// entries), in delivery order. Where the step ended an episode they are the ended episode's
    /// (its decision ids, not the next episode's); none after [`Batch::reset`].
    pub fn credits(&self) -> (&[u32], &[Credit]) {
        (&self.offsets, &self.credits)
    }

    /// Starts every environment afresh, episode seeds `seed, seed + 1, …`; writes the first states
    /// (`len × dims`) and deciding nodes.
    pub fn reset(
        &mut self,
        seed: u64,
        states: &mut [f32],
        nodes: &mut [u32],
    ) -> Result<(), String> {
        self.next_seed = seed;
        self.episodes.clear();
        self.offsets.fill(0);
        self.credits.clear();
        let mut scratch = vec![0.0; self.cluster.cluster_nodes()];
        if nodes.len() != self.len() {
            return Err(format!(
                "{} environments: buffers of the wrong length",
                self.len()
            ));
        }
        for (i, slot) in nodes.iter_mut().enumerate() {
            let state = self.state_slot(states, i)?;
            let (episode, pending) = self.start(state, &mut scratch)?;
            self.episodes.push(episode);
            *slot = pending.node;
            self.decisions[i] = pending.decision;
        }
        Ok(())
    }

    fn state_slot<'a>(&self, states: &'a mut [f32], i: usize) -> Result<&'a mut [f32], String> {
        let d = self.cluster.shape.dims;
        states
            .get_mut(i * d..(i + 1) * d)
            .ok_or_else(|| "states buffer too small".to_owned())
    }

    /// Starts the next seed's episode and runs it to its first decision. Rewards come only after
    /// decisions, so there are none to keep: `rewards` is scratch.
    fn start(
        &mut self,
        state: &mut [f32],
        rewards: &mut [f32],
    ) -> Result<(Episode, Pending), String> {
        let seed = self.next_seed;
        self.next_seed += 1;
        let mut episode = self.cluster.episode(seed);
        let mut none = Vec::new();
        match episode.advance(state, rewards, &mut none) {
            Some(pending) => Ok((episode, pending)),
            None => Err(match episode.report() {
                Some(Err(e)) => e.clone(),
                _ => format!(
                    "seed {seed}: the episode ended without a decision of nodes {:?} (no traffic reaches them?)",
                    self.cluster.nodes
                ),
            }),
        }
    }

    /// Answers every environment's pending decision with `actions[i]` and runs each to its next one.
    /// Writes states (`len × dims`), deciding nodes, rewards delivered meanwhile (`len × cluster
    /// nodes`, overwritten) and `dones[i] = 1` where the episode ended (its state is then the first
    /// of the next episode, and [`Batch::report`] has the ended one's report). The same rewards,
    /// each with its decision, are in [`Batch::credits`]; the new pending ids in [`Batch::decisions`].
    pub fn step(
        &mut self,
        actions: &[u32],
        states: &mut [f32],
        nodes: &mut [u32],
        rewards: &mut [f32],
        dones: &mut [u8],
    ) -> Result<(), String> {
        let n = self.len();
        let k = self.cluster.cluster_nodes();
        if self.episodes.len() != n {
            return Err("step before reset".to_owned());
        }
        if actions.len() != n || nodes.len() != n || dones.len() != n || rewards.len() != n * k {
            return Err(format!("{n} environments: buffers of the wrong length"));
        }
        let limit = u32::try_from(self.cluster.shape.actions).unwrap_or(u32::MAX);
        if let Some(bad) = actions.iter().find(|&&a| a >= limit) {
            return Err(format!("action {bad} out of 0..{limit}"));
        }
        // Answer all first, so the simulations run side by side.
        for (episode, &a) in self.episodes.iter().zip(actions) {
            episode.act(a);
        }
        rewards.fill(0.0);
        self.credits.clear();
        for i in 0..n {
            let r = &mut rewards[i * k..(i + 1) * k];
            let state = self.state_slot(states, i)?;
            let pending = self.episodes[i].advance(state, r, &mut self.credits);
            self.offsets[i + 1] = u32::try_from(self.credits.len())
                .map_err(|_| "over 2³² rewards in one step".to_owned())?;
            if let Some(pending) = pending {
                nodes[i] = pending.node;
                self.decisions[i] = pending.decision;
                dones[i] = 0;
                continue;
            }
            dones[i] = 1;
            self.reports[i] = Some(match self.episodes[i].report() {
                Some(Ok(report)) => serde_json::to_string(report).map_err(|e| e.to_string())?,
                Some(Err(e)) => return Err(e.clone()),
                None => return Err("episode ended without a report".to_owned()),
            });
            let mut scratch = vec![0.0; k];
            let (episode, pending) = self.start(state, &mut scratch)?;
            self.episodes[i] = episode;
            nodes[i] = pending.node;
            self.decisions[i] = pending.decision;
        }
        Ok(())
    }
}

/// `p2pfaas-bench simulate`'s report of `spec_text`, as JSON; `seed` replaces `traffic.seeds`.
pub fn simulate(
    spec_text: &str,
    seed: Option<u64>,
    arrivals: Option<u64>,
) -> Result<String, String> {
    let mut spec = Spec::parse(spec_text).map_err(|e| format!("spec: {e}"))?;
    if let Some(seed) = seed {
        spec.traffic.seeds = vec![seed];
    }
    let options = SimOptions {
        arrivals,
        ..SimOptions::default()
    };
    let report = sim::run(&spec, &options).map_err(|e| format!("{e:#}"))?;
    serde_json::to_string(&report).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
