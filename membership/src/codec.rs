//! Versioned binary encoding of [`Message`], with bounded decoding.
//!
//! Layout (all integers big-endian; `str` = u8 length + UTF-8, 1..=255 bytes):
//!
//! ```text
//! magic "PM" | version u8 (=2) | kind u8
//! sender: id str, addr str, incarnation u32
//! to:     u8 length + UTF-8 (0 = unknown recipient id)
//! load:   version u64, running u32, queued u32, slots u32, queue_len u32,
//!         utilisation f32, n u8, n × function str, group (u8 length + UTF-8, 0 = none)
//! body:   Ping/Ack: seq u32 | PingReq: seq u32, target str
//!         IndirectPing/IndirectAck: seq u32, origin str | Join/Sync/Gossip: —
//! updates: n u16, n × (id str, addr str, incarnation u32, state u8)
//! loads:   n u16, n × (id str, age_ms u32, load)
//! ```
//!
//! Decoding never trusts a length: each count is checked against the bytes
//! left before anything is allocated, every string is bounded by its u8
//! length, and trailing bytes are an error. Nothing here panics on input.

use crate::{
    config::MAX_LOAD_BYTES,
    error::DecodeError,
    member::{Identity, Load, State},
    message::{Body, Message, RelayedLoad, Update},
};

const MAGIC: [u8; 2] = *b"PM";
/// Wire version written by this build (and the only one it reads).
pub(crate) const VERSION: u8 = 2;

/// Smallest encoded update: two 1-byte strings, incarnation, state.
const MIN_UPDATE_BYTES: usize = 2 + 2 + 4 + 1;
/// Smallest encoded relayed load: 1-byte id, age, empty load.
const MIN_RELAYED_LOAD_BYTES: usize = 2 + 4 + LOAD_FIXED_BYTES;
/// Load without its function names and group (their length bytes included).
const LOAD_FIXED_BYTES: usize = 8 + 4 * 4 + 4 + 1 + 1;

// === encoding ===

/// Encoded size of a load (version included).
pub(crate) fn load_len(load: &Load) -> usize {
    LOAD_FIXED_BYTES + load.functions.iter().map(|f| 1 + f.len()).sum::<usize>() + load.group.len()
}

/// Encoded size of one update.
pub(crate) fn update_len(u: &Update) -> usize {
    2 + u.identity.id.len() + u.identity.addr.len() + 4 + 1
}

/// Encoded size of one relayed load.
pub(crate) fn relayed_load_len(l: &RelayedLoad) -> usize {
    1 + l.id.len() + 4 + load_len(&l.load)
}

/// Whether a string fits the wire's `str` (callers validate before encoding).
pub(crate) fn valid_str(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255
}

/// Whether a load can be encoded: at most 255 valid names, `MAX_LOAD_BYTES`.
pub(crate) fn valid_load(load: &Load) -> bool {
    load.functions.len() <= 255
        && load.functions.iter().all(|f| valid_str(f))
        && load.group.len() <= 255
        && load_len(load) <= MAX_LOAD_BYTES
}

/// Appends the encoding of `m` to `out`. Strings and loads must already be
/// valid (the core only builds messages from validated data).
pub(crate) fn encode(m: &Message, out: &mut Vec<u8>) {
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(kind(&m.body));
    put_str(out, &m.sender.id);
    put_str(out, &m.sender.addr);
    out.extend_from_slice(&m.incarnation.to_be_bytes());
    match &m.to {
        Some(to) => put_str(out, to),
        None => out.push(0),
    }
    put_load(out, m.load_version, &m.load);
    match &m.body {
        Body::Ping { seq } | Body::Ack { seq } => out.extend_from_slice(&seq.to_be_bytes()),
        Body::PingReq { seq, target: s }
        | Body::IndirectPing { seq, origin: s }
        | Body::IndirectAck { seq, origin: s } => {
            out.extend_from_slice(&seq.to_be_bytes());
            put_str(out, s);
        }
        Body::Join | Body::Sync | Body::Gossip => {}
    }
    put_count(out, m.updates.len());
    for u in &m.updates {
        put_str(out, &u.identity.id);
        put_str(out, &u.identity.addr);
        out.extend_from_slice(&u.incarnation.to_be_bytes());
        out.push(state_byte(u.state));
    }
    put_count(out, m.loads.len());
    for l in &m.loads {
        put_str(out, &l.id);
        out.extend_from_slice(&l.age_ms.to_be_bytes());
        put_load(out, l.version, &l.load);
    }
}

fn kind(body: &Body) -> u8 {
    match body {
        Body::Ping { .. } => 1,
        Body::Ack { .. } => 2,
        Body::PingReq { .. } => 3,
        Body::IndirectPing { .. } => 4,
        Body::IndirectAck { .. } => 5,
        Body::Join => 6,
        Body::Sync => 7,
        Body::Gossip => 8,
    }
}

fn state_byte(s: State) -> u8 {
    match s {
        State::Alive => 0,
        State::Suspect => 1,
        State::Dead => 2,
        State::Left => 3,
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Valid strings are 1..=255 bytes; clamp defensively so a bug cannot
    // produce a length byte that disagrees with the bytes that follow.
    let bytes = &s.as_bytes()[..s.len().min(255)];
    out.push(bytes.len() as u8);
    out.extend_from_slice(bytes);
}

fn put_count(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
}

fn put_load(out: &mut Vec<u8>, version: u64, l: &Load) {
    out.extend_from_slice(&version.to_be_bytes());
    for v in [l.running, l.queued, l.slots, l.queue_len] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&l.utilisation.to_bits().to_be_bytes());
    let n = l.functions.len().min(255);
    out.push(n as u8);
    for f in &l.functions[..n] {
        put_str(out, f);
    }
    // May be empty: a zero length byte means no group.
    let group = &l.group.as_bytes()[..l.group.len().min(255)];
    out.push(group.len() as u8);
    out.extend_from_slice(group);
}

// === decoding ===

/// Decodes one whole message. `bytes` must already be within the size limit.
pub(crate) fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    let mut r = Reader { buf: bytes };
    if r.take(2, "magic").map_err(|_| DecodeError::BadMagic)? != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let version = r.u8("version")?;
    if version != VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let kind = r.u8("kind")?;
    let sender = Identity {
        id: r.str("sender.id")?,
        addr: r.str("sender.addr")?,
    };
    let incarnation = r.u32("sender.incarnation")?;
    let to = r.opt_str("to")?;
    let (load_version, load) = r.load("sender.load")?;
    let body = match kind {
        1 => Body::Ping { seq: r.u32("seq")? },
        2 => Body::Ack { seq: r.u32("seq")? },
        3 => Body::PingReq {
            seq: r.u32("seq")?,
            target: r.str("target")?,
        },
        4 => Body::IndirectPing {
            seq: r.u32("seq")?,
            origin: r.str("origin")?,
        },
        5 => Body::IndirectAck {
            seq: r.u32("seq")?,
            origin: r.str("origin")?,
        },
        6 => Body::Join,
        7 => Body::Sync,
        8 => Body::Gossip,
        other => return Err(DecodeError::UnknownKind(other)),
    };
    let n = r.count("updates", MIN_UPDATE_BYTES)?;
    let mut updates = Vec::with_capacity(n);
    for _ in 0..n {
        let identity = Identity {
            id: r.str("update.id")?,
            addr: r.str("update.addr")?,
        };
        let incarnation = r.u32("update.incarnation")?;
        let state = match r.u8("update.state")? {
            0 => State::Alive,
            1 => State::Suspect,
            2 => State::Dead,
            3 => State::Left,
            _ => return Err(DecodeError::Invalid("update.state")),
        };
        updates.push(Update {
            identity,
            incarnation,
            state,
        });
    }
    let n = r.count("loads", MIN_RELAYED_LOAD_BYTES)?;
    let mut loads = Vec::with_capacity(n);
    for _ in 0..n {
        let id = r.str("load.id")?;
        let age_ms = r.u32("load.age_ms")?;
        let (version, load) = r.load("load")?;
        loads.push(RelayedLoad {
            id,
            version,
            age_ms,
            load,
        });
    }
    if !r.buf.is_empty() {
        return Err(DecodeError::Trailing(r.buf.len()));
    }
    Ok(Message {
        sender,
        to,
        incarnation,
        load_version,
        load,
        body,
        updates,
        loads,
    })
}

/// A cursor over the undecoded rest of a message.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated(field));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N, field)?);
        Ok(a)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.array(field).map(u32::from_be_bytes)
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        self.array(field).map(u64::from_be_bytes)
    }

    fn str(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let len = usize::from(self.u8(field)?);
        if len == 0 {
            return Err(DecodeError::Invalid(field));
        }
        let bytes = self.take(len, field)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| DecodeError::Invalid(field))
    }

    /// A string that may be empty (absent).
    fn opt_str(&mut self, field: &'static str) -> Result<Option<String>, DecodeError> {
        if self.buf.first() == Some(&0) {
            self.buf = &self.buf[1..];
            return Ok(None);
        }
        self.str(field).map(Some)
    }

    /// A u16 entry count, rejected if the rest cannot hold that many
    /// entries of at least `min_bytes` each (so capacity is bounded by input).
    fn count(&mut self, field: &'static str, min_bytes: usize) -> Result<usize, DecodeError> {
        let n = usize::from(u16::from_be_bytes(self.array(field)?));
        if n.saturating_mul(min_bytes) > self.buf.len() {
            return Err(DecodeError::Truncated(field));
        }
        Ok(n)
    }

    fn load(&mut self, field: &'static str) -> Result<(u64, Load), DecodeError> {
        let start = self.buf.len();
        let version = self.u64(field)?;
        let running = self.u32(field)?;
        let queued = self.u32(field)?;
        let slots = self.u32(field)?;
        let queue_len = self.u32(field)?;
        let utilisation = f32::from_bits(self.u32(field)?);
        let n = usize::from(self.u8(field)?);
        let mut functions = Vec::with_capacity(n.min(self.buf.len() / 2));
        for _ in 0..n {
            functions.push(self.str(field)?);
        }
        let group = self.opt_str(field)?.unwrap_or_default();
        if start - self.buf.len() > MAX_LOAD_BYTES {
            return Err(DecodeError::Invalid(field));
        }
        Ok((
            version,
            Load {
                running,
                queued,
                slots,
                queue_len,
                functions,
                utilisation,
                group,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Message {
        Message {
            sender: Identity::new("node-a", "127.0.0.1:18080"),
            to: Some("node-b".into()),
            incarnation: 7,
            load_version: 3,
            load: Load {
                running: 1,
                queued: 2,
                slots: 4,
                queue_len: 8,
                functions: vec!["echo".into(), "resize".into()],
                utilisation: f32::NAN,
                group: "cluster00".into(),
            },
            body: Body::PingReq {
                seq: 9,
                target: "127.0.0.1:18081".into(),
            },
            updates: vec![Update {
                identity: Identity::new("node-b", "127.0.0.1:18081"),
                incarnation: 2,
                state: State::Suspect,
            }],
            loads: vec![RelayedLoad {
                id: "node-c".into(),
                version: 5,
                age_ms: 120,
                load: Load::default(),
            }],
        }
    }

    #[test]
    fn round_trip_and_lengths() {
        let m = sample();
        let mut out = Vec::new();
        encode(&m, &mut out);
        let d = decode(&out).expect("valid message");
        assert_eq!(d.sender, m.sender);
        assert_eq!(d.to, m.to);
        assert_eq!(d.incarnation, 7);
        assert!(d.load.same_as(&m.load));
        assert_eq!(d.body, m.body);
        assert_eq!(d.updates, m.updates);
        assert_eq!(d.loads.len(), 1);
        let fixed = 4 + 2 + m.sender.id.len() + m.sender.addr.len() + 4 + 1 + 6;
        let body = 4 + 1 + 15;
        let expect = fixed
            + load_len(&m.load)
            + body
            + 2
            + update_len(&m.updates[0])
            + 2
            + relayed_load_len(&m.loads[0]);
        assert_eq!(out.len(), expect);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let mut out = Vec::new();
        encode(&sample(), &mut out);
        for n in 0..out.len() {
            assert!(decode(&out[..n]).is_err(), "prefix {n} decoded");
        }
        out.push(0);
        assert_eq!(decode(&out).err(), Some(DecodeError::Trailing(1)));
    }
}
