//! The weight file format: encoding weights to bytes and decoding them back. No I/O: the caller
//! stores the bytes (the node writes them atomically into its data directory).
//!
//! Owns the file format. A file is a 56-byte little-endian header followed by
//! little-endian `f32`s:
//!
//! | offset | size | field                                                    |
//! |-------:|-----:|----------------------------------------------------------|
//! | 0      | 8    | magic `P2PFLRN\0`                                        |
//! | 8      | 4    | format version ([`VERSION`])                             |
//! | 12     | 4    | kind: 1 = Q-table, 2 = tile coding                       |
//! | 16     | 4    | dims                                                     |
//! | 20     | 4    | actions                                                  |
//! | 24     | 8    | size: Q-table capacity, or tile table size               |
//! | 32     | 4    | tilings (0 for a Q-table)                                |
//! | 36     | 4    | reserved, 0                                              |
//! | 40     | 8    | layout: hash of tile ranges and widths (0 for a Q-table) |
//! | 48     | 8    | entries: stored states, or weights                       |
//!
//! A Q-table body is `entries × (dims + actions)` floats (each state then its
//! values), so loading re-inserts states and does not depend on the hash
//! function. A tile body is the `table_size × stride` weights (`stride` = actions
//! rounded up to a multiple of 8, the padding being zeros).
//!
//! Decoding checks every header field against the value function being loaded
//! into and changes nothing unless the whole file is valid. Encoding allocates a
//! file-sized buffer: both are construction-time operations, not hot-path ones.

use crate::{
    error::{Error, Result},
    qtable::QTable,
    tiles::Tiles,
    value::ValueFunction,
};

/// Magic bytes at the start of every weight file.
pub const MAGIC: [u8; 8] = *b"P2PFLRN\0";
/// Format version written by this build, and the newest it reads.
///
/// - 1: first format.
/// - 2: tile coding numbers tiles in mixed radix (dense slots when the
///   table is large enough, else a multiply-shift hash) instead of chaining a
///   hash over the dimensions. The bytes are laid out as in version 1, but
///   version-1 tile weights belong to other slots, so they are refused;
///   version-1 Q-table files are unchanged and still load.
pub const VERSION: u32 = 2;
/// Oldest version whose Q-table body this build reads.
const OLDEST_QTABLE: u32 = 1;
/// Oldest version whose tile weights mean the same tiles in this build.
const OLDEST_TILES: u32 = 2;
const HEADER_LEN: usize = 56;
const KIND_QTABLE: u32 = 1;
const KIND_TILES: u32 = 2;

/// The fixed header, in the field order of the table in the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    kind: u32,
    dims: u32,
    actions: u32,
    size: u64,
    tilings: u32,
    layout: u64,
    entries: u64,
}

impl Header {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.kind.to_le_bytes());
        out.extend_from_slice(&self.dims.to_le_bytes());
        out.extend_from_slice(&self.actions.to_le_bytes());
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&self.tilings.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&self.layout.to_le_bytes());
        out.extend_from_slice(&self.entries.to_le_bytes());
    }

    /// Decodes and checks the magic and that the version is in
    /// `oldest..=VERSION`.
    fn decode(bytes: &[u8], oldest: u32) -> Result<Self> {
        if bytes.len() < HEADER_LEN {
            return Err(Error::Truncated {
                expected: HEADER_LEN as u64,
                found: bytes.len() as u64,
            });
        }
        if bytes[..8] != MAGIC {
            return Err(Error::BadMagic);
        }
        let u32_at = |at: usize| {
            let mut b = [0; 4];
            b.copy_from_slice(&bytes[at..at + 4]);
            u32::from_le_bytes(b)
        };
        let u64_at = |at: usize| {
            let mut b = [0; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let version = u32_at(8);
        if !(oldest..=VERSION).contains(&version) {
            return Err(Error::UnsupportedVersion {
                found: version,
                supported: VERSION,
            });
        }
        Ok(Self {
            kind: u32_at(12),
            dims: u32_at(16),
            actions: u32_at(20),
            size: u64_at(24),
            tilings: u32_at(32),
            layout: u64_at(40),
            entries: u64_at(48),
        })
    }

    /// Checks every shape field of `self` (from the file) against `expected`
    /// (from the value function); `entries` is checked by the caller.
    fn check(&self, expected: &Self) -> Result<()> {
        let fields = [
            ("kind", u64::from(self.kind), u64::from(expected.kind)),
            ("dims", u64::from(self.dims), u64::from(expected.dims)),
            (
                "actions",
                u64::from(self.actions),
                u64::from(expected.actions),
            ),
            ("size", self.size, expected.size),
            (
                "tilings",
                u64::from(self.tilings),
                u64::from(expected.tilings),
            ),
            ("layout", self.layout, expected.layout),
        ];
        for (field, found, expected) in fields {
            if found != expected {
                return Err(Error::Mismatch {
                    field,
                    found,
                    expected,
                });
            }
        }
        Ok(())
    }
}

/// The stored states and values of `table`, as a weight file.
pub fn encode_qtable(table: &QTable) -> Vec<u8> {
    let header = qtable_header(table, table.len() as u64);
    let floats = table.len() * (table.dims() + table.actions());
    let mut out = Vec::with_capacity(HEADER_LEN + 4 * floats);
    header.encode(&mut out);
    for (key, values) in table.iter() {
        key.iter()
            .chain(values)
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
    }
    out
}

/// Replaces the contents of `table` with the states of the weight file `bytes`.
///
/// # Errors
/// [`Error::BadMagic`], [`Error::UnsupportedVersion`], [`Error::Truncated`],
/// or [`Error::Mismatch`] naming the header field that differs from `table`
/// (`entries` when the file holds more states than its capacity). On error
/// `table` is unchanged.
pub fn decode_qtable(table: &mut QTable, bytes: &[u8]) -> Result<()> {
    let header = Header::decode(bytes, OLDEST_QTABLE)?;
    header.check(&qtable_header(table, header.entries))?;
    if header.entries > table.capacity() as u64 {
        return Err(Error::Mismatch {
            field: "entries",
            found: header.entries,
            expected: table.capacity() as u64,
        });
    }
    let row = table.dims() + table.actions();
    let body = body(bytes, header.entries, row)?;
    table.clear();
    let mut row_buf = vec![0.0f32; row];
    for chunk in body.chunks_exact(row * 4) {
        decode_f32s(chunk, &mut row_buf);
        let (key, values) = row_buf.split_at(table.dims());
        // Cannot be refused: entries <= capacity and saved keys are distinct.
        table.set(key, values);
    }
    Ok(())
}

/// The weights of `tiles`, as a weight file.
pub fn encode_tiles(tiles: &Tiles) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + 4 * tiles.weight_count());
    tiles_header(tiles).encode(&mut out);
    tiles
        .weights()
        .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
    out
}

/// Replaces the weights of `tiles` with those of the weight file `bytes`.
///
/// # Errors
/// As [`decode_qtable`]; `layout` mismatches mean the tile ranges or widths
/// differ. On error `tiles` is unchanged.
pub fn decode_tiles(tiles: &mut Tiles, bytes: &[u8]) -> Result<()> {
    let header = Header::decode(bytes, OLDEST_TILES)?;
    let expected = tiles_header(tiles);
    header.check(&expected)?;
    if header.entries != expected.entries {
        return Err(Error::Mismatch {
            field: "entries",
            found: header.entries,
            expected: expected.entries,
        });
    }
    let body = body(bytes, header.entries, 1)?;
    decode_f32s(body, tiles.weights_mut());
    Ok(())
}

fn qtable_header(table: &QTable, entries: u64) -> Header {
    Header {
        kind: KIND_QTABLE,
        dims: shape_u32(table.dims()),
        actions: shape_u32(table.actions()),
        size: table.capacity() as u64,
        tilings: 0,
        layout: 0,
        entries,
    }
}

fn tiles_header(tiles: &Tiles) -> Header {
    Header {
        kind: KIND_TILES,
        dims: shape_u32(tiles.dims()),
        actions: shape_u32(tiles.actions()),
        size: tiles.table_size() as u64,
        tilings: shape_u32(tiles.tilings()),
        layout: tiles.layout(),
        entries: tiles.weight_count() as u64,
    }
}

/// Shapes beyond `u32` cannot be allocated in practice; saturate so the
/// header check reports a mismatch rather than wrapping.
fn shape_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The body after the header: exactly `entries × row` floats.
fn body(bytes: &[u8], entries: u64, row: usize) -> Result<&[u8]> {
    let expected = entries
        .checked_mul(row as u64 * 4)
        .and_then(|n| n.checked_add(HEADER_LEN as u64))
        .unwrap_or(u64::MAX);
    let found = bytes.len() as u64;
    if found < expected {
        return Err(Error::Truncated { expected, found });
    }
    if found > expected {
        return Err(Error::Mismatch {
            field: "length",
            found,
            expected,
        });
    }
    Ok(&bytes[HEADER_LEN..])
}

fn decode_f32s<'a>(bytes: &[u8], out: impl IntoIterator<Item = &'a mut f32>) {
    for (x, b) in out.into_iter().zip(bytes.chunks_exact(4)) {
        *x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
}

#[cfg(test)]
mod tests;
