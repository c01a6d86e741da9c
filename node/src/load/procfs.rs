//! The fallback sources: `/proc/stat` (busy and total jiffies per CPU, context switches),
//! `/proc/pressure/cpu` (PSI), `/proc/loadavg` and `/proc/self/stat` (the CPU time of the node's
//! reaped children, its function processes). Parsers are pure functions of the file text, so they are tested on fixed input;
//! [`Reader`] owns the paths and the previous counters and turns two readings into a [`LoadSample`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{LoadSample, Source};

/// A procfs file did not have the expected shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct ParseError {
    /// Which file (`/proc/stat`, `/proc/pressure/cpu`, …).
    pub file: &'static str,
    /// What was missing or malformed.
    pub problem: &'static str,
}

/// Why reading a procfs source failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read (missing, no permission, kernel without PSI).
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The text did not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// Jiffies of one CPU line of `/proc/stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// user + nice + system + irq + softirq + steal (guest time is already inside user and nice).
    pub busy: u64,
    /// busy + idle + iowait.
    pub total: u64,
}

/// The parts of `/proc/stat` the sampler uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stat {
    /// The aggregate `cpu` line.
    pub all: CpuTimes,
    /// `cpuN` lines, in file order.
    pub per_cpu: Vec<CpuTimes>,
    /// `ctxt`: context switches since boot.
    pub ctxt: u64,
}

const STAT: &str = "/proc/stat";
const PSI: &str = "/proc/pressure/cpu";
const LOADAVG: &str = "/proc/loadavg";
const SELF_STAT: &str = "/proc/self/stat";

/// Parses `/proc/stat`.
pub fn parse_stat(text: &str) -> Result<Stat, ParseError> {
    let err = |problem| ParseError {
        file: STAT,
        problem,
    };
    let mut stat = Stat::default();
    let (mut seen_all, mut seen_ctxt) = (false, false);
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let Some(key) = fields.next() else { continue };
        if key == "cpu" {
            stat.all = cpu_times(fields).ok_or(err("malformed cpu line"))?;
            seen_all = true;
        } else if key.starts_with("cpu") {
            stat.per_cpu
                .push(cpu_times(fields).ok_or(err("malformed cpuN line"))?);
        } else if key == "ctxt" {
            stat.ctxt = fields
                .next()
                .and_then(|v| v.parse().ok())
                .ok_or(err("malformed ctxt line"))?;
            seen_ctxt = true;
        }
    }
    if !seen_all {
        return Err(err("no cpu line"));
    }
    if !seen_ctxt {
        return Err(err("no ctxt line"));
    }
    Ok(stat)
}

/// `user nice system idle iowait irq softirq steal [guest guest_nice]`; kernels before 2.6.11 had
/// fewer columns, so missing trailing ones count as zero, but the first four are required.
fn cpu_times<'a>(fields: impl Iterator<Item = &'a str>) -> Option<CpuTimes> {
    let mut v = [0u64; 8];
    let mut n = 0;
    for (slot, f) in v.iter_mut().zip(fields) {
        *slot = f.parse().ok()?;
        n += 1;
    }
    if n < 4 {
        return None;
    }
    let [user, nice, system, idle, iowait, irq, softirq, steal] = v;
    let busy = user + nice + system + irq + softirq + steal;
    Some(CpuTimes {
        busy,
        total: busy + idle + iowait,
    })
}

/// Parses `/proc/pressure/cpu` and returns the `some` line's `total` (µs of stall since boot).
pub fn parse_psi(text: &str) -> Result<u64, ParseError> {
    let err = |problem| ParseError { file: PSI, problem };
    let line = text
        .lines()
        .find(|l| l.starts_with("some "))
        .ok_or(err("no some line"))?;
    line.split_ascii_whitespace()
        .find_map(|kv| kv.strip_prefix("total="))
        .ok_or(err("no total= field"))?
        .parse()
        .map_err(|_| err("total= is not an integer"))
}

/// Parses `/proc/loadavg` and returns the one-minute average.
pub fn parse_loadavg(text: &str) -> Result<f64, ParseError> {
    text.split_ascii_whitespace()
        .next()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or(ParseError {
            file: LOADAVG,
            problem: "first field is not a load average",
        })
}

/// Parses `/proc/<pid>/stat` and returns cutime + cstime (jiffies): the CPU time of the process's
/// children it has reaped (for the node: its function processes, once finished), leaving out its own
/// utime and stime. The command name (field 2) may contain spaces and parentheses, so fields are
/// counted after its last `)`.
pub fn parse_children_ticks(text: &str) -> Result<u64, ParseError> {
    let err = |problem| ParseError {
        file: SELF_STAT,
        problem,
    };
    let rest = text
        .rfind(')')
        .map(|i| &text[i + 1..])
        .ok_or(err("no command name"))?;
    // After the name: state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17); index 0 is field 3.
    let fields: Vec<&str> = rest.split_ascii_whitespace().take(15).collect();
    let get = |i: usize| -> Result<u64, ParseError> {
        // cutime/cstime are signed in the kernel's format; negative values do not occur in practice.
        fields
            .get(i)
            .and_then(|v| v.parse::<i64>().ok())
            .map(|v| u64::try_from(v).unwrap_or(0))
            .ok_or(err("missing cutime/cstime"))
    };
    Ok(get(13)? + get(14)?)
}

/// One reading of every counter.
#[derive(Debug, Clone, PartialEq)]
pub struct Counters {
    /// `/proc/stat`.
    pub stat: Stat,
    /// PSI `some` total (µs), when PSI is in use.
    pub psi_some_us: Option<u64>,
    /// `/proc/loadavg`, one minute.
    pub load_avg_1m: f64,
    /// CPU jiffies of the node's reaped children (its function processes); not the node's own.
    pub children_ticks: u64,
}

/// Turns two readings `elapsed` apart into a sample (pure: the caller supplies time).
pub fn compute(
    prev: &Counters,
    cur: &Counters,
    elapsed: Duration,
    timestamp_ms: u64,
) -> LoadSample {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let ratio = |now: CpuTimes, before: CpuTimes| -> f64 {
        let total = now.total.saturating_sub(before.total);
        if total == 0 {
            0.0
        } else {
            (now.busy.saturating_sub(before.busy) as f64 / total as f64).clamp(0.0, 1.0)
        }
    };
    let utilisation_max_cpu = cur
        .stat
        .per_cpu
        .iter()
        .zip(&prev.stat.per_cpu)
        .map(|(&n, &b)| ratio(n, b))
        .fold(0.0, f64::max);
    let all_jiffies = cur.stat.all.total.saturating_sub(prev.stat.all.total);
    let function_cpu_share = if all_jiffies == 0 {
        0.0
    } else {
        (cur.children_ticks.saturating_sub(prev.children_ticks) as f64 / all_jiffies as f64)
            .clamp(0.0, 1.0)
    };
    let cpu_pressure = match (prev.psi_some_us, cur.psi_some_us) {
        (Some(b), Some(n)) => Some((n.saturating_sub(b) as f64 / (secs * 1e6)).clamp(0.0, 1.0)),
        _ => None,
    };
    LoadSample {
        source: if cpu_pressure.is_some() {
            Source::Psi
        } else {
            Source::Procfs
        },
        utilisation: ratio(cur.stat.all, prev.stat.all),
        utilisation_max_cpu,
        runq_latency_p50_us: None,
        runq_latency_p99_us: None,
        function_cpu_share,
        context_switches_per_sec: cur.stat.ctxt.saturating_sub(prev.stat.ctxt) as f64 / secs,
        cpu_pressure,
        load_avg_1m: cur.load_avg_1m,
        cpus: u32::try_from(cur.stat.per_cpu.len()).unwrap_or(u32::MAX),
        interval_ms: secs * 1e3,
        timestamp_ms,
    }
}

/// Reads the procfs files (under a configurable root, so tests can point it at fixtures). The paths are
/// joined once and one text buffer is reused: the sampler reads four files ten times a second.
#[derive(Debug, Clone)]
pub struct Reader {
    root: PathBuf,
    psi: bool,
    /// `stat`, `pressure/cpu`, `loadavg`, `self/stat` under `root`.
    paths: [PathBuf; 4],
    buf: String,
}

impl Reader {
    /// A reader of the real `/proc`; `psi` also reads `/proc/pressure/cpu`.
    pub fn new(psi: bool) -> Self {
        Self::with_root("/proc", psi)
    }

    /// A reader of `<root>/stat`, `<root>/pressure/cpu`, `<root>/loadavg` and `<root>/self/stat`.
    pub fn with_root(root: impl Into<PathBuf>, psi: bool) -> Self {
        let root = root.into();
        let paths = ["stat", "pressure/cpu", "loadavg", "self/stat"].map(|rel| root.join(rel));
        Self {
            root,
            psi,
            paths,
            buf: String::with_capacity(4096),
        }
    }

    /// Whether PSI is read.
    pub fn psi(&self) -> bool {
        self.psi
    }

    /// Reads every counter once.
    pub fn read(&mut self) -> Result<Counters, ReadError> {
        let stat = parse_stat(self.text(0)?)?;
        let psi_some_us = if self.psi {
            Some(parse_psi(self.text(1)?)?)
        } else {
            None
        };
        Ok(Counters {
            stat,
            psi_some_us,
            load_avg_1m: parse_loadavg(self.text(2)?)?,
            children_ticks: parse_children_ticks(self.text(3)?)?,
        })
    }

    /// The file `paths[which]`, read into the reused buffer.
    fn text(&mut self, which: usize) -> Result<&str, ReadError> {
        use std::io::Read;
        let path = &self.paths[which];
        self.buf.clear();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_string(&mut self.buf))
            .map_err(|source| ReadError::Io {
                path: path.clone(),
                source,
            })?;
        Ok(&self.buf)
    }

    /// The root directory (normally `/proc`).
    pub fn root(&self) -> &Path {
        &self.root
    }
}
