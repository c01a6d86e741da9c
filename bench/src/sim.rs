//! The discrete-event simulator (`p2pfaas-bench simulate <spec.toml>`): the experiment spec that
//! `p2pfaas-bench run` takes, run on simulated nodes that use the node's own code — its admission rule
//! (`p2pfaas_node::queue::rule`), its `Scheduler` implementations built from the same descriptors, and
//! its learning agent — so a design checked in simulation is the code that is deployed. The result is
//! the same [`Report`] as a live run, with `mode = "simulated"` and 95% confidence intervals from
//! batch means.
//!
//! - [`knobs`]: the spec's optional `[simulation]` table.
//! - `engine`: the event loop of one point; `event`: its calendar; `service`: service-time draws;
//!   `batch`: batch means.
//! - [`compare`]: two reports side by side (`p2pfaas-bench compare`).
//!
//! What is modelled exactly and what is approximated is listed in `bench/README.md` ("Simulator").

mod batch;
pub mod cli;
pub mod compare;
mod engine;
mod event;
pub mod knobs;
mod service;

use std::path::PathBuf;
use std::sync::Arc;

use p2pfaas_node::config::{Config, Raw};
use p2pfaas_node::learning::{Agent, dims_for};
use p2pfaas_node::scheduler::{self, Descriptor, DescriptorError, Scheduler};
use rand::SeedableRng;
use rand::rngs::SmallRng;

use crate::arrivals::{Profile, Schedule};
use crate::experiment::report::{self, Accumulator, Report, Row};
use crate::experiment::spec::Spec;
use crate::experiment::{commit, machine, utc_now};
use engine::{Engine, NodeSetup, Rewards, Setup};
use service::Service;

/// How to simulate, beyond the spec.
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    /// Overrides `simulation.arrivals` (measured arrivals per point, all nodes).
    pub arrivals: Option<u64>,
    /// Print a line per point to stderr.
    pub progress: bool,
}

/// Why a simulation could not run. Nothing has been written when it is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `[simulation]` knob is out of range.
    #[error("{field}: {message}")]
    Knob {
        /// Dotted path of the field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A `[[scheduler]]` descriptor the node would refuse.
    #[error("scheduler {label}")]
    Scheduler {
        /// Its label.
        label: String,
        /// The node's reason.
        source: DescriptorError,
    },
    /// `cluster.node_config` is not a config the node would accept.
    #[error("cluster.node_config: {0}")]
    NodeConfig(String),
    /// `simulation.service_file` could not be read or parsed.
    #[error("simulation.service_file {path}: {message}")]
    ServiceFile {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A node's λ is not a valid arrival rate.
    #[error("rate at ρ = {rho}: {message}")]
    Rate {
        /// Which point.
        rho: f64,
        /// Why.
        message: String,
    },
}

/// Simulates every (scheduler, seed, ρ) point of `spec` and returns the report, rows in the order
/// `run` would produce them, `mode = "simulated"`. Deterministic: the same spec and options give the
/// same rows, bit for bit. For each (scheduler, seed) the nodes' schedulers (and learning agents) are
/// built once and kept across the ρ sweep, as a live cluster is; the queues start empty at every
/// point. Every ρ point of one seed uses the same arrival streams for every scheduler (common random
/// numbers), so differences between schedulers are not sampling noise of the arrivals.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let spec = p2pfaas_bench::experiment::spec::Spec::parse(&std::fs::read_to_string("bench/specs/single-node.toml")?)?;
/// let report = p2pfaas_bench::sim::run(&spec, &p2pfaas_bench::sim::SimOptions::default())?;
/// for row in &report.rows {
///     println!("{} ρ={} reject {:.4} ± {:.4}", row.scheduler, row.rho, row.reject_rate, row.reject_rate_ci95.unwrap_or(0.0));
/// }
/// # Ok(()) }
/// ```
pub fn run(spec: &Spec, options: &SimOptions) -> Result<Report, Error> {
    Ok(run_counted(spec, options)?.0)
}

/// [`run`], also returning how many arrivals were simulated in all (warm-up included).
pub fn run_counted(spec: &Spec, options: &SimOptions) -> Result<(Report, u64), Error> {
    let knobs = &spec.simulation;
    let c = &spec.cluster;
    knobs
        .validate(c.nodes)
        .map_err(|(field, message)| Error::Knob { field, message })?;
    if spec.mix.iter().any(|m| m.function.is_some()) {
        // Other functions live in `cluster.node_config`, whose service times the model does not know.
        return Err(Error::Knob {
            field: "mix.function",
            message: "the simulator models only [function]; remove mix.function".into(),
        });
    }
    let service = service(spec)?;
    let node = node_config(spec)?;
    let mut total = 0.0;
    let classes: Vec<(f64, u16, Option<u64>)> = spec
        .classes()
        .iter()
        .map(|class| {
            total += class.weight;
            let task = class
                .task_type
                .map_or(0, |t| u16::try_from(t).unwrap_or(u16::MAX));
            (total, task, class.deadline_ms.map(ms_to_ns))
        })
        .collect();
    let deadlines: Vec<Option<f64>> = spec.classes().iter().map(|c| c.deadline_ms).collect();
    let model = (c.nodes == 1).then(|| {
        let k = u32::try_from(c.slots).unwrap_or(u32::MAX);
        let q = u32::try_from(c.queue_len).unwrap_or(u32::MAX);
        (k, q, 1000.0 / spec.function.mean_ms)
    });
    let arrivals = options.arrivals.unwrap_or(knobs.arrivals);
    let mut rows = Vec::new();
    let mut simulated = 0;
    for desc in &spec.schedulers {
        let label = desc.label();
        for &seed in &spec.traffic.seeds {
            let mut scheds = schedulers(desc, &label, c.nodes, &node)?;
            for (point, &rho) in spec.traffic.rho.iter().enumerate() {
                let lambda = spec.rates(rho);
                let total_rate: f64 = lambda.iter().sum();
                let duration_s = if arrivals > 0 && total_rate > 0.0 {
                    arrivals as f64 / total_rate
                } else {
                    spec.traffic.duration_s
                };
                let warmup_ns = ms_to_ns(spec.traffic.warmup_s * 1e3);
                let end_ns = warmup_ns + ms_to_ns(duration_s * 1e3);
                // The live runner's seeds, with the ρ index as the point: the same streams for every
                // scheduler.
                let base = seed
                    .wrapping_mul(1_000_003)
                    .wrapping_add(point as u64 * 101);
                let nodes = (0..c.nodes)
                    .map(|i| {
                        let arrivals = match lambda[i] {
                            l if l > 0.0 => Some(Schedule::new(
                                Profile::constant(l).map_err(|e| Error::Rate {
                                    rho,
                                    message: e.to_string(),
                                })?,
                                spec.traffic.process.into(),
                                base.wrapping_add(i as u64),
                            )),
                            _ => None,
                        };
                        Ok(NodeSetup {
                            speed: knobs.speed.get(i).copied().unwrap_or(1.0),
                            arrivals,
                            classes: SmallRng::seed_from_u64(
                                base ^ (i as u64) << 32 ^ 0x6d69_785f_636c_6173,
                            ),
                        })
                    })
                    .collect::<Result<Vec<_>, Error>>()?;
                let setup = Setup {
                    slots: c.slots,
                    queue_len: c.queue_len,
                    task_types: node.queue.task_types,
                    link_ns: ms_to_ns(c.link_delay_ms),
                    probe_extra_ns: ms_to_ns(knobs.probe_delay_ms),
                    refresh_ns: ms_to_ns(knobs.view_refresh_ms),
                    warmup_ns,
                    end_ns,
                    batches: knobs.batches,
                    service: &service,
                    classes: &classes,
                    rewards: Rewards {
                        met: node.learner.reward_met,
                        missed: node.learner.reward_missed,
                        rejected: node.learner.reward_rejected,
                    },
                    rng: SmallRng::seed_from_u64(base ^ 0x7363_6865_6475_6c65),
                    service_rng: SmallRng::seed_from_u64(base ^ 0x7365_7276_6963_6573),
                };
                let acc = Accumulator::new(spec.traffic.warmup_s, deadlines.clone());
                let (acc, batches, n) = Engine::new(setup, nodes, &mut scheds, acc).run();
                simulated += n;
                let mut row: Row = acc.finish(label.clone(), seed, rho, lambda, model);
                row.load_sources = vec!["simulated".to_owned()];
                row.reject_rate_ci95 = batches.reject_rate();
                row.deadline_met_ci95 = row.deadline_met.and(batches.deadline_met());
                row.mean_ms_ci95 = batches.mean_ms();
                if options.progress {
                    eprintln!(
                        "{label} seed {seed} ρ {rho}: sent {} reject {:.4} ± {:.4} forwarded {:.0}% p99 {:.1} ms",
                        row.sent,
                        row.reject_rate,
                        row.reject_rate_ci95.unwrap_or(f64::NAN),
                        row.forwarded * 100.0,
                        row.p99_ms
                    );
                }
                rows.push(row);
            }
        }
    }
    let report = Report {
        schema: report::SCHEMA.to_owned(),
        mode: "simulated".to_owned(),
        commit: commit(),
        machine: machine(),
        date: utc_now(),
        spec: spec.clone(),
        rows,
    };
    Ok((report, simulated))
}

fn ms_to_ns(ms: f64) -> u64 {
    (ms * 1e6).round() as u64
}

/// The service-time law: the measured file when given, else the spec's distribution.
fn service(spec: &Spec) -> Result<Service, Error> {
    if let Some(path) = &spec.simulation.service_file {
        let path = PathBuf::from(path);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::ServiceFile {
            path: path.clone(),
            message: e.to_string(),
        })?;
        return Service::from_measured(&text)
            .map_err(|message| Error::ServiceFile { path, message });
    }
    let mean_ns = spec.function.mean_ms * 1e6;
    Ok(match spec.function.distribution.as_str() {
        "fixed" => Service::Fixed { ns: mean_ns },
        _ => Service::Exponential { mean_ns },
    })
}

/// The node's config from `cluster.node_config` (learner parameters and rewards, task types), checked
/// by the node's own validation.
fn node_config(spec: &Spec) -> Result<Config, Error> {
    let raw =
        Raw::from_toml(&spec.cluster.node_config).map_err(|e| Error::NodeConfig(e.to_string()))?;
    Config::from_raw(raw).map_err(|e| Error::NodeConfig(e.to_string()))
}

/// One scheduler per node, built by the node's own `scheduler::build`, each node with its own agent.
fn schedulers(
    desc: &crate::experiment::spec::Scheduler,
    label: &str,
    nodes: usize,
    node: &Config,
) -> Result<Vec<Box<dyn Scheduler>>, Error> {
    let desc = Descriptor {
        name: desc.name.clone(),
        parameters: desc.parameters.clone(),
    };
    let err = |source| Error::Scheduler {
        label: label.to_owned(),
        source,
    };
    let task_types = node.queue.task_types;
    let features = &node.learner.state_features;
    let dims = match scheduler::parse(&desc, task_types).map_err(err)? {
        scheduler::Spec::Learning { task_types } => dims_for(task_types, features.len()),
        _ => dims_for(1, features.len()),
    };
    (0..nodes)
        .map(|_| {
            let agent = Arc::new(
                Agent::new(dims, node.learner.parameters)
                    .map_err(|e| Error::NodeConfig(e.to_string()))?,
            );
            let ctx = scheduler::Context {
                task_types,
                agent: &agent,
                features,
            };
            scheduler::build(&desc, &ctx).map_err(err)
        })
        .collect()
}
