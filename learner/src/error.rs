//! Construction and load errors of the learner.
//!
//! Owns the crate [`Error`] enum. Only constructors (`try_new`) and the
//! [`persist`](crate::persist) functions return it: acting and training
//! cannot fail, so nothing on the hot path builds or formats an error.

/// Everything that can go wrong while building a learner or loading weights.
///
/// No variant is retryable with the same input: the caller must fix the
/// configuration or the file. Every failing call leaves existing state
/// unchanged ([`persist`](crate::persist) validates a whole file before it
/// touches the value function).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A hyper-parameter or shape is outside its valid range.
    #[error("invalid parameter `{name}` = {value}: must be {expected}")]
    InvalidParameter {
        /// Name of the parameter as written in [`Params`](crate::config::Params) or the constructor.
        name: &'static str,
        /// The rejected value (converted to `f64` for display).
        value: f64,
        /// The accepted range, in words.
        expected: &'static str,
    },
    /// The file does not start with the learner magic bytes.
    #[error("not a p2pfaas learner weight file (bad magic)")]
    BadMagic,
    /// The file was written by an incompatible format version.
    #[error("unsupported weight file version {found} (this build reads up to {supported})")]
    UnsupportedVersion {
        /// Version found in the file.
        found: u32,
        /// Version this build writes, the newest it reads (older ones are
        /// read only where their layout still means the same thing).
        supported: u32,
    },
    /// A header field does not match the value function being loaded into.
    #[error("weight file mismatch in `{field}`: file has {found}, value function has {expected}")]
    Mismatch {
        /// Header field name (`kind`, `dims`, `actions`, `size`, `tilings`, `layout`, `entries`).
        field: &'static str,
        /// Value in the file.
        found: u64,
        /// Value in the value function.
        expected: u64,
    },
    /// The file ends before the data announced by its header.
    #[error("weight file truncated: expected {expected} bytes, found {found}")]
    Truncated {
        /// Bytes announced by the header.
        expected: u64,
        /// Bytes actually present.
        found: u64,
    },
}

/// Result with the crate [`Error`] as default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
