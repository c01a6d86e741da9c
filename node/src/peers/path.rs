//! A job's path (`X-P2pfaas-Peers-List-Id` / `-Addr`: a JSON array of strings) kept as the bytes that
//! came in. It is checked once without decoding, searched in place, and passed on with this node
//! appended by copying bytes, so the peer path allocates nothing for it in steady state.

use std::borrow::Cow;

/// A validated JSON array of strings, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path<'a>(&'a [u8]);

impl<'a> Path<'a> {
    /// The empty path (a client's job).
    pub const EMPTY: Path<'static> = Path(b"[]");

    /// Checks that `raw` is a JSON array of UTF-8 strings; `None` when it is not.
    pub fn parse(raw: &'a [u8]) -> Option<Self> {
        let raw = raw.trim_ascii();
        let mut at = open(raw)?;
        while let Some((item, next)) = item(raw, at)? {
            let escaped = item.contains(&b'\\');
            if std::str::from_utf8(item).is_err() || (escaped && unescape(item).is_none()) {
                return None;
            }
            at = next;
        }
        Some(Self(raw))
    }

    /// The JSON text.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The members, as they appear in the JSON (escapes not decoded).
    fn raw_items(&self) -> impl Iterator<Item = &'a [u8]> {
        let raw = self.0;
        let mut at = open(raw);
        std::iter::from_fn(move || {
            let (item, next) = item(raw, at?)??;
            at = Some(next);
            Some(item)
        })
    }

    /// How many members it has.
    pub fn len(&self) -> usize {
        self.raw_items().count()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.raw_items().next().is_none()
    }

    /// The members, decoded (borrowed unless a member has escapes; ids and addresses rarely do).
    pub fn members(&self) -> impl Iterator<Item = Cow<'a, str>> {
        self.raw_items().filter_map(|item| {
            if item.contains(&b'\\') {
                unescape(item).map(Cow::Owned)
            } else {
                std::str::from_utf8(item).ok().map(Cow::Borrowed)
            }
        })
    }

    /// Whether `member` is on it.
    pub fn contains(&self, member: &str) -> bool {
        self.members().any(|m| m == member)
    }

    /// The members, owned (for the JSON protocol).
    pub fn to_strings(&self) -> Vec<String> {
        self.members().map(Cow::into_owned).collect()
    }

    /// Writes this path with `member` appended to `out` (cleared first).
    pub fn append_into(&self, member: &str, out: &mut Vec<u8>) {
        out.clear();
        let inner = &self.0[1..self.0.len() - 1];
        out.push(b'[');
        out.extend_from_slice(inner);
        if !inner.trim_ascii().is_empty() {
            out.push(b',');
        }
        push_string(out, member);
        out.push(b']');
    }

    /// Writes `member` followed by this path's members to `out` (cleared first).
    pub fn prepend_into(&self, member: &str, out: &mut Vec<u8>) {
        out.clear();
        let inner = &self.0[1..self.0.len() - 1];
        out.push(b'[');
        push_string(out, member);
        if !inner.trim_ascii().is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(inner);
        out.push(b']');
    }
}

/// Writes `s` as a JSON string.
pub fn push_string(out: &mut Vec<u8>, s: &str) {
    // Writing to a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Writes a JSON array of strings (a one-member path, or a list built from parts).
pub fn write_list<'s>(out: &mut Vec<u8>, members: impl IntoIterator<Item = &'s str>) {
    out.clear();
    out.push(b'[');
    for (i, m) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_string(out, m);
    }
    out.push(b']');
}

/// Writes `[first, rest…]` for a JSON array of numbers `rest`, padded with zeros to `n` members after
/// `first`: one entry per node on a timing list (`rest` that is not such an array counts as empty).
pub fn prepend_number(out: &mut Vec<u8>, first: f64, rest: Option<&[u8]>, n: usize) {
    out.clear();
    out.push(b'[');
    // Written as serde_json writes an `f64` (`0.0`, `1.5e-6`): the format the timing lists always had.
    let _ = serde_json::to_writer(&mut *out, &first);
    let mut count = 0;
    if let Some(inner) = rest.and_then(numbers_inner) {
        for number in inner.split(|b| *b == b',').map(<[u8]>::trim_ascii) {
            if !number.is_empty() {
                out.push(b',');
                out.extend_from_slice(number);
                count += 1;
            }
        }
    }
    for _ in count..n {
        out.extend_from_slice(b",0.0");
    }
    out.push(b']');
}

/// The inside of a JSON array of numbers (between the brackets), if `raw` is one.
fn numbers_inner(raw: &[u8]) -> Option<&[u8]> {
    let inner = raw.trim_ascii().strip_prefix(b"[")?.strip_suffix(b"]")?;
    inner
        .iter()
        .all(|b| b.is_ascii_digit() || b",.-+eE \t".contains(b))
        .then_some(inner)
}

/// Past the opening bracket.
fn open(raw: &[u8]) -> Option<usize> {
    (raw.first() == Some(&b'[') && raw.last() == Some(&b']') && raw.len() >= 2).then_some(1)
}

/// The string starting at or after `at` (past whitespace) and where the next one may start; `Ok(None)`
/// at the closing bracket; `None` when the text is not an array of strings.
#[allow(clippy::type_complexity, reason = "a scanner's three outcomes")]
fn item(raw: &[u8], at: usize) -> Option<Option<(&[u8], usize)>> {
    let skip = |mut i: usize| {
        while raw.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        i
    };
    let mut i = skip(at);
    if i == raw.len() - 1 {
        return (raw[i] == b']').then_some(None);
    }
    if raw[i] != b'"' {
        return None;
    }
    let start = i + 1;
    i = start;
    loop {
        match raw.get(i)? {
            b'\\' => i += 2,
            b'"' => break,
            c if *c < 0x20 => return None,
            _ => i += 1,
        }
    }
    let end = i;
    i = skip(i + 1);
    match raw.get(i)? {
        b',' if skip(i + 1) < raw.len() - 1 => Some(Some((&raw[start..end], i + 1))),
        b']' if i == raw.len() - 1 => Some(Some((&raw[start..end], i))),
        _ => None,
    }
}

/// Decodes a string with escapes.
fn unescape(item: &[u8]) -> Option<String> {
    let mut quoted = Vec::with_capacity(item.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(item);
    quoted.push(b'"');
    serde_json::from_slice(&quoted).ok()
}

#[cfg(test)]
mod tests;
