//! Node-wide state shared by all workers: the K-slot admission, the function registry, per-task-type
//! counters, the run-time settings and the published scheduler descriptor; and [`local_load`], this
//! node's load as gossip carries it.
//!
//! Only admission and the counters are touched per request, and they are atomics. The two `Mutex`es
//! guard admin-route changes (merge + persist + apply as one step, on the blocking pool); workers never
//! take them on the request path: they compare a generation number and rebuild their scheduler copy
//! only when it changed.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use p2pfaas_membership::Load;

use crate::blocking::Pool;
use crate::config::Config;
use crate::learning::{self, Agent};
use crate::load::{self, LoadSample};
use crate::metrics::WorkerMetrics;
use crate::queue::Admission;
use crate::registry::Registry;
use crate::scheduler::{self, Descriptor, DescriptorError, Spec};
use crate::shutdown::Shutdown;
use crate::store::{DiscoveryFile, QueueSettings, Store};

/// Running and queued jobs of one task type (the learning scheduler's state).
#[derive(Debug, Default)]
pub struct TaskCounter {
    /// Jobs holding a slot.
    pub running: AtomicUsize,
    /// Jobs waiting.
    pub queued: AtomicUsize,
}

/// Which io driver the workers run, decided once at start.
#[derive(Debug, Clone)]
pub struct DriverInfo {
    /// `io_uring` or `epoll`.
    pub name: &'static str,
    /// io_uring setup flags in force, comma-separated.
    pub flags: String,
    /// Why io_uring is not in use, when it is not.
    pub fallback_reason: Option<String>,
}

/// The shared state.
#[derive(Debug)]
pub struct Node {
    /// Start-up configuration (immutable).
    pub config: Config,
    /// K slots + FIFO queue.
    pub admission: Arc<Admission>,
    /// The function table and its run-time registry.
    pub registry: Registry,
    /// Per-task-type counters, `config.queue.task_types` long.
    pub task_types: Vec<TaskCounter>,
    /// Data directory.
    pub store: Store,
    /// Fired on SIGTERM/SIGINT.
    pub shutdown: Shutdown,
    /// Set once when the workers have built their runtimes.
    pub driver: OnceLock<DriverInfo>,
    /// One metrics set per worker, in worker order.
    pub metrics: Vec<Arc<WorkerMetrics>>,
    /// When the node started.
    pub started: Instant,
    /// The learning agent (`LearningScheduler`, `/learner/*`).
    pub agent: Arc<Agent>,
    /// The double decision's agent (`LearningScheduler(N, true)`): accept (1) or refuse (0) a peer's
    /// job, over the same state as `agent`. Not persisted: it learns afresh at each start.
    pub acceptance: Arc<Agent>,
    /// Known peers.
    pub peers: crate::peers::PeerTable,
    /// Signatures for peer and admin calls.
    pub auth: crate::auth::Auth,
    /// Job ids: those this node gives out and those it received (at most once).
    pub jobs: crate::jobs::Jobs,
    /// SWIM membership, set up once the listener is bound.
    pub gossip: OnceLock<crate::peers::gossip::Gossip>,
    /// The last five minutes, one record per second: written by worker 0's recorder, read lock-free
    /// by `GET /events/history` on any worker.
    pub history: crate::history::Ring,
    /// The latest load sample, written by the sampler thread, read lock-free (`Node::load`).
    load: Arc<load::Shared>,
    settings: Mutex<QueueSettings>,
    scheduler: Mutex<Descriptor>,
    /// Who this node is and its seeds, as `/discovery/configuration` shows them (persisted changes
    /// restored at start; settled in `set_bound`).
    discovery: Mutex<DiscoveryFile>,
    /// The blocking pool (CPU-bound built-ins, process functions, file writes). A process call holds a
    /// thread for its whole run, so the pool's limit is never below K + 1 (threads start on demand).
    blocking: Pool,
    scheduler_generation: AtomicU64,
}

/// Why a start-up restore failed.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// A persisted file is unreadable.
    #[error("cannot read persisted state: {0}")]
    Io(#[from] std::io::Error),
    /// A persisted function registration no longer validates.
    #[error("persisted function registry is invalid: {0}")]
    Functions(#[from] crate::config::ConfigError),
    /// The persisted scheduler is invalid.
    #[error("persisted scheduler is invalid: {0}")]
    Scheduler(#[from] DescriptorError),
    /// The persisted queue settings are out of range.
    #[error("persisted queue settings are invalid: {0}")]
    Settings(String),
    /// The persisted discovery configuration is invalid.
    #[error("persisted discovery configuration is invalid: {0}")]
    Discovery(String),
    /// The persisted learner parameters are out of range.
    #[error("persisted learner parameters are invalid: {0}")]
    Learner(#[from] learning::LearnError),
    /// `learner.weights_file` cannot be read or does not fit the agent.
    #[error("learner.weights_file {path}: {message}")]
    Weights {
        /// The file.
        path: String,
        /// Why (a shape mismatch names the field, with both values).
        message: String,
    },
}

impl Node {
    /// Builds the node state, restoring persisted run-time settings from the data directory.
    pub fn new(config: Config) -> Result<Self, RestoreError> {
        let store = Store::new(config.node.data_dir.clone());
        let settings = match store.load_queue()? {
            Some(s) => {
                validate_settings(&s).map_err(RestoreError::Settings)?;
                s
            }
            None => QueueSettings {
                parallel_running_functions_max: config.queue.slots,
                queue_length_max: config.queue.queue_len,
                queue_enabled: config.queue.enabled,
            },
        };
        let descriptor = match store.load_scheduler()? {
            Some(d) => {
                scheduler::parse(&d, config.queue.task_types)?;
                d
            }
            None => config.scheduler.clone(),
        };
        let discovery = store.load_discovery()?.unwrap_or_default();
        check_discovery(&discovery).map_err(RestoreError::Discovery)?;
        let agent = Arc::new(Agent::new(
            learner_dims(&descriptor, &config)
                .unwrap_or(learning::dims_for(1, config.learner.state_features.len())),
            store.load_learner()?.unwrap_or(config.learner.parameters),
        )?);
        let acceptance = Arc::new(Agent::new(
            agent.dims(),
            learning::Parameters {
                actions_n: 2,
                ..agent.parameters()
            },
        )?);
        if let Some(path) = &config.learner.weights_file {
            let fail = |message: String| RestoreError::Weights {
                path: path.display().to_string(),
                message,
            };
            let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
            learning::weights::decode(&agent, &acceptance, &bytes)
                .map_err(|e| fail(e.to_string()))?;
            tracing::info!(path = %path.display(), "learner weights loaded from learner.weights_file");
        }
        let weights = store.weights_path();
        // Saved weights of another shape (or an unreadable file) leave the agent empty.
        let loaded = match store
            .load_weights()
            .map(|w| w.filter(|_| config.learner.weights_file.is_none()))
        {
            Ok(None) => None,
            Ok(Some(bytes)) => Some(
                learning::weights::decode(&agent, &acceptance, &bytes).map_err(|e| e.to_string()),
            ),
            Err(e) => Some(Err(e.to_string())),
        };
        match loaded {
            None => {}
            Some(Ok(())) => tracing::info!(path = %weights.display(), "learner weights loaded"),
            Some(Err(e)) => {
                tracing::warn!(path = %weights.display(), error = %e, "learner weights not loaded; starting empty");
            }
        }
        let admission = Admission::new(
            settings.parallel_running_functions_max,
            effective_queue_len(&settings),
        );
        let workers = config.node.workers.get();
        let registry = Registry::new(
            config.functions.clone(),
            store.load_functions()?.unwrap_or_default(),
            workers,
            config.http.max_body_bytes,
        )?;
        let metrics = (0..workers)
            .map(|_| Arc::new(WorkerMetrics::new()))
            .collect();
        let task_types = (0..config.queue.task_types)
            .map(|_| TaskCounter::default())
            .collect();
        Ok(Self {
            admission,
            registry,
            task_types,
            store,
            shutdown: Shutdown::new(),
            driver: OnceLock::new(),
            metrics,
            started: Instant::now(),
            agent,
            acceptance,
            peers: crate::peers::PeerTable::new(String::new(), String::new()),
            gossip: OnceLock::new(),
            auth: crate::auth::Auth::new(
                config.auth.cluster_key.clone(),
                config.auth.replay_window,
            ),
            history: crate::history::Ring::new(),
            jobs: crate::jobs::Jobs::new(config.peers.forward_timeout),
            load: Arc::new(load::Shared::new()),
            blocking: Pool::new(blocking_size(
                &config,
                settings.parallel_running_functions_max,
            )),
            settings: Mutex::new(settings),
            scheduler: Mutex::new(descriptor),
            discovery: Mutex::new(discovery),
            scheduler_generation: AtomicU64::new(1),
            config,
        })
    }

    /// Settles this node's identity once its listener is bound (`addr`), then adds the configured peers.
    /// Values set through `/discovery/configuration` (persisted) win over the config file's.
    pub fn set_bound(&self, addr: std::net::SocketAddr) {
        let d = &self.config.discovery;
        let saved = self.discovery_settings();
        let given = |s: String| (!s.is_empty()).then_some(s);
        let advertise = given(saved.machine_ip)
            .or_else(|| d.advertise.clone())
            .unwrap_or_else(|| {
                let ip = if addr.ip().is_unspecified() {
                    std::net::IpAddr::from([127, 0, 0, 1])
                } else {
                    addr.ip()
                };
                std::net::SocketAddr::new(ip, addr.port()).to_string()
            });
        let id = given(saved.machine_id)
            .or_else(|| d.machine_id.clone())
            .unwrap_or_else(|| format!("p2pfaas-{advertise}"));
        let mut servers = d.init_servers.clone();
        for s in saved.init_servers {
            if !servers.contains(&s) {
                servers.push(s);
            }
        }
        *lock(&self.discovery) = DiscoveryFile {
            machine_ip: advertise.clone(),
            machine_id: id.clone(),
            machine_group_name: given(saved.machine_group_name)
                .unwrap_or_else(|| d.group_name.clone()),
            init_servers: servers.clone(),
        };
        // The seeds take the first peer slots, in the order given, before membership can add anyone:
        // peer ids (the learning actions "forward to peer i") then mean the same nodes on every start
        // and in the simulator, which numbers peers the same way.
        self.peers.set_own(id.clone(), advertise.clone());
        for server in &servers {
            let _ = self.peers.add(server);
        }
        // The join message carries it: peers learn the functions with the first contact.
        let load = local_load(self, f32::NAN);
        match crate::peers::gossip::Gossip::new(
            &id,
            &advertise,
            &servers,
            load,
            d.membership.clone(),
            self.config.node.seed,
        ) {
            Ok(g) => {
                let _ = self.gossip.set(g);
            }
            Err(e) => tracing::warn!(error = %e, "membership disabled"),
        }
    }

    /// The discovery configuration in force.
    pub fn discovery_settings(&self) -> DiscoveryFile {
        lock(&self.discovery).clone()
    }

    /// This node's group (`machine_group_name`), gossiped with its load.
    pub fn group(&self) -> String {
        lock(&self.discovery).machine_group_name.clone()
    }

    /// Validates, persists and applies a discovery configuration change (the original's discovery
    /// `POST /configuration`): unset fields keep their values, `init_servers` replaces the seed list and
    /// adds each server. A new id or address re-joins the membership under the new identity: the old one
    /// says goodbye (peers drop it at once), the new one joins through the seeds and every member known
    /// now, like a node restarted under a new name. Blocking: call it from the blocking pool.
    pub fn set_discovery(&self, change: DiscoveryChange) -> Result<DiscoveryFile, UpdateError> {
        let (before, after) = {
            let mut current = lock(&self.discovery);
            let before = current.clone();
            let after = DiscoveryFile {
                machine_ip: change
                    .machine_ip
                    .unwrap_or_else(|| before.machine_ip.clone()),
                machine_id: change
                    .machine_id
                    .unwrap_or_else(|| before.machine_id.clone()),
                machine_group_name: change
                    .machine_group_name
                    .unwrap_or_else(|| before.machine_group_name.clone()),
                init_servers: change
                    .init_servers
                    .unwrap_or_else(|| before.init_servers.clone()),
            };
            check_discovery(&after).map_err(UpdateError::Invalid)?;
            if after.machine_ip.is_empty() || after.machine_id.is_empty() {
                return Err(UpdateError::Invalid(
                    "machine_ip, machine_id: must not be empty".into(),
                ));
            }
            self.store
                .save_discovery(&after)
                .map_err(UpdateError::Persist)?;
            *current = after.clone();
            (before, after)
        };
        if (&after.machine_id, &after.machine_ip) != (&before.machine_id, &before.machine_ip) {
            tracing::info!(
                id = %after.machine_id, addr = %after.machine_ip,
                old_id = %before.machine_id, old_addr = %before.machine_ip,
                "new identity: re-joining the membership"
            );
            self.peers
                .set_own(after.machine_id.clone(), after.machine_ip.clone());
            if let Some(g) = self.gossip.get() {
                let load = local_load(self, f32::NAN);
                g.rejoin(
                    &after.machine_id,
                    &after.machine_ip,
                    &after.init_servers,
                    load,
                )
                .map_err(|e| UpdateError::Invalid(e.to_string()))?;
            }
        }
        for server in &after.init_servers {
            let _ = self.peers.add(server);
        }
        Ok(after)
    }

    /// The latest load sample (lock-free; `source` is `none` until the sampler's first interval).
    pub fn load(&self) -> LoadSample {
        self.load.load()
    }

    /// The slot the load sampler publishes into, and where the chosen source is recorded.
    pub fn load_shared(&self) -> &Arc<load::Shared> {
        &self.load
    }

    /// A handle on the blocking pool (clones share the pool and its limit).
    pub fn blocking_pool(&self) -> Pool {
        self.blocking.clone()
    }

    /// Current queue settings.
    pub fn settings(&self) -> QueueSettings {
        *self
            .settings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Merges, validates, persists and applies new queue settings as one step. Blocking: call it from the
    /// blocking pool. On error nothing changes.
    pub fn update_settings(
        &self,
        merge: impl FnOnce(&mut QueueSettings),
    ) -> Result<QueueSettings, UpdateError> {
        let mut guard = self
            .settings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut next = *guard;
        merge(&mut next);
        validate_settings(&next).map_err(UpdateError::Invalid)?;
        self.store.save_queue(&next).map_err(UpdateError::Persist)?;
        self.admission.set_limits(
            next.parallel_running_functions_max,
            effective_queue_len(&next),
        );
        self.blocking.set_max(blocking_size(
            &self.config,
            next.parallel_running_functions_max,
        ));
        *guard = next;
        Ok(next)
    }

    /// The scheduler descriptor in force and its generation number.
    pub fn scheduler(&self) -> (u64, Descriptor) {
        let guard = self
            .scheduler
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (
            self.scheduler_generation.load(Ordering::Acquire),
            guard.clone(),
        )
    }

    /// What workers need to build a scheduler.
    pub fn scheduler_context(&self) -> scheduler::Context<'_> {
        scheduler::Context {
            task_types: self.config.queue.task_types,
            agent: &self.agent,
            acceptance: &self.acceptance,
            features: &self.config.learner.state_features,
            // `node.speed`: the learning state's `speed` feature.
            speed: self.config.node.speed,
        }
    }

    /// Validates, persists and applies a partial learner-parameter update. Blocking: call it from the
    /// blocking pool. On error nothing changes.
    pub fn set_learner_parameters(
        &self,
        patch: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<learning::Parameters, UpdateError> {
        // Validate on a copy first so a failed save leaves the agent unchanged.
        let mut next = self.agent.parameters();
        next.merge(patch).map_err(UpdateError::Invalid)?;
        next.validate(learning::WINDOW_CAPACITY)
            .map_err(UpdateError::Invalid)?;
        self.store
            .save_learner(&next)
            .map_err(UpdateError::Persist)?;
        self.agent
            .set_parameters(patch)
            .map_err(|e| UpdateError::Invalid(e.to_string()))
    }

    /// Saves both learning agents' weights into the data directory (at shutdown).
    pub fn save_learner_weights(&self) {
        let path = self.store.weights_path();
        let bytes = learning::weights::encode(&self.agent, &self.acceptance);
        match self.store.save_weights(&bytes) {
            Ok(()) => tracing::info!(path = %path.display(), "learner weights saved"),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "learner weights not saved");
            }
        }
    }

    /// Generation of the scheduler descriptor; workers rebuild their copy when it changes.
    pub fn scheduler_generation(&self) -> u64 {
        self.scheduler_generation.load(Ordering::Acquire)
    }

    /// Validates, persists and publishes a new scheduler. Blocking: call it from the blocking pool.
    /// Running jobs are unaffected (the original refused to switch while any job ran).
    pub fn set_scheduler(&self, desc: Descriptor) -> Result<(), UpdateError> {
        scheduler::parse(&desc, self.config.queue.task_types)
            .map_err(|e| UpdateError::Invalid(e.to_string()))?;
        let mut guard = self
            .scheduler
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.store
            .save_scheduler(&desc)
            .map_err(UpdateError::Persist)?;
        // A new N changes the state's shape: the agent starts over for it. Other schedulers leave the
        // agent (and what it learned) alone.
        if let Some(dims) = learner_dims(&desc, &self.config) {
            for agent in [&self.agent, &self.acceptance] {
                agent
                    .resize(dims)
                    .map_err(|e| UpdateError::Invalid(e.to_string()))?;
            }
        }
        *guard = desc;
        self.scheduler_generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }
}

/// This node's load as gossip carries it, with `utilisation` (NaN when unknown).
pub fn local_load(node: &Node, utilisation: f32) -> Load {
    let a = &node.admission;
    let to_u32 = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    Load {
        running: to_u32(a.running()),
        queued: to_u32(a.queued()),
        slots: to_u32(a.slots()),
        queue_len: to_u32(a.queue_len()),
        functions: node
            .registry
            .snapshot()
            .1
            .iter()
            .map(|f| f.name().to_owned())
            .collect(),
        utilisation,
        group: node.group(),
    }
}

/// Why a run-time change was refused.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The new value is invalid; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// It could not be saved; nothing was applied.
    #[error("cannot persist: {0}")]
    Persist(std::io::Error),
}

/// A partial discovery configuration change: `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct DiscoveryChange {
    /// New address (`host:port`).
    pub machine_ip: Option<String>,
    /// New id.
    pub machine_id: Option<String>,
    /// New group.
    pub machine_group_name: Option<String>,
    /// New seed list.
    pub init_servers: Option<Vec<String>>,
}

/// Checks the fields of a discovery configuration (empty address and id: not set yet).
fn check_discovery(d: &DiscoveryFile) -> Result<(), String> {
    if !d.machine_ip.is_empty() {
        crate::config::check_peer_addr(&d.machine_ip).map_err(|e| format!("machine_ip: {e}"))?;
    }
    if !d.machine_id.is_empty()
        && (d.machine_id.len() > 128
            || d.machine_id
                .bytes()
                .any(|b| b.is_ascii_control() || b == b'"'))
    {
        return Err("machine_id: 1-128 printable characters without quotes".into());
    }
    if d.machine_group_name.len() > 128
        || d.machine_group_name.bytes().any(|b| b.is_ascii_control())
    {
        return Err("machine_group_name: up to 128 printable characters".into());
    }
    for (i, s) in d.init_servers.iter().enumerate() {
        crate::config::check_peer_addr(s).map_err(|e| format!("init_servers[{i}]: {e}"))?;
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// State dimension of the learner for `desc`: `1 + 2N + features` for `LearningScheduler(N)`, `None` for
/// the others.
fn learner_dims(desc: &Descriptor, config: &Config) -> Option<usize> {
    match scheduler::parse(desc, config.queue.task_types) {
        Ok(Spec::Learning { task_types, .. }) => Some(learning::dims_for(
            task_types,
            config.learner.state_features.len(),
        )),
        _ => None,
    }
}

/// Blocking-pool threads: the configured count, but at least K plus one for file writes.
fn blocking_size(config: &Config, slots: usize) -> usize {
    config.node.blocking_threads.get().max(slots + 1)
}

/// Q in force: 0 when the queue is disabled.
fn effective_queue_len(s: &QueueSettings) -> usize {
    if s.queue_enabled {
        s.queue_length_max
    } else {
        0
    }
}

/// Range checks shared by start-up restore and `/configuration`.
pub fn validate_settings(s: &QueueSettings) -> Result<(), String> {
    use crate::config::MAX_SLOTS;
    if !(1..=MAX_SLOTS).contains(&s.parallel_running_functions_max) {
        return Err(format!(
            "parallel_running_functions_max: must be between 1 and {MAX_SLOTS}, got {}",
            s.parallel_running_functions_max
        ));
    }
    if s.queue_length_max > MAX_SLOTS {
        return Err(format!(
            "queue_length_max: must be between 0 and {MAX_SLOTS}, got {}",
            s.queue_length_max
        ));
    }
    Ok(())
}
