//! The open-loop load generator: one sender thread per target turns an arrival [`Schedule`] into
//! `POST /function/<name>` requests on a pool of keep-alive connections; connection workers read the
//! answers; the calling thread writes one CSV row per request and prints progress.
//!
//! Open loop means a send never waits for an answer: the sender takes an idle connection, or opens a
//! new one when all are busy (counted, since a connect can delay that send). Every run is bounded by
//! a request count and a duration per target, and every request by a timeout.

use std::io::{self, Read as _, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng as _};

use crate::arrivals::{Process, Profile, Schedule};

pub mod cli;
mod conn;
pub mod record;

use conn::{Job, Reader, Worker};
use record::{Record, Summary};

/// Why a run could not start or could not write its results.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A target did not accept the initial connections (nothing was sent).
    // Messages leave the source out: it is reported as the error's cause (`{:#}` prints the chain).
    #[error("cannot connect to {addr}")]
    Connect {
        /// The target.
        addr: SocketAddr,
        /// The socket error.
        source: io::Error,
    },
    /// The results file could not be written (the run went on; the file is incomplete).
    #[error("writing results")]
    Results(#[source] io::Error),
    /// The OS refused a thread (the run stopped early).
    #[error("starting a thread")]
    Thread(#[source] io::Error),
}

/// One node to load.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its address (`/function/<name>` is called there).
    pub addr: SocketAddr,
    /// Its arrival rate over time.
    pub profile: Profile,
}

/// One kind of request in a mix: its function, body and headers, and how often it is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Class {
    /// Relative weight (> 0); a request is this class with probability weight / Σ weights.
    pub weight: f64,
    /// The function this class calls, when not the run's (`Spec::function`); checked like it.
    pub function: Option<String>,
    /// Request body.
    pub payload: Vec<u8>,
    /// `Content-Type` of the body.
    pub content_type: String,
    /// `X-P2pfaas-Scheduler-Learning-Task-Type`, when set.
    pub task_type: Option<u32>,
    /// `X-P2pfaas-Deadline-Ms`, when set; also what `deadline met` is judged against.
    pub deadline_ms: Option<f64>,
}

impl Default for Class {
    fn default() -> Self {
        Self {
            weight: 1.0,
            function: None,
            payload: Vec::new(),
            content_type: "text/plain".to_owned(),
            task_type: None,
            deadline_ms: None,
        }
    }
}

/// Whether `name` can be a function name in a request path (one segment of letters, digits, `-_.`).
pub fn is_function_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// A validated run: what to send, where, how often and for how long.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Targets, each with its own schedule (seeded with `seed + index`).
    pub targets: Vec<Target>,
    /// Spacing of arrivals.
    pub process: Process,
    /// Seed of the first target's schedule.
    pub seed: u64,
    /// Function name (`/function/<name>`); checked to be one path segment.
    pub function: String,
    /// Request classes (at least one); each request draws one by weight.
    pub classes: Vec<Class>,
    /// Longest wait for one answer; the connection is closed after a timeout.
    pub timeout: Duration,
    /// Most requests per target.
    pub max_requests: u64,
    /// Longest schedule per target (no request is intended later than this).
    pub max_duration: Duration,
    /// Connections opened per target before the start.
    pub connections: usize,
    /// Most connections per target; with none idle at this size a request is dropped (`no_connection`).
    pub max_connections: usize,
    /// The sender sleeps until this long before a send and spins the rest: trades CPU for accuracy.
    pub spin: Duration,
    /// Print a progress line to stderr every second.
    pub progress: bool,
}

/// Runs `spec`, writing the CSV (header included) to `out`; returns the totals.
pub fn run(spec: &Spec, out: &mut impl Write) -> Result<Summary, Error> {
    run_with(spec, out, |_| {})
}

/// As [`run`], and hands every record to `each` as it arrives (experiments aggregate them).
pub fn run_with(
    spec: &Spec,
    out: &mut impl Write,
    each: impl FnMut(&Record),
) -> Result<Summary, Error> {
    let (records_tx, records_rx) = mpsc::channel();
    let sent = Arc::new(AtomicU64::new(0));
    let mut pools = Vec::with_capacity(spec.targets.len());
    for (i, target) in spec.targets.iter().enumerate() {
        let target_index = u16::try_from(i).unwrap_or(u16::MAX);
        pools.push(Pool::open(spec, target_index, target.addr, &records_tx)?);
    }
    // A common start a little ahead, so every sender begins on time rather than as it is spawned.
    let start = Instant::now() + Duration::from_millis(20);
    let mut senders = Vec::with_capacity(pools.len());
    for (i, pool) in pools.into_iter().enumerate() {
        let target = &spec.targets[i];
        let schedule = Schedule::new(
            target.profile.clone(),
            spec.process,
            spec.seed.wrapping_add(i as u64),
        );
        let spec = spec.clone();
        let sent = Arc::clone(&sent);
        let handle = thread::Builder::new()
            .name(format!("send-{i}"))
            .spawn(move || pool.send_all(&spec, schedule, start, &sent))
            .map_err(Error::Thread)?;
        senders.push(handle);
    }
    // Only the senders and workers hold record senders now: the loop below ends when all are done.
    drop(records_tx);
    let mut summary = collect(&records_rx, out, each, spec.progress, start, &sent)?;
    for handle in senders {
        // A sender that panicked has already lost its requests; the totals say how many were sent.
        summary.connections_opened_late += handle.join().unwrap_or(0);
    }
    summary.elapsed = start.elapsed();
    summary.finish();
    Ok(summary)
}

/// Writes every record as it arrives and prints progress; returns the totals when all threads are done.
fn collect(
    records: &Receiver<Record>,
    out: &mut impl Write,
    mut each: impl FnMut(&Record),
    progress: bool,
    start: Instant,
    sent: &AtomicU64,
) -> Result<Summary, Error> {
    let mut summary = Summary::default();
    let mut write_error = None;
    let mut tick = start + Duration::from_secs(1);
    let mut sent_at_tick = 0;
    loop {
        match records.recv_timeout(tick.saturating_duration_since(Instant::now())) {
            Ok(r) => {
                summary.add(&r);
                each(&r);
                if write_error.is_none()
                    && let Err(e) = r.write_csv(out)
                {
                    write_error = Some(e);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if Instant::now() >= tick {
            let now_sent = sent.load(Ordering::Relaxed);
            if progress {
                eprintln!(
                    "[{:6.1} s] sent {now_sent} answered {} rejected {} failed {} rate {} req/s",
                    start.elapsed().as_secs_f64(),
                    summary.answered,
                    summary.rejected,
                    summary.failed,
                    now_sent - sent_at_tick,
                );
            }
            sent_at_tick = now_sent;
            tick += Duration::from_secs(1);
        }
    }
    if let Some(e) = write_error.or_else(|| out.flush().err()) {
        return Err(Error::Results(e));
    }
    Ok(summary)
}

/// The write side of one connection, owned by the sender.
struct Slot {
    stream: TcpStream,
    jobs: Sender<Job>,
}

/// One target's connections: the sender owns the write halves; idle ones are announced on `idle`.
struct Pool {
    target: u16,
    addr: SocketAddr,
    target_id: Arc<str>,
    slots: Vec<Slot>,
    idle_tx: Sender<usize>,
    idle_rx: Receiver<usize>,
    records: Sender<Record>,
}

impl Pool {
    fn open(
        spec: &Spec,
        target: u16,
        addr: SocketAddr,
        records: &Sender<Record>,
    ) -> Result<Self, Error> {
        let (idle_tx, idle_rx) = mpsc::channel();
        let mut pool = Self {
            target,
            addr,
            target_id: machine_id(addr, spec.timeout).unwrap_or_else(|| addr.to_string().into()),
            slots: Vec::new(),
            idle_tx,
            idle_rx,
            records: records.clone(),
        };
        for _ in 0..spec.connections.max(1) {
            let i = pool.grow(spec.timeout)?;
            // Our own receiver is alive, so this cannot fail.
            let _ = pool.idle_tx.send(i);
        }
        Ok(pool)
    }

    /// Opens one more connection and starts its worker; returns its index (not yet marked idle).
    fn grow(&mut self, timeout: Duration) -> Result<usize, Error> {
        let connect = |source| Error::Connect {
            addr: self.addr,
            source,
        };
        let stream = TcpStream::connect_timeout(&self.addr, timeout).map_err(connect)?;
        // Requests are written in one call; Nagle would hold a second small request back.
        stream.set_nodelay(true).map_err(connect)?;
        let read_half = stream.try_clone().map_err(connect)?;
        let (jobs_tx, jobs_rx) = mpsc::channel();
        let index = self.slots.len();
        let worker = Worker {
            index,
            target: self.target,
            target_id: Arc::clone(&self.target_id),
            timeout,
            jobs: jobs_rx,
            idle: self.idle_tx.clone(),
            records: self.records.clone(),
        };
        thread::Builder::new()
            .name(format!("conn-{}-{index}", self.target))
            // Workers only parse headers: a small stack keeps thousands of them cheap.
            .stack_size(256 * 1024)
            .spawn(move || worker.run(Reader::new(read_half)))
            .map_err(Error::Thread)?;
        self.slots.push(Slot {
            stream,
            jobs: jobs_tx,
        });
        Ok(index)
    }

    /// Sends every scheduled request; returns how many connections were opened after the start.
    fn send_all(
        mut self,
        spec: &Spec,
        schedule: Schedule,
        start: Instant,
        sent: &AtomicU64,
    ) -> u64 {
        let host = self.addr.to_string();
        let requests: Vec<Vec<u8>> = spec
            .classes
            .iter()
            .map(|c| conn::request_bytes(&host, c.function.as_deref().unwrap_or(&spec.function), c))
            .collect();
        let mut picker = Picker::new(&spec.classes, spec.seed ^ u64::from(self.target) << 32);
        let mut opened_late = 0;
        for (seq, offset) in (0..spec.max_requests).zip(schedule) {
            if offset > spec.max_duration {
                break;
            }
            // Drawn before waiting, so the draw costs nothing at the send instant.
            let class = picker.pick();
            let intended = start + offset;
            wait_until(intended, spec.spin);
            let slot = match self.idle_rx.try_recv() {
                Ok(i) => Ok(i),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => {
                    if self.slots.len() < spec.max_connections {
                        opened_late += 1;
                        self.grow(spec.timeout).map_err(|_| "connect")
                    } else {
                        Err("no_connection")
                    }
                }
            };
            let actual = Instant::now();
            let send_error_ns =
                i64::try_from(actual.saturating_duration_since(intended).as_nanos())
                    .unwrap_or(i64::MAX);
            sent.fetch_add(1, Ordering::Relaxed);
            let failed = |error| Record {
                target: self.target,
                seq,
                intended: offset,
                send_error_ns,
                status: 0,
                latency: Duration::ZERO,
                reject_reason: None,
                hops: None,
                executor: self.target_id.to_string(),
                error: Some(error),
                class,
                execution: None,
                queue: None,
                fallback: None,
                job_id: None,
            };
            let i = match slot {
                Ok(i) => i,
                Err(error) => {
                    let _ = self.records.send(failed(error));
                    continue;
                }
            };
            let slot = &mut self.slots[i];
            if slot
                .stream
                .write_all(&requests[usize::from(class)])
                .is_err()
            {
                let _ = self.records.send(failed("write"));
                continue;
            }
            let job = Job {
                seq,
                class,
                intended: offset,
                sent_at: actual,
                send_error_ns,
            };
            if slot.jobs.send(job).is_err() {
                let _ = self.records.send(failed("write"));
            }
        }
        opened_late
    }
}

/// Draws request classes by weight from a seeded stream of its own (the arrival schedule's stream
/// stays the same whatever the mix).
struct Picker {
    cumulative: Vec<f64>,
    rng: SmallRng,
}

impl Picker {
    fn new(classes: &[Class], seed: u64) -> Self {
        let mut total = 0.0;
        let cumulative = classes
            .iter()
            .map(|c| {
                total += c.weight;
                total
            })
            .collect();
        Self {
            cumulative,
            rng: SmallRng::seed_from_u64(seed ^ 0x6d69_785f_636c_6173),
        }
    }

    fn pick(&mut self) -> u16 {
        if self.cumulative.len() <= 1 {
            return 0;
        }
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = self.rng.r#gen::<f64>() * total;
        let i = self.cumulative.partition_point(|&c| c <= x);
        u16::try_from(i.min(self.cumulative.len() - 1)).unwrap_or(0)
    }
}

/// Sleeps until `spin` before `deadline`, then spins: `thread::sleep` alone overshoots by the timer
/// slack and the wake-up (tens of µs, more on a busy machine). Returns at once when already late.
fn wait_until(deadline: Instant, spin: Duration) {
    loop {
        let now = Instant::now();
        let Some(left) = deadline.checked_duration_since(now) else {
            return;
        };
        if left > spin {
            thread::sleep(left - spin);
        } else if left.is_zero() {
            return;
        } else {
            std::hint::spin_loop();
        }
    }
}

/// The target's `machine_id` from `GET /discovery/configuration`, used as the executor of jobs it
/// ran itself (it then names no path). `None` when it does not answer that route.
fn machine_id(addr: SocketAddr, timeout: Duration) -> Option<Arc<str>> {
    let json = get_json(addr, "/discovery/configuration", timeout)?;
    json.get("machine_id")?.as_str().map(Arc::from)
}

/// `GET path` on `addr` (one connection, closed after) and its body as JSON; `None` unless the answer
/// is a 200 with a JSON body within `timeout`.
pub fn get_json(addr: SocketAddr, path: &str, timeout: Duration) -> Option<serde_json::Value> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    // Read by Content-Length rather than to EOF: a server may keep the connection open anyway.
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    let body = loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head_len) = response.parse(&raw).ok()? {
            if response.code != Some(200) {
                return None;
            }
            let len: usize = response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())?;
            if raw.len() >= head_len + len {
                break raw.get(head_len..head_len + len)?;
            }
        }
        let n = stream.read(&mut chunk).ok().filter(|&n| n > 0)?;
        raw.extend_from_slice(&chunk[..n]);
    };
    serde_json::from_slice(body).ok()
}
