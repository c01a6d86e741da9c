//! A node's weight file: both of its agents — the decision agent and the double decision's
//! acceptance agent — in one file, so that `simulate --save-weights`, `run --load-weights`,
//! `learner.weights_file`, `POST /learner/weights` and the data directory carry the whole learned
//! policy. No I/O: the caller stores the bytes.
//!
//! Layout: magic `P2PFPAIR`, the decision agent's file length as a little-endian `u64`, the decision
//! agent's file, then the acceptance agent's (each in the learner crate's versioned format, which
//! checks its own shape). A lone learner file (what a single agent writes, and what this build wrote
//! before the pair existed) still loads, into the decision agent only.

use p2pfaas_learner::persist::MAGIC as AGENT_MAGIC;
use p2pfaas_learner::value::ValueFunction;

use std::sync::MutexGuard;

use super::{Agent, Core, LearnError, Values};

/// Magic bytes at the start of a two-agent file.
pub const MAGIC: [u8; 8] = *b"P2PFPAIR";
const HEADER_LEN: usize = MAGIC.len() + 8;

/// Why a weight file was refused; nothing was loaded.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The file is neither a two-agent file nor a learner weight file.
    #[error("not a p2pfaas weight file (bad magic)")]
    BadMagic,
    /// The two-agent file ends inside its header or inside the decision agent's part.
    #[error("two-agent weight file truncated: needs {expected} more bytes, has {found}")]
    Truncated {
        /// Bytes the header (its length field, or the decision agent's part) needs.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The decision agent's part does not fit it (names the field).
    #[error("decision agent: {0}")]
    Decision(p2pfaas_learner::Error),
    /// The acceptance agent's part does not fit it (names the field).
    #[error("acceptance agent: {0}")]
    Acceptance(p2pfaas_learner::Error),
    /// An empty value function of an agent's shape could not be built to check the file in.
    #[error("agent shape: {0}")]
    Shape(LearnError),
}

/// Both agents' weights as one file.
pub fn encode(decision: &Agent, acceptance: &Agent) -> Vec<u8> {
    let (first, second) = (decision.encode_weights(), acceptance.encode_weights());
    let mut out = Vec::with_capacity(HEADER_LEN + first.len() + second.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&(first.len() as u64).to_le_bytes());
    out.extend_from_slice(&first);
    out.extend_from_slice(&second);
    out
}

/// Loads a file written by [`encode`] into both agents, or a lone learner file into `decision`.
/// Nothing changes unless every part fits its agent. `decision` and `acceptance` are two agents
/// (the same one twice would wait on its own lock).
pub fn decode(decision: &Agent, acceptance: &Agent, bytes: &[u8]) -> Result<(), WeightsError> {
    let Some(rest) = bytes.strip_prefix(&MAGIC) else {
        if !bytes.starts_with(&AGENT_MAGIC) {
            return Err(WeightsError::BadMagic);
        }
        return decision
            .decode_weights(bytes)
            .map_err(WeightsError::Decision);
    };
    let (len, rest) = rest.split_at_checked(8).ok_or(WeightsError::Truncated {
        expected: 8,
        found: rest.len() as u64,
    })?;
    let mut n = [0u8; 8];
    n.copy_from_slice(len);
    let len = u64::from_le_bytes(n);
    let split = usize::try_from(len)
        .ok()
        .filter(|&l| l <= rest.len())
        .ok_or(WeightsError::Truncated {
            expected: len,
            found: rest.len() as u64,
        })?;
    let (first, second) = rest.split_at(split);
    // Both parts are checked on copies, under the agents' locks so that their shapes cannot change
    // meanwhile, and installed only when both fit: neither agent changes when the other's part is bad.
    let (mut d, d_values) = staged(decision, first).map_err(|e| e.agent(WeightsError::Decision))?;
    let (mut a, a_values) =
        staged(acceptance, second).map_err(|e| e.agent(WeightsError::Acceptance))?;
    d.q = d_values;
    a.q = a_values;
    Ok(())
}

/// Why a part did not fit its agent: the file's error, or (never with valid parameters) the shape's.
enum Staging {
    File(p2pfaas_learner::Error),
    Shape(LearnError),
}

impl Staging {
    fn agent(self, file: fn(p2pfaas_learner::Error) -> WeightsError) -> WeightsError {
        match self {
            Self::File(e) => file(e),
            Self::Shape(e) => WeightsError::Shape(e),
        }
    }
}

/// `agent`'s lock and a value function of its shape holding `bytes`.
fn staged<'a>(agent: &'a Agent, bytes: &[u8]) -> Result<(MutexGuard<'a, Core>, Values), Staging> {
    let core = agent.lock();
    let mut q = Values::new(core.q.dims(), &core.params).map_err(Staging::Shape)?;
    q.decode(bytes).map_err(Staging::File)?;
    Ok((core, q))
}
