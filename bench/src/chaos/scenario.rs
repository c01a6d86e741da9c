//! The scenarios. Each one is a `Plan`: a 3-node cluster (K = 2, Q = 2, a fixed 50 ms function,
//! so 40 jobs/s per node), a scheduler, traffic into healthy nodes, and a fault injected at ¼ of the
//! run and healed at ⅗ where it can be. Every node runs with a 1 s forward timeout and every process
//! function with a 500 ms timeout, so every answer is due within [`BOUND`]; the client gives up at
//! [`CLIENT_TIMEOUT`] and counts the request as hung.
//!
//! Where the fault is not the function's, the function is `count`: one [`Counter`] per node, all
//! recording the job id of every execution, so the row says how many jobs ran more than once in the
//! whole cluster (`duplicate_executions`, which must be 0: at most once; on loopback only, where the
//! counters listen). A run lasts `seconds`, or
//! longer when that is too short for the spec's `min_requests` at the scenario's rate.

use std::fmt;
use std::io::{Read as _, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::counter::{Counter, Counts, Pace};
use super::fault::{DiskFull, Garbage, Silent, SlowClients};
use super::report::{Allowance, Executions, Row, Tally};
use super::{Options, Spec};
use crate::arrivals::{Process, Profile};
use crate::experiment::cluster::{Cluster, Extras};
use crate::experiment::spec::{self, Network};
use crate::load::{self, Class, Target};

/// Longest any answer may take here: forward timeout (1 s) + queue (2 × 500 ms for a hanging function)
/// + run, with slack for a busy 2-core machine.
pub const BOUND: Duration = Duration::from_secs(3);

/// The client's per-request timeout: a request without an answer by then is hung.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Stalled connections in the slow-clients scenario.
const SLOW_CLIENTS: usize = 1000;

/// Jobs per second one node serves: K / service time.
const CAPACITY: f64 = 2.0 / 0.05;

/// The counting function's pace: the fixed 50 ms of the built-in `work`.
const FAST: Duration = Duration::from_millis(50);

/// The slow peer's slow calls: past the 1 s forward timeout.
const SLOW: Duration = Duration::from_millis(1300);

/// Share of the slow peer's calls that are slow.
const SLOW_SHARE: f64 = 0.4;

/// Slots per node in the slow-peer scenario: room for the slow calls, so the forward timeout (not a
/// full queue) is what the traffic meets.
const SLOW_PEER_SLOTS: usize = 16;

/// The slow-peer scenario must push at least this share of its requests past the forward timeout
/// (checked on runs of [`FULL_SIZE`] requests or more, where the share is steady).
const MIN_TIMEOUT_SHARE: f64 = 0.1;

/// Requests from which a run counts as full size.
const FULL_SIZE: u64 = 500;

/// Every node's extra config: short forward timeout, functions that misbehave, quick shutdown, and
/// no idle-connection reaping during a run (a server closing an idle keep-alive connection races the
/// client's next request on it; that race is HTTP's, not a fault of the node).
const NODE_CONFIG: &str = r#"
[peers]
forward_timeout_ms = 1000
[http]
idle_timeout_ms = 120000
shutdown_grace_ms = 500
[functions.hang]
backend = "process"
command = ["sleep", "1000"]
timeout_ms = 500
[functions.crash]
backend = "process"
command = ["sh", "-c", "echo dying >&2; exit 3"]
timeout_ms = 500
[functions.garbage]
backend = "process"
command = ["head", "-c", "4096", "/dev/urandom"]
timeout_ms = 500
[functions.orphan]
backend = "process"
command = ["sh", "-c", "sleep 999 & echo started"]
timeout_ms = 500
[functions.flood]
backend = "process"
command = ["head", "-c", "268435456", "/dev/zero"]
timeout_ms = 500
"#;

/// One fault scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Every node offered 10× its capacity.
    Overload,
    /// A peer SIGKILLed mid-traffic.
    Kill,
    /// A peer SIGSTOPped, then SIGCONTed.
    Freeze,
    /// As `Freeze`, with the entry node at 10× its capacity (forwards to the frozen peer pile up).
    FreezeOverload,
    /// A peer's links cut (bytes held), then healed.
    Cut,
    /// 50 ms extra delay and 10% loss on a peer's links, then restored.
    Degrade,
    /// The function sleeps 1000 s; its timeout is 500 ms.
    Hang,
    /// The function exits 3.
    Crash,
    /// The function prints 4 KiB of random bytes.
    Garbage,
    /// The function prints 256 MiB (far past the response limit).
    Flood,
    /// The function starts `sleep 999` in the background (holding stdout open) and exits.
    Orphan,
    /// The function is an HTTP server that accepts connections and never answers.
    HangHttp,
    /// The function is an HTTP server that answers bytes that are not HTTP, a truncated response,
    /// or nothing (closes), in turn.
    GarbageHttp,
    /// Every connection through a peer's links reset (closed mid-flight) every 100 ms, then clean.
    Reset,
    /// A peer in every node's `init_servers` that accepts connections and never answers.
    SilentPeer,
    /// The entry node's data directory is full while configuration is written.
    DiskFull,
    /// 1000 clients connect to the entry node and stall mid-request.
    SlowClients,
    /// A peer's function takes longer than the forward timeout on a share of its calls.
    SlowPeer,
    /// A peer's links hold chunks back for up to 1.5 s, so messages on different connections arrive
    /// out of order (a cancel before its job).
    Reorder,
}

impl Scenario {
    /// Every scenario, in the suite's order.
    pub fn all() -> Vec<Self> {
        vec![
            Self::Overload,
            Self::Kill,
            Self::Freeze,
            Self::FreezeOverload,
            Self::Cut,
            Self::Reset,
            Self::Degrade,
            Self::Hang,
            Self::Crash,
            Self::Garbage,
            Self::Flood,
            Self::Orphan,
            Self::HangHttp,
            Self::GarbageHttp,
            Self::SilentPeer,
            Self::DiskFull,
            Self::SlowClients,
            Self::SlowPeer,
            Self::Reorder,
        ]
    }

    /// The kebab-case name (as in a spec).
    pub fn name(self) -> &'static str {
        match self {
            Self::Overload => "overload",
            Self::Kill => "kill",
            Self::Freeze => "freeze",
            Self::FreezeOverload => "freeze-overload",
            Self::Cut => "cut",
            Self::Degrade => "degrade",
            Self::Hang => "hang",
            Self::Crash => "crash",
            Self::Garbage => "garbage",
            Self::Flood => "flood",
            Self::Orphan => "orphan",
            Self::HangHttp => "hang-http",
            Self::GarbageHttp => "garbage-http",
            Self::Reset => "reset",
            Self::SilentPeer => "silent-peer",
            Self::DiskFull => "disk-full",
            Self::SlowClients => "slow-clients",
            Self::SlowPeer => "slow-peer",
            Self::Reorder => "reorder",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How a scenario runs.
struct Plan {
    fault: &'static str,
    scheduler: (&'static str, &'static [&'static str]),
    function: &'static str,
    /// Requests per second into each target.
    rate: f64,
    /// Node indices the traffic enters through.
    targets: &'static [usize],
    /// K on every node.
    slots: usize,
    allowed: Allowance,
    network: Network,
}

/// Why nothing may be lost or hung, per kind of fault.
fn why(scenario: Scenario) -> &'static str {
    match scenario {
        Scenario::Overload => {
            "every node is healthy: overload must turn into 429s with a reason, never into silence."
        }
        Scenario::Kill
        | Scenario::Freeze
        | Scenario::FreezeOverload
        | Scenario::Cut
        | Scenario::Reset
        | Scenario::Degrade
        | Scenario::SilentPeer
        | Scenario::Reorder => {
            "traffic enters through n0, which is healthy: a faulty peer may cost at most the 1 s \
             forward timeout and a cancel, then a fallback (run locally, or reject with a reason) or \
             a 504 saying whether the job ran; no job runs twice."
        }
        Scenario::SlowPeer => {
            "a slow call is a forward timeout, not a fault: n0 cancels it and runs the job itself only \
             if n1 answers that it did not run; no job runs twice, every request gets one answer."
        }
        Scenario::Hang
        | Scenario::Crash
        | Scenario::Garbage
        | Scenario::Flood
        | Scenario::Orphan
        | Scenario::HangHttp
        | Scenario::GarbageHttp => {
            "the node contains its functions: 504 past the 500 ms function timeout, 502 on a crash \
             or an unreadable answer, 200 for any bytes a process prints within the limits."
        }
        Scenario::DiskFull => {
            "invocations never touch the disk; a failed persist is a 5xx with a JSON error, and the \
             node keeps serving."
        }
        Scenario::SlowClients => {
            "a stalled connection holds only its own task: everyone else is served as before."
        }
    }
}

fn plan(scenario: Scenario, network: Network) -> Plan {
    let allowed = |needs_ok| Allowance {
        lost: 0,
        hung: 0,
        needs_ok,
        why: why(scenario),
    };
    let forward = ("ForwardScheduler", &["1"][..]);
    let local = ("NoScheduler", &["true"][..]);
    let (fault, scheduler, function, rate, targets, needs_ok) = match scenario {
        Scenario::Overload => (
            "10× capacity into every node",
            ("PowerOfNScheduler", &["1", "1", "true", "1"][..]),
            "count",
            10.0 * CAPACITY,
            &[0, 1, 2][..],
            true,
        ),
        Scenario::Kill => ("SIGKILL n1", forward, "count", 30.0, &[0][..], true),
        Scenario::Freeze => (
            "SIGSTOP n1, SIGCONT",
            forward,
            "count",
            30.0,
            &[0][..],
            true,
        ),
        Scenario::FreezeOverload => (
            "SIGSTOP n1 with n0 at 10× capacity",
            forward,
            "count",
            10.0 * CAPACITY,
            &[0][..],
            true,
        ),
        Scenario::Cut => (
            "cut n1's links, heal",
            forward,
            "count",
            30.0,
            &[0][..],
            true,
        ),
        Scenario::Degrade => (
            "n1's links +50 ms, 10% loss",
            forward,
            "count",
            30.0,
            &[0][..],
            true,
        ),
        Scenario::Hang => (
            "function sleeps 1000 s",
            local,
            "hang",
            30.0,
            &[0][..],
            false,
        ),
        Scenario::Crash => ("function exits 3", local, "crash", 30.0, &[0][..], false),
        Scenario::Garbage => (
            "function prints random bytes",
            local,
            "garbage",
            30.0,
            &[0][..],
            true,
        ),
        Scenario::Flood => (
            "function prints 256 MiB",
            local,
            "flood",
            30.0,
            &[0][..],
            false,
        ),
        Scenario::Orphan => (
            "function leaves `sleep 999` behind",
            local,
            "orphan",
            30.0,
            &[0][..],
            false,
        ),
        Scenario::HangHttp => (
            "HTTP function never answers",
            local,
            "hang-http",
            30.0,
            &[0][..],
            false,
        ),
        Scenario::Reset => (
            "n1's connections reset every 100 ms",
            forward,
            "count",
            30.0,
            &[0][..],
            true,
        ),
        Scenario::GarbageHttp => (
            "HTTP function: non-HTTP, truncated, closed",
            local,
            "garbage-http",
            30.0,
            &[0][..],
            false,
        ),
        Scenario::SilentPeer => (
            "silent peer in init_servers",
            forward,
            "count",
            30.0,
            &[0][..],
            true,
        ),
        Scenario::SlowClients => (
            "1000 stalled client connections",
            local,
            "count",
            30.0,
            &[0][..],
            true,
        ),
        Scenario::DiskFull => (
            "n0's data dir full, config writes",
            local,
            "count",
            30.0,
            &[0][..],
            true,
        ),
        Scenario::SlowPeer => (
            "n1's function: 1.3 s on 40% of calls (forward timeout 1 s)",
            forward,
            "count",
            30.0,
            &[0][..],
            true,
        ),
        Scenario::Reorder => (
            "n1's links hold 20% of chunks up to 1.5 s",
            forward,
            "count",
            30.0,
            &[0][..],
            true,
        ),
    };
    let network = match scenario {
        Scenario::SilentPeer | Scenario::DiskFull | Scenario::GarbageHttp | Scenario::HangHttp => {
            Network::Loopback
        }
        _ => network,
    };
    // The counting functions listen on the host's loopback, out of the namespaces' reach: between
    // namespaces the nodes run the built-in `work` and nothing counts executions.
    let function = match network {
        Network::Netns if function == "count" => "work",
        _ => function,
    };
    Plan {
        fault,
        scheduler,
        function,
        rate,
        targets,
        slots: if scenario == Scenario::SlowPeer {
            SLOW_PEER_SLOTS
        } else {
            2
        },
        allowed: allowed(needs_ok),
        network,
    }
}

/// Runs one scenario on a fresh cluster.
pub(super) fn run(
    scenario: Scenario,
    suite: &Spec,
    seed: u64,
    options: &Options,
) -> Result<Row, BoxError> {
    let plan = plan(scenario, suite.network);
    let mut extras = Extras {
        proxies: true,
        seeds: Vec::new(),
        node_extra: Vec::new(),
    };
    let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
    let counts = Arc::new(Counts::default());
    let counters = if plan.function == "count" {
        counters(scenario, &counts, local, seed)?
    } else {
        Vec::new()
    };
    extras.node_extra = counters
        .iter()
        .map(|c| {
            format!(
                "[functions.count]\nbackend = \"http\"\nurl = \"http://{}/\"\ntimeout_ms = 2000\n",
                c.addr()
            )
        })
        .collect();
    // Long enough for the floor of requests at this scenario's rate.
    let offered = plan.rate * plan.targets.len() as f64;
    let seconds = suite
        .seconds
        .max(suite.min_requests as f64 * 1.15 / offered)
        .ceil();
    let silent = match scenario {
        Scenario::SilentPeer | Scenario::HangHttp => Some(Silent::start(local)?),
        _ => None,
    };
    if scenario == Scenario::SilentPeer {
        extras.seeds.extend(silent.as_ref().map(Silent::addr));
    }
    let garbage = match scenario {
        Scenario::GarbageHttp => Some(Garbage::start(local)?),
        _ => None,
    };
    let mut node_config = NODE_CONFIG.to_owned();
    if let (Scenario::HangHttp, Some(silent)) = (scenario, &silent) {
        node_config.push_str(&format!(
            "[functions.hang-http]\nbackend = \"http\"\nurl = \"http://{}/\"\ntimeout_ms = 500\n",
            silent.addr()
        ));
    }
    if let Some(g) = &garbage {
        node_config.push_str(&format!(
            "[functions.garbage-http]\nbackend = \"http\"\nurl = \"http://{}/\"\ntimeout_ms = 500\n",
            g.addr()
        ));
    }
    let mut spec = cluster_spec(scenario, &plan, &node_config, seconds)?;
    spec.nodes.clone_from(&suite.nodes);
    let scheduler = &spec.schedulers[0];
    let cluster = Cluster::start_with(&spec, scheduler, seed, &options.node_binary, &extras)?;
    let load_spec = load_spec(&plan, &cluster, seed, seconds)?;

    let mut tally = Tally::default();
    let findings = thread::scope(|s| -> Result<Vec<String>, BoxError> {
        let injector = s.spawn(|| inject(scenario, &cluster, seconds));
        let mut csv = requests_file(options, scenario)?;
        load::run_with(&load_spec, &mut csv, |r| tally.add(r))?;
        injector
            .join()
            .unwrap_or_else(|_| Err("the injector panicked".into()))
    })?;
    let mut findings = findings;
    findings.extend(after(scenario, &cluster));
    // Every node is stopped before counting: no execution is still to start.
    drop(cluster);
    let executions = (!counters.is_empty()).then(|| Executions {
        total: counts.executions(),
        duplicates: counts.duplicate_executions(),
        without_id: counts.without_id(),
    });
    let mut row = Row::new(
        scenario.name().to_owned(),
        plan.fault.to_owned(),
        tally,
        plan.allowed,
        findings,
    );
    row.seconds = seconds;
    row.count_executions(executions);
    let repeated = counts.repeated(5);
    if !repeated.is_empty() {
        let ids: Vec<String> = repeated
            .iter()
            .map(|(id, n)| format!("{id} ×{n}"))
            .collect();
        row.findings
            .push(format!("jobs run more than once: {}", ids.join(", ")));
    }
    if scenario == Scenario::SlowPeer && row.sent >= FULL_SIZE {
        let share = row.forward_timeouts as f64 / row.sent as f64;
        if share < MIN_TIMEOUT_SHARE {
            row.findings.push(format!(
                "only {:.1}% of requests hit the forward timeout (want ≥ {:.0}%)",
                share * 100.0,
                MIN_TIMEOUT_SHARE * 100.0
            ));
            row.passed = false;
        }
    }
    if row.max_ms > BOUND.as_secs_f64() * 1e3 {
        row.findings.push(format!(
            "an answer took {:.0} ms, over the {BOUND:?} bound",
            row.max_ms
        ));
        row.passed = false;
    }
    drop(silent);
    drop(garbage);
    drop(counters);
    Ok(row)
}

/// One counting function per node, sharing `counts`; in the slow-peer scenario n1's is slow on a
/// share of its calls.
fn counters(
    scenario: Scenario,
    counts: &Arc<Counts>,
    local: SocketAddr,
    seed: u64,
) -> Result<Vec<Counter>, BoxError> {
    (0..3)
        .map(|i| {
            let slow_share = if scenario == Scenario::SlowPeer && i == 1 {
                SLOW_SHARE
            } else {
                0.0
            };
            let pace = Pace {
                slow_share,
                slow: SLOW,
                fast: FAST,
            };
            Ok(Counter::start(
                local,
                Arc::clone(counts),
                pace,
                seed.wrapping_add(i),
            )?)
        })
        .collect()
}

/// Where a scenario's request records go: a CSV file, or nowhere.
fn requests_file(options: &Options, scenario: Scenario) -> Result<Box<dyn Write>, BoxError> {
    let Some(dir) = &options.requests_dir else {
        return Ok(Box::new(std::io::sink()));
    };
    std::fs::create_dir_all(dir)?;
    let mut file = std::fs::File::create(dir.join(format!("requests-{scenario}.csv")))?;
    writeln!(file, "# {}\n{}", load::record::SCHEMA, load::record::HEADER)?;
    Ok(Box::new(std::io::BufWriter::new(file)))
}

fn cluster_spec(
    scenario: Scenario,
    plan: &Plan,
    node_config: &str,
    seconds: f64,
) -> Result<spec::Spec, BoxError> {
    let distribution = if scenario == Scenario::Overload {
        "exponential"
    } else {
        "fixed"
    };
    let network = match plan.network {
        Network::Loopback => "loopback",
        Network::Netns => "netns",
    };
    let params: Vec<String> = plan.scheduler.1.iter().map(|p| format!("{p:?}")).collect();
    let text = format!(
        "name = \"chaos-{scenario}\"\n\
         [cluster]\nnodes = 3\nslots = {}\nqueue_len = 2\nnetwork = \"{network}\"\n\
         node_config = '''{node_config}'''\n\
         [function]\nbuiltin = \"sleep\"\nmean_ms = 50\ndistribution = \"{distribution}\"\n\
         [traffic]\nrho = [1.0]\nduration_s = {seconds}\n\
         [[scheduler]]\nname = \"{}\"\nparameters = [{}]\n",
        plan.slots,
        plan.scheduler.0,
        params.join(", ")
    );
    Ok(spec::Spec::parse(&text)?)
}

fn load_spec(
    plan: &Plan,
    cluster: &Cluster,
    seed: u64,
    seconds: f64,
) -> Result<load::Spec, BoxError> {
    let addrs = cluster.addrs();
    let targets = plan
        .targets
        .iter()
        .map(|&i| {
            Ok(Target {
                addr: addrs[i],
                profile: Profile::constant(plan.rate)?,
            })
        })
        .collect::<Result<Vec<_>, BoxError>>()?;
    Ok(load::Spec {
        targets,
        process: Process::Poisson,
        seed,
        function: plan.function.to_owned(),
        classes: vec![Class {
            payload: b"chaos".to_vec(),
            ..Class::default()
        }],
        timeout: CLIENT_TIMEOUT,
        max_requests: (plan.rate * seconds * 2.0) as u64 + 100,
        max_duration: Duration::from_secs_f64(seconds),
        connections: 8,
        max_connections: 2048,
        spin: Duration::from_micros(100),
        progress: false,
    })
}

/// The fault's timeline, on its own thread while the traffic runs; returns findings.
fn inject(scenario: Scenario, cluster: &Cluster, seconds: f64) -> Result<Vec<String>, BoxError> {
    let start = Instant::now();
    let at = |share: f64| sleep_until(start + Duration::from_secs_f64(seconds * share));
    let link = || cluster.link(1).ok_or("no proxy in front of n1");
    let mut findings = Vec::new();
    match scenario {
        Scenario::Kill => {
            at(0.25);
            cluster.signal(1, "KILL")?;
        }
        Scenario::Freeze | Scenario::FreezeOverload => {
            at(0.25);
            cluster.signal(1, "STOP")?;
            at(0.6);
            cluster.signal(1, "CONT")?;
        }
        Scenario::Cut => {
            let link = link()?;
            at(0.25);
            link.cut();
            at(0.6);
            link.heal();
        }
        Scenario::Reset => {
            let link = link()?;
            at(0.25);
            while start.elapsed().as_secs_f64() < seconds * 0.6 {
                link.reset();
                thread::sleep(Duration::from_millis(100));
            }
        }
        Scenario::SlowClients => {
            at(0.25);
            let slow = SlowClients::start(cluster.addrs()[0], SLOW_CLIENTS)?;
            at(0.6);
            drop(slow);
        }
        Scenario::Degrade => {
            let link = link()?;
            at(0.25);
            link.degrade(0.1, Duration::from_millis(50));
            at(0.6);
            link.restore();
        }
        Scenario::Reorder => {
            let link = link()?;
            at(0.25);
            link.reorder(0.2, Duration::from_millis(1500));
            at(0.6);
            link.restore();
        }
        Scenario::DiskFull => {
            let addr = cluster.addrs()[0];
            at(0.1);
            findings.extend(config_write(addr, true, "before the disk filled"));
            at(0.25);
            let full = DiskFull::start(&cluster.data_dir(0))?;
            let mut writes = 0;
            while start.elapsed().as_secs_f64() < seconds * 0.6 {
                findings.extend(config_write(addr, false, "on a full disk"));
                writes += 1;
                thread::sleep(Duration::from_millis(100));
            }
            drop(full);
            findings.extend(config_write(addr, true, "after the disk was freed"));
            if writes == 0 {
                findings.push("no config write was tried on the full disk".to_owned());
            }
        }
        _ => {}
    }
    Ok(findings)
}

/// Checks once the traffic is over: no process of a timed-out or finished call may be left running.
fn after(scenario: Scenario, cluster: &Cluster) -> Vec<String> {
    let (cmdline, parents): (&[u8], _) = match scenario {
        // Children of the node: what a timeout must kill.
        Scenario::Hang => (
            b"sleep\x001000\x00",
            (0..3).filter_map(|i| cluster.pid(i)).collect(),
        ),
        // Orphans are reparented (to init or a subreaper), so any parent counts.
        Scenario::Orphan => (b"sleep\x00999\x00", Vec::new()),
        _ => return Vec::new(),
    };
    // Every call ended (answered or timed out at 0.5 s) before the traffic did; give the reaper a moment.
    thread::sleep(Duration::from_millis(500));
    let left = leftovers(cmdline, &parents);
    if left > 0 {
        vec![format!(
            "{left} `{}` processes of finished calls still running",
            String::from_utf8_lossy(cmdline)
                .trim_end_matches('\0')
                .replace('\0', " ")
        )]
    } else {
        Vec::new()
    }
}

/// Processes whose command line is `cmdline` and whose parent is one of `parents` (any, when empty).
fn leftovers(cmdline: &[u8], parents: &[u32]) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter(|e| {
            let p = e.path();
            let ppid = std::fs::read_to_string(p.join("stat"))
                .ok()
                .and_then(|s| {
                    // pid (comm) state ppid …; comm may hold spaces, so split after the last ')'.
                    let rest = &s[s.rfind(')')? + 1..];
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                .unwrap_or(0);
            (parents.is_empty() || parents.contains(&ppid))
                && std::fs::read(p.join("cmdline")).is_ok_and(|c| c == cmdline)
        })
        .count()
}

/// The admin writes that persist to the data directory, each with a body that changes nothing the
/// traffic depends on: queue settings as they are, the scheduler as it is, one more function.
const CONFIG_WRITES: [(&str, &str); 3] = [
    (
        "/configuration",
        r#"{"parallel_running_functions_max":2,"queue_length_max":2,"queue_enabled":true}"#,
    ),
    (
        "/configuration/scheduler",
        r#"{"name":"NoScheduler","parameters":["true"]}"#,
    ),
    (
        "/system/functions",
        r#"{"name":"extra","backend":"builtin","builtin":"echo"}"#,
    ),
];

/// Every one of [`CONFIG_WRITES`]: when `ok` each must answer 200; otherwise a 5xx with a JSON
/// `{"code", "message"}` body. Returns a finding per write that did not.
fn config_write(addr: SocketAddr, ok: bool, when: &str) -> Vec<String> {
    CONFIG_WRITES
        .iter()
        .filter_map(|(path, body)| {
            let got = post(addr, path, body, CLIENT_TIMEOUT);
            let good = match &got {
                Ok((status, body)) if ok => *status == 200 && !body.is_empty(),
                Ok((status, body)) => {
                    (500..600).contains(status)
                        && serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| {
                            v.get("code").is_some()
                                && v.get("message").is_some_and(serde_json::Value::is_string)
                        })
                }
                Err(_) => false,
            };
            (!good).then(|| {
                let what = match got {
                    Ok((status, body)) => format!("{status} {}", String::from_utf8_lossy(&body)),
                    Err(e) => e.to_string(),
                };
                let want = if ok { "200" } else { "5xx + JSON error" };
                format!("POST {path} {when}: got {}, want {want}", what.trim())
            })
        })
        .collect()
}

/// One `POST` on its own connection; the status and body (read to the end: `Connection: close`).
fn post(
    addr: SocketAddr,
    path: &str,
    body: &str,
    timeout: Duration,
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(&raw) {
        Ok(httparse::Status::Complete(head)) => {
            Ok((response.code.unwrap_or(0), raw[head..].to_vec()))
        }
        _ => Err(std::io::Error::other(format!(
            "not an HTTP response: {:?}",
            String::from_utf8_lossy(&raw)
        ))),
    }
}

fn sleep_until(t: Instant) {
    if let Some(d) = t.checked_duration_since(Instant::now()) {
        thread::sleep(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_finds_a_running_child_by_command_line_and_parent() {
        /// Kills the child even when an assertion fails first.
        struct Reap(std::process::Child);
        impl Drop for Reap {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        const CMD: &[u8] = b"sleep\x00998.25\x00";
        let child = Reap(
            std::process::Command::new("sleep")
                .arg("998.25")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("sleep"),
        );
        let me = std::process::id();
        // Until the child has exec'd, its command line is still ours.
        let deadline = Instant::now() + Duration::from_secs(10);
        while leftovers(CMD, &[me]) == 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(leftovers(CMD, &[me]), 1);
        assert!(leftovers(CMD, &[]) >= 1);
        assert_eq!(leftovers(CMD, &[me + 1_000_000]), 0);
        drop(child);
        assert_eq!(leftovers(CMD, &[me]), 0);
    }

    #[test]
    fn every_scenario_has_a_plan_and_a_distinct_name() {
        let all = Scenario::all();
        let names: std::collections::HashSet<_> = all.iter().map(|s| s.name()).collect();
        assert_eq!(names.len(), all.len());
        for s in all {
            let p = plan(s, Network::Loopback);
            assert!(p.rate > 0.0 && !p.targets.is_empty(), "{s}");
            assert_eq!(p.allowed.hung, 0, "{s}: hung is never allowed");
            let spec = cluster_spec(s, &p, NODE_CONFIG, 2.0).expect("cluster spec parses");
            assert_eq!(spec.cluster.nodes, 3);
        }
    }
}
