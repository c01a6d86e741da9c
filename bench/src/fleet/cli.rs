//! The fleet commands' flags: `run SPEC.toml --fleet FLEET.toml [--out DIR] [--seconds S] [--requests]
//! [--quiet] [--load-weights DIR]` and `fleet status FLEET.toml [--watch]`. Bad flags, a spec a fleet
//! cannot take and an unreadable fleet file or key exit 64; a failed preflight, run or restore 1;
//! unreachable nodes in `status` 1 (their names on stderr).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use lexopt::{Arg, Parser, ValueExt as _};

use super::file::Fleet;
use super::{Options, status};
use crate::cli::chain;
use crate::experiment::spec::Spec;

/// Usage lines for the binary's help.
pub const USAGE: &str = "  p2pfaas-bench run SPEC.toml --fleet FLEET.toml [--out DIR] [--seconds S] [--requests] [--quiet]
                             [--load-weights DIR]
      the experiment on deployed nodes (FLEET.toml: [[node]] address = \"host:port\", name; optional
      cluster_key_file): preflight (nothing changes unless every node passes), then per scheduler the
      signed admin API sets scheduler, K/Q and learner; load from here; each node's /metrics before and
      after every point; the nodes' own settings and learned weights back at the end, on errors and
      on Ctrl-C/SIGTERM. --load-weights DIR: learning runs start from `simulate --save-weights DIR`'s
      tables. Writes DIR/report.{json,csv,md} (mode \"fleet\", with a per-node table) and the charts
  p2pfaas-bench fleet status FLEET.toml [--watch]
      one table of the fleet now (version, scheduler, K/Q, running/queued, peers alive, load source,
      CPU, learner ε); --watch refreshes it every second; exits 1 naming unreachable nodes
";

fn usage_error(e: &str) -> ExitCode {
    eprintln!("p2pfaas-bench: {e}\n(`p2pfaas-bench help` lists the commands and flags)");
    ExitCode::from(64)
}

/// `run SPEC.toml --fleet FLEET.toml …` (the arguments after `run`).
pub fn run(args: Vec<OsString>) -> ExitCode {
    let (spec, fleet, out, options) = match parse_run(args) {
        Ok(a) => a,
        Err(e) => return usage_error(&e),
    };
    let report = match super::run(&spec, &fleet, &options) {
        Ok(r) => r,
        // The spec or the fleet file (its key) is wrong: a usage error, nothing was touched.
        Err(e @ (super::Error::Plan(_) | super::Error::Fleet(_))) => {
            return usage_error(&chain(&e));
        }
        Err(e) => {
            eprintln!("p2pfaas-bench: {}", chain(&e));
            return ExitCode::FAILURE;
        }
    };
    print!("{}", super::markdown(&report));
    if let Err(e) = super::write(&report, &out) {
        eprintln!("p2pfaas-bench: {}", chain(&e));
        return ExitCode::FAILURE;
    }
    println!("\nresults: {}", out.display());
    ExitCode::SUCCESS
}

fn parse_run(args: Vec<OsString>) -> Result<(Spec, Fleet, PathBuf, Options), String> {
    let mut parser = Parser::from_args(args);
    let err = |e: lexopt::Error| e.to_string();
    let (mut spec_path, mut fleet_path, mut out, mut seconds) = (None, None, None, None);
    let mut options = Options {
        progress: true,
        handle_signals: true,
        ..Options::default()
    };
    let mut requests = false;
    while let Some(arg) = parser.next().map_err(err)? {
        match arg {
            Arg::Value(v) if spec_path.is_none() => spec_path = Some(PathBuf::from(v)),
            Arg::Long("fleet") => fleet_path = Some(PathBuf::from(parser.value().map_err(err)?)),
            Arg::Long("out") => out = Some(PathBuf::from(parser.value().map_err(err)?)),
            Arg::Long("seconds") => {
                let s: f64 = parser.value().map_err(err)?.parse().map_err(err)?;
                if !(s.is_finite() && s > 0.0) {
                    return Err(format!("--seconds must be a number > 0, got {s}"));
                }
                seconds = Some(s);
            }
            Arg::Long("requests") => requests = true,
            Arg::Long("load-weights") => {
                options.load_weights = Some(PathBuf::from(parser.value().map_err(err)?));
            }
            Arg::Long("quiet") => options.progress = false,
            other => return Err(other.unexpected().to_string()),
        }
    }
    let spec_path =
        spec_path.ok_or("a spec file is needed: p2pfaas-bench run SPEC.toml --fleet FLEET.toml")?;
    let fleet_path = fleet_path.ok_or("--fleet FLEET.toml is needed")?;
    let text =
        std::fs::read_to_string(&spec_path).map_err(|e| format!("{}: {e}", spec_path.display()))?;
    let mut spec =
        Spec::parse(&text).map_err(|e| format!("{}: {}", spec_path.display(), chain(&e)))?;
    if let Some(s) = seconds {
        spec.traffic.duration_s = s;
    }
    let fleet =
        Fleet::read(&fleet_path).map_err(|e| format!("{}: {}", fleet_path.display(), chain(&e)))?;
    let out = out.unwrap_or_else(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        PathBuf::from(format!("results/fleet-{}-{secs}", spec.name))
    });
    if requests {
        std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        options.requests_dir = Some(out.clone());
    }
    Ok((spec, fleet, out, options))
}

/// `fleet …` (the arguments after `fleet`).
pub fn main(args: Vec<OsString>) -> ExitCode {
    let mut parser = Parser::from_args(args);
    let (mut sub, mut path, mut watch) = (None, None, false);
    loop {
        match parser.next() {
            Ok(None) => break,
            Ok(Some(Arg::Value(v))) if sub.is_none() => sub = Some(v),
            Ok(Some(Arg::Value(v))) if path.is_none() => path = Some(PathBuf::from(v)),
            Ok(Some(Arg::Long("watch"))) => watch = true,
            Ok(Some(other)) => return usage_error(&other.unexpected().to_string()),
            Err(e) => return usage_error(&e.to_string()),
        }
    }
    if sub.as_deref().and_then(|s| s.to_str()) != Some("status") {
        return usage_error("fleet: expected `fleet status FLEET.toml [--watch]`");
    }
    let Some(path) = path else {
        return usage_error("fleet status: a fleet file is needed");
    };
    let fleet = match Fleet::read(&path) {
        Ok(f) => f,
        Err(e) => return usage_error(&format!("{}: {}", path.display(), chain(&e))),
    };
    let clients = match super::clients(&fleet) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("p2pfaas-bench: {}", chain(&e));
            return ExitCode::FAILURE;
        }
    };
    loop {
        let rows = status::read(&fleet, &clients);
        if watch {
            // Clear the screen and home the cursor: the table is redrawn in place.
            print!("\x1b[2J\x1b[H");
        }
        print!("{}", status::table(&rows));
        let down = status::unreachable(&rows);
        if !watch {
            if down.is_empty() {
                return ExitCode::SUCCESS;
            }
            eprintln!("p2pfaas-bench: unreachable: {}", down.join(", "));
            return ExitCode::FAILURE;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}
