//! Micro-benchmarks for the HTTP/1.x codec's hot paths: parsing a typical
//! ~200-byte request head (with framing analysis), writing a response head
//! with ~6 headers into a reused buffer, and decoding a small chunked body.
//!
//! Run with `cargo bench --bench codec` (add
//! `-- --warm-up-time 1 --measurement-time 3` for a quick run).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use p2pfaas_node::http::codec::{
    BodyDecoder, BodyKind, Limits, finish_head, parse_request, write_chunk, write_header,
    write_status_line,
};

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

criterion_group!(benches, parse, write, decode);
criterion_main!(benches);
