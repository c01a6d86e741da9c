//! The discrete-event simulator (`p2pfaas-bench simulate <spec.toml>`): the experiment spec that
//! `p2pfaas-bench run` takes, run on simulated nodes that use the node's own decision code from
//! `p2pfaas-core` — its admission rule (`admission`), its `Scheduler` implementations built from the
//! same descriptors, its invocation state machine and its learning agent — so a design checked in
//! simulation is the code that is deployed. It does not link the node (no runtime, no HTTP). The result is
//! the same [`Report`] as a live run, with `mode = "simulated"` and 95% confidence intervals from
//! batch means.
//!
//! - [`knobs`]: the spec's optional `[simulation]` table.
//! - `engine`: the event loop of one point; `event`: its calendar; `service`: service-time draws;
//!   `batch`: batch means; `host`: what a simulated node reads from `cluster.node_config`.
//! - [`compare`]: two reports side by side (`p2pfaas-bench compare`).
//!
//! What is modelled exactly and what is approximated is listed in `bench/README.md` ("Simulator").

mod batch;
pub mod cli;
pub mod compare;
mod engine;
mod event;
mod external;
pub(crate) mod host;
pub mod knobs;
mod service;

use std::path::PathBuf;
use std::sync::Arc;

use p2pfaas_core::learning::{Agent, dims_for};
use p2pfaas_core::scheduler::{self, Descriptor, DescriptorError, Scheduler};
use rand::SeedableRng;
use rand::rngs::SmallRng;

use crate::arrivals::{Profile, Schedule};
use crate::experiment::report::{self, Accumulator, Report, Row};
use crate::experiment::spec::Spec;
use crate::experiment::{commit, machine, utc_now};
use engine::{Engine, Faults, NodeSetup, Setup};
use host::Host;
use service::Service;

pub use external::{External, Policy, Shape, learning_shape};

/// How to simulate, beyond the spec.
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    /// Overrides `simulation.arrivals` (measured arrivals per point, all nodes).
    pub arrivals: Option<u64>,
    /// Print a line per point to stderr.
    pub progress: bool,
    /// Threads for the sweep's independent (scheduler, seed) replications; 0: one per core. Results
    /// do not depend on it (each replication has its own seeded streams and schedulers); 1 runs
    /// everything on the calling thread.
    pub threads: usize,
    /// Where to write each node's learned table after the sweep (`--save-weights`): for every learning
    /// scheduler, `DIR/<label>/n<i>.weights` from its first seed (see [`weights_file`]).
    pub save_weights: Option<PathBuf>,
}

/// The weight file of node `node` under `dir` for the scheduler labelled `label`: what `simulate
/// --save-weights DIR` writes and `run --load-weights DIR` reads. Characters of the label other than
/// letters, digits, `-` and `_` become `_`.
pub fn weights_file(dir: &std::path::Path, label: &str, node: usize) -> PathBuf {
    let slug: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(slug).join(format!("n{node}.weights"))
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
    /// `cluster.node_config` has a value the node would refuse (in the part the simulator reads).
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
    /// `--save-weights` could not write a file.
    #[error("writing {path}: {source}")]
    SaveWeights {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
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
    run_with(spec, options, None)
}

/// [`run_counted`] with the learning decisions of `external.nodes` made by `external.policy` (see
/// [`Policy`]); `None` is [`run_counted`].
pub fn run_with(
    spec: &Spec,
    options: &SimOptions,
    external: Option<&External>,
) -> Result<(Report, u64), Error> {
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
    let node = host::parse(&spec.cluster.node_config).map_err(Error::NodeConfig)?;
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
        let k = u32::try_from(spec.slots(0)).unwrap_or(u32::MAX);
        let q = u32::try_from(spec.queue_len(0)).unwrap_or(u32::MAX);
        (k, q, 1000.0 * spec.speed(0) / spec.function.mean_ms)
    });
    let arrivals = options.arrivals.unwrap_or(knobs.arrivals);
    let faults = Faults {
        probe_failure: knobs.probe_failure,
        forward_failure: knobs.forward_failure,
        forward_timeout: knobs.forward_timeout,
        forward_timeout_ns: ms_to_ns(knobs.forward_timeout_ms),
        mtbf_ns: knobs.mtbf_s * 1e9,
        mttr_ns: knobs.mttr_s * 1e9,
        crashes: knobs
            .crash
            .iter()
            .map(|c| (c.node, ms_to_ns(c.at_s * 1e3), ms_to_ns(c.down_s * 1e3)))
            .collect(),
    };
    let shared = Shared {
        spec,
        progress: options.progress,
        service: &service,
        node: &node,
        classes: &classes,
        deadlines: &deadlines,
        model,
        arrivals,
        faults: &faults,
        save_weights: options.save_weights.is_some(),
        external,
    };
    let groups: Vec<(&crate::experiment::spec::Scheduler, u64)> = spec
        .schedulers
        .iter()
        .flat_map(|desc| spec.traffic.seeds.iter().map(move |&seed| (desc, seed)))
        .collect();
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        n => n,
    }
    .min(groups.len());
    let results = if threads <= 1 {
        groups
            .iter()
            .map(|&(desc, seed)| shared.replication(desc, seed))
            .collect::<Vec<_>>()
    } else {
        parallel(&groups, threads, |&(desc, seed)| {
            shared.replication(desc, seed)
        })
    };
    let mut rows = Vec::new();
    let mut simulated = 0;
    let mut saved = Vec::new();
    for (result, &(desc, seed)) in results.into_iter().zip(&groups) {
        let (mut group, n, weights) = result?;
        rows.append(&mut group);
        simulated += n;
        if spec.traffic.seeds.first() == Some(&seed) && !weights.is_empty() {
            saved.push((desc.label(), weights));
        }
    }
    if let Some(dir) = &options.save_weights {
        for (label, weights) in &saved {
            for (i, bytes) in weights.iter().enumerate() {
                let path = weights_file(dir, label, i);
                let write = |path: &std::path::Path| {
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::write(path, bytes)
                };
                write(&path).map_err(|source| Error::SaveWeights { path, source })?;
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

/// One scheduler per node, built by the core's `scheduler::build` as the node builds it, each node
/// with its own agent.
/// Each node's scheduler and, beside it, its two learning agents, the decision agent and the double
/// decision's (whose weights `--save-weights` writes).
type Built = (Vec<Box<dyn Scheduler>>, Vec<(Arc<Agent>, Arc<Agent>)>);

/// One replication's rows, arrivals simulated and encoded weights (one file per node, or none).
type Replicated = (Vec<Row>, u64, Vec<Vec<u8>>);

fn schedulers(
    desc: &crate::experiment::spec::Scheduler,
    label: &str,
    speeds: &[f64],
    nodes: usize,
    node: &Host,
    external: Option<&External>,
) -> Result<Built, Error> {
    let desc = Descriptor {
        name: desc.name.clone(),
        parameters: desc.parameters.clone(),
    };
    let err = |source| Error::Scheduler {
        label: label.to_owned(),
        source,
    };
    let task_types = node.task_types;
    let features = &node.features;
    let learning = match scheduler::parse(&desc, task_types).map_err(err)? {
        scheduler::Spec::Learning { task_types, double } => Some((task_types, double)),
        _ => None,
    };
    let dims = dims_for(learning.map_or(1, |(n, _)| n), features.len());
    (0..nodes)
        .map(|i| {
            let new_agent = |params| {
                Agent::new(dims, params)
                    .map(Arc::new)
                    .map_err(|e| Error::NodeConfig(e.to_string()))
            };
            let agent = new_agent(node.parameters)?;
            // The double decision's agent: accept (1) or refuse (0), as the node builds it.
            let acceptance = new_agent(p2pfaas_core::learning::Parameters {
                actions_n: 2,
                ..node.parameters
            })?;
            let ctx = scheduler::Context {
                task_types,
                agent: &agent,
                acceptance: &acceptance,
                features,
                speed: speeds.get(i).copied().unwrap_or(1.0),
            };
            let sched = match (learning, external) {
                (Some((types, double)), Some(ext)) if ext.nodes.contains(&i) => {
                    let mut inner = scheduler::LearningScheduler::new(
                        types,
                        features,
                        Arc::clone(&agent),
                        ctx.speed,
                    );
                    if double {
                        inner = inner.with_acceptance(Arc::clone(&acceptance));
                    }
                    Box::new(external::Driven::new(i, inner, Arc::clone(&ext.policy)))
                }
                _ => scheduler::build(&desc, &ctx).map_err(err)?,
            };
            Ok((sched, (agent, acceptance)))
        })
        .collect::<Result<Vec<_>, Error>>()
        .map(|built| built.into_iter().unzip())
}

/// What every replication of a run shares (read-only).
struct Shared<'a> {
    spec: &'a Spec,
    progress: bool,
    service: &'a Service,
    node: &'a Host,
    classes: &'a [(f64, u16, Option<u64>)],
    deadlines: &'a [Option<f64>],
    model: Option<(u32, u32, f64)>,
    arrivals: u64,
    faults: &'a Faults,
    /// Encode the learning agents' tables after each replication.
    save_weights: bool,
    /// Nodes whose learning decisions an outside policy makes (the Python environment).
    external: Option<&'a External>,
}

impl Shared<'_> {
    /// Every ρ point of one (scheduler, seed), in order, with the nodes' schedulers (and learning
    /// agents) built once and kept across the sweep; also the arrivals simulated and, when saving
    /// weights and the scheduler learns, each node's encoded table.
    fn replication(
        &self,
        desc: &crate::experiment::spec::Scheduler,
        seed: u64,
    ) -> Result<Replicated, Error> {
        let (spec, knobs, c) = (self.spec, &self.spec.simulation, &self.spec.cluster);
        let label = desc.label();
        // `[[node]] speed` and the simulator's own knob compose: the service times and the
        // learning state's `speed` feature see the same product.
        let speeds: Vec<f64> = (0..c.nodes)
            .map(|i| knobs.speed.get(i).copied().unwrap_or(1.0) * spec.speed(i))
            .collect();
        let (mut scheds, agents) =
            schedulers(desc, &label, &speeds, c.nodes, self.node, self.external)?;
        let mut rows = Vec::with_capacity(spec.traffic.rho.len());
        let mut simulated = 0;
        for (point, &rho) in spec.traffic.rho.iter().enumerate() {
            let lambda = spec.rates(rho);
            let total_rate: f64 = lambda.iter().sum();
            let duration_s = if self.arrivals > 0 && total_rate > 0.0 {
                self.arrivals as f64 / total_rate
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
                        speed: speeds[i],
                        slots: spec.slots(i),
                        queue_len: spec.queue_len(i),
                        arrivals,
                        classes: SmallRng::seed_from_u64(
                            base ^ (i as u64) << 32 ^ 0x6d69_785f_636c_6173,
                        ),
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            let setup = Setup {
                task_types: self.node.task_types,
                link_ns: ms_to_ns(c.link_delay_ms),
                probe_extra_ns: ms_to_ns(knobs.probe_delay_ms),
                refresh_ns: ms_to_ns(knobs.view_refresh_ms),
                warmup_ns,
                end_ns,
                batches: knobs.batches,
                service: self.service,
                classes: self.classes,
                rewards: self.node.rewards,
                faults: self.faults,
                rng: SmallRng::seed_from_u64(base ^ 0x7363_6865_6475_6c65),
                service_rng: SmallRng::seed_from_u64(base ^ 0x7365_7276_6963_6573),
                fault_rng: SmallRng::seed_from_u64(base ^ 0x6661_756c_7473_0000),
            };
            let acc = Accumulator::new(spec.traffic.warmup_s, self.deadlines.to_vec());
            let (acc, batches, n) = Engine::new(setup, nodes, &mut scheds, acc).run();
            simulated += n;
            let mut row: Row = acc.finish(label.clone(), seed, rho, lambda, self.model);
            row.load_sources = vec!["simulated".to_owned()];
            row.reject_rate_ci95 = batches.reject_rate();
            row.deadline_met_ci95 = row.deadline_met.and(batches.deadline_met());
            row.mean_ms_ci95 = batches.mean_ms();
            if self.progress {
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
        let learns = desc.name == "LearningScheduler";
        let weights = if self.save_weights && learns {
            agents
                .iter()
                .map(|(a, b)| p2pfaas_core::learning::weights::encode(a, b))
                .collect()
        } else {
            Vec::new()
        };
        Ok((rows, simulated, weights))
    }
}

/// `f` of every item on `threads` scoped threads, each taking the next item as it finishes one;
/// the results in the items' order.
fn parallel<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else {
                            return out;
                        };
                        out.push((i, f(item)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            // A panic in a replication is a bug; carry it to the caller.
            .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}
