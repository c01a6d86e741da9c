//! Scheduling decisions, sans-IO: a `Scheduler` looks at one job and the node's current view and returns a
//! `Decision`. It never touches sockets, clocks or global randomness — `now`-free inputs and the caller's
//! RNG make every algorithm deterministic under test and reusable in a simulator.
//!
//! Algorithms are selected by the original's descriptor `{name, parameters: [strings]}` (contract §1.4).
//! Adding one is a file in `scheduler/` plus one arm in [`parse`]; its [`Identity`] says once what it is
//! called and what its view needs.

mod cluster;
mod forward;
mod learning;
mod least_loaded;
mod local;
mod power_of_n;
mod round_robin;

use std::sync::Arc;

use rand::RngCore;
use serde::{Deserialize, Serialize};

pub use cluster::{
    MAX_PROBES, PeerId, PeerLoad, PeerView, Probe, ProbeResult, least_loaded, least_loaded_probed,
    probe_or, sample_probe,
};
pub use forward::ForwardScheduler;
pub use learning::{Learning, LearningScheduler};
pub use least_loaded::{Jsq, LeastLoadedCached};
pub use local::{NoScheduler, RejectScheduler};
pub use power_of_n::PowerOfN;
pub use round_robin::RoundRobinWithMaster;

use crate::learning::{Agent, Feature};

/// The compatible, serialisable name of an algorithm and its string parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Descriptor {
    /// Algorithm name, e.g. `NoScheduler`.
    pub name: String,
    /// Parameters as strings, in the original's order.
    #[serde(default)]
    pub parameters: Vec<String>,
}

/// What the scheduler needs to know about one invocation.
#[derive(Debug, Clone, Copy)]
pub struct JobMeta {
    /// Task type from `X-P2pfaas-Scheduler-Learning-Task-Type` (0 when absent).
    pub task_type: usize,
    /// True when the job arrived from a peer rather than a client.
    pub external: bool,
    /// Hops already travelled (0 for client jobs).
    pub hops: u32,
    /// The client's deadline, when the job has one (a learning-state feature).
    pub deadline: Option<std::time::Duration>,
}

/// Running and queued jobs of one task type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeLoad {
    /// Jobs of this type holding a slot.
    pub running: u32,
    /// Jobs of this type waiting.
    pub queued: u32,
}

/// The node's load as the scheduler sees it at decision time.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeView<'a> {
    /// Jobs holding a slot.
    pub running: usize,
    /// Jobs waiting for a slot.
    pub queued: usize,
    /// K.
    pub slots: usize,
    /// Q (0 when the queue is disabled).
    pub queue_len: usize,
    /// Per task type, filled only for schedulers whose [`Scheduler::needs_type_loads`] is true
    /// (empty otherwise).
    pub per_type: &'a [TypeLoad],
    /// The peers that may take this job (alive, serving its function, not on its path), filled only for
    /// schedulers whose [`Scheduler::needs_peers`] is true.
    pub peers: &'a [PeerView<'a>],
    /// The machine's latest load sample, filled only for schedulers whose
    /// [`Scheduler::needs_load_sample`] is true.
    pub sample: Option<crate::load::LoadSample>,
}

impl NodeView<'_> {
    /// The original's load measure: running + queued.
    pub fn load(&self) -> usize {
        self.running + self.queued
    }
}

/// How a locally run job is admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Take a free slot, else wait in the FIFO queue if it has room, else overload.
    Queue,
    /// Take a free slot now or be rejected (a loss system: Erlang-B).
    NoQueue,
}

/// Why a job was rejected on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// The client asked for it with `X-P2pfaas-Scheduler-Reject`.
    RejectHeader,
    /// The learning agent chose action 0 (reject).
    Learner,
    /// A round-robin master takes jobs from workers only, not from clients.
    MasterClientJob,
}

impl RejectReason {
    /// Short machine-readable reason for `X-P2pfaas-Reject-Reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RejectHeader => "reject_header",
            Self::Learner => "learner_reject",
            Self::MasterClientJob => "master_takes_no_client_jobs",
        }
    }
}

/// A scheduler's verdict on one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Run on this node.
    RunLocal(Admission),
    /// Refuse deliberately (503).
    Reject(RejectReason),
    /// Send it to this peer.
    Forward(PeerId),
    /// Ask these peers for their load first, then call [`Scheduler::after_probe`].
    Probe(Probe),
}

impl Decision {
    /// Run here: without queueing when `loss` (a loss system, `Loss = true`), else with the queue.
    pub fn local(loss: bool) -> Self {
        Self::RunLocal(if loss {
            Admission::NoQueue
        } else {
            Admission::Queue
        })
    }
}

/// What a decision leaves for the response and for learning, besides the [`Decision`] itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Note {
    /// Set by learning schedulers: what to report in the learning headers and train on later.
    pub learning: Option<Learning>,
    /// Why the decision differs from what the algorithm chose (e.g. a forward action with no peer to
    /// forward to ran locally); sent as `X-P2pfaas-Scheduler-Fallback`.
    pub fallback: Option<&'static str>,
}

/// What a scheduler's view must hold beyond the node's own counts; reading each costs the caller
/// something (counter reads, a snapshot swap, a load-sample read), so it is filled only on request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// [`NodeView::peers`].
    pub peers: bool,
    /// [`NodeView::per_type`].
    pub type_loads: bool,
    /// [`NodeView::sample`].
    pub load_sample: bool,
}

impl Needs {
    /// Only the node's own counts.
    pub const NOTHING: Self = Self {
        peers: false,
        type_loads: false,
        load_sample: false,
    };
    /// The peers that may take the job.
    pub const PEERS: Self = Self {
        peers: true,
        ..Self::NOTHING
    };
}

/// What every algorithm says about itself — its descriptor, its display name and what its view needs —
/// built once with the algorithm, in one place, so the algorithms do not repeat it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    descriptor: Descriptor,
    full_name: String,
    needs: Needs,
}

impl Identity {
    /// An algorithm shown as `name(p1, p2, …)` in `X-P2pfaas-Scheduler`.
    pub fn new(name: &str, parameters: Vec<String>, needs: Needs) -> Self {
        let full_name = format!("{name}({})", parameters.join(", "));
        Self {
            descriptor: Descriptor {
                name: name.to_owned(),
                parameters,
            },
            full_name,
            needs,
        }
    }

    /// An algorithm shown by its bare name (the original's `NoScheduler`).
    pub fn bare(name: &str, parameters: Vec<String>, needs: Needs) -> Self {
        Self {
            descriptor: Descriptor {
                name: name.to_owned(),
                parameters,
            },
            full_name: name.to_owned(),
            needs,
        }
    }
}

/// A scheduling algorithm. One instance lives on each worker thread (`&mut self`, no sharing).
pub trait Scheduler {
    /// Its descriptor, display name and needs.
    fn identity(&self) -> &Identity;
    /// The compatible descriptor this instance was built from.
    fn descriptor(&self) -> Descriptor {
        self.identity().descriptor.clone()
    }
    /// Display name with parameters for `X-P2pfaas-Scheduler`, e.g. `NoScheduler`.
    fn full_name(&self) -> &str {
        &self.identity().full_name
    }
    /// Whether [`NodeView::per_type`] must be filled (reading the counters costs a few cache misses).
    fn needs_type_loads(&self) -> bool {
        self.identity().needs.type_loads
    }
    /// Whether [`NodeView::peers`] must be filled.
    fn needs_peers(&self) -> bool {
        self.identity().needs.peers
    }
    /// Whether [`NodeView::sample`] must be filled.
    fn needs_load_sample(&self) -> bool {
        self.identity().needs.load_sample
    }
    /// Decides what to do with `job`, given the node's view and the caller's RNG; `note` receives
    /// what the response and learning need.
    fn decide(
        &mut self,
        job: &JobMeta,
        view: &NodeView<'_>,
        rng: &mut dyn RngCore,
        note: &mut Note,
    ) -> Decision;
    /// The decision after a [`Decision::Probe`], given what each probed peer answered (failed probes
    /// have no load). Must not return another probe.
    fn after_probe(
        &mut self,
        _job: &JobMeta,
        _view: &NodeView<'_>,
        _probes: &[ProbeResult],
        _rng: &mut dyn RngCore,
        _note: &mut Note,
    ) -> Decision {
        Decision::RunLocal(Admission::Queue)
    }
    /// If set, the decision takes effect no earlier than this long after the job arrived (the original's
    /// Tau: a model of stale load information).
    fn decision_delay(&self) -> Option<std::time::Duration> {
        None
    }
    /// The outcome of a job this scheduler decided with `learning`, as a reward. Learning schedulers
    /// train on it; others ignore it.
    fn observe(&mut self, _learning: &Learning, _reward: f32) {}
}

/// What building a scheduler may need from its host (a node or a simulated one).
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Task types the node counts (`queue.task_types`).
    pub task_types: usize,
    /// The host's learning agent.
    pub agent: &'a Arc<Agent>,
    /// The host's second agent, for the double decision (accept or refuse a job from a peer; two
    /// actions, same state as `agent`).
    pub acceptance: &'a Arc<Agent>,
    /// Extra learning-state features (`learner.state_features`).
    pub features: &'a [Feature],
    /// The host's speed (`node.speed`, the service-time divisor; 1.0 when not configured), for the
    /// `speed` learning feature.
    pub speed: f64,
}

/// Why a descriptor could not be turned into a scheduler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DescriptorError {
    /// No algorithm has this name.
    #[error(
        "unknown scheduler {name:?} (known: NoScheduler, ForwardScheduler, PowerOfNScheduler, \
         PowerOfNSchedulerTau, RoundRobinWithMasterScheduler, LearningScheduler, LeastLoadedCached, JSQ)"
    )]
    UnknownName {
        /// The name given.
        name: String,
    },
    /// Wrong number of parameters.
    #[error("{name} takes {expected} parameter(s) ({signature}), got {got}")]
    Arity {
        /// Algorithm name.
        name: &'static str,
        /// Parameter signature.
        signature: &'static str,
        /// Expected count.
        expected: usize,
        /// Given count.
        got: usize,
    },
    /// A parameter does not parse.
    #[error("{name} parameter {index} ({param}): {problem}")]
    Parameter {
        /// Algorithm name.
        name: &'static str,
        /// Zero-based index.
        index: usize,
        /// Parameter name.
        param: &'static str,
        /// What is wrong.
        problem: String,
    },
}

/// A descriptor whose parameters have been checked, before it is instantiated.
pub enum Spec {
    /// `NoScheduler(Loss)`.
    No {
        /// Loss flag.
        loss: bool,
    },
    /// `LearningScheduler(NumberOfTaskTypes[, DoubleDecision])`: needs the node's agents.
    Learning {
        /// N.
        task_types: usize,
        /// Whether jobs from peers are accepted or refused by a second learned decision.
        double: bool,
    },
    /// Every algorithm that needs nothing from the node beyond its parameters, already built.
    Plain(Box<dyn Scheduler>),
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::No { loss } => write!(f, "NoScheduler({loss})"),
            Self::Learning {
                task_types,
                double: false,
            } => write!(f, "LearningScheduler({task_types})"),
            Self::Learning {
                task_types,
                double: true,
            } => write!(f, "LearningScheduler({task_types}, true)"),
            Self::Plain(s) => f.write_str(s.full_name()),
        }
    }
}

/// Checks a descriptor's name and parameters against a node counting `task_types` task types.
pub fn parse(desc: &Descriptor, task_types: usize) -> Result<Spec, DescriptorError> {
    let p = &desc.parameters;
    match desc.name.as_str() {
        "NoScheduler" => Ok(Spec::No {
            loss: NoScheduler::parse(p)?,
        }),
        "LearningScheduler" => {
            let (task_types, double) = LearningScheduler::parse(p, task_types)?;
            Ok(Spec::Learning { task_types, double })
        }
        "ForwardScheduler" => Ok(Spec::Plain(Box::new(ForwardScheduler::parse(p)?))),
        "PowerOfNScheduler" => Ok(Spec::Plain(Box::new(PowerOfN::parse(p, false)?))),
        "PowerOfNSchedulerTau" => Ok(Spec::Plain(Box::new(PowerOfN::parse(p, true)?))),
        "RoundRobinWithMasterScheduler" => {
            Ok(Spec::Plain(Box::new(RoundRobinWithMaster::parse(p)?)))
        }
        "LeastLoadedCached" => Ok(Spec::Plain(Box::new(LeastLoadedCached::parse(p)?))),
        "JSQ" => Ok(Spec::Plain(Box::new(Jsq::parse(p)?))),
        _ => Err(DescriptorError::UnknownName {
            name: desc.name.clone(),
        }),
    }
}

/// Builds the algorithm a descriptor names, checking its parameters.
pub fn build(desc: &Descriptor, ctx: &Context<'_>) -> Result<Box<dyn Scheduler>, DescriptorError> {
    Ok(match parse(desc, ctx.task_types)? {
        Spec::No { loss } => Box::new(NoScheduler::new(loss)),
        Spec::Learning { task_types, double } => {
            let s =
                LearningScheduler::new(task_types, ctx.features, Arc::clone(ctx.agent), ctx.speed);
            Box::new(if double {
                s.with_acceptance(Arc::clone(ctx.acceptance))
            } else {
                s
            })
        }
        Spec::Plain(s) => s,
    })
}

/// Parses a Go-style duration as the original's Tau parameter took it: `300ms`, `1s`, `1.5s`, `250us`.
pub fn parse_go_duration(s: &str) -> Option<std::time::Duration> {
    let split = s.find(|c: char| c.is_ascii_alphabetic() || c == 'µ')?;
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)?;
    let seconds = match unit {
        "ns" => value / 1e9,
        "us" | "µs" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return None,
    };
    std::time::Duration::try_from_secs_f64(seconds).ok()
}
/// Parses parameter `index` of `name` as a Go-style duration (`300ms`).
fn duration_param(
    name: &'static str,
    params: &[String],
    index: usize,
    param: &'static str,
) -> Result<std::time::Duration, DescriptorError> {
    let raw = params.get(index).map_or("", String::as_str);
    parse_go_duration(raw).ok_or_else(|| DescriptorError::Parameter {
        name,
        index,
        param,
        problem: format!("expected a duration such as 300ms or 1s, got {raw:?}"),
    })
}

/// Parses parameter `index` of `name` as an unsigned integer within `range`.
fn uint_param(
    name: &'static str,
    params: &[String],
    index: usize,
    param: &'static str,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, DescriptorError> {
    let raw = params.get(index).map_or("", String::as_str);
    raw.parse::<usize>()
        .ok()
        .filter(|v| range.contains(v))
        .ok_or_else(|| DescriptorError::Parameter {
            name,
            index,
            param,
            problem: format!(
                "expected an integer from {} to {}, got {raw:?}",
                range.start(),
                range.end()
            ),
        })
}

/// Parses a boolean the way the original (Go's `strconv.ParseBool`) did, so old descriptors keep working.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Checks the parameter count for `name`.
fn expect_arity(
    name: &'static str,
    signature: &'static str,
    params: &[String],
    expected: usize,
) -> Result<(), DescriptorError> {
    if params.len() == expected {
        Ok(())
    } else {
        Err(DescriptorError::Arity {
            name,
            signature,
            expected,
            got: params.len(),
        })
    }
}

/// Parses parameter `index` of `name` as a Go-style boolean.
fn bool_param(
    name: &'static str,
    params: &[String],
    index: usize,
    param: &'static str,
) -> Result<bool, DescriptorError> {
    let raw = params.get(index).map_or("", String::as_str);
    parse_bool(raw).ok_or_else(|| DescriptorError::Parameter {
        name,
        index,
        param,
        problem: format!("expected a boolean (true/false/1/0), got {raw:?}"),
    })
}

/// Helpers shared by the schedulers' unit tests.
#[cfg(test)]
mod test_support {
    use std::time::Duration;

    use super::{JobMeta, PeerId, PeerLoad, PeerView};

    /// A job that travelled `hops` hops; `external` when it came from a peer.
    pub(super) fn job(hops: u32, external: bool) -> JobMeta {
        JobMeta {
            task_type: 0,
            external,
            hops,
            deadline: None,
        }
    }

    /// Peers 0, 1, 2… with the given cached loads.
    pub(super) fn peers(loads: &[Option<PeerLoad>]) -> Vec<PeerView<'static>> {
        loads
            .iter()
            .zip(0u32..)
            .map(|(load, i)| PeerView {
                id: PeerId(i),
                addr: "127.0.0.1:1",
                load: *load,
                age: Duration::ZERO,
            })
            .collect()
    }

    /// A cached or probed load of `jobs` running jobs on a K = 4 node.
    pub(super) fn load(jobs: u32) -> Option<PeerLoad> {
        Some(PeerLoad {
            running: jobs,
            queued: 0,
            slots: 4,
        })
    }

    /// Owned parameter strings.
    pub(super) fn strings(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| (*s).to_owned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        use std::time::Duration;
        assert_eq!(parse_go_duration("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse_go_duration("1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("250us"), Some(Duration::from_micros(250)));
        for bad in ["", "300", "ms", "-1s", "1d", "1e400s"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn go_parse_bool_forms() {
        for t in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for bad in ["", "yes", "tRuE", " true"] {
            assert_eq!(parse_bool(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn build_rejects_unknown_and_bad_parameters() {
        let d = |name: &str, p: &[&str]| Descriptor {
            name: name.into(),
            parameters: p.iter().map(|s| (*s).to_owned()).collect(),
        };
        let agent = Arc::new(
            Agent::new(
                crate::learning::dims_for(2, 0),
                crate::learning::Parameters::default(),
            )
            .expect("default parameters are valid"),
        );
        let ctx = Context {
            task_types: 4,
            agent: &agent,
            acceptance: &agent,
            features: &[],
            speed: 1.0,
        };
        let build = |desc: &Descriptor| build(desc, &ctx);
        assert!(matches!(
            build(&d("Nope", &[])).err(),
            Some(DescriptorError::UnknownName { .. })
        ));
        assert!(matches!(
            build(&d("NoScheduler", &[])).err(),
            Some(DescriptorError::Arity { got: 0, .. })
        ));
        assert_eq!(
            build(&d("LearningScheduler", &["5"]))
                .err()
                .map(|e| e.to_string())
                .as_deref(),
            Some(
                "LearningScheduler parameter 0 (NumberOfTaskTypes): expected an integer from 1 to 4, got \"5\""
            )
        );
        assert_eq!(
            build(&d("LearningScheduler", &["2"]))
                .ok()
                .map(|s| s.full_name().to_owned())
                .as_deref(),
            Some("LearningScheduler(2)")
        );
        let err = build(&d("NoScheduler", &["maybe"]))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "NoScheduler parameter 0 (Loss): expected a boolean (true/false/1/0), got \"maybe\""
            )
        );
        assert_eq!(
            build(&d("PowerOfNScheduler", &["1", "2", "true", "1"]))
                .ok()
                .map(|s| s.full_name().to_owned())
                .as_deref(),
            Some("PowerOfNScheduler(1, 2, true, 1)")
        );
        assert_eq!(
            build(&d(
                "PowerOfNSchedulerTau",
                &["1", "0", "true", "1", "300ms"]
            ))
            .ok()
            .map(|s| s.full_name().to_owned())
            .as_deref(),
            Some("PowerOfNSchedulerTau(1, 0, true, 1, 300ms)")
        );
        let ok = build(&d("NoScheduler", &["true"]))
            .ok()
            .map(|s| s.descriptor());
        assert_eq!(ok, Some(d("NoScheduler", &["true"])));
    }
}
