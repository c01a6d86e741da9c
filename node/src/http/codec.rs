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

mod body;
mod head;
mod write;

pub use body::BodyDecoder;
pub use head::{
    RequestHead, ResponseHead, parse_request, parse_request_into, parse_response,
    parse_response_into,
};
pub use write::{
    finish_head, is_hop_by_hop, is_token, reason_phrase, write_chunk, write_decimal_header,
    write_header, write_own_header, write_request_line, write_secs_header, write_status_line,
};
#[cfg(test)]
use write::{is_tchar, push_hex};

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
}

/// Bytes that are known to be ASCII/UTF-8 (validated by httparse) as `&str`;
/// falls back to "" instead of panicking if they are not.
fn as_str(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or("")
}
