//! `[node]`: the process — listen address, data directory, worker and blocking threads, io driver,
//! CPU pinning and the seed — and its validation.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use super::raw::RawNode;
use super::{ConfigError, bounded, field_err, nonzero};

/// Which io driver each worker runtime uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverChoice {
    /// io_uring with `SINGLE_ISSUER | DEFER_TASKRUN` where possible, else epoll.
    Auto,
    /// io_uring only; start-up fails if it cannot be set up.
    IoUring,
    /// The epoll ("legacy") driver.
    Epoll,
}

/// `[node]`.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    pub listen: SocketAddr,
    /// Where run-time configuration is persisted.
    pub data_dir: PathBuf,
    /// Worker threads, one monoio runtime each.
    pub workers: NonZeroUsize,
    /// io driver choice.
    pub driver: DriverChoice,
    /// Pin worker `i` to CPU `i mod ncpu`.
    pub pin_cpus: bool,
    /// Threads of the blocking pool (CPU-bound functions, file writes).
    pub blocking_threads: NonZeroUsize,
    /// Seed of every random generator in the node (worker `i` uses `seed + i`).
    pub seed: u64,
    /// Service-time divisor of the built-ins (`sleep`, `cpu-loop`) without their own `speed`.
    pub speed: f64,
}

/// Validates `[node]`; the thread counts default to the number of CPUs.
pub(super) fn validate(raw: &RawNode) -> Result<NodeConfig, ConfigError> {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let listen_text = raw.listen.as_deref().unwrap_or("0.0.0.0:18080");
    let listen: SocketAddr = listen_text.parse().map_err(|_| {
        field_err(
            "node.listen",
            format!("expected host:port such as 127.0.0.1:18080, got {listen_text:?}"),
        )
    })?;
    let data_dir = PathBuf::from(raw.data_dir.as_deref().unwrap_or("/var/lib/p2pfaas"));
    if data_dir.as_os_str().is_empty() {
        return Err(field_err("node.data_dir", "must not be empty"));
    }
    let workers = bounded("node.workers", raw.workers.unwrap_or(cores), 1, 1024)?;
    let blocking_threads = bounded(
        "node.blocking_threads",
        raw.blocking_threads.unwrap_or(cores),
        1,
        1024,
    )?;
    let driver = match raw.driver.as_deref().unwrap_or("auto") {
        "auto" => DriverChoice::Auto,
        "io-uring" | "io_uring" | "uring" => DriverChoice::IoUring,
        "epoll" | "legacy" => DriverChoice::Epoll,
        other => {
            return Err(field_err(
                "node.driver",
                format!("expected auto, io-uring or epoll, got {other:?}"),
            ));
        }
    };
    Ok(NodeConfig {
        listen,
        data_dir,
        workers: nonzero(workers),
        driver,
        pin_cpus: raw.pin_cpus.unwrap_or(false),
        blocking_threads: nonzero(blocking_threads),
        seed: raw.seed.unwrap_or(0x5eed),
        speed: super::speed::checked("node.speed", raw.speed)?,
    })
}
