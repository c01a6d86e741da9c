//! Pinning: the node's maps under `load.pin_dir` for bpftool and `p2pfaas-node load`, the stale-pin
//! rule, and [`Pinned`], the read-only view another process opens.

use std::path::{Path, PathBuf};

use aya::Ebpf;
use aya::maps::{Array, MapData, PerCpuArray};
use p2pfaas_ebpf_common::{CpuStat, NodeState, RunqHist, map};

use super::{Error, Snapshot, chain, monotonic_ns, snapshot};

/// Pins every map under `dir`, replacing stale pins (a crashed node leaves them behind and pinning
/// over an existing file fails with EEXIST). Pins of a node that is still running (several nodes on
/// one host: tests, demos) are left alone and this node pins nothing; give each node its own
/// `load.pin_dir` to see all of them. Failures are logged, not fatal: the measurement works without
/// pins, only the bpftool view is lost.
pub(super) fn pin_all(ebpf: &Ebpf, dir: &Path) -> Vec<PathBuf> {
    if let Some(pid) = live_owner(dir) {
        tracing::warn!(dir = %dir.display(), pid, "pinned maps belong to another running node; not pinning (set load.pin_dir)");
        return Vec::new();
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot create the pin directory (is bpffs mounted at /sys/fs/bpf?); maps are not pinned");
        return Vec::new();
    }
    let mut pins = Vec::new();
    for (name, m) in ebpf.maps() {
        if name.starts_with('.') {
            // `.rodata`/`.bss` globals: internal, not worth a pin.
            continue;
        }
        let path = dir.join(name);
        if path.exists() {
            tracing::info!(pin = %path.display(), "replacing a stale pinned map");
            let _ = std::fs::remove_file(&path);
        }
        match m.pin(&path) {
            Ok(()) => pins.push(path),
            Err(e) => {
                tracing::warn!(pin = %path.display(), error = %chain(&e), "cannot pin map");
            }
        }
    }
    pins
}

/// The pid recorded in an existing pinned `NODE_STATE`, if that process is still alive (and not us).
fn live_owner(dir: &Path) -> Option<u64> {
    let data = MapData::from_pin(dir.join(map::NODE_STATE)).ok()?;
    let state: Array<MapData, NodeState> = Array::try_from(aya::maps::Map::Array(data)).ok()?;
    let pid = state.get(&0, 0).ok()?.pid;
    let alive = pid != 0
        && pid != u64::from(std::process::id())
        && Path::new("/proc").join(pid.to_string()).exists();
    alive.then_some(pid)
}

/// The maps a running node pinned, opened read-only by another process (`p2pfaas-node load`).
pub struct Pinned {
    cpu_stats: PerCpuArray<MapData, CpuStat>,
    runq: PerCpuArray<MapData, RunqHist>,
    node_state: Array<MapData, NodeState>,
}

impl std::fmt::Debug for Pinned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pinned").finish_non_exhaustive()
    }
}

impl Pinned {
    /// Opens `CPU_STATS`, `RUNQ_HIST` and `NODE_STATE` under `dir`.
    pub fn open(dir: &Path) -> Result<Self, Error> {
        let open = |name: &'static str| {
            MapData::from_pin(dir.join(name)).map_err(|source| Error::Map { name, source })
        };
        let map_err = |name| move |source| Error::Map { name, source };
        Ok(Self {
            cpu_stats: PerCpuArray::try_from(aya::maps::Map::PerCpuArray(open(map::CPU_STATS)?))
                .map_err(map_err(map::CPU_STATS))?,
            runq: PerCpuArray::try_from(aya::maps::Map::PerCpuArray(open(map::RUNQ_HIST)?))
                .map_err(map_err(map::RUNQ_HIST))?,
            node_state: Array::try_from(aya::maps::Map::Array(open(map::NODE_STATE)?))
                .map_err(map_err(map::NODE_STATE))?,
        })
    }

    /// Reads the per-CPU maps now.
    pub fn snapshot(&self) -> Result<Snapshot, Error> {
        snapshot(&self.cpu_stats, &self.runq)
    }

    /// The node's last published scheduler state, and how long ago it was written (ns).
    pub fn node_state(&self) -> Result<(NodeState, u64), Error> {
        let state = self.node_state.get(&0, 0).map_err(|source| Error::Map {
            name: map::NODE_STATE,
            source,
        })?;
        Ok((state, monotonic_ns()?.saturating_sub(state.updated_ns)))
    }
}
