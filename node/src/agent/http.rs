//! The original learner service as the external agent (`learner.external = "http://host:19020"`):
//! each decision is one `GET /act` carrying the state in `X-P2pfaas-Learning-State` (the body is
//! the action), and transitions go in batches to `POST /train_batch` as the original's JSON list
//! (contract §2). The original's Python learner works unchanged. This path pays an HTTP exchange and
//! its allocations per decision, as the original did; the binary protocol ([`super::client`]) is the
//! fast one.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use super::Fallback;
use crate::backend::{Headers, Output};
use crate::config::HttpTarget;
use crate::http::client::{ClientRequest, Pool};
use crate::http::codec::Limits;
use crate::http::learner;
use crate::node::Node;
use crate::scheduler::Learning;

/// How long a transition waits for its batch.
const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// How long a `/train_batch` may take.
const POST_TIMEOUT: Duration = Duration::from_secs(2);
/// Transitions kept while the learner is unreachable; beyond it they are dropped (and counted).
const MAX_PENDING: usize = 4096;

/// One worker's view of the HTTP learner.
pub struct Learner {
    target: HttpTarget,
    actions: u16,
    next_eid: Cell<u64>,
    /// `/train_batch` entries not yet sent (JSON objects, comma-separated).
    pending: RefCell<String>,
    pending_count: Cell<usize>,
    pool: Pool,
}

fn limits() -> Limits {
    Limits {
        max_head_bytes: 16 * 1024,
        max_headers: 64,
        max_body_bytes: 64 * 1024,
    }
}

/// `v1,v2,…` with the original's `%.4f`.
fn state_header(state: &[f32]) -> String {
    let mut s = String::with_capacity(state.len() * 8);
    for (i, v) in state.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{v:.4}");
    }
    s
}

impl Learner {
    /// A learner at `target` answering `actions` actions, for worker `worker`.
    pub fn new(target: HttpTarget, actions: u16, worker: u16) -> Rc<Self> {
        Rc::new(Self {
            target,
            actions,
            next_eid: Cell::new(u64::from(worker) << 48 | 1),
            pending: RefCell::new(String::new()),
            pending_count: Cell::new(0),
            pool: Pool::new(),
        })
    }

    /// `GET /act` for `state`, waiting at most `timeout`: the eid given to the decision, the action
    /// and the learner's ε (its `X-P2pfaas-Eps`; 0 when it sends none or no number in [0, 1]).
    pub async fn act(&self, state: &[f32], timeout: Duration) -> Result<(u64, u16, f32), Fallback> {
        let header = state_header(state);
        let extra = [(learner::header::STATE, header.as_bytes())];
        let out = self.send("GET", "/act", None, &[], &extra, timeout).await?;
        // The original answers the action as text, `3` (or a float such as `3.0`).
        let action = std::str::from_utf8(&out.body)
            .ok()
            .and_then(|t| t.trim().parse::<f64>().ok())
            .filter(|a| out.status == 200 && a.fract() == 0.0 && *a >= 0.0)
            .and_then(|a| {
                #[allow(clippy::cast_possible_truncation, reason = "checked integral, ≥ 0")]
                u16::try_from(a as u64).ok()
            })
            .filter(|a| *a < self.actions)
            .ok_or(Fallback::BadAnswer)?;
        // ε only labels the decision (learning headers): a bad one does not make the action unusable.
        let epsilon = out
            .header(learner::header::EPS)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|t| t.trim().parse::<f32>().ok())
            .filter(|e| (0.0..=1.0).contains(e))
            .unwrap_or(0.0);
        let eid = self.next_eid.get();
        self.next_eid.set(eid.wrapping_add(1));
        Ok((eid, action, epsilon))
    }

    /// One exchange with the learner at `path` (under its base path), within `timeout`.
    async fn send(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&[u8]>,
        body: &[u8],
        extra: &[(&str, &[u8])],
        timeout: Duration,
    ) -> Result<Output, Fallback> {
        let target = format!("{}{path}", self.target.base_path);
        let req = ClientRequest {
            method,
            target: target.as_str().into(),
            headers: Headers::default(),
            authorization: None,
            content_type,
            body,
            extra,
        };
        let mut out = Output::default();
        let limits = limits();
        let sent = self.pool.send(&self.target, &req, &mut out, &limits);
        match monoio::time::timeout(timeout, sent).await {
            Err(_) => Err(Fallback::Timeout),
            Ok(Err(_)) => Err(Fallback::Disconnected),
            Ok(Ok(())) => Ok(out),
        }
    }

    /// Queues a finished decision for the next `/train_batch`.
    pub fn queue_transition(&self, l: &Learning, reward: f32) {
        if self.pending_count.get() >= MAX_PENDING {
            return;
        }
        let mut p = self.pending.borrow_mut();
        if !p.is_empty() {
            p.push(',');
        }
        let _ = write!(
            p,
            r#"{{"eid":{},"state":"{}","action":{},"reward":{}}}"#,
            l.eid,
            state_header(l.state()),
            l.action,
            if reward.is_finite() { reward } else { 0.0 }
        );
        self.pending_count.set(self.pending_count.get() + 1);
    }

    /// Posts the queued transitions; on failure they are dropped and counted (the learner may be
    /// down for long, and the node must not hoard them).
    async fn flush(&self, node: &Node, worker: usize) {
        let count = self.pending_count.replace(0);
        if count == 0 {
            return;
        }
        let body = format!("[{}]", std::mem::take(&mut *self.pending.borrow_mut()));
        let json = Some(&b"application/json"[..]);
        let sent = self
            .send(
                "POST",
                "/train_batch",
                json,
                body.as_bytes(),
                &[],
                POST_TIMEOUT,
            )
            .await;
        let Some(m) = node.metrics.get(worker) else {
            return;
        };
        let counter = if sent.is_ok_and(|out| out.status == 200) {
            &m.agent_transitions
        } else {
            &m.agent_transitions_dropped
        };
        counter.fetch_add(count as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// Sends the queued transitions every 50 ms until shutdown.
    pub async fn run(self: Rc<Self>, node: Arc<Node>, worker: usize) {
        loop {
            monoio::select! {
                () = monoio::time::sleep(FLUSH_EVERY) => {}
                () = node.shutdown.wait() => break,
            }
            self.flush(&node, worker).await;
        }
        self.flush(&node, worker).await;
    }
}
