//! Real `p2pfaas-node` processes for one experiment run: configs written to a scratch directory, nodes
//! started on loopback or each in its own network namespace, optional delay proxies in front of every
//! node's peer address, and everything stopped and removed on drop.

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::proxy::{DelayProxy, Link};
use super::spec::{Network, Scheduler, Spec};
use crate::load::get_json;

/// Why a cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Writing configs or starting a process failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A node started but did not print its `listening` line.
    #[error("node {node} did not start: {detail}")]
    NodeStart {
        /// Node name.
        node: String,
        /// What it printed, or why nothing.
        detail: String,
    },
    /// Nodes did not all see each other in time.
    #[error("membership did not converge in {0:?}: {1}")]
    Membership(Duration, String),
    /// Namespaces were asked for without the rights or tools to create them.
    #[error("network = \"netns\" needs root and iproute2: {0}")]
    Netns(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let what = what.into();
    move |source| ClusterError::Io { what, source }
}

/// One node process.
struct Node {
    name: String,
    child: Child,
    /// Where clients (the generator) call it.
    addr: SocketAddr,
}

/// Cluster options beyond the spec, for the fault suite.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// Put a proxy in front of every node's peer address even without link delay, so its [`Link`]
    /// can be cut or degraded.
    pub proxies: bool,
    /// More addresses in every node's `init_servers` (e.g. a fake peer that never answers).
    pub seeds: Vec<SocketAddr>,
    /// Config text appended to node `i`'s (by index; missing: nothing), e.g. a function that behaves
    /// differently on one node.
    pub node_extra: Vec<String>,
}

/// A running cluster; dropping it stops the nodes and removes namespaces and files.
pub struct Cluster {
    nodes: Vec<Node>,
    proxies: Vec<DelayProxy>,
    netns: Option<Netns>,
    /// The bpffs the nodes in namespaces pin their maps in (`ip netns exec` hides `/sys/fs/bpf`).
    bpffs: Option<BpfMount>,
    dir: PathBuf,
    /// cgroup v2 directories holding nodes with a `cpu_max` (removed after the nodes stop).
    cgroups: Vec<PathBuf>,
}

impl Cluster {
    /// Starts `spec.cluster.nodes` nodes running `scheduler`, each seeded with `seed + i`, and waits
    /// until every node lists all the others.
    pub fn start(
        spec: &Spec,
        scheduler: &Scheduler,
        seed: u64,
        binary: &Path,
    ) -> Result<Self, ClusterError> {
        Self::start_with(spec, scheduler, seed, binary, &Extras::default())
    }

    /// As [`Cluster::start`], with the fault suite's [`Extras`].
    pub fn start_with(
        spec: &Spec,
        scheduler: &Scheduler,
        seed: u64,
        binary: &Path,
        extras: &Extras,
    ) -> Result<Self, ClusterError> {
        let c = &spec.cluster;
        let dir = std::env::temp_dir().join(format!(
            "p2pfaas-bench-{}-{}-{}",
            spec.name,
            std::process::id(),
            unique()
        ));
        std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
        let netns = match c.network {
            Network::Loopback => None,
            Network::Netns => Some(Netns::create(c.nodes)?),
        };
        // Client addresses are fixed before any node starts: every node's seeds list the others.
        let listen: Vec<SocketAddr> = match &netns {
            None => (0..c.nodes)
                .map(|_| free_port(Ipv4Addr::LOCALHOST))
                .collect::<Result<_, _>>()?,
            Some(n) => (0..c.nodes)
                .map(|i| SocketAddr::new(n.node_ip(i), 18080))
                .collect(),
        };
        let mut proxies = Vec::new();
        let advertise: Vec<SocketAddr> = if c.link_delay_ms > 0.0 || extras.proxies {
            let host = netns
                .as_ref()
                .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), Netns::bridge_ip);
            let delay = Duration::from_secs_f64(c.link_delay_ms / 1e3);
            for &target in &listen {
                let proxy = DelayProxy::start(SocketAddr::new(host, 0), target, delay)
                    .map_err(io("starting a delay proxy"))?;
                proxies.push(proxy);
            }
            proxies.iter().map(DelayProxy::addr).collect()
        } else {
            listen.clone()
        };
        // Each node in a namespace pins its eBPF maps in its own directory of a bpffs outside /sys,
        // where this process (and bpftool, `p2pfaas-node load`) can read them.
        let bpffs = match &netns {
            Some(_) => Some(BpfMount::new(&dir.join("bpffs"))?),
            None => None,
        };
        let mut cluster = Self {
            nodes: Vec::new(),
            proxies,
            netns,
            bpffs,
            dir,
            cgroups: Vec::new(),
        };
        for i in 0..c.nodes {
            let seeds: Vec<String> = (0..c.nodes)
                .filter(|&j| j != i)
                .map(|j| advertise[j])
                .chain(extras.seeds.iter().copied())
                .map(|a| format!("\"{a}\""))
                .collect();
            let mut config = node_config(spec, scheduler, i, listen[i], advertise[i], &seeds, seed);
            if let Some(extra) = extras.node_extra.get(i) {
                config.push_str(extra);
            }
            if let Some(pins) = cluster.pin_dir(i) {
                config = with_pin_dir(config, &pins);
            }
            let node = cluster.spawn(i, &config, binary)?;
            let pid = node.child.id();
            cluster.nodes.push(node);
            if let Some(max) = &spec.node(i).cpu_max {
                let name = format!("p2pfaas-bench-{}-{}-n{i}", std::process::id(), unique());
                cluster.cgroups.push(cpu_cgroup(&name, max, pid)?);
            }
        }
        cluster.wait_for_membership(Duration::from_secs(20))?;
        Ok(cluster)
    }

    fn spawn(&self, i: usize, config: &str, binary: &Path) -> Result<Node, ClusterError> {
        let name = format!("n{i}");
        let path = self.dir.join(format!("{name}.toml"));
        std::fs::write(&path, config).map_err(io(format!("writing {}", path.display())))?;
        let mut command = match &self.netns {
            None => Command::new(binary),
            Some(n) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", &n.ns(i)]).arg(binary);
                c
            }
        };
        let log = std::fs::File::create(self.dir.join(format!("{name}.log")))
            .map_err(io("creating a node log"))?;
        let mut child = command
            .arg("--config")
            .arg(&path)
            .arg("--data-dir")
            .arg(self.dir.join(&name))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(io(format!("starting {}", binary.display())))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err(ClusterError::NodeStart {
                node: name,
                detail: "no stdout".into(),
            });
        };
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let Some(addr) = first
            .strip_prefix("listening ")
            .and_then(|a| a.trim().parse().ok())
        else {
            let _ = child.kill();
            let _ = child.wait();
            let log =
                std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default();
            return Err(ClusterError::NodeStart {
                node: name,
                detail: format!("stdout {first:?}; log: {}", log.trim()),
            });
        };
        // Drain the rest of stdout so the node never blocks on a full pipe.
        thread::spawn(move || lines.for_each(drop));
        Ok(Node { name, child, addr })
    }

    fn wait_for_membership(&self, limit: Duration) -> Result<(), ClusterError> {
        let want = self.nodes.len() - 1;
        let deadline = Instant::now() + limit;
        loop {
            let mut short = Vec::new();
            for n in &self.nodes {
                let seen = get_json(n.addr, "/discovery/list", Duration::from_secs(1))
                    .and_then(|v| v.as_array().map(Vec::len))
                    .unwrap_or(0);
                if seen < want {
                    short.push(format!("{} sees {seen}/{want}", n.name));
                }
            }
            if short.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ClusterError::Membership(limit, short.join(", ")));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Process ids of the nodes, in node order (under `ip netns exec`, that of the wrapper, which
    /// execs the node in place).
    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().map(|n| n.child.id()).collect()
    }

    /// The process id of node `i` (for `kill -STOP` and the like); `None` past the last node.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.nodes.get(i).map(|n| n.child.id())
    }

    /// Sends `signal` (`KILL`, `STOP`, `CONT`, …) to node `i` with `kill(1)`.
    pub fn signal(&self, i: usize, signal: &str) -> Result<(), ClusterError> {
        let pid = self.pid(i).ok_or_else(|| ClusterError::NodeStart {
            node: format!("n{i}"),
            detail: "no such node".into(),
        })?;
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .map_err(io("running kill"))?;
        if status.success() {
            Ok(())
        } else {
            Err(ClusterError::NodeStart {
                node: format!("n{i}"),
                detail: format!("kill -{signal} {pid}: {status}"),
            })
        }
    }

    /// Where node `i` pins its eBPF maps when the cluster chose it (nodes in namespaces); a
    /// `load.pin_dir` in the spec's node config wins over it.
    pub fn pin_dir(&self, i: usize) -> Option<PathBuf> {
        self.bpffs.as_ref().map(|b| b.0.join(format!("n{i}")))
    }

    /// Node `i`'s data directory (`--data-dir`).
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.dir.join(format!("n{i}"))
    }

    /// The fault controls of the proxy in front of node `i`'s peer address, when there is one.
    pub fn link(&self, i: usize) -> Option<Link> {
        self.proxies.get(i).map(DelayProxy::link)
    }

    /// Client addresses, in node order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.addr).collect()
    }

    /// Each node's load source (`ebpf`, `psi`, `procfs`) from `/monitoring/load`, `?` when unknown.
    pub fn load_sources(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| {
                get_json(n.addr, "/monitoring/load", Duration::from_secs(1))
                    .and_then(|v| v.pointer("/sample/source")?.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "?".to_owned())
            })
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            // A frozen node would sit on SIGTERM until the SIGKILL below.
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(n.child.id().to_string())
                .status();
            // SIGTERM first (clean unpin of eBPF maps, weights saved), SIGKILL after 5 s.
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(n.child.id().to_string())
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for n in &mut self.nodes {
            while matches!(n.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(20));
            }
            let _ = n.child.kill();
            let _ = n.child.wait();
        }
        for g in &self.cgroups {
            let _ = std::fs::remove_dir(g);
        }
        // The bpffs and the namespaces go after the nodes using them.
        drop(self.bpffs.take());
        drop(self.netns.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn node_config(
    spec: &Spec,
    scheduler: &Scheduler,
    i: usize,
    listen: SocketAddr,
    advertise: SocketAddr,
    seeds: &[String],
    seed: u64,
) -> String {
    let c = &spec.cluster;
    let f = &spec.function;
    let params: Vec<String> = scheduler
        .parameters
        .iter()
        .map(|p| format!("{:?}", p))
        .collect();
    let mut text = String::new();
    let _ = write!(
        text,
        "[node]\nlisten = \"{listen}\"\nworkers = {}\nseed = {}\nspeed = {:?}\n\
         [log]\nlevel = \"warn\"\n\
         [queue]\nslots = {}\nqueue_len = {}\n\
         [scheduler]\nname = {:?}\nparameters = [{}]\n\
         [discovery]\nmachine_id = \"n{i}\"\nadvertise = \"{advertise}\"\ninit_servers = [{}]\n\
         [functions.work]\nbackend = \"builtin\"\nbuiltin = {:?}\nmean_ms = {}\ndistribution = {:?}\n",
        c.workers,
        seed.wrapping_mul(1000).wrapping_add(i as u64),
        spec.speed(i),
        spec.slots(i),
        spec.queue_len(i),
        scheduler.name,
        params.join(", "),
        seeds.join(", "),
        f.builtin,
        f.mean_ms,
        f.distribution,
    );
    text.push_str(&c.node_config);
    text.push('\n');
    text.push_str(&spec.node(i).node_config);
    text.push('\n');
    text
}

/// `config` with `[load] pin_dir = pins` added, unless it sets a `load.pin_dir` itself (or is not
/// valid TOML: the node then names the problem).
fn with_pin_dir(mut config: String, pins: &Path) -> String {
    let Ok(table) = config.parse::<toml::Table>() else {
        return config;
    };
    let line = format!("pin_dir = {:?}\n", pins.display().to_string());
    match table.get("load").and_then(toml::Value::as_table) {
        None => {
            config.push_str("\n[load]\n");
            config.push_str(&line);
            config
        }
        Some(load) if load.contains_key("pin_dir") => config,
        Some(_) => {
            // The spec has a `[load]` table of its own: the key goes right under its header.
            if !config.ends_with('\n') {
                config.push('\n');
            }
            let mut at = 0;
            for l in config.split_inclusive('\n') {
                at += l.len();
                if l.trim_start().starts_with("[load]") {
                    let mut with = config.clone();
                    with.insert_str(at, &line);
                    // Only when that was the table's header (not text in a string).
                    let set = with
                        .parse::<toml::Table>()
                        .ok()
                        .and_then(|t| t.get("load")?.get("pin_dir")?.as_str().map(str::to_owned));
                    if set.as_deref() == Some(&*pins.display().to_string()) {
                        return with;
                    }
                }
            }
            config
        }
    }
}

/// A bpffs mounted at a scratch directory, unmounted on drop.
struct BpfMount(PathBuf);

impl BpfMount {
    fn new(dir: &Path) -> Result<Self, ClusterError> {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let out = Command::new("mount")
            .args(["-t", "bpf", "bpf"])
            .arg(dir)
            .output()
            .map_err(io("running mount"))?;
        if out.status.success() {
            Ok(Self(dir.to_owned()))
        } else {
            Err(ClusterError::Netns(format!(
                "mount -t bpf bpf {}: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }
}

impl Drop for BpfMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A cgroup v2 group `name` limited to `cpu.max` = `max`, with process `pid` moved into it. Needs
/// a cgroup2 mount whose root offers the `cpu` controller (not a v1 or hybrid host where `cpu` is
/// bound to v1); nothing is created otherwise.
fn cpu_cgroup(name: &str, max: &str, pid: u32) -> Result<PathBuf, ClusterError> {
    let root = cgroup2_root().ok_or_else(|| ClusterError::Io {
        what: "cpu_max needs cgroup v2 with the cpu controller (no cgroup2 mount offers it)".into(),
        source: std::io::Error::from(std::io::ErrorKind::Unsupported),
    })?;
    // Only files the kernel already has are written: no file is ever created in a cgroup tree.
    let write = |path: PathBuf, value: &str| -> std::io::Result<()> {
        use std::io::Write as _;
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)?
            .write_all(value.as_bytes())
    };
    // The cpu controller must be on for the root's children; harmless when it already is.
    write(root.join("cgroup.subtree_control"), "+cpu")
        .map_err(io("enabling the cgroup v2 cpu controller (root needed)"))?;
    let dir = root.join(name);
    std::fs::create_dir(&dir).map_err(io(format!("creating {}", dir.display())))?;
    let set = || -> std::io::Result<()> {
        write(dir.join("cpu.max"), max)?;
        write(dir.join("cgroup.procs"), &pid.to_string())
    };
    if let Err(e) = set() {
        let _ = std::fs::remove_dir(&dir);
        return Err(io(format!("setting cpu.max {max:?} in {}", dir.display()))(
            e,
        ));
    }
    Ok(dir)
}

/// The first cgroup2 mount whose `cgroup.controllers` lists `cpu`.
fn cgroup2_root() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, at, kind) = (f.next()?, f.next()?, f.next()?);
            (kind == "cgroup2").then(|| PathBuf::from(at))
        })
        .find(|at| {
            std::fs::read_to_string(at.join("cgroup.controllers"))
                .is_ok_and(|c| c.split_whitespace().any(|x| x == "cpu"))
        })
}

/// A free port on `ip` (bound and released: the node binds it right after).
fn free_port(ip: Ipv4Addr) -> Result<SocketAddr, ClusterError> {
    TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map_err(io("finding a free port"))
}

/// A process-wide counter, so two clusters of one process never share a directory or namespace names.
fn unique() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// One bridge in the root namespace and one namespace per node, each with a veth on the bridge; all
/// removed on drop. Public for tests that run nodes as services in namespaces (`tests/fleet.rs`).
///
/// Its subnet and names come from a slot claimed across processes ([`claim`]): `10.213.<20 + slot>.0/24`
/// and names starting `pbs<slot>`, so bench processes running at once never collide.
pub struct Netns {
    tag: String,
    subnet: u8,
    count: usize,
    /// Held until the namespaces are gone (dropped last).
    _claim: claim::Claim,
}

impl Netns {
    /// A bridge and `count` namespaces with their addresses (root and iproute2 needed).
    pub fn create(count: usize) -> Result<Self, ClusterError> {
        // Start the search where this process's clusters spread (a process-wide counter): the first
        // try usually succeeds.
        let first = (std::process::id() + unique()) % u32::from(claim::SLOTS);
        Self::create_from(count, u16::try_from(first).unwrap_or(0))
    }

    /// As [`Netns::create`], searching for a free slot from `first` (tests make two creators start on
    /// the same one).
    pub fn create_from(count: usize, first: u16) -> Result<Self, ClusterError> {
        let claimed = claim::Claim::take(Path::new(claim::DIR), first, |slot| {
            // Held: whatever carries this slot's names is a dead run's, and goes. A subnet still in
            // use after that is someone else's (an older bench, another tool): skip it.
            remove_leftovers(&tag(slot));
            subnet_is_free(subnet(slot))
        })
        .map_err(|e| ClusterError::Netns(format!("claiming a slot in {}: {e}", claim::DIR)))?
        .ok_or_else(|| {
            ClusterError::Netns(format!(
                "all {} subnets are taken (claims in {})",
                claim::SLOTS,
                claim::DIR
            ))
        })?;
        let slot = claimed.slot();
        let mut n = Self {
            tag: tag(slot),
            subnet: subnet(slot),
            count: 0,
            _claim: claimed,
        };
        let br = n.bridge();
        let setup = || -> Result<(), String> {
            ip(&["link", "add", &br, "type", "bridge"])?;
            ip(&["addr", "add", &format!("{}/24", n.bridge_ip()), "dev", &br])?;
            ip(&["link", "set", &br, "up"])
        };
        setup().map_err(ClusterError::Netns)?;
        for i in 0..count {
            let (ns, host, inner) = (n.ns(i), format!("{}h{i}", n.tag), format!("{}v{i}", n.tag));
            let ip_cidr = format!("{}/24", n.node_ip(i));
            // Counted before the steps, so a half-made namespace is removed too.
            n.count = i + 1;
            let steps = || -> Result<(), String> {
                ip(&["netns", "add", &ns])?;
                ip(&["link", "add", &host, "type", "veth", "peer", "name", &inner])?;
                ip(&["link", "set", &inner, "netns", &ns])?;
                ip(&["link", "set", &host, "master", &br])?;
                ip(&["link", "set", &host, "up"])?;
                ip(&["-n", &ns, "addr", "add", &ip_cidr, "dev", &inner])?;
                ip(&["-n", &ns, "link", "set", &inner, "up"])?;
                ip(&["-n", &ns, "link", "set", "lo", "up"])
            };
            if let Err(e) = steps() {
                return Err(ClusterError::Netns(e));
            }
        }
        Ok(n)
    }

    fn bridge(&self) -> String {
        format!("{}br", self.tag)
    }

    /// The name of node `i`'s namespace (for `ip netns exec`).
    pub fn ns(&self, i: usize) -> String {
        format!("{}n{i}", self.tag)
    }

    /// The bridge's address in the root namespace.
    pub fn bridge_ip(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 213, self.subnet, 1))
    }

    /// Node `i`'s address, inside its namespace.
    pub fn node_ip(&self, i: usize) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(
            10,
            213,
            self.subnet,
            u8::try_from(i + 2).unwrap_or(255),
        ))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for i in 0..self.count {
            let _ = ip(&["netns", "del", &self.ns(i)]);
        }
        let _ = ip(&["link", "del", &self.bridge()]);
    }
}

/// Names of a slot's links and namespaces start with this (links are at most 15 bytes:
/// "pbs" + 3 digits + "h"/"v"/"n" + node index, or "br").
fn tag(slot: u16) -> String {
    format!("pbs{slot:03}")
}

/// The third byte of a slot's subnet.
fn subnet(slot: u16) -> u8 {
    u8::try_from(20 + slot).unwrap_or(u8::MAX)
}

/// Removes every namespace and root-namespace link named with `tag` (a crashed run's).
fn remove_leftovers(tag: &str) {
    // `name(line)` picks the name out of one line of `ip <args>`.
    let names = |args: &[&str], name: fn(&str) -> Option<&str>| -> Vec<String> {
        let out = Command::new("ip")
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        out.lines()
            .filter_map(name)
            .filter(|n| n.starts_with(tag))
            .map(str::to_owned)
            .collect()
    };
    // Host-side veths first: a namespace some process still lives in keeps its end otherwise.
    // `ip -o link show`: "7: pbs003h0@if2: <…> …".
    fn link(l: &str) -> Option<&str> {
        l.split(": ").nth(1)?.split('@').next()
    }
    for name in names(&["-o", "link", "show"], link) {
        let _ = ip(&["link", "del", &name]);
    }
    // `ip netns list`: "pbs003n0 (id: 3)".
    fn ns(l: &str) -> Option<&str> {
        l.split_whitespace().next()
    }
    for name in names(&["netns", "list"], ns) {
        let _ = ip(&["netns", "del", &name]);
    }
}

/// Whether no address of the root namespace is on `10.213.<subnet>.0/24`.
fn subnet_is_free(subnet: u8) -> bool {
    Command::new("ip")
        .args([
            "-o",
            "-4",
            "addr",
            "show",
            "to",
            &format!("10.213.{subnet}.0/24"),
        ])
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.is_empty())
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

pub mod claim;
#[cfg(test)]
mod tests;
