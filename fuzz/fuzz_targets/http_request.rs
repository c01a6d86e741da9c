//! cargo-fuzz target for the HTTP/1.x codec; run with
//! `cargo +nightly fuzz run --fuzz-dir fuzz http_request`.
//!
//! Feeds arbitrary bytes to `parse_request` (+ `BodyDecoder` on whatever
//! follows the head, in two pieces split at a byte taken from the input) and to
//! `parse_response`, checking that nothing panics and that reported lengths
//! and decoded bodies stay within the input and the configured limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p2pfaas_node::http::codec::{BodyDecoder, BodyKind, Limits, parse_request, parse_response};

/// Small limits so the fuzzer reaches the limit paths quickly.
const LIMITS: Limits = Limits {
    max_head_bytes: 1024,
    max_headers: 16,
    max_body_bytes: 512,
};

/// Decodes `body` the way a connection loop would: first only the bytes up to
/// `split` have arrived, then the rest (plus whatever the decoder left
/// unconsumed) is offered. Checks the decoder's invariants.
fn decode_checked(kind: BodyKind, body: &[u8], split: usize) {
    let mut dec = BodyDecoder::new(kind, LIMITS.max_body_bytes);
    let mut out = Vec::new();
    let split = split.min(body.len());
    let mut consumed = 0;
    for arrived in [split, body.len()] {
        let offered = &body[consumed..arrived.max(consumed)];
        match dec.decode(offered, &mut out) {
            Ok((n, done)) => {
                assert!(n <= offered.len(), "consumed more than offered");
                consumed += n;
                assert_eq!(done, dec.is_finished());
                if done {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    assert!(consumed <= body.len());
    assert!(out.len() <= LIMITS.max_body_bytes, "body over limit");
    if let BodyKind::Length(n) = kind {
        assert!(out.len() as u64 <= n, "length body over its content-length");
    }
    let _ = dec.finish_eof();
}

fuzz_target!(|data: &[u8]| {
    let split = data.first().copied().unwrap_or(0) as usize;

    if let Ok(Some(head)) = parse_request(data, &LIMITS) {
        assert!(head.head_len() <= data.len());
        assert!(head.head_len() <= LIMITS.max_head_bytes);
        assert!(head.headers(data).count() <= LIMITS.max_headers);
        if let BodyKind::Length(n) = head.body() {
            assert!(n <= LIMITS.max_body_bytes as u64, "CL over limit accepted");
        }
        assert_ne!(
            head.body(),
            BodyKind::UntilClose,
            "requests are never read until close"
        );
        // Accessors must not panic either.
        let _ = (
            head.method(data),
            head.path(data),
            head.query(data),
            head.header(data, "host"),
        );
        decode_checked(head.body(), &data[head.head_len()..], split);
    }

    for request_was_head in [false, true] {
        if let Ok(Some(head)) = parse_response(data, &LIMITS, request_was_head) {
            assert!(head.head_len() <= data.len());
            if request_was_head {
                assert_eq!(head.body(), BodyKind::Empty);
            }
            if head.body() == BodyKind::UntilClose {
                assert!(!head.keep_alive());
            }
            decode_checked(head.body(), &data[head.head_len()..], split);
        }
    }

    // The decoders on raw input, independently of any head.
    decode_checked(BodyKind::Chunked, data, split);
    decode_checked(BodyKind::UntilClose, data, split);
});
