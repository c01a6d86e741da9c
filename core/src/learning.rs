//! The learning agent: one Q-table, policy, TD learner and EID window per node, shared by every
//! worker and by the learner routes (`/act`, `/train`, `/train_batch`, `/learner/*`).
//!
//! One agent per node, as in the original, so every decision and every reward trains the same table. It
//! sits behind one `Mutex`: a decision holds it for one `act` (tens of nanoseconds, no allocation), a
//! reward for one window push and drain. With a handful of workers the lock is almost never contended;
//! `benches/learning.rs` measures the whole decision. EIDs come from an atomic counter outside the lock.
//!
//! The state has a fixed dimension (`1 + 2N` for `LearningScheduler(N)`); selecting a scheduler with a
//! different `N` rebuilds the table. Parameter changes apply at once and keep what was learned.

mod pairing;
pub mod params;
mod values;
pub mod weights;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use p2pfaas_learner::config::Config;
use p2pfaas_learner::policy::EpsilonGreedy;
use p2pfaas_learner::td::{self, Td};
use p2pfaas_learner::value::ValueFunction;
use p2pfaas_learner::window::{Push, Transition, Window};
use rand::RngCore;
use serde::Serialize;
use serde_json::{Map, Value};

pub use params::Parameters;
pub use values::Values;

/// Entries the EID window can hold (the original buffered up to 10,000 and then blocked its HTTP API).
pub const WINDOW_CAPACITY: usize = 4096;
/// Largest `N` of `LearningScheduler(N)`.
pub const MAX_TASK_TYPES: usize = 16;
/// Most extra state features (`learner.state_features`).
pub const MAX_FEATURES: usize = 8;
/// Largest state: task type, running and queued counts per type, extra features.
pub const MAX_DIMS: usize = 1 + 2 * MAX_TASK_TYPES + MAX_FEATURES;

/// State dimension for `task_types` task types and `features` extra features.
pub fn dims_for(task_types: usize, features: usize) -> usize {
    1 + 2 * task_types + features
}

/// An optional state component beyond the original's `[type, running…, queued…]`, discretised to a few
/// integer levels so that the Q-table stays small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// Busy share of all CPUs, in tenths (0–10).
    Utilisation,
    /// Busy share of the busiest CPU, in tenths (0–10).
    UtilisationMaxCpu,
    /// CPU pressure (PSI "some"), in tenths (0–10; 0 without PSI).
    CpuPressure,
    /// Run-queue latency p99, as log2 of microseconds (0–20; 0 without eBPF).
    RunqP99,
    /// Fewest jobs (running + queued) at any peer that could take the job, capped at 16; 17 when no peer
    /// load is known.
    PeersMinLoad,
    /// The cached load of the peer with stable id `i` (below [`PEER_LOAD_FEATURES`]), in four levels:
    /// 0 a free slot, 1 every slot busy with at most K queued, 2 more queued, 3 unknown or unable to take
    /// the job (down, on its path). Pairs with action `3 + i`, forwarding to that peer.
    PeerLoad(u8),
    /// The job's deadline class: `floor(log2(deadline in ms))` clamped to 0–10, 11 without a deadline. The
    /// papers' task types differ mainly in how much slack their deadlines leave.
    DeadlineSlack,
    /// The node's own speed (`node.speed`, the service-time divisor) in quarters, clamped to 0–16, so
    /// that a table trained on one node carries over to nodes of another speed.
    Speed,
}

/// Peers whose load can be a state feature (`peer_load_0` … `peer_load_3`).
pub const PEER_LOAD_FEATURES: u8 = 4;

impl Feature {
    /// Every feature with its config name.
    pub const ALL: [(&'static str, Self); 11] = [
        ("utilisation", Self::Utilisation),
        ("utilisation_max_cpu", Self::UtilisationMaxCpu),
        ("cpu_pressure", Self::CpuPressure),
        ("runq_p99", Self::RunqP99),
        ("peers_min_load", Self::PeersMinLoad),
        ("peer_load_0", Self::PeerLoad(0)),
        ("peer_load_1", Self::PeerLoad(1)),
        ("peer_load_2", Self::PeerLoad(2)),
        ("peer_load_3", Self::PeerLoad(3)),
        ("deadline_slack", Self::DeadlineSlack),
        ("speed", Self::Speed),
    ];

    /// The feature a config name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    /// Whether it reads the machine's load sample.
    pub fn needs_sample(self) -> bool {
        matches!(
            self,
            Self::Utilisation | Self::UtilisationMaxCpu | Self::CpuPressure | Self::RunqP99
        )
    }
}

/// Why an entry or a change was refused. Messages name the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LearnError {
    /// The state vector has the wrong length.
    #[error("state: expected {expected} values, got {got}")]
    StateLength {
        /// The agent's dimension.
        expected: usize,
        /// What was given.
        got: usize,
    },
    /// The action is not below `actions_n`.
    #[error("action: must be below actions_n = {actions_n}, got {action}")]
    Action {
        /// Configured action count.
        actions_n: usize,
        /// What was given.
        action: u32,
    },
    /// A parameter is invalid.
    #[error("{0}")]
    Parameter(String),
}

/// The rewards of a node-computed learning decision (`[learner] reward_met/missed/rejected/refused`), by
/// how its job ended; the node and the simulator both reward through [`Rewards::of_learning`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rewards {
    /// Answered with a 2xx within the job's deadline.
    pub met: f32,
    /// Answered otherwise (late, an error, a capacity reject).
    pub missed: f32,
    /// Rejected on purpose (the scheduler's or the learner's 503).
    pub rejected: f32,
    /// The double decision refused a peer's job (which its origin then runs itself).
    pub refused: f32,
}

impl Rewards {
    /// The reward of a job that met its deadline (`met`), else was rejected on purpose (`rejected`),
    /// else missed it.
    pub fn of(&self, met: bool, rejected: bool) -> f32 {
        if met {
            self.met
        } else if rejected {
            self.rejected
        } else {
            self.missed
        }
    }

    /// The reward of `learning`'s decision: [`Rewards::of`] for the node's own decision; for the
    /// double decision's, `refused` when it refused the job, else `met` or `missed` by how the job it
    /// accepted ended (a capacity reject after accepting is a miss).
    pub fn of_learning(
        &self,
        learning: &crate::scheduler::Learning,
        met: bool,
        rejected: bool,
    ) -> f32 {
        match (learning.acceptance, learning.action) {
            (false, _) => self.of(met, rejected),
            (true, 0) => self.refused,
            (true, _) => self.of(met, false),
        }
    }
}

/// One learning entry, as `/train` and `/train_batch` carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Execution id.
    pub eid: u64,
    /// State the action was taken in.
    pub state: Vec<f32>,
    /// The action.
    pub action: u32,
    /// Its reward.
    pub reward: f32,
}

/// Counters for `/learner/stats` and `/metrics`. The first seven keys are the original's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Decisions taken (`act`).
    pub inferences: u64,
    /// Transitions trained.
    pub trained_items: u64,
    /// Current ε.
    pub epsilon: f32,
    /// Windows trained.
    pub episodes: u64,
    /// Entries buffered in the window.
    pub pending_entries: usize,
    /// Highest EID received.
    pub eid_max_seen: u64,
    /// EID of the last entry consumed by training.
    pub eid_last_trained: u64,
    /// Average-reward estimate R̄.
    pub average_reward: f32,
    /// Rewards received (node-computed and external).
    pub rewards: u64,
    /// Sum of those rewards.
    pub reward_sum: f64,
    /// States in the Q-table.
    pub states: usize,
    /// New states refused because the table was full.
    pub states_rejected: u64,
    /// State dimension.
    pub dims: usize,
    /// Actions.
    pub actions: usize,
    /// Entries refused as duplicates.
    pub duplicates: u64,
    /// Entries refused as older than the training cursor.
    pub stale: u64,
    /// Missing EIDs skipped after waiting.
    pub gaps_skipped: u64,
    /// Entries dropped because the ring was full.
    pub evicted: u64,
    /// Transitions skipped because an action no longer fits `actions_n`.
    pub invalid_actions: u64,
    /// Node-computed rewards whose decision had left the pairing ring (or came twice).
    pub late_rewards: u64,
}

/// The shared agent.
#[derive(Debug)]
pub struct Agent {
    core: Mutex<Core>,
    next_eid: AtomicU64,
}

#[derive(Debug)]
struct Core {
    params: Parameters,
    q: Values,
    policy: EpsilonGreedy,
    td: Td,
    /// Entries from `/train` and `/train_batch`, trained in EID order.
    window: Window,
    /// The node's own decisions, trained as their rewards come in.
    pairing: pairing::Pairing,
    counts: Counts,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    inferences: u64,
    episodes: u64,
    eid_max_seen: u64,
    eid_last_trained: u64,
    rewards: u64,
    reward_sum: f64,
    invalid_actions: u64,
    paired: u64,
}

/// One TD update from a transition of either source; skipped (and counted) when an action no longer
/// fits the table.
fn train_one(
    q: &mut Values,
    td: &mut Td,
    params: &Parameters,
    epsilon: f32,
    counts: &mut Counts,
    t: &Transition<'_>,
) -> bool {
    let (a, next) = (t.action as usize, t.next_action as usize);
    if a >= q.actions() || next >= q.actions() {
        counts.invalid_actions += 1;
        return false;
    }
    let tr = td::Transition {
        state: t.state,
        action: a,
        reward: t.reward,
        next_state: t.next_state,
        next_action: next,
    };
    td.step(params.algorithm.form(), q, &tr, epsilon);
    counts.eid_last_trained = counts.eid_last_trained.max(t.eid + 1);
    true
}

impl Core {
    /// A fresh core whose window expects EIDs from `start` on (the node's counter).
    fn new(dims: usize, params: Parameters, start: u64) -> Result<Self, LearnError> {
        let config = params
            .validate(WINDOW_CAPACITY)
            .map_err(LearnError::Parameter)?;
        let actions = params.actions_n;
        let shape = |e: p2pfaas_learner::Error| LearnError::Parameter(e.to_string());
        Ok(Self {
            q: Values::new(dims, &params)?,
            policy: EpsilonGreedy::try_new(&config, actions).map_err(shape)?,
            td: Td::try_new(&config, actions).map_err(shape)?,
            window: Window::new(
                WINDOW_CAPACITY,
                dims,
                params.window_size,
                params.entry_missing_max_attempts,
            )
            .map_err(|e| LearnError::Parameter(e.to_string()))?
            .with_start(start),
            pairing: pairing::Pairing::new(WINDOW_CAPACITY, dims),
            params,
            counts: Counts::default(),
        })
    }

    /// Stores one entry and trains whatever it completes.
    fn learn(&mut self, eid: u64, state: &[f32], action: u32, reward: f32) -> Push {
        let pushed = self.window.push(eid, state, action, reward);
        if pushed != Push::Accepted {
            return pushed;
        }
        self.counts.eid_max_seen = self.counts.eid_max_seen.max(eid);
        self.counts.rewards += 1;
        self.counts.reward_sum += f64::from(reward);
        let Self {
            q,
            policy,
            td,
            window,
            params,
            counts,
            ..
        } = self;
        let epsilon = policy.epsilon();
        let mut trained = 0u64;
        window.drain(|t| {
            if train_one(q, td, params, epsilon, counts, &t) {
                trained += 1;
            }
        });
        if trained > 0 {
            counts.episodes += 1;
            policy.end_episode();
        }
        pushed
    }

    /// Runs `f` on the pairing ring with a trainer for the transitions it completes.
    fn paired<R>(
        &mut self,
        f: impl FnOnce(&mut pairing::Pairing, &mut dyn FnMut(Transition<'_>)) -> R,
    ) -> R {
        let Self {
            q,
            policy,
            td,
            pairing,
            params,
            counts,
            ..
        } = self;
        let epsilon = policy.epsilon();
        f(pairing, &mut |t: Transition<'_>| {
            if train_one(q, td, params, epsilon, counts, &t) {
                counts.paired += 1;
            }
        })
    }

    fn check(&self, state_len: usize, action: u32) -> Result<(), LearnError> {
        if state_len != self.q.dims() {
            return Err(LearnError::StateLength {
                expected: self.q.dims(),
                got: state_len,
            });
        }
        if action as usize >= self.q.actions() {
            return Err(LearnError::Action {
                actions_n: self.q.actions(),
                action,
            });
        }
        Ok(())
    }
}

impl Agent {
    /// An agent for states of `dims` values.
    pub fn new(dims: usize, params: Parameters) -> Result<Self, LearnError> {
        Ok(Self {
            core: Mutex::new(Core::new(dims, params, 1)?),
            next_eid: AtomicU64::new(1),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        // A panic while training cannot leave the table half-written in a way that matters more than
        // losing the node's scheduler; keep serving.
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A decision of the node: an action for `state`, its fresh execution id (1, 2, 3, … for the life of
    /// the process) and the ε used; the decision is recorded so that [`Agent::reward`] can train on it.
    /// `None` when the state does not have the agent's dimension. Does not allocate.
    pub fn decide(&self, state: &[f32], rng: &mut dyn RngCore) -> Option<(u64, u32, f32)> {
        let mut core = self.lock();
        if state.len() != core.q.dims() {
            return None;
        }
        let epsilon = core.policy.epsilon();
        let Core { q, policy, .. } = &mut *core;
        // Actions are below MAX_ACTIONS (64).
        let action = u32::try_from(policy.act(q, state, rng)).unwrap_or(0);
        core.counts.inferences += 1;
        let eid = self.next_eid.fetch_add(1, Ordering::Relaxed);
        core.paired(|p, train| p.decide(eid, state, action, train));
        Some((eid, action, epsilon))
    }

    /// The reward of the node's decision `eid` (computed by the node when the job ended). Trains the
    /// transition it completes. Returns false when the decision is unknown (too old, or rewarded twice).
    pub fn reward(&self, eid: u64, reward: f32) -> bool {
        let mut core = self.lock();
        let known = core.paired(|p, train| p.reward(eid, reward, train));
        let counts = &mut core.counts;
        if known {
            counts.rewards += 1;
            counts.reward_sum += f64::from(reward);
            counts.eid_max_seen = counts.eid_max_seen.max(eid);
        }
        known
    }

    /// Chooses an action for `state` with the ε-greedy policy; returns it with the ε used, or `None` when
    /// the state does not have the agent's dimension. Does not allocate.
    pub fn act(&self, state: &[f32], rng: &mut dyn RngCore) -> Option<(u32, f32)> {
        let mut core = self.lock();
        if state.len() != core.q.dims() {
            return None;
        }
        let Core { q, policy, .. } = &mut *core;
        let epsilon = policy.epsilon();
        let action = policy.act(q, state, rng);
        core.counts.inferences += 1;
        // Actions are below MAX_ACTIONS (64).
        Some((u32::try_from(action).unwrap_or(0), epsilon))
    }

    /// Records the reward of one decision and trains what it completes. Duplicates and stale EIDs are
    /// counted and ignored (the original answered "ok" to them too).
    pub fn learn(
        &self,
        eid: u64,
        state: &[f32],
        action: u32,
        reward: f32,
    ) -> Result<(), LearnError> {
        let mut core = self.lock();
        core.check(state.len(), action)?;
        core.learn(eid, state, action, reward);
        Ok(())
    }

    /// Records a batch atomically: every entry is checked first, and if one is bad nothing is recorded
    /// (the error carries its index). Entries already buffered are never affected.
    pub fn learn_batch(&self, entries: &[Entry]) -> Result<(), (usize, LearnError)> {
        let mut core = self.lock();
        for (i, e) in entries.iter().enumerate() {
            core.check(e.state.len(), e.action)
                .map_err(|err| (i, err))?;
        }
        for e in entries {
            core.learn(e.eid, &e.state, e.action, e.reward);
        }
        Ok(())
    }

    /// The parameters in force.
    pub fn parameters(&self) -> Parameters {
        self.lock().params
    }

    /// State dimension.
    pub fn dims(&self) -> usize {
        self.lock().q.dims()
    }

    /// Applies a partial update. Everything takes effect now; learned values are kept. Changing
    /// `actions_n` or `table_capacity` copies the table into one of the new shape and restarts R̄.
    pub fn set_parameters(&self, patch: &Map<String, Value>) -> Result<Parameters, LearnError> {
        let mut core = self.lock();
        let mut next = core.params;
        let epsilon = next.merge(patch).map_err(LearnError::Parameter)?;
        let config = next
            .validate(WINDOW_CAPACITY)
            .map_err(LearnError::Parameter)?;
        if next.actions_n != core.params.actions_n
            || next.table_capacity != core.params.table_capacity
            || next.value_function != core.params.value_function
            || next.tile_config(1) != core.params.tile_config(1)
        {
            reshape(&mut core, &next)?;
        } else {
            core.td.reconfigure(&config);
            core.policy.reconfigure(&config);
        }
        if let Some(e) = epsilon {
            core.policy.set_epsilon(e);
        }
        core.window
            .set_limits(next.window_size, next.entry_missing_max_attempts)
            .map_err(|e| LearnError::Parameter(e.to_string()))?;
        core.params = next;
        Ok(next)
    }

    /// Rebuilds everything for states of `dims` values (a `LearningScheduler(N)` with a new `N`). Weights,
    /// counters and buffered entries are dropped; parameters are kept.
    pub fn resize(&self, dims: usize) -> Result<(), LearnError> {
        let mut core = self.lock();
        if core.q.dims() != dims {
            *core = Core::new(dims, core.params, self.next_eid.load(Ordering::Relaxed))?;
        }
        Ok(())
    }

    /// The original's reset: empty table, ε back to `epsilon_start`, R̄ = 0, counters zero, pending entries
    /// dropped. EIDs keep counting.
    pub fn reset(&self) -> Result<(), LearnError> {
        let mut core = self.lock();
        let dims = core.q.dims();
        *core = Core::new(dims, core.params, self.next_eid.load(Ordering::Relaxed))?;
        Ok(())
    }

    /// Current counters.
    pub fn stats(&self) -> Stats {
        let core = self.lock();
        let w = core.window.stats();
        let c = core.counts;
        Stats {
            inferences: c.inferences,
            trained_items: w.trained + c.paired,
            epsilon: core.policy.epsilon(),
            episodes: c.episodes,
            pending_entries: core.window.pending(),
            eid_max_seen: c.eid_max_seen,
            eid_last_trained: c.eid_last_trained,
            average_reward: core.td.average_reward().value(),
            rewards: c.rewards,
            reward_sum: c.reward_sum,
            states: core.q.states(),
            states_rejected: core.q.rejected(),
            dims: core.q.dims(),
            actions: core.q.actions(),
            duplicates: w.duplicates,
            stale: w.stale,
            gaps_skipped: w.gaps_skipped,
            evicted: w.evicted,
            invalid_actions: c.invalid_actions,
            late_rewards: core.pairing.late,
        }
    }

    /// The table in the original's JSON shape: `actions_map`, `states_map` (state key → row) and `table`.
    /// State keys join the values with commas (`"1,0,2"`), so distinct states never share a key.
    pub fn weights(&self) -> Value {
        let core = self.lock();
        let actions: Map<String, Value> = (0..core.q.actions())
            .map(|a| (a.to_string(), Value::from(a)))
            .collect();
        let mut states = Map::new();
        let mut table = Vec::with_capacity(core.q.states());
        // Tile coding stores weights, not states: its JSON lists none (the weight file has them).
        let rows = core
            .q
            .table()
            .into_iter()
            .flat_map(p2pfaas_learner::qtable::QTable::iter);
        for (row, (state, values)) in rows.enumerate() {
            let key = state
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",");
            states.insert(key, Value::from(row));
            table.push(Value::from(values.to_vec()));
        }
        serde_json::json!({"actions_map": actions, "states_map": states, "table": table})
    }

    /// Greedy action values of `state`, for tests and inspection (`None` on a dimension mismatch).
    pub fn values(&self, state: &[f32]) -> Option<Vec<f32>> {
        let core = self.lock();
        (state.len() == core.q.dims()).then(|| {
            let mut out = vec![0.0; core.q.actions()];
            core.q.q_all(state, &mut out);
            out
        })
    }

    /// The learned weights as a weight file (the learner crate's versioned format; the file I/O is the
    /// caller's).
    pub fn encode_weights(&self) -> Vec<u8> {
        self.lock().q.encode()
    }

    /// Loads a weight file written by [`Agent::encode_weights`] of an agent of the same shape. Nothing
    /// changes unless the whole file fits; the error names the header field that differs (`kind`,
    /// `dims`, `actions`, …) with both values.
    pub fn decode_weights(&self, bytes: &[u8]) -> Result<(), p2pfaas_learner::Error> {
        self.lock().q.decode(bytes)
    }
}

/// Moves the learned values into a value function of the new shape (extra actions start at 0, dropped
/// actions are lost; from table to table only: tile weights do not map onto other tilings, so changing
/// the tiling or the kind starts empty) and rebuilds the policy and TD learner for the new action count,
/// keeping ε.
fn reshape(core: &mut Core, next: &Parameters) -> Result<(), LearnError> {
    let shape = |e: p2pfaas_learner::Error| LearnError::Parameter(e.to_string());
    let mut q = Values::new(core.q.dims(), next)?;
    if let (Values::Table(to), Some(from)) = (&mut q, core.q.table()) {
        let mut row = [0.0f32; params::MAX_ACTIONS];
        for (state, values) in from.iter() {
            let n = values.len().min(next.actions_n);
            row.fill(0.0);
            row[..n].copy_from_slice(&values[..n]);
            // A smaller table keeps what fits; the rest is counted by its `rejected`.
            let _stored = to.set(state, &row[..next.actions_n]);
        }
    }
    let keep = Parameters {
        epsilon_start: core.policy.epsilon().max(next.epsilon_min),
        ..*next
    };
    let config: Config = keep.config().map_err(LearnError::Parameter)?;
    core.policy = EpsilonGreedy::try_new(&config, next.actions_n).map_err(shape)?;
    core.td = Td::try_new(&config, next.actions_n).map_err(shape)?;
    core.q = q;
    Ok(())
}

#[cfg(test)]
mod tests;
