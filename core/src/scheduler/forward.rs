//! `ForwardScheduler(MaxHops)`: every job goes to one random peer, until it has travelled `MaxHops`.
//!
//! Fixed from the original: hops are counted (the original always sent 1, so chains never ended), the
//! peer is drawn from the peers that serve the function and are not on the job's path (no loops), and
//! no list fetch is needed per decision (the view is cached).

use rand::{Rng, RngCore};

use super::{
    Admission, Decision, DescriptorError, Identity, JobMeta, Needs, NodeView, Note, Scheduler,
    expect_arity, uint_param,
};

const NAME: &str = "ForwardScheduler";

/// Forwards to a random peer.
#[derive(Debug, Clone)]
pub struct ForwardScheduler {
    max_hops: u32,
    identity: Identity,
}

impl ForwardScheduler {
    /// Forwards until a job has travelled `max_hops` hops.
    pub fn new(max_hops: u32) -> Self {
        Self {
            max_hops,
            identity: Identity::new(NAME, vec![max_hops.to_string()], Needs::PEERS),
        }
    }

    /// Parses `[MaxHops]`.
    pub fn parse(params: &[String]) -> Result<Self, DescriptorError> {
        expect_arity(NAME, "MaxHops uint", params, 1)?;
        let hops = uint_param(NAME, params, 0, "MaxHops", 0..=64)?;
        Ok(Self::new(u32::try_from(hops).unwrap_or(64)))
    }
}

impl Scheduler for ForwardScheduler {
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
        if job.hops >= self.max_hops {
            return local;
        }
        if view.peers.is_empty() {
            note.fallback = Some("no_peer");
            return local;
        }
        Decision::Forward(view.peers[rng.gen_range(0..view.peers.len())].id)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;
    use crate::scheduler::test_support::{job, peers};

    #[test]
    fn forwards_until_max_hops_and_to_every_peer() {
        let ps = peers(&[None, None, None]);
        let view = NodeView {
            peers: &ps,
            ..NodeView::default()
        };
        let mut s = ForwardScheduler::new(2);
        let mut rng = SmallRng::seed_from_u64(2);
        let mut hit = [false; 3];
        for _ in 0..100 {
            match s.decide(&job(0, false), &view, &mut rng, &mut Note::default()) {
                Decision::Forward(id) => hit[id.0 as usize] = true,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(hit, [true; 3]);
        assert!(matches!(
            s.decide(&job(1, true), &view, &mut rng, &mut Note::default()),
            Decision::Forward(_)
        ));
        assert_eq!(
            s.decide(&job(2, true), &view, &mut rng, &mut Note::default()),
            Decision::RunLocal(Admission::Queue)
        );
        let mut note = Note::default();
        assert_eq!(
            s.decide(&job(0, false), &NodeView::default(), &mut rng, &mut note),
            Decision::RunLocal(Admission::Queue)
        );
        assert_eq!(note.fallback, Some("no_peer"));
    }
}
