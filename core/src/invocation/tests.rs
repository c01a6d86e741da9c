use proptest::prelude::{Just, any, prop_assert, prop_assert_eq, prop_oneof, proptest};
use proptest::strategy::Strategy;
use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};

use super::*;
use crate::scheduler::{
    Identity, Needs, PeerLoad, PeerView, PowerOfN, Probe as ProbeSet, ProbeResult, sample_probe,
};

/// A scheduler that answers from a script: `first` to `decide`, `second` to `after_probe`.
struct Scripted {
    first: Decision,
    second: Decision,
    tau: Option<Duration>,
    identity: Identity,
}

impl Scripted {
    fn new(first: Decision, second: Decision, tau: Option<Duration>) -> Self {
        Self {
            first,
            second,
            tau,
            identity: Identity::new("Scripted", Vec::new(), Needs::PEERS),
        }
    }
}

impl Scheduler for Scripted {
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
        self.first
    }
    fn after_probe(
        &mut self,
        _job: &JobMeta,
        _view: &NodeView<'_>,
        _probes: &[ProbeResult],
        _rng: &mut dyn RngCore,
        _note: &mut Note,
    ) -> Decision {
        self.second
    }
    fn decision_delay(&self) -> Option<Duration> {
        self.tau
    }
}

fn job(hops: u32) -> JobMeta {
    JobMeta {
        task_type: 0,
        external: hops > 0,
        hops,
        deadline: None,
    }
}

fn load(jobs: u32) -> Option<PeerLoad> {
    Some(PeerLoad {
        running: jobs,
        queued: 0,
        slots: 4,
    })
}

/// Peers 0..n, all with the given cached load.
fn peers(n: u32) -> Vec<PeerView<'static>> {
    (0..n)
        .map(|i| PeerView {
            id: PeerId(i),
            addr: "127.0.0.1:1",
            load: load(1),
            age: Duration::ZERO,
        })
        .collect()
}

/// A probe of exactly these peers (they must all be in `view`).
fn probe_of(view: &[PeerView<'_>], ids: &[u32]) -> ProbeSet {
    let chosen: Vec<PeerView<'_>> = view
        .iter()
        .filter(|p| ids.contains(&p.id.0))
        .copied()
        .collect();
    sample_probe(&chosen, ids.len(), &mut SmallRng::seed_from_u64(0)).expect("peers to probe")
}

fn result(id: u32, l: Option<PeerLoad>) -> ProbeResult {
    ProbeResult {
        id: PeerId(id),
        load: l,
    }
}

const QUEUE: Step = Step::Done(End::RunLocal(Admission::Queue));
const QUEUE_D: Decision = Decision::RunLocal(Admission::Queue);

/// A node holding 3 of its 4 slots, with these peers.
fn view<'a>(ps: &'a [PeerView<'static>]) -> NodeView<'a> {
    NodeView {
        running: 3,
        slots: 4,
        peers: ps,
        ..NodeView::default()
    }
}

struct Run {
    ps: Vec<PeerView<'static>>,
    rng: SmallRng,
}

impl Run {
    fn new(n: u32) -> Self {
        Self {
            ps: peers(n),
            rng: SmallRng::seed_from_u64(7),
        }
    }
    fn start(&mut self, m: &mut Invocation, s: &mut dyn Scheduler) -> Step {
        let view = view(&self.ps);
        m.start(s, &view, &mut self.rng)
    }
    fn probed(
        &mut self,
        m: &mut Invocation,
        s: &mut dyn Scheduler,
        r: &[ProbeResult],
        now: Duration,
    ) -> Step {
        let view = view(&self.ps);
        m.probed(r, now, s, &view, &mut self.rng)
    }
    fn waited(&mut self, m: &mut Invocation, s: &mut dyn Scheduler) -> Step {
        let view = view(&self.ps);
        m.waited(s, &view, &mut self.rng)
    }
}

#[test]
fn local_and_reject_decisions_end_at_once() {
    let mut run = Run::new(2);
    for d in [
        Decision::RunLocal(Admission::NoQueue),
        Decision::Reject(RejectReason::Learner),
    ] {
        let mut s = Scripted::new(d, d, None);
        let mut m = Invocation::new(job(0), None);
        let step = run.start(&mut m, &mut s);
        assert!(step.is_terminal());
        let outcome = m.outcome().expect("ended");
        assert_eq!(Step::Done(outcome.end), step);
        assert_eq!(outcome.fallback, None);
        assert_eq!(outcome.forward, None);
        // Every later input gets the same terminal step.
        assert_eq!(m.forwarded(ForwardOutcome::Failed), step);
        assert_eq!(run.start(&mut m, &mut s), step);
        assert_eq!(run.waited(&mut m, &mut s), step);
    }
}

#[test]
fn a_result_before_start_ends_the_job_here() {
    let mut run = Run::new(2);
    let mut s = Scripted::new(Decision::Forward(PeerId(0)), QUEUE_D, None);
    let mut m = Invocation::new(job(0), None);
    assert_eq!(m.forwarded(ForwardOutcome::Done), QUEUE);
    assert_eq!(m.outcome().map(|o| Step::Done(o.end)), Some(QUEUE));
    assert_eq!(run.start(&mut m, &mut s), QUEUE, "and stays so");
}

#[test]
fn overrides_select_their_schedulers() {
    let mut run = Run::new(2);
    let mut overrides = Overrides::default();
    let mut current = Scripted::new(Decision::Reject(RejectReason::Learner), QUEUE_D, None);
    let cases = [
        (Some(Override::Bypass), "NoScheduler", Some(QUEUE)),
        (
            Some(Override::Reject),
            "RejectScheduler",
            Some(Step::Done(End::Reject(RejectReason::RejectHeader))),
        ),
        (Some(Override::Forward), "ForwardScheduler(1)", None),
        (
            None,
            "Scripted()",
            Some(Step::Done(End::Reject(RejectReason::Learner))),
        ),
    ];
    for (over, name, expected) in cases {
        let s = overrides.select(over, &mut current);
        assert_eq!(s.full_name(), name);
        let mut m = Invocation::new(job(0), None);
        let step = run.start(&mut m, s);
        match expected {
            Some(e) => assert_eq!(step, e, "{name}"),
            None => assert!(matches!(step, Step::Forward(PeerId(0 | 1))), "{step:?}"),
        }
    }
    // The forward override forwards one hop only, and says when nobody can take the job.
    let s = overrides.select(Some(Override::Forward), &mut current);
    let mut m = Invocation::new(job(1), None);
    assert_eq!(run.start(&mut m, s), QUEUE);
    let mut lonely = Run::new(0);
    let s = overrides.select(Some(Override::Forward), &mut current);
    let mut m = Invocation::new(job(0), None);
    assert_eq!(lonely.start(&mut m, s), QUEUE);
    assert_eq!(m.outcome().and_then(|o| o.fallback), Some("no_peer"));
}

#[test]
fn a_forward_ends_answered_or_falls_back_once() {
    let mut run = Run::new(3);
    let cases = [
        (ForwardOutcome::Done, Step::Done(End::Answered), None),
        (ForwardOutcome::Refused, QUEUE, Some("peer_refused")),
        (ForwardOutcome::Failed, QUEUE, Some("peer_failed")),
    ];
    for (fed, step, fallback) in cases {
        let mut s = Scripted::new(Decision::Forward(PeerId(2)), QUEUE_D, None);
        let mut m = Invocation::new(job(0), None);
        assert_eq!(run.start(&mut m, &mut s), Step::Forward(PeerId(2)));
        assert_eq!(m.outcome(), None, "not over while forwarding");
        // Inputs for other steps repeat the pending forward.
        assert_eq!(
            run.probed(&mut m, &mut s, &[], Duration::ZERO),
            Step::Forward(PeerId(2))
        );
        assert_eq!(m.forwarded(fed), step);
        let outcome = m.outcome().expect("ended");
        assert_eq!(outcome.fallback, fallback);
        assert_eq!(outcome.forward, Some((PeerId(2), fed)));
        // One fallback only: a second forward outcome changes nothing.
        assert_eq!(m.forwarded(ForwardOutcome::Done), step);
    }
}

#[test]
fn a_forward_to_a_peer_outside_the_view_runs_here() {
    let mut run = Run::new(2);
    let mut s = Scripted::new(Decision::Forward(PeerId(9)), QUEUE_D, None);
    let mut m = Invocation::new(job(0), None);
    assert_eq!(run.start(&mut m, &mut s), QUEUE);
    assert_eq!(
        m.outcome().and_then(|o| o.fallback),
        Some("peer_unavailable")
    );
}

#[test]
fn probes_then_after_probe_and_never_a_failed_probe_target() {
    let mut run = Run::new(3);
    let p = probe_of(&run.ps, &[0, 1]);
    let mut s = Scripted::new(Decision::Probe(p), Decision::Forward(PeerId(1)), None);
    let mut m = Invocation::new(job(0), None);
    assert_eq!(run.start(&mut m, &mut s), Step::Probe(p));
    // Peer 1's probe failed: forwarding there is refused by the machine.
    let step = run.probed(
        &mut m,
        &mut s,
        &[result(0, load(0)), result(1, None)],
        Duration::ZERO,
    );
    assert_eq!(step, QUEUE);
    let outcome = m.outcome().expect("ended");
    assert_eq!(outcome.fallback, Some("peer_unavailable"));
    assert!(outcome.probed);

    let mut m = Invocation::new(job(0), None);
    run.start(&mut m, &mut s);
    let step = run.probed(
        &mut m,
        &mut s,
        &[result(1, load(0)), result(7, load(0))],
        Duration::ZERO,
    );
    assert_eq!(step, Step::Forward(PeerId(1)));
}

#[test]
fn a_second_probe_keeps_the_job_here() {
    let mut run = Run::new(3);
    let p = probe_of(&run.ps, &[0]);
    let mut s = Scripted::new(Decision::Probe(p), Decision::Probe(p), None);
    let mut m = Invocation::new(job(0), None);
    run.start(&mut m, &mut s);
    assert_eq!(
        run.probed(&mut m, &mut s, &[result(0, load(0))], Duration::ZERO),
        QUEUE
    );
}

#[test]
fn tau_waits_from_arrival_and_is_capped_by_the_deadline() {
    let mut run = Run::new(3);
    let p = probe_of(&run.ps, &[0]);
    let tau = Duration::from_millis(300);
    let mut s = Scripted::new(Decision::Probe(p), Decision::Forward(PeerId(0)), Some(tau));
    let answered = [result(0, load(0))];

    let mut m = Invocation::new(job(0), None);
    run.start(&mut m, &mut s);
    let step = run.probed(&mut m, &mut s, &answered, Duration::from_millis(20));
    assert_eq!(step, Step::WaitUntil(tau));
    // Out-of-order inputs repeat the wait.
    assert_eq!(m.forwarded(ForwardOutcome::Done), Step::WaitUntil(tau));
    assert_eq!(run.waited(&mut m, &mut s), Step::Forward(PeerId(0)));

    // Probing took longer than Tau: decide at once.
    let mut m = Invocation::new(job(0), None);
    run.start(&mut m, &mut s);
    let step = run.probed(&mut m, &mut s, &answered, Duration::from_millis(400));
    assert_eq!(step, Step::Forward(PeerId(0)));

    // Never wait past the deadline.
    let mut m = Invocation::new(job(0), Some(Duration::from_millis(100)));
    run.start(&mut m, &mut s);
    let step = run.probed(&mut m, &mut s, &answered, Duration::from_millis(20));
    assert_eq!(step, Step::WaitUntil(Duration::from_millis(100)));
}

#[test]
fn power_of_n_through_the_machine() {
    let mut run = Run::new(3);
    let params: Vec<String> = ["2", "0", "true", "1"].map(String::from).to_vec();
    let mut s = PowerOfN::parse(&params, false).expect("valid");
    let mut m = Invocation::new(job(0), None);
    let Step::Probe(p) = run.start(&mut m, &mut s) else {
        panic!("PowerOfN probes at T = 0");
    };
    assert_eq!(p.peers().len(), 2);
    let failed: Vec<ProbeResult> = p.peers().iter().map(|id| result(id.0, None)).collect();
    let step = run.probed(&mut m, &mut s, &failed, Duration::ZERO);
    assert_eq!(step, Step::Done(End::RunLocal(Admission::NoQueue)));
    assert_eq!(m.outcome().and_then(|o| o.fallback), Some("probes_failed"));
}

/// One input to the machine.
#[derive(Debug, Clone)]
enum Input {
    Probed(Vec<(u32, bool)>, u64),
    Waited,
    Forwarded(u8),
    Cancelled(u8),
    Start,
}

const EXECUTED: [Executed; 3] = [Executed::No, Executed::Yes, Executed::Unknown];

#[test]
fn a_forward_without_an_answer_is_cancelled_and_runs_here_only_if_it_did_not_run_there() {
    let mut run = Run::new(3);
    let cases = [
        (
            ForwardOutcome::TimedOut,
            Executed::No,
            QUEUE,
            Some("peer_timeout"),
        ),
        (
            ForwardOutcome::Lost,
            Executed::No,
            QUEUE,
            Some("peer_failed"),
        ),
        (
            ForwardOutcome::TimedOut,
            Executed::Yes,
            Step::Done(End::Unanswered(Executed::Yes)),
            None,
        ),
        (
            ForwardOutcome::TimedOut,
            Executed::Unknown,
            Step::Done(End::Unanswered(Executed::Unknown)),
            None,
        ),
        (
            ForwardOutcome::Lost,
            Executed::Unknown,
            Step::Done(End::Unanswered(Executed::Unknown)),
            None,
        ),
    ];
    for (fed, answer, step, fallback) in cases {
        let mut s = Scripted::new(Decision::Forward(PeerId(2)), QUEUE_D, None);
        let mut m = Invocation::new(job(0), None);
        assert_eq!(run.start(&mut m, &mut s), Step::Forward(PeerId(2)));
        assert_eq!(m.forwarded(fed), Step::Cancel(PeerId(2)));
        assert_eq!(m.outcome(), None, "not over while cancelling");
        // Another forward outcome repeats the pending cancel.
        assert_eq!(m.forwarded(ForwardOutcome::Done), Step::Cancel(PeerId(2)));
        assert_eq!(m.cancelled(answer), step);
        let outcome = m.outcome().expect("ended");
        assert_eq!(outcome.fallback, fallback);
        assert_eq!(outcome.forward, Some((PeerId(2), fed)));
        // One answer only.
        assert_eq!(m.cancelled(Executed::No), step);
    }
    // A cancel answer without a pending cancel changes nothing.
    let mut s = Scripted::new(Decision::Forward(PeerId(2)), QUEUE_D, None);
    let mut m = Invocation::new(job(0), None);
    run.start(&mut m, &mut s);
    assert_eq!(m.cancelled(Executed::No), Step::Forward(PeerId(2)));
}

fn decision(kind: u8, peer: u32, probe: ProbeSet) -> Decision {
    match kind % 5 {
        0 => Decision::RunLocal(Admission::Queue),
        1 => Decision::Reject(RejectReason::Learner),
        2 => Decision::Probe(probe),
        _ => Decision::Forward(PeerId(peer)),
    }
}

proptest! {
    /// Whatever the scheduler decides and whatever the caller feeds back, in any order: the machine
    /// never forwards to a peer outside the view or one whose probe failed, forwards at most once, and
    /// once it returned a terminal step it returns that step forever (one outcome).
    #[test]
    fn one_outcome_and_only_eligible_forwards(
        first in (0u8..5, 0u32..6),
        second in (0u8..5, 0u32..6),
        tau in proptest::option::of(0u64..50),
        deadline in proptest::option::of(0u64..50),
        inputs in proptest::collection::vec(
            prop_oneof![
                proptest::collection::vec((0u32..6, any::<bool>()), 0..4)
                    .prop_flat_map(|r| (Just(r), 0u64..60))
                    .prop_map(|(r, t)| Input::Probed(r, t)),
                Just(Input::Waited),
                (0u8..5).prop_map(Input::Forwarded),
                (0u8..3).prop_map(Input::Cancelled),
                Just(Input::Start),
            ],
            0..8,
        ),
    ) {
        let mut run = Run::new(4);
        let probe = probe_of(&run.ps, &[1, 2, 3]);
        let mut s = Scripted::new(
            decision(first.0, first.1, probe),
            decision(second.0, second.1, probe),
            tau.map(Duration::from_millis),
        );
        let mut m = Invocation::new(job(0), deadline.map(Duration::from_millis));
        let mut failed: Vec<u32> = Vec::new();
        let mut terminal: Option<Step> = None;
        let mut forwards = 0;
        let mut step = run.start(&mut m, &mut s);
        for input in inputs {
            if let Some(t) = terminal {
                prop_assert_eq!(step, t);
                prop_assert_eq!(m.outcome().map(|o| Step::Done(o.end)), Some(t));
            } else if step.is_terminal() {
                terminal = Some(step);
            }
            if let Step::Forward(peer) = step {
                prop_assert!(peer.0 < 4, "forward outside the view: {peer:?}");
                prop_assert!(!failed.contains(&peer.0), "forward to a failed probe");
            }
            if let (Step::WaitUntil(at), Some(d)) = (step, deadline) {
                prop_assert!(at <= Duration::from_millis(d));
            }
            let before = step;
            step = match input {
                Input::Start => run.start(&mut m, &mut s),
                Input::Waited => run.waited(&mut m, &mut s),
                Input::Forwarded(o) => m.forwarded(
                    [ForwardOutcome::Done, ForwardOutcome::Refused, ForwardOutcome::Failed,
                     ForwardOutcome::TimedOut, ForwardOutcome::Lost][usize::from(o)],
                ),
                Input::Cancelled(e) => {
                    let e = EXECUTED[usize::from(e)];
                    let next = m.cancelled(e);
                    // At most once: a job that may have run on the peer never runs here too.
                    if matches!(before, Step::Cancel(_)) && e != Executed::No {
                        prop_assert_eq!(next, Step::Done(End::Unanswered(e)));
                    }
                    next
                }
                Input::Probed(results, now) => {
                    let results: Vec<ProbeResult> = results
                        .iter()
                        .map(|&(id, ok)| result(id, ok.then(|| load(0)).flatten()))
                        .collect();
                    if matches!(before, Step::Probe(_)) {
                        failed = probe
                            .peers()
                            .iter()
                            .filter(|p| !results.iter().any(|r| r.id == **p && r.load.is_some()))
                            .map(|p| p.0)
                            .collect();
                    }
                    run.probed(&mut m, &mut s, &results, Duration::from_millis(now))
                }
            };
            if matches!(step, Step::Forward(_)) && step != before {
                forwards += 1;
            }
        }
        prop_assert!(forwards <= 1);
        if let Some(t) = terminal {
            prop_assert_eq!(step, t);
        }
    }
}
