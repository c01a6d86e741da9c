//! Scheduling decisions, sans-IO: a `Scheduler` looks at one job and the node's current view and returns a
//! `Decision`. It never touches sockets, clocks or global randomness — `now`-free inputs and the caller's
//! RNG make every algorithm deterministic under test and reusable in a simulator.
//!
//! Algorithms are selected by the original's descriptor `{name, parameters: [strings]}` (contract §1.4).
//! Adding one is a file in `scheduler/` plus one arm in [`build`].

mod local;

use rand::RngCore;
use serde::{Deserialize, Serialize};

pub use local::NoScheduler;

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

/// The node's load as the scheduler sees it at decision time.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeView {
    /// Jobs holding a slot.
    pub running: usize,
    /// Jobs waiting for a slot.
    pub queued: usize,
    /// K.
    pub slots: usize,
    /// Q (0 when the queue is disabled).
    pub queue_len: usize,
}

impl NodeView {
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
}

impl RejectReason {
    /// Short machine-readable reason for `X-P2pfaas-Reject-Reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RejectHeader => "reject_header",
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

/// A scheduling algorithm. One instance lives on each worker thread (`&mut self`, no sharing).
pub trait Scheduler {
    /// The compatible descriptor this instance was built from.
    fn descriptor(&self) -> Descriptor;
    /// Display name with parameters for `X-P2pfaas-Scheduler`, e.g. `NoScheduler`.
    fn full_name(&self) -> &str;
    /// Decides what to do with `job`, given the node's view and the caller's RNG.
    fn decide(&mut self, job: &JobMeta, view: &NodeView, rng: &mut dyn RngCore) -> Decision;
}

/// Why a descriptor could not be turned into a scheduler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DescriptorError {
    /// No algorithm has this name.
    #[error("unknown scheduler {name:?} (known: NoScheduler)")]
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

/// Builds the algorithm a descriptor names, checking its parameters.
pub fn build(desc: &Descriptor) -> Result<Box<dyn Scheduler>, DescriptorError> {
    match desc.name.as_str() {
        "NoScheduler" => Ok(Box::new(NoScheduler::from_parameters(&desc.parameters)?)),
        "ForwardScheduler"
        | "PowerOfNScheduler"
        | "PowerOfNSchedulerTau"
        | "RoundRobinWithMasterScheduler"
        | "LearningScheduler" => Err(DescriptorError::NotAvailable {
            name: desc.name.clone(),
        }),
        _ => Err(DescriptorError::UnknownName {
            name: desc.name.clone(),
        }),
    }
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
        assert!(matches!(
            build(&d("Nope", &[])).err(),
            Some(DescriptorError::UnknownName { .. })
        ));
        assert!(matches!(
            build(&d("NoScheduler", &[])).err(),
            Some(DescriptorError::Arity { got: 0, .. })
        ));
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
