//! HTTP/1.x wire codec for the node: parsing request and response heads,
//! deciding how the body that follows is framed, decoding bodies
//! (content-length and chunked) incrementally, and writing heads.
//!
//! It is sans-IO: it never touches sockets, async runtimes or clocks, and
//! parse paths never allocate (decoded bodies and written heads are appended
//! to caller-owned `Vec<u8>`s that are reused across requests). It must not
//! panic on any input, since everything here sees untrusted bytes from the
//! network, and it is deliberately strict about framing (CL+TE, differing
//! Content-Lengths, unknown transfer codings) because lenient framing is how
//! request smuggling happens. Routing, timeouts and connection handling
//! belong to the callers.

use std::fmt;

#[cfg(test)]
mod tests;

/// Maximum number of header lines a parsed head can hold.
pub const MAX_HEADERS: usize = 64;

/// Longest chunk-size line (size, extensions, CRLF) the decoder accepts.
const MAX_CHUNK_LINE: u32 = 1024;

/// Total bytes of trailer section the decoder is willing to skip.
const MAX_TRAILER_BYTES: u32 = 16 * 1024;

/// Limits applied while parsing.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted head (start line, headers and the blank line).
    pub max_head_bytes: usize,
    /// Largest accepted number of header lines (capped at [`MAX_HEADERS`]).
    pub max_headers: usize,
    /// Largest accepted decoded body.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    /// 16 KiB head, 64 headers, 4 MiB body.
    fn default() -> Self {
        Limits {
            max_head_bytes: 16 * 1024,
            max_headers: MAX_HEADERS,
            max_body_bytes: 4 * 1024 * 1024,
        }
    }
}

/// Everything that can go wrong while parsing, decoding or writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Malformed request line (method, target or its delimiters).
    InvalidRequestLine,
    /// Malformed header line, or a header rejected by a writer.
    InvalidHeader,
    /// The head is larger than `max_head_bytes`.
    HeadTooLarge,
    /// More header lines than `max_headers`.
    TooManyHeaders,
    /// The body is (or is declared to be) larger than `max_body_bytes`.
    BodyTooLarge,
    /// Content-Length is not a plain decimal number that fits in a u64.
    InvalidContentLength,
    /// Both Content-Length and Transfer-Encoding, or differing Content-Lengths.
    ConflictingFraming,
    /// A Transfer-Encoding other than a single `chunked` coding.
    UnsupportedTransferEncoding,
    /// Malformed chunked framing (size line, CRLFs or trailers).
    InvalidChunk,
    /// The peer closed the connection before the body was complete.
    IncompleteBody,
    /// An HTTP version other than 1.0 and 1.1.
    UnsupportedVersion,
    /// Malformed response status line (client side).
    InvalidStatusLine,
}

impl Error {
    /// HTTP status a server should answer with when it hits this error.
    /// Client-side errors (bad upstream response) map to 502.
    pub fn status(&self) -> u16 {
        match self {
            Error::InvalidRequestLine
            | Error::InvalidHeader
            | Error::InvalidContentLength
            | Error::ConflictingFraming
            | Error::InvalidChunk
            | Error::IncompleteBody => 400,
            Error::HeadTooLarge | Error::TooManyHeaders => 431,
            Error::BodyTooLarge => 413,
            Error::UnsupportedTransferEncoding => 501,
            Error::UnsupportedVersion => 505,
            Error::InvalidStatusLine => 502,
        }
    }

    /// Short snake_case reason, suitable for logs, metrics labels and error bodies.
    pub fn as_str(&self) -> &'static str {
        match self {
            Error::InvalidRequestLine => "invalid_request_line",
            Error::InvalidHeader => "invalid_header",
            Error::HeadTooLarge => "head_too_large",
            Error::TooManyHeaders => "too_many_headers",
            Error::BodyTooLarge => "body_too_large",
            Error::InvalidContentLength => "invalid_content_length",
            Error::ConflictingFraming => "conflicting_framing",
            Error::UnsupportedTransferEncoding => "unsupported_transfer_encoding",
            Error::InvalidChunk => "invalid_chunk",
            Error::IncompleteBody => "incomplete_body",
            Error::UnsupportedVersion => "unsupported_version",
            Error::InvalidStatusLine => "invalid_status_line",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msg = match self {
            Error::InvalidRequestLine => "invalid request line",
            Error::InvalidHeader => "invalid header",
            Error::HeadTooLarge => "message head too large",
            Error::TooManyHeaders => "too many headers",
            Error::BodyTooLarge => "body too large",
            Error::InvalidContentLength => "invalid content-length",
            Error::ConflictingFraming => "conflicting message framing headers",
            Error::UnsupportedTransferEncoding => "unsupported transfer-encoding",
            Error::InvalidChunk => "invalid chunked encoding",
            Error::IncompleteBody => "connection closed before end of body",
            Error::UnsupportedVersion => "unsupported HTTP version",
            Error::InvalidStatusLine => "invalid status line",
        };
        f.write_str(msg)
    }
}

impl std::error::Error for Error {}

/// How the body that follows a head is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body (also used for `Content-Length: 0`).
    Empty,
    /// Exactly this many bytes (never 0; see [`BodyKind::Empty`]).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Response only: the body runs until the server closes the connection.
    UntilClose,
}

/// A byte range into the caller's buffer (so a parsed head holds no borrow
/// and can live across awaits while the buffer is reused).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    /// Offset of the first byte.
    pub start: u32,
    /// Offset one past the last byte.
    pub end: u32,
}

impl Span {
    /// The bytes this span covers; empty (rather than a panic) if `buf` is
    /// not the buffer the span came from and is too short.
    pub fn get<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        buf.get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }

    /// Length of the span in bytes.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start) as usize
    }

    /// True when the span covers no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Span of `part`, which must be a sub-slice of `buf`. Empty parts map to
    /// the empty span because httparse may hand out empty slices that do not
    /// point into the buffer.
    fn of(buf: &[u8], part: &[u8]) -> Option<Span> {
        if part.is_empty() {
            return Some(Span::default());
        }
        let start = part.as_ptr().addr().checked_sub(buf.as_ptr().addr())?;
        let end = start.checked_add(part.len())?;
        if end > buf.len() {
            return None;
        }
        Some(Span {
            start: u32::try_from(start).ok()?,
            end: u32::try_from(end).ok()?,
        })
    }

    /// The span with optional whitespace (space, tab) removed from both ends.
    fn trim_ows(self, buf: &[u8]) -> Span {
        let bytes = self.get(buf);
        let lead = bytes.iter().take_while(|b| is_ows(**b)).count();
        let trail = bytes[lead..]
            .iter()
            .rev()
            .take_while(|b| is_ows(**b))
            .count();
        // lead + trail <= len, and both fit in u32 because the span did.
        Span {
            start: self.start.saturating_add(lead as u32),
            end: self.end.saturating_sub(trail as u32),
        }
    }
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Bytes that are known to be ASCII/UTF-8 (validated by httparse) as `&str`;
/// falls back to "" instead of panicking if they are not.
fn as_str(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or("")
}

/// Header spans shared by request and response heads.
#[derive(Debug, Clone)]
struct HeaderSpans {
    items: [(Span, Span); MAX_HEADERS],
    count: usize,
}

impl HeaderSpans {
    fn collect(buf: &[u8], headers: &[httparse::Header<'_>], err: Error) -> Result<Self, Error> {
        let mut items = [(Span::default(), Span::default()); MAX_HEADERS];
        // httparse was given at most MAX_HEADERS slots, so zip never drops one.
        for (slot, h) in items.iter_mut().zip(headers) {
            let name = Span::of(buf, h.name.as_bytes()).ok_or(err)?;
            let value = Span::of(buf, h.value).ok_or(err)?.trim_ows(buf);
            *slot = (name, value);
        }
        Ok(HeaderSpans {
            items,
            count: headers.len().min(MAX_HEADERS),
        })
    }

    fn slice(&self) -> &[(Span, Span)] {
        self.items.get(..self.count).unwrap_or_default()
    }

    fn get<'b>(&self, buf: &'b [u8], name: &str) -> Option<&'b [u8]> {
        self.slice()
            .iter()
            .find(|(n, _)| n.get(buf).eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.get(buf))
    }

    fn iter<'a, 'b>(&'a self, buf: &'b [u8]) -> impl Iterator<Item = (&'b str, &'b [u8])> + 'a
    where
        'b: 'a,
    {
        self.slice()
            .iter()
            .map(move |(n, v)| (as_str(n.get(buf)), v.get(buf)))
    }
}

/// What the framing-relevant headers say, before applying message-kind rules.
struct Framing {
    content_length: Option<u64>,
    /// `Some(true)` when Transfer-Encoding is exactly `chunked`,
    /// `Some(false)` when it is present but anything else.
    chunked: Option<bool>,
    close: bool,
    keep_alive: bool,
    expect_continue: bool,
}

/// Iterates the non-empty, OWS-trimmed elements of a comma-separated list.
fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|b| *b == b',').filter_map(|item| {
        let item = item.trim_ascii();
        (!item.is_empty()).then_some(item)
    })
}

fn parse_content_length(value: &[u8]) -> Result<u64, Error> {
    if value.is_empty() {
        return Err(Error::InvalidContentLength);
    }
    value.iter().try_fold(0u64, |acc, b| {
        if !b.is_ascii_digit() {
            return Err(Error::InvalidContentLength);
        }
        acc.checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(Error::InvalidContentLength)
    })
}

fn analyze(headers: &[httparse::Header<'_>]) -> Result<Framing, Error> {
    let mut f = Framing {
        content_length: None,
        chunked: None,
        close: false,
        keep_alive: false,
        expect_continue: false,
    };
    // Count codings across all Transfer-Encoding lines: only a single
    // `chunked` is supported, so `gzip, chunked` or `chunked, chunked` fail.
    let mut codings = 0usize;
    let mut all_chunked = true;
    for h in headers {
        let value = h.value.trim_ascii();
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = parse_content_length(value)?;
            match f.content_length {
                Some(prev) if prev != n => return Err(Error::ConflictingFraming),
                _ => f.content_length = Some(n),
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            f.chunked = Some(false);
            for coding in list_items(value) {
                codings += 1;
                all_chunked &= coding.eq_ignore_ascii_case(b"chunked");
            }
        } else if h.name.eq_ignore_ascii_case("connection") {
            for opt in list_items(value) {
                if opt.eq_ignore_ascii_case(b"close") {
                    f.close = true;
                } else if opt.eq_ignore_ascii_case(b"keep-alive") {
                    f.keep_alive = true;
                }
            }
        } else if h.name.eq_ignore_ascii_case("expect") {
            f.expect_continue |= value.eq_ignore_ascii_case(b"100-continue");
        }
    }
    if f.chunked.is_some() {
        f.chunked = Some(codings == 1 && all_chunked);
    }
    Ok(f)
}

/// Persistence per RFC 9112 §9.3: 1.1 unless `close`, 1.0 only with `keep-alive`.
fn persistent(minor_version: u8, f: &Framing) -> bool {
    if f.close {
        false
    } else if minor_version >= 1 {
        true
    } else {
        f.keep_alive
    }
}

/// Body framing from Transfer-Encoding / Content-Length (RFC 9112 §6.3 steps 3-6).
/// `None` when neither header is present.
fn framed_body(f: &Framing, limits: &Limits) -> Result<Option<BodyKind>, Error> {
    match (f.chunked, f.content_length) {
        // Smuggling defence: never pick one of the two, reject.
        (Some(_), Some(_)) => Err(Error::ConflictingFraming),
        (Some(true), None) => Ok(Some(BodyKind::Chunked)),
        (Some(false), None) => Err(Error::UnsupportedTransferEncoding),
        (None, Some(0)) => Ok(Some(BodyKind::Empty)),
        (None, Some(n)) => {
            if n > limits.max_body_bytes as u64 {
                Err(Error::BodyTooLarge)
            } else {
                Ok(Some(BodyKind::Length(n)))
            }
        }
        (None, None) => Ok(None),
    }
}

/// The part of `buf` handed to httparse: never more than the head limit, so
/// a complete parse is always within the limit and oversized heads are caught
/// even while still incomplete.
fn head_window<'b>(buf: &'b [u8], limits: &Limits) -> &'b [u8] {
    buf.get(..limits.max_head_bytes).unwrap_or(buf)
}

fn head_len_u32(len: usize) -> Result<u32, Error> {
    u32::try_from(len).map_err(|_| Error::HeadTooLarge)
}

/// A parsed request head: spans into the buffer it was parsed from.
#[derive(Debug, Clone)]
pub struct RequestHead {
    method: Span,
    target: Span,
    minor_version: u8,
    headers: HeaderSpans,
    head_len: u32,
    body: BodyKind,
    keep_alive: bool,
    expect_continue: bool,
}

impl RequestHead {
    /// Bytes of the head including the blank line; the body starts here.
    pub fn head_len(&self) -> usize {
        self.head_len as usize
    }

    /// How the body that follows is framed.
    pub fn body(&self) -> BodyKind {
        self.body
    }

    /// Minor HTTP version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub fn minor_version(&self) -> u8 {
        self.minor_version
    }

    /// Whether the connection may be reused after this exchange: HTTP/1.1
    /// unless `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    /// A chunked HTTP/1.0 request is never persistent (its framing is suspect).
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// True for an HTTP/1.1 request with `Expect: 100-continue` (1.0 ones
    /// must be ignored per RFC 9110 §10.1.1).
    pub fn expect_continue(&self) -> bool {
        self.expect_continue
    }

    /// The request method, e.g. "GET".
    pub fn method<'b>(&self, buf: &'b [u8]) -> &'b str {
        as_str(self.method.get(buf))
    }

    /// The raw request target, e.g. "/function/foo?x=1".
    pub fn target<'b>(&self, buf: &'b [u8]) -> &'b str {
        as_str(self.target.get(buf))
    }

    /// The request target before the first '?'.
    pub fn path<'b>(&self, buf: &'b [u8]) -> &'b str {
        let target = self.target(buf);
        target.split_once('?').map_or(target, |(p, _)| p)
    }

    /// The request target after the first '?'; `None` if there is no '?'.
    pub fn query<'b>(&self, buf: &'b [u8]) -> Option<&'b str> {
        self.target(buf).split_once('?').map(|(_, q)| q)
    }

    /// Value of the first header called `name` (case-insensitive), OWS-trimmed.
    pub fn header<'b>(&self, buf: &'b [u8], name: &str) -> Option<&'b [u8]> {
        self.headers.get(buf, name)
    }

    /// All headers in order, as (name, trimmed value).
    pub fn headers<'a, 'b>(
        &'a self,
        buf: &'b [u8],
    ) -> impl Iterator<Item = (&'b str, &'b [u8])> + 'a
    where
        'b: 'a,
    {
        self.headers.iter(buf)
    }
}

/// Parses a request head from the start of `buf`.
///
/// `Ok(None)` means more bytes are needed. The body (if any) starts at
/// `head_len()` and is framed as `body()` says. Errors: a head over
/// `max_head_bytes` (even while incomplete) → `HeadTooLarge`; more than
/// `max_headers` → `TooManyHeaders`; a Content-Length over `max_body_bytes`
/// → `BodyTooLarge` (before any body is read); CL+TE or differing CLs →
/// `ConflictingFraming`; a Transfer-Encoding other than `chunked` →
/// `UnsupportedTransferEncoding`; versions other than 1.0/1.1 →
/// `UnsupportedVersion`.
pub fn parse_request(buf: &[u8], limits: &Limits) -> Result<Option<RequestHead>, Error> {
    let window = head_window(buf, limits);
    let mut raw = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let slots = raw
        .get_mut(..limits.max_headers.min(MAX_HEADERS))
        .unwrap_or_default();
    let mut req = httparse::Request::new(slots);
    let status = req.parse(window).map_err(|e| match e {
        httparse::Error::HeaderName | httparse::Error::HeaderValue => Error::InvalidHeader,
        httparse::Error::TooManyHeaders => Error::TooManyHeaders,
        httparse::Error::Version => Error::UnsupportedVersion,
        httparse::Error::NewLine | httparse::Error::Status | httparse::Error::Token => {
            Error::InvalidRequestLine
        }
    })?;
    let head_len = match status {
        httparse::Status::Complete(n) => n,
        // The window is full and still no blank line: the head can only be larger.
        httparse::Status::Partial if buf.len() >= limits.max_head_bytes => {
            return Err(Error::HeadTooLarge);
        }
        httparse::Status::Partial => return Ok(None),
    };
    let (Some(method), Some(target), Some(minor_version)) = (req.method, req.path, req.version)
    else {
        return Err(Error::InvalidRequestLine);
    };
    let framing = analyze(req.headers)?;
    let body = framed_body(&framing, limits)?.unwrap_or(BodyKind::Empty);
    let mut keep_alive = persistent(minor_version, &framing);
    if minor_version == 0 && body == BodyKind::Chunked {
        keep_alive = false;
    }
    Ok(Some(RequestHead {
        method: Span::of(buf, method.as_bytes()).ok_or(Error::InvalidRequestLine)?,
        target: Span::of(buf, target.as_bytes()).ok_or(Error::InvalidRequestLine)?,
        minor_version,
        headers: HeaderSpans::collect(buf, req.headers, Error::InvalidHeader)?,
        head_len: head_len_u32(head_len)?,
        body,
        keep_alive,
        expect_continue: framing.expect_continue && minor_version >= 1,
    }))
}

/// Response head for the client side (function and peer calls).
#[derive(Debug, Clone)]
pub struct ResponseHead {
    status: u16,
    reason: Span,
    minor_version: u8,
    headers: HeaderSpans,
    head_len: u32,
    body: BodyKind,
    keep_alive: bool,
}

impl ResponseHead {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase (may be empty).
    pub fn reason<'b>(&self, buf: &'b [u8]) -> &'b str {
        as_str(self.reason.get(buf))
    }

    /// Minor HTTP version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub fn minor_version(&self) -> u8 {
        self.minor_version
    }

    /// Bytes of the head including the blank line; the body starts here.
    pub fn head_len(&self) -> usize {
        self.head_len as usize
    }

    /// How the body that follows is framed.
    pub fn body(&self) -> BodyKind {
        self.body
    }

    /// Whether the connection may be reused after this response's body.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// Value of the first header called `name` (case-insensitive), OWS-trimmed.
    pub fn header<'b>(&self, buf: &'b [u8], name: &str) -> Option<&'b [u8]> {
        self.headers.get(buf, name)
    }

    /// All headers in order, as (name, trimmed value).
    pub fn headers<'a, 'b>(
        &'a self,
        buf: &'b [u8],
    ) -> impl Iterator<Item = (&'b str, &'b [u8])> + 'a
    where
        'b: 'a,
    {
        self.headers.iter(buf)
    }
}

/// Parses a response head from the start of `buf`.
///
/// `request_was_head`: a response to HEAD has no body; 1xx/204/304 have no
/// body either; with neither Content-Length nor Transfer-Encoding the body is
/// `UntilClose` (and `keep_alive()` is false). 1xx interim responses (e.g.
/// 100 Continue) are returned like any head; callers skip them. Limits and
/// framing errors as for [`parse_request`]; status-line errors are
/// `InvalidStatusLine`.
pub fn parse_response(
    buf: &[u8],
    limits: &Limits,
    request_was_head: bool,
) -> Result<Option<ResponseHead>, Error> {
    let window = head_window(buf, limits);
    let mut raw = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let slots = raw
        .get_mut(..limits.max_headers.min(MAX_HEADERS))
        .unwrap_or_default();
    let mut res = httparse::Response::new(slots);
    let status = res.parse(window).map_err(|e| match e {
        httparse::Error::HeaderName | httparse::Error::HeaderValue => Error::InvalidHeader,
        httparse::Error::TooManyHeaders => Error::TooManyHeaders,
        httparse::Error::NewLine
        | httparse::Error::Status
        | httparse::Error::Token
        | httparse::Error::Version => Error::InvalidStatusLine,
    })?;
    let head_len = match status {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial if buf.len() >= limits.max_head_bytes => {
            return Err(Error::HeadTooLarge);
        }
        httparse::Status::Partial => return Ok(None),
    };
    let (Some(code), Some(minor_version)) = (res.code, res.version) else {
        return Err(Error::InvalidStatusLine);
    };
    let framing = analyze(res.headers)?;
    let mut keep_alive = persistent(minor_version, &framing);
    // RFC 9112 §6.3 step 1: these never have a body, whatever the headers say.
    let bodyless = request_was_head || (100..200).contains(&code) || code == 204 || code == 304;
    let body = if bodyless {
        BodyKind::Empty
    } else {
        match framed_body(&framing, limits)? {
            Some(kind) => kind,
            None => {
                keep_alive = false;
                BodyKind::UntilClose
            }
        }
    };
    if minor_version == 0 && body == BodyKind::Chunked {
        keep_alive = false;
    }
    Ok(Some(ResponseHead {
        status: code,
        reason: Span::of(buf, res.reason.unwrap_or("").as_bytes())
            .ok_or(Error::InvalidStatusLine)?,
        minor_version,
        headers: HeaderSpans::collect(buf, res.headers, Error::InvalidHeader)?,
        head_len: head_len_u32(head_len)?,
        body,
        keep_alive,
    }))
}

/// Decoder state; chunked framing is a byte-level state machine so input can
/// be split anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Length {
        remaining: u64,
    },
    /// Reading a chunk-size line. `phase`: 0 = hex digits, 1 = whitespace
    /// after the digits, 2 = inside chunk extensions.
    ChunkSize {
        size: u64,
        digits: u32,
        line: u32,
        phase: u8,
    },
    ChunkSizeLf {
        size: u64,
    },
    ChunkData {
        remaining: u64,
    },
    ChunkDataCr,
    ChunkDataLf,
    /// At the start of a trailer line (or of the final CRLF).
    TrailerStart {
        bytes: u32,
    },
    TrailerLine {
        bytes: u32,
    },
    /// Saw CR; `end` when it started the line (so LF ends the body).
    TrailerLf {
        bytes: u32,
        end: bool,
    },
    UntilClose,
    Done,
    Failed(Error),
}

/// Incremental body decoder (content-length and chunked, trailers skipped),
/// shared by server and client.
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    state: State,
    total: u64,
    max: u64,
}

impl BodyDecoder {
    /// A decoder for a body framed as `kind`, refusing more than
    /// `max_body_bytes` of decoded payload.
    pub fn new(kind: BodyKind, max_body_bytes: usize) -> Self {
        let max = max_body_bytes as u64;
        let state = match kind {
            BodyKind::Empty | BodyKind::Length(0) => State::Done,
            BodyKind::Length(n) if n > max => State::Failed(Error::BodyTooLarge),
            BodyKind::Length(n) => State::Length { remaining: n },
            BodyKind::Chunked => State::chunk_size(),
            BodyKind::UntilClose => State::UntilClose,
        };
        BodyDecoder {
            state,
            total: 0,
            max,
        }
    }

    /// Decodes as much of `input` as possible, appending payload bytes to `out`.
    ///
    /// Returns (bytes of input consumed, finished). Never consumes bytes past
    /// the end of the body, so a pipelined next request stays unconsumed.
    /// Errors: `BodyTooLarge` when the decoded total would exceed the limit
    /// (checked when a chunk size is read, before its data); `InvalidChunk`
    /// on bad hex, a missing CRLF, a chunk-size line over 1 KiB, size
    /// overflow or oversized trailers. After an error the decoder keeps
    /// returning it; payload appended before the error stays in `out`.
    /// `UntilClose` consumes everything and finishes only via [`Self::finish_eof`].
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(usize, bool), Error> {
        let mut pos = 0;
        while pos < input.len() && !matches!(self.state, State::Done | State::Failed(_)) {
            let rest = input.get(pos..).unwrap_or_default();
            match self.step(rest, out) {
                // Every live state consumes at least one byte of non-empty
                // input; the check is a guard against ever spinning.
                Ok(0) => break,
                Ok(used) => pos += used,
                Err(e) => {
                    self.state = State::Failed(e);
                    return Err(e);
                }
            }
        }
        match self.state {
            State::Failed(e) => Err(e),
            state => Ok((pos, state == State::Done)),
        }
    }

    /// Call when the peer closed the connection: `Ok` for `UntilClose` (which
    /// then finishes) and for an already finished body, `IncompleteBody`
    /// otherwise.
    pub fn finish_eof(&mut self) -> Result<(), Error> {
        match self.state {
            State::Done => Ok(()),
            State::UntilClose => {
                self.state = State::Done;
                Ok(())
            }
            State::Failed(e) => Err(e),
            _ => {
                self.state = State::Failed(Error::IncompleteBody);
                Err(Error::IncompleteBody)
            }
        }
    }

    /// True once the whole body (including chunked trailers) has been read.
    pub fn is_finished(&self) -> bool {
        self.state == State::Done
    }

    /// Payload bytes decoded so far.
    pub fn decoded_len(&self) -> u64 {
        self.total
    }

    /// Appends payload from `data` (bounded by `remaining`), returns bytes used.
    fn take(&mut self, data: &[u8], remaining: u64, out: &mut Vec<u8>) -> usize {
        let n = usize::try_from(remaining).map_or(data.len(), |r| r.min(data.len()));
        out.extend_from_slice(data.get(..n).unwrap_or_default());
        self.total = self.total.saturating_add(n as u64);
        n
    }

    /// Advances the state machine over a non-empty `input`; returns bytes used.
    fn step(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, Error> {
        let Some(&b) = input.first() else {
            return Ok(0);
        };
        match self.state {
            State::Done | State::Failed(_) => Ok(0),
            State::Length { remaining } => {
                let n = self.take(input, remaining, out);
                let left = remaining.saturating_sub(n as u64);
                self.state = if left == 0 {
                    State::Done
                } else {
                    State::Length { remaining: left }
                };
                Ok(n)
            }
            State::UntilClose => {
                let n = input.len() as u64;
                if self.total.saturating_add(n) > self.max {
                    return Err(Error::BodyTooLarge);
                }
                Ok(self.take(input, n, out))
            }
            State::ChunkData { remaining } => {
                let n = self.take(input, remaining, out);
                let left = remaining.saturating_sub(n as u64);
                self.state = if left == 0 {
                    State::ChunkDataCr
                } else {
                    State::ChunkData { remaining: left }
                };
                Ok(n)
            }
            State::ChunkSize {
                size,
                digits,
                line,
                phase,
            } => {
                self.state = chunk_size_byte(b, size, digits, line, phase)?;
                Ok(1)
            }
            State::ChunkSizeLf { size } => {
                if b != b'\n' {
                    return Err(Error::InvalidChunk);
                }
                self.state = if size == 0 {
                    State::TrailerStart { bytes: 0 }
                } else if self.total.saturating_add(size) > self.max {
                    return Err(Error::BodyTooLarge);
                } else {
                    State::ChunkData { remaining: size }
                };
                Ok(1)
            }
            State::ChunkDataCr => {
                if b != b'\r' {
                    return Err(Error::InvalidChunk);
                }
                self.state = State::ChunkDataLf;
                Ok(1)
            }
            State::ChunkDataLf => {
                if b != b'\n' {
                    return Err(Error::InvalidChunk);
                }
                self.state = State::chunk_size();
                Ok(1)
            }
            State::TrailerStart { bytes } | State::TrailerLine { bytes } => {
                let at_start = matches!(self.state, State::TrailerStart { .. });
                let bytes = bytes.saturating_add(1);
                if bytes > MAX_TRAILER_BYTES {
                    return Err(Error::InvalidChunk);
                }
                self.state = match b {
                    b'\r' => State::TrailerLf {
                        bytes,
                        end: at_start,
                    },
                    // Bare LF and NUL are rejected: lenient line endings are
                    // a smuggling vector.
                    b'\n' | 0 => return Err(Error::InvalidChunk),
                    _ => State::TrailerLine { bytes },
                };
                Ok(1)
            }
            State::TrailerLf { bytes, end } => {
                if b != b'\n' {
                    return Err(Error::InvalidChunk);
                }
                self.state = if end {
                    State::Done
                } else {
                    State::TrailerStart { bytes }
                };
                Ok(1)
            }
        }
    }
}

impl State {
    fn chunk_size() -> State {
        State::ChunkSize {
            size: 0,
            digits: 0,
            line: 0,
            phase: 0,
        }
    }
}

/// One byte of a chunk-size line: `1*HEXDIG *(BWS ";" ext) CRLF`.
fn chunk_size_byte(b: u8, size: u64, digits: u32, line: u32, phase: u8) -> Result<State, Error> {
    let line = line.saturating_add(1);
    if line > MAX_CHUNK_LINE {
        return Err(Error::InvalidChunk);
    }
    let next = |size, digits, phase| State::ChunkSize {
        size,
        digits,
        line,
        phase,
    };
    if b == b'\r' {
        return if digits == 0 {
            Err(Error::InvalidChunk)
        } else {
            Ok(State::ChunkSizeLf { size })
        };
    }
    match phase {
        0 => {
            if let Some(d) = (b as char).to_digit(16) {
                if size > u64::MAX >> 4 {
                    return Err(Error::InvalidChunk);
                }
                return Ok(next(
                    (size << 4) | u64::from(d),
                    digits.saturating_add(1),
                    0,
                ));
            }
            if digits == 0 {
                return Err(Error::InvalidChunk);
            }
            match b {
                b' ' | b'\t' => Ok(next(size, digits, 1)),
                b';' => Ok(next(size, digits, 2)),
                _ => Err(Error::InvalidChunk),
            }
        }
        1 => match b {
            b' ' | b'\t' => Ok(next(size, digits, 1)),
            b';' => Ok(next(size, digits, 2)),
            _ => Err(Error::InvalidChunk),
        },
        // Extensions are skipped, not interpreted; only control bytes that
        // could confuse line parsing are refused.
        _ => {
            if b == b'\t' || (b >= 0x20 && b != 0x7f) {
                Ok(next(size, digits, 2))
            } else {
                Err(Error::InvalidChunk)
            }
        }
    }
}

/// Standard reason phrase for common status codes, "Unknown" otherwise.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Appends `n` in decimal without allocating a String.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20]; // u64::MAX has 20 digits
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends `n` in lowercase hex without allocating a String.
fn push_hex(out: &mut Vec<u8>, mut n: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16]; // u64::MAX has 16 hex digits
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = HEX[(n & 0xf) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// RFC 9110 `tchar` lookup table (a table because header names are checked
/// on every written header).
const TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        i += 1;
    }
    t
};

fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Writes "HTTP/1.1 <status> <reason>\r\n". A status outside 100..=999
/// cannot be put on the wire and is written as 500.
pub fn write_status_line(out: &mut Vec<u8>, status: u16) {
    let status = if (100..=999).contains(&status) {
        status
    } else {
        500
    };
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(reason_phrase(status).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Writes one header line "name: value\r\n". Returns
/// `Err(Error::InvalidHeader)` if `name` is not a valid token or `value`
/// contains CR, LF or NUL (header injection defence); then nothing is appended.
pub fn write_header(out: &mut Vec<u8>, name: &str, value: &[u8]) -> Result<(), Error> {
    if !is_token(name) || value.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(Error::InvalidHeader);
    }
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// Writes `content-length: N\r\n`, `connection: close\r\n` when
/// `!keep_alive`, and the blank line ending the head.
pub fn finish_head(out: &mut Vec<u8>, content_length: usize, keep_alive: bool) {
    out.extend_from_slice(b"content-length: ");
    push_decimal(out, content_length as u64);
    out.extend_from_slice(b"\r\n");
    if !keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Writes "<METHOD> <target> HTTP/1.1\r\nhost: <host>\r\n" for the client
/// side. `method` must be a token, `target` non-empty without whitespace or
/// control bytes, `host` without whitespace or control bytes; otherwise
/// `Err(Error::InvalidRequestLine)` and nothing is appended.
pub fn write_request_line(
    out: &mut Vec<u8>,
    method: &str,
    target: &str,
    host: &str,
) -> Result<(), Error> {
    let clean = |s: &str| s.bytes().all(|b| b > b' ' && b != 0x7f);
    if !is_token(method) || target.is_empty() || !clean(target) || !clean(host) {
        return Err(Error::InvalidRequestLine);
    }
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// Appends one chunk ("<hex>\r\n<data>\r\n"); empty `data` writes the
/// last-chunk and the end of the (empty) trailer section, "0\r\n\r\n".
pub fn write_chunk(out: &mut Vec<u8>, data: &[u8]) {
    push_hex(out, data.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// True for hop-by-hop headers that a proxy must not forward (connection,
/// keep-alive, proxy-connection, te, trailer, transfer-encoding, upgrade,
/// proxy-authenticate, proxy-authorization) and also content-length, which
/// the writer sets itself.
pub fn is_hop_by_hop(name: &str) -> bool {
    const HOP: [&str; 10] = [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authenticate",
        "proxy-authorization",
        "content-length",
    ];
    HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}
