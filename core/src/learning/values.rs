//! The agent's action-value function: a Q-table or tile coding (`value_function`), behind one type so
//! that the policy, the TD learner and persistence see a single [`ValueFunction`].

use p2pfaas_learner::persist;
use p2pfaas_learner::qtable::QTable;
use p2pfaas_learner::tiles::Tiles;
use p2pfaas_learner::value::ValueFunction;

use super::LearnError;
use super::params::{Parameters, ValueKind};

/// Q as the parameters select it.
#[derive(Debug)]
pub enum Values {
    /// One row per visited state.
    Table(QTable),
    /// Tile coding over every state dimension.
    Tiles(Tiles),
}

impl Values {
    /// An empty value function for states of `dims` values.
    pub fn new(dims: usize, params: &Parameters) -> Result<Self, LearnError> {
        let shape = |e: p2pfaas_learner::Error| LearnError::Parameter(e.to_string());
        Ok(match params.value_function {
            ValueKind::Table => Self::Table(
                QTable::try_new(dims, params.actions_n, params.table_capacity).map_err(shape)?,
            ),
            ValueKind::Tiles => {
                let config = params.tile_config(dims).map_err(LearnError::Parameter)?;
                Self::Tiles(Tiles::try_new(&config, params.actions_n).map_err(shape)?)
            }
        })
    }

    /// States stored (a table's rows; 0 for tile coding, which stores weights, not states).
    pub fn states(&self) -> usize {
        match self {
            Self::Table(q) => q.len(),
            Self::Tiles(_) => 0,
        }
    }

    /// New states refused because the table was full (never for tile coding).
    pub fn rejected(&self) -> u64 {
        match self {
            Self::Table(q) => q.rejected(),
            Self::Tiles(_) => 0,
        }
    }

    /// The table, when Q is one.
    pub fn table(&self) -> Option<&QTable> {
        match self {
            Self::Table(q) => Some(q),
            Self::Tiles(_) => None,
        }
    }

    /// The weight file (the learner crate's versioned format).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Table(q) => persist::encode_qtable(q),
            Self::Tiles(t) => persist::encode_tiles(t),
        }
    }

    /// Loads a weight file; nothing changes unless it fits this value function's kind and shape (the
    /// error names the header field that differs).
    pub fn decode(&mut self, bytes: &[u8]) -> Result<(), p2pfaas_learner::Error> {
        match self {
            Self::Table(q) => persist::decode_qtable(q, bytes),
            Self::Tiles(t) => persist::decode_tiles(t, bytes),
        }
    }
}

impl ValueFunction for Values {
    fn dims(&self) -> usize {
        match self {
            Self::Table(q) => q.dims(),
            Self::Tiles(t) => t.dims(),
        }
    }

    fn actions(&self) -> usize {
        match self {
            Self::Table(q) => q.actions(),
            Self::Tiles(t) => t.actions(),
        }
    }

    fn q(&self, state: &[f32], action: usize) -> f32 {
        match self {
            Self::Table(q) => q.q(state, action),
            Self::Tiles(t) => t.q(state, action),
        }
    }

    fn q_all(&self, state: &[f32], out: &mut [f32]) {
        match self {
            Self::Table(q) => q.q_all(state, out),
            Self::Tiles(t) => t.q_all(state, out),
        }
    }

    fn update(&mut self, state: &[f32], action: usize, step: f32) {
        match self {
            Self::Table(q) => q.update(state, action, step),
            Self::Tiles(t) => t.update(state, action, step),
        }
    }
}
