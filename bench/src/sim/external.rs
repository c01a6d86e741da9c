//! The external-policy hook: the learning decisions of chosen nodes are made by a [`Policy`] outside
//! the simulator (a Python agent, a test) instead of the node's own agent. The state, the action
//! meanings and the rewards are the in-node agent's ([`LearningScheduler::decide_with`]); only who picks
//! the action changes. The engine is untouched: the hook swaps the chosen nodes' schedulers when they
//! are built, and a policy that must pause the simulation (to hand the state out and wait for the
//! action) does so by blocking in [`Policy::decide`] on the simulation's thread.

use std::sync::Arc;

use p2pfaas_core::scheduler::{
    Decision, Identity, JobMeta, Learning, LearningScheduler, NodeView, Note, ProbeResult,
    Scheduler,
};
use rand::RngCore;

/// Who decides for the controlled nodes.
pub trait Policy: Send + Sync {
    /// The action (see `LearningScheduler`) of `node` in `state` for its decision `eid` (1, 2, … per
    /// node and run: the id [`Policy::reward`] names it by); `None` runs the job locally (the policy
    /// is gone: the episode is being abandoned) and uses no id.
    fn decide(&self, node: usize, eid: u64, state: &[f32]) -> Option<u32>;
    /// The node's reward rule's verdict on decision `eid` of `node`, when its job ends.
    fn reward(&self, node: usize, eid: u64, reward: f32);
}

/// Which nodes a [`Policy`] drives (the others keep the spec's scheduler and their own agents).
#[derive(Clone)]
pub struct External {
    /// The policy.
    pub policy: Arc<dyn Policy>,
    /// Controlled nodes, by index in the cluster. Only nodes whose scheduler is
    /// `LearningScheduler` can be controlled; the others are left as they are.
    pub nodes: Vec<usize>,
}

impl std::fmt::Debug for External {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("External")
            .field("nodes", &self.nodes)
            .finish_non_exhaustive()
    }
}

/// A learning scheduler whose actions come from a [`Policy`].
pub(super) struct Driven {
    node: usize,
    inner: LearningScheduler,
    policy: Arc<dyn Policy>,
    next_eid: u64,
}

impl Driven {
    pub(super) fn new(node: usize, inner: LearningScheduler, policy: Arc<dyn Policy>) -> Self {
        Self {
            node,
            inner,
            policy,
            next_eid: 0,
        }
    }
}

impl Scheduler for Driven {
    fn identity(&self) -> &Identity {
        self.inner.identity()
    }

    fn decide(
        &mut self,
        job: &JobMeta,
        view: &NodeView<'_>,
        rng: &mut dyn RngCore,
        note: &mut Note,
    ) -> Decision {
        if job.external {
            // A peer's job: the node's own acceptance agent (double decision) or a plain run here;
            // the policy makes only the decisions its action space describes.
            return self.inner.decide(job, view, rng, note);
        }
        let (node, policy) = (self.node, &self.policy);
        let eid = &mut self.next_eid;
        self.inner.decide_with(job, view, rng, note, |state, _| {
            let next = *eid + 1;
            let action = policy.decide(node, next, state)?;
            *eid = next;
            Some((next, action, 0.0))
        })
    }

    fn after_probe(
        &mut self,
        job: &JobMeta,
        view: &NodeView<'_>,
        probes: &[ProbeResult],
        rng: &mut dyn RngCore,
        note: &mut Note,
    ) -> Decision {
        self.inner.after_probe(job, view, probes, rng, note)
    }

    fn observe(&mut self, learning: &Learning, reward: f32) {
        if learning.acceptance {
            // The double decision's second agent made that one (see `decide`): it learns from it.
            self.inner.observe(learning, reward);
        } else {
            self.policy.reward(self.node, learning.eid, reward);
        }
    }
}

/// What a policy for `spec`'s learning nodes sees and chooses: the state's length and the number of
/// actions, as the in-node agent is built from `cluster.node_config` under the spec's first
/// `LearningScheduler`; `None` when the spec has no `LearningScheduler`.
pub fn learning_shape(spec: &crate::experiment::spec::Spec) -> Result<Option<Shape>, super::Error> {
    let node = super::host::parse(&spec.cluster.node_config).map_err(super::Error::NodeConfig)?;
    for desc in &spec.schedulers {
        let d = p2pfaas_core::scheduler::Descriptor {
            name: desc.name.clone(),
            parameters: desc.parameters.clone(),
        };
        if let Ok(p2pfaas_core::scheduler::Spec::Learning { task_types, .. }) =
            p2pfaas_core::scheduler::parse(&d, node.task_types)
        {
            return Ok(Some(Shape {
                dims: p2pfaas_core::learning::dims_for(task_types, node.features.len()),
                actions: node.parameters.actions_n,
            }));
        }
    }
    Ok(None)
}

/// See [`learning_shape`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// State length.
    pub dims: usize,
    /// Actions `0..actions`.
    pub actions: usize,
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::experiment::spec::Spec;
    use crate::sim::SimOptions;

    /// Rejects every job of the nodes it drives, and records what it sees.
    #[derive(Default)]
    struct Rejecting {
        seen: Mutex<Seen>,
    }

    #[derive(Default)]
    struct Seen {
        /// (node, eid) of each decision.
        decided: Vec<(usize, u64)>,
        /// (eid, reward) of each reward.
        rewarded: Vec<(u64, f32)>,
        dims: usize,
    }

    impl Policy for Rejecting {
        fn decide(&self, node: usize, eid: u64, state: &[f32]) -> Option<u32> {
            let mut seen = self.seen.lock().expect("not poisoned");
            seen.decided.push((node, eid));
            seen.dims = state.len();
            Some(0)
        }
        fn reward(&self, _node: usize, eid: u64, reward: f32) {
            self.seen
                .lock()
                .expect("not poisoned")
                .rewarded
                .push((eid, reward));
        }
    }

    #[test]
    fn driven_nodes_take_the_policys_actions_and_report_its_rewards() {
        let text = include_str!("../../specs/learning-deadline.toml");
        let mut spec = Spec::parse(text).expect("valid");
        spec.schedulers.retain(|s| s.name == "LearningScheduler");
        spec.traffic.rho.truncate(1);
        let options = SimOptions {
            arrivals: Some(2000),
            threads: 1,
            ..SimOptions::default()
        };
        let plain = crate::sim::run(&spec, &options).expect("runs");
        let policy = Arc::new(Rejecting::default());
        let external = External {
            policy: policy.clone(),
            nodes: vec![0],
        };
        let (driven, _) = crate::sim::run_with(&spec, &options, Some(&external)).expect("runs");
        let seen = policy.seen.lock().expect("not poisoned");
        let (nodes, rewards, dims) = (&seen.decided, &seen.rewarded, &seen.dims);
        assert!(
            nodes.len() > 1000 && nodes.iter().all(|&(n, _)| n == 0),
            "node 0 only"
        );
        // Decisions are numbered 1, 2, … as the policy is asked (afresh in each of the spec's runs),
        // and each is rewarded once under its id.
        let mut eids: Vec<u64> = nodes.iter().map(|&(_, e)| e).collect();
        assert!(eids.windows(2).all(|w| w[1] == w[0] + 1 || w[1] == 1));
        let mut rewarded: Vec<u64> = rewards.iter().map(|&(e, _)| e).collect();
        eids.sort_unstable();
        rewarded.sort_unstable();
        assert_eq!(rewarded, eids, "each decision rewarded once");
        assert_eq!(
            Some(Shape {
                dims: *dims,
                actions: 3
            }),
            learning_shape(&spec).expect("valid")
        );
        // Every decision of node 0 is a rejection, rewarded with reward_rejected = 0.
        assert!(rewards.iter().all(|&(_, r)| r == 0.0));
        // Node 0 takes 2/3 of the traffic (weights 2, 0.5, 0.5) and now rejects all of it.
        let (p, d) = (&plain.rows[0], &driven.rows[0]);
        assert!(
            d.reject_rate > 0.6 && d.reject_rate > p.reject_rate + 0.3,
            "{} vs {}",
            d.reject_rate,
            p.reject_rate
        );
    }
}
