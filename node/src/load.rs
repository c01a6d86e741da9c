//! Machine load as the kernel sees it, sampled off the request path (design §6).
//!
//! A dedicated sampler thread (`load::sampler`, started by `runtime`) reads one *source* every
//! `load.sample_interval_ms` and publishes the latest [`LoadSample`] through a seqlock of atomics
//! (`load::publish`), so a reader on a worker (`Node::load`) never takes a lock and never waits for the
//! sampler. Sources, best first:
//! - `ebpf` (feature `ebpf`): scheduler tracepoint programs (`ebpf/`) counting per-CPU busy time,
//!   context switches, wake-ups, wake-to-run latency and the CPU time of the node's function processes
//!   (and, apart, of its own threads);
//! - `psi`: `/proc/stat` deltas plus the CPU pressure stall information in `/proc/pressure/cpu`;
//! - `procfs`: `/proc/stat` deltas and `/proc/loadavg` only.
//!
//! The first source that works is used; why a better one was not is logged once at start and exported in
//! `/metrics` (`p2pfaas_load_source_info{source,reason}`).
//!
//! This module owns no scheduling policy: it measures and publishes.

pub mod btf;
pub mod cli;
#[cfg(feature = "ebpf")]
pub mod ebpf;
pub mod kernel;
pub mod procfs;
pub mod publish;
pub mod sampler;
pub mod tracefs;

use std::fmt::Write as _;

pub use publish::Shared;
pub use sampler::{SamplerError, Worker};

pub use p2pfaas_core::load::{LoadSample, Source};

/// Which source is in use and why a better one is not; fixed at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// The source in use.
    pub source: Source,
    /// Empty when the configured or best source is in use; otherwise why each better one failed.
    pub reason: String,
    /// With the eBPF source, the kind of programs attached (`tp_btf` or `tracepoint`).
    pub ebpf_programs: Option<&'static str>,
}

/// Appends the load gauges to a Prometheus exposition (called by the `/metrics` handler).
pub fn render_metrics(out: &mut String, sample: &LoadSample, info: Option<&SourceInfo>) {
    let (source, reason) = info.map_or(("none", ""), |i| (i.source.as_str(), i.reason.as_str()));
    let _ = writeln!(
        out,
        "# HELP p2pfaas_load_source_info Load sample source in use and why a better one is not.\n\
         # TYPE p2pfaas_load_source_info gauge\n\
         p2pfaas_load_source_info{{source=\"{source}\",reason=\"{}\"}} 1",
        escape_label(reason)
    );
    if let Some(kind) = info.and_then(|i| i.ebpf_programs) {
        let _ = writeln!(
            out,
            "# HELP p2pfaas_ebpf_programs_info Kind of eBPF programs measuring the load: tp_btf (kernel BTF) or raw_tp (classic: no BTF needed).\n\
             # TYPE p2pfaas_ebpf_programs_info gauge\n\
             p2pfaas_ebpf_programs_info{{kind=\"{kind}\"}} 1"
        );
    }
    let mut gauge = |name: &str, help: &str, value: Option<f64>| {
        // An unmeasured value is left out rather than exported as a misleading 0.
        if let Some(v) = value {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
    };
    let s = sample;
    gauge(
        "p2pfaas_load_cpu_utilisation",
        "Busy share of all CPUs over the last sample interval (0..1).",
        Some(s.utilisation),
    );
    gauge(
        "p2pfaas_load_cpu_utilisation_max",
        "Busy share of the busiest CPU over the last sample interval (0..1).",
        Some(s.utilisation_max_cpu),
    );
    gauge(
        "p2pfaas_load_runq_latency_p50_seconds",
        "Median wake-to-run delay in the last sample interval (eBPF only).",
        s.runq_latency_p50_us.map(|us| us / 1e6),
    );
    gauge(
        "p2pfaas_load_runq_latency_p99_seconds",
        "99th percentile wake-to-run delay in the last sample interval (eBPF only).",
        s.runq_latency_p99_us.map(|us| us / 1e6),
    );
    gauge(
        "p2pfaas_load_function_cpu_share",
        "CPU used by the node's function processes (not its own threads), as a share of all CPUs (0..1).",
        Some(s.function_cpu_share),
    );
    gauge(
        "p2pfaas_load_context_switches_per_second",
        "Context switches per second on the machine.",
        Some(s.context_switches_per_sec),
    );
    gauge(
        "p2pfaas_load_cpu_pressure",
        "PSI CPU some-pressure over the last sample interval (0..1).",
        s.cpu_pressure,
    );
    gauge(
        "p2pfaas_load_average_1m",
        "One-minute load average (/proc/loadavg).",
        Some(s.load_avg_1m),
    );
}

/// Prometheus label values escape backslash, double quote and newline.
fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests;
