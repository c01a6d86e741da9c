//! Responses: a reusable `Response` that handlers fill (status, header lines, body) and the connection
//! serialises, and `error`, the single place where an `Error` becomes an HTTP status, one of the original's
//! error codes and a `{"code", "message"}` JSON body.

use std::fmt;
use std::io::Write as _;

use serde::Serialize;

use super::codec;
use crate::error::Error;

/// A response under construction. Reused per connection, so steady-state requests do not allocate.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Serialised header lines (`name: value\r\n`), without content-length.
    head: Vec<u8>,
    /// Where each line of `head` starts, so reading a header back compares one byte per line for
    /// most lines instead of scanning every byte of the head.
    lines: Vec<usize>,
    /// Body.
    pub body: Vec<u8>,
    /// Close the connection after this response.
    pub close: bool,
}

impl Default for Response {
    fn default() -> Self {
        Self::new()
    }
}

impl Response {
    /// An empty 200 response.
    pub fn new() -> Self {
        Self {
            status: 200,
            head: Vec::with_capacity(512),
            lines: Vec::with_capacity(32),
            body: Vec::new(),
            close: false,
        }
    }

    /// Clears everything, keeping allocations.
    pub fn reset(&mut self) {
        self.status = 200;
        self.head.clear();
        self.lines.clear();
        self.body.clear();
        self.close = false;
    }

    /// Adds a header; a name or value that would break the framing (CR, LF, NUL, bad token) is dropped.
    pub fn header(&mut self, name: &str, value: &[u8]) -> bool {
        self.line(|head| codec::write_header(head, name, value))
    }

    /// [`Response::header`] for a name that is one of the node's own constants (proved tokens by
    /// `own_header_names_are_tokens`, asserted in debug builds): only the value is checked.
    pub fn own_header(&mut self, name: &str, value: &[u8]) -> bool {
        self.line(|head| codec::write_own_header(head, name, value))
    }

    /// Runs one line writer, indexing the line when it wrote one.
    fn line(&mut self, write: impl FnOnce(&mut Vec<u8>) -> Result<(), codec::Error>) -> bool {
        let start = self.head.len();
        let written = write(&mut self.head).is_ok();
        if written {
            self.lines.push(start);
        }
        written
    }

    /// Adds a header whose value is formatted in place. Only for values the node itself formats (numbers,
    /// fixed words), which cannot contain CR or LF.
    pub fn header_fmt(&mut self, name: &str, value: fmt::Arguments<'_>) {
        debug_assert!(codec::is_token(name), "not a header name: {name:?}");
        self.lines.push(self.head.len());
        self.head.extend_from_slice(name.as_bytes());
        self.head.extend_from_slice(b": ");
        // Writing into a Vec cannot fail.
        let _ = self.head.write_fmt(value);
        self.head.extend_from_slice(b"\r\n");
    }

    /// Adds a header whose value is `n` in decimal, without `core::fmt`. Only for the node's own header
    /// names (as [`Response::header_fmt`]).
    pub fn header_u64(&mut self, name: &str, n: u64) {
        self.lines.push(self.head.len());
        codec::write_decimal_header(&mut self.head, name, n);
    }

    /// Adds a timing header: `d` in seconds with six decimals (the original's `%f`), inside `[…]` as a
    /// one-element list when `list`.
    pub fn header_secs(&mut self, name: &str, d: std::time::Duration, list: bool) {
        self.lines.push(self.head.len());
        codec::write_secs_header(&mut self.head, name, d, list);
    }

    /// The value of a header already added (case-insensitive name), if any: for the paths that read
    /// back what they wrote (peer responses).
    pub fn header_value(&self, name: &str) -> Option<&[u8]> {
        let ends = self.lines.iter().skip(1).copied().chain([self.head.len()]);
        self.lines.iter().zip(ends).find_map(|(&start, end)| {
            let line = self.head.get(start..end.saturating_sub(2))?;
            // A line is `name: value`: the colon right after a name of this length comes first.
            let (n, v) = line.split_at_checked(name.len())?;
            if v.first() != Some(&b':') || !n.eq_ignore_ascii_case(name.as_bytes()) {
                return None;
            }
            Some(v[1..].trim_ascii())
        })
    }

    /// Sets a JSON body with `Content-Type: application/json`.
    pub fn json<T: Serialize + ?Sized>(&mut self, status: u16, value: &T) {
        self.status = status;
        self.own_header(CONTENT_TYPE, b"application/json");
        self.body.clear();
        if serde_json::to_writer(&mut self.body, value).is_err() {
            self.body.clear();
            self.body.extend_from_slice(b"{}");
        }
    }

    /// Appends the wire form to `out`.
    pub fn serialize(&self, out: &mut Vec<u8>, keep_alive: bool) {
        // Status line, content-length and connection lines take under 128 bytes: one reservation.
        out.reserve(128 + self.head.len() + self.body.len());
        codec::write_status_line(out, self.status);
        out.extend_from_slice(&self.head);
        codec::finish_head(out, self.body.len(), keep_alive);
        out.extend_from_slice(&self.body);
    }
}

/// The body of every error response.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// The original's error code (contract §1.6).
    pub code: u32,
    /// Human-readable explanation.
    pub message: &'a str,
}

/// The original's error codes.
mod code {
    pub(super) const GENERIC: u32 = 1;
    pub(super) const MALFORMED: u32 = 4;
    pub(super) const NOT_FOUND: u32 = 3;
    pub(super) const CANNOT_SCHEDULE: u32 = 400;
    pub(super) const REJECTED: u32 = 401;
}

/// Why the node refused or failed a job (contract §1.6).
pub const REJECT_REASON: &str = "X-P2pfaas-Reject-Reason";

const CONTENT_TYPE: &str = "Content-Type";
const RETRY_AFTER: &str = "Retry-After";
const WWW_AUTHENTICATE: &str = "WWW-Authenticate";
const AUTH_ERROR: &str = "X-P2pfaas-Auth-Error";
const ALLOW: &str = "Allow";

/// Whether the job ran (`yes`, `no`, `unknown`) on answers where that is in doubt: a forward
/// timeout, a duplicate job, a cancel.
pub const EXECUTED: &str = "X-P2pfaas-Executed";

/// On a duplicate job's refusal: the first copy's status, once it ended.
pub const FIRST_STATUS: &str = "X-P2pfaas-Job-First-Status";

/// Status of a capacity reject for a native p2pfaas peer: always a refusal it recognises (and may then
/// run the job elsewhere), whatever `compat.reject_status` says for clients and original nodes.
pub const OVERLOADED: u16 = 429;

/// The HTTP status `err` becomes (see [`error`]).
pub fn status(err: &Error, reject_status: u16) -> u16 {
    status_and_code(err, reject_status).0
}

fn status_and_code(err: &Error, reject_status: u16) -> (u16, u32) {
    match err {
        Error::Codec(e) => (e.status(), code::MALFORMED),
        Error::RequestTimeout => (408, code::MALFORMED),
        Error::NoRoute | Error::UnknownFunction => (404, code::NOT_FOUND),
        Error::MethodNotAllowed { .. } => (405, code::GENERIC),
        Error::BadInput(_) => (400, code::MALFORMED),
        Error::Forbidden | Error::CrossOrigin => (403, code::GENERIC),
        Error::Unauthorized(_) => (401, code::GENERIC),
        Error::Overloaded(_) => (reject_status, code::CANNOT_SCHEDULE),
        Error::Rejected(_) => (503, code::REJECTED),
        Error::FunctionTimeout => (504, code::GENERIC),
        Error::FunctionUnreachable(_) | Error::FunctionFailed(_) => (502, code::GENERIC),
        Error::Persist(_) => (500, code::GENERIC),
        Error::PeerFailed(_) => (502, code::GENERIC),
        Error::LoopDetected => (508, code::GENERIC),
        Error::ForwardTimeout { .. } => (504, code::GENERIC),
        Error::DuplicateJob { .. } | Error::Cancelled => (409, code::GENERIC),
    }
}

/// Turns `err` into the response: status, code, message, and the reason and retry headers.
/// `reject_status` is the status of a capacity reject (`compat.reject_status`, or [`OVERLOADED`] for a
/// native peer). Headers already set (e.g. `X-P2pfaas-Scheduler`, a measured `Retry-After`) are kept;
/// the body is replaced.
pub fn error(resp: &mut Response, err: &Error, reject_status: u16) {
    let (status, code) = status_and_code(err, reject_status);
    match err {
        Error::Overloaded(reason) => {
            resp.own_header(REJECT_REASON, reason.as_str().as_bytes());
            // The invocation path sets it from the function's measured service time.
            if resp.header_value(RETRY_AFTER).is_none() {
                resp.own_header(RETRY_AFTER, b"1");
            }
        }
        Error::Rejected(reason) => {
            resp.own_header(REJECT_REASON, reason.as_str().as_bytes());
        }
        Error::FunctionTimeout => {
            resp.own_header(REJECT_REASON, b"function_timeout");
        }
        Error::FunctionUnreachable(_) => {
            resp.own_header(REJECT_REASON, b"function_unreachable");
        }
        Error::FunctionFailed(_) => {
            resp.own_header(REJECT_REASON, b"function_failed");
        }
        Error::PeerFailed(_) => {
            resp.own_header(REJECT_REASON, b"peer_failed");
        }
        Error::LoopDetected => {
            resp.own_header(REJECT_REASON, b"loop_detected");
        }
        Error::ForwardTimeout { executed, lost } => {
            let reason: &[u8] = if *lost {
                b"forward_lost"
            } else {
                b"forward_timeout"
            };
            resp.own_header(REJECT_REASON, reason);
            resp.own_header(EXECUTED, executed.as_str().as_bytes());
        }
        Error::DuplicateJob { executed, status } => {
            resp.own_header(REJECT_REASON, b"duplicate_job");
            resp.own_header(EXECUTED, executed.as_str().as_bytes());
            if let Some(s) = status {
                resp.header_u64(FIRST_STATUS, u64::from(*s));
            }
        }
        Error::Cancelled => {
            resp.own_header(REJECT_REASON, b"job_cancelled");
            resp.own_header(EXECUTED, b"no");
        }
        Error::Unauthorized(e) => {
            resp.own_header(REJECT_REASON, b"unauthorized");
            resp.own_header(WWW_AUTHENTICATE, b"P2pfaas-HMAC-SHA256");
            resp.own_header(AUTH_ERROR, e.label().as_bytes());
        }
        Error::MethodNotAllowed { allow } => {
            resp.own_header(ALLOW, allow.as_bytes());
        }
        Error::Codec(_) | Error::RequestTimeout => resp.close = true,
        _ => {}
    }
    let message = err.to_string();
    resp.json(
        status,
        &ErrorBody {
            code,
            message: &message,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Overload;
    use std::time::Duration;

    fn wire(resp: &Response) -> String {
        let mut out = Vec::new();
        resp.serialize(&mut out, true);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn overload_is_429_with_retry_after_reason_and_code_400() {
        let mut r = Response::new();
        r.header("X-P2pfaas-Scheduler", b"NoScheduler");
        error(&mut r, &Error::Overloaded(Overload::Full), OVERLOADED);
        let text = wire(&r);
        assert!(text.starts_with("HTTP/1.1 429 "), "{text}");
        assert!(
            text.contains("X-P2pfaas-Scheduler: NoScheduler\r\n"),
            "{text}"
        );
        assert!(
            text.contains("X-P2pfaas-Reject-Reason: queue_full\r\n"),
            "{text}"
        );
        assert!(text.contains("Retry-After: 1\r\n"), "{text}");
        assert!(
            text.ends_with(r#"{"code":400,"message":"job cannot be scheduled: queue_full"}"#),
            "{text}"
        );
    }

    #[test]
    fn the_originals_reject_status_keeps_reason_retry_after_and_body() {
        let mut r = Response::new();
        r.header("Retry-After", b"3");
        error(&mut r, &Error::Overloaded(Overload::NoFreeSlot), 500);
        let text = wire(&r);
        assert!(text.starts_with("HTTP/1.1 500 "), "{text}");
        assert!(
            text.contains("X-P2pfaas-Reject-Reason: no_free_slot\r\n"),
            "{text}"
        );
        assert_eq!(text.matches("Retry-After").count(), 1, "{text}");
        assert!(text.contains("Retry-After: 3\r\n"), "{text}");
        assert!(text.contains(r#"{"code":400,"#), "{text}");
        // Other errors do not depend on it.
        let mut r = Response::new();
        error(&mut r, &Error::FunctionTimeout, 500);
        assert_eq!(r.status, 504);
    }

    #[test]
    fn statuses_follow_the_contract() {
        let cases: [(Error, u16, u32); 7] = [
            (
                Error::Rejected(crate::scheduler::RejectReason::RejectHeader),
                503,
                401,
            ),
            (Error::FunctionTimeout, 504, 1),
            (
                Error::FunctionUnreachable("connection refused".into()),
                502,
                1,
            ),
            (Error::UnknownFunction, 404, 3),
            (Error::BadInput("queue_length_max: bad".into()), 400, 4),
            (Error::MethodNotAllowed { allow: "GET" }, 405, 1),
            (Error::Codec(codec::Error::BodyTooLarge), 413, 4),
        ];
        for (err, status, code) in cases {
            let mut r = Response::new();
            error(&mut r, &err, OVERLOADED);
            assert_eq!(r.status, status, "{err}");
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
            assert_eq!(body["code"], code, "{err}");
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
    }

    #[test]
    fn headers_can_be_read_back() {
        let mut r = Response::new();
        r.header("X-A", b"1");
        r.header_fmt("X-P2pfaas-Peers-List-Id", format_args!("[\"a\"]"));
        assert_eq!(
            r.header_value("x-p2pfaas-peers-list-id"),
            Some(&b"[\"a\"]"[..])
        );
        assert_eq!(r.header_value("X-A"), Some(&b"1"[..]));
        assert_eq!(r.header_value("X-B"), None);
    }

    #[test]
    fn headers_are_read_back_from_any_line() {
        let mut r = Response::new();
        r.header("X-AB", b"long");
        // A name longer than this line, whose length reaches the colon of the next one.
        r.header("X-Q", b"1");
        r.header("X-R", b"2");
        r.header("X-A", b" spaced ");
        assert!(!r.header("X-Dropped", b"a\r\nX-C: injected"));
        r.header_u64("X-N", 42);
        r.header_secs("X-S", Duration::from_micros(1_500), true);
        r.header_fmt("X-F", format_args!("{}", "last"));
        assert_eq!(r.header_value("x-ab"), Some(&b"long"[..]));
        assert_eq!(r.header_value("X-A"), Some(&b"spaced"[..]));
        assert_eq!(r.header_value("X-N"), Some(&b"42"[..]));
        assert_eq!(r.header_value("X-S"), Some(&b"[0.001500]"[..]));
        assert_eq!(r.header_value("X-F"), Some(&b"last"[..]));
        assert_eq!(r.header_value("X-Q"), Some(&b"1"[..]));
        for absent in [
            "X-Dropped",
            "X-C",
            "X",
            "X-ABC",
            "X-Q: 1\r\nX-R",
            "X-Q: 1XY",
            "",
        ] {
            assert_eq!(r.header_value(absent), None, "{absent}");
        }
        r.reset();
        assert_eq!(r.header_value("X-AB"), None);
        r.header("X-AB", b"again");
        assert_eq!(r.header_value("X-AB"), Some(&b"again"[..]));
    }

    /// Every header-name constant of the node is a token, so the writers that take the node's own
    /// names (`own_header`, `header_fmt`, `header_u64`, `header_secs`) need not check them.
    #[test]
    fn own_header_names_are_tokens() {
        use crate::auth::header as auth;
        use crate::http::job::header as job;
        use crate::peers::wire::header as wire;
        let names = [
            job::VERSION,
            job::SCHEDULER,
            job::BYPASS,
            job::REJECT,
            job::FORWARD,
            job::TASK_TYPE,
            job::TOTAL,
            job::SCHEDULING,
            job::EXECUTION,
            job::QUEUE,
            job::DEADLINE_MS,
            job::LEARNING_EID,
            job::LEARNING_STATE,
            job::LEARNING_ACTION,
            job::LEARNING_EPS,
            job::FALLBACK,
            job::JOB_ID,
            wire::PROTOCOL,
            wire::ACCEPTS,
            wire::HOPS,
            wire::METHOD,
            wire::PEERS_ID,
            wire::PEERS_IP,
            wire::PEERS_ADDR,
            wire::EXTERNALLY_EXECUTED,
            wire::PROBING,
            wire::LOAD,
            wire::MAXLOAD,
            wire::QUEUE_LENGTH,
            wire::MACHINE_ID,
            auth::TIMESTAMP,
            auth::NONCE,
            auth::SIGNATURE,
            crate::http::learner::header::STATE,
            crate::http::learner::header::EPS,
            REJECT_REASON,
            EXECUTED,
            FIRST_STATUS,
            CONTENT_TYPE,
            RETRY_AFTER,
            WWW_AUTHENTICATE,
            AUTH_ERROR,
            ALLOW,
        ];
        for name in names {
            assert!(codec::is_token(name), "{name:?}");
        }
        assert!(!codec::is_token("X-Bad Name") && !codec::is_token("X:") && !codec::is_token(""));
    }

    #[test]
    fn header_injection_is_dropped() {
        let mut r = Response::new();
        assert!(!r.header("X-Evil", b"a\r\nSet-Cookie: x"));
        // A node's own name still has its value checked.
        assert!(!r.own_header(REJECT_REASON, b"a\nSet-Cookie: x"));
        assert!(!r.own_header(
            REJECT_REASON,
            &[b'v'; 20].iter().chain(b"\r").copied().collect::<Vec<_>>()
        ));
        assert_eq!(r.header_value(REJECT_REASON), None);
        assert!(!wire(&r).contains("Set-Cookie"));
    }

    #[test]
    fn timing_header_formats_like_the_original() {
        let mut r = Response::new();
        r.header_fmt(
            "X-P2pfaas-Timing-Total-Seconds-List",
            format_args!("[{:.6}]", 0.306_657_2),
        );
        assert!(wire(&r).contains("X-P2pfaas-Timing-Total-Seconds-List: [0.306657]\r\n"));
        let mut r = Response::new();
        let d = Duration::from_nanos(306_657_200);
        r.header_secs("X-P2pfaas-Timing-Total-Seconds-List", d, true);
        r.header_secs(
            "X-P2pfaas-Timing-Queue-Seconds",
            Duration::from_nanos(1_500),
            false,
        );
        r.header_secs(
            "X-P2pfaas-Timing-Execution-Time-Seconds",
            Duration::from_secs(12),
            false,
        );
        let wire = wire(&r);
        assert!(wire.contains("X-P2pfaas-Timing-Total-Seconds-List: [0.306657]\r\n"));
        assert!(wire.contains("X-P2pfaas-Timing-Queue-Seconds: 0.000002\r\n"));
        assert!(wire.contains("X-P2pfaas-Timing-Execution-Time-Seconds: 12.000000\r\n"));
    }
}
