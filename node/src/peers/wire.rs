//! The peer protocol on the wire (contract §1.9): the original's JSON request and response, the native
//! mode's header names, the path lists both carry, and the load headers every peer response piggybacks.
//!
//! Native mode sends the body as is with its metadata in headers; the original's JSON mode wraps the body
//! in base64 (a third larger). A native request carries `X-P2pfaas-Peer-Protocol: native/1`; a p2pfaas
//! node states the same header on its load reports and on every peer answer, so a sender knows from its
//! first probe or exchange that the peer speaks native, and an original node (which never states it) is
//! only ever sent JSON.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::scheduler::PeerLoad;

/// Header names of the peer protocol.
pub mod header {
    /// `native/1` on a native request, and on every answer (and load report) of a node that speaks it.
    pub const PROTOCOL: &str = "X-P2pfaas-Peer-Protocol";
    /// On a JSON request from a node that speaks native too: asks the receiver to say so.
    pub const ACCEPTS: &str = "X-P2pfaas-Peer-Accepts";
    /// Value of [`PROTOCOL`].
    pub const NATIVE: &str = "native/1";
    /// Native: hops travelled including the one being made.
    pub const HOPS: &str = "X-P2pfaas-Hops";
    /// Native: the client's method (the original always used POST).
    pub const METHOD: &str = "X-P2pfaas-Method";
    /// JSON array of machine ids: on a request, the path so far (origin first); on a response, the
    /// nodes from the answering one to the executor.
    pub const PEERS_ID: &str = "X-P2pfaas-Peers-List-Id";
    /// On a client's response: the same path as bare IPs (host names where a node is addressed by
    /// name), as the original wrote it and its plots match on.
    pub const PEERS_IP: &str = "X-P2pfaas-Peers-List-Ip";
    /// The same path as `host:port` addresses: on a client's response, and on native requests and
    /// answers between p2pfaas nodes (many nodes may share one IP).
    pub const PEERS_ADDR: &str = "X-P2pfaas-Peers-List-Addr";
    /// Set on the client's response when the job ran on another node.
    pub const EXTERNALLY_EXECUTED: &str = "X-P2pfaas-Externally-Executed";
    /// Per node, from arrival to the decision's effect, including probing.
    pub const PROBING: &str = "X-P2pfaas-Timing-Probing-Seconds-List";
    /// Running jobs (the original's probe header).
    pub const LOAD: &str = "X-P2pfaas-Load";
    /// K.
    pub const MAXLOAD: &str = "X-P2pfaas-Maxload";
    /// Queued jobs (the original's spelling).
    pub const QUEUE_LENGTH: &str = "X-P2pfog-Queue-Length";
    /// The sender's machine id, on native responses.
    pub const MACHINE_ID: &str = "X-P2pfaas-Machine-Id";
}

/// Timings one node reports for a forwarded job (seconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Function execution, on the executor only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_time: Option<f64>,
    /// Arrival to reply at this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_time: Option<f64>,
    /// Arrival to decision at this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling_time: Option<f64>,
    /// Time spent probing at this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probing_time: Option<f64>,
}

/// One node on a job's path (`PeersListMember`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PathMember {
    /// Its id.
    pub machine_id: String,
    /// Its IP, bare as the original sent it (a host name where the node is addressed by name).
    pub machine_ip: String,
    /// New, ignored by the original: its `host:port` (p2pfaas nodes may share an IP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_addr: Option<String>,
    /// Its timings, on responses.
    #[serde(default)]
    pub timings: Timings,
}

/// The original's forwarding request body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JsonRequest {
    /// Request id at the origin.
    #[serde(default)]
    pub service_id_request: u64,
    /// Tracing id.
    #[serde(default)]
    pub service_id_tracing: String,
    /// Function name.
    #[serde(default)]
    pub function_name: String,
    /// Hops travelled including this one.
    #[serde(default)]
    pub hops: u32,
    /// The path so far (the original always sent null).
    #[serde(default)]
    pub peers_list: Option<Vec<PathMember>>,
    /// Base64 of the body.
    #[serde(default)]
    pub payload: String,
    /// The body's content type.
    #[serde(default)]
    pub content_type: String,
    /// The client's headers (the original always sent null); from a p2pfaas node also the job's task type
    /// and deadline under their header names, as a native request carries them.
    #[serde(default)]
    pub headers: Option<std::collections::BTreeMap<String, String>>,
    /// New: the job's id (origin machine id + sequence), for at most once; an original node ignores
    /// it and sends none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
}

/// The original's forwarding response body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JsonResponse {
    /// Executor first, then each node on the way back.
    #[serde(default)]
    pub peers_list: Vec<PathMember>,
    /// Base64 of the function's output or of an error JSON.
    #[serde(default)]
    pub body: String,
    /// The status to answer with.
    #[serde(default)]
    pub status_code: u16,
    /// New, ignored by the original: the function's content type (the original lost it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

/// Base64 (standard alphabet, padded), as the original's Go `[]byte` JSON encoding.
pub fn encode_body(body: &[u8]) -> String {
    STANDARD.encode(body)
}

/// Decodes a base64 body; the error says why.
pub fn decode_body(text: &str) -> Result<Vec<u8>, String> {
    STANDARD
        .decode(text)
        .map_err(|e| format!("payload is not base64: {e}"))
}

impl PathMember {
    /// A node on a path, written for both the original (bare IP) and p2pfaas (`host:port`).
    pub fn new(machine_id: String, addr: String, timings: Timings) -> Self {
        Self {
            machine_id,
            machine_ip: bare_host(&addr).to_owned(),
            machine_addr: Some(addr),
            timings,
        }
    }

    /// Its `host:port` when a p2pfaas node sent it, else the original's bare IP.
    pub fn addr(&self) -> &str {
        self.machine_addr.as_deref().unwrap_or(&self.machine_ip)
    }
}

/// The host of a `host:port` address (`[v6]:port` gives `v6`); anything else as is.
pub fn bare_host(addr: &str) -> &str {
    // On bytes: a forwarded job's answer asks this for every node on its path.
    let bytes = addr.as_bytes();
    if bytes.first() == Some(&b'[') {
        return match bytes.iter().position(|b| *b == b']') {
            Some(end) => addr.get(1..end).unwrap_or(addr),
            None => addr,
        };
    }
    let Some(colon) = bytes.iter().rposition(|b| *b == b':') else {
        return addr;
    };
    let (host, port) = (&bytes[..colon], &bytes[colon + 1..]);
    if !host.contains(&b':') && !port.is_empty() && port.iter().all(u8::is_ascii_digit) {
        addr.get(..colon).unwrap_or(addr)
    } else {
        addr
    }
}

/// A JSON array of strings (a path header); `None` when it is not one.
pub fn parse_list(value: &[u8]) -> Option<Vec<String>> {
    serde_json::from_slice(value).ok()
}

/// A JSON array of numbers (a timing-list header); `None` when it is not one.
pub fn parse_numbers(value: &[u8]) -> Option<Vec<f64>> {
    serde_json::from_slice(value).ok()
}

/// The load headers of a peer's response (`X-P2pfaas-Load`, `-Maxload`, `X-P2pfog-Queue-Length`).
pub fn load_from_headers<'h>(mut header: impl FnMut(&str) -> Option<&'h [u8]>) -> Option<PeerLoad> {
    load_from_values(
        header(header::LOAD),
        header(header::QUEUE_LENGTH),
        header(header::MAXLOAD),
    )
}

/// The load from the values of those three headers, as found.
pub fn load_from_values(
    load: Option<&[u8]>,
    queue_length: Option<&[u8]>,
    maxload: Option<&[u8]>,
) -> Option<PeerLoad> {
    Some(PeerLoad {
        running: load.and_then(parse_count)?,
        queued: queue_length.and_then(parse_count).unwrap_or(0),
        slots: maxload.and_then(parse_count).unwrap_or(0),
    })
}

/// A count in a header, as `str::trim` and `str::parse::<u32>` read it; the common form (ASCII
/// digits) straight from the bytes, as every forwarded job's answer carries three.
fn parse_count(value: &[u8]) -> Option<u32> {
    let trimmed = value.trim_ascii();
    let digits = trimmed.strip_prefix(b"+").unwrap_or(trimmed);
    let fast = (!digits.is_empty())
        .then(|| {
            digits.iter().try_fold(0u32, |n, b| {
                let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
                n.checked_mul(10)?.checked_add(u32::from(digit))
            })
        })
        .flatten();
    fast.or_else(|| std::str::from_utf8(value).ok()?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_originals_json_shapes_parse() {
        let req: JsonRequest = serde_json::from_str(
            r#"{"service_id_request": 42, "service_id_tracing": "n0t7", "function_name": "fn-pigo",
                "hops": 1, "peers_list": null, "payload": "aGk=", "content_type": "image/jpeg",
                "headers": null}"#,
        )
        .unwrap_or_default();
        assert_eq!(req.function_name, "fn-pigo");
        assert_eq!(decode_body(&req.payload), Ok(b"hi".to_vec()));
        let resp: JsonResponse = serde_json::from_str(
            r#"{"peers_list":[{"machine_id":"node-a","machine_ip":"127.0.0.1",
               "timings":{"execution_time":0.2022,"total_time":0.5031,"scheduling_time":0.3007,
               "probing_time":0.0020}}],"body":"aGk=","status_code":200}"#,
        )
        .unwrap_or_default();
        assert_eq!(resp.status_code, 200);
        assert_eq!(resp.peers_list[0].timings.total_time, Some(0.5031));
        assert!(decode_body("not base64!").is_err());
    }

    #[test]
    fn bare_hosts_of_addresses() {
        assert_eq!(bare_host("192.0.2.1:18080"), "192.0.2.1");
        assert_eq!(bare_host("[2001:db8::1]:18080"), "2001:db8::1");
        assert_eq!(bare_host("node-a:80"), "node-a");
        assert_eq!(bare_host("192.0.2.1"), "192.0.2.1");
        assert_eq!(bare_host("2001:db8::1"), "2001:db8::1");
        assert_eq!(bare_host("[2001:db8::1"), "[2001:db8::1");
        assert_eq!(bare_host("node-a:"), "node-a:");
        assert_eq!(bare_host("node-a:8x"), "node-a:8x");
        assert_eq!(bare_host(""), "");
        assert_eq!(bare_host("é:1"), "é");
        let m = PathMember::new("a".into(), "192.0.2.1:18080".into(), Timings::default());
        let json = serde_json::to_value(&m).unwrap_or_default();
        assert_eq!(json["machine_ip"], "192.0.2.1");
        assert_eq!(json["machine_addr"], "192.0.2.1:18080");
        // The original's member has no machine_addr: its IP is its address.
        let orig: PathMember =
            serde_json::from_str(r#"{"machine_id":"o","machine_ip":"192.0.2.9"}"#)
                .unwrap_or_default();
        assert_eq!(orig.addr(), "192.0.2.9");
        assert_eq!(m.addr(), "192.0.2.1:18080");
    }

    #[test]
    fn lists_and_load_headers() {
        assert_eq!(
            parse_list(br#"["a","b"]"#),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(parse_list(b"[1]"), None);
        let headers = [
            (header::LOAD, &b"3"[..]),
            (header::QUEUE_LENGTH, b"2"),
            (header::MAXLOAD, b"4"),
        ];
        let find = |n: &str| headers.iter().find(|(h, _)| *h == n).map(|(_, v)| *v);
        assert_eq!(
            load_from_headers(find),
            Some(PeerLoad {
                running: 3,
                queued: 2,
                slots: 4
            })
        );
        assert_eq!(load_from_headers(|_| None), None);
    }

    #[test]
    fn counts_parse_as_str_parse_does() {
        for raw in [
            "0",
            "7",
            " 12 ",
            "+3",
            "4294967295",
            "4294967296",
            "",
            " ",
            "+",
            "-1",
            "1.0",
            "1 2",
            "0x1",
            "00012",
            "++1",
            "\t5",
            "\u{a0}5",
            "\u{b}5 ",
        ] {
            assert_eq!(
                parse_count(raw.as_bytes()),
                raw.trim().parse::<u32>().ok(),
                "{raw:?}"
            );
        }
        assert_eq!(parse_count(b"\xff"), None);
    }
}
