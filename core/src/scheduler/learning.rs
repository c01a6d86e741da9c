//! `LearningScheduler(NumberOfTaskTypes)`: the node's learning agent picks the action (contract §1.7).
//!
//! State `[task type, running per type…, queued per type…]` (`1 + 2N` values), actions `0` reject, `1` run
//! locally, `2` probe one random peer and forward if it is less loaded than this node, `3 + i` forward to
//! peer `i`. Peers are addressed by their stable id (their slot in the peer table), not by position in a
//! membership list, so an action keeps its meaning when peers join or leave; an action whose peer cannot
//! take the job (unknown, down, not serving the function, on the job's path) runs locally and says so
//! (`X-P2pfaas-Scheduler-Fallback`). The decision is an in-process call to the shared [`Agent`] (the
//! original paid a WebSocket round trip to a Python process).
//!
//! Jobs from peers run locally without learning, as in the original — unless the double decision is on
//! (`LearningScheduler(N, true)`, after Proietti Mattia & Beraldi): then a second agent, over the same
//! state, learns whether to accept a peer's job (action 1, run here) or refuse it (action 0, a 503 that
//! makes the origin run it itself). Its reward is the job's (met or missed) when accepted and
//! `learner.reward_refused` when refused; see [`crate::learning::Rewards::of_learning`].

use std::sync::Arc;

use rand::RngCore;

use super::{
    Admission, Decision, DescriptorError, Identity, JobMeta, Needs, NodeView, Note, PeerId,
    ProbeResult, RejectReason, Scheduler, bool_param, least_loaded_probed, probe_or, uint_param,
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
    /// Whether this is the double decision's accept-or-refuse of a peer's job (the second agent's).
    pub acceptance: bool,
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
    /// The host's speed, for [`Feature::Speed`].
    speed: f64,
    /// The double decision's agent, when it is on.
    acceptance: Option<Arc<Agent>>,
}

impl LearningScheduler {
    /// A scheduler over `task_types` task types (at most [`MAX_TASK_TYPES`]) whose state ends with
    /// `features` (at most [`MAX_FEATURES`]; more are ignored), on a host of `speed` (the service-time
    /// divisor, 1.0 for a reference node).
    pub fn new(task_types: usize, features: &[Feature], agent: Arc<Agent>, speed: f64) -> Self {
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
            speed,
            acceptance: None,
        }
    }

    /// The same scheduler with the double decision on: jobs from peers are accepted or refused by
    /// `acceptance` (an agent over this scheduler's state with two actions, 0 refuse and 1 accept).
    #[must_use]
    pub fn with_acceptance(mut self, acceptance: Arc<Agent>) -> Self {
        self.identity = Identity::new(
            NAME,
            vec![self.task_types.to_string(), "true".to_owned()],
            self.identity.needs,
        );
        self.acceptance = Some(acceptance);
        self
    }

    /// Parses `[NumberOfTaskTypes]` or `[NumberOfTaskTypes, DoubleDecision]` for a node counting
    /// `node_task_types` types.
    pub fn parse(
        params: &[String],
        node_task_types: usize,
    ) -> Result<(usize, bool), DescriptorError> {
        if !(1..=2).contains(&params.len()) {
            return Err(DescriptorError::Arity {
                name: NAME,
                signature: "NumberOfTaskTypes uint[, DoubleDecision bool]",
                expected: 1,
                got: params.len(),
            });
        }
        let n = uint_param(
            NAME,
            params,
            0,
            "NumberOfTaskTypes",
            1..=node_task_types.min(MAX_TASK_TYPES),
        )?;
        let double = params.len() == 2 && bool_param(NAME, params, 1, "DoubleDecision")?;
        Ok((n, double))
    }

    /// [`Scheduler::decide`] with the action chosen by `pick` instead of the node's agent: `pick` gets
    /// the state and returns `(eid, action, ε)`, or `None` to run locally with a fallback note. For a
    /// peer's job under the double decision the action is accept (1) or refuse (0). An
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
        if job.external && self.acceptance.is_none() {
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
            acceptance: job.external,
            state,
            // dims ≤ MAX_DIMS = 41.
            dims: u8::try_from(dims).unwrap_or(u8::MAX),
        });
        if job.external {
            // Refusing sends the job back: the origin runs it itself (its `peer_refused` fallback).
            return if action == 0 {
                Decision::Reject(RejectReason::Learner)
            } else {
                local
            };
        }
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

    /// The length of this scheduler's state vector (what [`Self::state`] returns).
    pub fn dims(&self) -> usize {
        dims_for(self.task_types, self.feature_count)
    }

    /// The state vector of `job` under `view`, written into `out`; returns its length. An external
    /// agent is sent this state, and its answer then goes through [`Self::decide_with`].
    pub fn state(&self, job: &JobMeta, view: &NodeView<'_>, out: &mut [f32; MAX_DIMS]) -> usize {
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
            out[1 + 2 * n + i] = feature_value(*f, job, view, self.speed);
        }
        self.dims()
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
        // With the double decision, a peer's job is the acceptance agent's to decide.
        let agent = match (job.external, &self.acceptance) {
            (true, Some(acceptance)) => acceptance,
            _ => &self.agent,
        };
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
        let agent = match (&self.acceptance, learning.acceptance) {
            (Some(acceptance), true) => acceptance,
            _ => &self.agent,
        };
        // An unknown EID (the agent was reset or resized meanwhile) is counted by the agent.
        let _known = agent.reward(learning.eid, reward);
    }
}

/// One feature's discretised value (see [`Feature`]).
fn feature_value(f: Feature, job: &JobMeta, view: &NodeView<'_>, speed: f64) -> f32 {
    let tenths = |v: f64| (v.clamp(0.0, 1.0) * 10.0).round();
    let sample = view.sample.unwrap_or(LoadSample::EMPTY);
    let v = match f {
        Feature::Utilisation => tenths(sample.utilisation),
        Feature::UtilisationMaxCpu => tenths(sample.utilisation_max_cpu),
        Feature::CpuPressure => tenths(sample.cpu_pressure.unwrap_or(0.0)),
        Feature::RunqP99 => sample
            .runq_latency_p99_us
            .map_or(0.0, |us| libm::log2(us.max(1.0)).floor().min(20.0)),
        Feature::PeersMinLoad => f64::from(
            view.peers
                .iter()
                .filter_map(|p| p.load.map(|l| l.jobs().min(16)))
                .min()
                .unwrap_or(17),
        ),
        Feature::PeerLoad(i) => f64::from(
            view.peers
                .iter()
                .find(|p| p.id == PeerId(u32::from(i)))
                .and_then(|p| p.load)
                .map_or(3, |l| {
                    let (jobs, k) = (l.jobs(), l.slots.max(1));
                    if jobs < k {
                        0
                    } else if jobs <= 2 * k {
                        1
                    } else {
                        2
                    }
                }),
        ),
        Feature::DeadlineSlack => job.deadline.map_or(11.0, |d| {
            libm::log2((d.as_secs_f64() * 1e3).max(1.0))
                .floor()
                .min(10.0)
        }),
        Feature::Speed => (speed * 4.0).round().clamp(0.0, 16.0),
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
            deadline: None,
        }
    }

    #[test]
    fn state_is_type_then_running_then_queued() {
        let s = LearningScheduler::new(2, &[], agent(2, Parameters::default()), 1.0);
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
        let s = LearningScheduler::new(1, &features, agent, 1.0);
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
    fn double_decision_accepts_or_refuses_peer_jobs_with_its_own_agent() {
        assert_eq!(
            LearningScheduler::parse(&["2".into(), "true".into()], 2),
            Ok((2, true))
        );
        assert_eq!(LearningScheduler::parse(&["2".into()], 2), Ok((2, false)));
        assert!(matches!(
            LearningScheduler::parse(&["1".into(), "maybe".into()], 2),
            Err(DescriptorError::Parameter { index: 1, .. })
        ));
        let random = Parameters {
            actions_n: 2,
            epsilon_start: 1.0,
            epsilon_min: 1.0,
            ..Parameters::default()
        };
        let (main, acceptance) = (agent(1, Parameters::default()), agent(1, random));
        let mut s = LearningScheduler::new(1, &[], Arc::clone(&main), 1.0)
            .with_acceptance(Arc::clone(&acceptance));
        assert_eq!(s.full_name(), "LearningScheduler(1, true)");
        let external = JobMeta {
            external: true,
            ..job(0)
        };
        let mut rng = SmallRng::seed_from_u64(3);
        let (mut refused, mut accepted) = (0, 0);
        for _ in 0..100 {
            let mut note = Note::default();
            let d = s.decide(&external, &NodeView::default(), &mut rng, &mut note);
            let l = note.learning.expect("a peer's job is a learned decision");
            assert!(l.acceptance);
            match (l.action, d) {
                (0, Decision::Reject(RejectReason::Learner)) => refused += 1,
                (1, Decision::RunLocal(Admission::Queue)) => accepted += 1,
                other => panic!("unexpected {other:?}"),
            }
            s.observe(&l, 1.0);
        }
        assert!(refused > 20 && accepted > 20, "{refused} / {accepted}");
        assert_eq!(acceptance.stats().inferences, 100);
        assert_eq!(
            main.stats().inferences,
            0,
            "the origin's agent is not involved"
        );
        assert!(
            acceptance.stats().rewards > 90,
            "rewards go to the acceptance agent"
        );
        let rewards = crate::learning::Rewards {
            met: 1.0,
            missed: 0.0,
            rejected: 0.0,
            refused: 0.5,
        };
        let mut note = Note::default();
        let _ = s.decide(&external, &NodeView::default(), &mut rng, &mut note);
        let l = note.learning.expect("learned");
        let want = if l.action == 0 { 0.5 } else { 1.0 };
        assert_eq!(rewards.of_learning(&l, true, false), want);
    }

    #[test]
    fn peer_deadline_and_speed_features_are_coarse_levels() {
        let features = [
            Feature::PeerLoad(0),
            Feature::PeerLoad(1),
            Feature::PeerLoad(2),
            Feature::PeerLoad(3),
            Feature::DeadlineSlack,
            Feature::Speed,
        ];
        let agent = Arc::new(Agent::new(dims_for(1, 6), Parameters::default()).expect("valid"));
        let s = LearningScheduler::new(1, &features, agent, 0.5);
        assert!(!s.needs_load_sample(), "none of these reads the machine");
        // K = 4: 2 jobs leave a free slot, 5 fill the slots with a short queue, 9 queue more than K;
        // peer 3 is not in the view (down or on the path).
        let peers = crate::scheduler::test_support::peers(&[
            crate::scheduler::test_support::load(2),
            crate::scheduler::test_support::load(5),
            crate::scheduler::test_support::load(9),
        ]);
        let view = NodeView {
            peers: &peers,
            ..NodeView::default()
        };
        let mut out = [0.0; MAX_DIMS];
        let timed = JobMeta {
            deadline: Some(std::time::Duration::from_millis(33)),
            ..job(0)
        };
        let n = s.state(&timed, &view, &mut out);
        // 33 ms → floor(log2 33) = 5; speed 0.5 → 2 quarters.
        assert_eq!(&out[3..n], &[0.0, 1.0, 2.0, 3.0, 5.0, 2.0]);
        let n = s.state(&job(0), &view, &mut out);
        assert_eq!(out[n - 2], 11.0, "no deadline is its own class");
        let long = JobMeta {
            deadline: Some(std::time::Duration::from_secs(60)),
            ..job(0)
        };
        let n = s.state(&long, &view, &mut out);
        assert_eq!(out[n - 2], 10.0, "long deadlines share the top class");
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
        let mut s = LearningScheduler::new(1, &[], agent(1, params), 1.0);
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
        let mut s = LearningScheduler::new(1, &[], agent(1, Parameters::default()), 1.0);
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
