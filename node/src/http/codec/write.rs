//! Writers for heads and chunks, appending to caller-owned buffers; they refuse input that would break the
//! framing (header injection), appending nothing in that case.

use super::Error;

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
        508 => "Loop Detected",
        _ => "Unknown",
    }
}

/// Appends `n` in decimal without allocating a String.
pub(super) fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
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

/// Writes the header line `name: <secs>\r\n` (`name: [<secs>]\r\n` when `list`): `d` in seconds with
/// six decimals (the original's `%f`), from integer nanoseconds rounded to the nearest microsecond
/// (half up), which is what `{:.6}` of `as_secs_f64` prints away from a tie, without float formatting
/// on every response. `name` is one of the node's own header names.
pub fn write_secs_header(out: &mut Vec<u8>, name: &str, d: std::time::Duration, list: bool) {
    let micros = u64::try_from(d.as_nanos().saturating_add(500) / 1000).unwrap_or(u64::MAX);
    // ": [" + up to 14 integer digits + "." + 6 decimals + "]\r\n", written backwards so the line
    // after the name is one copy.
    let mut line = [0u8; 3 + 14 + 1 + 6 + 3];
    let mut i = line.len();
    let mut put = |b: u8| {
        i -= 1;
        line[i] = b;
    };
    put(b'\n');
    put(b'\r');
    if list {
        put(b']');
    }
    let (mut whole, mut frac) = (micros / 1_000_000, micros % 1_000_000);
    for _ in 0..6 {
        put(b'0' + (frac % 10) as u8);
        frac /= 10;
    }
    put(b'.');
    loop {
        put(b'0' + (whole % 10) as u8);
        whole /= 10;
        if whole == 0 {
            break;
        }
    }
    if list {
        put(b'[');
    }
    put(b' ');
    put(b':');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&line[i..]);
}

/// Appends `n` in lowercase hex without allocating a String.
pub(super) fn push_hex(out: &mut Vec<u8>, mut n: u64) {
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

pub(super) fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Writes `HTTP/1.1 <status> <reason>\r\n`. A status outside 100..=999
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

/// Writes `<METHOD> <target> HTTP/1.1\r\nhost: <host>\r\n` for the client
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

/// Appends one chunk (`<hex>\r\n<data>\r\n`); empty `data` writes the
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
