//! Errors of the membership core.
//!
//! Owns [`Error`] (construction: an invalid [`Config`](crate::Config)) and
//! [`DecodeError`] (a message from a peer that was rejected). Decode errors
//! are small `Copy` values: a garbage message costs no allocation or
//! formatting, and it never changes the core's state.

/// Construction errors: the configuration is invalid. Not retryable with the
/// same input; origin: the caller (`Client`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration field is out of range.
    #[error("invalid membership config `{field}`: {reason}")]
    InvalidConfig {
        /// The field as named in [`Config`](crate::Config).
        field: &'static str,
        /// What the field must satisfy.
        reason: &'static str,
    },
    /// The local identity cannot be encoded (empty or longer than 255 bytes).
    #[error("invalid local identity `{field}`: must be 1..=255 bytes")]
    InvalidIdentity {
        /// `id` or `addr`.
        field: &'static str,
    },
    /// [`Membership::set_local_load`](crate::Membership::set_local_load) got
    /// a load that cannot be encoded: more than 255 functions, an empty or
    /// over-long (> 255 bytes) name, or over
    /// [`MAX_LOAD_BYTES`](crate::config::MAX_LOAD_BYTES) in all. The previous
    /// load stays in force.
    #[error("local load cannot be encoded (too many or invalid function names)")]
    InvalidLoad,
}

/// Crate result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a peer message was rejected. Origin: a peer. The core's state is
/// unchanged whenever [`Membership::handle`](crate::Membership::handle)
/// returns one; resending the same bytes fails the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The message is longer than `Config::max_message_bytes`.
    #[error("message of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// Bytes received.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The message does not start with the membership magic bytes.
    #[error("not a p2pfaas membership message (bad magic)")]
    BadMagic,
    /// The message uses a wire version this build does not read.
    #[error("unsupported membership wire version {0}")]
    UnsupportedVersion(u8),
    /// Unknown message kind byte.
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    /// The message ends inside the named field.
    #[error("message truncated in `{0}`")]
    Truncated(&'static str),
    /// A field holds a value outside its range (bad state byte, non-UTF-8
    /// or empty string, too many entries).
    #[error("invalid value in `{0}`")]
    Invalid(&'static str),
    /// Bytes remain after the last field.
    #[error("{0} trailing bytes after the message")]
    Trailing(usize),
    /// The message claims to come from this node's own id and address.
    #[error("message claims to come from this node")]
    FromSelf,
}
