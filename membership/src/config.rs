//! Protocol timings and limits, validated once by [`Config::validate`].
//!
//! The defaults meet the design targets at 12 nodes on a LAN: a crash is
//! known cluster-wide within 6 s, a join within 2 s, and per-node traffic
//! does not grow with the cluster (one probe per period, a fixed gossip
//! fan-out, a fixed piggyback budget).

use std::time::Duration;

use crate::error::{Error, Result};

/// Largest encoded [`Load`](crate::Load) accepted from the node or a peer.
pub const MAX_LOAD_BYTES: usize = 4096;

/// Membership settings. Build with `Config::default()` and struct update
/// syntax; [`Membership::try_new`](crate::Membership::try_new) validates it.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// How often this node probes one member (round-robin over a shuffled
    /// list, so each member is probed by someone about once per period).
    pub probe_period: Duration,
    /// How long to wait for a direct ack before asking others to probe,
    /// and then for their forwarded ack before suspecting the member.
    /// Twice this must fit in `probe_period`.
    pub probe_timeout: Duration,
    /// How many members are asked to probe indirectly (SWIM's k).
    pub indirect_probes: usize,
    /// Suspicion timeout = max(`suspicion_min`, `suspicion_mult` ×
    /// log10(members) × `probe_period`): larger clusters need longer for
    /// a refutation to spread.
    pub suspicion_mult: u32,
    /// Floor of the suspicion timeout, for small clusters.
    pub suspicion_min: Duration,
    /// How often pending updates are pushed to `gossip_fanout` random
    /// members (only when there is something to spread).
    pub gossip_interval: Duration,
    /// Members receiving each gossip round.
    pub gossip_fanout: usize,
    /// Each update is sent `retransmit_mult` × ceil(log10(members + 1))
    /// times before it is dropped from the dissemination queue.
    pub retransmit_mult: u32,
    /// How often a join is resent to the seeds until one answers.
    pub join_retry: Duration,
    /// How often one dead member or unreachable seed is contacted with a
    /// state exchange, so partitions heal and restarted nodes come back.
    pub reconnect_interval: Duration,
    /// How often a state exchange (anti-entropy) runs with one random alive
    /// member, repairing whatever gossip missed; stretched by members / 16
    /// past 16 members so its cost per node stays flat. The first one runs
    /// `join_retry` after joining, to catch members that joined at the
    /// same time.
    pub sync_interval: Duration,
    /// Dead members keep receiving gossip this long so that a falsely
    /// declared one learns about it and refutes.
    pub gossip_to_dead: Duration,
    /// Dead and left members are removed from the table after this long.
    pub remove_after: Duration,
    /// Removed ids are remembered this long (since removal); gossip about
    /// them that is not newer is ignored. At least `remove_after`.
    pub tombstone_for: Duration,
    /// Most members kept (this node excluded); unknown ids beyond are ignored.
    pub max_members: usize,
    /// Largest message encoded or accepted; larger input is rejected unread.
    pub max_message_bytes: usize,
    /// Bytes of piggybacked updates and relayed loads per ordinary message
    /// (state exchanges on join use up to `max_message_bytes`).
    pub piggyback_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            probe_period: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(300),
            indirect_probes: 3,
            suspicion_mult: 2,
            suspicion_min: Duration::from_secs(2),
            gossip_interval: Duration::from_millis(200),
            gossip_fanout: 3,
            retransmit_mult: 4,
            join_retry: Duration::from_secs(1),
            reconnect_interval: Duration::from_secs(2),
            sync_interval: Duration::from_secs(15),
            gossip_to_dead: Duration::from_secs(10),
            remove_after: Duration::from_secs(30),
            tombstone_for: Duration::from_secs(300),
            max_members: 512,
            max_message_bytes: 64 * 1024,
            piggyback_bytes: 2048,
        }
    }
}

impl Config {
    /// Checks every field; the error names the first one out of range.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, reason| Err(Error::InvalidConfig { field, reason });
        if self.probe_period.is_zero() {
            return bad("probe_period", "must be > 0");
        }
        if self.probe_timeout.is_zero() || 2 * self.probe_timeout > self.probe_period {
            return bad("probe_timeout", "must be > 0 and <= probe_period / 2");
        }
        if self.indirect_probes > 16 {
            return bad("indirect_probes", "must be <= 16");
        }
        if self.suspicion_mult == 0 {
            return bad("suspicion_mult", "must be >= 1");
        }
        if self.suspicion_min.is_zero() {
            return bad("suspicion_min", "must be > 0");
        }
        if self.gossip_interval.is_zero() {
            return bad("gossip_interval", "must be > 0");
        }
        if self.gossip_fanout == 0 || self.gossip_fanout > 16 {
            return bad("gossip_fanout", "must be 1..=16");
        }
        if self.retransmit_mult == 0 {
            return bad("retransmit_mult", "must be >= 1");
        }
        if self.join_retry.is_zero() {
            return bad("join_retry", "must be > 0");
        }
        if self.reconnect_interval.is_zero() {
            return bad("reconnect_interval", "must be > 0");
        }
        if self.sync_interval.is_zero() {
            return bad("sync_interval", "must be > 0");
        }
        if self.remove_after.is_zero() {
            return bad("remove_after", "must be > 0");
        }
        if self.tombstone_for < self.remove_after {
            return bad("tombstone_for", "must be >= remove_after");
        }
        if self.max_members == 0 || self.max_members > usize::from(u16::MAX) {
            return bad("max_members", "must be 1..=65535");
        }
        if self.max_message_bytes < 4 * MAX_LOAD_BYTES || self.max_message_bytes > 1 << 20 {
            return bad("max_message_bytes", "must be 16 KiB..=1 MiB");
        }
        if self.piggyback_bytes == 0 || self.piggyback_bytes > self.max_message_bytes / 2 {
            return bad("piggyback_bytes", "must be 1..=max_message_bytes / 2");
        }
        Ok(())
    }

    /// The suspicion timeout for a cluster of `members` nodes (self included).
    pub fn suspicion_timeout(&self, members: usize) -> Duration {
        let scale = libm::log10(members.max(1) as f64) * f64::from(self.suspicion_mult);
        self.probe_period.mul_f64(scale).max(self.suspicion_min)
    }

    /// How many times an update is piggybacked, for `members` nodes.
    pub fn retransmits(&self, members: usize) -> u32 {
        let log = libm::log10((members + 1) as f64).ceil().max(1.0);
        // At most a few hundred: the float is small and positive.
        self.retransmit_mult.saturating_mul(log as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_meet_the_targets() {
        let c = Config::default();
        assert_eq!(c.validate(), Ok(()));
        // Worst case at 12 nodes: probed late (2 periods) + suspicion.
        let worst = c.probe_period * 2 + c.suspicion_timeout(12);
        assert!(worst < Duration::from_secs(5), "{worst:?}");
    }

    #[test]
    fn errors_name_the_field() {
        let c = Config {
            probe_timeout: Duration::from_secs(2),
            ..Config::default()
        };
        assert!(matches!(
            c.validate(),
            Err(Error::InvalidConfig {
                field: "probe_timeout",
                ..
            })
        ));
        let c = Config {
            tombstone_for: Duration::from_secs(1),
            ..Config::default()
        };
        assert!(matches!(
            c.validate(),
            Err(Error::InvalidConfig {
                field: "tombstone_for",
                ..
            })
        ));
    }
}
