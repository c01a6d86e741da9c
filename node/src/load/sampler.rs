//! The sampler: picks a source once at start, then on its own thread reads it every interval and
//! publishes the sample (`load::publish`). It never touches a worker runtime; a slow `/proc` read or map
//! lookup delays only the next sample.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::procfs::{self, Counters};
use super::{LoadSample, Shared, Source, SourceInfo};
use crate::config::{LoadConfig, LoadSourceChoice};
use crate::queue::Admission;
use crate::shutdown::Shutdown;

/// Why the configured source cannot be used; start-up fails (only when a source was forced).
#[derive(Debug, thiserror::Error)]
pub enum SamplerError {
    /// `load.source = "ebpf"` but the programs could not be loaded, or the feature is off.
    #[error("load.source = \"ebpf\": {0}")]
    Ebpf(String),
    /// `load.source = "psi"` but `/proc/pressure/cpu` or `/proc/stat` is unusable.
    #[error("load.source = \"psi\": {0}")]
    Psi(procfs::ReadError),
    /// Not even `/proc/stat` is usable.
    #[error("load.source = \"procfs\": {0}")]
    Procfs(procfs::ReadError),
}

/// The kernel-side probes in use, when the source is eBPF.
#[cfg(feature = "ebpf")]
type Kernel = super::ebpf::Probes;
/// Without the `ebpf` feature there is never a kernel source.
#[cfg(not(feature = "ebpf"))]
type Kernel = std::convert::Infallible;

/// The sampler's state; [`Worker::run`] is its thread's body.
#[derive(Debug)]
pub struct Worker {
    shared: Arc<Shared>,
    interval: Duration,
    /// `/proc` is read with every source: the load average and PSI come from there even with eBPF.
    procfs: procfs::Reader,
    kernel: Option<Kernel>,
}

impl Worker {
    /// Chooses the source (logging and publishing why better ones were not used) and takes a first
    /// reading so the first published sample covers a real interval.
    pub fn start(config: &LoadConfig, shared: Arc<Shared>) -> Result<Self, SamplerError> {
        let mut reasons: Vec<String> = Vec::new();
        let want = config.source;
        let kernel = if matches!(want, LoadSourceChoice::Auto | LoadSourceChoice::Ebpf) {
            match open_kernel(config) {
                Ok(k) => Some(k),
                Err(reason) if want == LoadSourceChoice::Ebpf => {
                    return Err(SamplerError::Ebpf(reason));
                }
                Err(reason) => {
                    reasons.push(format!("ebpf: {reason}"));
                    None
                }
            }
        } else {
            None
        };
        let psi_wanted =
            matches!(want, LoadSourceChoice::Auto | LoadSourceChoice::Psi) || kernel.is_some();
        let mut procfs = if psi_wanted {
            let mut with_psi = procfs::Reader::new(true);
            match with_psi.read() {
                Ok(_) => with_psi,
                Err(e) if want == LoadSourceChoice::Psi => return Err(SamplerError::Psi(e)),
                Err(e) => {
                    reasons.push(format!("psi: {e}"));
                    procfs::Reader::new(false)
                }
            }
        } else {
            procfs::Reader::new(false)
        };
        if kernel.is_none() {
            // The last resort must work, or there is nothing to publish.
            procfs.read().map_err(SamplerError::Procfs)?;
        }
        let source = if kernel.is_some() {
            Source::Ebpf
        } else if procfs.psi() {
            Source::Psi
        } else {
            Source::Procfs
        };
        let reason = reasons.join("; ");
        if reason.is_empty() {
            tracing::info!(
                source = source.as_str(),
                interval_ms = config.sample_interval.as_millis(),
                "load sampling"
            );
        } else {
            tracing::warn!(source = source.as_str(), %reason, "load sampling falls back");
        }
        let ebpf_programs = kernel.as_ref().map(programs_kind);
        shared.set_info(SourceInfo {
            source,
            reason,
            ebpf_programs,
        });
        Ok(Self {
            shared,
            interval: config.sample_interval,
            procfs,
            kernel,
        })
    }

    /// The source in use.
    pub fn source(&self) -> Source {
        if self.kernel.is_some() {
            Source::Ebpf
        } else if self.procfs.psi() {
            Source::Psi
        } else {
            Source::Procfs
        }
    }

    /// Samples every interval until `shutdown` fires, then releases the kernel side (unpins maps).
    /// `admission` is published into the pinned node-state map with the eBPF source.
    pub fn run(mut self, shutdown: &Shutdown, admission: &Admission) {
        let mut prev = self.read_counters();
        let mut prev_at = Instant::now();
        let mut next = prev_at + self.interval;
        while !shutdown.is_triggered() {
            let now = Instant::now();
            if now < next {
                // Short naps so shutdown is noticed promptly even with long intervals.
                std::thread::sleep((next - now).min(Duration::from_millis(50)));
                continue;
            }
            next += self.interval;
            if next < now {
                // Fell behind (suspended VM, long stall): do not burst to catch up.
                next = now + self.interval;
            }
            let cur = self.read_counters();
            if let (Some(p), Some(c)) = (&prev, &cur) {
                let sample = self.sample(p, c, now - prev_at, admission);
                self.shared.store(&sample);
            }
            if cur.is_some() {
                prev = cur;
                prev_at = now;
            }
        }
        // Dropping the kernel side detaches the programs and removes the pins.
        self.kernel = None;
    }

    fn read_counters(&mut self) -> Option<Counters> {
        match self.procfs.read() {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::debug!(error = %e, "load: procfs read failed; skipping this interval");
                None
            }
        }
    }

    #[cfg_attr(
        not(feature = "ebpf"),
        allow(
            unused_variables,
            reason = "admission is only published to the eBPF maps"
        )
    )]
    fn sample(
        &mut self,
        prev: &Counters,
        cur: &Counters,
        elapsed: Duration,
        admission: &Admission,
    ) -> LoadSample {
        let timestamp_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        #[cfg_attr(
            not(feature = "ebpf"),
            allow(unused_mut, reason = "only the eBPF source refines the sample")
        )]
        let mut sample = procfs::compute(prev, cur, elapsed, timestamp_ms);
        #[cfg(feature = "ebpf")]
        if let Some(kernel) = &mut self.kernel {
            match kernel.sample() {
                Ok(k) => k.apply(&mut sample),
                Err(e) => {
                    tracing::debug!(error = %e, "load: eBPF map read failed; using procfs values");
                }
            }
            kernel.publish_node_state(
                admission.running(),
                admission.queued(),
                admission.slots(),
                sample.utilisation,
            );
        }
        sample
    }
}

/// Loads and attaches the eBPF programs.
#[cfg(feature = "ebpf")]
fn open_kernel(config: &LoadConfig) -> Result<Kernel, String> {
    super::ebpf::Probes::load(&super::ebpf::Options::from_config(config)).map_err(|e| e.to_string())
}

/// The kind of programs the probes attached, for `/metrics`.
#[cfg(feature = "ebpf")]
fn programs_kind(kernel: &Kernel) -> &'static str {
    kernel.kind().as_str()
}

#[cfg(not(feature = "ebpf"))]
fn programs_kind(kernel: &Kernel) -> &'static str {
    match *kernel {}
}

#[cfg(not(feature = "ebpf"))]
fn open_kernel(_config: &LoadConfig) -> Result<Kernel, String> {
    Err("built without the `ebpf` feature".into())
}
