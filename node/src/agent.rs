//! External agents: `LearningScheduler`'s actions chosen by a process outside the node
//! (`learner.external`, `docs/external-agent.md`), such as a Python policy served with
//! `p2pfaas.agent.serve`. [`codec`] is the wire format (no I/O), [`client`] the per-worker connection
//! that waits for answers without blocking the worker, [`http`] the original learner's HTTP routes as
//! the agent; [`Decider`] is the scheduler that takes the answer (or the fallback's decision) and
//! hands finished decisions back to the agent as transitions.
//!
//! A decision is split in two around the wait: the worker computes the state and awaits the action
//! ([`crate::worker::Worker::decide_with_agent`] through its [`Link`]), leaves it in a per-worker cell, and
//! the invocation machine's first decision by the [`Decider`] takes it from there, synchronously.

pub mod client;
pub mod codec;
pub mod http;
mod link;

pub use link::Link;

use std::cell::Cell;
use std::rc::Rc;

use rand::RngCore;

use crate::scheduler::{
    Decision, Identity, JobMeta, Learning, LearningScheduler, NodeView, Note, ProbeResult,
    Scheduler,
};

/// Why a decision did not get the agent's action; the label is sent as
/// `X-P2pfaas-Scheduler-Fallback` and counted in `p2pfaas_agent_fallbacks_total{reason}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// No answer within `learner.external_timeout_ms`.
    Timeout,
    /// No connection to the agent (not yet up, or broken meanwhile).
    Disconnected,
    /// An action outside `0..actions`, or bytes that are not a frame.
    BadAnswer,
    /// Every wait slot of this worker is taken.
    Busy,
    /// The state has another length than the last hello announced (a guard: a change of N
    /// re-announces the shape before its first decide, [`client::Client::reshape`]).
    Shape,
}

impl Fallback {
    /// Every reason, in metric order.
    pub const ALL: [Self; 5] = [
        Self::Timeout,
        Self::Disconnected,
        Self::BadAnswer,
        Self::Busy,
        Self::Shape,
    ];

    /// The label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "agent_timeout",
            Self::Disconnected => "agent_disconnected",
            Self::BadAnswer => "agent_bad_answer",
            Self::Busy => "agent_busy",
            Self::Shape => "agent_shape_mismatch",
        }
    }
}

/// What the agent said about the job being decided now.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Pick {
    /// Not asked (a peer's job, an override): the in-process agents decide.
    #[default]
    None,
    /// The agent's action for the decision with this eid.
    Action {
        /// Execution id.
        eid: u64,
        /// Action.
        action: u16,
        /// The agent's exploration rate, shown in the learning headers (an HTTP learner's
        /// `X-P2pfaas-Eps`; 0 from the binary protocol, which carries none).
        epsilon: f32,
    },
    /// The agent did not answer usably: the fallback scheduler decides.
    Fallback(Fallback),
}

/// Where finished external decisions go.
pub trait Sink {
    /// One finished decision with its reward.
    fn transition(&self, learning: &Learning, reward: f32);
}

/// `LearningScheduler` with its actions from an external agent: shown and described as the learning
/// scheduler it wraps.
pub struct Decider {
    learning: LearningScheduler,
    fallback: Box<dyn Scheduler>,
    pick: Rc<Cell<Pick>>,
    sink: Rc<dyn Sink>,
}

impl Decider {
    /// Wraps `learning`; `pick` is the worker's cell the agent's answer arrives in, `fallback`
    /// decides without it, `sink` receives the transitions.
    pub fn new(
        learning: LearningScheduler,
        fallback: Box<dyn Scheduler>,
        pick: Rc<Cell<Pick>>,
        sink: Rc<dyn Sink>,
    ) -> Self {
        Self {
            learning,
            fallback,
            pick,
            sink,
        }
    }
}

impl Scheduler for Decider {
    fn identity(&self) -> &Identity {
        self.learning.identity()
    }

    fn decide(
        &mut self,
        job: &JobMeta,
        view: &NodeView<'_>,
        rng: &mut dyn RngCore,
        note: &mut Note,
    ) -> Decision {
        match self.pick.take() {
            Pick::Action {
                eid,
                action,
                epsilon,
            } => self.learning.decide_with(job, view, rng, note, |_, _| {
                Some((eid, u32::from(action), epsilon))
            }),
            Pick::Fallback(reason) => {
                let d = self.fallback.decide(job, view, rng, note);
                // The missing answer is the news; the fallback's own note (e.g. no peer) is not.
                note.fallback = Some(reason.as_str());
                d
            }
            Pick::None => self.learning.decide(job, view, rng, note),
        }
    }

    fn after_probe(
        &mut self,
        job: &JobMeta,
        view: &NodeView<'_>,
        probes: &[ProbeResult],
        rng: &mut dyn RngCore,
        note: &mut Note,
    ) -> Decision {
        // A learned probe (action 2) carries its learning data; the fallback's carries none.
        if note.learning.is_some() {
            self.learning.after_probe(job, view, probes, rng, note)
        } else {
            self.fallback.after_probe(job, view, probes, rng, note)
        }
    }

    fn observe(&mut self, learning: &Learning, reward: f32) {
        if learning.acceptance {
            // The double decision stays with the in-process acceptance agent.
            self.learning.observe(learning, reward);
        } else {
            self.sink.transition(learning, reward);
        }
    }
}

#[cfg(test)]
mod tests;
