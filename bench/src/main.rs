//! `p2pfaas-bench`: parses the command line into the library's types, runs, prints. Invalid flags exit
//! with status 64 and a message naming the flag.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, anyhow, bail};
use lexopt::{Arg, Parser, ValueExt as _};
use p2pfaas_bench::arrivals::{Process, Profile};
use p2pfaas_bench::experiment;
use p2pfaas_bench::load::{self, Class, Spec, Target, record};
use p2pfaas_bench::theory::Table;

const USAGE: &str = "\
usage:
  p2pfaas-bench theory --lambda RATE --mu RATE --k SLOTS [--q QUEUE]
      blocking and delay of M/M/K/K (Erlang-B, load a = λ/μ), M/M/K/K+Q and M/M/1/K
  p2pfaas-bench load --target HOST:PORT [--target …] --function NAME (--rate RATE | --trace FILE) [options]
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
  p2pfaas-bench run SPEC.toml [--out DIR] [--node-bin PATH] [--seconds S] [--requests] [--quiet]
      an experiment on real p2pfaas-node processes (bench/specs/ has examples): a fresh cluster per
      scheduler and seed, the spec's ρ sweep, then DIR/report.{json,csv,md} and one SVG per metric
      --out DIR              default results/<spec name>-<unix time>
      --node-bin PATH        default: p2pfaas-node next to this binary
      --seconds S            override traffic.duration_s (shorter runs, wider error bars)
      --requests             also write every request to DIR/requests-<point>.csv
  p2pfaas-bench soak SPEC.toml [--out DIR] [--node-bin PATH] [--seconds S]
      one cluster (the spec's first scheduler, first ρ) under steady load, each node's RSS and open
      descriptors sampled every second; fails if either grows > 5 % after the warm-up or a request
      fails (bench/specs/soak.toml: 10 minutes at 80 %)
  p2pfaas-bench demo [--seconds S] [--node-bin PATH]
      three nodes on loopback under uneven Poisson traffic, every scheduler side by side, with the
      queueing-theory baselines (bench/specs/demo.toml; S seconds per scheduler, default 20)
  p2pfaas-bench simulate SPEC.toml [--out DIR] [--arrivals N] [--timing] [--quiet]
      the experiment SPEC on simulated nodes running the node's own schedulers (README: Simulator);
      writes report.json/.csv/.md and charts like `run`, mode \"simulated\", with 95% CIs
      --out DIR              results directory (default results/sim-<name>-<unix time>)
      --arrivals N           measured arrivals per point, all nodes (overrides simulation.arrivals)
      --timing               print simulated requests per second of wall time
  p2pfaas-bench compare A.json B.json
      two reports side by side per (scheduler, ρ), with B − A
";

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let command = args.next();
    let rest: Vec<OsString> = args.collect();
    let result = match command.as_ref().and_then(|c| c.to_str()) {
        Some("theory") => parse_theory(rest).map(Command::Theory),
        Some("load") => parse_load(rest).map(|a| Command::Load(Box::new(a))),
        Some("run") => parse_run(rest, false).map(|a| Command::Run(Box::new(a))),
        Some("demo") => parse_run(rest, true).map(|a| Command::Run(Box::new(a))),
        Some("soak") => parse_run(rest, false).map(|a| Command::Soak(Box::new(a))),
        Some("simulate") => return cli(parse_simulate(rest), run_simulate),
        Some("compare") => return cli(parse_compare(rest), run_compare),
        Some("chaos") => return p2pfaas_bench::chaos::cli::main(rest),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}{}", p2pfaas_bench::chaos::cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(anyhow!("unknown command {other:?}")),
        None => Err(anyhow!("a command is needed")),
    };
    let command = match result {
        Ok(c) => c,
        Err(e) => {
            eprintln!("p2pfaas-bench: {e:#}\n(`p2pfaas-bench help` lists the commands and flags)");
            return ExitCode::from(64);
        }
    };
    match command.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("p2pfaas-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

enum Command {
    Theory(Table),
    Load(Box<LoadArgs>),
    Run(Box<RunArgs>),
    Soak(Box<RunArgs>),
}

struct RunArgs {
    spec: experiment::spec::Spec,
    out: PathBuf,
    options: experiment::Options,
    demo: bool,
}

struct LoadArgs {
    spec: Spec,
    out: PathBuf,
    command_line: String,
}

impl Command {
    fn run(self) -> Result<()> {
        match self {
            Self::Theory(table) => {
                // A closed stdout (`| head`) is not an error worth a panic.
                let _ = write!(std::io::stdout(), "{}", table.render()?);
                Ok(())
            }
            Self::Load(args) => run_load(&args),
            Self::Run(args) => run_experiment(&args),
            Self::Soak(args) => run_soak(&args),
        }
    }
}

fn run_load(args: &LoadArgs) -> Result<()> {
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
    let summary = load::run(&args.spec, &mut out)?;
    let _ = writeln!(
        std::io::stdout(),
        "{}\nresults: {}",
        summary.render(),
        args.out.display()
    );
    Ok(())
}

/// The demo's spec, shipped in the binary so `demo` works from any directory.
const DEMO_SPEC: &str = include_str!("../specs/demo.toml");

fn parse_run(args: Vec<OsString>, demo: bool) -> Result<RunArgs> {
    let mut parser = Parser::from_args(args);
    let mut spec_path: Option<PathBuf> = None;
    let mut out = None;
    let mut node_bin = None;
    let mut seconds = None;
    let mut requests = false;
    let mut progress = true;
    while let Some(arg) = parser.next()? {
        match arg {
            Arg::Value(v) if !demo && spec_path.is_none() => spec_path = Some(v.into()),
            Arg::Long("out") if !demo => out = Some(PathBuf::from(parser.value()?)),
            Arg::Long("node-bin") => node_bin = Some(PathBuf::from(parser.value()?)),
            Arg::Long("seconds") => {
                seconds = Some(positive(number(&mut parser, "--seconds")?, "--seconds")?);
            }
            Arg::Long("requests") if !demo => requests = true,
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
    let mut spec = experiment::spec::Spec::parse(&text).with_context(|| origin.clone())?;
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
    Ok(RunArgs {
        spec,
        options: experiment::Options {
            node_binary,
            requests_dir: requests.then(|| out.clone()),
            progress,
        },
        out,
        demo,
    })
}

fn run_experiment(args: &RunArgs) -> Result<()> {
    let spec = &args.spec;
    if args.options.requests_dir.is_some() {
        std::fs::create_dir_all(&args.out)
            .with_context(|| format!("creating {}", args.out.display()))?;
    }
    if args.demo {
        print_demo_intro(spec)?;
    }
    let report = experiment::run(spec, &args.options)?;
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
        experiment::write(&report, &args.out)?;
        let _ = writeln!(stdout, "\nresults: {}", args.out.display());
    }
    Ok(())
}

fn run_soak(args: &RunArgs) -> Result<()> {
    let soak = p2pfaas_bench::soak::run(&args.spec, &args.options, Duration::from_secs(1), 0.05)?;
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
fn print_demo_intro(spec: &experiment::spec::Spec) -> Result<()> {
    let c = &spec.cluster;
    let rates = spec.rates(spec.traffic.rho[0]);
    let mu = 1000.0 / spec.function.mean_ms;
    let (k, q) = (u32::try_from(c.slots)?, u32::try_from(c.queue_len)?);
    let nodes = u32::try_from(c.nodes)?;
    let alone_loss = p2pfaas_bench::theory::mmkq(rates[0], mu, k, 0)?;
    let alone = p2pfaas_bench::theory::mmkq(rates[0], mu, k, q)?;
    let total: f64 = rates.iter().sum();
    let pooled = p2pfaas_bench::theory::mmkq(total, mu, k * nodes, q * nodes)?;
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

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn number<T: std::str::FromStr>(parser: &mut Parser, flag: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    let raw = parser
        .value()
        .with_context(|| format!("{flag} needs a value"))?
        .string()
        .with_context(|| format!("{flag}: not UTF-8"))?;
    raw.parse::<T>()
        .map_err(|e| anyhow!("invalid value for {flag}: {raw:?}: {e}"))
}

fn positive(value: f64, flag: &str) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        bail!("{flag} must be a finite number > 0, got {value}")
    }
}

fn parse_theory(args: Vec<OsString>) -> Result<Table> {
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

fn parse_load(args: Vec<OsString>) -> Result<LoadArgs> {
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
    if !load::is_function_name(&function) {
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
    Ok(LoadArgs {
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
            "function" if load::is_function_name(value) => class.function = Some(value.to_owned()),
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

/// Runs a parsed subcommand: exit 64 when its flags are invalid, 1 when it fails.
fn cli<A>(parsed: Result<A>, run: fn(A) -> Result<()>) -> ExitCode {
    let args = match parsed {
        Ok(a) => a,
        Err(e) => {
            eprintln!("p2pfaas-bench: {e:#}\n(`p2pfaas-bench help` lists the commands and flags)");
            return ExitCode::from(64);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("p2pfaas-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

struct SimulateArgs {
    spec: p2pfaas_bench::experiment::spec::Spec,
    out: PathBuf,
    options: p2pfaas_bench::sim::SimOptions,
    timing: bool,
}

fn parse_simulate(args: Vec<OsString>) -> Result<SimulateArgs> {
    let mut parser = Parser::from_args(args);
    let (mut path, mut out, mut timing) = (None, None, false);
    let mut options = p2pfaas_bench::sim::SimOptions {
        progress: true,
        ..Default::default()
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Arg::Value(v) if path.is_none() => path = Some(PathBuf::from(v)),
            Arg::Long("out") => out = Some(PathBuf::from(parser.value()?)),
            Arg::Long("arrivals") => options.arrivals = Some(number(&mut parser, "--arrivals")?),
            Arg::Long("timing") => timing = true,
            Arg::Long("quiet") => options.progress = false,
            other => return Err(other.unexpected().into()),
        }
    }
    let path = path.ok_or_else(|| anyhow!("simulate: a spec file is needed"))?;
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    let spec = p2pfaas_bench::experiment::spec::Spec::parse(&text)
        .with_context(|| format!("{}", path.display()))?;
    let out = out
        .unwrap_or_else(|| PathBuf::from(format!("results/sim-{}-{}", spec.name, unix_seconds())));
    Ok(SimulateArgs {
        spec,
        out,
        options,
        timing,
    })
}

#[allow(
    clippy::needless_pass_by_value,
    reason = "a subcommand consumes its arguments (`cli` takes fn(A))"
)]
fn run_simulate(args: SimulateArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let (report, simulated) = p2pfaas_bench::sim::run_counted(&args.spec, &args.options)?;
    let wall = started.elapsed().as_secs_f64();
    p2pfaas_bench::experiment::write(&report, &args.out)?;
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

#[allow(
    clippy::needless_pass_by_value,
    reason = "a subcommand consumes its arguments (`cli` takes fn(A))"
)]
fn run_compare(args: CompareArgs) -> Result<()> {
    let read = |path: &PathBuf| -> Result<p2pfaas_bench::experiment::report::Report> {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}: not a report", path.display()))
    };
    let (a, b) = (read(&args.a)?, read(&args.b)?);
    print!("{}", p2pfaas_bench::sim::compare::table(&a, &b));
    Ok(())
}
