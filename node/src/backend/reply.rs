//! A backend's exchange as plain data: the client's headers it reads, the reply it fills in and how it
//! failed. Also what the HTTP client (`http/client.rs`) reads a response into, so the client and the
//! backends that use it share these types without importing each other.

use crate::http::codec::RequestHead;

/// The client's request headers, borrowed from the parsed head.
#[derive(Debug, Clone, Copy, Default)]
pub struct Headers<'a> {
    head: Option<&'a RequestHead>,
    buf: &'a [u8],
}

impl<'a> Headers<'a> {
    /// Headers of a parsed request.
    pub fn new(head: &'a RequestHead, buf: &'a [u8]) -> Self {
        Self {
            head: Some(head),
            buf,
        }
    }

    /// All headers in order, as (name, value).
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        let buf = self.buf;
        self.head.into_iter().flat_map(move |h| h.headers(buf))
    }
}

/// A function's reply, filled in by the backend.
#[derive(Debug, Default)]
pub struct Output {
    /// Status the function answered with.
    pub status: u16,
    /// Its `Content-Type`, empty when it sent none.
    pub content_type: Vec<u8>,
    /// Other end-to-end headers to pass through.
    pub headers: ReplyHeaders,
    /// Response body.
    pub body: Vec<u8>,
    /// Execution time reported by the platform (OpenFaaS `X-Duration-Seconds`), if any.
    pub reported_duration: Option<std::time::Duration>,
}

/// A reply's headers in two reused buffers: once they have grown, pushing a header allocates nothing (the
/// peer path reads every forwarded answer's headers into them).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplyHeaders {
    /// The names, one after the other: kept as a `String` (they are pushed as `&str`) so that reading
    /// them back validates no UTF-8.
    names: String,
    /// The values, one after the other.
    values: Vec<u8>,
    /// Per header, where its name ends in `names` and its value in `values`; each starts where the
    /// previous ended.
    ends: Vec<(usize, usize)>,
}

impl ReplyHeaders {
    /// Appends a header.
    pub fn push(&mut self, name: &str, value: &[u8]) {
        self.names.push_str(name);
        self.values.extend_from_slice(value);
        self.ends.push((self.names.len(), self.values.len()));
    }

    /// The headers in order, as (name, value).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        let (mut name_start, mut value_start) = (0, 0);
        self.ends.iter().map(move |&(name_end, value_end)| {
            // Every range ends where a whole pushed `&str` ended, so `get` finds char boundaries.
            let name = self.names.get(name_start..name_end).unwrap_or_default();
            let value = self.values.get(value_start..value_end).unwrap_or_default();
            (name_start, value_start) = (name_end, value_end);
            (name, value)
        })
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Forgets every header, keeping the buffers.
    pub fn clear(&mut self) {
        self.names.clear();
        self.values.clear();
        self.ends.clear();
    }
}

impl Output {
    /// First value of a reply header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Clears the previous reply, keeping allocations.
    pub fn reset(&mut self) {
        self.status = 200;
        self.content_type.clear();
        self.headers.clear();
        self.body.clear();
        self.reported_duration = None;
    }
}

/// How a backend failed (the caller maps these to 502/504). The detail ends up in the error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendError {
    /// The function could not be reached or started.
    Unreachable(String),
    /// The function broke without a usable reply (e.g. a non-zero exit, with stderr's tail).
    Failed(String),
    /// The function ran past its own time limit.
    Timeout,
}

#[cfg(test)]
mod tests {
    use super::Output;

    #[test]
    fn headers_keep_their_order_and_are_found_by_any_case() {
        let mut out = Output::default();
        out.headers.push("X-One", b"1");
        out.headers.push("x-two", b"");
        out.headers.push("X-ONE", b"again");
        let all: Vec<_> = out.headers.iter().collect();
        assert_eq!(
            all,
            [("X-One", &b"1"[..]), ("x-two", b""), ("X-ONE", b"again")]
        );
        assert_eq!(out.header("x-one"), Some(&b"1"[..]), "the first one");
        assert_eq!(out.header("X-TWO"), Some(&b""[..]));
        assert_eq!(out.header("X-On"), None);
        out.reset();
        assert!(out.headers.is_empty());
        assert_eq!(out.header("x-one"), None);
    }
}
