//! `[queue]`: K execution slots, Q waiting places, the task types tracked, the bounds on them, and
//! their validation.

use super::raw::RawQueue;
use super::{ConfigError, bounded};

pub use p2pfaas_core::admission::MAX_SLOTS;
/// Upper bound for the number of task types tracked for scheduler state.
pub const MAX_TASK_TYPES: usize = 64;

/// `[queue]`.
#[derive(Debug, Clone, Copy)]
pub struct QueueConfig {
    /// K, parallel execution slots.
    pub slots: usize,
    /// Q, wait-queue length (0: no queue).
    pub queue_len: usize,
    /// Whether the wait queue is used at all (the original's `queue_enabled`).
    pub enabled: bool,
    /// Number of task types whose running/queued counts are tracked (header `X-P2pfaas-Scheduler-Learning-Task-Type`).
    pub task_types: usize,
}

/// Validates `[queue]`.
pub(super) fn validate(raw: &RawQueue) -> Result<QueueConfig, ConfigError> {
    Ok(QueueConfig {
        slots: bounded("queue.slots", raw.slots.unwrap_or(4), 1, MAX_SLOTS)?,
        queue_len: bounded("queue.queue_len", raw.queue_len.unwrap_or(4), 0, MAX_SLOTS)?,
        enabled: raw.enabled.unwrap_or(true),
        task_types: bounded(
            "queue.task_types",
            raw.task_types.unwrap_or(8),
            1,
            MAX_TASK_TYPES,
        )?,
    })
}
