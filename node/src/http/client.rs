//! The node's HTTP/1.1 client for functions behind HTTP (watchdogs, OpenFaaS gateways): one `Pool` per
//! worker thread holding keep-alive connections per authority, built on the sans-IO `http::codec` (no
//! hyper). It owns connection reuse, address resolution (cached, off the I/O thread), the connect
//! timeout and the one safe retry; it does not own the function timeout (the caller drops the future,
//! which drops the connection with it) nor any backend policy beyond which request headers are forwarded.
//!
//! A connection is taken out of the pool for the whole exchange, so a dropped future can never hand a
//! half-used connection back: only a fully read keep-alive response returns it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use monoio::buf::{IoBufMut, SliceMut};
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

use super::codec::{self, BodyDecoder, BodyKind, Limits};
use super::job::is_own;
use crate::backend::reply::{BackendError, Headers, Output};
use crate::config::HttpTarget;

#[cfg(test)]
mod tests;

/// An unreachable or stopped function must fail fast instead of eating its whole timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Idle connections kept per authority; more than this many concurrent calls open extra connections
/// that are closed after use (bounds fds and memory per worker).
const MAX_IDLE_PER_AUTHORITY: usize = 64;
/// Size of each read; buffers grow in these steps.
const READ_CHUNK: usize = 16 * 1024;
/// Buffers larger than this are not kept with an idle connection (one big response should not pin memory).
const MAX_KEPT_BUFFER: usize = 4 * READ_CHUNK;

/// One request to a function, borrowed from the invocation.
#[derive(Debug, Clone, Copy)]
pub struct ClientRequest<'a> {
    /// Method, sent as is (GET stays GET).
    pub method: &'a str,
    /// Request target, in parts: joined into the connection's own buffer, so no caller builds it.
    pub target: Target<'a>,
    /// The client's headers; [`forwarded`] decides which of them go out.
    pub headers: Headers<'a>,
    /// Our own `Authorization` value; when set, the client's `Authorization` is not forwarded.
    pub authorization: Option<&'a [u8]>,
    /// `Content-Type` of the body.
    pub content_type: Option<&'a [u8]>,
    /// Request body (sent with `Content-Length`).
    pub body: &'a [u8],
    /// Headers of our own (peer protocol, signatures); a client header with the same name is dropped.
    pub extra: &'a [(&'a str, &'a [u8])],
}

/// A request target as its parts: `base` + `name` + `path` (`/` when all three are empty) and `?query`.
/// A whole target (`"/monitoring/load"`) converts with `into()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Target<'a> {
    /// Base path of the function (or the whole target).
    pub base: &'a str,
    /// Function name, written right after `base`.
    pub name: &'a str,
    /// Path suffix (empty or starting with `/`).
    pub path: &'a str,
    /// Query string without `?`.
    pub query: Option<&'a str>,
}

impl<'a> From<&'a str> for Target<'a> {
    fn from(whole: &'a str) -> Self {
        Self {
            base: whole,
            ..Self::default()
        }
    }
}

impl Target<'_> {
    /// Writes the joined target into `out` (cleared first).
    pub fn write(&self, out: &mut Vec<u8>) {
        write_request_target(out, self.base, self.name, self.path, self.query);
    }
}

/// A keep-alive connection and the buffers that travel with it.
struct Conn {
    stream: TcpStream,
    read: Vec<u8>,
    write: Vec<u8>,
    /// The joined request target of the current call (reused, like the other two).
    target: Vec<u8>,
    /// The current response's head, parsed in place (boxed: the connection moves in and out of the
    /// pool, its head's ~1 KB of header spans need not move with it).
    head: Box<codec::ResponseHead>,
}

/// Per-worker keep-alive connections to HTTP functions (`!Send`: owned by one worker thread).
#[derive(Default)]
pub struct Pool {
    /// Idle connections by `host:port`, most recently used last.
    idle: RefCell<HashMap<String, Vec<Conn>, Authorities>>,
    /// Resolved addresses of host names by `host:port`; dropped when connecting to them fails.
    resolved: RefCell<HashMap<String, Vec<SocketAddr>>>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let idle: usize = self.idle.borrow().values().map(Vec::len).sum();
        f.debug_struct("Pool").field("idle", &idle).finish()
    }
}

/// How one exchange failed.
enum Failure {
    /// The peer closed or reset before sending any response byte: the request was never processed,
    /// so a pooled connection may be retried.
    Closed(String),
    /// Anything else after the connection was up (bad response, over limit, closed mid-response).
    Failed(String),
}

impl Pool {
    /// An empty pool (allocates nothing until the first call).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends `req` to `target` and reads the reply into `out` (status, content type, end-to-end headers,
    /// body). A pooled connection that turns out to be closed is retried once on a fresh connection.
    pub async fn send(
        &self,
        target: &HttpTarget,
        req: &ClientRequest<'_>,
        out: &mut Output,
        limits: &Limits,
    ) -> Result<(), BackendError> {
        // Only a connection from the pool may be retried: a fresh one failing is the function's fault.
        let (mut conn, mut reused) = match self.take_idle(&target.authority) {
            Some(conn) => (conn, true),
            None => (self.connect(target).await?, false),
        };
        loop {
            match exchange(&mut conn, target, req, out, limits).await {
                Ok(reusable) => {
                    if reusable {
                        self.put_idle(&target.authority, conn);
                    }
                    return Ok(());
                }
                Err(Failure::Closed(_)) if reused => {
                    conn = self.connect(target).await?;
                    reused = false;
                }
                Err(Failure::Closed(detail) | Failure::Failed(detail)) => {
                    return Err(BackendError::Failed(format!(
                        "{}: {detail}",
                        target.authority
                    )));
                }
            }
        }
    }

    fn take_idle(&self, authority: &str) -> Option<Conn> {
        self.idle.borrow_mut().get_mut(authority)?.pop()
    }

    fn put_idle(&self, authority: &str, mut conn: Conn) {
        if conn.read.capacity() > MAX_KEPT_BUFFER {
            conn.read = Vec::new();
        }
        if conn.write.capacity() > MAX_KEPT_BUFFER {
            conn.write = Vec::new();
        }
        if conn.target.capacity() > MAX_KEPT_BUFFER {
            conn.target = Vec::new();
        }
        let mut idle = self.idle.borrow_mut();
        let list = match idle.get_mut(authority) {
            Some(list) => list,
            None => idle.entry(authority.to_owned()).or_default(),
        };
        if list.len() < MAX_IDLE_PER_AUTHORITY {
            list.push(conn);
        }
    }

    /// Opens a fresh connection; every failure here means the function is unreachable.
    async fn connect(&self, target: &HttpTarget) -> Result<Conn, BackendError> {
        let addrs = self.resolve(target).await?;
        let mut last = String::from("no addresses");
        for addr in addrs {
            match monoio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect_addr(addr)).await {
                Ok(Ok(stream)) => {
                    // Requests are written in one piece; Nagle would only add latency.
                    let _ = stream.set_nodelay(true);
                    return Ok(Conn {
                        stream,
                        read: Vec::new(),
                        write: Vec::new(),
                        target: Vec::new(),
                        head: Box::default(),
                    });
                }
                Ok(Err(e)) => last = format!("connect {addr}: {e}"),
                Err(_) => last = format!("connect {addr}: timed out after {CONNECT_TIMEOUT:?}"),
            }
        }
        // The name may point elsewhere now; resolve again next time.
        self.resolved.borrow_mut().remove(&target.authority);
        Err(BackendError::Unreachable(format!(
            "{}: {last}",
            target.authority
        )))
    }

    /// Literal IPs directly; host names through the system resolver on the blocking pool, cached.
    async fn resolve(&self, target: &HttpTarget) -> Result<Vec<SocketAddr>, BackendError> {
        if let Ok(ip) = target.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, target.port)]);
        }
        if let Some(addrs) = self.resolved.borrow().get(&target.authority) {
            return Ok(addrs.clone());
        }
        let (host, port) = (target.host.clone(), target.port);
        let looked_up = monoio::spawn_blocking(move || {
            (host.as_str(), port).to_socket_addrs().map(Vec::from_iter)
        })
        .await;
        let addrs = match looked_up {
            Ok(Ok(addrs)) if !addrs.is_empty() => addrs,
            Ok(Ok(_)) => {
                return Err(BackendError::Unreachable(format!(
                    "{}: name resolves to no address",
                    target.authority
                )));
            }
            Ok(Err(e)) => {
                return Err(BackendError::Unreachable(format!(
                    "{}: cannot resolve: {e}",
                    target.authority
                )));
            }
            Err(_) => {
                return Err(BackendError::Unreachable(format!(
                    "{}: resolution was cancelled",
                    target.authority
                )));
            }
        };
        self.resolved
            .borrow_mut()
            .insert(target.authority.clone(), addrs.clone());
        Ok(addrs)
    }
}

/// Writes the request and reads one full response into `out`. Returns whether the connection can be
/// reused.
async fn exchange(
    conn: &mut Conn,
    target: &HttpTarget,
    req: &ClientRequest<'_>,
    out: &mut Output,
    limits: &Limits,
) -> Result<bool, Failure> {
    conn.write.clear();
    write_request(&mut conn.write, &mut conn.target, req, &target.authority)
        .map_err(|e| Failure::Failed(format!("cannot write request: {e}")))?;
    let (res, buf) = conn.stream.write_all(std::mem::take(&mut conn.write)).await;
    conn.write = buf;
    if let Err(e) = res {
        return Err(Failure::Closed(format!("write: {e}")));
    }

    // --- head (skipping 1xx interim responses) ---
    conn.read.clear();
    let is_head = req.method.eq_ignore_ascii_case("HEAD");
    let mut received_any = false;
    loop {
        match codec::parse_response_into(&conn.read, limits, is_head, &mut conn.head) {
            Ok(true) if (100..200).contains(&conn.head.status()) && conn.head.status() != 101 => {
                conn.read.drain(..conn.head.head_len());
                continue;
            }
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => return Err(Failure::Failed(format!("bad response head: {e}"))),
        }
        match read_more(conn).await {
            Ok(0) if !received_any => {
                return Err(Failure::Closed("closed before responding".into()));
            }
            Ok(0) => return Err(Failure::Failed("closed inside the response head".into())),
            Ok(_) => received_any = true,
            Err(e) if !received_any => return Err(Failure::Closed(format!("read: {e}"))),
            Err(e) => return Err(Failure::Failed(format!("read: {e}"))),
        }
    }
    let head = &*conn.head;
    if head.status() == 101 {
        return Err(Failure::Failed("unexpected protocol switch (101)".into()));
    }
    read_head(head, &conn.read, out);
    let (body, keep_alive) = (head.body(), head.keep_alive());
    conn.read.drain(..head.head_len());

    // --- body ---
    let mut decoder = BodyDecoder::new(body, limits.max_body_bytes);
    let body_error = |e: codec::Error| match e {
        codec::Error::BodyTooLarge => Failure::Failed(format!(
            "response body over {} bytes",
            limits.max_body_bytes
        )),
        e => Failure::Failed(format!("bad response body: {e}")),
    };
    loop {
        let (used, done) = decoder
            .decode(&conn.read, &mut out.body)
            .map_err(body_error)?;
        conn.read.drain(..used);
        if done {
            break;
        }
        match read_more(conn).await {
            Ok(0) => {
                decoder.finish_eof().map_err(body_error)?;
                break;
            }
            Ok(_) => {}
            Err(e) => return Err(Failure::Failed(format!("read body: {e}"))),
        }
    }
    // Bytes past the response mean the server is confused about framing; never reuse that connection.
    Ok(keep_alive && body != BodyKind::UntilClose && conn.read.is_empty())
}

/// Copies status, content type and end-to-end headers into `out`. A peer's answer is mostly
/// `X-P2pfaas-…` headers, none of them hop-by-hop: those skip that list.
fn read_head(head: &codec::ResponseHead, buf: &[u8], out: &mut Output) {
    out.status = head.status();
    // A `Connection` that lists only `keep-alive` (what servers send) nominates no header kept here
    // (`Keep-Alive` is hop-by-hop): it is read once, not once per header.
    let connection = head.header(buf, "connection").filter(|c| {
        c.split(|b| *b == b',').any(|item| {
            let item = item.trim_ascii();
            !item.is_empty() && !item.eq_ignore_ascii_case(b"keep-alive")
        })
    });
    for (name, value) in head.headers(buf) {
        if name.eq_ignore_ascii_case("content-type") {
            out.content_type.clear();
            out.content_type.extend_from_slice(value);
        } else if (is_own(name) || !codec::is_hop_by_hop(name))
            && connection.is_none_or(|c| !nominated(c, name))
        {
            out.headers.push(name, value);
        }
    }
}

/// Reads more bytes onto the end of the connection's read buffer; `Ok(0)` is EOF.
async fn read_more(conn: &mut Conn) -> std::io::Result<usize> {
    if conn.read.capacity() - conn.read.len() < READ_CHUNK / 4 {
        conn.read.reserve(READ_CHUNK);
    }
    let len = conn.read.len();
    let slice: SliceMut<Vec<u8>> = std::mem::take(&mut conn.read).slice_mut(len..);
    let (res, slice) = conn.stream.read(slice).await;
    conn.read = slice.into_inner();
    res
}

/// Whether a client request header is forwarded to the function: not hop-by-hop (including those the
/// client's `Connection` header nominates), not `Host`/`Content-Length` (we set them), not
/// `Content-Type` (sent from [`ClientRequest::content_type`]), not `Expect` (the node already answered
/// it), and not `Authorization` when we send our own.
pub fn forwarded(name: &str, connection: Option<&[u8]>, own_authorization: bool) -> bool {
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    !(codec::is_hop_by_hop(name)
        || is("host")
        || is("content-type")
        || is("expect")
        || (own_authorization && is("authorization"))
        || connection.is_some_and(|c| nominated(c, name)))
}

/// True when `name` is listed in a `Connection` header value (RFC 9110 §7.6.1: hop-by-hop too).
fn nominated(connection: &[u8], name: &str) -> bool {
    connection
        .split(|b| *b == b',')
        .any(|item| item.trim_ascii().eq_ignore_ascii_case(name.as_bytes()))
}

/// Hashes the pool's keys (`host:port` of the configured functions and of known peers) with FNV-1a:
/// std's SipHash costs a few hundred instructions per look-up, two per call, and guards against
/// flooding by chosen keys, which these are not.
#[derive(Debug, Clone, Copy)]
struct AuthorityHasher(u64);

impl Default for AuthorityHasher {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for AuthorityHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Authorities = BuildHasherDefault<AuthorityHasher>;

/// Writes the whole request (head and body) into `out`, joining the target in `target` first. Pure, so
/// it is unit-tested.
pub fn write_request(
    out: &mut Vec<u8>,
    target: &mut Vec<u8>,
    req: &ClientRequest<'_>,
    authority: &str,
) -> Result<(), codec::Error> {
    req.target.write(target);
    codec::write_request_line(out, req.method, target, authority)?;
    // One pass over the client's headers in the usual case; a `Connection` header, which may nominate
    // headers written before it, means writing them again knowing it.
    let headers_at = out.len();
    let connection = write_forwarded(out, req, None);
    if connection.is_some() {
        out.truncate(headers_at);
        write_forwarded(out, req, connection);
    }
    if let Some(ct) = req.content_type {
        codec::write_header(out, "content-type", ct)?;
    }
    if let Some(auth) = req.authorization {
        codec::write_header(out, "authorization", auth)?;
    }
    for (name, value) in req.extra {
        codec::write_header(out, name, value)?;
    }
    codec::finish_head(out, req.body.len(), true);
    out.extend_from_slice(req.body);
    Ok(())
}

/// Writes the client's headers that are [`forwarded`], given the `Connection` value; returns the value
/// of the first `Connection` header seen.
fn write_forwarded<'a>(
    out: &mut Vec<u8>,
    req: &ClientRequest<'a>,
    connection: Option<&[u8]>,
) -> Option<&'a [u8]> {
    let mut seen = None;
    for (name, value) in req.headers.iter() {
        if seen.is_none() && name.eq_ignore_ascii_case("connection") {
            seen = Some(value);
        }
        if forwarded(name, connection, req.authorization.is_some())
            && !req.extra.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            // Parsed headers are already valid; a rejected one is dropped rather than failing the call.
            let _ = codec::write_header(out, name, value);
        }
    }
    seen
}

/// Writes the request target `base` + `name` + `path` (`/` if all are empty) and `?query` into `out`
/// (cleared first), for callers that reuse a buffer.
pub fn write_request_target(
    out: &mut Vec<u8>,
    base: &str,
    name: &str,
    path: &str,
    query: Option<&str>,
) {
    out.clear();
    for part in [base, name, path] {
        out.extend_from_slice(part.as_bytes());
    }
    if out.is_empty() {
        out.push(b'/');
    }
    if let Some(q) = query {
        out.push(b'?');
        out.extend_from_slice(q.as_bytes());
    }
}
