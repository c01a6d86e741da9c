//! The decider: the agent's action, the fallback, and where transitions go.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::*;
use crate::learning::{Agent, Parameters, dims_for};
use crate::scheduler::{Admission, PowerOfN, RejectReason};

#[derive(Default)]
struct Recorder(RefCell<Vec<(u64, u32, f32)>>);

impl Sink for Recorder {
    fn transition(&self, l: &Learning, reward: f32) {
        self.0.borrow_mut().push((l.eid, l.action, reward));
    }
}

fn job() -> JobMeta {
    JobMeta {
        task_type: 0,
        external: false,
        hops: 0,
        deadline: None,
    }
}

fn decider(pick: &Rc<Cell<Pick>>, sink: &Rc<Recorder>) -> Decider {
    let agent = Arc::new(Agent::new(dims_for(1, 0), Parameters::default()).expect("valid"));
    let fallback = PowerOfN::parse(&["1".into(), "0".into(), "false".into(), "1".into()], false)
        .expect("valid");
    Decider::new(
        LearningScheduler::new(1, &[], agent, 1.0),
        Box::new(fallback),
        Rc::clone(pick),
        Rc::clone(sink) as Rc<dyn Sink>,
    )
}

#[test]
fn agent_action_is_the_decision_and_its_reward_goes_back_to_the_agent() {
    let pick = Rc::new(Cell::new(Pick::None));
    let sink = Rc::new(Recorder::default());
    let mut d = decider(&pick, &sink);
    assert_eq!(d.full_name(), "LearningScheduler(1)");
    let mut rng = SmallRng::seed_from_u64(1);
    pick.set(Pick::Action {
        eid: 42,
        action: 0,
        epsilon: 0.25,
    });
    let mut note = Note::default();
    let decision = d.decide(&job(), &NodeView::default(), &mut rng, &mut note);
    assert_eq!(decision, Decision::Reject(RejectReason::Learner));
    let l = note.learning.expect("a learned decision");
    assert_eq!((l.eid, l.action, l.epsilon), (42, 0, 0.25));
    assert_eq!(pick.get(), Pick::None, "an answer is used once");
    d.observe(&l, 0.25);
    assert_eq!(*sink.0.borrow(), vec![(42, 0, 0.25)]);
}

#[test]
fn fallback_decides_and_says_why() {
    let pick = Rc::new(Cell::new(Pick::Fallback(Fallback::Timeout)));
    let sink = Rc::new(Recorder::default());
    let mut d = decider(&pick, &sink);
    let mut note = Note::default();
    let decision = d.decide(
        &job(),
        &NodeView::default(),
        &mut SmallRng::seed_from_u64(1),
        &mut note,
    );
    // PowerOfN with no peers runs the job here.
    assert_eq!(decision, Decision::RunLocal(Admission::Queue));
    assert!(
        note.learning.is_none(),
        "the fallback is not a learned decision"
    );
    assert_eq!(note.fallback, Some("agent_timeout"));
    let mut note = Note::default();
    pick.set(Pick::Fallback(Fallback::Disconnected));
    let view = NodeView {
        running: 3,
        slots: 4,
        ..NodeView::default()
    };
    let _ = d.decide(&job(), &view, &mut SmallRng::seed_from_u64(1), &mut note);
    assert_eq!(note.fallback, Some("agent_disconnected"));
}
