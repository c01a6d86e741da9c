//! Membership over HTTP: `POST /peer/gossip` carries one SWIM message (signed with the cluster key when one
//! is set), and one worker drives the timers, sends what they produce and applies membership changes to the
//! peer table.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use p2pfaas_membership::{Load, Outgoing};

use super::Request;
use super::admin::require_signed;
use super::codec;
use super::forward;
use super::respond::Response;
use crate::backend::{Headers, Output};
use crate::config::parse_http_url;
use crate::error::Error;
use crate::http::client::ClientRequest;
use crate::peers::gossip::{self, Step};
use crate::worker::Worker;

/// How often the membership timers run.
const TICK: Duration = Duration::from_millis(100);
/// Longest wait for a gossip POST (a member that does not answer in time is the protocol's business).
const SEND_TIMEOUT: Duration = Duration::from_millis(500);

/// `POST /peer/gossip`.
pub fn handle(w: &Worker, req: &Request<'_>, resp: &mut Response) -> Result<(), Error> {
    require_signed(w, req)?;
    let gossip = w.node.gossip.get().ok_or(Error::NoRoute)?;
    gossip
        .handle(&req.peer.to_string(), req.body)
        .map_err(|e| Error::BadInput(format!("gossip message: {e}")))?;
    resp.status = 204;
    Ok(())
}

/// This node's load as gossip carries it.
fn local_load(w: &Worker) -> Load {
    let a = &w.node.admission;
    let to_u32 = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    let sample = w.node.load();
    #[allow(clippy::cast_possible_truncation, reason = "a 0..1 share")]
    let utilisation = if sample.cpus == 0 {
        f32::NAN
    } else {
        sample.utilisation as f32
    };
    Load {
        running: to_u32(a.running()),
        queued: to_u32(a.queued()),
        slots: to_u32(a.slots()),
        queue_len: to_u32(a.queue_len()),
        functions: w.functions().iter().map(|f| f.name().to_owned()).collect(),
        utilisation,
    }
}

/// Runs the membership on this worker until shutdown, then leaves the cluster.
pub async fn run(w: Rc<Worker>) {
    let Some(gossip) = w.node.gossip.get() else {
        return;
    };
    let mut versions = HashMap::new();
    let mut step = Step::default();
    loop {
        step.outgoing.clear();
        step.events.clear();
        gossip.step(local_load(&w), &mut step);
        gossip::apply(&w.node.peers, &step, &mut versions);
        for out in step.outgoing.drain(..) {
            let w = Rc::clone(&w);
            monoio::spawn(async move { send(&w, out).await });
        }
        monoio::select! {
            () = monoio::time::sleep(TICK) => {}
            () = w.node.shutdown.wait() => break,
        }
    }
    // A graceful goodbye lets the others drop this node at once instead of after a suspicion timeout.
    for out in gossip.leave() {
        let _ = monoio::time::timeout(SEND_TIMEOUT, send(&w, out)).await;
    }
}

/// POSTs one message; failures are left to the protocol (a missing ack is what SWIM measures).
async fn send(w: &Worker, out: Outgoing) {
    let Ok(target) = parse_http_url(&format!("http://{}", out.to)) else {
        return;
    };
    let signed = forward::sign(w, "/peer/gossip", &out.bytes);
    let mut extra: Vec<(&str, &[u8])> = Vec::new();
    forward::add_signature(&mut extra, signed.as_ref());
    let req = ClientRequest {
        method: "POST",
        target: "/peer/gossip",
        headers: Headers::default(),
        authorization: None,
        content_type: Some(b"application/octet-stream"),
        body: &out.bytes,
        extra: &extra,
    };
    let limits = codec::Limits {
        max_head_bytes: 16 * 1024,
        max_headers: codec::MAX_HEADERS,
        max_body_bytes: 64 * 1024,
    };
    let mut answer = Output::default();
    let _ = monoio::time::timeout(
        SEND_TIMEOUT,
        w.pool.send(&target, &req, &mut answer, &limits),
    )
    .await;
}
