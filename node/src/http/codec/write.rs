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

/// "00", "01", … "99": two decimal digits per table read.
const DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Writes the header line `name: <secs>\r\n` (`name: [<secs>]\r\n` when `list`): `d` in seconds with
/// six decimals (the original's `%f`), from integer nanoseconds rounded to the nearest microsecond
/// (half up), which is what `{:.6}` of `as_secs_f64` prints away from a tie, without float formatting
/// on every response. `name` is one of the node's own header names.
pub fn write_secs_header(out: &mut Vec<u8>, name: &str, d: std::time::Duration, list: bool) {
    debug_assert!(is_token(name), "not a header name: {name:?}");
    let micros = u64::try_from(d.as_nanos().saturating_add(500) / 1000).unwrap_or(u64::MAX);
    let (mut whole, frac) = (micros / 1_000_000, (micros % 1_000_000) as usize);
    // The line after the name, laid out around the decimal point at POINT: ": [" and up to 14
    // integer digits written backwards before it, the six decimals and "]\r\n" after it.
    const POINT: usize = 18;
    let mut line = [0u8; POINT + 1 + 6 + 3];
    let mut start = POINT;
    loop {
        start -= 1;
        line[start] = b'0' + (whole % 10) as u8;
        whole /= 10;
        if whole == 0 {
            break;
        }
    }
    if list {
        start -= 1;
        line[start] = b'[';
    }
    start -= 2;
    line[start..start + 2].copy_from_slice(b": ");
    line[POINT] = b'.';
    for (k, pair) in [frac / 10_000, frac / 100 % 100, frac % 100]
        .into_iter()
        .enumerate()
    {
        let at = POINT + 1 + 2 * k;
        line[at..at + 2].copy_from_slice(&DIGIT_PAIRS[2 * pair..2 * pair + 2]);
    }
    let mut end = POINT + 7;
    if list {
        line[end] = b']';
        end += 1;
    }
    line[end..end + 2].copy_from_slice(b"\r\n");
    end += 2;
    out.reserve(name.len() + end - start);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&line[start..end]);
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

/// Whether `s` is an RFC 9110 token, what a header name must be. Without an early exit, so the loop
/// is a table load and an `and` per byte (names are short, and the valid ones, which are nearly all
/// of them, are read to the end anyway).
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().fold(true, |ok, b| ok & is_tchar(b))
}

/// True when `value` holds no CR, LF or NUL, the bytes that would end a header line early (header
/// injection) or that parsers refuse. Eight bytes at a time (values such as peer and timing lists run
/// to hundreds of bytes): a value of 8 bytes or more is read as whole words, the last one overlapping
/// the one before it.
fn is_clean_value(value: &[u8]) -> bool {
    let (words, rest) = value.as_chunks::<8>();
    if words.is_empty() {
        return !rest.iter().any(|b| matches!(b, b'\r' | b'\n' | 0));
    }
    let last = value.last_chunk::<8>().into_iter();
    !words
        .iter()
        .chain(last)
        .any(|w| has_line_break(u64::from_le_bytes(*w)))
}

/// Whether any byte of `word` is CR, LF or NUL: the classic zero-byte test (a byte of `x` is zero iff
/// subtracting 1 borrows into its high bit while that bit was clear) on the word XORed with each.
fn has_line_break(word: u64) -> bool {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGHS: u64 = ONES << 7;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    zero_byte(word)
        | zero_byte(word ^ (ONES * u64::from(b'\r')))
        | zero_byte(word ^ (ONES * u64::from(b'\n')))
        != 0
}

/// Writes `HTTP/1.1 <status> <reason>\r\n`. A status outside 100..=999
/// cannot be put on the wire and is written as 500.
pub fn write_status_line(out: &mut Vec<u8>, status: u16) {
    let status = if (100..=999).contains(&status) {
        status
    } else {
        500
    };
    let reason = reason_phrase(status).as_bytes();
    // Three digits, so the code and the space around it are one 5-byte copy.
    let digit = |n: u16| b'0' + (n % 10) as u8;
    let code = [
        b' ',
        digit(status / 100),
        digit(status / 10),
        digit(status),
        b' ',
    ];
    out.reserve(8 + code.len() + reason.len() + 2);
    out.extend_from_slice(b"HTTP/1.1");
    out.extend_from_slice(&code);
    out.extend_from_slice(reason);
    out.extend_from_slice(b"\r\n");
}

/// Writes the header line `name: <n>\r\n`, `n` in decimal. `name` is one of the node's own header
/// names (as for [`write_secs_header`]); the value, digits only, cannot break the framing.
pub fn write_decimal_header(out: &mut Vec<u8>, name: &str, n: u64) {
    debug_assert!(is_token(name), "not a header name: {name:?}");
    // ": " + up to 20 digits + "\r\n", written backwards so the line after the name is one copy.
    let mut line = [0u8; 2 + 20 + 2];
    let start = put_decimal_line(&mut line, n);
    out.reserve(name.len() + line.len() - start);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&line[start..]);
}

/// Fills the end of `line` with ": <n>\r\n" and returns where it starts.
fn put_decimal_line(line: &mut [u8; 24], mut n: u64) -> usize {
    let mut i = line.len() - 2;
    line[i..].copy_from_slice(b"\r\n");
    loop {
        i -= 1;
        line[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    line[i - 2..i].copy_from_slice(b": ");
    i - 2
}

/// Writes one header line "name: value\r\n". Returns
/// `Err(Error::InvalidHeader)` if `name` is not a valid token or `value`
/// contains CR, LF or NUL (header injection defence); then nothing is appended.
pub fn write_header(out: &mut Vec<u8>, name: &str, value: &[u8]) -> Result<(), Error> {
    if !is_token(name) || !is_clean_value(value) {
        return Err(Error::InvalidHeader);
    }
    write_header_line(out, name.as_bytes(), value);
    Ok(())
}

/// [`write_header`] for a name that is one of the node's own constants (a unit test proves each is a
/// token, and debug builds assert it here): only the value is checked.
pub fn write_own_header(out: &mut Vec<u8>, name: &str, value: &[u8]) -> Result<(), Error> {
    debug_assert!(is_token(name), "not a header name: {name:?}");
    if !is_clean_value(value) {
        return Err(Error::InvalidHeader);
    }
    write_header_line(out, name.as_bytes(), value);
    Ok(())
}

/// Appends "name: value\r\n" with one capacity check; the caller has made sure both are valid.
fn write_header_line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.reserve(name.len() + value.len() + 4);
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Writes `content-length: N\r\n`, `connection: close\r\n` when
/// `!keep_alive`, and the blank line ending the head.
pub fn finish_head(out: &mut Vec<u8>, content_length: usize, keep_alive: bool) {
    let mut line = [0u8; 24];
    let start = put_decimal_line(&mut line, content_length as u64);
    let close: &[u8] = if keep_alive {
        b"\r\n"
    } else {
        b"connection: close\r\n\r\n"
    };
    out.reserve(14 + line.len() - start + close.len());
    out.extend_from_slice(b"content-length");
    out.extend_from_slice(&line[start..]);
    out.extend_from_slice(close);
}

/// Writes `<METHOD> <target> HTTP/1.1\r\nhost: <host>\r\n` for the client
/// side. `method` must be a token, `target` non-empty without whitespace or
/// control bytes, `host` without whitespace or control bytes; otherwise
/// `Err(Error::InvalidRequestLine)` and nothing is appended.
pub fn write_request_line(
    out: &mut Vec<u8>,
    method: &str,
    target: &[u8],
    host: &str,
) -> Result<(), Error> {
    let clean = |s: &[u8]| s.iter().all(|b| *b > b' ' && *b != 0x7f);
    if !is_token(method) || target.is_empty() || !clean(target) || !clean(host.as_bytes()) {
        return Err(Error::InvalidRequestLine);
    }
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target);
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
    // Dispatch on the length first: most names match no length here and cost one compare.
    let is = |h: &str| name.eq_ignore_ascii_case(h);
    match name.len() {
        2 => is("te"),
        7 => is("trailer") || is("upgrade"),
        10 => is("connection") || is("keep-alive"),
        14 => is("content-length"),
        16 => is("proxy-connection"),
        17 => is("transfer-encoding"),
        18 => is("proxy-authenticate"),
        19 => is("proxy-authorization"),
        _ => false,
    }
}
