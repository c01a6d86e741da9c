//! A job's path (`X-P2pfaas-Peers-List-Id` / `-Addr`: a JSON array of strings) kept as the bytes that
//! came in. It is checked once without decoding, searched in place, and passed on with this node
//! appended by copying bytes, so the peer path allocates nothing for it in steady state.

use std::borrow::Cow;
use std::ops::Range;

/// A validated JSON array of strings, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path<'a> {
    text: &'a str,
    /// Members, counted while checking (a forwarded job's lists are asked their length).
    len: usize,
}

impl<'a> Path<'a> {
    /// The empty path (a client's job).
    pub const EMPTY: Path<'static> = Path { text: "[]", len: 0 };

    /// Checks that `raw` is a JSON array of UTF-8 strings; `None` when it is not.
    pub fn parse(raw: &'a [u8]) -> Option<Self> {
        let raw = raw.trim_ascii();
        // Checked whole, once: outside its strings the scanner admits only ASCII, so this is the same
        // as checking each member.
        let text = std::str::from_utf8(raw).ok()?;
        let mut at = open(raw)?;
        let mut len = 0;
        while let Some((range, next)) = item(raw, at)? {
            let member = text.get(range)?;
            if member.as_bytes().contains(&b'\\') && unescape(member).is_none() {
                return None;
            }
            at = next;
            len += 1;
        }
        Some(Self { text, len })
    }

    /// The JSON text.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The members, as they appear in the JSON (escapes not decoded).
    fn raw_items(&self) -> impl Iterator<Item = &'a str> {
        let text = self.text;
        let raw = text.as_bytes();
        let mut at = open(raw);
        std::iter::from_fn(move || {
            let (range, next) = item(raw, at?)??;
            at = Some(next);
            // The scanner splits at ASCII quotes only, so the range is on character boundaries.
            text.get(range)
        })
    }

    /// How many members it has.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The members, decoded (borrowed unless a member has escapes; ids and addresses rarely do).
    pub fn members(&self) -> impl Iterator<Item = Cow<'a, str>> {
        self.raw_items().filter_map(decode)
    }

    /// Whether `member` is on it.
    pub fn contains(&self, member: &str) -> bool {
        self.raw_items().any(|item| {
            if item.as_bytes().contains(&b'\\') {
                unescape(item).is_some_and(|m| m == member)
            } else {
                item == member
            }
        })
    }

    /// The members, owned (for the JSON protocol).
    pub fn to_strings(&self) -> Vec<String> {
        self.members().map(Cow::into_owned).collect()
    }

    /// Writes this path with `member` appended to `out` (cleared first).
    pub fn append_into(&self, member: &Quoted, out: &mut Vec<u8>) {
        out.clear();
        let inner = self.inner();
        out.push(b'[');
        out.extend_from_slice(inner);
        if !inner.trim_ascii().is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(member.as_bytes());
        out.push(b']');
    }

    /// Writes `member` followed by this path's members to `out` (cleared first).
    pub fn prepend_into(&self, member: &Quoted, out: &mut Vec<u8>) {
        out.clear();
        let inner = self.inner();
        out.push(b'[');
        out.extend_from_slice(member.as_bytes());
        if !inner.trim_ascii().is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(inner);
        out.push(b']');
    }

    /// Writes `first` followed by `map` of each member (decoded) to `out` (cleared first): a list
    /// derived from this one, such as the bare hosts of a list of addresses.
    pub fn prepend_mapped(&self, first: &Quoted, map: impl Fn(&str) -> &str, out: &mut Vec<u8>) {
        out.clear();
        out.push(b'[');
        out.extend_from_slice(first.as_bytes());
        for item in self.raw_items() {
            if item.as_bytes().contains(&b'\\') {
                if let Some(member) = unescape(item) {
                    out.push(b',');
                    push_string(out, map(&member));
                }
            } else {
                // A part of a member without escapes needs none either: it has no quote, backslash or
                // control character, which are all that JSON escapes.
                out.extend_from_slice(b",\"");
                out.extend_from_slice(map(item).as_bytes());
                out.push(b'"');
            }
        }
        out.push(b']');
    }

    /// Between the brackets.
    fn inner(&self) -> &'a [u8] {
        let raw = self.as_bytes();
        &raw[1..raw.len() - 1]
    }
}

/// A string written once as a JSON string, quotes included, to be copied into paths: this node's id,
/// address and host are on every forwarded job's lists, and are escaped only when they are set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quoted(Vec<u8>);

impl Quoted {
    /// `s` as a JSON string.
    pub fn new(s: &str) -> Self {
        let mut out = Vec::with_capacity(s.len() + 2);
        push_string(&mut out, s);
        Self(out)
    }

    /// The JSON text (with its quotes).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Default for Quoted {
    fn default() -> Self {
        Self::new("")
    }
}

/// A member as it appears in the JSON, decoded.
fn decode(item: &str) -> Option<Cow<'_, str>> {
    if item.as_bytes().contains(&b'\\') {
        unescape(item).map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(item))
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
    match rest.and_then(numbers_inner) {
        // What every p2pfaas node writes: copied whole.
        Some(Numbers::Compact { inner, commas }) => {
            out.push(b',');
            out.extend_from_slice(inner);
            count = commas + 1;
        }
        Some(Numbers::Spaced(inner)) => {
            for number in inner.split(|b| *b == b',').map(<[u8]>::trim_ascii) {
                if !number.is_empty() {
                    out.push(b',');
                    out.extend_from_slice(number);
                    count += 1;
                }
            }
        }
        None => {}
    }
    for _ in count..n {
        out.extend_from_slice(b",0.0");
    }
    out.push(b']');
}

/// The inside of a JSON array of numbers (between the brackets).
enum Numbers<'a> {
    /// Without whitespace or empty members: `commas + 1` members, to copy as they are.
    Compact { inner: &'a [u8], commas: usize },
    /// Anything else: members to trim, empty ones to skip.
    Spaced(&'a [u8]),
}

/// The inside of `raw` if it is a JSON array of numbers (loosely: the characters numbers use).
fn numbers_inner(raw: &[u8]) -> Option<Numbers<'_>> {
    let inner = raw.trim_ascii().strip_prefix(b"[")?.strip_suffix(b"]")?;
    let (mut commas, mut compact, mut after_comma) = (0, true, true);
    for b in inner {
        match b {
            b'0'..=b'9' | b'.' | b'-' | b'+' | b'e' | b'E' => after_comma = false,
            b',' => {
                compact &= !after_comma;
                after_comma = true;
                commas += 1;
            }
            b' ' | b'\t' => compact = false,
            _ => return None,
        }
    }
    // An empty inside, or a trailing comma, is not compact either.
    Some(if compact && !after_comma {
        Numbers::Compact { inner, commas }
    } else {
        Numbers::Spaced(inner)
    })
}

/// Past the opening bracket.
fn open(raw: &[u8]) -> Option<usize> {
    (raw.first() == Some(&b'[') && raw.last() == Some(&b']') && raw.len() >= 2).then_some(1)
}

/// Where the string starting at or after `at` (past whitespace) lies, and where the next one may start; `Ok(None)`
/// at the closing bracket; `None` when the text is not an array of strings.
#[allow(clippy::type_complexity, reason = "a scanner's three outcomes")]
fn item(raw: &[u8], at: usize) -> Option<Option<(Range<usize>, usize)>> {
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
        b',' if skip(i + 1) < raw.len() - 1 => Some(Some((start..end, i + 1))),
        b']' if i == raw.len() - 1 => Some(Some((start..end, i))),
        _ => None,
    }
}

/// Decodes a string with escapes.
fn unescape(item: &str) -> Option<String> {
    let mut quoted = String::with_capacity(item.len() + 2);
    quoted.push('"');
    quoted.push_str(item);
    quoted.push('"');
    serde_json::from_str(&quoted).ok()
}

#[cfg(test)]
mod tests;
