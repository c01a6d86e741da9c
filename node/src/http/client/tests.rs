use super::{ClientRequest, Target, forwarded, read_head, write_request};
use crate::backend::reply::{Headers, Output};
use crate::http::codec::{self, Limits};

fn with_request<R>(raw: &[u8], f: impl FnOnce(Headers<'_>) -> R) -> R {
    let head = codec::parse_request(raw, &Limits::default())
        .expect("valid")
        .expect("complete");
    f(Headers::new(&head, raw))
}

fn text(req: &ClientRequest<'_>) -> String {
    let mut out = Vec::new();
    write_request(&mut out, &mut Vec::new(), req, "127.0.0.1:8080").expect("writable");
    String::from_utf8(out).expect("ascii")
}

#[test]
fn request_forwards_end_to_end_headers_and_sets_framing() {
    let raw = b"PUT /function/f/a?x=1 HTTP/1.1\r\nHost: node\r\nConnection: keep-alive, X-Hop\r\n\
        X-Hop: 1\r\nTransfer-Encoding: chunked\r\nTE: trailers\r\nContent-Type: text/plain\r\n\
        Expect: 100-continue\r\nX-Custom: yes\r\nAuthorization: Bearer t\r\n\r\n";
    let s = with_request(raw, |headers| {
        text(&ClientRequest {
            method: "PUT",
            target: "/a?x=1".into(),
            headers,
            authorization: None,
            content_type: Some(b"text/plain"),
            body: b"hello",
            extra: &[],
        })
    });
    assert_eq!(
        s,
        "PUT /a?x=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nX-Custom: yes\r\nAuthorization: Bearer t\r\n\
         content-type: text/plain\r\ncontent-length: 5\r\n\r\nhello"
    );
}

#[test]
fn own_authorization_replaces_the_clients() {
    let raw = b"GET / HTTP/1.1\r\nAuthorization: Bearer client\r\n\r\n";
    let s = with_request(raw, |headers| {
        text(&ClientRequest {
            method: "GET",
            target: "/function/fn".into(),
            headers,
            authorization: Some(b"Basic dTpw"),
            content_type: None,
            body: b"",
            extra: &[],
        })
    });
    assert_eq!(
        s,
        "GET /function/fn HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nauthorization: Basic dTpw\r\n\
         content-length: 0\r\n\r\n"
    );
}

#[test]
fn header_filter() {
    for hop in [
        "Connection",
        "keep-alive",
        "Transfer-Encoding",
        "Upgrade",
        "Content-Length",
        "Host",
    ] {
        assert!(!forwarded(hop, None, false), "{hop}");
    }
    assert!(forwarded("X-Custom", None, false));
    assert!(!forwarded("X-Custom", Some(b"close, x-custom"), false));
    assert!(forwarded("Authorization", None, false));
    assert!(!forwarded("Authorization", None, true));
}

#[test]
fn targets() {
    let joined = |base, name, path, query| {
        let mut out = b"stale".to_vec();
        Target {
            base,
            name,
            path,
            query,
        }
        .write(&mut out);
        String::from_utf8(out).expect("ascii")
    };
    assert_eq!(joined("", "", "", None), "/");
    assert_eq!(joined("", "", "", Some("a=1")), "/?a=1");
    assert_eq!(joined("/base", "", "", None), "/base");
    assert_eq!(joined("/base", "", "/x/y", Some("q")), "/base/x/y?q");
    assert_eq!(
        joined("/peer/function/", "f", "/x", None),
        "/peer/function/f/x"
    );
    assert_eq!(joined("/monitoring/load", "", "", None), "/monitoring/load");
}

#[test]
fn request_line_joins_the_target_parts() {
    let req = ClientRequest {
        method: "GET",
        target: Target {
            base: "/base",
            name: "",
            path: "/x",
            query: Some("q=1"),
        },
        headers: Headers::default(),
        authorization: None,
        content_type: None,
        body: b"",
        extra: &[],
    };
    assert!(text(&req).starts_with("GET /base/x?q=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\n"));
}

#[test]
fn response_head_keeps_end_to_end_headers_only() {
    let raw = b"HTTP/1.1 201 Created\r\nContent-Type: application/x-custom\r\nX-Fn-Header: yes\r\n\
        Connection: keep-alive, X-Private\r\nX-Private: 1\r\nContent-Length: 2\r\n\r\nok";
    let head = codec::parse_response(raw, &Limits::default(), false)
        .expect("valid")
        .expect("complete");
    let mut out = Output::default();
    out.reset();
    read_head(&head, raw, &mut out);
    assert_eq!(out.status, 201);
    assert_eq!(out.content_type, b"application/x-custom");
    let headers: Vec<_> = out.headers.iter().collect();
    assert_eq!(headers, [("X-Fn-Header", &b"yes"[..])]);
}

#[test]
fn headers_nominated_before_the_connection_header_are_dropped_too() {
    let raw = b"POST / HTTP/1.1\r\nX-Early: 1\r\nX-P2pfaas-Private: 2\r\nX-Kept: 3\r\n\
        Connection: x-early, X-P2PFAAS-PRIVATE\r\n\r\n";
    let s = with_request(raw, |headers| {
        text(&ClientRequest {
            method: "POST",
            target: "/".into(),
            headers,
            authorization: None,
            content_type: None,
            body: b"",
            extra: &[("X-Kept", b"ours")],
        })
    });
    assert_eq!(
        s,
        "POST / HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nX-Kept: ours\r\ncontent-length: 0\r\n\r\n"
    );
}

#[test]
fn own_headers_of_an_answer_pass_unless_nominated() {
    let raw = b"HTTP/1.1 200 OK\r\nX-P2pfaas-Load: 1\r\nX-P2pfaas-Private: 2\r\n\
        Connection: x-p2pfaas-private\r\nContent-Length: 0\r\n\r\n";
    let head = codec::parse_response(raw, &Limits::default(), false)
        .expect("valid")
        .expect("complete");
    let mut out = Output::default();
    read_head(&head, raw, &mut out);
    let headers: Vec<_> = out.headers.iter().collect();
    assert_eq!(headers, [("X-P2pfaas-Load", &b"1"[..])]);
}

#[test]
fn a_connection_header_listing_keep_alive_only_drops_only_hop_by_hop_headers() {
    let kept = |raw: &[u8]| {
        let head = codec::parse_response(raw, &Limits::default(), false)
            .expect("valid")
            .expect("complete");
        let mut out = Output::default();
        read_head(&head, raw, &mut out);
        let names: Vec<String> = out.headers.iter().map(|(n, _)| n.to_owned()).collect();
        names
    };
    assert_eq!(
        kept(
            b"HTTP/1.1 200 OK\r\nServer: s\r\nConnection: Keep-Alive\r\nKeep-Alive: timeout=5\r\n\
            Close: 1\r\nContent-Length: 0\r\n\r\n"
        ),
        ["Server", "Close"]
    );
    // Any other item nominates: `close` is read as a header name too, as before.
    assert_eq!(
        kept(
            b"HTTP/1.1 200 OK\r\nServer: s\r\nConnection: keep-alive, ,close\r\nClose: 1\r\n\
            Content-Length: 0\r\n\r\n"
        ),
        ["Server"]
    );
}
