//! Who may call a route: signed calls when the node has a cluster key (peer, gossip and admin
//! routes), and loopback callers for admin routes until one exists. It decides only; the handlers
//! call it before doing anything, and `respond` turns its refusal into the status.

use super::Request;
use crate::error::Error;
use crate::worker::Worker;

/// Without a cluster key only loopback callers may change the node, and not through a web page of another
/// origin: a browser on this host would otherwise let any site it visits post to loopback (CSRF). Tools
/// (curl, the original's scripts) send no `Origin`; the dashboard served here sends its own.
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
    if !loopback {
        return Err(Error::Forbidden);
    }
    match req.header("origin") {
        Some(origin) if !same_origin(origin, req.header("host")) => Err(Error::CrossOrigin),
        _ => Ok(()),
    }
}

/// Whether an `Origin` (`scheme://host[:port]`) names the authority the request was sent to (`Host`).
fn same_origin(origin: &[u8], host: Option<&[u8]>) -> bool {
    let authority = origin
        .strip_prefix(b"http://")
        .or_else(|| origin.strip_prefix(b"https://"));
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

/// With a cluster key, the call must carry a valid signature (peer, gossip and admin routes); without
/// one, everything passes here.
pub(super) fn require_signed(w: &Worker, req: &Request<'_>) -> Result<(), Error> {
    // Every peer job passes here: without a key, skip building the target and reading the clock.
    if !w.node.auth.enabled() {
        return Ok(());
    }
    let mut target = w.scratch();
    crate::http::client::write_request_target(&mut target, req.path(), "", "", req.query());
    w.node
        .auth
        .verify(
            req.method(),
            // Built from `&str` pieces only.
            std::str::from_utf8(&target).unwrap_or_default(),
            req.body,
            std::time::SystemTime::now(),
            |name| req.header(name),
        )
        .map_err(Error::Unauthorized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_must_name_the_host_it_was_sent_to() {
        let host = Some(&b"127.0.0.1:18080"[..]);
        assert!(same_origin(b"http://127.0.0.1:18080", host));
        assert!(same_origin(
            b"HTTP://127.0.0.1:18080".to_ascii_lowercase().as_slice(),
            host
        ));
        assert!(same_origin(b"https://LOCALHOST:1", Some(b"localhost:1")));
        assert!(
            !same_origin(b"http://127.0.0.1:18081", host),
            "another port"
        );
        assert!(!same_origin(b"http://evil.example", host));
        assert!(!same_origin(b"null", host), "sandboxed or file:// pages");
        assert!(!same_origin(b"http://127.0.0.1:18080", None));
    }
}
