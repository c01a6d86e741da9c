//! Two schedulers the original lacked (contract §7.3):
//!
//! - `LeastLoadedCached(d, T)`: when the node holds at least T jobs, sample d peers whose load is known
//!   from gossip or piggybacked responses and forward to the least loaded one if it is strictly less
//!   loaded. No probe round trip on the request path.
//! - `JSQ(d)`: join the shortest of d live-probed queues, this node included (ties stay here).
//!
//! Both forward client jobs only: a job that already travelled runs where it lands.

use rand::RngCore;

use super::cluster::{MAX_SAMPLE, distinct_indices};
use super::{
    Admission, Decision, DescriptorError, Identity, JobMeta, Needs, NodeView, Note, ProbeResult,
    Scheduler, expect_arity, least_loaded, least_loaded_probed, probe_or, uint_param,
};

const LLC: &str = "LeastLoadedCached";
const JSQ: &str = "JSQ";

/// Power-of-d over the cached load view.
#[derive(Debug, Clone)]
pub struct LeastLoadedCached {
    d: usize,
    threshold: usize,
    identity: Identity,
}

impl LeastLoadedCached {
    /// Parses `[d, T]`.
    pub fn parse(params: &[String]) -> Result<Self, DescriptorError> {
        expect_arity(LLC, "d uint, T uint", params, 2)?;
        let d = uint_param(LLC, params, 0, "d", 1..=MAX_SAMPLE)?;
        let threshold = uint_param(LLC, params, 1, "T", 0..=crate::admission::MAX_SLOTS * 2)?;
        Ok(Self {
            identity: Identity::new(
                LLC,
                vec![d.to_string(), threshold.to_string()],
                Needs::PEERS,
            ),
            d,
            threshold,
        })
    }
}

impl Scheduler for LeastLoadedCached {
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
        let local = Decision::RunLocal(Admission::Queue);
        if job.external || view.load() < self.threshold {
            return local;
        }
        let mine = u32::try_from(view.load()).unwrap_or(u32::MAX);
        let known = view.peers.iter().filter(|p| p.load.is_some());
        let mut picks = [0; MAX_SAMPLE];
        let n = distinct_indices(known.clone().count(), self.d, rng, &mut picks);
        if n == 0 {
            note.fallback = Some("no_peer_load_known");
            return local;
        }
        let sample = known
            .enumerate()
            .filter(|(i, _)| picks[..n].contains(i))
            .filter_map(|(_, p)| p.load.map(|l| (p.id, l.jobs())));
        least_loaded(sample, mine, rng).map_or(local, Decision::Forward)
    }
}

/// Join-the-shortest-queue over d live probes.
#[derive(Debug, Clone)]
pub struct Jsq {
    d: usize,
    identity: Identity,
}

impl Jsq {
    /// Parses `[d]`.
    pub fn parse(params: &[String]) -> Result<Self, DescriptorError> {
        expect_arity(JSQ, "d uint", params, 1)?;
        let d = uint_param(JSQ, params, 0, "d", 1..=super::MAX_PROBES)?;
        Ok(Self {
            identity: Identity::new(JSQ, vec![d.to_string()], Needs::PEERS),
            d,
        })
    }
}

impl Scheduler for Jsq {
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
        let local = Decision::RunLocal(Admission::Queue);
        if job.external {
            return local;
        }
        probe_or(view.peers, self.d, rng, note, local)
    }

    fn after_probe(
        &mut self,
        _job: &JobMeta,
        view: &NodeView<'_>,
        probes: &[ProbeResult],
        rng: &mut dyn RngCore,
        _note: &mut Note,
    ) -> Decision {
        least_loaded_probed(probes, view.load(), rng)
            .map_or(Decision::RunLocal(Admission::Queue), Decision::Forward)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;
    use crate::scheduler::PeerId;
    use crate::scheduler::test_support::{job, load, peers, strings};

    #[test]
    fn cached_picks_the_least_loaded_known_peer() {
        let mut s = LeastLoadedCached::parse(&strings(&["3", "2"])).expect("valid");
        let ps = peers(&[load(5), None, load(1), load(3)]);
        let mut rng = SmallRng::seed_from_u64(1);
        let mut at = |running, j: JobMeta| {
            let view = NodeView {
                running,
                peers: &ps,
                ..NodeView::default()
            };
            s.decide(&j, &view, &mut rng, &mut Note::default())
        };
        // d = 3 covers all three known peers: the least loaded (1 job) wins when below ours.
        assert_eq!(at(4, job(0, false)), Decision::Forward(PeerId(2)));
        assert_eq!(at(1, job(0, false)), Decision::RunLocal(Admission::Queue));
        assert_eq!(at(4, job(1, true)), Decision::RunLocal(Admission::Queue));
        let only_unknown = peers(&[None]);
        let view = NodeView {
            running: 9,
            peers: &only_unknown,
            ..NodeView::default()
        };
        let mut note = Note::default();
        assert_eq!(
            s.decide(&job(0, false), &view, &mut rng, &mut note),
            Decision::RunLocal(Admission::Queue)
        );
        assert_eq!(note.fallback, Some("no_peer_load_known"));
    }

    #[test]
    fn jsq_probes_then_joins_the_shortest_queue() {
        let mut s = Jsq::parse(&strings(&["2"])).expect("valid");
        let ps = peers(&[None, None, None]);
        let view = NodeView {
            running: 2,
            peers: &ps,
            ..NodeView::default()
        };
        let mut rng = SmallRng::seed_from_u64(1);
        assert!(matches!(
            s.decide(&job(0, false), &view, &mut rng, &mut Note::default()),
            Decision::Probe(p) if p.peers().len() == 2
        ));
        let results = [
            ProbeResult {
                id: PeerId(0),
                load: load(2),
            },
            ProbeResult {
                id: PeerId(1),
                load: load(1),
            },
        ];
        assert_eq!(
            s.after_probe(
                &job(0, false),
                &view,
                &results,
                &mut rng,
                &mut Note::default()
            ),
            Decision::Forward(PeerId(1))
        );
        let idle = NodeView { running: 1, ..view };
        assert_eq!(
            s.after_probe(
                &job(0, false),
                &idle,
                &results,
                &mut rng,
                &mut Note::default()
            ),
            Decision::RunLocal(Admission::Queue)
        );
    }
}
