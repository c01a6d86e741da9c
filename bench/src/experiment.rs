//! Experiments on real nodes (`p2pfaas-bench run <spec.toml>`): for every scheduler and seed a fresh
//! cluster, the load generator swept over the spec's ρ points, and one [`report::Row`] per point; then
//! the report with its provenance, written as JSON, CSV, markdown and SVG charts.

pub mod cli;
pub mod cluster;
pub mod html;
pub mod proxy;
pub mod report;
pub mod spec;
pub mod svg;

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cluster::{Cluster, ClusterError};
use report::{Accumulator, Report, Row};
use spec::Spec;

use crate::arrivals::Profile;
use crate::load::{self, Target};
use crate::progress::Progress;

/// Why an experiment stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cluster did not come up.
    #[error("scheduler {scheduler}, seed {seed}")]
    Cluster {
        /// Which run.
        scheduler: String,
        /// Which seed.
        seed: u64,
        /// Why.
        source: ClusterError,
    },
    /// The load generator could not run.
    #[error("load at ρ = {rho}")]
    Load {
        /// Which point.
        rho: f64,
        /// Why.
        source: load::Error,
    },
    /// The spec has more nodes than a live run starts (it can still be simulated).
    #[error(
        "cluster.nodes: a live run starts at most {max} nodes, got {nodes} (simulate takes more)"
    )]
    TooManyNodes {
        /// The spec's node count.
        nodes: usize,
        /// [`spec::MAX_LIVE_NODES`].
        max: usize,
    },
    /// A rate in the spec is not a valid arrival rate.
    #[error("rate at ρ = {rho}: {message}")]
    Rate {
        /// Which point.
        rho: f64,
        /// Why.
        message: String,
    },
    /// `--load-weights`: a node refused its weight file (or it could not be read).
    #[error("--load-weights: node n{node}, {path}: {message}")]
    LoadWeights {
        /// Which node.
        node: usize,
        /// The file.
        path: PathBuf,
        /// Why (a shape mismatch names the field and both values).
        message: String,
    },
    /// Writing results.
    #[error("writing {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// How to run: where the node binary is, where per-request CSVs go, whether to print progress.
#[derive(Debug, Clone)]
pub struct Options {
    /// `p2pfaas-node`.
    pub node_binary: PathBuf,
    /// When set, every point's request records are written here as `requests-<n>.csv`.
    pub requests_dir: Option<PathBuf>,
    /// Print a line per point to stderr.
    pub progress: bool,
    /// `--load-weights DIR`: learning schedulers' nodes start from the tables `simulate
    /// --save-weights DIR` wrote for the same scheduler label (ε as the spec's learner parameters say).
    pub load_weights: Option<PathBuf>,
}

/// Runs every (scheduler, seed, ρ) point of `spec` on real nodes.
pub fn run(spec: &Spec, options: &Options) -> Result<Report, Error> {
    if spec.cluster.nodes > spec::MAX_LIVE_NODES {
        return Err(Error::TooManyNodes {
            nodes: spec.cluster.nodes,
            max: spec::MAX_LIVE_NODES,
        });
    }
    let mut rows = Vec::new();
    let classes = spec.classes();
    let deadlines: Vec<Option<f64>> = classes.iter().map(|c| c.deadline_ms).collect();
    let model = (spec.cluster.nodes == 1).then(|| {
        let k = u32::try_from(spec.slots(0)).unwrap_or(u32::MAX);
        let q = u32::try_from(spec.queue_len(0)).unwrap_or(u32::MAX);
        (k, q, 1000.0 * spec.speed(0) / spec.function.mean_ms)
    });
    let mut point = 0;
    let t = &spec.traffic;
    let points = spec.schedulers.len() * t.seeds.len() * t.rho.len();
    let mut progress = Progress::new(points, t.warmup_s + t.duration_s, options.progress);
    for scheduler in &spec.schedulers {
        for &seed in &spec.traffic.seeds {
            let cluster = start_cluster(spec, scheduler, seed, options)?;
            for (i, &rho) in spec.traffic.rho.iter().enumerate() {
                let lambda = spec.rates(rho);
                let load_spec = load_spec(spec, &cluster.addrs(), &lambda, seed, i, rho)?;
                let mut acc = Accumulator::new(spec.traffic.warmup_s, deadlines.clone());
                let mut csv = requests_file(options.requests_dir.as_deref(), point)?;
                progress.start_point(format!("{} seed {seed} ρ {rho}", scheduler.label()));
                load::run_with(&load_spec, &mut csv, |r| {
                    acc.add(r);
                    progress.record(r);
                })
                .map_err(|source| Error::Load { rho, source })?;
                let mut row: Row = acc.finish(scheduler.label(), seed, rho, lambda, model);
                row.load_sources = cluster.load_sources();
                progress.end_point(&row);
                rows.push(row);
                point += 1;
            }
        }
    }
    Ok(Report {
        schema: report::SCHEMA.to_owned(),
        mode: "live".to_owned(),
        commit: commit(),
        machine: machine(),
        date: utc_now(),
        spec: spec.clone(),
        rows,
    })
}

/// A fresh cluster for one (scheduler, seed), its error saying which.
pub fn start_cluster(
    spec: &Spec,
    scheduler: &spec::Scheduler,
    seed: u64,
    options: &Options,
) -> Result<Cluster, Error> {
    let cluster =
        Cluster::start(spec, scheduler, seed, &options.node_binary).map_err(|source| {
            Error::Cluster {
                scheduler: scheduler.label(),
                seed,
                source,
            }
        })?;
    if let Some(dir) = options
        .load_weights
        .as_deref()
        .filter(|_| scheduler.name == "LearningScheduler")
    {
        for (node, addr) in cluster.addrs().into_iter().enumerate() {
            let path = crate::sim::weights_file(dir, &scheduler.label(), node);
            let fail = |message: String| Error::LoadWeights {
                node,
                path: path.clone(),
                message,
            };
            let bytes = std::fs::read(&path).map_err(|e| fail(e.to_string()))?;
            post_weights(addr, &bytes).map_err(fail)?;
        }
    }
    Ok(cluster)
}

/// `POST /learner/weights` with a weight file; the node's error message when it refuses it.
fn post_weights(addr: SocketAddr, bytes: &[u8]) -> Result<(), String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let head = format!(
        "POST /learner/weights HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        bytes.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(bytes))
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    // The node closes the connection after answering (Connection: close).
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text.split(' ').nth(1).unwrap_or("");
    if status == "200" {
        Ok(())
    } else {
        let body = text.split("\r\n\r\n").nth(1).unwrap_or(&text);
        Err(format!("answered {status}: {}", body.trim()))
    }
}

/// The generator's run for one point: every node (`addrs`, in node order) with a rate > 0 as a target.
pub(crate) fn load_spec(
    spec: &Spec,
    addrs: &[SocketAddr],
    lambda: &[f64],
    seed: u64,
    point: usize,
    rho: f64,
) -> Result<load::Spec, Error> {
    let t = &spec.traffic;
    let targets = addrs
        .iter()
        .copied()
        .zip(lambda)
        .filter(|&(_, &l)| l > 0.0)
        .map(|(addr, &l)| {
            Profile::constant(l)
                .map(|profile| Target { addr, profile })
                .map_err(|e| Error::Rate {
                    rho,
                    message: e.to_string(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let seconds = t.warmup_s + t.duration_s;
    let most = lambda.iter().copied().fold(0.0, f64::max);
    Ok(load::Spec {
        targets,
        process: t.process.into(),
        // Distinct streams per seed and point; targets add their index.
        seed: seed
            .wrapping_mul(1_000_003)
            .wrapping_add(point as u64 * 101),
        function: "work".to_owned(),
        classes: spec.classes(),
        timeout: Duration::from_millis(t.timeout_ms),
        // The duration bounds the run; the count only guards against a runaway rate.
        max_requests: (most * seconds * 2.0) as u64 + 1000,
        max_duration: Duration::from_secs_f64(seconds),
        connections: 16,
        max_connections: 4096,
        spin: Duration::from_micros(100),
        progress: false,
    })
}

/// Where a point's request records go: a CSV file in `dir`, or nowhere.
pub(crate) fn requests_file(dir: Option<&Path>, point: usize) -> Result<Box<dyn io::Write>, Error> {
    let Some(dir) = dir else {
        return Ok(Box::new(io::sink()));
    };
    let path = dir.join(format!("requests-{point}.csv"));
    let mut file = std::fs::File::create(&path).map_err(|source| Error::Write {
        path: path.clone(),
        source,
    })?;
    io::Write::write_all(
        &mut file,
        format!("# {}\n{}\n", load::record::SCHEMA, load::record::HEADER).as_bytes(),
    )
    .map_err(|source| Error::Write { path, source })?;
    Ok(Box::new(io::BufWriter::new(file)))
}

/// Writes `report.json`, `report.csv`, `report.md`, one SVG per metric and `report.html` (all of it on
/// one self-contained page) into `dir`.
pub fn write(report: &Report, dir: &Path) -> Result<(), Error> {
    let charts = svg::charts(report);
    let mut files = vec![
        (
            "report.json".to_owned(),
            serde_json::to_string_pretty(report).unwrap_or_default(),
        ),
        ("report.csv".to_owned(), report.csv()),
        ("report.md".to_owned(), report.markdown()),
        ("report.html".to_owned(), html::experiment(report, &charts)),
    ];
    files.extend(charts);
    write_files(dir, files).map_err(|(path, source)| Error::Write { path, source })
}

/// Creates `dir` and writes each `(file name, contents)` into it; on failure, the path and the cause.
pub fn write_files(
    dir: &Path,
    files: impl IntoIterator<Item = (String, String)>,
) -> Result<(), (PathBuf, io::Error)> {
    std::fs::create_dir_all(dir).map_err(|e| (dir.to_owned(), e))?;
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| (path, e))?;
    }
    Ok(())
}

/// `git describe --always --dirty` of the working directory, or `unknown`.
pub fn commit() -> String {
    Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// `host, kernel release, N CPUs`.
pub fn machine() -> String {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "?".to_owned())
    };
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    format!(
        "{}, Linux {}, {cpus} CPUs",
        read("/proc/sys/kernel/hostname"),
        read("/proc/sys/kernel/osrelease")
    )
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, no time crate needed).
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(secs)
}

fn format_utc(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_795_780_800), "2026-11-27T12:00:00Z");
    }
}
