//! Micro-benchmarks for the HTTP/1.x codec's hot paths: parsing a typical
//! ~200-byte request head (with framing analysis), writing a response head
//! with ~6 headers into a reused buffer, decoding a small chunked body, and
//! building + serialising a complete invocation response with the original's
//! `X-P2pfaas-*` headers (timing values in the original's `%f` form) as the node does.
//!
//! Run with `cargo bench --bench codec` (add
//! `-- --warm-up-time 1 --measurement-time 3` for a quick run).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use p2pfaas_node::http::codec::{
    BodyDecoder, BodyKind, Limits, finish_head, parse_request, write_chunk, write_header,
    write_status_line,
};
use p2pfaas_node::http::respond::Response;

const REQUEST: &[u8] = b"POST /function/resize-image?quality=80 HTTP/1.1\r\n\
Host: 192.168.1.20:18080\r\n\
User-Agent: p2pfaas-bench/1.0\r\n\
Accept: */*\r\n\
Content-Type: application/octet-stream\r\n\
X-P2PFaaS-Hops: 1\r\n\
Content-Length: 1024\r\n\
\r\n";

fn parse(c: &mut Criterion) {
    let limits = Limits::default();
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(REQUEST.len() as u64));
    g.bench_function(format!("request_head_{}b", REQUEST.len()), |b| {
        b.iter(|| {
            let head = parse_request(black_box(REQUEST), &limits);
            black_box(head.ok().flatten().map(|h| h.head_len()))
        });
    });
    g.finish();
}

fn write(c: &mut Criterion) {
    let mut out = Vec::with_capacity(512);
    c.bench_function("write/response_head_6_headers", |b| {
        b.iter(|| {
            out.clear();
            write_status_line(&mut out, black_box(200));
            let _ = write_header(&mut out, "content-type", b"application/json");
            let _ = write_header(&mut out, "server", b"p2pfaas-node");
            let _ = write_header(&mut out, "x-p2pfaas-node", b"node-1");
            let _ = write_header(&mut out, "x-p2pfaas-hops", b"1");
            let _ = write_header(&mut out, "x-p2pfaas-duration-ms", b"12.345");
            finish_head(&mut out, black_box(1024), true);
            black_box(out.len())
        });
    });
}

fn decode(c: &mut Criterion) {
    let payload = vec![b'x'; 4096];
    let mut encoded = Vec::new();
    for chunk in payload.chunks(512) {
        write_chunk(&mut encoded, chunk);
    }
    write_chunk(&mut encoded, b"");
    let mut out = Vec::with_capacity(payload.len());
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Bytes(payload.len() as u64));
    g.bench_function("chunked_4k_in_512b_chunks", |b| {
        b.iter(|| {
            out.clear();
            let mut dec = BodyDecoder::new(BodyKind::Chunked, 1 << 20);
            black_box(dec.decode(black_box(&encoded), &mut out).ok())
        });
    });
    g.finish();
}

fn invocation_response(c: &mut Criterion) {
    let mut resp = Response::new();
    let mut out = Vec::with_capacity(1024);
    let body = [b'x'; 256];
    c.bench_function("respond/invocation_headers_and_serialise", |b| {
        b.iter(|| {
            resp.reset();
            resp.header("X-P2pfaas-Version", b"0.1.0");
            resp.header("X-P2pfaas-Scheduler", b"NoScheduler");
            resp.header("Content-Type", b"text/plain");
            let t = black_box(std::time::Duration::from_nanos(123_400));
            resp.header_secs("X-P2pfaas-Timing-Total-Seconds-List", t, true);
            resp.header_secs("X-P2pfaas-Timing-Scheduling-Seconds-List", t, true);
            resp.header_secs("X-P2pfaas-Timing-Execution-Time-Seconds", t, false);
            resp.header_secs("X-P2pfaas-Timing-Queue-Seconds", t, false);
            resp.body.extend_from_slice(&body);
            out.clear();
            resp.serialize(&mut out, true);
            black_box(out.len())
        });
    });
}

criterion_group!(benches, parse, write, decode, invocation_response);
criterion_main!(benches);
