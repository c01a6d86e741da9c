//! Membership over HTTP: `POST /peer/gossip` carries one SWIM message (signed with the cluster key when one
//! is set), and one worker drives the timers, sends what they produce and applies membership changes to the
//! peer table.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use p2pfaas_membership::Outgoing;

use super::Request;
use super::access::require_signed;
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

/// The CPU utilisation gossip publishes. Every change of the published load goes to the whole cluster,
/// so the 100 ms samples are smoothed (time constant ≈ 0.5 s) and a new value is published only when
/// it moved by at least 0.15 (then rounded to tenths).
#[derive(Debug)]
struct Utilisation {
    smoothed: Option<f64>,
    published: f32,
}

impl Utilisation {
    fn update(&mut self, sample: &crate::load::LoadSample) -> f32 {
        if sample.cpus == 0 {
            return self.published;
        }
        let s = self
            .smoothed
            .map_or(sample.utilisation, |s| 0.8 * s + 0.2 * sample.utilisation);
        self.smoothed = Some(s);
        #[allow(clippy::cast_possible_truncation, reason = "a 0..1 share")]
        let s32 = s as f32;
        if self.published.is_nan() || (s32 - self.published).abs() >= 0.15 {
            self.published = (s32 * 10.0).round() / 10.0;
        }
        self.published
    }
}

/// Runs the membership on this worker until shutdown, then leaves the cluster.
pub async fn run(w: Rc<Worker>) {
    let Some(gossip) = w.node.gossip.get() else {
        return;
    };
    let mut versions = HashMap::new();
    let mut step = Step::default();
    let mut utilisation = Utilisation {
        smoothed: None,
        published: f32::NAN,
    };
    loop {
        step.outgoing.clear();
        step.events.clear();
        let load = crate::node::local_load(&w.node, utilisation.update(&w.node.load()));
        gossip.step(load, &mut step);
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
    w.metrics
        .gossip_sent
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    w.metrics.gossip_bytes.fetch_add(
        u64::try_from(out.bytes.len()).unwrap_or(u64::MAX),
        std::sync::atomic::Ordering::Relaxed,
    );
    let signed = forward::sign(w, "/peer/gossip", &out.bytes);
    let mut extra: Vec<(&str, &[u8])> = Vec::new();
    forward::add_signature(&mut extra, signed.as_ref());
    let req = ClientRequest {
        method: "POST",
        target: "/peer/gossip".into(),
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
    let started = std::time::Instant::now();
    let sent = monoio::time::timeout(
        SEND_TIMEOUT,
        w.pool.send(&target, &req, &mut answer, &limits),
    )
    .await;
    if let Ok(Ok(())) = sent {
        // The original's `ping`: the round trip of the last exchange with the member.
        w.node.peers.report_rtt_at(&out.to, started.elapsed());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::LoadSample;

    #[test]
    fn published_utilisation_ignores_jitter() {
        let mut u = Utilisation {
            smoothed: None,
            published: f32::NAN,
        };
        let at = |v| LoadSample {
            utilisation: v,
            cpus: 2,
            ..LoadSample::EMPTY
        };
        assert_eq!(u.update(&at(0.0)), 0.0);
        // Samples jumping between 0 and 0.2 move the smoothed value by less than 0.15.
        for i in 0..50 {
            assert_eq!(u.update(&at(if i % 2 == 0 { 0.2 } else { 0.0 })), 0.0);
        }
        // A sustained change is published within a few samples, rounded to tenths.
        let mut steps = 0;
        while u.update(&at(0.9)) == 0.0 {
            steps += 1;
        }
        assert!(steps < 5, "{steps}");
        assert_eq!(
            u.update(&LoadSample::EMPTY),
            u.published,
            "no sample yet: unchanged"
        );
    }
}
