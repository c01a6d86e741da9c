//! Typed, validated configuration. Raw input (file, `P2PFAAS_*` environment, flags; see `config/raw.rs`)
//! is checked once, before any socket is bound, into the plain structs below; every error names the field.
//! After start-up nothing reads the environment again: run-time changes go through the admin routes.

pub mod raw;
pub mod source;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use crate::scheduler::Descriptor;

pub use raw::{Flags, Raw};

pub use p2pfaas_core::admission::MAX_SLOTS;
/// Upper bound for the number of task types tracked for scheduler state.
pub const MAX_TASK_TYPES: usize = 64;

/// A configuration problem; start-up exits with status 64 (`EX_USAGE`) on any of them.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A field has an invalid value.
    #[error("invalid config: {field}: {problem}")]
    Field {
        /// Dotted path of the field (`queue.slots`) or the flag/env name that set it.
        field: String,
        /// What is wrong, including the value that was given.
        problem: String,
    },
    /// The TOML file does not parse (the message names the key and position).
    #[error("invalid config file: {message}")]
    Parse {
        /// The parser's message.
        message: String,
    },
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The path given with `--config`.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

fn field_err(field: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError::Field {
        field: field.into(),
        problem: problem.into(),
    }
}

/// Which io driver each worker runtime uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverChoice {
    /// io_uring with `SINGLE_ISSUER | DEFER_TASKRUN` where possible, else epoll.
    Auto,
    /// io_uring only; start-up fails if it cannot be set up.
    IoUring,
    /// The epoll ("legacy") driver.
    Epoll,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The complete, validated configuration. Cloned into each worker; never mutated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Process-level settings.
    pub node: NodeConfig,
    /// HTTP limits and timeouts.
    pub http: HttpConfig,
    /// Admission defaults (a persisted `/configuration` overrides them at start).
    pub queue: QueueConfig,
    /// Scheduler at start (a persisted `/configuration/scheduler` overrides it).
    pub scheduler: Descriptor,
    /// Logging.
    pub log: LogConfig,
    /// The learning agent.
    pub learner: LearnerConfig,
    /// Who this node is to its peers, and where to find them.
    pub discovery: DiscoveryConfig,
    /// Forwarding and probing.
    pub peers: PeersConfig,
    /// Cluster key.
    pub auth: AuthConfig,
    /// The load sampler.
    pub load: LoadConfig,
    /// What clients and original nodes see where the original behaved differently.
    pub compat: CompatConfig,
    /// Declared functions, sorted by name.
    pub functions: Vec<FunctionConfig>,
}

/// `[discovery]`.
#[derive(Debug, Clone)]
pub struct DiscoveryConfig {
    /// Also serve the original discovery service's paths on this address (the original's port 19000).
    pub listen: Option<SocketAddr>,
    /// This node's id (`machine_id`); default `p2pfaas-<advertise>`.
    pub machine_id: Option<String>,
    /// `host:port` peers use to reach this node; default the listen address (with `127.0.0.1` for an
    /// unspecified IP, and the bound port when listening on port 0).
    pub advertise: Option<String>,
    /// Peers to contact at start, `host:port` each (the original took bare IPs on a fixed port).
    pub init_servers: Vec<String>,
    /// The original's `machine_group_name`.
    pub group_name: String,
    /// Membership (SWIM) timings.
    pub membership: p2pfaas_membership::Config,
}

/// `[compat]`: choices for tools written against the original.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompatConfig {
    /// HTTP status of a capacity reject (no slot, queue full) as clients and original (JSON-protocol)
    /// nodes see it: 429 (default, with `Retry-After`) or 500, the original's status, which its
    /// benchmark client and plots count as a reject. Native peers always get 429.
    pub reject_status: u16,
}

/// Which peer protocol to speak when forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerProtocol {
    /// The original's JSON until the peer shows it speaks native, then native.
    Auto,
    /// Always the original's JSON (base64 payload).
    Json,
    /// Always native (raw body, metadata in headers).
    Native,
}

/// `[auth]`.
#[derive(Clone)]
pub struct AuthConfig {
    /// The cluster key (read from `cluster_key_file` at start), if any.
    pub cluster_key: Option<Vec<u8>>,
    /// How far a signature's timestamp may be from now.
    pub replay_window: Duration,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("AuthConfig")
            .field("cluster_key", &self.cluster_key.as_ref().map(|_| "<set>"))
            .field("replay_window", &self.replay_window)
            .finish()
    }
}

/// `[peers]`.
#[derive(Debug, Clone, Copy)]
pub struct PeersConfig {
    /// Longest wait for a forwarded job's answer (also bounded by the request deadline).
    pub forward_timeout: Duration,
    /// Longest wait for a load probe.
    pub probe_timeout: Duration,
    /// How often each known peer's load and functions are refreshed.
    pub refresh_interval: Duration,
    /// Protocol choice.
    pub protocol: PeerProtocol,
}

/// `[learner]`.
#[derive(Debug, Clone)]
pub struct LearnerConfig {
    /// Serve the original learner's routes at their original paths on this address too (port 19020).
    pub listen: Option<SocketAddr>,
    /// Reward of a job answered within its deadline.
    pub reward_met: f32,
    /// Reward of a job answered late, failed, or refused for lack of capacity.
    pub reward_missed: f32,
    /// Reward of a job the learner rejected.
    pub reward_rejected: f32,
    /// Initial parameters (a persisted `/learner/parameters` overrides them at start).
    pub parameters: crate::learning::Parameters,
    /// Extra components of `LearningScheduler`'s state, after the original's.
    pub state_features: Vec<crate::learning::Feature>,
}

/// `[node]`.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    pub listen: SocketAddr,
    /// Where run-time configuration is persisted.
    pub data_dir: PathBuf,
    /// Worker threads, one monoio runtime each.
    pub workers: NonZeroUsize,
    /// io driver choice.
    pub driver: DriverChoice,
    /// Pin worker `i` to CPU `i mod ncpu`.
    pub pin_cpus: bool,
    /// Threads of the blocking pool (CPU-bound functions, file writes).
    pub blocking_threads: NonZeroUsize,
    /// Seed of every random generator in the node (worker `i` uses `seed + i`).
    pub seed: u64,
}

/// `[http]`.
#[derive(Debug, Clone, Copy)]
pub struct HttpConfig {
    /// Largest request head (request line + headers); larger gets 431.
    pub max_head_bytes: usize,
    /// Largest request body; larger gets 413.
    pub max_body_bytes: usize,
    /// Largest response an HTTP function may send back (larger fails the call with 502).
    pub max_response_bytes: usize,
    /// A keep-alive connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// Time allowed to receive a request and produce its response (queueing included).
    pub request_timeout: Duration,
    /// How long a SIGTERM waits for in-flight requests.
    pub shutdown_grace: Duration,
}

/// `[queue]`.
#[derive(Debug, Clone, Copy)]
pub struct QueueConfig {
    /// K, parallel execution slots.
    pub slots: usize,
    /// Q, wait-queue length (0: no queue).
    pub queue_len: usize,
    /// Whether the wait queue is used at all (the original's `queue_enabled`).
    pub enabled: bool,
    /// Number of task types whose running/queued counts are tracked (header `X-P2pfaas-Scheduler-Learning-Task-Type`).
    pub task_types: usize,
}

/// `[log]`.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// `EnvFilter` directive, e.g. `info` or `p2pfaas_node=debug`.
    pub level: String,
}

/// Which load source the sampler uses (`load.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadSourceChoice {
    /// eBPF, else PSI, else procfs; the reason for each fallback is logged and exported.
    Auto,
    /// eBPF only; start-up fails if the programs cannot be loaded.
    Ebpf,
    /// `/proc/stat` + PSI; start-up fails without `/proc/pressure/cpu`.
    Psi,
    /// `/proc/stat` and `/proc/loadavg` only.
    Procfs,
}

/// Which kind of eBPF programs the load probes use (`load.ebpf_programs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EbpfPrograms {
    /// `tp_btf` where the kernel has BTF and they load, else classic tracepoints.
    Auto,
    /// Classic tracepoints only (what a kernel without BTF gets).
    Classic,
    /// `tp_btf` only; the eBPF source fails without kernel BTF.
    Btf,
}

impl EbpfPrograms {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Classic => "classic",
            Self::Btf => "btf",
        }
    }
}

/// `[load]`.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Source choice.
    pub source: LoadSourceChoice,
    /// How often a sample is taken.
    pub sample_interval: Duration,
    /// Where the eBPF maps are pinned (on a bpffs mount).
    pub pin_dir: PathBuf,
    /// Measure wake-to-run latency with eBPF (nearly free with `tp_btf`, which reads the kernel's own
    /// enqueue stamp; about half of the classic programs' cost per context switch).
    pub runq_latency: bool,
    /// `tp_btf` or classic tracepoint programs.
    pub ebpf_programs: EbpfPrograms,
}

/// How a built-in function draws its service time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    /// Always the mean.
    Fixed,
    /// Exponential with the given mean (for M/M/K experiments).
    Exponential,
}

/// The built-in functions, which need nothing outside the node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Builtin {
    /// Returns the request body with its `Content-Type`.
    Echo,
    /// Waits a sampled time without using CPU.
    Sleep {
        /// Mean service time.
        mean: Duration,
        /// Distribution of the service time.
        distribution: Distribution,
    },
    /// Burns a sampled amount of CPU time on the blocking pool (the original's "exponential-loop").
    CpuLoop {
        /// Mean CPU time.
        mean: Duration,
        /// Distribution of the CPU time.
        distribution: Distribution,
    },
}

/// A command run once per call (classic OpenFaaS watchdog semantics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessConfig {
    /// Program and arguments (`argv`); never passed through a shell.
    pub command: Vec<String>,
    /// Extra environment variables (the request metadata `Http_*` is added per call).
    pub env: Vec<(String, String)>,
    /// Working directory (the node's own when absent).
    pub workdir: Option<PathBuf>,
}

/// Where an HTTP function (OpenFaaS watchdog or gateway) listens: `http://host:port/base`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    /// `host:port` as written (resolved when connecting).
    pub authority: String,
    /// Host name or address, for the `Host` header and resolution.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Path prefix without a trailing `/` (empty for the root).
    pub base_path: String,
}

/// An OpenFaaS gateway serving `/function/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFaasConfig {
    /// The gateway.
    pub gateway: HttpTarget,
    /// Function name at the gateway.
    pub function: String,
    /// File holding `user:password` for basic auth (no default credentials).
    pub basic_auth_file: Option<PathBuf>,
}

/// Which backend runs a function.
#[derive(Debug, Clone, PartialEq)]
pub enum BackendConfig {
    /// In-process test functions.
    Builtin(Builtin),
    /// A local command per call.
    Process(ProcessConfig),
    /// An OpenFaaS-watchdog-compatible HTTP function.
    Http(HttpTarget),
    /// A function behind an OpenFaaS gateway.
    OpenFaas(OpenFaasConfig),
}

/// One `[functions.<name>]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionConfig {
    /// Name used in `/function/<name>`.
    pub name: String,
    /// Backend.
    pub backend: BackendConfig,
    /// Per-function concurrency cap on top of the node-wide K.
    pub max_inflight: Option<NonZeroUsize>,
    /// Execution time limit (504 when exceeded).
    pub timeout: Duration,
    /// Largest request body this function accepts (413), at most the node's `http.max_body_bytes`.
    pub max_body_bytes: Option<usize>,
    /// Deadline for the learning reward when a request carries no `X-P2pfaas-Deadline-Ms`.
    pub deadline: Option<Duration>,
    /// The raw table it was built from (listed and persisted by the registry).
    pub raw: raw::RawFunction,
}

impl Config {
    /// Reads the file named by `flags.config` (if any), overlays environment and flags, and validates.
    pub fn load(flags: &Flags, env: &dyn source::Source) -> Result<Self, ConfigError> {
        let mut raw = match &flags.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                Raw::from_toml(&text)?
            }
            None => Raw::default(),
        };
        raw.apply_env(env)?;
        raw.apply_flags(flags)?;
        Self::from_raw(raw)
    }

    /// Validates raw values into a `Config`; the first problem found is returned, naming its field.
    pub fn from_raw(raw: Raw) -> Result<Self, ConfigError> {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        let listen_text = raw.node.listen.as_deref().unwrap_or("0.0.0.0:18080");
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            field_err(
                "node.listen",
                format!("expected host:port such as 127.0.0.1:18080, got {listen_text:?}"),
            )
        })?;
        let data_dir = PathBuf::from(raw.node.data_dir.as_deref().unwrap_or("/var/lib/p2pfaas"));
        if data_dir.as_os_str().is_empty() {
            return Err(field_err("node.data_dir", "must not be empty"));
        }
        let workers = bounded("node.workers", raw.node.workers.unwrap_or(cores), 1, 1024)?;
        let blocking_threads = bounded(
            "node.blocking_threads",
            raw.node.blocking_threads.unwrap_or(cores),
            1,
            1024,
        )?;
        let driver = match raw.node.driver.as_deref().unwrap_or("auto") {
            "auto" => DriverChoice::Auto,
            "io-uring" | "io_uring" | "uring" => DriverChoice::IoUring,
            "epoll" | "legacy" => DriverChoice::Epoll,
            other => {
                return Err(field_err(
                    "node.driver",
                    format!("expected auto, io-uring or epoll, got {other:?}"),
                ));
            }
        };
        let node = NodeConfig {
            listen,
            data_dir,
            workers: nonzero(workers),
            driver,
            pin_cpus: raw.node.pin_cpus.unwrap_or(false),
            blocking_threads: nonzero(blocking_threads),
            seed: raw.node.seed.unwrap_or(0x5eed),
        };

        let http = HttpConfig {
            max_head_bytes: bounded(
                "http.max_head_bytes",
                raw.http.max_head_bytes.unwrap_or(16 * 1024),
                1024,
                1 << 20,
            )?,
            max_body_bytes: bounded(
                "http.max_body_bytes",
                raw.http.max_body_bytes.unwrap_or(4 << 20),
                0,
                1 << 30,
            )?,
            max_response_bytes: bounded(
                "http.max_response_bytes",
                raw.http.max_response_bytes.unwrap_or(16 << 20),
                0,
                1 << 30,
            )?,
            idle_timeout: millis(
                "http.idle_timeout_ms",
                raw.http.idle_timeout_ms.unwrap_or(60_000),
            )?,
            request_timeout: millis(
                "http.request_timeout_ms",
                raw.http.request_timeout_ms.unwrap_or(60_000),
            )?,
            shutdown_grace: millis(
                "http.shutdown_grace_ms",
                raw.http.shutdown_grace_ms.unwrap_or(30_000),
            )?,
        };

        let queue = QueueConfig {
            slots: bounded("queue.slots", raw.queue.slots.unwrap_or(4), 1, MAX_SLOTS)?,
            queue_len: bounded(
                "queue.queue_len",
                raw.queue.queue_len.unwrap_or(4),
                0,
                MAX_SLOTS,
            )?,
            enabled: raw.queue.enabled.unwrap_or(true),
            task_types: bounded(
                "queue.task_types",
                raw.queue.task_types.unwrap_or(8),
                1,
                MAX_TASK_TYPES,
            )?,
        };

        let scheduler = Descriptor {
            name: raw.scheduler.name.unwrap_or_else(|| "NoScheduler".into()),
            parameters: raw
                .scheduler
                .parameters
                .unwrap_or_else(|| vec!["false".into()]),
        };
        // Fail at start-up rather than on the first request.
        crate::scheduler::parse(&scheduler, queue.task_types)
            .map_err(|e| field_err("scheduler", e.to_string()))?;
        let learner = learner(raw.learner)?;
        let discovery = discovery(raw.discovery)?;
        let auth = AuthConfig {
            cluster_key: match raw.auth.cluster_key_file.as_deref() {
                None => None,
                Some(path) => Some(read_key(path)?),
            },
            replay_window: millis(
                "auth.replay_window_ms",
                raw.auth.replay_window_ms.unwrap_or(30_000),
            )?,
        };
        let peers = PeersConfig {
            forward_timeout: millis(
                "peers.forward_timeout_ms",
                raw.peers.forward_timeout_ms.unwrap_or(30_000),
            )?,
            probe_timeout: millis(
                "peers.probe_timeout_ms",
                raw.peers.probe_timeout_ms.unwrap_or(1_000),
            )?,
            refresh_interval: millis(
                "peers.refresh_interval_ms",
                raw.peers.refresh_interval_ms.unwrap_or(1_000),
            )?,
            protocol: match raw.peers.protocol.as_deref().unwrap_or("auto") {
                "auto" => PeerProtocol::Auto,
                "json" => PeerProtocol::Json,
                "native" => PeerProtocol::Native,
                other => {
                    return Err(field_err(
                        "peers.protocol",
                        format!("expected auto, json or native, got {other:?}"),
                    ));
                }
            },
        };

        let log = LogConfig {
            format: match raw.log.format.as_deref().unwrap_or("text") {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => {
                    return Err(field_err(
                        "log.format",
                        format!("expected text or json, got {other:?}"),
                    ));
                }
            },
            level: raw.log.level.unwrap_or_else(|| "info".into()),
        };

        let load = load_config(&raw.load)?;
        let compat = CompatConfig {
            reject_status: match raw.compat.reject_status.unwrap_or(429) {
                s @ (429 | 500) => s,
                other => {
                    return Err(field_err(
                        "compat.reject_status",
                        format!("expected 429 or 500, got {other}"),
                    ));
                }
            },
        };

        let functions = raw
            .functions
            .into_iter()
            .map(|(name, f)| function(&name, &f, http.max_body_bytes))
            .collect::<Result<Vec<_>, _>>()?;

        Ok(Self {
            node,
            http,
            queue,
            scheduler,
            log,
            learner,
            discovery,
            peers,
            auth,
            load,
            compat,
            functions,
        })
    }
}

/// Reads the cluster key file: its bytes, without surrounding whitespace, at least
/// [`crate::auth::MIN_KEY_BYTES`] of them.
fn read_key(path: &str) -> Result<Vec<u8>, ConfigError> {
    let field = "auth.cluster_key_file";
    let bytes =
        std::fs::read(path).map_err(|e| field_err(field, format!("cannot read {path:?}: {e}")))?;
    let key = bytes.trim_ascii().to_vec();
    if key.len() < crate::auth::MIN_KEY_BYTES {
        return Err(field_err(
            field,
            format!(
                "{path:?} holds {} bytes; a cluster key needs at least {}",
                key.len(),
                crate::auth::MIN_KEY_BYTES
            ),
        ));
    }
    Ok(key)
}

/// Checks a `host:port` peer address; the message says what is wrong.
pub fn check_peer_addr(addr: &str) -> Result<(), String> {
    match parse_http_url(&format!("http://{addr}")) {
        Ok(t) if t.base_path.is_empty() && addr.rsplit_once(':').is_some() => Ok(()),
        _ => Err(format!(
            "expected host:port such as 10.0.0.2:18080, got {addr:?}"
        )),
    }
}

/// An optional `host:port` to listen on; the error names `field` and shows `example`.
fn optional_addr(
    field: &str,
    text: Option<&str>,
    example: &str,
) -> Result<Option<SocketAddr>, ConfigError> {
    text.map(|t| {
        t.parse().map_err(|_| {
            field_err(
                field,
                format!("expected host:port such as {example}, got {t:?}"),
            )
        })
    })
    .transpose()
}

/// Validates `[discovery]`.
fn discovery(raw: raw::RawDiscovery) -> Result<DiscoveryConfig, ConfigError> {
    if let Some(id) = &raw.machine_id
        && (id.is_empty()
            || id.len() > 128
            || id.bytes().any(|b| b.is_ascii_control() || b == b'"'))
    {
        return Err(field_err(
            "discovery.machine_id",
            "1-128 printable characters without quotes",
        ));
    }
    if let Some(a) = &raw.advertise {
        check_peer_addr(a).map_err(|e| field_err("discovery.advertise", e))?;
    }
    let init_servers = raw.init_servers.unwrap_or_default();
    for (i, s) in init_servers.iter().enumerate() {
        check_peer_addr(s).map_err(|e| field_err(format!("discovery.init_servers[{i}]"), e))?;
    }
    // Faster than the crate's defaults (1 s, 2 s): a dead node leaves every view within about 3 s on
    // real processes, for about 1.3 KB/s of gossip per node in a quiet 12-node cluster.
    let probe_period = millis(
        "discovery.probe_period_ms",
        raw.probe_period_ms.unwrap_or(500),
    )?;
    let membership = p2pfaas_membership::Config {
        probe_period,
        // An ack on loopback or a LAN comes back in well under a tenth of the period.
        probe_timeout: (probe_period / 2).min(std::time::Duration::from_millis(300)),
        suspicion_min: millis(
            "discovery.suspicion_min_ms",
            raw.suspicion_min_ms.unwrap_or(1500),
        )?,
        ..p2pfaas_membership::Config::default()
    };
    membership
        .validate()
        .map_err(|e| field_err("discovery", e.to_string()))?;
    Ok(DiscoveryConfig {
        membership,
        listen: optional_addr("discovery.listen", raw.listen.as_deref(), "0.0.0.0:19000")?,
        machine_id: raw.machine_id,
        advertise: raw.advertise,
        init_servers,
        group_name: raw.group_name.unwrap_or_default(),
    })
}

/// Validates `[learner]`.
fn learner(raw: raw::RawLearner) -> Result<LearnerConfig, ConfigError> {
    let listen = optional_addr("learner.listen", raw.listen.as_deref(), "0.0.0.0:19020")?;
    let reward = |field: &str, v: Option<f64>, default: f32| -> Result<f32, ConfigError> {
        match v {
            None => Ok(default),
            #[allow(clippy::cast_possible_truncation, reason = "rewards are stored as f32")]
            Some(r) if r.is_finite() && r.abs() <= 1e6 => Ok(r as f32),
            Some(r) => Err(field_err(
                field,
                format!("must be a finite number within ±1e6, got {r}"),
            )),
        }
    };
    let mut parameters = crate::learning::Parameters::default();
    if let Some(table) = raw.parameters {
        let json = serde_json::to_value(&table)
            .map_err(|e| field_err("learner.parameters", e.to_string()))?;
        if let serde_json::Value::Object(map) = json {
            let epsilon = parameters
                .merge(&map)
                .map_err(|e| field_err("learner.parameters", e))?;
            if epsilon.is_some() {
                return Err(field_err(
                    "learner.parameters.epsilon",
                    "the current ε is set at run time (POST /learner/parameters); \
                     the file sets epsilon_start",
                ));
            }
        }
        parameters
            .validate(crate::learning::WINDOW_CAPACITY)
            .map_err(|e| field_err("learner.parameters", e))?;
    }
    let names = raw.state_features.unwrap_or_default();
    if names.len() > crate::learning::MAX_FEATURES {
        return Err(field_err(
            "learner.state_features",
            format!("at most {} features", crate::learning::MAX_FEATURES),
        ));
    }
    let state_features = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            crate::learning::Feature::parse(n).ok_or_else(|| {
                let known: Vec<&str> = crate::learning::Feature::ALL
                    .iter()
                    .map(|(n, _)| *n)
                    .collect();
                field_err(
                    format!("learner.state_features[{i}]"),
                    format!("unknown feature {n:?} (known: {})", known.join(", ")),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(LearnerConfig {
        listen,
        state_features,
        reward_met: reward("learner.reward_met", raw.reward_met, 1.0)?,
        reward_missed: reward("learner.reward_missed", raw.reward_missed, 0.0)?,
        reward_rejected: reward("learner.reward_rejected", raw.reward_rejected, 0.0)?,
        parameters,
    })
}

/// Validates `[load]`.
fn load_config(raw: &raw::RawLoad) -> Result<LoadConfig, ConfigError> {
    let source = match raw.source.as_deref().unwrap_or("auto") {
        "auto" => LoadSourceChoice::Auto,
        "ebpf" => LoadSourceChoice::Ebpf,
        "psi" => LoadSourceChoice::Psi,
        "procfs" => LoadSourceChoice::Procfs,
        other => {
            return Err(field_err(
                "load.source",
                format!("expected auto, ebpf, psi or procfs, got {other:?}"),
            ));
        }
    };
    let ms = raw.sample_interval_ms.unwrap_or(100);
    // Below 10 ms the sampler's own reads become a visible load; above a minute the sample is stale.
    if !(10..=60_000).contains(&ms) {
        return Err(field_err(
            "load.sample_interval_ms",
            format!("must be 10..=60000 ms, got {ms}"),
        ));
    }
    let pin_dir = PathBuf::from(raw.pin_dir.as_deref().unwrap_or("/sys/fs/bpf/p2pfaas"));
    if !pin_dir.is_absolute() {
        return Err(field_err(
            "load.pin_dir",
            format!(
                "must be an absolute path, got {:?}",
                pin_dir.display().to_string()
            ),
        ));
    }
    let ebpf_programs = match raw.ebpf_programs.as_deref().unwrap_or("auto") {
        "auto" => EbpfPrograms::Auto,
        "classic" => EbpfPrograms::Classic,
        "btf" => EbpfPrograms::Btf,
        other => {
            return Err(field_err(
                "load.ebpf_programs",
                format!("expected auto, classic or btf, got {other:?}"),
            ));
        }
    };
    Ok(LoadConfig {
        source,
        sample_interval: Duration::from_millis(ms),
        pin_dir,
        runq_latency: raw.runq_latency.unwrap_or(true),
        ebpf_programs,
    })
}

/// Validates one `[functions.<name>]` table (also used for registrations through the API).
pub fn function(
    name: &str,
    raw: &raw::RawFunction,
    node_max_body: usize,
) -> Result<FunctionConfig, ConfigError> {
    let at = |key: &str| format!("functions.{name}.{key}");
    if !is_valid_function_name(name) {
        return Err(field_err(
            format!("functions.{name}"),
            "a function name is 1-64 characters of a-z, A-Z, 0-9, '-', '_' or '.'",
        ));
    }
    let backend = match raw.backend.as_deref() {
        Some("builtin") => {
            let mean = || -> Result<Duration, ConfigError> {
                let ms = raw
                    .mean_ms
                    .ok_or_else(|| field_err(at("mean_ms"), "required for this builtin"))?;
                if !(0.0..=86_400_000.0).contains(&ms) {
                    return Err(field_err(
                        at("mean_ms"),
                        format!("must be 0..=86400000, got {ms}"),
                    ));
                }
                Ok(Duration::from_secs_f64(ms / 1000.0))
            };
            let distribution = || match raw.distribution.as_deref().unwrap_or("exponential") {
                "exponential" => Ok(Distribution::Exponential),
                "fixed" | "deterministic" => Ok(Distribution::Fixed),
                other => Err(field_err(
                    at("distribution"),
                    format!("expected exponential or fixed, got {other:?}"),
                )),
            };
            let builtin = match raw.builtin.as_deref() {
                Some("echo") => Builtin::Echo,
                Some("sleep") => Builtin::Sleep {
                    mean: mean()?,
                    distribution: distribution()?,
                },
                Some("cpu-loop") => Builtin::CpuLoop {
                    mean: mean()?,
                    distribution: distribution()?,
                },
                Some(other) => {
                    return Err(field_err(
                        at("builtin"),
                        format!("expected echo, sleep or cpu-loop, got {other:?}"),
                    ));
                }
                None => {
                    return Err(field_err(
                        at("builtin"),
                        "required when backend = \"builtin\"",
                    ));
                }
            };
            BackendConfig::Builtin(builtin)
        }
        Some("process") => {
            let command = raw
                .command
                .clone()
                .filter(|c| c.first().is_some_and(|p| !p.is_empty()))
                .ok_or_else(|| {
                    field_err(
                        at("command"),
                        "required: the program and its arguments, e.g. [\"cat\"]",
                    )
                })?;
            let env = raw
                .env
                .iter()
                .flatten()
                .map(|(k, v)| {
                    if k.is_empty() || k.contains(['=', '\0']) || v.contains('\0') {
                        Err(field_err(at("env"), format!("invalid variable {k:?}")))
                    } else {
                        Ok((k.clone(), v.clone()))
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            BackendConfig::Process(ProcessConfig {
                command,
                env,
                workdir: raw.workdir.as_ref().map(PathBuf::from),
            })
        }
        Some("http") => {
            let url = raw
                .url
                .as_deref()
                .ok_or_else(|| field_err(at("url"), "required, e.g. \"http://127.0.0.1:8080/\""))?;
            BackendConfig::Http(parse_http_url(url).map_err(|p| field_err(at("url"), p))?)
        }
        Some("openfaas") => {
            let url = raw.url.as_deref().ok_or_else(|| {
                field_err(
                    at("url"),
                    "required: the gateway, e.g. \"http://127.0.0.1:8080\"",
                )
            })?;
            let function = raw
                .gateway_function
                .clone()
                .unwrap_or_else(|| name.to_owned());
            if !is_valid_function_name(&function) {
                return Err(field_err(
                    at("gateway_function"),
                    "not a valid function name",
                ));
            }
            BackendConfig::OpenFaas(OpenFaasConfig {
                gateway: parse_http_url(url).map_err(|p| field_err(at("url"), p))?,
                function,
                basic_auth_file: raw.basic_auth_file.as_ref().map(PathBuf::from),
            })
        }
        Some(other) => {
            return Err(field_err(
                at("backend"),
                format!("unknown backend {other:?} (expected builtin, process, http or openfaas)"),
            ));
        }
        None => return Err(field_err(at("backend"), "required")),
    };
    let max_inflight = match raw.max_inflight {
        None => None,
        Some(n) => Some(nonzero(bounded(&at("max_inflight"), n, 1, MAX_SLOTS)?)),
    };
    let max_body_bytes = match raw.max_body_bytes {
        None => None,
        Some(n) => Some(bounded(&at("max_body_bytes"), n, 0, node_max_body)?),
    };
    Ok(FunctionConfig {
        name: name.to_owned(),
        backend,
        max_inflight,
        timeout: millis(&at("timeout_ms"), raw.timeout_ms.unwrap_or(30_000))?,
        deadline: raw
            .deadline_ms
            .map(|ms| millis(&at("deadline_ms"), ms))
            .transpose()?,
        max_body_bytes,
        raw: raw.clone(),
    })
}

/// Parses `http://host:port[/base]` (plain HTTP only: functions run next to the node).
pub fn parse_http_url(url: &str) -> Result<HttpTarget, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("expected http://host:port[/path], got {url:?}"))?;
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => (
            h,
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("invalid port in {url:?}"))?,
        ),
        _ if !authority.is_empty() && !authority.contains(':') => (authority, 80),
        _ => return Err(format!("missing host in {url:?}")),
    };
    if host.bytes().any(|b| b.is_ascii_whitespace() || b == b'@')
        || path
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(format!("invalid characters in {url:?}"));
    }
    Ok(HttpTarget {
        authority: format!("{host}:{port}"),
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port,
        base_path: path.trim_end_matches('/').to_owned(),
    })
}

/// Function names appear in URL paths and metric labels, so they are restricted to a safe alphabet.
pub fn is_valid_function_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn bounded(field: &str, value: usize, min: usize, max: usize) -> Result<usize, ConfigError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(field_err(
            field,
            format!("must be between {min} and {max}, got {value}"),
        ))
    }
}

fn millis(field: &str, ms: u64) -> Result<Duration, ConfigError> {
    if ms == 0 || ms > 86_400_000 {
        return Err(field_err(
            field,
            format!("must be 1..=86400000 ms, got {ms}"),
        ));
    }
    Ok(Duration::from_millis(ms))
}

fn nonzero(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN)
}

#[cfg(test)]
mod tests;
