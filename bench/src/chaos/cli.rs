//! `p2pfaas-bench chaos [SPEC.toml] [--out DIR] [--node-bin PATH] [--seconds S] [--min-requests N]
//! [--network KIND] [--only NAME,…] [--quiet]`: parses the flags, runs the suite, writes `DIR/chaos.{md,json}`, prints
//! the table, and exits 1 when any scenario failed (64 on bad flags).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use lexopt::{Arg, Parser, ValueExt as _};

use super::{Options, Scenario, Spec};
use crate::cli::chain;
use crate::experiment::spec::Network;

/// Usage lines for the binary's help.
pub const USAGE: &str = "\
  p2pfaas-bench chaos [SPEC.toml] [--out DIR] [--node-bin PATH] [--seconds S] [--min-requests N]
                      [--network KIND] [--only NAME,…] [--requests] [--quiet]
      the fault suite: per scenario a fresh 3-node cluster under traffic with one fault injected;
      every request must be answered (ok, reject or error) in time; writes DIR/chaos.{md,json} and
      exits 1 if any request was lost or hung or any job ran twice (scenarios: overload kill
      freeze freeze-overload cut reset degrade hang crash garbage flood orphan hang-http
      garbage-http silent-peer disk-full slow-clients slow-peer reorder)
      --out DIR              default results/chaos-<unix time>
      --seconds S            traffic per scenario (default 6; longer when needed for --min-requests)
      --min-requests N       fewest requests per scenario (default 1000 in release builds, 0 in debug)
      --network KIND         loopback (default) or netns (root)
      --only NAME,…          these scenarios, in this order
      --requests             also write every request to DIR/requests-<scenario>.csv
";

struct Args {
    spec: Spec,
    out: PathBuf,
    options: Options,
}

/// Runs the `chaos` command with the arguments after it.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let args = match parse(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("p2pfaas-bench chaos: {e}\n(`p2pfaas-bench help` lists the flags)");
            return ExitCode::from(64);
        }
    };
    let report = match super::run(&args.spec, &args.options) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("p2pfaas-bench chaos: {}", chain(&e));
            return ExitCode::from(2);
        }
    };
    print!("{}", report.markdown());
    if let Err(e) = report.write(&args.out) {
        eprintln!("p2pfaas-bench chaos: {}", chain(&e));
        return ExitCode::from(2);
    }
    eprintln!("results in {}", args.out.display());
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "p2pfaas-bench chaos: some scenarios failed: requests lost or hung, or jobs run twice (see the table)"
        );
        ExitCode::FAILURE
    }
}

fn parse(args: Vec<OsString>) -> Result<Args, String> {
    let mut parser = Parser::from_args(args);
    let (mut path, mut out, mut node_bin) = (None, None, None);
    let (mut seconds, mut network, mut only, mut progress) = (None, None, None, true);
    let mut requests = false;
    let mut min_requests = None;
    let err = |e: lexopt::Error| e.to_string();
    while let Some(arg) = parser.next().map_err(err)? {
        match arg {
            Arg::Value(v) if path.is_none() => path = Some(PathBuf::from(v)),
            Arg::Long("out") => out = Some(PathBuf::from(parser.value().map_err(err)?)),
            Arg::Long("node-bin") => node_bin = Some(PathBuf::from(parser.value().map_err(err)?)),
            Arg::Long("seconds") => {
                let s: f64 = parser.value().map_err(err)?.parse().map_err(err)?;
                seconds = Some(s);
            }
            Arg::Long("min-requests") => {
                let n: u64 = parser.value().map_err(err)?.parse().map_err(err)?;
                min_requests = Some(n);
            }
            Arg::Long("network") => {
                let v = parser.value().map_err(err)?.string().map_err(err)?;
                network = Some(match v.as_str() {
                    "loopback" => Network::Loopback,
                    "netns" => Network::Netns,
                    other => return Err(format!("--network: loopback or netns, got {other:?}")),
                });
            }
            Arg::Long("only") => {
                let v = parser.value().map_err(err)?.string().map_err(err)?;
                let list = v
                    .split(',')
                    .map(|name| {
                        Scenario::all()
                            .into_iter()
                            .find(|s| s.name() == name.trim())
                            .ok_or_else(|| format!("--only: no scenario {name:?}"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                only = Some(list);
            }
            Arg::Long("quiet") => progress = false,
            Arg::Long("requests") => requests = true,
            other => return Err(other.unexpected().to_string()),
        }
    }
    let mut text = String::new();
    if let Some(p) = &path {
        text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    let mut spec = Spec::parse(&text).map_err(|e| chain(&e))?;
    if let Some(s) = seconds {
        if !(s.is_finite() && (1.0..=3600.0).contains(&s)) {
            return Err("--seconds: 1 to 3600".to_owned());
        }
        spec.seconds = s;
    }
    if let Some(n) = network {
        spec.network = n;
    }
    if let Some(n) = min_requests {
        if n > 1_000_000 {
            return Err("--min-requests: at most 1000000".to_owned());
        }
        spec.min_requests = n;
    }
    if let Some(o) = only {
        spec.scenarios = o;
    }
    let node_binary = match node_bin {
        Some(p) => p,
        None => std::env::current_exe()
            .map_err(|e| format!("locating this binary: {e}"))?
            .with_file_name("p2pfaas-node"),
    };
    if !node_binary.is_file() {
        return Err(format!(
            "{} not found: build it (`cargo build -p p2pfaas-node`) or pass --node-bin",
            node_binary.display()
        ));
    }
    let out = out.unwrap_or_else(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        PathBuf::from(format!("results/chaos-{secs}"))
    });
    let out2 = out.clone();
    Ok(Args {
        spec,
        options: Options {
            node_binary,
            progress,
            requests_dir: requests.then_some(out2),
        },
        out,
    })
}
