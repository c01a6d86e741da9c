//! `p2pfaas-bench simulate SPEC.toml …` and `compare A.json B.json`: parses the flags, runs the
//! simulator on the spec (or reads two reports), prints the result and writes the report (64 on bad
//! flags, 1 when the run fails).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, anyhow, bail};
use lexopt::{Arg, Parser};

use super::SimOptions;
use crate::cli::{execute, number, unix_seconds};
use crate::experiment::report::Report;
use crate::experiment::spec::Spec;

/// Usage lines for the binary's help.
pub const USAGE: &str =
    "  p2pfaas-bench simulate SPEC.toml [--out DIR] [--arrivals N] [--threads N] [--timing] [--quiet]
      the experiment SPEC on simulated nodes running the node's own decision core (README: Simulator);
      writes report.json/.csv/.md and charts like `run`, mode \"simulated\", with 95% CIs
      --out DIR              results directory (default results/sim-<name>-<unix time>)
      --arrivals N           measured arrivals per point, all nodes (overrides simulation.arrivals)
      --threads N            threads for the (scheduler, seed) replications (default: one per core;
                             the report does not depend on it)
      --timing               print simulated requests per second of wall time
      --save-weights DIR     write each node's learned table, DIR/<scheduler label>/n<i>.weights
                             (learning schedulers, first seed); `run --load-weights DIR` starts from them
  p2pfaas-bench compare A.json B.json
      two reports side by side per (scheduler, ρ), with B − A
";

/// Runs the `simulate` command with the arguments after it.
pub fn simulate(args: Vec<OsString>) -> ExitCode {
    execute(parse_simulate(args), |a| run_simulate(&a))
}

/// Runs the `compare` command with the arguments after it.
pub fn compare(args: Vec<OsString>) -> ExitCode {
    execute(parse_compare(args), |a| run_compare(&a))
}

struct SimulateArgs {
    spec: Spec,
    out: PathBuf,
    options: SimOptions,
    timing: bool,
}

fn parse_simulate(args: Vec<OsString>) -> Result<SimulateArgs> {
    let mut parser = Parser::from_args(args);
    let (mut path, mut out, mut timing) = (None, None, false);
    let mut options = SimOptions {
        progress: true,
        ..Default::default()
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Arg::Value(v) if path.is_none() => path = Some(PathBuf::from(v)),
            Arg::Long("out") => out = Some(PathBuf::from(parser.value()?)),
            Arg::Long("arrivals") => options.arrivals = Some(number(&mut parser, "--arrivals")?),
            Arg::Long("threads") => options.threads = number(&mut parser, "--threads")?,
            Arg::Long("timing") => timing = true,
            Arg::Long("quiet") => options.progress = false,
            Arg::Long("save-weights") => {
                options.save_weights = Some(PathBuf::from(parser.value()?));
            }
            other => return Err(other.unexpected().into()),
        }
    }
    let path = path.ok_or_else(|| anyhow!("simulate: a spec file is needed"))?;
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    let spec = Spec::parse(&text).with_context(|| format!("{}", path.display()))?;
    let out = out
        .unwrap_or_else(|| PathBuf::from(format!("results/sim-{}-{}", spec.name, unix_seconds())));
    Ok(SimulateArgs {
        spec,
        out,
        options,
        timing,
    })
}

fn run_simulate(args: &SimulateArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let (report, simulated) = super::run_counted(&args.spec, &args.options)?;
    let wall = started.elapsed().as_secs_f64();
    crate::experiment::write(&report, &args.out)?;
    print!("{}", report.markdown());
    eprintln!("results in {}", args.out.display());
    if args.timing {
        eprintln!(
            "simulated {simulated} requests in {wall:.2} s of wall time: {:.2} M requests/s",
            simulated as f64 / wall / 1e6
        );
    }
    Ok(())
}

struct CompareArgs {
    a: PathBuf,
    b: PathBuf,
}

fn parse_compare(args: Vec<OsString>) -> Result<CompareArgs> {
    let mut parser = Parser::from_args(args);
    let mut paths = Vec::new();
    while let Some(arg) = parser.next()? {
        match arg {
            Arg::Value(v) => paths.push(PathBuf::from(v)),
            other => return Err(other.unexpected().into()),
        }
    }
    match <[PathBuf; 2]>::try_from(paths) {
        Ok([a, b]) => Ok(CompareArgs { a, b }),
        Err(_) => bail!("compare: two report files are needed (A.json B.json)"),
    }
}

fn run_compare(args: &CompareArgs) -> Result<()> {
    let read = |path: &PathBuf| -> Result<Report> {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}: not a report", path.display()))
    };
    let (a, b) = (read(&args.a)?, read(&args.b)?);
    print!("{}", super::compare::table(&a, &b));
    Ok(())
}
