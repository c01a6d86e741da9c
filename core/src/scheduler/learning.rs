//! `LearningScheduler(NumberOfTaskTypes)`: the node's learning agent picks the action (contract §1.7).
//!
//! State `[task type, running per type…, queued per type…]` (`1 + 2N` values), actions `0` reject, `1` run
//! locally, `2` probe one random peer and forward if it is less loaded than this node, `3 + i` forward to
//! peer `i`. Peers are addressed by their stable id (their slot in the peer table), not by position in a
//! membership list, so an action keeps its meaning when peers join or leave; an action whose peer cannot
//! take the job (unknown, down, not serving the function, on the job's path) runs locally and says so
//! (`X-P2pfaas-Scheduler-Fallback`). The decision is an in-process call to the shared [`Agent`] (the
//! original paid a WebSocket round trip to a Python process). Jobs from peers run locally without
//! learning, as in the original.

use std::sync::Arc;

use rand::RngCore;

use super::{
    Admission, Decision, DescriptorError, Identity, JobMeta, Needs, NodeView, Note, PeerId,
    ProbeResult, RejectReason, Scheduler, expect_arity, least_loaded_probed, probe_or, uint_param,
};
use crate::learning::{Agent, Feature, MAX_DIMS, MAX_FEATURES, MAX_TASK_TYPES, dims_for};
use crate::load::LoadSample;

const NAME: &str = "LearningScheduler";

/// What one learning decision was: reported in the learning headers and trained on when the job ends.
#[derive(Debug, Clone, Copy)]
pub struct Learning {
    /// Execution id.
    pub eid: u64,
    /// Action chosen.
    pub action: u32,
    /// ε of the policy that chose it.
    pub epsilon: f32,
    state: [f32; MAX_DIMS],
    dims: u8,
}

impl Learning {
    /// The state the action was chosen in.
    pub fn state(&self) -> &[f32] {
        &self.state[..usize::from(self.dims)]
    }
}

/// The learning scheduler; every worker's copy shares the node's agent.
#[derive(Debug)]
pub struct LearningScheduler {
    task_types: usize,
    features: [Option<Feature>; MAX_FEATURES],
    feature_count: usize,
    agent: Arc<Agent>,
    identity: Identity,
}

impl LearningScheduler {
    /// A scheduler over `task_types` task types (at most [`MAX_TASK_TYPES`]) whose state ends with
    /// `features` (at most [`MAX_FEATURES`]; more are ignored).
    pub fn new(task_types: usize, features: &[Feature], agent: Arc<Agent>) -> Self {
        let task_types = task_types.clamp(1, MAX_TASK_TYPES);
        let mut slots = [None; MAX_FEATURES];
        for (slot, f) in slots.iter_mut().zip(features) {
            *slot = Some(*f);
        }
        Self {
            task_types,
            feature_count: features.len().min(MAX_FEATURES),
            identity: Identity::new(
                NAME,
                vec![task_types.to_string()],
                Needs {
                    peers: true,
                    type_loads: true,
                    load_sample: slots.iter().flatten().any(|f| f.needs_sample()),
                },
            ),
            features: slots,
            agent,
        }
    }

    /// Parses `[NumberOfTaskTypes]` for a node counting `node_task_types` types.
    pub fn parse(params: &[String], node_task_types: usize) -> Result<usize, DescriptorError> {
        expect_arity(NAME, "NumberOfTaskTypes uint", params, 1)?;
        uint_param(
            NAME,
            params,
            0,
            "NumberOfTaskTypes",
            1..=node_task_types.min(MAX_TASK_TYPES),
        )
    }

    /// [`Scheduler::decide`] with the action chosen by `pick` instead of the node's agent: `pick` gets
    /// the state and returns `(eid, action, ε)`, or `None` to run locally with a fallback note. An
    /// outside policy (the simulator's external-policy hook, a Python agent) makes the same decisions,
    /// from the same state, with the same action meanings as the in-node agent.
    pub fn decide_with(
        &self,
        job: &JobMeta,
        view: &NodeView<'_>,
        rng: &mut dyn RngCore,
        note: &mut Note,
        pick: impl FnOnce(&[f32], &mut dyn RngCore) -> Option<(u64, u32, f32)>,
    ) -> Decision {
        let local = Decision::RunLocal(Admission::Queue);
        if job.external {
            return local;
        }
        let mut state = [0.0; MAX_DIMS];
        let dims = self.state(job, view, &mut state);
        let Some((eid, action, epsilon)) = pick(&state[..dims], rng) else {
            // The agent was resized for another N between this copy's build and now.
            note.fallback = Some("learner_state_mismatch");
            return local;
        };
        note.learning = Some(Learning {
            eid,
            action,
            epsilon,
            state,
            // dims ≤ MAX_DIMS = 41.
            dims: u8::try_from(dims).unwrap_or(u8::MAX),
        });
        match action {
            0 => Decision::Reject(RejectReason::Learner),
            1 => local,
            2 => probe_or(view.peers, 1, rng, note, local),
            k => {
                let id = PeerId(k - 3);
                if view.peers.iter().any(|p| p.id == id) {
                    Decision::Forward(id)
                } else {
                    note.fallback = Some(crate::invocation::fallback::PEER_UNAVAILABLE);
                    local
                }
            }
        }
    }

    /// The state vector of `job` under `view`, written into `out`; returns its length.
    fn state(&self, job: &JobMeta, view: &NodeView<'_>, out: &mut [f32; MAX_DIMS]) -> usize {
        let n = self.task_types;
        #[allow(
            clippy::cast_precision_loss,
            reason = "task types and job counts are far below 2^24"
        )]
        {
            out[0] = job.task_type as f32;
            for t in 0..n {
                let load = view.per_type.get(t).copied().unwrap_or_default();
                out[1 + t] = load.running as f32;
                out[1 + n + t] = load.queued as f32;
            }
        }
        for (i, f) in self.features.iter().flatten().enumerate() {
            out[1 + 2 * n + i] = feature_value(*f, view);
        }
        dims_for(n, self.feature_count)
    }
}

impl Scheduler for LearningScheduler {
    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn decide(
        &mut self,
        job: &JobMeta,
        view: &NodeView<'_>,
        rng: &mut dyn RngCore,
        note: &mut Note,
    ) -> Decision {
        let agent = Arc::clone(&self.agent);
        self.decide_with(job, view, rng, note, |state, rng| agent.decide(state, rng))
    }

    fn after_probe(
        &mut self,
        _job: &JobMeta,
        view: &NodeView<'_>,
        probes: &[ProbeResult],
        rng: &mut dyn RngCore,
        _note: &mut Note,
    ) -> Decision {
        // The original's threshold: the total load counted in the state.
        least_loaded_probed(probes, view.load(), rng)
            .map_or(Decision::RunLocal(Admission::Queue), Decision::Forward)
    }

    fn observe(&mut self, learning: &Learning, reward: f32) {
        // An unknown EID (the agent was reset or resized meanwhile) is counted by the agent.
        let _known = self.agent.reward(learning.eid, reward);
    }
}

/// One feature's discretised value (see [`Feature`]).
fn feature_value(f: Feature, view: &NodeView<'_>) -> f32 {
    let tenths = |v: f64| (v.clamp(0.0, 1.0) * 10.0).round();
    let sample = view.sample.unwrap_or(LoadSample::EMPTY);
    let v = match f {
        Feature::Utilisation => tenths(sample.utilisation),
        Feature::UtilisationMaxCpu => tenths(sample.utilisation_max_cpu),
        Feature::CpuPressure => tenths(sample.cpu_pressure.unwrap_or(0.0)),
        Feature::RunqP99 => sample
            .runq_latency_p99_us
            .map_or(0.0, |us| us.max(1.0).log2().floor().min(20.0)),
        Feature::PeersMinLoad => f64::from(
            view.peers
                .iter()
                .filter_map(|p| p.load.map(|l| l.jobs().min(16)))
                .min()
                .unwrap_or(17),
        ),
    };
    #[allow(
        clippy::cast_possible_truncation,
        reason = "small integer levels, exact in f32"
    )]
    let level = v as f32;
    level
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;
    use crate::learning::Parameters;
    use crate::scheduler::TypeLoad;

    fn agent(task_types: usize, params: Parameters) -> Arc<Agent> {
        Arc::new(Agent::new(dims_for(task_types, 0), params).expect("valid"))
    }

    fn job(task_type: usize) -> JobMeta {
        JobMeta {
            task_type,
            external: false,
            hops: 0,
        }
    }

    #[test]
    fn state_is_type_then_running_then_queued() {
        let s = LearningScheduler::new(2, &[], agent(2, Parameters::default()));
        let per_type = [
            TypeLoad {
                running: 3,
                queued: 1,
            },
            TypeLoad {
                running: 2,
                queued: 0,
            },
        ];
        let view = NodeView {
            per_type: &per_type,
            ..NodeView::default()
        };
        let mut out = [0.0; MAX_DIMS];
        let n = s.state(&job(1), &view, &mut out);
        assert_eq!(&out[..n], &[1.0, 3.0, 2.0, 1.0, 0.0]);
    }

    #[test]
    fn load_features_follow_the_original_state() {
        let features = [
            Feature::Utilisation,
            Feature::RunqP99,
            Feature::PeersMinLoad,
        ];
        let agent = Arc::new(Agent::new(dims_for(1, 3), Parameters::default()).expect("valid"));
        let s = LearningScheduler::new(1, &features, agent);
        assert!(s.needs_load_sample());
        let sample = crate::load::LoadSample {
            utilisation: 0.46,
            runq_latency_p99_us: Some(1500.0),
            ..LoadSample::EMPTY
        };
        let peers = crate::scheduler::test_support::peers(&[
            crate::scheduler::test_support::load(5),
            None,
            crate::scheduler::test_support::load(2),
        ]);
        let per_type = [TypeLoad {
            running: 1,
            queued: 2,
        }];
        let view = NodeView {
            per_type: &per_type,
            peers: &peers,
            sample: Some(sample),
            ..NodeView::default()
        };
        let mut out = [0.0; MAX_DIMS];
        let n = s.state(&job(0), &view, &mut out);
        // 0.46 → 5 tenths; 1500 µs → log2 = 10; the least loaded known peer has 2 jobs.
        assert_eq!(&out[..n], &[0.0, 1.0, 2.0, 5.0, 10.0, 2.0]);
        let lonely = NodeView { peers: &[], ..view };
        let n = s.state(&job(0), &lonely, &mut out);
        assert_eq!(out[n - 1], 17.0, "no peer load known");
    }

    #[test]
    fn actions_map_to_decisions_and_notes() {
        // ε = 1: every action is uniform, so all four show up.
        let params = Parameters {
            actions_n: 4,
            epsilon_start: 1.0,
            epsilon_min: 1.0,
            ..Parameters::default()
        };
        let mut s = LearningScheduler::new(1, &[], agent(1, params));
        let mut rng = SmallRng::seed_from_u64(5);
        let mut seen = [false; 4];
        let mut last_eid = 0;
        for _ in 0..200 {
            let mut note = Note::default();
            let d = s.decide(&job(0), &NodeView::default(), &mut rng, &mut note);
            let l = note.learning.expect("client jobs carry learning data");
            assert!(l.eid > last_eid, "EIDs increase");
            last_eid = l.eid;
            assert_eq!(l.state(), &[0.0, 0.0, 0.0]);
            seen[l.action as usize] = true;
            match l.action {
                0 => assert_eq!(d, Decision::Reject(RejectReason::Learner)),
                1 => {
                    assert_eq!(d, Decision::RunLocal(Admission::Queue));
                    assert!(note.fallback.is_none());
                }
                _ => {
                    assert_eq!(d, Decision::RunLocal(Admission::Queue));
                    assert!(note.fallback.is_some());
                }
            }
        }
        assert_eq!(seen, [true; 4]);
    }

    #[test]
    fn peer_jobs_run_locally_without_learning() {
        let mut s = LearningScheduler::new(1, &[], agent(1, Parameters::default()));
        let mut note = Note::default();
        let external = JobMeta {
            external: true,
            ..job(0)
        };
        let d = s.decide(
            &external,
            &NodeView::default(),
            &mut SmallRng::seed_from_u64(1),
            &mut note,
        );
        assert_eq!(d, Decision::RunLocal(Admission::Queue));
        assert!(note.learning.is_none());
    }
}
