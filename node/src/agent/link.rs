//! A worker's link to its external agent: the connection (binary or HTTP), the cell the answers
//! arrive in, and the learning scheduler states are computed with; it builds the worker's
//! [`Decider`] and feeds it transitions.

use std::cell::Cell;
use std::rc::Rc;

use super::{Decider, Fallback, Pick, Sink, client, codec, http};
use crate::scheduler::{Learning, LearningScheduler, Scheduler};

/// How a worker reaches its external agent.
enum Conn {
    Binary(Rc<client::Client>),
    Http(Rc<http::Learner>),
}

/// A worker's external agent: the connection, the cell its answers arrive in, and a copy of the
/// learning scheduler to compute states with before asking.
pub struct Link {
    conn: Conn,
    pick: Rc<Cell<Pick>>,
    timeout: std::time::Duration,
    fallback: crate::scheduler::Descriptor,
    /// The learning scheduler the worker's current descriptor builds (`None`: not learning, the
    /// agent is not asked).
    state: std::cell::RefCell<Option<LearningScheduler>>,
}

impl Sink for client::Client {
    fn transition(&self, l: &Learning, reward: f32) {
        let state = l.state();
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "the state's first value is the task type, a small integer"
        )]
        let task_type = state.first().map_or(0, |t| *t as u16);
        self.queue_transition(&codec::Transition {
            eid: l.eid,
            task_type,
            action: u16::try_from(l.action).unwrap_or(u16::MAX),
            reward,
            state,
        });
    }
}

impl Sink for http::Learner {
    fn transition(&self, l: &Learning, reward: f32) {
        self.queue_transition(l, reward);
    }
}

/// The learning scheduler `desc` stands for on a node with `ctx`, or `None` for another algorithm.
fn learning_of(
    desc: &crate::scheduler::Descriptor,
    ctx: &crate::scheduler::Context<'_>,
) -> Option<LearningScheduler> {
    match crate::scheduler::parse(desc, ctx.task_types).ok()? {
        crate::scheduler::Spec::Learning { task_types, double } => {
            let s = LearningScheduler::new(
                task_types,
                ctx.features,
                std::sync::Arc::clone(ctx.agent),
                ctx.speed,
            );
            Some(if double {
                s.with_acceptance(std::sync::Arc::clone(ctx.acceptance))
            } else {
                s
            })
        }
        _ => None,
    }
}

impl Link {
    /// The link of worker `worker` on `node`, when `learner.external` is set.
    pub fn from_node(node: &crate::node::Node, worker: usize) -> Option<Self> {
        let config = &node.config.learner;
        let external = config.external.as_ref()?;
        let worker_id = u16::try_from(worker).unwrap_or(u16::MAX);
        let actions = u16::try_from(node.agent.parameters().actions_n).unwrap_or(u16::MAX);
        let target = match external {
            crate::config::External::Http(target) => {
                let learner = http::Learner::new(target.clone(), actions, worker_id);
                return Some(Self::with_conn(node, Conn::Http(learner)));
            }
            crate::config::External::Unix(p) => client::Target::Unix(p.clone()),
            crate::config::External::Tcp(a) => client::Target::Tcp(*a),
        };
        let metrics = node.metrics.get(worker).cloned()?;
        let (_, desc) = node.scheduler();
        let ctx = node.scheduler_context();
        // The hello's dimension: the configured learning scheduler's state, else the node's.
        let task_types = match crate::scheduler::parse(&desc, ctx.task_types) {
            Ok(crate::scheduler::Spec::Learning { task_types, .. }) => task_types,
            _ => ctx.task_types,
        };
        let dims = crate::learning::dims_for(task_types, ctx.features.len());
        let shape = client::Shape {
            dims: u16::try_from(dims).unwrap_or(u16::MAX),
            actions,
            worker: worker_id,
            node: node.peers.own().id.clone(),
        };
        let conn = Conn::Binary(client::Client::new(target, shape, metrics));
        Some(Self::with_conn(node, conn))
    }

    fn with_conn(node: &crate::node::Node, conn: Conn) -> Self {
        let config = &node.config.learner;
        let k = node.admission.slots();
        let fallback =
            config
                .external_fallback
                .clone()
                .unwrap_or_else(|| crate::scheduler::Descriptor {
                    name: "PowerOfNScheduler".into(),
                    parameters: vec![
                        "1".into(),
                        k.saturating_sub(1).to_string(),
                        "false".into(),
                        "1".into(),
                    ],
                });
        Self {
            conn,
            pick: Rc::new(Cell::new(Pick::None)),
            timeout: config.external_timeout,
            fallback,
            state: std::cell::RefCell::new(None),
        }
    }

    /// The background task that keeps the connection up (binary) or posts transitions (HTTP).
    pub fn task(
        &self,
        node: std::sync::Arc<crate::node::Node>,
        worker: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
        match &self.conn {
            Conn::Binary(c) => Box::pin(Rc::clone(c).run(node)),
            Conn::Http(l) => Box::pin(Rc::clone(l).run(node, worker)),
        }
    }

    /// The scheduler `desc` builds on this worker: the [`Decider`] for a learning descriptor, else
    /// what [`crate::scheduler::build`] builds.
    pub fn build(
        &self,
        desc: &crate::scheduler::Descriptor,
        ctx: &crate::scheduler::Context<'_>,
    ) -> Result<Box<dyn Scheduler>, crate::scheduler::DescriptorError> {
        let Some(learning) = learning_of(desc, ctx) else {
            *self.state.borrow_mut() = None;
            return crate::scheduler::build(desc, ctx);
        };
        // The agent learns the new state dimension before the first state of this scheduler.
        if let Conn::Binary(c) = &self.conn {
            c.reshape(learning.dims());
        }
        *self.state.borrow_mut() = learning_of(desc, ctx);
        let fallback = crate::scheduler::build(&self.fallback, ctx)
            .unwrap_or_else(|_| Box::new(crate::scheduler::NoScheduler::new(false)));
        let sink: Rc<dyn Sink> = match &self.conn {
            Conn::Binary(c) => Rc::clone(c) as Rc<dyn Sink>,
            Conn::Http(l) => Rc::clone(l) as Rc<dyn Sink>,
        };
        Ok(Box::new(Decider::new(
            learning,
            fallback,
            Rc::clone(&self.pick),
            sink,
        )))
    }

    /// Runs `f` with the copy of the learning scheduler that states are computed with (`None` when
    /// the current scheduler is not learning: the agent is not asked).
    pub fn with_learning<R>(&self, f: impl FnOnce(Option<&mut LearningScheduler>) -> R) -> R {
        f(self.state.borrow_mut().as_mut())
    }

    /// Asks the agent about `state` (of a job of `task_type`) and leaves the answer for the
    /// [`Decider`]; returns it.
    pub async fn ask(&self, task_type: usize, state: &[f32]) -> Pick {
        let answer = match &self.conn {
            Conn::Binary(c) => {
                if c.dims() != state.len() {
                    Err(Fallback::Shape)
                } else {
                    c.decide(
                        u16::try_from(task_type).unwrap_or(u16::MAX),
                        state,
                        self.timeout,
                    )
                    .await
                    .map(|(eid, action)| (eid, action, 0.0))
                }
            }
            Conn::Http(l) => l.act(state, self.timeout).await,
        };
        let pick = match answer {
            Ok((eid, action, epsilon)) => Pick::Action {
                eid,
                action,
                epsilon,
            },
            Err(reason) => Pick::Fallback(reason),
        };
        self.pick.set(pick);
        pick
    }

    /// Forgets an answer no decider took (the job was decided by another scheduler).
    pub fn clear(&self) {
        self.pick.set(Pick::None);
    }
}
