//! Request and response heads: httparse over a bounded window, header spans, and the framing analysis
//! (Content-Length / Transfer-Encoding / keep-alive) that decides how the body that follows is read.

use super::{BodyKind, Error, Limits, MAX_HEADERS, Span, as_str};

/// Header spans shared by request and response heads.
#[derive(Debug, Clone)]
struct HeaderSpans {
    items: [(Span, Span); MAX_HEADERS],
    count: usize,
}

impl HeaderSpans {
    const EMPTY: Self = HeaderSpans {
        items: [(Span { start: 0, end: 0 }, Span { start: 0, end: 0 }); MAX_HEADERS],
        count: 0,
    };

    /// Replaces the spans with those of `headers` (parsed from `buf`), in place.
    fn fill(
        &mut self,
        buf: &[u8],
        headers: &[httparse::Header<'_>],
        err: Error,
    ) -> Result<(), Error> {
        self.count = 0;
        // httparse was given at most MAX_HEADERS slots, so zip never drops one.
        // httparse already trimmed the values' surrounding whitespace (and a header line cannot fold,
        // obsolete folding being off), so the spans are taken as they are.
        for (slot, h) in self.items.iter_mut().zip(headers) {
            let name = Span::of(buf, h.name.as_bytes()).ok_or(err)?;
            let value = Span::of(buf, h.value).ok_or(err)?;
            *slot = (name, value);
        }
        self.count = headers.len().min(MAX_HEADERS);
        Ok(())
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
        let headers = self.slice();
        // httparse accepted every name as a token, so names are ASCII: one UTF-8 check of the header
        // block from the first name to the end of the last (all ASCII unless a value carries obs-text)
        // stands in for one check per name. The last value is left out: no name is read from it.
        let block = match (headers.first(), headers.last()) {
            (Some((first, _)), Some((last, _))) => Span {
                start: first.start,
                end: last.end,
            },
            _ => Span::default(),
        };
        let text = std::str::from_utf8(block.get(buf)).ok();
        headers.iter().map(move |(n, v)| {
            let offset = |at: u32| at.saturating_sub(block.start) as usize;
            let name = text
                .and_then(|t| t.get(offset(n.start)..offset(n.end)))
                .unwrap_or_else(|| as_str(n.get(buf)));
            (name, v.get(buf))
        })
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
        // Most headers are none of the four: their name's length rules them out with one compare.
        if !matches!(h.name.len(), 6 | 10 | 14 | 17) {
            continue;
        }
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
    /// Length of the target's path: up to its first '?', found once at parse time.
    path_len: u32,
    minor_version: u8,
    headers: HeaderSpans,
    head_len: u32,
    body: BodyKind,
    keep_alive: bool,
    expect_continue: bool,
}

impl Default for RequestHead {
    /// An empty head, for [`parse_request_into`] to fill.
    fn default() -> Self {
        Self {
            method: Span::default(),
            target: Span::default(),
            path_len: 0,
            minor_version: 1,
            headers: HeaderSpans::EMPTY,
            head_len: 0,
            body: BodyKind::Empty,
            keep_alive: false,
            expect_continue: false,
        }
    }
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
        // The common ones are constants: no UTF-8 check.
        match self.method.get(buf) {
            b"GET" => "GET",
            b"POST" => "POST",
            b"PUT" => "PUT",
            b"DELETE" => "DELETE",
            other => as_str(other),
        }
    }

    /// The raw request target, e.g. "/function/foo?x=1".
    pub fn target<'b>(&self, buf: &'b [u8]) -> &'b str {
        as_str(self.target.get(buf))
    }

    /// The request target before the first '?'.
    pub fn path<'b>(&self, buf: &'b [u8]) -> &'b str {
        let target = self.target(buf);
        target.get(..self.path_len as usize).unwrap_or(target)
    }

    /// The request target after the first '?'; `None` if there is no '?'.
    pub fn query<'b>(&self, buf: &'b [u8]) -> Option<&'b str> {
        // No '?' (the path is the whole target): no UTF-8 check of the target for nothing.
        if self.path_len as usize >= self.target.len() {
            return None;
        }
        self.target(buf)
            .get(self.path_len as usize..)?
            .strip_prefix('?')
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
    let mut head = RequestHead::default();
    Ok(parse_request_into(buf, limits, &mut head)?.then_some(head))
}

/// [`parse_request`] into `head`, which a connection reuses for all its requests: the header spans
/// (~1 KB) are written in place instead of being moved out on every request. `Ok(true)` when a head
/// was parsed; after `Ok(false)` or an error, `head` holds nothing meaningful.
pub fn parse_request_into(
    buf: &[u8],
    limits: &Limits,
    head: &mut RequestHead,
) -> Result<bool, Error> {
    let window = head_window(buf, limits);
    // Left uninitialised: httparse writes the slots it uses (2 KB not cleared per request).
    let mut raw = [std::mem::MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
    let slots = raw
        .get_mut(..limits.max_headers.min(MAX_HEADERS))
        .unwrap_or_default();
    let mut req = httparse::Request::new(&mut []);
    let status = req
        .parse_with_uninit_headers(window, slots)
        .map_err(|e| match e {
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
        httparse::Status::Partial => return Ok(false),
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
    head.method = Span::of(buf, method.as_bytes()).ok_or(Error::InvalidRequestLine)?;
    head.target = Span::of(buf, target.as_bytes()).ok_or(Error::InvalidRequestLine)?;
    let path_len = target
        .bytes()
        .position(|b| b == b'?')
        .unwrap_or(target.len());
    // The target fits in the head, whose length fits in u32.
    head.path_len = head_len_u32(path_len)?;
    head.minor_version = minor_version;
    head.headers.fill(buf, req.headers, Error::InvalidHeader)?;
    head.head_len = head_len_u32(head_len)?;
    head.body = body;
    head.keep_alive = keep_alive;
    head.expect_continue = framing.expect_continue && minor_version >= 1;
    Ok(true)
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

impl Default for ResponseHead {
    /// An empty head, for [`parse_response_into`] to fill.
    fn default() -> Self {
        Self {
            status: 0,
            reason: Span::default(),
            minor_version: 1,
            headers: HeaderSpans::EMPTY,
            head_len: 0,
            body: BodyKind::Empty,
            keep_alive: false,
        }
    }
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
    let mut head = ResponseHead::default();
    Ok(parse_response_into(buf, limits, request_was_head, &mut head)?.then_some(head))
}

/// [`parse_response`] into `head`, which a client connection reuses for all its exchanges (as
/// [`parse_request_into`] does for a server's): no header slots cleared and no head moved per response.
/// `Ok(true)` when a head was parsed; after `Ok(false)` or an error, `head` holds nothing meaningful.
pub fn parse_response_into(
    buf: &[u8],
    limits: &Limits,
    request_was_head: bool,
    head: &mut ResponseHead,
) -> Result<bool, Error> {
    let window = head_window(buf, limits);
    // Left uninitialised, as for a request: httparse writes the slots it uses.
    let mut raw = [std::mem::MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
    let slots = raw
        .get_mut(..limits.max_headers.min(MAX_HEADERS))
        .unwrap_or_default();
    let mut res = httparse::Response::new(&mut []);
    let status = httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut res, window, slots)
        .map_err(|e| match e {
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
        httparse::Status::Partial => return Ok(false),
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
    head.status = code;
    head.reason =
        Span::of(buf, res.reason.unwrap_or("").as_bytes()).ok_or(Error::InvalidStatusLine)?;
    head.minor_version = minor_version;
    head.headers.fill(buf, res.headers, Error::InvalidHeader)?;
    head.head_len = head_len_u32(head_len)?;
    head.body = body;
    head.keep_alive = keep_alive;
    Ok(true)
}
