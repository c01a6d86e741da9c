//! Soak runs (`p2pfaas-bench soak <spec.toml>`): one cluster under steady open-loop load for a long
//! time, each node's resident memory and open file descriptors sampled every second, and a verdict: after
//! the warm-up nothing may grow beyond `max_growth`, and no request may fail (rejects are fine).
//!
//! Growth compares the largest value of the last quarter of the measured samples with the largest of the
//! first quarter: a leak grows without bound and shows there, while the noise of one sample does not.
//! File descriptors also get an absolute slack of [`FD_SLACK`]: a node holds a few dozen, so 5 % is a
//! single connection, and one more keep-alive connection from a peer or the generator is not a leak.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::experiment::report::{Accumulator, Row};
use crate::experiment::spec::Spec;
use crate::experiment::{self, Error, Options, svg};
use crate::load;

/// Extra descriptors tolerated on top of the relative growth.
pub const FD_SLACK: u64 = 4;

/// One reading of one node.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the traffic started.
    pub t_s: f64,
    /// Node index.
    pub node: usize,
    /// `VmRSS`, KiB.
    pub rss_kib: u64,
    /// Entries in `/proc/<pid>/fd`.
    pub fds: u64,
}

/// The verdict for one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeVerdict {
    /// `n0`, `n1`, ….
    pub node: String,
    /// Largest RSS of the first quarter after warm-up, KiB.
    pub rss_early_kib: u64,
    /// Largest RSS of the last quarter, KiB.
    pub rss_late_kib: u64,
    /// Largest fd count of the first quarter.
    pub fds_early: u64,
    /// Largest fd count of the last quarter.
    pub fds_late: u64,
    /// Within the allowed growth.
    pub ok: bool,
}

/// What a soak run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Soak {
    /// The spec as run.
    pub spec: Spec,
    /// `git describe --always --dirty`.
    pub commit: String,
    /// Host, kernel, CPUs.
    pub machine: String,
    /// UTC start.
    pub date: String,
    /// Allowed relative growth (0.05 = 5 %).
    pub max_growth: f64,
    /// The traffic's totals, as an experiment row.
    pub row: Row,
    /// Every reading.
    pub samples: Vec<Sample>,
    /// One per node.
    pub verdicts: Vec<NodeVerdict>,
}

impl Soak {
    /// Whether every node stayed within bounds and no request failed.
    pub fn passed(&self) -> bool {
        self.row.failed == 0 && self.verdicts.iter().all(|v| v.ok)
    }

    /// The verdict table in markdown.
    pub fn markdown(&self) -> String {
        let r = &self.row;
        let mut out = format!(
            "# soak: {}\n\ncommit `{}` · {} · {}\n\n{} s at ρ = {} after {} s of warm-up: sent {}, ok {}, \
             rejected {} ({:.4}), failed {}, p99 {:.1} ms\n\n\
             | node | RSS early KiB | RSS late KiB | growth | fds early | fds late | verdict |\n\
             |---|---|---|---|---|---|---|\n",
            self.spec.name,
            self.commit,
            self.machine,
            self.date,
            self.spec.traffic.duration_s,
            r.rho,
            self.spec.traffic.warmup_s,
            r.sent,
            r.ok,
            r.rejected,
            r.reject_rate,
            r.failed,
            r.p99_ms
        );
        for v in &self.verdicts {
            let growth = v.rss_late_kib as f64 / v.rss_early_kib.max(1) as f64 - 1.0;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:+.1}% | {} | {} | {} |",
                v.node,
                v.rss_early_kib,
                v.rss_late_kib,
                growth * 100.0,
                v.fds_early,
                v.fds_late,
                if v.ok { "ok" } else { "GROWS" }
            );
        }
        out
    }

    /// Writes `soak.json`, `soak.md`, `rss.svg` and `fds.svg` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), Error> {
        let series = |value: fn(&Sample) -> f64| -> Vec<(String, Vec<(f64, f64)>)> {
            (0..self.verdicts.len())
                .map(|n| {
                    let points = self
                        .samples
                        .iter()
                        .filter(|s| s.node == n)
                        .map(|s| (s.t_s, value(s)))
                        .collect();
                    (format!("n{n}"), points)
                })
                .collect()
        };
        let title = |what: &str| format!("soak {}: {what}", self.spec.name);
        let files = [
            (
                "soak.json".to_owned(),
                serde_json::to_string_pretty(self).unwrap_or_default(),
            ),
            ("soak.md".to_owned(), self.markdown()),
            (
                "rss.svg".to_owned(),
                svg::chart(
                    &title("resident memory (MiB)"),
                    "seconds",
                    &series(|s| s.rss_kib as f64 / 1024.0),
                ),
            ),
            (
                "fds.svg".to_owned(),
                svg::chart(
                    &title("open file descriptors"),
                    "seconds",
                    &series(|s| s.fds as f64),
                ),
            ),
        ];
        experiment::write_files(dir, files).map_err(|(path, source)| Error::Write { path, source })
    }
}

/// Runs the spec's first scheduler at its first ρ for `traffic.warmup_s + traffic.duration_s`,
/// sampling every node every `every`.
pub fn run(
    spec: &Spec,
    options: &Options,
    every: Duration,
    max_growth: f64,
) -> Result<Soak, Error> {
    let scheduler = &spec.schedulers[0];
    let seed = spec.traffic.seeds[0];
    let rho = spec.traffic.rho[0];
    let date = experiment::utc_now();
    let cluster = experiment::start_cluster(spec, scheduler, seed, options)?;
    let lambda = spec.rates(rho);
    let load_spec = experiment::load_spec(spec, &cluster.addrs(), &lambda, seed, 0, rho)?;
    let deadlines = spec.classes().iter().map(|c| c.deadline_ms).collect();
    let mut acc = Accumulator::new(spec.traffic.warmup_s, deadlines);
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (pids, stop) = (cluster.pids(), Arc::clone(&stop));
        let started = Instant::now();
        thread::spawn(move || sample_until(&pids, &stop, started, every))
    };
    let result = load::run_with(&load_spec, &mut std::io::sink(), |r| acc.add(r));
    stop.store(true, Ordering::Relaxed);
    let samples = sampler.join().unwrap_or_default();
    result.map_err(|source| Error::Load { rho, source })?;
    let mut row = acc.finish(scheduler.label(), seed, rho, lambda, None);
    row.load_sources = cluster.load_sources();
    let verdicts = judge(
        &samples,
        spec.cluster.nodes,
        spec.traffic.warmup_s,
        max_growth,
    );
    Ok(Soak {
        spec: spec.clone(),
        commit: experiment::commit(),
        machine: experiment::machine(),
        date,
        max_growth,
        row,
        samples,
        verdicts,
    })
}

fn sample_until(pids: &[u32], stop: &AtomicBool, started: Instant, every: Duration) -> Vec<Sample> {
    let mut out = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let t_s = started.elapsed().as_secs_f64();
        for (node, &pid) in pids.iter().enumerate() {
            if let Some((rss_kib, fds)) = read_process(pid) {
                out.push(Sample {
                    t_s,
                    node,
                    rss_kib,
                    fds,
                });
            }
        }
        thread::sleep(every);
    }
    out
}

/// `VmRSS` (KiB) and the number of open descriptors of `pid`, if it is alive.
fn read_process(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    Some((rss, fds))
}

/// Compares the first and the last quarter of each node's samples after `warmup_s`.
pub fn judge(samples: &[Sample], nodes: usize, warmup_s: f64, max_growth: f64) -> Vec<NodeVerdict> {
    (0..nodes)
        .map(|n| {
            let mine: Vec<&Sample> = samples
                .iter()
                .filter(|s| s.node == n && s.t_s >= warmup_s)
                .collect();
            let quarter = (mine.len() / 4).max(1);
            let early = &mine[..quarter.min(mine.len())];
            let late = &mine[mine.len().saturating_sub(quarter)..];
            let max = |part: &[&Sample], f: fn(&Sample) -> u64| {
                part.iter().map(|s| f(s)).max().unwrap_or(0)
            };
            let (rss_early, rss_late) = (max(early, |s| s.rss_kib), max(late, |s| s.rss_kib));
            let (fds_early, fds_late) = (max(early, |s| s.fds), max(late, |s| s.fds));
            let rss_ok = rss_late as f64 <= rss_early as f64 * (1.0 + max_growth);
            let fds_ok = fds_late as f64 <= fds_early as f64 * (1.0 + max_growth) + FD_SLACK as f64;
            NodeVerdict {
                node: format!("n{n}"),
                rss_early_kib: rss_early,
                rss_late_kib: rss_late,
                fds_early,
                fds_late,
                ok: !mine.is_empty() && rss_ok && fds_ok,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(rss: impl Fn(f64) -> u64, fds: impl Fn(f64) -> u64) -> Vec<Sample> {
        (0..100)
            .map(|i| {
                let t_s = f64::from(i);
                Sample {
                    t_s,
                    node: 0,
                    rss_kib: rss(t_s),
                    fds: fds(t_s),
                }
            })
            .collect()
    }

    #[test]
    fn flat_noise_passes_and_a_slow_leak_fails() {
        let flat = samples(|t| 10_000 + (t as u64 % 3) * 50, |t| 30 + t as u64 % 2);
        assert!(judge(&flat, 1, 10.0, 0.05)[0].ok);
        // 10 KiB per second: +9 % between the quarters.
        let leak = samples(|t| 10_000 + 10 * t as u64, |_| 30);
        assert!(!judge(&leak, 1, 10.0, 0.05)[0].ok);
        // One descriptor per 5 s: 13 more by the end.
        let fd_leak = samples(|_| 10_000, |t| 30 + t as u64 / 5);
        assert!(!judge(&fd_leak, 1, 10.0, 0.05)[0].ok);
        // Warm-up growth does not count.
        let warming = samples(|t| if t < 10.0 { 5_000 } else { 10_000 }, |_| 30);
        assert!(judge(&warming, 1, 10.0, 0.05)[0].ok);
        // A node never sampled fails rather than passes.
        assert!(!judge(&flat, 2, 10.0, 0.05)[1].ok);
    }
}
