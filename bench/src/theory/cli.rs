//! `p2pfaas-bench theory --lambda RATE --mu RATE --k SLOTS [--q QUEUE]`: parses the flags into a
//! [`Table`] and prints it (64 on bad flags).

use std::ffi::OsString;
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use lexopt::{Arg, Parser};

use super::Table;
use crate::cli::{execute, number, positive};

/// Usage lines for the binary's help.
pub const USAGE: &str = "  p2pfaas-bench theory --lambda RATE --mu RATE --k SLOTS [--q QUEUE]
      blocking and delay of M/M/K/K (Erlang-B, load a = λ/μ), M/M/K/K+Q and M/M/1/K
";

/// Runs the `theory` command with the arguments after it.
pub fn main(args: Vec<OsString>) -> ExitCode {
    execute(parse(args), |t| run(&t))
}

fn run(table: &Table) -> Result<()> {
    // A closed stdout (`| head`) is not an error worth a panic.
    let _ = write!(std::io::stdout(), "{}", table.render()?);
    Ok(())
}

fn parse(args: Vec<OsString>) -> Result<Table> {
    let mut parser = Parser::from_args(args);
    let (mut lambda, mut mu, mut k, mut q) = (None, None, None, 0);
    while let Some(arg) = parser.next()? {
        match arg {
            Arg::Long("lambda") => lambda = Some(number::<f64>(&mut parser, "--lambda")?),
            Arg::Long("mu") => mu = Some(positive(number(&mut parser, "--mu")?, "--mu")?),
            Arg::Long("k") => k = Some(number::<u32>(&mut parser, "--k")?),
            Arg::Long("q") => q = number(&mut parser, "--q")?,
            other => return Err(other.unexpected().into()),
        }
    }
    let lambda = lambda.context("--lambda is required")?;
    if !(lambda.is_finite() && lambda >= 0.0) {
        bail!("--lambda must be a finite number ≥ 0, got {lambda}");
    }
    let k = k.context("--k is required")?;
    if k == 0 {
        bail!("--k must be ≥ 1");
    }
    Ok(Table {
        lambda,
        mu: mu.context("--mu is required")?,
        k,
        q,
    })
}
