//! Who may call a route: signed calls when the node has a cluster key (peer, gossip and admin
//! routes), and loopback callers for admin routes until one exists. It decides only; the handlers
//! call it before doing anything, and `respond` turns its refusal into the status.

use super::Request;
use crate::error::Error;
use crate::worker::Worker;

/// Without a cluster key only loopback callers may change the node.
pub(super) fn require_admin(w: &Worker, req: &Request<'_>) -> Result<(), Error> {
    if w.node.auth.enabled() {
        return require_signed(w, req);
    }
    let ip = req.peer.ip();
    let loopback = match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    };
    if loopback {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// With a cluster key, the call must carry a valid signature (peer, gossip and admin routes); without
/// one, everything passes here.
pub(super) fn require_signed(w: &Worker, req: &Request<'_>) -> Result<(), Error> {
    let target = match req.query() {
        Some(q) => format!("{}?{q}", req.path()),
        None => req.path().to_owned(),
    };
    w.node
        .auth
        .verify(
            req.method(),
            &target,
            req.body,
            std::time::SystemTime::now(),
            |name| req.header(name),
        )
        .map_err(Error::Unauthorized)
}
