//! `p2pfaas-bench run SPEC.toml …`, `soak SPEC.toml …` and `demo …`: parses the flags into a spec and
//! [`Options`], runs the experiment (or the soak) on real node processes, prints the report and
//! writes the results (64 on bad flags, 1 when the run fails or the soak finds growth). `run --fleet`
//! is [`crate::fleet::cli`]'s.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use lexopt::{Arg, Parser};

use super::Options;
use super::spec::Spec;
use crate::cli::{execute, number, positive, unix_seconds};

/// Usage lines for the binary's help.
pub const USAGE: &str = "  p2pfaas-bench run SPEC.toml [--out DIR] [--node-bin PATH] [--seconds S] [--requests] [--quiet]
                             [--load-weights DIR]
      an experiment on real p2pfaas-node processes (bench/specs/ has examples): a fresh cluster per
      scheduler and seed, the spec's ρ sweep, then DIR/report.{json,csv,md} and one SVG per metric
      --out DIR              default results/<spec name>-<unix time>
      --node-bin PATH        default: p2pfaas-node next to this binary
      --seconds S            override traffic.duration_s (shorter runs, wider error bars)
      --requests             also write every request to DIR/requests-<point>.csv
      --load-weights DIR     learning schedulers' nodes start from `simulate --save-weights DIR`'s tables
      --fleet FLEET.toml     on deployed nodes instead of local processes (see `run … --fleet` below)
  p2pfaas-bench soak SPEC.toml [--out DIR] [--node-bin PATH] [--seconds S]
      one cluster (the spec's first scheduler, first ρ) under steady load, each node's RSS and open
      descriptors sampled every second; fails if either grows > 5 % after the warm-up or a request
      fails (bench/specs/soak.toml: 10 minutes at 80 %)
  p2pfaas-bench demo [--seconds S] [--node-bin PATH]
      three nodes on loopback under uneven Poisson traffic, every scheduler side by side, with the
      queueing-theory baselines (bench/specs/demo.toml; S seconds per scheduler, default 20)
";

struct Args {
    spec: Spec,
    out: PathBuf,
    options: Options,
    demo: bool,
}

/// Runs the `run` command (on local processes) with the arguments after it.
pub fn main(args: Vec<OsString>) -> ExitCode {
    execute(parse(args, false), |a| run(&a))
}

/// Runs the `demo` command with the arguments after it.
pub fn demo(args: Vec<OsString>) -> ExitCode {
    execute(parse(args, true), |a| run(&a))
}

/// Runs the `soak` command with the arguments after it.
pub fn soak(args: Vec<OsString>) -> ExitCode {
    execute(parse(args, false), |a| run_soak(&a))
}

/// The demo's spec, shipped in the binary so `demo` works from any directory.
const DEMO_SPEC: &str = include_str!("../../specs/demo.toml");

fn parse(args: Vec<OsString>, demo: bool) -> Result<Args> {
    let mut parser = Parser::from_args(args);
    let mut spec_path: Option<PathBuf> = None;
    let mut out = None;
    let mut node_bin = None;
    let mut seconds = None;
    let mut requests = false;
    let mut progress = true;
    let mut load_weights = None;
    while let Some(arg) = parser.next()? {
        match arg {
            Arg::Value(v) if !demo && spec_path.is_none() => spec_path = Some(v.into()),
            Arg::Long("out") if !demo => out = Some(PathBuf::from(parser.value()?)),
            Arg::Long("node-bin") => node_bin = Some(PathBuf::from(parser.value()?)),
            Arg::Long("seconds") => {
                seconds = Some(positive(number(&mut parser, "--seconds")?, "--seconds")?);
            }
            Arg::Long("requests") if !demo => requests = true,
            Arg::Long("load-weights") => load_weights = Some(PathBuf::from(parser.value()?)),
            Arg::Long("quiet") => progress = false,
            other => return Err(other.unexpected().into()),
        }
    }
    let (text, origin) = if demo {
        (DEMO_SPEC.to_owned(), "the built-in demo spec".to_owned())
    } else {
        let path = spec_path.context("a spec file is needed: p2pfaas-bench run SPEC.toml")?;
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        (text, path.display().to_string())
    };
    let mut spec = Spec::parse(&text).with_context(|| origin.clone())?;
    if let Some(s) = seconds {
        spec.traffic.duration_s = s;
    }
    let node_binary = match node_bin {
        Some(p) => p,
        None => std::env::current_exe()
            .context("locating this binary")?
            .with_file_name("p2pfaas-node"),
    };
    if !node_binary.is_file() {
        bail!(
            "{} not found: build it (`cargo build --release -p p2pfaas-node`) or pass --node-bin",
            node_binary.display()
        );
    }
    let out =
        out.unwrap_or_else(|| PathBuf::from(format!("results/{}-{}", spec.name, unix_seconds())));
    Ok(Args {
        spec,
        options: Options {
            node_binary,
            requests_dir: requests.then(|| out.clone()),
            progress,
            load_weights,
        },
        out,
        demo,
    })
}

fn run(args: &Args) -> Result<()> {
    let spec = &args.spec;
    if args.options.requests_dir.is_some() {
        std::fs::create_dir_all(&args.out)
            .with_context(|| format!("creating {}", args.out.display()))?;
    }
    if args.demo {
        print_demo_intro(spec)?;
    }
    let report = super::run(spec, &args.options)?;
    let mut stdout = std::io::stdout();
    let _ = write!(stdout, "{}", report.markdown());
    if args.demo {
        let _ = writeln!(
            stdout,
            "\nreject: refused share (429/503, or 500 with a reject reason); forwarded: share of successes run by another node; \
             deadline met: 200 within {} ms; load: where each node's load measure came from \
             (ebpf: kernel probes, psi/procfs: fallback without BPF rights).",
            spec.mix.first().and_then(|m| m.deadline_ms).unwrap_or(0.0)
        );
    } else {
        super::write(&report, &args.out)?;
        let _ = writeln!(stdout, "\nresults: {}", args.out.display());
    }
    Ok(())
}

fn run_soak(args: &Args) -> Result<()> {
    let soak = crate::soak::run(&args.spec, &args.options, Duration::from_secs(1), 0.05)?;
    soak.write(&args.out)?;
    let _ = writeln!(
        std::io::stdout(),
        "{}\nresults: {}",
        soak.markdown(),
        args.out.display()
    );
    if soak.passed() {
        Ok(())
    } else {
        bail!("the soak failed: a node grew beyond 5 % or a request failed (see the table)")
    }
}

/// What the demo runs, and the queueing-theory figures it should land between.
fn print_demo_intro(spec: &Spec) -> Result<()> {
    let c = &spec.cluster;
    let rates = spec.rates(spec.traffic.rho[0]);
    let mu = 1000.0 / spec.function.mean_ms;
    let (k, q) = (u32::try_from(c.slots)?, u32::try_from(c.queue_len)?);
    let nodes = u32::try_from(c.nodes)?;
    let alone_loss = crate::theory::mmkq(rates[0], mu, k, 0)?;
    let alone = crate::theory::mmkq(rates[0], mu, k, q)?;
    let total: f64 = rates.iter().sum();
    let pooled = crate::theory::mmkq(total, mu, k * nodes, q * nodes)?;
    let mut stdout = std::io::stdout();
    let _ = writeln!(
        stdout,
        "{} nodes on loopback, K={k} Q={q}, function: {} (exponential, mean {} ms); Poisson arrivals \
         per node: {} per s; {} s per scheduler\n\
         theory: without cooperation n0 blocks {:.3} as a loss system (M/M/K/K, schedulers with \
         Loss = true) and {:.3} with its queue (M/M/K/K+Q); one pooled {}-slot node (perfect \
         cooperation) would block {:.4}\n",
        c.nodes,
        spec.function.builtin,
        spec.function.mean_ms,
        rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join("/"),
        spec.traffic.duration_s,
        alone_loss.blocking,
        alone.blocking,
        k * nodes,
        pooled.blocking,
    );
    Ok(())
}
