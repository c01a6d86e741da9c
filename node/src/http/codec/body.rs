//! The incremental body decoder shared by server and client: content-length, chunked (a byte-level state
//! machine, so input may be split anywhere; trailers skipped and bounded) and read-until-close.

use super::{BodyKind, Error, MAX_CHUNK_LINE, MAX_TRAILER_BYTES};

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
