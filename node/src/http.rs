//! The HTTP/1.1 server: the accept loop (here), one task per connection (`http/conn.rs`), routing
//! (`http/route.rs`) to the handlers (`http/invoke.rs` for functions, `http/admin.rs` for the rest), and
//! `http/respond.rs`, the one place where errors become status codes. `http/codec.rs` is the sans-IO
//! HTTP/1.1 codec shared by server and clients. The dashboard: `http/ui.rs` (the page), `http/events.rs`
//! (its Server-Sent Events stream), `http/history.rs` (its last five minutes) and `http/relay.rs` (its
//! operator actions on peers).

pub mod access;
pub mod admin;
pub mod change;
pub mod client;
pub mod codec;
pub mod conn;
pub mod discovery;
pub mod events;
pub mod forward;
pub mod gossip;
pub mod history;
pub mod invoke;
pub mod job;
pub mod learner;
pub mod peer;
pub mod relay;
pub mod respond;
pub mod route;
pub mod ui;

use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crate::worker::Worker;

/// Accepts connections until shutdown, then waits (up to the grace period) for open connections to
/// finish their in-flight request.
pub async fn serve(listener: monoio::net::TcpListener, worker: Rc<Worker>, router: route::Router) {
    let shutdown = worker.node.shutdown.clone();
    loop {
        monoio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    worker.metrics.connections_accepted.fetch_add(1, Relaxed);
                    worker.connections.set(worker.connections.get() + 1);
                    let w = Rc::clone(&worker);
                    monoio::spawn(async move {
                        conn::serve(stream, peer, &w, router).await;
                        w.connections.set(w.connections.get().saturating_sub(1));
                        w.metrics.connections_closed.fetch_add(1, Relaxed);
                    });
                }
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    monoio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            () = shutdown.wait() => break,
        }
    }
    drop(listener);
    let deadline = Instant::now() + worker.node.config.http.shutdown_grace;
    while worker.connections.get() > 0 && Instant::now() < deadline {
        monoio::time::sleep(Duration::from_millis(5)).await;
    }
    if worker.connections.get() > 0 {
        tracing::warn!(
            worker = worker.index,
            open = worker.connections.get(),
            "grace period over; closing connections"
        );
    }
}

/// One parsed request as handlers see it.
pub struct Request<'a> {
    /// The parsed head; its spans index into `head_buf`.
    pub head: &'a codec::RequestHead,
    /// The bytes of the head.
    pub head_buf: &'a [u8],
    /// The decoded body.
    pub body: &'a [u8],
    /// The client's address.
    pub peer: std::net::SocketAddr,
    /// When the head was complete.
    pub arrived: Instant,
    /// When the response must be sent at the latest.
    pub deadline: Instant,
}

impl Request<'_> {
    /// The request method.
    pub fn method(&self) -> &str {
        self.head.method(self.head_buf)
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.head.path(self.head_buf)
    }

    /// The query string, without `?`.
    pub fn query(&self) -> Option<&str> {
        self.head.query(self.head_buf)
    }

    /// First value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.head.header(self.head_buf, name)
    }

    /// True when a header is present with a non-empty value (the original's override-header rule).
    pub fn has_flag_header(&self, name: &str) -> bool {
        self.header(name).is_some_and(|v| !v.is_empty())
    }
}
