//! `p2pfaas-node load`: prints the live load sample from a running node's pinned maps, for people
//! without bpftool. It measures each interval itself (two readings of the per-CPU maps) and shows the
//! node's published scheduler state next to it.

use std::path::PathBuf;
use std::time::Duration;

/// Usage text of the subcommand.
pub const HELP: &str = "\
USAGE: p2pfaas-node load [--pin-dir DIR] [--interval-ms N] [--count N]

Prints the load measured by a running node's eBPF probes, read from its pinned maps.
  --pin-dir DIR      where the node pinned its maps (load.pin_dir)   [/sys/fs/bpf/p2pfaas]
  --interval-ms N    measurement interval                            [1000]
  --count N          samples to print, 0 = until interrupted         [0]
";

/// Parsed arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// Pin directory.
    pub pin_dir: PathBuf,
    /// Measurement interval.
    pub interval: Duration,
    /// Samples to print (0 = forever).
    pub count: u64,
}

/// Why the subcommand failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad arguments.
    #[error("{0}\n\n{HELP}")]
    Usage(String),
    /// The binary has no eBPF support.
    #[error(
        "this binary was built without the `ebpf` feature; read GET /monitoring/load from the node instead"
    )]
    NoEbpf,
    /// The pinned maps could not be opened or read.
    #[cfg(feature = "ebpf")]
    #[error("{0} (is a node running with the eBPF source and this --pin-dir?)")]
    Maps(#[from] super::ebpf::Error),
}

/// Parses the arguments after `load`.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, Error> {
    use lexopt::prelude::*;
    let usage = |e: lexopt::Error| Error::Usage(e.to_string());
    let mut out = Args {
        pin_dir: PathBuf::from("/sys/fs/bpf/p2pfaas"),
        interval: Duration::from_secs(1),
        count: 0,
    };
    let mut parser = lexopt::Parser::from_args(args);
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Long("pin-dir") => out.pin_dir = parser.value().map_err(usage)?.into(),
            Long("interval-ms") => {
                let ms: u64 = parser.value().map_err(usage)?.parse().map_err(usage)?;
                if !(10..=3_600_000).contains(&ms) {
                    return Err(Error::Usage(format!(
                        "--interval-ms: must be 10..=3600000, got {ms}"
                    )));
                }
                out.interval = Duration::from_millis(ms);
            }
            Long("count") => out.count = parser.value().map_err(usage)?.parse().map_err(usage)?,
            other => return Err(usage(other.unexpected())),
        }
    }
    Ok(out)
}

/// Runs the subcommand until `count` samples were printed.
#[cfg(feature = "ebpf")]
pub fn run(args: &Args) -> Result<(), Error> {
    use super::{LoadSample, kernel};
    let pinned = super::ebpf::Pinned::open(&args.pin_dir)?;
    let online = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let mut prev = pinned.snapshot()?;
    let mut printed = 0u64;
    while args.count == 0 || printed < args.count {
        std::thread::sleep(args.interval);
        let cur = pinned.snapshot()?;
        let m = kernel::measure(&prev, &cur);
        let mut sample = LoadSample {
            cpus: u32::try_from(online).unwrap_or(u32::MAX),
            ..LoadSample::EMPTY
        };
        m.apply(&mut sample);
        let (state, age_ns) = pinned.node_state()?;
        println!("{}", line(&sample, &m.per_cpu, &state, age_ns));
        prev = cur;
        printed += 1;
    }
    Ok(())
}

/// Without the feature there are no maps to read.
#[cfg(not(feature = "ebpf"))]
pub fn run(_args: &Args) -> Result<(), Error> {
    Err(Error::NoEbpf)
}

#[cfg(feature = "ebpf")]
fn line(
    s: &super::LoadSample,
    per_cpu: &[f64],
    state: &p2pfaas_ebpf_common::NodeState,
    age_ns: u64,
) -> String {
    use std::fmt::Write as _;
    let us = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"));
    let mut out = format!("util={:.3} per_cpu=[", s.utilisation);
    for (i, u) in per_cpu.iter().take(s.cpus as usize).enumerate() {
        let _ = write!(out, "{}{u:.2}", if i == 0 { "" } else { " " });
    }
    let _ = write!(
        out,
        "] runq_p50_us={} runq_p99_us={} node_cpu={:.3} ctxsw/s={:.0} | node pid={} running={} queued={} K={} (written {:.1}s ago)",
        us(s.runq_latency_p50_us),
        us(s.runq_latency_p99_us),
        s.function_cpu_share,
        s.context_switches_per_sec,
        state.pid,
        state.running,
        state.queued,
        state.slots,
        age_ns as f64 / 1e9
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, Error> {
        parse(list.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn defaults_and_flags() {
        let a = args(&[]).expect("defaults");
        assert_eq!(a.pin_dir, PathBuf::from("/sys/fs/bpf/p2pfaas"));
        assert_eq!((a.interval, a.count), (Duration::from_secs(1), 0));
        let a = args(&["--pin-dir", "/x", "--interval-ms", "250", "--count", "3"]).expect("flags");
        assert_eq!(a.pin_dir, PathBuf::from("/x"));
        assert_eq!((a.interval, a.count), (Duration::from_millis(250), 3));
        for bad in [
            &["--interval-ms", "5"][..],
            &["--count", "x"],
            &["--bogus"],
            &["extra"],
        ] {
            assert!(matches!(args(bad), Err(Error::Usage(_))), "{bad:?}");
        }
    }
}
