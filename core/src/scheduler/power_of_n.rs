//! `PowerOfNScheduler(F, T, Loss, MaxHops)` and `PowerOfNSchedulerTau(F, T, Loss, MaxHops, Tau)`: when the
//! node holds at least T jobs, probe F random peers and forward to the least loaded one if it is strictly
//! less loaded than this node (contract §1.7).
//!
//! Fixed from the original: the F peers are distinct; a failed probe makes that peer unusable (the
//! original counted it as load 0, the *best* target); a tie with this node's load is not "less loaded";
//! `Loss` is honoured (a job kept here is admitted without queueing, as `NoScheduler(true)` does); hops
//! are counted. The Tau variant measures its own load as running jobs only and takes effect Tau after the
//! job arrived, modelling stale load information, as in the original.

use std::time::Duration;

use rand::RngCore;

use super::{
    Decision, DescriptorError, Identity, JobMeta, Needs, NodeView, Note, ProbeResult, Scheduler,
    bool_param, duration_param, expect_arity, least_loaded_probed, probe_or, uint_param,
};

/// Power-of-N probing.
#[derive(Debug, Clone)]
pub struct PowerOfN {
    probes: usize,
    threshold: usize,
    loss: bool,
    max_hops: u32,
    /// Tau, for the Tau variant.
    tau: Option<Duration>,
    identity: Identity,
}

impl PowerOfN {
    /// Parses `[F, T, Loss, MaxHops]`, or `[F, T, Loss, MaxHops, Tau]` when `with_tau`.
    pub fn parse(params: &[String], with_tau: bool) -> Result<Self, DescriptorError> {
        let name = if with_tau {
            "PowerOfNSchedulerTau"
        } else {
            "PowerOfNScheduler"
        };
        if with_tau {
            expect_arity(
                name,
                "F uint, T uint, Loss bool, MaxHops uint, Tau duration",
                params,
                5,
            )?;
        } else {
            expect_arity(name, "F uint, T uint, Loss bool, MaxHops uint", params, 4)?;
        }
        let probes = uint_param(name, params, 0, "F", 1..=super::MAX_PROBES)?;
        let threshold = uint_param(name, params, 1, "T", 0..=crate::admission::MAX_SLOTS * 2)?;
        let loss = bool_param(name, params, 2, "Loss")?;
        let max_hops = u32::try_from(uint_param(name, params, 3, "MaxHops", 0..=64)?).unwrap_or(64);
        let mut parameters = vec![
            probes.to_string(),
            threshold.to_string(),
            loss.to_string(),
            max_hops.to_string(),
        ];
        let tau = if with_tau {
            let tau = duration_param(name, params, 4, "Tau")?;
            // Shown and kept as given (`300ms`), as the original did.
            parameters.push(params[4].clone());
            Some(tau)
        } else {
            None
        };
        Ok(Self {
            identity: Identity::new(name, parameters, Needs::PEERS),
            probes,
            threshold,
            loss,
            max_hops,
            tau,
        })
    }

    /// This node's load as the variant measures it.
    fn own_load(&self, view: &NodeView<'_>) -> usize {
        if self.tau.is_some() {
            view.running
        } else {
            view.load()
        }
    }

    fn local(&self) -> Decision {
        Decision::local(self.loss)
    }
}

impl Scheduler for PowerOfN {
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
        if self.own_load(view) < self.threshold || job.hops >= self.max_hops {
            return self.local();
        }
        probe_or(view.peers, self.probes, rng, note, self.local())
    }

    fn after_probe(
        &mut self,
        _job: &JobMeta,
        view: &NodeView<'_>,
        probes: &[ProbeResult],
        rng: &mut dyn RngCore,
        note: &mut Note,
    ) -> Decision {
        match least_loaded_probed(probes, self.own_load(view), rng) {
            Some(id) => Decision::Forward(id),
            None => {
                if probes.iter().all(|p| p.load.is_none()) {
                    note.fallback = Some("probes_failed");
                }
                self.local()
            }
        }
    }

    fn decision_delay(&self) -> Option<Duration> {
        self.tau
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;
    use crate::scheduler::Admission;
    use crate::scheduler::PeerId;
    use crate::scheduler::test_support::{job, load, peers, strings};

    #[test]
    fn probes_only_at_the_threshold_and_within_max_hops() {
        let mut s = PowerOfN::parse(&strings(&["2", "3", "false", "1"]), false).expect("valid");
        let ps = peers(&[None, None, None]);
        let mut rng = SmallRng::seed_from_u64(1);
        let mut at = |running, queued, j: JobMeta| {
            let view = NodeView {
                running,
                queued,
                peers: &ps,
                ..NodeView::default()
            };
            s.decide(&j, &view, &mut rng, &mut Note::default())
        };
        assert_eq!(
            at(1, 1, job(0, false)),
            Decision::RunLocal(Admission::Queue)
        );
        match at(2, 1, job(0, false)) {
            Decision::Probe(p) => assert_eq!(p.peers().len(), 2),
            other => panic!("{other:?}"),
        }
        // Forwarded once already: MaxHops = 1 keeps it here.
        assert_eq!(at(4, 4, job(1, true)), Decision::RunLocal(Admission::Queue));
    }

    #[test]
    fn failed_probes_are_unusable_and_ties_stay_local() {
        let mut s = PowerOfN::parse(&strings(&["2", "0", "true", "1"]), false).expect("valid");
        let view = NodeView {
            running: 2,
            queued: 1,
            ..NodeView::default()
        };
        let mut rng = SmallRng::seed_from_u64(1);
        let mut after = |results: &[ProbeResult]| {
            let mut note = Note::default();
            let d = s.after_probe(&job(0, false), &view, results, &mut rng, &mut note);
            (d, note.fallback)
        };
        let r = |id, l| ProbeResult {
            id: PeerId(id),
            load: l,
        };
        // Loss = true: kept jobs are admitted without queueing.
        assert_eq!(
            after(&[r(1, None), r(2, None)]),
            (
                Decision::RunLocal(Admission::NoQueue),
                Some("probes_failed")
            )
        );
        assert_eq!(
            after(&[r(1, load(3)), r(2, None)]),
            (Decision::RunLocal(Admission::NoQueue), None)
        );
        assert_eq!(
            after(&[r(1, load(2)), r(2, None)]),
            (Decision::Forward(PeerId(1)), None)
        );
    }

    #[test]
    fn tau_variant_counts_running_only_and_delays() {
        let mut s =
            PowerOfN::parse(&strings(&["1", "2", "false", "1", "300ms"]), true).expect("valid");
        assert_eq!(s.decision_delay(), Some(Duration::from_millis(300)));
        assert_eq!(s.full_name(), "PowerOfNSchedulerTau(1, 2, false, 1, 300ms)");
        let ps = peers(&[None]);
        let view = NodeView {
            running: 1,
            queued: 5,
            peers: &ps,
            ..NodeView::default()
        };
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(
            s.decide(&job(0, false), &view, &mut rng, &mut Note::default()),
            Decision::RunLocal(Admission::Queue)
        );
        assert!(
            PowerOfN::parse(&strings(&["1", "2", "false", "1", "soon"]), true)
                .err()
                .is_some_and(|e| e.to_string().contains("Tau"))
        );
    }
}
