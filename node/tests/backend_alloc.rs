//! Counts the heap allocations of a call to an HTTP function (`backend = "http"`): the node, the
//! function (a minimal keep-alive HTTP server answering `ok`) and the client run on this test's one
//! monoio runtime, so the workspace's counting allocator (`p2pfaas-alloc-count`, which counts this
//! thread only) sees every allocation of the node's client path (the request target, the pooled
//! connection and its buffers, the reply).
//!
//! After a warm-up (the pool's connection open, buffers sized), `CALLS` calls must allocate nothing.

use std::time::Duration;

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpListener;
use p2pfaas_alloc_count::count;

mod alloc_support;
use alloc_support::{Client, complete, node, runtime, serve};

#[global_allocator]
static GLOBAL: p2pfaas_alloc_count::Counting = p2pfaas_alloc_count::Counting;

const WARM_UP: usize = 200;
const CALLS: usize = 1000;

/// A function that answers every request on every connection with `200 ok`, reusing its buffers.
async fn function(listener: TcpListener) {
    while let Ok((mut stream, _)) = listener.accept().await {
        monoio::spawn(async move {
            let mut reply = Some(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec());
            let mut buf = Vec::with_capacity(16 * 1024);
            loop {
                let (filled, capacity) = (buf.len(), buf.capacity());
                let slice = monoio::buf::IoBufMut::slice_mut(buf, filled..capacity);
                let (res, slice) = stream.read(slice).await;
                buf = slice.into_inner();
                if !matches!(res, Ok(n) if n > 0) {
                    return;
                }
                if let Some((_, end)) = complete(&buf) {
                    buf.drain(..end);
                    let (res, sent) = stream.write_all(reply.take().expect("reply")).await;
                    reply = Some(sent);
                    if res.is_err() {
                        return;
                    }
                }
            }
        });
    }
}

#[test]
fn an_http_function_call_allocates_nothing() {
    let dir = std::env::temp_dir().join(format!("p2pfaas-backend-alloc-{}", std::process::id()));
    // Bound on the runtime below; its port goes into the node's config first.
    let function_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let functions =
        format!("[functions.f]\nbackend = \"http\"\nurl = \"http://{function_addr}/base\"\n");
    let n = node("n", &dir, &functions);
    let mut rt = runtime();
    let mut client = rt.block_on(async {
        let listener = TcpListener::bind(function_addr).expect("bind the function");
        monoio::spawn(function(listener));
        let addr = serve(&n).await;
        // A path and a query, so the request target is joined from all its parts.
        let request =
            format!("GET /function/f/x/y?q=1 HTTP/1.1\r\nHost: {addr}\r\nX-Custom: yes\r\n\r\n")
                .into_bytes();
        let mut client = Client::connect(addr, request).await;
        for _ in 0..WARM_UP {
            let answer = client.call().await;
            assert_eq!((answer.status, answer.body_len), (200, 2));
            assert!(!answer.forwarded, "ran here");
        }
        client
    });
    // `block_on` itself allocates (monoio boxes the future as a task): measured, not guessed.
    let ((), runtime) = count(|| rt.block_on(async {}));
    // The node's and the function's tasks stay on the runtime between `block_on`s: every poll during
    // the counted calls runs inside `count`, on this thread.
    let (calls, allocations) = count(|| {
        rt.block_on(async {
            let calls = async {
                for _ in 0..CALLS {
                    let answer = client.call().await;
                    assert_eq!((answer.status, answer.body_len), (200, 2));
                }
            };
            monoio::time::timeout(Duration::from_secs(60), calls).await
        })
    });
    let _ = std::fs::remove_dir_all(&dir);
    calls.expect("in time");
    eprintln!(
        "{allocations} allocations over {CALLS} calls of an HTTP function ({runtime} of them \
         `block_on`'s own)"
    );
    assert_eq!(
        allocations - runtime,
        0,
        "the HTTP-backend path allocates in steady state: {allocations} allocations over {CALLS} \
         calls, {runtime} of them `block_on`'s own"
    );
}
