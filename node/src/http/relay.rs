//! `POST /cluster/<node>/<admin path>`: the dashboard's operator actions on a peer, relayed by the node
//! that serves the page (the browser talks to that one origin only; see `http/events.rs`).
//!
//! Only three admin routes can be relayed (`/configuration`, `/configuration/scheduler`,
//! `/learner/reset`), and only to a member of this node's peer table, never to an arbitrary address.
//! The relay adds no authority of its own:
//! - with a cluster key, the browser signs the call for the *peer's* path; this node checks that
//!   signature first (so it is no open proxy), then passes the three signature headers on unchanged and
//!   the peer checks them again against its own replay memory;
//! - without a key, the caller must be on loopback here (the admin rule), and the peer applies the same
//!   rule to this node's address — so across hosts, a keyless cluster refuses remote changes, as it
//!   should.

use std::time::{Duration, SystemTime};

use super::Request;
use super::access::require_admin;
use super::client::ClientRequest;
use super::codec;
use super::respond::Response;
use crate::auth::header;
use crate::backend::{Headers, Output};
use crate::error::Error;
use crate::worker::Worker;

/// The admin paths the dashboard may relay.
pub const PATHS: [&str; 3] = [
    "/configuration",
    "/configuration/scheduler",
    "/learner/reset",
];
/// The peer's own admin change runs on its blocking pool; give it this long.
const RELAY_TIMEOUT: Duration = Duration::from_secs(10);

/// Relays `req` to the member named `node` (machine id or address) at `path`, one of [`PATHS`].
pub async fn handle(
    w: &Worker,
    req: &Request<'_>,
    node: &str,
    path: &'static str,
    resp: &mut Response,
) -> Result<(), Error> {
    if w.node.auth.enabled() {
        w.node
            .auth
            .verify(req.method(), path, req.body, SystemTime::now(), |name| {
                req.header(name)
            })
            .map_err(Error::Unauthorized)?;
    } else {
        require_admin(w, req)?;
    }
    let peers = w.peers();
    let peer = peers
        .peers()
        .iter()
        .find(|p| {
            !p.alias && !p.is_removed() && (p.addr == node || p.machine_id.as_deref() == Some(node))
        })
        .ok_or_else(|| Error::BadInput(format!("node: {node:?} is not a known member")))?;
    let mut extra: Vec<(&str, &[u8])> = Vec::with_capacity(3);
    for name in [header::TIMESTAMP, header::NONCE, header::SIGNATURE] {
        if let Some(v) = req.header(name) {
            extra.push((name, v));
        }
    }
    let call = ClientRequest {
        method: "POST",
        target: path.into(),
        headers: Headers::default(),
        authorization: None,
        content_type: Some(b"application/json"),
        body: req.body,
        extra: &extra,
    };
    let limits = codec::Limits {
        max_head_bytes: 16 * 1024,
        max_headers: codec::MAX_HEADERS,
        max_body_bytes: 1024 * 1024,
    };
    let mut out = Output::default();
    let limit = RELAY_TIMEOUT.min(
        req.deadline
            .saturating_duration_since(std::time::Instant::now()),
    );
    match monoio::time::timeout(limit, w.pool.send(&peer.target, &call, &mut out, &limits)).await {
        Ok(Ok(())) => {}
        Ok(Err(
            crate::backend::BackendError::Unreachable(detail)
            | crate::backend::BackendError::Failed(detail),
        )) => return Err(Error::PeerFailed(format!("{}: {detail}", peer.addr))),
        Ok(Err(crate::backend::BackendError::Timeout)) => {
            return Err(Error::PeerFailed(format!("{}: timed out", peer.addr)));
        }
        Err(_) => {
            return Err(Error::PeerFailed(format!(
                "{} did not answer within {limit:?}",
                peer.addr
            )));
        }
    }
    // The peer's answer as it is: its status (200, 400 naming the field, 401, 403) and its JSON body.
    resp.status = out.status;
    if !out.content_type.is_empty() {
        resp.header("Content-Type", &out.content_type);
    }
    for name in ["X-P2pfaas-Auth-Error", "WWW-Authenticate"] {
        if let Some(v) = out.header(name) {
            resp.header(name, v);
        }
    }
    resp.body.extend_from_slice(&out.body);
    Ok(())
}
