//! `p2pfaas-bench load --target HOST:PORT … --function NAME (--rate RATE | --trace FILE) [options]`:
//! parses the flags into a [`Spec`], runs it and writes one CSV row per request, headed by what
//! produced the file (64 on bad flags, 1 when the run fails).

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use lexopt::{Arg, Parser, ValueExt as _};

use super::{Class, Spec, Target, record};
use crate::arrivals::{Process, Profile};
use crate::cli::{execute, number, positive, unix_seconds};

/// Usage lines for the binary's help.
pub const USAGE: &str = "  p2pfaas-bench load --target HOST:PORT [--target …] --function NAME (--rate RATE | --trace FILE) [options]
      open-loop requests to POST /function/NAME on every target, one CSV row per request
      --rate RATE            requests per second per target (several --rate: one per target, in order)
      --trace FILE           CSV of `time_s,rate` lines instead of a constant rate
      --process KIND         poisson (default) or deterministic
      --seed N               seed of the first target's schedule (default 1; target i uses N + i)
      --count N              at most N requests per target (default 10000)
      --duration SECONDS     no request intended later than this (default 10)
      --payload TEXT | --payload-file FILE   request body (default empty)
      --content-type TYPE    default text/plain
      --task-type N          X-P2pfaas-Scheduler-Learning-Task-Type
      --deadline-ms MS       X-P2pfaas-Deadline-Ms
      --class SPEC           one class of a request mix (repeat for more; replaces the four flags above):
                             weight=W,function=NAME,task_type=N,deadline_ms=MS,content_type=T,payload=TEXT
                             (all optional; payload last, it takes the rest of the line)
      --timeout-ms MS        per-request timeout (default 10000)
      --connections N        connections opened per target before the start (default 32)
      --max-connections N    most connections per target (default 2048)
      --spin-us US           spin this long before each send instead of sleeping (default 100)
      --out FILE             results CSV (default results/load-<unix time>.csv)
      --quiet                no progress line
";

struct Args {
    spec: Spec,
    out: PathBuf,
    command_line: String,
}

/// Runs the `load` command with the arguments after it.
pub fn main(args: Vec<OsString>) -> ExitCode {
    execute(parse(args), |a| run(&a))
}

fn run(args: &Args) -> Result<()> {
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file =
        File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut out = BufWriter::new(file);
    // Each results file says what produced it: schema, machine, date and the exact command.
    // The load average matters: send-time accuracy depends on how busy the machine was.
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let loadavg: Vec<&str> = loadavg.split_whitespace().take(3).collect();
    writeln!(
        out,
        "# {} host={} loadavg={} unix_s={} version={} args={}\n{}",
        record::SCHEMA,
        host.trim(),
        loadavg.join("/"),
        unix_seconds(),
        env!("CARGO_PKG_VERSION"),
        args.command_line,
        record::HEADER
    )
    .with_context(|| format!("writing {}", args.out.display()))?;
    let summary = super::run(&args.spec, &mut out)?;
    let _ = writeln!(
        std::io::stdout(),
        "{}\nresults: {}",
        summary.render(),
        args.out.display()
    );
    Ok(())
}

fn parse(args: Vec<OsString>) -> Result<Args> {
    let command_line = args
        .iter()
        .map(|a| a.to_string_lossy().replace(['\n', '\r'], " "))
        .collect::<Vec<_>>()
        .join(" ");
    let mut parser = Parser::from_args(args);
    let mut addrs: Vec<SocketAddr> = Vec::new();
    let mut rates: Vec<f64> = Vec::new();
    let mut trace: Option<PathBuf> = None;
    let mut function = None;
    let mut single = Class::default();
    let mut single_set = false;
    let mut classes = Vec::new();
    let mut spec = Spec {
        targets: Vec::new(),
        process: Process::Poisson,
        seed: 1,
        function: String::new(),
        classes: Vec::new(),
        timeout: Duration::from_secs(10),
        max_requests: 10_000,
        max_duration: Duration::from_secs(10),
        connections: 32,
        max_connections: 2048,
        spin: Duration::from_micros(100),
        progress: true,
    };
    let mut out = None;
    while let Some(arg) = parser.next()? {
        match arg {
            Arg::Long("target") => {
                let raw: String = parser.value()?.string()?;
                let addr = raw
                    .to_socket_addrs()
                    .with_context(|| format!("--target {raw:?}: expected host:port"))?
                    .next()
                    .with_context(|| format!("--target {raw:?}: no address"))?;
                addrs.push(addr);
            }
            Arg::Long("rate") => rates.push(positive(number(&mut parser, "--rate")?, "--rate")?),
            Arg::Long("trace") => trace = Some(parser.value()?.into()),
            Arg::Long("process") => {
                spec.process = match parser.value()?.string()?.as_str() {
                    "poisson" => Process::Poisson,
                    "deterministic" => Process::Deterministic,
                    other => bail!("--process: expected poisson or deterministic, got {other:?}"),
                }
            }
            Arg::Long("seed") => spec.seed = number(&mut parser, "--seed")?,
            Arg::Long("count") => spec.max_requests = number(&mut parser, "--count")?,
            Arg::Long("duration") => {
                let s = positive(number(&mut parser, "--duration")?, "--duration")?;
                spec.max_duration =
                    Duration::try_from_secs_f64(s).map_err(|e| anyhow!("--duration: {e}"))?;
            }
            Arg::Long("function") => function = Some(parser.value()?.string()?),
            Arg::Long("payload") => {
                single_set = true;
                single.payload = parser.value()?.string()?.into_bytes();
            }
            Arg::Long("payload-file") => {
                single_set = true;
                let path = PathBuf::from(parser.value()?);
                single.payload = std::fs::read(&path)
                    .with_context(|| format!("--payload-file {}", path.display()))?;
            }
            Arg::Long("content-type") => {
                single_set = true;
                single.content_type = header_value(&mut parser, "--content-type")?;
            }
            Arg::Long("task-type") => {
                single_set = true;
                single.task_type = Some(number(&mut parser, "--task-type")?);
            }
            Arg::Long("deadline-ms") => {
                single_set = true;
                single.deadline_ms = Some(positive(
                    number(&mut parser, "--deadline-ms")?,
                    "--deadline-ms",
                )?);
            }
            Arg::Long("class") => {
                let raw = parser.value()?.string()?;
                classes.push(parse_class(&raw).with_context(|| format!("--class {raw:?}"))?);
            }
            Arg::Long("timeout-ms") => {
                let ms: u64 = number(&mut parser, "--timeout-ms")?;
                if ms == 0 {
                    bail!("--timeout-ms must be > 0");
                }
                spec.timeout = Duration::from_millis(ms);
            }
            Arg::Long("connections") => spec.connections = number(&mut parser, "--connections")?,
            Arg::Long("max-connections") => {
                spec.max_connections = number(&mut parser, "--max-connections")?;
            }
            Arg::Long("spin-us") => {
                spec.spin = Duration::from_micros(number(&mut parser, "--spin-us")?);
            }
            Arg::Long("out") => out = Some(PathBuf::from(parser.value()?)),
            Arg::Long("quiet") => spec.progress = false,
            other => return Err(other.unexpected().into()),
        }
    }
    if addrs.is_empty() {
        bail!("--target is required");
    }
    let function = function.context("--function is required")?;
    if !super::is_function_name(&function) {
        bail!("--function {function:?}: expected a function name (letters, digits, - _ .)");
    }
    spec.function = function;
    spec.classes = match (classes.is_empty(), single_set) {
        (true, _) => vec![single],
        (false, false) => classes,
        (false, true) => bail!(
            "--class excludes --payload, --payload-file, --content-type, --task-type and --deadline-ms"
        ),
    };
    if spec.max_connections < spec.connections.max(1) {
        bail!("--max-connections must be ≥ --connections");
    }
    let profiles: Vec<Profile> = match (trace, rates.as_slice()) {
        (Some(_), [_, ..]) => bail!("--trace and --rate exclude each other"),
        (None, []) => bail!("--rate or --trace is required"),
        (Some(path), []) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("--trace {}", path.display()))?;
            let profile = Profile::from_trace(&text)
                .with_context(|| format!("--trace {}", path.display()))?;
            vec![profile; addrs.len()]
        }
        (None, [one]) => vec![Profile::constant(*one)?; addrs.len()],
        (None, many) if many.len() == addrs.len() => many
            .iter()
            .map(|&r| Profile::constant(r))
            .collect::<Result<_, _>>()?,
        (None, many) => bail!(
            "--rate given {} times for {} targets: give one, or one per target",
            many.len(),
            addrs.len()
        ),
    };
    spec.targets = addrs
        .into_iter()
        .zip(profiles)
        .map(|(addr, profile)| Target { addr, profile })
        .collect();
    Ok(Args {
        spec,
        out: out.unwrap_or_else(|| PathBuf::from(format!("results/load-{}.csv", unix_seconds()))),
        command_line,
    })
}

/// One `--class`: comma-separated `key=value` pairs, `payload=` last (it takes the rest).
fn parse_class(raw: &str) -> Result<Class> {
    let mut class = Class::default();
    let mut rest = raw;
    while !rest.is_empty() {
        if let Some(payload) = rest.strip_prefix("payload=") {
            class.payload = payload.as_bytes().to_vec();
            break;
        }
        let (pair, tail) = rest.split_once(',').unwrap_or((rest, ""));
        rest = tail;
        let (key, value) = pair
            .split_once('=')
            .with_context(|| format!("{pair:?}: expected key=value"))?;
        let num = |what: &str| -> Result<f64> {
            let v: f64 = value
                .parse()
                .map_err(|_| anyhow!("{key}: expected {what}, got {value:?}"))?;
            positive(v, key)
        };
        match key {
            "weight" => class.weight = num("a number")?,
            "function" if super::is_function_name(value) => class.function = Some(value.to_owned()),
            "function" => bail!("function: expected a function name (letters, digits, - _ .)"),
            "deadline_ms" => class.deadline_ms = Some(num("milliseconds")?),
            "task_type" => {
                class.task_type = Some(
                    value
                        .parse()
                        .map_err(|_| anyhow!("task_type: expected an integer, got {value:?}"))?,
                );
            }
            "content_type"
                if !value.is_empty() && value.bytes().all(|b| (0x20..0x7f).contains(&b)) =>
            {
                class.content_type = value.to_owned();
            }
            "content_type" => bail!("content_type: expected printable ASCII"),
            other => bail!(
                "unknown key {other:?} (weight, function, task_type, deadline_ms, content_type, payload)"
            ),
        }
    }
    Ok(class)
}

/// A header value from a flag: printable ASCII only, so it cannot break the request head.
fn header_value(parser: &mut Parser, flag: &str) -> Result<String> {
    let v = parser.value()?.string()?;
    if v.bytes().all(|b| (0x20..0x7f).contains(&b)) && !v.is_empty() {
        Ok(v)
    } else {
        bail!("{flag} {v:?}: expected printable ASCII")
    }
}
