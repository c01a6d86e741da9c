//! Counts the heap allocations of a forwarded call: two nodes (origin A, executor B) and the client run
//! on this test's one monoio runtime, so the workspace's counting allocator (`p2pfaas-alloc-count`,
//! which counts this thread only) sees every allocation of both nodes' native peer path.
//!
//! Both nodes are warmed up first (connections open, pools, tables and buffers sized); the steady state
//! is then counted over `CALLS` calls of `echo` that A forwards to B. Origin and executor allocate
//! nothing per call; the only allocations allowed are the executor's at-most-once table growing (see
//! `GROWTH`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{TcpListener, TcpStream};
use p2pfaas_alloc_count::count;
use p2pfaas_node::config::{Config, Raw};
use p2pfaas_node::node::Node;
use p2pfaas_node::worker::Worker;

#[global_allocator]
static GLOBAL: p2pfaas_alloc_count::Counting = p2pfaas_alloc_count::Counting;

const WARM_UP: usize = 200;
const CALLS: usize = 1000;
/// The executor's at-most-once table (`p2pfaas_core::jobs::JobTable`) remembers every received job id
/// for two minutes, inline (no allocation per id), in storage that doubles as it fills: over the
/// counted calls it grows from ~`WARM_UP` to ~`WARM_UP + CALLS` ids, i.e. a few doublings of its
/// record queue and index (3 + 3 allocations: none left with both pre-sized). Once it holds two
/// minutes of ids it stops growing (`core/tests/jobs_alloc.rs` proves zero there). Measured 7: the
/// table's 6 and one more, once per run (also 1 over 4,000 calls), not per call.
const GROWTH: usize = 8;

fn node(name: &str, dir: &std::path::Path) -> Arc<Node> {
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
[functions.echo]
backend = "builtin"
builtin = "echo"
"#,
        dir.join(name).display()
    );
    let raw = Raw::from_toml(&toml).expect("valid toml");
    Arc::new(Node::new(Config::from_raw(raw).expect("valid config")).expect("node"))
}

async fn serve(node: &Arc<Node>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    node.set_bound(addr);
    let worker = Worker::new(0, Arc::clone(node));
    monoio::spawn(p2pfaas_node::http::serve(
        listener,
        worker,
        p2pfaas_node::http::route::route,
    ));
    addr
}

/// One keep-alive client with reused buffers: it allocates nothing per call itself.
struct Client {
    stream: TcpStream,
    request: Option<Vec<u8>>,
    buf: Option<Vec<u8>>,
}

impl Client {
    /// Sends the request and reads one response; returns its status and whether A forwarded it.
    async fn call(&mut self) -> (u16, bool) {
        let request = self.request.take().expect("request buffer");
        let (res, request) = self.stream.write_all(request).await;
        res.expect("write");
        self.request = Some(request);
        let mut buf = self.buf.take().expect("read buffer");
        buf.clear();
        loop {
            let (filled, capacity) = (buf.len(), buf.capacity());
            let slice = monoio::buf::IoBufMut::slice_mut(buf, filled..capacity);
            let (res, slice) = self.stream.read(slice).await;
            buf = slice.into_inner();
            assert!(res.expect("read") > 0, "connection closed");
            if let Some(end) = complete(&buf) {
                assert_eq!(end, buf.len(), "one response per request");
                break;
            }
        }
        let status = std::str::from_utf8(&buf[9..12])
            .ok()
            .and_then(|s| s.parse().ok())
            .expect("status");
        let forwarded = contains(&buf, b"X-P2pfaas-Externally-Executed: True");
        self.buf = Some(buf);
        (status, forwarded)
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// The length of the response in `buf` once it is complete.
fn complete(buf: &[u8]) -> Option<usize> {
    let head = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let name = b"\r\ncontent-length:";
    let at = buf[..head]
        .windows(name.len())
        .position(|w| w.eq_ignore_ascii_case(name))?
        + name.len();
    let digits = buf[at..head].iter().skip_while(|b| **b == b' ');
    let len = digits
        .take_while(|b| b.is_ascii_digit())
        .fold(0usize, |n, b| n * 10 + usize::from(b - b'0'));
    (buf.len() >= head + len).then_some(head + len)
}

#[test]
fn a_forwarded_call_allocates_nothing() {
    let dir = std::env::temp_dir().join(format!("p2pfaas-forward-alloc-{}", std::process::id()));
    let (a, b) = (node("a", &dir), node("b", &dir));
    let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .expect("runtime");
    let (mut client, warm) = rt.block_on(async {
        let addr_a = serve(&a).await;
        let addr_b = serve(&b).await;
        let id = a.peers.add(&addr_b.to_string()).expect("peer b");
        a.peers
            .report_identity(id, "b", BTreeSet::from(["echo".to_owned()]));
        let request = format!(
            "POST /function/echo HTTP/1.1\r\nHost: {addr_a}\r\nX-P2pfaas-Scheduler-Forward: true\r\n\
             Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
        )
        .into_bytes();
        let mut client = Client {
            stream: TcpStream::connect(addr_a).await.expect("connect"),
            request: Some(request),
            buf: Some(Vec::with_capacity(16 * 1024)),
        };
        let mut warm = 0;
        for _ in 0..WARM_UP {
            let (status, forwarded) = client.call().await;
            assert_eq!(status, 200);
            warm += usize::from(forwarded);
        }
        (client, warm)
    });
    assert_eq!(warm, WARM_UP, "every warm-up call was forwarded to b");
    // The nodes' tasks stay on the runtime between `block_on`s: every poll of both nodes and the client
    // during the counted calls runs inside `count`, on this thread.
    let (calls, allocations) = count(|| {
        rt.block_on(async {
            let calls = async {
                let mut calls = 0;
                for _ in 0..CALLS {
                    let (status, forwarded) = client.call().await;
                    assert_eq!(status, 200);
                    calls += usize::from(forwarded);
                }
                calls
            };
            monoio::time::timeout(Duration::from_secs(60), calls).await
        })
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(calls.expect("in time"), CALLS, "every call was forwarded");
    eprintln!("{allocations} allocations over {CALLS} forwarded calls");
    assert!(
        allocations <= GROWTH,
        "the peer path allocates in steady state: {allocations} allocations over {CALLS} forwarded \
         calls (allowed: {GROWTH}, for the executor's at-most-once table growing)"
    );
}
