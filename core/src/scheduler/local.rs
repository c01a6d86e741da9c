//! `NoScheduler(Loss)`: every job runs on this node; and the header-driven `RejectScheduler`, which
//! refuses every job (the client's `X-P2pfaas-Scheduler-Reject`).
//!
//! `Loss = true` makes the node a loss system (M/M/K/K): a job that finds no free slot is refused instead of
//! queued, which is what single-node Erlang-B experiments need. `Loss = false` queues as configured.
//! Unlike the original, the loss check is the atomic admission itself (no check-then-act race).

use rand::RngCore;

use super::{
    Decision, DescriptorError, Identity, JobMeta, Needs, NodeView, Note, RejectReason, Scheduler,
    bool_param, expect_arity,
};

const NAME: &str = "NoScheduler";

/// Runs everything locally.
#[derive(Debug, Clone)]
pub struct NoScheduler {
    loss: bool,
    identity: Identity,
}

impl NoScheduler {
    /// A `NoScheduler` with the given `Loss` flag.
    pub fn new(loss: bool) -> Self {
        Self {
            loss,
            identity: Identity::bare(NAME, vec![loss.to_string()], Needs::NOTHING),
        }
    }

    /// Parses the compatible parameter list `[Loss]` into the `Loss` flag.
    pub fn parse(params: &[String]) -> Result<bool, DescriptorError> {
        expect_arity(NAME, "Loss bool", params, 1)?;
        bool_param(NAME, params, 0, "Loss")
    }
}

impl Scheduler for NoScheduler {
    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn decide(
        &mut self,
        _job: &JobMeta,
        _view: &NodeView<'_>,
        _rng: &mut dyn RngCore,
        _note: &mut Note,
    ) -> Decision {
        Decision::local(self.loss)
    }
}

/// Refuses every job: what the client's `X-P2pfaas-Scheduler-Reject` header selects. Not selectable
/// by descriptor.
#[derive(Debug, Clone)]
pub struct RejectScheduler {
    identity: Identity,
}

impl RejectScheduler {
    /// The scheduler behind the reject header.
    pub fn new() -> Self {
        Self {
            identity: Identity::bare("RejectScheduler", Vec::new(), Needs::NOTHING),
        }
    }
}

impl Default for RejectScheduler {
    fn default() -> Self {
        Self::new()
    }
}

impl Scheduler for RejectScheduler {
    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn decide(
        &mut self,
        _job: &JobMeta,
        _view: &NodeView<'_>,
        _rng: &mut dyn RngCore,
        _note: &mut Note,
    ) -> Decision {
        Decision::Reject(RejectReason::RejectHeader)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;
    use crate::scheduler::Admission;

    #[test]
    fn loss_flag_selects_admission_mode() {
        let job = JobMeta {
            task_type: 0,
            external: false,
            hops: 0,
            deadline: None,
        };
        let mut rng = SmallRng::seed_from_u64(1);
        let view = NodeView::default();
        let mut note = Note::default();
        assert_eq!(
            NoScheduler::new(true).decide(&job, &view, &mut rng, &mut note),
            Decision::RunLocal(Admission::NoQueue)
        );
        assert_eq!(
            NoScheduler::new(false).decide(&job, &view, &mut rng, &mut note),
            Decision::RunLocal(Admission::Queue)
        );
    }
}
