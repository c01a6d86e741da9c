//! What schedulers see of other nodes: stable peer ids, cached loads, probe requests and results, and the
//! sampling helpers the peer-aware algorithms share. Plain data, no I/O.

use std::time::Duration;

use rand::{Rng, RngCore};

/// A peer's stable id: its slot in the node's peer table, assigned when the peer is first seen and never
/// reused, so a learning action "forward to peer 3" keeps its meaning when membership changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u32);

/// A node's load as it reports it: the original's `X-P2pfaas-Load` (running), `X-P2pfog-Queue-Length`
/// (queued) and `X-P2pfaas-Maxload` (K).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerLoad {
    /// Jobs running.
    pub running: u32,
    /// Jobs waiting.
    pub queued: u32,
    /// K.
    pub slots: u32,
}

impl PeerLoad {
    /// The original's load measure: running + queued.
    pub fn jobs(&self) -> u32 {
        self.running.saturating_add(self.queued)
    }
}

/// One peer that may take the job being decided: alive, serving the job's function, not already on the
/// job's path. Peers that may not take it are left out of the view altogether.
#[derive(Debug, Clone, Copy)]
pub struct PeerView<'a> {
    /// Stable id.
    pub id: PeerId,
    /// `host:port` the peer is reached at.
    pub addr: &'a str,
    /// Last load it reported (gossip, probe or a piggybacked response), if any.
    pub load: Option<PeerLoad>,
    /// How old that report is.
    pub age: Duration,
}

/// Most peers one decision may probe.
pub const MAX_PROBES: usize = 8;

/// Peers to probe before deciding (`Decision::Probe`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    ids: [PeerId; MAX_PROBES],
    len: u8,
}

impl Probe {
    /// The peers, in the order chosen.
    pub fn peers(&self) -> &[PeerId] {
        &self.ids[..usize::from(self.len)]
    }
}

/// The outcome of probing one peer: its load, or `None` when the probe failed (unusable, never "load 0").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeResult {
    /// Which peer.
    pub id: PeerId,
    /// Its reported load.
    pub load: Option<PeerLoad>,
}

/// Most distinct indices [`distinct_indices`] draws.
pub(super) const MAX_SAMPLE: usize = 64;

/// Fills `out` with `min(d, n, MAX_SAMPLE)` distinct indices below `n`, a uniform random subset (Floyd's
/// algorithm), without allocating; returns how many.
pub(super) fn distinct_indices(
    n: usize,
    d: usize,
    rng: &mut dyn RngCore,
    out: &mut [usize; MAX_SAMPLE],
) -> usize {
    let d = d.min(n).min(MAX_SAMPLE);
    let mut len = 0;
    for j in n - d..n {
        let t = rng.gen_range(0..=j);
        out[len] = if out[..len].contains(&t) { j } else { t };
        len += 1;
    }
    len
}

/// Up to `n` distinct peers of `peers`, uniformly at random (the original sampled with replacement).
pub fn sample_probe(peers: &[PeerView<'_>], n: usize, rng: &mut dyn RngCore) -> Option<Probe> {
    let mut picks = [0; MAX_SAMPLE];
    let n = distinct_indices(peers.len(), n.min(MAX_PROBES), rng, &mut picks);
    if n == 0 {
        return None;
    }
    let mut ids = [PeerId(0); MAX_PROBES];
    for (slot, &i) in ids.iter_mut().zip(&picks[..n]) {
        *slot = peers[i].id;
    }
    Some(Probe {
        ids,
        // n ≤ MAX_PROBES = 8.
        len: u8::try_from(n).unwrap_or(u8::MAX),
    })
}

/// A uniformly random choice among the candidates with the lowest load below `threshold`; ties broken
/// at random. `None` when no candidate is strictly below it (equal load is not "less loaded").
pub fn least_loaded(
    candidates: impl Iterator<Item = (PeerId, u32)>,
    threshold: u32,
    rng: &mut dyn RngCore,
) -> Option<PeerId> {
    let mut best: Option<(PeerId, u32)> = None;
    let mut ties = 0u32;
    for (id, load) in candidates.filter(|(_, l)| *l < threshold) {
        match best {
            Some((_, b)) if load > b => {}
            Some((_, b)) if load == b => {
                // Reservoir sampling over the tied minimum.
                ties += 1;
                if rng.next_u32().is_multiple_of(ties) {
                    best = Some((id, load));
                }
            }
            _ => {
                best = Some((id, load));
                ties = 1;
            }
        }
    }
    best.map(|(id, _)| id)
}

/// The least loaded probed peer strictly below `mine` jobs; failed probes are skipped.
pub fn least_loaded_probed(
    probes: &[ProbeResult],
    mine: usize,
    rng: &mut dyn RngCore,
) -> Option<PeerId> {
    let mine = u32::try_from(mine).unwrap_or(u32::MAX);
    let usable = probes
        .iter()
        .filter_map(|p| p.load.map(|l| (p.id, l.jobs())));
    least_loaded(usable, mine, rng)
}

/// Probes up to `n` random peers of `view`, or, with nobody to probe, keeps the job (`local`) and says so.
pub fn probe_or(
    peers: &[PeerView<'_>],
    n: usize,
    rng: &mut dyn RngCore,
    note: &mut super::Note,
    local: super::Decision,
) -> super::Decision {
    match sample_probe(peers, n, rng) {
        Some(p) => super::Decision::Probe(p),
        None => {
            note.fallback = Some("no_peer");
            local
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;

    fn peers(n: u32) -> Vec<PeerView<'static>> {
        (0..n)
            .map(|i| PeerView {
                id: PeerId(i * 10),
                addr: "127.0.0.1:1",
                load: None,
                age: Duration::ZERO,
            })
            .collect()
    }

    #[test]
    fn probes_are_distinct_and_bounded() {
        let mut rng = SmallRng::seed_from_u64(3);
        let ps = peers(5);
        for _ in 0..200 {
            let p = sample_probe(&ps, 3, &mut rng).expect("peers exist");
            let mut ids: Vec<u32> = p.peers().iter().map(|p| p.0).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), 3, "distinct");
        }
        assert_eq!(
            sample_probe(&ps, 9, &mut rng).map(|p| p.peers().len()),
            Some(5)
        );
        assert!(sample_probe(&[], 2, &mut rng).is_none());
        assert!(sample_probe(&ps, 0, &mut rng).is_none());
    }

    #[test]
    fn distinct_indices_are_uniform_subsets() {
        let mut rng = SmallRng::seed_from_u64(9);
        let mut out = [0; MAX_SAMPLE];
        let mut counts = [0u32; 6];
        for _ in 0..6000 {
            let n = distinct_indices(6, 2, &mut rng, &mut out);
            assert_eq!(n, 2);
            assert_ne!(out[0], out[1]);
            for &i in &out[..n] {
                counts[i] += 1;
            }
        }
        // Each index is in a 2-of-6 subset a third of the time.
        assert!(
            counts.iter().all(|&c| (1800..2200).contains(&c)),
            "{counts:?}"
        );
        assert_eq!(distinct_indices(3, 10, &mut rng, &mut out), 3);
        assert_eq!(distinct_indices(0, 2, &mut rng, &mut out), 0);
    }

    #[test]
    fn least_loaded_is_strictly_below_and_breaks_ties_at_random() {
        let mut rng = SmallRng::seed_from_u64(1);
        let c = [
            (PeerId(1), 3),
            (PeerId(2), 1),
            (PeerId(3), 1),
            (PeerId(4), 2),
        ];
        let mut seen = [0u32; 5];
        for _ in 0..1000 {
            let id = least_loaded(c.iter().copied(), 4, &mut rng).expect("some below 4");
            seen[id.0 as usize] += 1;
        }
        assert_eq!(seen[1] + seen[4], 0);
        assert!(seen[2] > 400 && seen[3] > 400, "{seen:?}");
        assert_eq!(least_loaded(c.iter().copied(), 1, &mut rng), None);
    }
}
