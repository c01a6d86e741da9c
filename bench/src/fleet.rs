//! Experiments on a deployed fleet (`p2pfaas-bench run SPEC.toml --fleet FLEET.toml`): the same spec
//! and report as a local run, on nodes this tool did not start. The runner checks the fleet first
//! ([`preflight`]: nothing changes on any node until every check passes), then per scheduler and seed
//! sets the scheduler, K/Q and learner through the signed admin API ([`settings`]), drives the spec's
//! load from this machine with the open-loop generator, scrapes every node's `/metrics` before and
//! after each point into a per-node table ([`metrics`]), and puts each node's own settings and learned
//! weights back at the end — also on an error, Ctrl-C or SIGTERM. `p2pfaas-bench fleet status`
//! ([`status`]) shows the fleet now.
//!
//! # Layout
//! - [`mod@file`]: the fleet file. [`fit`]: which spec fields a fleet can take (errors and warnings).
//! - [`sign`]: the cluster-key signature of admin calls. [`client`]: one node's admin and monitoring
//!   routes over blocking HTTP/1.1.
//! - [`preflight`], [`settings`], [`metrics`], `restore`: the steps of a run (its progress lines:
//!   [`crate::progress`]). [`cli`]: the two commands' flags.

pub mod cli;
pub mod client;
pub mod file;
pub mod fit;
pub mod metrics;
pub mod preflight;
mod restore;
pub mod settings;
pub mod sign;
pub mod status;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use self::client::{CallError, Client};
use self::file::{Fleet, FleetError};
use self::metrics::{NodePoint, Scrape};
use self::restore::{RestoreOnDrop, Restorer, Saved, restore_on_signal};
use self::settings::Target;
use self::sign::Signer;
use crate::experiment::report::{Accumulator, Report};
use crate::experiment::spec::Spec;
use crate::experiment::{self, report};
use crate::load;
use crate::progress::Progress;

/// Timeout of one admin or monitoring call.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a fleet run stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The fleet file or its key.
    #[error("fleet file")]
    Fleet(#[from] FleetError),
    /// Spec fields a fleet cannot take (nothing was changed).
    #[error("the spec does not fit a fleet:\n  {}", .0.join("\n  "))]
    Plan(Vec<String>),
    /// The preflight failed (nothing was changed).
    #[error("preflight failed, nothing was changed:\n  {}", .0.join("\n  "))]
    Preflight(Vec<String>),
    /// A node refused or missed a change (the original settings were put back).
    #[error("{node}: setting {what}")]
    Configure {
        /// The node.
        node: String,
        /// What was being set.
        what: String,
        /// Why.
        source: CallError,
    },
    /// A node's `/metrics` could not be read.
    #[error("{node}: reading /metrics")]
    Scrape {
        /// The node.
        node: String,
        /// Why.
        source: CallError,
    },
    /// The load generator (or a results file).
    #[error(transparent)]
    Experiment(#[from] experiment::Error),
    /// Ctrl-C or SIGTERM: the original settings were put back.
    #[error("interrupted; the nodes' own settings were put back")]
    Interrupted,
    /// Some nodes did not take their original settings back.
    #[error("restoring the nodes' settings failed:\n  {}", .0.join("\n  "))]
    Restore(Vec<String>),
}

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// When set, every point's request records are written here as `requests-<n>.csv`.
    pub requests_dir: Option<PathBuf>,
    /// A progress line per second, and the warnings, on stderr.
    pub progress: bool,
    /// Put the settings back on SIGINT/SIGTERM, then exit (the command line; tests leave it off).
    pub handle_signals: bool,
    /// `--load-weights DIR`: after its reset, each node of a learning scheduler's run starts from
    /// `simulate --save-weights DIR`'s table for its index, as a local run's nodes do.
    pub load_weights: Option<PathBuf>,
}

/// A fleet run's report: the experiment report (`mode = "fleet"`) plus the fleet and what each node
/// measured. Its JSON reads as a plain [`Report`] too (`compare` takes it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetReport {
    /// The rows, as a local run has them.
    #[serde(flatten)]
    pub report: Report,
    /// The fleet file as run.
    pub fleet: Fleet,
    /// Each node as the preflight found it: name, address, `machine_id`, version, clock offset.
    pub fleet_nodes: Vec<NodeSummary>,
    /// Spec fields that did not apply and preflight warnings.
    pub warnings: Vec<String>,
    /// One entry per (point, node), from the nodes' own metrics.
    pub node_points: Vec<NodePoint>,
}

/// A node as the preflight found it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeSummary {
    /// Name in tables.
    pub name: String,
    /// `host:port`.
    pub address: String,
    /// Its `machine_id`.
    pub machine_id: String,
    /// `version (commit)`.
    pub version: String,
    /// Node clock − this machine's, ms.
    pub clock_offset_ms: Option<i64>,
}

/// `f` on every item in parallel (one thread each: fleets are small and calls wait on the network),
/// results in item order; `panicked` stands in for a thread that panicked.
pub(crate) fn on_each<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
    panicked: impl Fn() -> R,
) -> Vec<R> {
    thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = items.iter().map(|i| s.spawn(move || f(i))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| panicked()))
            .collect()
    })
}

/// Clients of every fleet node; an address that does not resolve is a preflight failure.
pub fn clients(fleet: &Fleet) -> Result<Vec<Client>, Error> {
    let signer = fleet.key()?.map(|key| {
        // Nonces must not repeat within a node's replay window: start them from the clock.
        let seed =
            u64::try_from(client::unix_ms()).unwrap_or(0) << 20 ^ u64::from(std::process::id());
        Arc::new(Signer::new(key, seed))
    });
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for n in &fleet.nodes {
        match Client::new(&n.address, signer.clone(), CALL_TIMEOUT) {
            Ok(c) => out.push(c),
            Err(e) => errors.push(format!("{}: {e}", preflight::label(n))),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Error::Preflight(errors))
    }
}

/// Runs every (scheduler, seed, ρ) point of `spec` on `fleet`.
pub fn run(spec: &Spec, fleet: &Fleet, options: &Options) -> Result<FleetReport, Error> {
    let plan = fit::plan(spec).map_err(Error::Plan)?;
    let clients = clients(fleet)?;
    let pre = preflight::run(spec, fleet, &clients, &plan.functions).map_err(Error::Preflight)?;
    let mut warnings = plan.warnings.clone();
    warnings.extend(pre.warnings.iter().cloned());
    if options.progress {
        for w in &warnings {
            eprintln!("warning: {w}");
        }
    }
    let restorer = Arc::new(Restorer::new(
        pre.nodes
            .iter()
            .map(|n| Saved {
                name: n.name.clone(),
                client: n.client.clone(),
                settings: n.original.clone(),
                weights: n.weights.clone(),
            })
            .collect(),
        plan.learner.is_some(),
    ));
    let _guard = RestoreOnDrop(Arc::clone(&restorer));
    let signals = options
        .handle_signals
        .then(|| restore_on_signal(Arc::clone(&restorer)))
        .flatten();
    let (rows, node_points) = sweep(spec, &pre.nodes, &plan, &restorer, options)?;
    // A signal during this restore waits for it (the restorer's lock) and then only exits.
    let restored = restorer.restore().map_err(Error::Restore);
    if let Some(handle) = signals {
        handle.close();
    }
    restored?;
    Ok(FleetReport {
        report: Report {
            schema: report::SCHEMA.to_owned(),
            mode: "fleet".to_owned(),
            commit: experiment::commit(),
            machine: experiment::machine(),
            date: experiment::utc_now(),
            spec: spec.clone(),
            rows,
        },
        fleet: fleet.clone(),
        fleet_nodes: pre
            .nodes
            .iter()
            .map(|n| NodeSummary {
                name: n.name.clone(),
                address: n.client.address.clone(),
                machine_id: n.machine_id.clone(),
                version: n.version.clone(),
                clock_offset_ms: n.offset_ms.map(|(o, _)| o),
            })
            .collect(),
        warnings,
        node_points,
    })
}

/// Every run and point; the rows and the per-node table.
fn sweep(
    spec: &Spec,
    nodes: &[preflight::Node],
    plan: &fit::Plan,
    restorer: &Restorer,
    options: &Options,
) -> Result<(Vec<report::Row>, Vec<NodePoint>), Error> {
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.client.addr()).collect();
    let deadlines: Vec<Option<f64>> = spec.classes().iter().map(|c| c.deadline_ms).collect();
    let t = &spec.traffic;
    let points = spec.schedulers.len() * t.seeds.len() * t.rho.len();
    let mut progress = Progress::new(points, t.warmup_s + t.duration_s, options.progress);
    let (mut rows, mut node_points) = (Vec::new(), Vec::new());
    let mut point = 0;
    for scheduler in &spec.schedulers {
        let target = Target::new(spec, scheduler, plan.learner.clone());
        for &seed in &t.seeds {
            restorer.change(|| {
                configure(nodes, &target, &scheduler.label())?;
                match options.load_weights.as_deref() {
                    Some(dir) if target.reset_learner => {
                        load_weights(nodes, dir, &scheduler.label())
                    }
                    _ => Ok(()),
                }
            })?;
            for (i, &rho) in t.rho.iter().enumerate() {
                let lambda = spec.rates(rho);
                let load_spec = experiment::load_spec(spec, &addrs, &lambda, seed, i, rho)?;
                let before = scrape(nodes)?;
                let mut acc = Accumulator::new(t.warmup_s, deadlines.clone());
                let mut csv = experiment::requests_file(options.requests_dir.as_deref(), point)?;
                progress.start_point(format!("{} seed {seed} ρ {rho}", scheduler.label()));
                load::run_with(&load_spec, &mut csv, |r| {
                    acc.add(r);
                    progress.record(r);
                })
                .map_err(|source| experiment::Error::Load { rho, source })?;
                let after = scrape(nodes)?;
                let label = scheduler.label();
                let here: Vec<NodePoint> = nodes
                    .iter()
                    .zip(before.iter().zip(&after))
                    .map(|(n, (b, a))| NodePoint::between(&n.name, (&label, seed, rho), b, a))
                    .collect();
                let mut row = acc.finish(label, seed, rho, lambda, None);
                row.load_sources = here.iter().map(|p| p.load_source.clone()).collect();
                progress.end_point(&row);
                rows.push(row);
                node_points.extend(here);
                point += 1;
            }
        }
    }
    Ok((rows, node_points))
}

/// Sets `target` on every node (in parallel) and waits until each reports it.
fn configure(nodes: &[preflight::Node], target: &Target, label: &str) -> Result<(), Error> {
    let results = on_each(
        nodes,
        |n| settings::apply(&n.client, target),
        || Err(CallError::Bad("the configuring thread panicked")),
    );
    for (n, r) in nodes.iter().zip(results) {
        r.map_err(|source| Error::Configure {
            node: n.name.clone(),
            what: label.to_owned(),
            source,
        })?;
    }
    Ok(())
}

/// Posts `DIR/<label>/n<i>.weights` to node i (the files `simulate --save-weights` writes).
fn load_weights(nodes: &[preflight::Node], dir: &Path, label: &str) -> Result<(), Error> {
    for (i, n) in nodes.iter().enumerate() {
        let path = crate::sim::weights_file(dir, label, i);
        let fail = |message: String| experiment::Error::LoadWeights {
            node: i,
            path: path.clone(),
            message,
        };
        let bytes = std::fs::read(&path).map_err(|e| fail(e.to_string()))?;
        settings::load_weights(&n.client, &bytes).map_err(|e| fail(e.to_string()))?;
    }
    Ok(())
}

/// Every node's `/metrics` (in parallel).
fn scrape(nodes: &[preflight::Node]) -> Result<Vec<Scrape>, Error> {
    let texts = on_each(
        nodes,
        |n| n.client.get_text("/metrics"),
        || Err(CallError::Bad("the scraping thread panicked")),
    );
    nodes
        .iter()
        .zip(texts)
        .map(|(n, t)| {
            t.map(|text| Scrape::parse(&text))
                .map_err(|source| Error::Scrape {
                    node: n.name.clone(),
                    source,
                })
        })
        .collect()
}

/// Writes `report.json` (the fleet report), `report.csv`, `report.md` (the rows, then the per-node
/// table) and the charts into `dir`.
pub fn write(report: &FleetReport, dir: &Path) -> Result<(), experiment::Error> {
    let mut files = vec![
        (
            "report.json".to_owned(),
            serde_json::to_string_pretty(report).unwrap_or_default(),
        ),
        ("report.csv".to_owned(), report.report.csv()),
        ("report.md".to_owned(), markdown(report)),
    ];
    files.extend(experiment::svg::charts(&report.report));
    experiment::write_files(dir, files)
        .map_err(|(path, source)| experiment::Error::Write { path, source })
}

/// The rows' table, the per-node table and the warnings, in markdown.
pub fn markdown(report: &FleetReport) -> String {
    let mut out = report.report.markdown();
    out.push_str("\n## Per node (from each node's /metrics)\n\n");
    out.push_str(&metrics::markdown(&report.node_points));
    if !report.warnings.is_empty() {
        out.push_str("\n## Warnings\n\n");
        for w in &report.warnings {
            out.push_str(&format!("- {w}\n"));
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One node, K = 1, the built-in `sleep` with mean `mean_ms`, NoScheduler.
    pub(crate) fn tiny_spec(mean_ms: f64) -> Spec {
        Spec::parse(&format!(
            "name = \"t\"\n[cluster]\nnodes = 1\nslots = 1\n[function]\nbuiltin = \"sleep\"\n\
             mean_ms = {mean_ms}\n[traffic]\nrho = [0.5]\nduration_s = 1\n[[scheduler]]\n\
             name = \"NoScheduler\""
        ))
        .expect("spec")
    }

    #[test]
    fn a_fleet_report_reads_as_a_plain_report() {
        let spec = tiny_spec(10.0);
        let fleet = Fleet::parse("[[node]]\naddress = \"a:1\"").expect("fleet");
        let report = FleetReport {
            report: Report {
                schema: report::SCHEMA.to_owned(),
                mode: "fleet".to_owned(),
                commit: "c".to_owned(),
                machine: "m".to_owned(),
                date: "d".to_owned(),
                spec,
                rows: Vec::new(),
            },
            fleet,
            fleet_nodes: Vec::new(),
            warnings: vec!["w".to_owned()],
            node_points: Vec::new(),
        };
        let json = serde_json::to_string(&report).expect("json");
        let plain: Report = serde_json::from_str(&json).expect("a plain report");
        assert_eq!(plain, report.report);
        let back: FleetReport = serde_json::from_str(&json).expect("a fleet report");
        assert_eq!(back, report);
        assert!(markdown(&report).contains("## Warnings\n\n- w\n"));
    }
}
