//! What the allocation tests share: an in-process node, served on this thread's monoio runtime, and a
//! keep-alive client that allocates nothing per call itself.

use std::sync::Arc;

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{TcpListener, TcpStream};
use p2pfaas_node::config::{Config, Raw};
use p2pfaas_node::node::Node;
use p2pfaas_node::worker::Worker;

/// A one-worker node named `name` (data under `dir`) with a small queue and the `[functions.*]`
/// tables in `functions`.
pub fn node(name: &str, dir: &std::path::Path, functions: &str) -> Arc<Node> {
    let toml = format!(
        r#"
[node]
data_dir = "{}"
workers = 1
[queue]
slots = 4
queue_len = 4
[discovery]
machine_id = "{name}"
{functions}
"#,
        dir.join(name).display()
    );
    let raw = Raw::from_toml(&toml).expect("valid toml");
    Arc::new(Node::new(Config::from_raw(raw).expect("valid config")).expect("node"))
}

/// The runtime the allocation tests serve and call on: monoio's epoll driver, with timers.
pub fn runtime() -> monoio::Runtime<monoio::time::TimeDriver<monoio::LegacyDriver>> {
    monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .expect("runtime")
}

/// Serves `node` on a loopback port on the current runtime (with its external agent's connection
/// task when `learner.external` is set); returns the address.
pub async fn serve(node: &Arc<Node>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    node.set_bound(addr);
    let worker = Worker::new(0, Arc::clone(node));
    if let Some(task) = worker.agent_task() {
        monoio::spawn(task);
    }
    monoio::spawn(p2pfaas_node::http::serve(
        listener,
        worker,
        p2pfaas_node::http::route::route,
    ));
    addr
}

/// One keep-alive client with reused buffers: it allocates nothing per call itself.
pub struct Client {
    stream: TcpStream,
    request: Option<Vec<u8>>,
    buf: Option<Vec<u8>>,
}

/// One response as the tests look at it.
pub struct Answer {
    /// Its status.
    pub status: u16,
    /// Whether it says the job ran on a peer.
    pub forwarded: bool,
    /// Length of its body.
    pub body_len: usize,
}

impl Client {
    /// A client of `addr` that sends `request` (a whole HTTP/1.1 request) on every call.
    pub async fn connect(addr: std::net::SocketAddr, request: Vec<u8>) -> Self {
        Self {
            stream: TcpStream::connect(addr).await.expect("connect"),
            request: Some(request),
            buf: Some(Vec::with_capacity(16 * 1024)),
        }
    }

    /// Sends the request and reads one response.
    pub async fn call(&mut self) -> Answer {
        let request = self.request.take().expect("request buffer");
        let (res, request) = self.stream.write_all(request).await;
        res.expect("write");
        self.request = Some(request);
        let mut buf = self.buf.take().expect("read buffer");
        buf.clear();
        let (head, end) = loop {
            let (filled, capacity) = (buf.len(), buf.capacity());
            let slice = monoio::buf::IoBufMut::slice_mut(buf, filled..capacity);
            let (res, slice) = self.stream.read(slice).await;
            buf = slice.into_inner();
            assert!(res.expect("read") > 0, "connection closed");
            if let Some(spans) = complete(&buf) {
                break spans;
            }
        };
        assert_eq!(end, buf.len(), "one response per request");
        let status = std::str::from_utf8(&buf[9..12])
            .ok()
            .and_then(|s| s.parse().ok())
            .expect("status");
        let answer = Answer {
            status,
            forwarded: contains(&buf, b"X-P2pfaas-Externally-Executed: True"),
            body_len: end - head,
        };
        self.buf = Some(buf);
        answer
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// The lengths of the head and of the whole response (or request) in `buf` once it is complete
/// (`Content-Length` framing; none means no body).
pub fn complete(buf: &[u8]) -> Option<(usize, usize)> {
    let head = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let name = b"\r\ncontent-length:";
    let Some(at) = buf[..head]
        .windows(name.len())
        .position(|w| w.eq_ignore_ascii_case(name))
    else {
        return Some((head, head));
    };
    let digits = buf[at + name.len()..head]
        .iter()
        .skip_while(|b| **b == b' ');
    let len = digits
        .take_while(|b| b.is_ascii_digit())
        .fold(0usize, |n, b| n * 10 + usize::from(b - b'0'));
    (buf.len() >= head + len).then_some((head, head + len))
}
