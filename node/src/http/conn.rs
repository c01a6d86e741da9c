//! One task per connection: read a head, read its body, dispatch, write the response, repeat while the
//! connection is kept alive. Buffers are owned by the task and reused across requests (monoio passes
//! buffer ownership into each read and back). Limits and timeouts are enforced here: a head must arrive
//! within the idle timeout (nothing received yet) or the request timeout (partly received); malformed
//! input gets its 4xx and the connection is closed after a bounded drain so the client can read the reply.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use monoio::buf::{IoBufMut, SliceMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

use super::codec::{self, BodyDecoder, BodyKind, Limits, RequestHead};
use super::respond::{self, Response};
use super::route::{Route, Router};
use super::{Request, admin, discovery, events, gossip, history, invoke, learner, peer, relay, ui};
use crate::backend::Output;
use crate::error::Error;
use crate::registry::Function;
use crate::shutdown::Shutdown;
use crate::worker::Worker;

/// Size of each read; buffers grow in these steps up to the limits.
const READ_CHUNK: usize = 16 * 1024;
/// After an error reply, read and discard at most this much (or for this long) before closing, so the
/// reply is not destroyed by a TCP reset.
const LINGER_BYTES: usize = 256 * 1024;
const LINGER_TIME: Duration = Duration::from_millis(500);

enum ReadOutcome {
    Data,
    Closed,
    TimedOut,
    Shutdown,
    Failed,
}

/// Buffers reused across the requests of one connection.
struct Buffers {
    read: Vec<u8>,
    head: Vec<u8>,
    body: Vec<u8>,
    write: Vec<u8>,
    response: Response,
    output: Output,
}

/// Serves one connection until it closes, times out, errs or the node shuts down.
pub async fn serve(mut stream: TcpStream, peer: SocketAddr, w: &Rc<Worker>, router: Router) {
    let http = w.node.config.http;
    let limits = Limits {
        max_head_bytes: http.max_head_bytes,
        max_headers: codec::MAX_HEADERS,
        max_body_bytes: http.max_body_bytes,
    };
    let shutdown = &w.node.shutdown;
    // One waiter and one timer for the connection's life: waiting afresh on every read would register
    // (allocate) a new listener and a new timer per request.
    let stop = std::pin::pin!(shutdown.wait());
    let timer = std::pin::pin!(monoio::time::sleep_until(monoio::time::Instant::from_std(
        Instant::now() + http.idle_timeout
    )));
    let mut waits = Waits {
        timer,
        stop,
        shutdown,
        stop_waker: None,
    };
    let mut b = Buffers {
        read: Vec::with_capacity(READ_CHUNK),
        head: Vec::with_capacity(1024),
        body: Vec::new(),
        write: Vec::with_capacity(READ_CHUNK),
        response: Response::new(),
        output: Output::default(),
    };
    // Reused by every request of the connection (parsed in place).
    let mut head = RequestHead::default();
    loop {
        // --- head ---
        let idle_deadline = Instant::now() + http.idle_timeout;
        let mut started: Option<Instant> = None;
        loop {
            match codec::parse_request_into(&b.read, &limits, &mut head) {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => {
                    w.metrics
                        .http_malformed
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    fail(&mut stream, &mut b, &mut waits, &Error::Codec(e)).await;
                    return;
                }
            }
            let waiting_for_first_byte = b.read.is_empty();
            let deadline = if waiting_for_first_byte {
                idle_deadline
            } else {
                *started.get_or_insert_with(Instant::now) + http.request_timeout
            };
            match read_more(
                &mut stream,
                &mut b.read,
                &mut waits,
                deadline,
                waiting_for_first_byte,
            )
            .await
            {
                ReadOutcome::Data => {}
                ReadOutcome::TimedOut if !waiting_for_first_byte => {
                    fail(&mut stream, &mut b, &mut waits, &Error::RequestTimeout).await;
                    return;
                }
                _ => return,
            }
        }
        let arrived = Instant::now();
        let deadline = started.unwrap_or(arrived) + http.request_timeout;
        b.head.clear();
        b.head.extend_from_slice(&b.read[..head.head_len()]);
        // Bytes of `b.read` this request has used. The body is decoded from behind the head and both
        // leave the buffer at once: a body that came with its head is not moved to the front first.
        let mut used_here = head.head_len();

        // --- body ---
        b.body.clear();
        if head.expect_continue() && head.body() != BodyKind::Empty && b.read.len() == used_here {
            let (res, _buf) = stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n".as_slice())
                .await;
            if res.is_err() {
                return;
            }
        }
        // Routed and looked up once per request: the function's own body limit applies while the body
        // is read.
        let route = router(head.method(&b.head), head.path(&b.head));
        let target = invoked_function(w, &route);
        let body_limit = target
            .as_ref()
            .and_then(|f| f.config.max_body_bytes)
            .map_or(limits.max_body_bytes, |max| max.min(limits.max_body_bytes));
        let mut decoder = BodyDecoder::new(head.body(), body_limit);
        loop {
            match decoder.decode(&b.read[used_here..], &mut b.body) {
                Ok((used, done)) => {
                    used_here += used;
                    if done {
                        break;
                    }
                    // More to read: what is decoded makes room first.
                    b.read.drain(..used_here);
                    used_here = 0;
                }
                Err(e) => {
                    w.metrics
                        .http_malformed
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    fail(&mut stream, &mut b, &mut waits, &Error::Codec(e)).await;
                    return;
                }
            }
            match read_more(&mut stream, &mut b.read, &mut waits, deadline, false).await {
                ReadOutcome::Data => {}
                ReadOutcome::TimedOut => {
                    fail(&mut stream, &mut b, &mut waits, &Error::RequestTimeout).await;
                    return;
                }
                _ => return,
            }
        }

        b.read.drain(..used_here);

        // --- dispatch ---
        w.metrics
            .http_requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // The dashboard's event stream keeps the connection: it is the rest of this connection's life.
        if matches!(route, Ok(Route::Events)) {
            events::stream(&mut stream, w).await;
            let _ = stream.shutdown().await;
            return;
        }
        b.response.reset();
        let req = Request {
            head: &head,
            head_buf: &b.head,
            body: &b.body,
            peer,
            arrived,
            deadline,
        };
        handle(w, route, &req, target, &mut b.response, &mut b.output).await;

        // --- write ---
        let keep_alive = head.keep_alive() && !b.response.close && !shutdown.is_triggered();
        b.write.clear();
        b.response.serialize(&mut b.write, keep_alive);
        let (res, buf) = stream.write_all(std::mem::take(&mut b.write)).await;
        b.write = buf;
        if res.is_err() || !keep_alive {
            let _ = stream.shutdown().await;
            return;
        }
        // Large one-off bodies should not pin memory for the life of a keep-alive connection.
        if b.body.capacity() > 4 * READ_CHUNK {
            b.body = Vec::new();
        }
        if b.read.capacity() > 4 * READ_CHUNK && b.read.len() < READ_CHUNK {
            b.read.shrink_to(READ_CHUNK);
        }
    }
}

/// The function a request routed to `route` invokes, if it invokes one that exists.
fn invoked_function(w: &Worker, route: &Result<Route<'_>, Error>) -> Option<Arc<Function>> {
    match route {
        Ok(Route::Invoke { function, .. } | Route::PeerInvoke { function, .. }) => {
            w.function(function)
        }
        _ => None,
    }
}

/// Runs the handler of a request routed to `route`; any error becomes an error response. `target` is
/// the function `invoked_function` found for this request's route.
async fn handle(
    w: &Rc<Worker>,
    route: Result<Route<'_>, Error>,
    req: &Request<'_>,
    target: Option<Arc<Function>>,
    resp: &mut Response,
    out: &mut Output,
) {
    // A native peer's job keeps the refusal status it understands; everyone else gets `compat`'s.
    let mut reject_status = w.node.config.compat.reject_status;
    let result = match route {
        Ok(Route::Invoke { suffix, .. }) => match target {
            Some(function) => invoke::invoke(w, req, &function, suffix, resp, out).await,
            None => Err(Error::UnknownFunction),
        },
        Ok(Route::PeerInvoke { suffix, .. }) => {
            reject_status = respond::OVERLOADED;
            peer::handle(w, req, target, suffix, resp, out).await
        }
        Ok(Route::Learner(route)) => learner::handle(w, req, route, resp).await,
        Ok(Route::Discovery(route)) => discovery::handle(w, req, route, resp).await,
        Ok(Route::Gossip) => gossip::handle(w, req, resp),
        Ok(Route::Ui(asset)) => {
            ui::handle(asset, resp);
            Ok(())
        }
        Ok(Route::Snapshot) => {
            events::snapshot(w, resp);
            Ok(())
        }
        Ok(Route::ClusterFrame) => {
            events::cluster(w, resp).await;
            Ok(())
        }
        Ok(Route::History) => {
            history::own(w, resp);
            Ok(())
        }
        Ok(Route::ClusterHistory) => {
            history::cluster(w, resp).await;
            Ok(())
        }
        Ok(Route::Relay { node, path }) => relay::handle(w, req, node, path, resp).await,
        Ok(Route::PeerCancel) => peer::cancel(w, req, resp),
        Ok(other) => admin::handle(w, req, other, resp).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        respond::error(resp, &e, reject_status);
    }
}

/// Writes an error reply with `Connection: close`, then closes gracefully.
async fn fail(stream: &mut TcpStream, b: &mut Buffers, waits: &mut Waits<'_>, err: &Error) {
    b.response.reset();
    // Framing errors only: never a capacity reject.
    respond::error(&mut b.response, err, respond::OVERLOADED);
    b.write.clear();
    b.response.serialize(&mut b.write, false);
    let (res, buf) = stream.write_all(std::mem::take(&mut b.write)).await;
    b.write = buf;
    if res.is_err() {
        return;
    }
    let _ = stream.shutdown().await;
    // Drain what the client is still sending so the close is a FIN, not a reset that could discard the reply.
    let deadline = Instant::now() + LINGER_TIME;
    let mut drained = 0;
    b.read.clear();
    while drained < LINGER_BYTES {
        match read_more(stream, &mut b.read, waits, deadline, false).await {
            ReadOutcome::Data => {
                drained += b.read.len();
                b.read.clear();
            }
            _ => break,
        }
    }
}

/// What a connection's reads wait on besides the socket, kept for the connection's life.
struct Waits<'a> {
    /// Fires at or before the current read's deadline. It is moved only when a read's deadline is
    /// earlier than the timer's, or when it fires before the read's deadline: the idle deadline of
    /// each new request is later than the last one's, so most reads leave the timer wheel alone.
    timer: Pin<&'a mut monoio::time::Sleep>,
    /// The node's shutdown waiter ([`Shutdown::wait`]). Polled only to register this task's waker
    /// (once, unless the waker changes): whether the signal fired is read from
    /// [`Shutdown::is_triggered`], which does not touch the waiter's lock, shared with every other
    /// connection of every worker.
    stop: Pin<&'a mut dyn Future<Output = ()>>,
    shutdown: &'a Shutdown,
    /// The waker `stop` was last polled with.
    stop_waker: Option<Waker>,
}

impl Waits<'_> {
    /// Ready once the shutdown signal has fired; otherwise makes sure it will wake this task.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.shutdown.is_triggered() {
            return Poll::Ready(());
        }
        if !self
            .stop_waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            if self.stop.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
            self.stop_waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Ready once `deadline` has passed (as the runtime's timer sees it).
    fn poll_deadline(&mut self, deadline: monoio::time::Instant, cx: &mut Context<'_>) -> Poll<()> {
        if deadline < self.timer.deadline() {
            self.timer.as_mut().reset(deadline);
        }
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if self.timer.deadline() >= deadline {
                return Poll::Ready(());
            }
            // Fired at an earlier read's deadline: on to this one's.
            self.timer.as_mut().reset(deadline);
        }
    }
}

/// Reads more bytes onto the end of `buf`, until `deadline`, or (if `on_shutdown`) until the node
/// shuts down.
async fn read_more(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    waits: &mut Waits<'_>,
    deadline: Instant,
    on_shutdown: bool,
) -> ReadOutcome {
    if buf.capacity() - buf.len() < READ_CHUNK / 4 {
        buf.reserve(READ_CHUNK);
    }
    let len = buf.len();
    let slice: SliceMut<Vec<u8>> = std::mem::take(buf).slice_mut(len..);
    let mut read = std::pin::pin!(stream.read(slice));
    let deadline = monoio::time::Instant::from_std(deadline);
    // The read first: when it completes, neither the timer nor the shutdown waiter is looked at.
    let result = std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = read.as_mut().poll(cx) {
            return Poll::Ready(Ok(r));
        }
        if waits.poll_deadline(deadline, cx).is_ready() {
            return Poll::Ready(Err(ReadOutcome::TimedOut));
        }
        if on_shutdown && waits.poll_shutdown(cx).is_ready() {
            return Poll::Ready(Err(ReadOutcome::Shutdown));
        }
        Poll::Pending
    })
    .await;
    let (res, slice) = match result {
        Ok(r) => r,
        Err(outcome) => return outcome,
    };
    *buf = slice.into_inner();
    match res {
        Ok(0) => ReadOutcome::Closed,
        Ok(_) => ReadOutcome::Data,
        Err(_) => ReadOutcome::Failed,
    }
}
