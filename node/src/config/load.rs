//! `[load]`: the load sampler — its source (eBPF, PSI, procfs), interval, eBPF pin directory and
//! program kind — and its validation.

use std::path::PathBuf;
use std::time::Duration;

use super::raw::RawLoad;
use super::{ConfigError, field_err};

/// Which load source the sampler uses (`load.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadSourceChoice {
    /// eBPF, else PSI, else procfs; the reason for each fallback is logged and exported.
    Auto,
    /// eBPF only; start-up fails if the programs cannot be loaded.
    Ebpf,
    /// `/proc/stat` + PSI; start-up fails without `/proc/pressure/cpu`.
    Psi,
    /// `/proc/stat` and `/proc/loadavg` only.
    Procfs,
}

/// Which kind of eBPF programs the load probes use (`load.ebpf_programs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EbpfPrograms {
    /// `tp_btf` where the kernel has BTF and they load, else classic tracepoints.
    Auto,
    /// Classic tracepoints only (what a kernel without BTF gets).
    Classic,
    /// `tp_btf` only; the eBPF source fails without kernel BTF.
    Btf,
}

impl EbpfPrograms {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Classic => "classic",
            Self::Btf => "btf",
        }
    }
}

/// `[load]`.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Source choice.
    pub source: LoadSourceChoice,
    /// How often a sample is taken.
    pub sample_interval: Duration,
    /// Where the eBPF maps are pinned (on a bpffs mount).
    pub pin_dir: PathBuf,
    /// Measure wake-to-run latency with eBPF (nearly free with `tp_btf`, which reads the kernel's own
    /// enqueue stamp; about half of the classic programs' cost per context switch).
    pub runq_latency: bool,
    /// `tp_btf` or classic tracepoint programs.
    pub ebpf_programs: EbpfPrograms,
}

/// Validates `[load]`.
pub(super) fn validate(raw: &RawLoad) -> Result<LoadConfig, ConfigError> {
    let source = match raw.source.as_deref().unwrap_or("auto") {
        "auto" => LoadSourceChoice::Auto,
        "ebpf" => LoadSourceChoice::Ebpf,
        "psi" => LoadSourceChoice::Psi,
        "procfs" => LoadSourceChoice::Procfs,
        other => {
            return Err(field_err(
                "load.source",
                format!("expected auto, ebpf, psi or procfs, got {other:?}"),
            ));
        }
    };
    let ms = raw.sample_interval_ms.unwrap_or(100);
    // Below 10 ms the sampler's own reads become a visible load; above a minute the sample is stale.
    if !(10..=60_000).contains(&ms) {
        return Err(field_err(
            "load.sample_interval_ms",
            format!("must be 10..=60000 ms, got {ms}"),
        ));
    }
    let pin_dir = PathBuf::from(raw.pin_dir.as_deref().unwrap_or("/sys/fs/bpf/p2pfaas"));
    if !pin_dir.is_absolute() {
        return Err(field_err(
            "load.pin_dir",
            format!(
                "must be an absolute path, got {:?}",
                pin_dir.display().to_string()
            ),
        ));
    }
    let ebpf_programs = match raw.ebpf_programs.as_deref().unwrap_or("auto") {
        "auto" => EbpfPrograms::Auto,
        "classic" => EbpfPrograms::Classic,
        "btf" => EbpfPrograms::Btf,
        other => {
            return Err(field_err(
                "load.ebpf_programs",
                format!("expected auto, classic or btf, got {other:?}"),
            ));
        }
    };
    Ok(LoadConfig {
        source,
        sample_interval: Duration::from_millis(ms),
        pin_dir,
        runq_latency: raw.runq_latency.unwrap_or(true),
        ebpf_programs,
    })
}
