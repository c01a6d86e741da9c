//! `RoundRobinWithMasterScheduler(Master, MasterIP, Loss)`: workers send their clients' jobs to the master,
//! which deals them out to the peers in turn (contract §1.7).
//!
//! Fixed from the original: the turn skips peers that do not serve the function or are on the job's path
//! (the original could send a job back to its sender), and a master with nobody to deal to runs the job.
//! `Loss` applies to jobs kept locally, as elsewhere. The turn is per worker thread.

use rand::RngCore;

use super::{
    Decision, DescriptorError, Identity, JobMeta, Needs, NodeView, Note, RejectReason, Scheduler,
    bool_param, expect_arity,
};

const NAME: &str = "RoundRobinWithMasterScheduler";

/// Centralised round robin through a master node.
#[derive(Debug, Clone)]
pub struct RoundRobinWithMaster {
    master: bool,
    master_ip: String,
    loss: bool,
    next: usize,
    identity: Identity,
}

impl RoundRobinWithMaster {
    /// Parses `[Master, MasterIP, Loss]`; `MasterIP` is a host or `host:port` of a peer.
    pub fn parse(params: &[String]) -> Result<Self, DescriptorError> {
        expect_arity(NAME, "Master bool, MasterIP string, Loss bool", params, 3)?;
        let master = bool_param(NAME, params, 0, "Master")?;
        let master_ip = params[1].trim().to_owned();
        if !master && master_ip.is_empty() {
            return Err(DescriptorError::Parameter {
                name: NAME,
                index: 1,
                param: "MasterIP",
                problem: "a worker needs the master's address".into(),
            });
        }
        let loss = bool_param(NAME, params, 2, "Loss")?;
        Ok(Self {
            identity: Identity::new(
                NAME,
                vec![master.to_string(), master_ip.clone(), loss.to_string()],
                Needs::PEERS,
            ),
            master,
            master_ip,
            loss,
            next: 0,
        })
    }

    fn local(&self) -> Decision {
        Decision::local(self.loss)
    }

    /// Whether `addr` (`host:port`) is the configured master (given as a host or `host:port`).
    fn is_master(&self, addr: &str) -> bool {
        addr == self.master_ip
            || addr
                .rsplit_once(':')
                .is_some_and(|(host, _)| host.trim_matches(['[', ']']) == self.master_ip)
    }
}

impl Scheduler for RoundRobinWithMaster {
    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn decide(
        &mut self,
        job: &JobMeta,
        view: &NodeView<'_>,
        _rng: &mut dyn RngCore,
        note: &mut Note,
    ) -> Decision {
        match (self.master, job.external) {
            (true, false) => Decision::Reject(RejectReason::MasterClientJob),
            (true, true) => {
                if view.peers.is_empty() {
                    note.fallback = Some("no_peer");
                    return self.local();
                }
                let peer = view.peers[self.next % view.peers.len()].id;
                self.next = self.next.wrapping_add(1);
                Decision::Forward(peer)
            }
            (false, false) => match view.peers.iter().find(|p| self.is_master(p.addr)) {
                Some(p) => Decision::Forward(p.id),
                None => {
                    note.fallback = Some("master_unavailable");
                    self.local()
                }
            },
            (false, true) => self.local(),
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;
    use crate::scheduler::Admission;
    use crate::scheduler::PeerId;
    use crate::scheduler::test_support::{job, peers, strings};

    #[test]
    fn master_deals_in_turn_and_refuses_client_jobs() {
        let mut s = RoundRobinWithMaster::parse(&strings(&["true", "", "false"])).expect("valid");
        let ps = peers(&[None, None, None]);
        let view = NodeView {
            peers: &ps,
            ..NodeView::default()
        };
        let mut rng = SmallRng::seed_from_u64(1);
        let turns: Vec<Decision> = (0..4)
            .map(|_| s.decide(&job(1, true), &view, &mut rng, &mut Note::default()))
            .collect();
        assert_eq!(
            turns,
            [0, 1, 2, 0].map(|i| Decision::Forward(PeerId(i))).to_vec()
        );
        assert_eq!(
            s.decide(&job(0, false), &view, &mut rng, &mut Note::default()),
            Decision::Reject(RejectReason::MasterClientJob)
        );
    }

    #[test]
    fn workers_send_client_jobs_to_the_master() {
        let mut s =
            RoundRobinWithMaster::parse(&strings(&["false", "127.0.0.2", "true"])).expect("valid");
        let mut ps = peers(&[None, None]);
        ps[1].addr = "127.0.0.2:18080";
        let view = NodeView {
            peers: &ps,
            ..NodeView::default()
        };
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(
            s.decide(&job(0, false), &view, &mut rng, &mut Note::default()),
            Decision::Forward(PeerId(1))
        );
        assert_eq!(
            s.decide(&job(2, true), &view, &mut rng, &mut Note::default()),
            Decision::RunLocal(Admission::NoQueue)
        );
        let mut note = Note::default();
        assert_eq!(
            s.decide(&job(0, false), &NodeView::default(), &mut rng, &mut note),
            Decision::RunLocal(Admission::NoQueue)
        );
        assert_eq!(note.fallback, Some("master_unavailable"));
        assert!(RoundRobinWithMaster::parse(&strings(&["false", "", "true"])).is_err());
    }
}
