//! Scheduling decisions, sans-IO: a `Scheduler` looks at one job and the node's current view and returns a
//! `Decision`. It never touches sockets, clocks or global randomness — `now`-free inputs and the caller's
//! RNG make every algorithm deterministic under test and reusable in a simulator.
//!
//! Algorithms are selected by the original's descriptor `{name, parameters: [strings]}` (contract §1.4).
//! Adding one is a file in `scheduler/` plus one arm in [`build`].

mod learning;
mod local;

use std::sync::Arc;

use rand::RngCore;
use serde::{Deserialize, Serialize};

pub use learning::{Learning, LearningScheduler};
pub use local::NoScheduler;

use crate::learning::Agent;

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
}

impl RejectReason {
    /// Short machine-readable reason for `X-P2pfaas-Reject-Reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RejectHeader => "reject_header",
            Self::Learner => "learner_reject",
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

/// A scheduling algorithm. One instance lives on each worker thread (`&mut self`, no sharing).
pub trait Scheduler {
    /// The compatible descriptor this instance was built from.
    fn descriptor(&self) -> Descriptor;
    /// Display name with parameters for `X-P2pfaas-Scheduler`, e.g. `NoScheduler`.
    fn full_name(&self) -> &str;
    /// Whether [`NodeView::per_type`] must be filled (reading the counters costs a few cache misses).
    fn needs_type_loads(&self) -> bool {
        false
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
    /// The outcome of a job this scheduler decided with `learning`, as a reward. Learning schedulers
    /// train on it; others ignore it.
    fn observe(&mut self, _learning: &Learning, _reward: f32) {}
}

/// What building a scheduler may need from the node.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Task types the node counts (`queue.task_types`).
    pub task_types: usize,
    /// The node's learning agent.
    pub agent: &'a Arc<Agent>,
}

/// Why a descriptor could not be turned into a scheduler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DescriptorError {
    /// No algorithm has this name.
    #[error("unknown scheduler {name:?} (known: NoScheduler, LearningScheduler)")]
    UnknownName {
        /// The name given.
        name: String,
    },
    /// The algorithm exists in the original but not yet in this build.
    #[error("scheduler {name:?} needs peers, which this build does not provide yet")]
    NotAvailable {
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    /// `NoScheduler(Loss)`.
    No {
        /// Loss flag.
        loss: bool,
    },
    /// `LearningScheduler(NumberOfTaskTypes)`.
    Learning {
        /// N.
        task_types: usize,
    },
}

/// Checks a descriptor's name and parameters against a node counting `task_types` task types.
pub fn parse(desc: &Descriptor, task_types: usize) -> Result<Spec, DescriptorError> {
    match desc.name.as_str() {
        "NoScheduler" => Ok(Spec::No {
            loss: NoScheduler::parse(&desc.parameters)?,
        }),
        "LearningScheduler" => Ok(Spec::Learning {
            task_types: LearningScheduler::parse(&desc.parameters, task_types)?,
        }),
        "ForwardScheduler"
        | "PowerOfNScheduler"
        | "PowerOfNSchedulerTau"
        | "RoundRobinWithMasterScheduler" => Err(DescriptorError::NotAvailable {
            name: desc.name.clone(),
        }),
        _ => Err(DescriptorError::UnknownName {
            name: desc.name.clone(),
        }),
    }
}

/// Builds the algorithm a descriptor names, checking its parameters.
pub fn build(desc: &Descriptor, ctx: &Context<'_>) -> Result<Box<dyn Scheduler>, DescriptorError> {
    Ok(match parse(desc, ctx.task_types)? {
        Spec::No { loss } => Box::new(NoScheduler::new(loss)),
        Spec::Learning { task_types } => {
            Box::new(LearningScheduler::new(task_types, Arc::clone(ctx.agent)))
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
                crate::learning::dims_for(2),
                crate::learning::Parameters::default(),
            )
            .expect("default parameters are valid"),
        );
        let ctx = Context {
            task_types: 4,
            agent: &agent,
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
        assert!(matches!(
            build(&d("PowerOfNScheduler", &["1", "2", "true", "1"])).err(),
            Some(DescriptorError::NotAvailable { .. })
        ));
        let ok = build(&d("NoScheduler", &["true"]))
            .ok()
            .map(|s| s.descriptor());
        assert_eq!(ok, Some(d("NoScheduler", &["true"])));
    }
}
