//! The invocation state machine: what happens to one job on the node deciding it, from the client's
//! override header to the one outcome, as a sequence of steps the caller performs.
//!
//! ```text
//! new ─▶ start ─┬─▶ Done(RunLocal(mode) | Reject(reason))
//!               ├─▶ Forward(peer) ─▶ forwarded(Done)                     ─▶ Done(Answered)
//!               │                  ├ forwarded(Refused|Failed)           ─▶ Done(RunLocal(Queue)) + fallback
//!               │                  └ forwarded(TimedOut|Lost) ─▶ Cancel(peer) ─▶ cancelled(No) ─▶ RunLocal + fallback
//!               │                                                         └ cancelled(Yes|Unknown) ─▶ Done(Unanswered)
//!               └─▶ Probe(peers) ─▶ probed ─┬─▶ WaitUntil(t) ─▶ waited ─▶ after_probe …
//!                                           └─▶ after_probe ─▶ Done(…) | Forward(peer) ─▶ …
//! ```
//!
//! The caller (the node's HTTP handler, the simulator) performs each step — probes, sleeps, forwards,
//! admits and runs — and feeds the result back; the machine holds every rule about what comes next:
//! override headers, the scheduler's decision, Tau, the single fallback after a forward that did not
//! produce the answer — only when the job surely did not run on the peer (at most once: after a
//! timeout or a broken connection the peer is asked to cancel, and the job runs here only if it
//! answers "not run") — and the guard that a job is never forwarded to a peer that may not take it (one
//! outside the view, so on the job's path or not serving its function, or one whose probe failed).
//!
//! Time is an input (`now`, the time since the job reached this node) and randomness is the caller's.
//! [`Step::Done`] is terminal; after it the machine answers every input with that same
//! step, so one invocation has exactly one [`Outcome`].

use std::time::Duration;

use rand::RngCore;

use crate::jobs::Executed;
use crate::scheduler::{
    Admission, Decision, ForwardScheduler, JobMeta, Learning, MAX_PROBES, NoScheduler, NodeView,
    Note, PeerId, Probe, ProbeResult, RejectReason, RejectScheduler, Scheduler,
};

/// Fallback reasons the machine itself gives (schedulers give their own, e.g. `no_peer`); sent as
/// `X-P2pfaas-Scheduler-Fallback` and counted in reports.
pub mod fallback {
    /// The peer refused the job (full, or its scheduler rejected it): run here instead.
    pub const PEER_REFUSED: &str = "peer_refused";
    /// The forward failed (unreachable, unauthorised, garbage): run here instead.
    pub const PEER_FAILED: &str = "peer_failed";
    /// The peer did not answer in time: run here instead.
    pub const PEER_TIMEOUT: &str = "peer_timeout";
    /// The scheduler chose a peer that may not take the job (not in the view, or its probe failed).
    pub const PEER_UNAVAILABLE: &str = "peer_unavailable";
}

/// The client's override headers, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Override {
    /// `X-P2pfaas-Scheduler-Bypass`: run here, queue rules apply.
    Bypass,
    /// `X-P2pfaas-Scheduler-Forward`: one hop to a random peer (`ForwardScheduler(1)`).
    Forward,
    /// `X-P2pfaas-Scheduler-Reject`: refuse (503).
    Reject,
}

/// The schedulers the override headers stand for, built once per worker so an overridden job allocates
/// nothing.
#[derive(Debug)]
pub struct Overrides {
    bypass: NoScheduler,
    forward: ForwardScheduler,
    reject: RejectScheduler,
}

impl Default for Overrides {
    fn default() -> Self {
        Self {
            bypass: NoScheduler::new(false),
            forward: ForwardScheduler::new(1),
            reject: RejectScheduler::new(),
        }
    }
}

impl Overrides {
    /// The scheduler that decides a job with override `over`: the override's, else `current`.
    pub fn select<'a>(
        &'a mut self,
        over: Option<Override>,
        current: &'a mut dyn Scheduler,
    ) -> &'a mut dyn Scheduler {
        match over {
            None => current,
            Some(Override::Bypass) => &mut self.bypass,
            Some(Override::Forward) => &mut self.forward,
            Some(Override::Reject) => &mut self.reject,
        }
    }
}

/// How a forward ended, as the caller saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardOutcome {
    /// The peer answered; its answer is the client's.
    Done,
    /// The peer declined the job (full, its scheduler rejected it, a loop).
    Refused,
    /// The peer could not be used (unknown, unreachable, unauthorised, garbage).
    Failed,
    /// The peer did not answer within the forward timeout (it may have run the job).
    TimedOut,
    /// The connection broke after the job was sent, without an answer (it may have run the job).
    Lost,
}

/// What the caller does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Ask these peers for their load, then call [`Invocation::probed`].
    Probe(Probe),
    /// Wait until this long after the job reached this node, then call [`Invocation::waited`].
    WaitUntil(Duration),
    /// Send the job to this peer, then call [`Invocation::forwarded`].
    Forward(PeerId),
    /// Ask this peer to cancel the job it was sent (it may have run it), then call
    /// [`Invocation::cancelled`] with its answer ([`Executed::Unknown`] when there is none).
    Cancel(PeerId),
    /// Terminal: the machine has nothing more to decide.
    Done(End),
}

/// How the machine's part of an invocation ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Admit the job here in this mode and run it.
    RunLocal(Admission),
    /// Refuse the job on purpose.
    Reject(RejectReason),
    /// The peer's answer is the client's.
    Answered,
    /// The forward ended without an answer and the job may have run on the peer (`Yes` or
    /// `Unknown`): it must not run again, so the client gets a timeout saying so.
    Unanswered(Executed),
}

impl Step {
    /// Whether the invocation ended with this step.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Done(_))
    }
}

/// How one invocation ended on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// How it ended.
    pub end: End,
    /// Why the job did not go where the scheduler chose, if it did not.
    pub fallback: Option<&'static str>,
    /// The forward this outcome followed and how it ended, if the job was forwarded.
    pub forward: Option<(PeerId, ForwardOutcome)>,
    /// Whether peers were probed.
    pub probed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Probing(Probe),
    Waiting(Duration),
    Forwarding(PeerId),
    Cancelling(PeerId),
    Done(End),
}

/// One job's way through this node. Plain data (`Copy`); no allocation.
#[derive(Debug, Clone, Copy)]
pub struct Invocation {
    job: JobMeta,
    deadline: Option<Duration>,
    state: State,
    note: Note,
    probes: [ProbeResult; MAX_PROBES],
    nprobes: usize,
    probed: bool,
    forward: Option<(PeerId, ForwardOutcome)>,
}

const NO_PROBE: ProbeResult = ProbeResult {
    id: PeerId(0),
    load: None,
};

impl Invocation {
    /// A job `job` that must be answered within `deadline` of reaching this node (if any).
    pub fn new(job: JobMeta, deadline: Option<Duration>) -> Self {
        Self {
            job,
            deadline,
            state: State::Start,
            note: Note::default(),
            probes: [NO_PROBE; MAX_PROBES],
            nprobes: 0,
            probed: false,
            forward: None,
        }
    }

    /// The job.
    pub fn job(&self) -> &JobMeta {
        &self.job
    }

    /// What the decision left for the response and for learning (learning data, fallback so far).
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// The learning decision taken for this job, if any.
    pub fn learning(&self) -> Option<Learning> {
        self.note.learning
    }

    /// The outcome, once a terminal step was returned.
    pub fn outcome(&self) -> Option<Outcome> {
        match self.state {
            State::Done(end) => Some(Outcome {
                end,
                fallback: self.note.fallback,
                forward: self.forward,
                probed: self.probed,
            }),
            _ => None,
        }
    }

    /// The step the machine waits on, repeated to an input it does not expect.
    fn pending(&mut self) -> Step {
        match self.state {
            State::Done(end) => Step::Done(end),
            State::Forwarding(peer) => Step::Forward(peer),
            State::Cancelling(peer) => Step::Cancel(peer),
            State::Waiting(at) => Step::WaitUntil(at),
            State::Probing(p) => Step::Probe(p),
            // A result fed before `start` is a driver's bug; the job must not be lost to it: it runs
            // here, queue rules applying, and that is its outcome.
            State::Start => self.finish(End::RunLocal(Admission::Queue)),
        }
    }

    /// The first decision, by `scheduler` (see [`Overrides::select`]) on `view`.
    pub fn start(
        &mut self,
        scheduler: &mut dyn Scheduler,
        view: &NodeView<'_>,
        rng: &mut dyn RngCore,
    ) -> Step {
        if self.state != State::Start {
            return self.pending();
        }
        let d = scheduler.decide(&self.job, view, rng, &mut self.note);
        self.apply(d, view, false)
    }

    /// The probes' answers (`None` load: that probe failed), at `now` after the job reached this node.
    /// Results for peers that were not probed are ignored.
    pub fn probed(
        &mut self,
        results: &[ProbeResult],
        now: Duration,
        scheduler: &mut dyn Scheduler,
        view: &NodeView<'_>,
        rng: &mut dyn RngCore,
    ) -> Step {
        if !matches!(self.state, State::Probing(_)) {
            return self.pending();
        }
        for slot in &mut self.probes[..self.nprobes] {
            slot.load = results
                .iter()
                .find(|r| r.id == slot.id)
                .and_then(|r| r.load);
        }
        self.probed = true;
        // Tau counts from arrival here, capped at the deadline: the job must be answered in time.
        let tau = scheduler
            .decision_delay()
            .map(|tau| self.deadline.map_or(tau, |d| tau.min(d)));
        match tau {
            Some(at) if now < at => {
                self.state = State::Waiting(at);
                Step::WaitUntil(at)
            }
            _ => self.after_probe(scheduler, view, rng),
        }
    }

    /// The wait of [`Step::WaitUntil`] is over.
    pub fn waited(
        &mut self,
        scheduler: &mut dyn Scheduler,
        view: &NodeView<'_>,
        rng: &mut dyn RngCore,
    ) -> Step {
        if !matches!(self.state, State::Waiting(_)) {
            return self.pending();
        }
        self.after_probe(scheduler, view, rng)
    }

    /// How the forward of [`Step::Forward`] ended. A refusal or a failure before the job reached the
    /// peer falls back once to running the job here (queue rules apply), saying why; a timeout or a
    /// broken connection first asks the peer to cancel ([`Step::Cancel`]).
    pub fn forwarded(&mut self, outcome: ForwardOutcome) -> Step {
        let State::Forwarding(peer) = self.state else {
            return self.pending();
        };
        self.forward = Some((peer, outcome));
        match outcome {
            ForwardOutcome::Done => self.finish(End::Answered),
            ForwardOutcome::Refused => self.fall_back(fallback::PEER_REFUSED),
            ForwardOutcome::Failed => self.fall_back(fallback::PEER_FAILED),
            ForwardOutcome::TimedOut | ForwardOutcome::Lost => {
                self.state = State::Cancelling(peer);
                Step::Cancel(peer)
            }
        }
    }

    /// The peer's answer to the cancel of [`Step::Cancel`] (`Unknown` when it gave none): the job
    /// runs here only if it surely did not run there.
    pub fn cancelled(&mut self, executed: Executed) -> Step {
        if !matches!(self.state, State::Cancelling(_)) {
            return self.pending();
        }
        match (executed, self.forward) {
            (Executed::No, Some((_, ForwardOutcome::Lost))) => {
                self.fall_back(fallback::PEER_FAILED)
            }
            (Executed::No, _) => self.fall_back(fallback::PEER_TIMEOUT),
            (ran, _) => self.finish(End::Unanswered(ran)),
        }
    }

    /// Ends by running the job here, queue rules applying, saying why.
    fn fall_back(&mut self, reason: &'static str) -> Step {
        self.note.fallback = Some(reason);
        self.finish(End::RunLocal(Admission::Queue))
    }

    fn finish(&mut self, end: End) -> Step {
        self.state = State::Done(end);
        Step::Done(end)
    }

    fn after_probe(
        &mut self,
        scheduler: &mut dyn Scheduler,
        view: &NodeView<'_>,
        rng: &mut dyn RngCore,
    ) -> Step {
        let probes = &self.probes[..self.nprobes];
        let d = scheduler.after_probe(&self.job, view, probes, rng, &mut self.note);
        self.apply(d, view, true)
    }

    /// Turns a scheduler's decision into the next step.
    fn apply(&mut self, d: Decision, view: &NodeView<'_>, after_probe: bool) -> Step {
        match d {
            Decision::RunLocal(mode) => self.finish(End::RunLocal(mode)),
            Decision::Reject(reason) => self.finish(End::Reject(reason)),
            // `after_probe` never probes again; a second probe keeps the job here.
            Decision::Probe(_) if after_probe => self.finish(End::RunLocal(Admission::Queue)),
            Decision::Probe(p) => {
                let ids = p.peers();
                self.nprobes = ids.len().min(MAX_PROBES);
                for (slot, &id) in self.probes.iter_mut().zip(ids) {
                    *slot = ProbeResult { id, load: None };
                }
                self.state = State::Probing(p);
                Step::Probe(p)
            }
            Decision::Forward(peer) => {
                let eligible = view.peers.iter().any(|p| p.id == peer);
                let probe_failed = after_probe
                    && self.probes[..self.nprobes]
                        .iter()
                        .any(|p| p.id == peer && p.load.is_none());
                if !eligible || probe_failed {
                    return self.fall_back(fallback::PEER_UNAVAILABLE);
                }
                self.state = State::Forwarding(peer);
                Step::Forward(peer)
            }
        }
    }
}

#[cfg(test)]
mod tests;
